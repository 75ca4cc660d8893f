//! Each account's hiring stages: the ordered steps a candidate moves
//! through in the platform (New submission, Screening, ...).
//!
//! An account's stages are one record in `hiring_stages`, together with how
//! many candidates are in each stage. Candidate creation and stage moves
//! update those counts in the same transaction as the candidate, so a
//! delete sees an exact count and a stage in use can never be deleted out
//! from under a candidate. An account with no record has the default stages;
//! the record is written on the first change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionError, TransactionalTree};
use tracing::info;

use super::{Store, StoreError, abort, codec, keys, slug};

/// The stages an account starts with, in order: (id, name).
pub const DEFAULT_STAGES: &[(&str, &str)] = &[
    ("new-submission", "New submission"),
    ("screening", "Screening"),
    ("interview", "Interview"),
    ("offer", "Offer"),
    ("hired", "Hired"),
    ("rejected", "Rejected"),
];

/// The most stages one account may have: a pipeline is a handful of steps;
/// hundreds would be a client creating them in a loop, and every mapping
/// report lists them all.
pub const MAX_STAGES_PER_ACCOUNT: usize = 50;

/// The longest stage name, in characters: names are labels in lists.
pub const MAX_STAGE_NAME_CHARS: usize = 100;

/// One of an account's hiring stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HiringStage {
    /// Stable slug (`new-submission`); never changes, even on rename, so
    /// mappings and candidates keep pointing at it.
    pub id: String,
    /// Display name; mapped to ATS stages by this name unless overridden.
    pub name: String,
}

/// An account's stages as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct AccountStages {
    /// In order.
    pub stages: Vec<HiringStage>,
    /// Candidates per stage id (absent: none).
    #[serde(default)]
    pub in_use: BTreeMap<String, u64>,
}

impl AccountStages {
    /// The defaults, for an account that never changed its stages.
    pub(crate) fn defaults() -> AccountStages {
        AccountStages {
            stages: DEFAULT_STAGES
                .iter()
                .map(|(id, name)| HiringStage { id: (*id).to_string(), name: (*name).to_string() })
                .collect(),
            in_use: BTreeMap::new(),
        }
    }

    pub(crate) fn contains(&self, stage_id: &str) -> bool {
        self.stages.iter().any(|s| s.id == stage_id)
    }

    /// Moves one candidate's count from `from` to `to` (either may be
    /// `None`: a new candidate, or a deleted one).
    pub(crate) fn count_move(&mut self, from: Option<&str>, to: Option<&str>) {
        if let Some(from) = from
            && let Some(n) = self.in_use.get_mut(from)
        {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.in_use.remove(from);
            }
        }
        if let Some(to) = to {
            *self.in_use.entry(to.to_string()).or_default() += 1;
        }
    }
}

/// Reads an account's stages inside a transaction (defaults when none are
/// stored).
pub(crate) fn read_tx(
    tx: &TransactionalTree,
    account_id: &str,
) -> Result<AccountStages, ConflictableTransactionError<StoreError>> {
    match tx.get(keys::id(account_id))? {
        None => Ok(AccountStages::defaults()),
        Some(bytes) => codec::decode(keys::HIRING_STAGES, account_id, &bytes).map_err(abort),
    }
}

/// Writes an account's stages inside a transaction; the bytes (key and
/// value) it wrote.
pub(crate) fn write_tx(
    tx: &TransactionalTree,
    account_id: &str,
    stages: &AccountStages,
) -> Result<u64, ConflictableTransactionError<StoreError>> {
    let value = codec::encode("hiring stages", stages).map_err(abort)?;
    let written = (keys::id(account_id).len() + value.len()) as u64;
    tx.insert(keys::id(account_id), value)?;
    Ok(written)
}

/// Checks a stage name; returns it trimmed.
fn check_name(account_id: &str, name: &str) -> Result<String, StoreError> {
    let name = name.trim();
    let invalid = |reason: String| StoreError::InvalidStages { account: account_id.to_string(), reason };
    if name.is_empty() {
        return Err(invalid("a stage name cannot be empty".into()));
    }
    if name.chars().count() > MAX_STAGE_NAME_CHARS {
        return Err(invalid(format!("a stage name is at most {MAX_STAGE_NAME_CHARS} characters")));
    }
    if name.chars().any(char::is_control) {
        return Err(invalid("a stage name cannot contain control characters".into()));
    }
    Ok(name.to_string())
}

/// Refuses a name another stage (not `except`) already has, ignoring case:
/// stages map to the ATS's by name, so two with one name would be ambiguous.
fn check_unique(account_id: &str, stages: &AccountStages, name: &str, except: Option<&str>) -> Result<(), StoreError> {
    let clash = stages.stages.iter().find(|s| Some(s.id.as_str()) != except && s.name.eq_ignore_ascii_case(name));
    match clash {
        Some(other) => Err(StoreError::InvalidStages {
            account: account_id.to_string(),
            reason: format!("stage `{}` already has the name {name:?}", other.id),
        }),
        None => Ok(()),
    }
}

