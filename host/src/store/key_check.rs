//! The store's key: checked when the store opens, and rotated.
//!
//! A store that holds secrets keeps a key check value in `meta`
//! ([`KeyCheck`]). Opening it with another key fails at once, naming both
//! key ids, instead of opening fine and failing every sync with a decrypt
//! error. A store from before key checks gets its check value (and a key id
//! on every sealed value) the first time it is opened with a key that opens
//! its secrets.
//!
//! Rotation re-seals every secret (connection settings and webhook signing
//! secrets) under a new key and replaces the check value, in one
//! transaction: after a crash the store holds either the old key's values
//! and check or the new key's, never a mix.

use sled::Transactional;
use sled::transaction::ConflictableTransactionResult;
use tracing::info;

use super::model::{Connection, StoredSetting};
use super::secrets::{KeyCheck, SecretKey};
use super::webhooks::Webhook;
use super::{Store, StoreError, abort, codec, keys, read_all};

/// What a key rotation did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RotationReport {
    /// The id of the key the store was sealed with.
    pub old_key_id: String,
    /// The id of the key it is sealed with now.
    pub new_key_id: String,
    /// Secret values re-sealed.
    pub resealed: usize,
}

/// Checks `key` against the store's check value, or adopts it on a store
/// that has none yet. Runs once when the store opens.
pub(super) fn check_or_adopt(db: &sled::Db, key: Option<&SecretKey>) -> Result<(), StoreError> {
    let meta = db.open_tree(keys::META)?;
    let stored: Option<KeyCheck> =
        meta.get(keys::KEY_CHECK_KEY)?.map(|b| codec::decode(keys::META, "secret_key_check", &b)).transpose()?;
    match (stored, key) {
        (Some(check), Some(key)) if key.matches(&check) => Ok(()),
        (Some(check), Some(key)) => {
            Err(StoreError::WrongKey { store_key_id: check.key_id, configured_key_id: key.id() })
        }
        // Without a key the store still opens: listing works, using a
        // secret fails by name. `serve` refuses to start like this
        // (`Store::require_key`).
        (_, None) => Ok(()),
        (None, Some(key)) => adopt(db, key),
    }
}

/// First open with a key: every existing secret must open under it; then
/// each gets the key's id and the store gets its check value.
fn adopt(db: &sled::Db, key: &SecretKey) -> Result<(), StoreError> {
    let connections_tree = db.open_tree(keys::CONNECTIONS)?;
    let meta = db.open_tree(keys::META)?;
    let mut connections: Vec<Connection> = read_all(&connections_tree, keys::CONNECTIONS)?;
    for connection in &mut connections {
        for (setting, value) in &mut connection.settings {
            if let StoredSetting::Secret(sealed) = value {
                key.open(&connection.id, setting, sealed).map_err(|_| StoreError::WrongKey {
                    store_key_id: sealed.key_id().unwrap_or("(unrecorded)").to_string(),
                    configured_key_id: key.id(),
                })?;
                sealed.set_key_id(key.id());
            }
        }
    }
    let check = key.check_value()?;
    (&connections_tree, &meta).transaction(|(tx_connections, tx_meta)| {
        for connection in &connections {
            tx_connections.insert(keys::id(&connection.id), codec::encode("connection", connection).map_err(abort)?)?;
        }
        tx_meta.insert(keys::KEY_CHECK_KEY, codec::encode("key check", &check).map_err(abort)?)?;
        Ok(())
    })?;
    info!(key_id = %key.id(), secrets = connections.len(), "the store adopted its secret key");
    Ok(())
}

impl Store {
    /// Whether the store has a key check value, i.e. was ever used with a
    /// key.
    pub fn has_key_check(&self) -> Result<bool, StoreError> {
        Ok(self.db.open_tree(keys::META)?.contains_key(keys::KEY_CHECK_KEY)?)
    }

    /// Refuses a store that was used with a key when none is configured
    /// (for `serve`, which would otherwise fail every sync).
    pub fn require_key(&self) -> Result<(), StoreError> {
        if self.key.is_none() && self.has_key_check()? {
            return Err(StoreError::KeyMissing);
        }
        Ok(())
    }

    /// The id of the store's key, if it has one.
    pub fn key_id(&self) -> Option<String> {
        self.key.as_ref().map(|k| k.id())
    }

