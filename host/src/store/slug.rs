//! Readable ids derived from names (`Acme Corp` -> `acme-corp`), made
//! unique with a numeric suffix (`acme-corp-2`).

use sled::transaction::TransactionError;

use super::{StoreError, keys};

/// Longest slug kept from a name: ids show up in URLs, logs and metric
/// labels, where a whole paragraph would not help anyone.
const MAX_SLUG_LEN: usize = 48;

/// How many suffixes are tried before giving up. Hundreds of records with
/// the same name mean something is creating them in a loop; stop it.
const MAX_SUFFIX: u32 = 1000;

/// Lowercase ASCII letters and digits, runs of anything else as one `-`,
/// no `-` at either end; `fallback` if nothing is left.
pub(crate) fn slug(name: &str, fallback: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if out.len() == MAX_SLUG_LEN {
                break;
            }
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_end_matches('-');
    if trimmed.is_empty() { fallback.to_string() } else { trimmed.to_string() }
}

/// Inserts a new record under the first free id of `base`, `base-2`,
/// `base-3`, ...; `value` encodes the record for a given id. Returns the id.
pub(crate) fn insert_unique(
    tree: &sled::Tree,
    base: &str,
    mut value: impl FnMut(&str) -> Result<Vec<u8>, StoreError>,
) -> Result<String, StoreError> {
    for n in 1..=MAX_SUFFIX {
        let id = if n == 1 { base.to_string() } else { format!("{base}-{n}") };
        if tree.contains_key(keys::id(&id))? {
            continue;
        }
        let bytes = value(&id)?;
        // Checked again inside the transaction: another caller may have
        // taken the id since the look above.
        let inserted: Result<bool, TransactionError<StoreError>> = tree.transaction(|tx| {
            if tx.get(keys::id(&id))?.is_some() {
                return Ok(false);
            }
            tx.insert(keys::id(&id), bytes.as_slice())?;
            Ok(true)
        });
        if inserted? {
            return Ok(id);
        }
    }
    Err(StoreError::IdsExhausted { base: base.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lowercase_dashed_and_bounded() {
        assert_eq!(slug("Acme Corp.", "x"), "acme-corp");
        assert_eq!(slug("  --Été 2026!! ", "x"), "t-2026");
        assert_eq!(slug("日本", "account"), "account");
        assert_eq!(slug(&"a".repeat(100), "x").len(), MAX_SLUG_LEN);
    }
}
