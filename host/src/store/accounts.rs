//! Accounts: the platform's customers.

use tracing::info;

use super::model::Account;
use super::{Store, StoreError, codec, keys, now_unix, read, read_all, slug};

impl Store {
    /// Creates an account. Its id is the slug of `name`, made unique
    /// (`acme`, then `acme-2`). `time_zone` must be an IANA name; it is
    /// stored in its canonical spelling.
    pub fn add_account(&self, name: &str, time_zone: &str) -> Result<Account, StoreError> {
        let tz: chrono_tz::Tz =
            time_zone.trim().parse().map_err(|_| StoreError::InvalidTimeZone { time_zone: time_zone.to_string() })?;
        let mut account = Account {
            id: String::new(),
            name: name.trim().to_string(),
            time_zone: tz.name().to_string(),
            created_at_unix: now_unix(),
        };
        let base = slug::slug(name, "account");
        let _gate = self.write_gate();
        account.id = slug::insert_unique(&self.trees.accounts, &base, |id| {
            codec::encode("account", &Account { id: id.to_string(), ..account.clone() })
        })?;
        info!(account = %account.id, "account created");
        Ok(account)
    }

    /// The account with this id.
    pub fn account(&self, id: &str) -> Result<Option<Account>, StoreError> {
        read(&self.trees.accounts, keys::ACCOUNTS, keys::id(id), id)
    }

    /// Every account, by id.
    pub fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        read_all(&self.trees.accounts, keys::ACCOUNTS)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::StoreError;
    use crate::store::testutil::temp_store;

    #[test]
    fn ids_are_unique_slugs_and_time_zones_are_checked() {
        let (_dir, store) = temp_store();
        let a = store.add_account("Acme", "Europe/Paris").unwrap();
        let b = store.add_account("ACME", "UTC").unwrap();
        assert_eq!((a.id.as_str(), b.id.as_str()), ("acme", "acme-2"));
        assert_eq!(store.account("acme").unwrap(), Some(a.clone()));
        assert_eq!(store.accounts().unwrap(), vec![a, b]);
        assert_eq!(store.account("nope").unwrap(), None);

        let err = store.add_account("Globex", "Mars/Olympus").unwrap_err();
        assert!(matches!(err, StoreError::InvalidTimeZone { .. }), "{err}");
        assert!(err.to_string().contains("Mars/Olympus"));
    }
}