    /// Re-seals every secret under `new` and makes it the store's key. The
    /// store must be open with its current key. Takes effect on disk at
    /// once; restart the host with the new key.
    pub fn rotate_key(&self, new: &SecretKey) -> Result<RotationReport, StoreError> {
        let _gate = self.write_gate();
        let old = self.key.as_ref().ok_or(StoreError::KeyMissing)?;
        let mut connections: Vec<Connection> = read_all(&self.trees.connections, keys::CONNECTIONS)?;
        let mut webhooks: Vec<Webhook> = read_all(&self.trees.webhooks, keys::WEBHOOKS)?;
        let mut resealed = 0;
        for connection in &mut connections {
            for (setting, value) in &mut connection.settings {
                if let StoredSetting::Secret(sealed) = value {
                    let plain = old.open(&connection.id, setting, sealed)?;
                    *sealed = new.seal(&connection.id, setting, &plain)?;
                    resealed += 1;
                }
            }
        }
        for webhook in &mut webhooks {
            webhook.reseal(old, new)?;
            resealed += 1;
        }
        let check = new.check_value()?;
        let meta = self.db.open_tree(keys::META)?;
        (&self.trees.connections, &self.trees.webhooks, &meta).transaction(
            |(tx_connections, tx_webhooks, tx_meta)| -> ConflictableTransactionResult<(), StoreError> {
                for c in &connections {
                    tx_connections.insert(keys::id(&c.id), codec::encode("connection", c).map_err(abort)?)?;
                }
                for w in &webhooks {
                    tx_webhooks.insert(keys::id(&w.id), codec::encode("webhook", w).map_err(abort)?)?;
                }
                tx_meta.insert(keys::KEY_CHECK_KEY, codec::encode("key check", &check).map_err(abort)?)?;
                Ok(())
            },
        )?;
        self.db.flush()?;
        info!(old_key = %old.id(), new_key = %new.id(), resealed, "secret key rotated");
        Ok(RotationReport { old_key_id: old.id(), new_key_id: new.id(), resealed })
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret as _;

    use super::*;
    use crate::store::testutil::{HEX_KEY, connection, temp_store};

    #[test]
    fn a_wrong_key_is_refused_when_the_store_opens() {
        let (dir, store) = temp_store();
        connection(&store, "Greenhouse");
        drop(store);
        let other = SecretKey::generate().unwrap();
        let err = Store::open(dir.path(), Some(other)).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
        assert!(err.to_string().contains("not the key"), "{err}");
        // Without a key it opens, but `serve` would refuse it.
        let store = Store::open(dir.path(), None).unwrap();
        assert!(matches!(store.require_key(), Err(StoreError::KeyMissing)));
    }

    #[test]
    fn an_old_store_adopts_its_key_and_ids_its_values() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        // As written before key checks: no check value, no key id.
        store.db.open_tree(keys::META).unwrap().remove(keys::KEY_CHECK_KEY).unwrap();
        let mut legacy = c.clone();
        if let Some(StoredSetting::Secret(v)) = legacy.settings.get_mut("api_key") {
            *v = serde_json::from_value(serde_json::json!({
                "scheme": 1,
                "sealed": serde_json::to_value(&*v).unwrap()["sealed"],
            }))
            .unwrap();
        }
        store.trees.connections.insert(keys::id(&c.id), codec::encode("connection", &legacy).unwrap()).unwrap();
        drop(store);
        assert!(Store::open(dir.path(), Some(SecretKey::generate().unwrap())).is_err(), "a key that opens nothing");
        let store = Store::open(dir.path(), Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap();
        assert!(store.has_key_check().unwrap());
        let c = store.connection(&c.id).unwrap().unwrap();
        let Some(StoredSetting::Secret(v)) = c.settings.get("api_key") else { panic!() };
        assert_eq!(v.key_id(), store.key_id().as_deref());
    }

    #[test]
    fn rotation_reseals_everything_and_the_old_key_is_refused() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let new = SecretKey::generate().unwrap();
        let report = store.rotate_key(&new).unwrap();
        assert_eq!(report.resealed, 1);
        assert_eq!(report.new_key_id, new.id());
        drop(store);
        let err = Store::open(dir.path(), Some(SecretKey::parse(HEX_KEY).unwrap())).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { .. }), "{err}");
        let store = Store::open(dir.path(), Some(new)).unwrap();
        let c = store.connection(&c.id).unwrap().unwrap();
        let settings = store.opened_settings(&c).unwrap();
        let secret = settings.iter().find(|(k, _)| k == "api_key").unwrap();
        let crate::store::OpenedSetting::Secret(s) = &secret.1 else { panic!() };
        assert_eq!(s.expose_secret(), "sk-live-PLAINTEXT-42");
    }
}