impl Store {
    /// An account's hiring stages, in order.
    pub fn hiring_stages(&self, account_id: &str) -> Result<Vec<HiringStage>, StoreError> {
        Ok(self.account_stages(account_id)?.stages)
    }

    /// How many candidates are in each of an account's stages (stages with
    /// none are absent).
    pub fn candidates_per_stage(&self, account_id: &str) -> Result<BTreeMap<String, u64>, StoreError> {
        Ok(self.account_stages(account_id)?.in_use)
    }

    /// The stage new candidates start in.
    pub fn first_hiring_stage(&self, account_id: &str) -> Result<HiringStage, StoreError> {
        self.hiring_stages(account_id)?.into_iter().next().ok_or_else(|| StoreError::InvalidStages {
            account: account_id.to_string(),
            reason: "the account has no stages".into(),
        })
    }

    fn account_stages(&self, account_id: &str) -> Result<AccountStages, StoreError> {
        if self.account(account_id)?.is_none() {
            return Err(StoreError::UnknownAccount(account_id.to_string()));
        }
        Ok(super::read(&self.trees.hiring_stages, keys::HIRING_STAGES, keys::id(account_id), account_id)?
            .unwrap_or_else(AccountStages::defaults))
    }

    /// Adds a stage named `name` at index `at` (at the end when `None` or
    /// past the end). Its id is the slug of the name, made unique within the
    /// account.
    pub fn add_hiring_stage(&self, account_id: &str, name: &str, at: Option<usize>) -> Result<HiringStage, StoreError> {
        let name = check_name(account_id, name)?;
        let stage = self.change_stages(account_id, |stages| {
            if stages.stages.len() >= MAX_STAGES_PER_ACCOUNT {
                return Err(StoreError::InvalidStages {
                    account: account_id.to_string(),
                    reason: format!("an account has at most {MAX_STAGES_PER_ACCOUNT} stages"),
                });
            }
            check_unique(account_id, stages, &name, None)?;
            let base = slug::slug(&name, "stage");
            let id = (1..=MAX_STAGES_PER_ACCOUNT + 1)
                .map(|n| if n == 1 { base.clone() } else { format!("{base}-{n}") })
                .find(|id| !stages.contains(id))
                .ok_or_else(|| StoreError::IdsExhausted { base: base.clone() })?;
            let stage = HiringStage { id, name: name.clone() };
            let at = at.unwrap_or(usize::MAX).min(stages.stages.len());
            stages.stages.insert(at, stage.clone());
            Ok(stage)
        })?;
        info!(account = account_id, stage = %stage.id, "hiring stage added");
        Ok(stage)
    }

    /// Renames a stage; its id stays.
    pub fn rename_hiring_stage(&self, account_id: &str, stage_id: &str, name: &str) -> Result<HiringStage, StoreError> {
        let name = check_name(account_id, name)?;
        let stage = self.change_stages(account_id, |stages| {
            check_unique(account_id, stages, &name, Some(stage_id))?;
            let stage =
                stages.stages.iter_mut().find(|s| s.id == stage_id).ok_or_else(|| unknown(account_id, stage_id))?;
            stage.name = name.clone();
            Ok(stage.clone())
        })?;
        info!(account = account_id, stage = stage_id, "hiring stage renamed");
        Ok(stage)
    }

    /// Puts the stages in the order of `order`, which must name every stage
    /// exactly once.
    pub fn reorder_hiring_stages(&self, account_id: &str, order: &[String]) -> Result<Vec<HiringStage>, StoreError> {
        let stages = self.change_stages(account_id, |stages| {
            let mut sorted: Vec<&str> = order.iter().map(String::as_str).collect();
            sorted.sort_unstable();
            let mut have: Vec<&str> = stages.stages.iter().map(|s| s.id.as_str()).collect();
            have.sort_unstable();
            if sorted != have {
                return Err(StoreError::InvalidStages {
                    account: account_id.to_string(),
                    reason: format!("a new order must name each of the stages exactly once: {}", have.join(", ")),
                });
            }
            let mut reordered = Vec::with_capacity(order.len());
            for id in order {
                if let Some(stage) = stages.stages.iter().find(|s| s.id == *id) {
                    reordered.push(stage.clone());
                }
            }
            stages.stages = reordered;
            Ok(stages.stages.clone())
        })?;
        info!(account = account_id, "hiring stages reordered");
        Ok(stages)
    }

    /// Deletes a stage no candidate is in. Refused with
    /// [`StoreError::StageInUse`] otherwise, and for the last stage left.
    pub fn delete_hiring_stage(&self, account_id: &str, stage_id: &str) -> Result<(), StoreError> {
        self.change_stages(account_id, |stages| {
            if !stages.contains(stage_id) {
                return Err(unknown(account_id, stage_id));
            }
            if let Some(&candidates) = stages.in_use.get(stage_id).filter(|n| **n > 0) {
                return Err(StoreError::StageInUse {
                    account: account_id.to_string(),
                    stage: stage_id.to_string(),
                    candidates,
                });
            }
            if stages.stages.len() == 1 {
                return Err(StoreError::InvalidStages {
                    account: account_id.to_string(),
                    reason: "the last stage cannot be deleted: new candidates start in the first one".into(),
                });
            }
            stages.stages.retain(|s| s.id != stage_id);
            Ok(())
        })?;
        info!(account = account_id, stage = stage_id, "hiring stage deleted");
        Ok(())
    }

    /// Read-modify-write of an account's stages in one transaction.
    fn change_stages<T>(
        &self,
        account_id: &str,
        change: impl Fn(&mut AccountStages) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        if self.account(account_id)?.is_none() {
            return Err(StoreError::UnknownAccount(account_id.to_string()));
        }
        let _gate = self.write_gate();
        Ok(self.trees.hiring_stages.transaction(|tx| {
            let mut stages = read_tx(tx, account_id)?;
            let out = change(&mut stages).map_err(abort)?;
            write_tx(tx, account_id, &stages)?;
            Ok(out)
        })?)
    }
}

/// The error for a stage id the account does not have.
pub(crate) fn unknown(account_id: &str, stage_id: &str) -> StoreError {
    StoreError::UnknownStage { account: account_id.to_string(), stage: stage_id.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::temp_store;

    fn ids(stages: &[HiringStage]) -> Vec<&str> {
        stages.iter().map(|s| s.id.as_str()).collect()
    }

    #[test]
    fn an_account_starts_with_the_default_stages() {
        let (_dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        let stages = store.hiring_stages("acme").unwrap();
        assert_eq!(ids(&stages), ["new-submission", "screening", "interview", "offer", "hired", "rejected"]);
        assert_eq!(stages[0].name, "New submission");
        assert_eq!(store.first_hiring_stage("acme").unwrap().id, "new-submission");
        assert!(matches!(store.hiring_stages("nope"), Err(StoreError::UnknownAccount(_))));
    }

    #[test]
    fn stages_are_added_renamed_reordered_and_deleted() {
        let (_dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        let tech = store.add_hiring_stage("acme", "  Tech test ", Some(2)).unwrap();
        assert_eq!((tech.id.as_str(), tech.name.as_str()), ("tech-test", "Tech test"));
        assert_eq!(ids(&store.hiring_stages("acme").unwrap())[..3], ["new-submission", "screening", "tech-test"]);

        let renamed = store.rename_hiring_stage("acme", "tech-test", "Take-home").unwrap();
        assert_eq!((renamed.id.as_str(), renamed.name.as_str()), ("tech-test", "Take-home"));
        // A later stage with the old name gets a fresh id, not the renamed one's.
        assert_eq!(store.add_hiring_stage("acme", "Tech test!", None).unwrap().id, "tech-test-2");

        let mut order: Vec<String> = ids(&store.hiring_stages("acme").unwrap()).iter().map(|s| s.to_string()).collect();
        order.reverse();
        assert_eq!(ids(&store.reorder_hiring_stages("acme", &order).unwrap())[0], "tech-test-2");
        order.pop();
        assert!(matches!(store.reorder_hiring_stages("acme", &order), Err(StoreError::InvalidStages { .. })));
        order.push("tech-test-2".into());
        assert!(matches!(store.reorder_hiring_stages("acme", &order), Err(StoreError::InvalidStages { .. })));

        store.delete_hiring_stage("acme", "offer").unwrap();
        assert!(!ids(&store.hiring_stages("acme").unwrap()).contains(&"offer"));
        assert!(matches!(store.delete_hiring_stage("acme", "offer"), Err(StoreError::UnknownStage { .. })));
    }

    #[test]
    fn bad_names_are_refused() {
        let (_dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        for bad in ["", "   ", "a\u{7}b", &"x".repeat(MAX_STAGE_NAME_CHARS + 1), "screening", "OFFER"] {
            let err = store.add_hiring_stage("acme", bad, None).unwrap_err();
            assert!(matches!(err, StoreError::InvalidStages { .. }), "{bad:?}: {err}");
        }
        assert!(store.rename_hiring_stage("acme", "offer", "Interview").is_err());
        assert!(store.rename_hiring_stage("acme", "offer", "OFFER").is_ok(), "its own name in another case");
        assert!(matches!(store.rename_hiring_stage("acme", "nope", "X"), Err(StoreError::UnknownStage { .. })));
    }

    #[test]
    fn stages_are_bounded_and_the_last_one_stays() {
        let (_dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        for i in DEFAULT_STAGES.len()..MAX_STAGES_PER_ACCOUNT {
            store.add_hiring_stage("acme", &format!("Step {i}"), None).unwrap();
        }
        assert!(matches!(store.add_hiring_stage("acme", "One more", None), Err(StoreError::InvalidStages { .. })));
        let all = store.hiring_stages("acme").unwrap();
        for stage in &all[1..] {
            store.delete_hiring_stage("acme", &stage.id).unwrap();
        }
        let err = store.delete_hiring_stage("acme", "new-submission").unwrap_err();
        assert!(err.to_string().contains("last stage"), "{err}");
    }
}
