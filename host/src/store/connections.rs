//! Connections and their sync state.

use std::cell::RefCell;
use std::collections::BTreeMap;

use sled::Transactional;
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};
use tracing::info;

use super::model::{Connection, ConnectionState, NewConnection, NewSetting, OpenedSetting, StoredSetting};
use super::{Store, StoreError, abort, codec, keys, now_unix, read, read_all, slug};

impl Store {
    /// Creates a connection for an existing account. Its id is the slug of
    /// the account id and `name` (`acme-greenhouse`), made unique. Secret
    /// settings are sealed, which needs the store's key. Settings and extra
    /// hosts are expected to be validated by the caller, which knows the
    /// plugin; the store keeps them as plain values.
    pub fn add_connection(&self, new: NewConnection) -> Result<Connection, StoreError> {
        if self.account(&new.account_id)?.is_none() {
            return Err(StoreError::UnknownAccount(new.account_id));
        }
        let base = slug::slug(&format!("{} {}", new.account_id, new.name), "connection");
        let mut seen = std::collections::BTreeSet::new();
        for (key, value) in &new.settings {
            if !seen.insert(key.as_str()) {
                return Err(StoreError::DuplicateSetting { connection: base.clone(), setting: key.clone() });
            }
            if matches!(value, NewSetting::Secret(_)) && self.key.is_none() {
                return Err(StoreError::SecretKeyMissing { connection: base.clone(), setting: key.clone() });
            }
        }
        let mut connection = Connection {
            id: String::new(),
            account_id: new.account_id.clone(),
            name: new.name.trim().to_string(),
            plugin_id: new.plugin_id.clone(),
            settings: BTreeMap::new(),
            extra_hosts: new.extra_hosts.clone(),
            schedule: new.schedule.clone(),
            enabled: true,
            created_at_unix: now_unix(),
        };
        let _gate = self.write_gate();
        let id = slug::insert_unique(&self.trees.connections, &base, |id| {
            // Sealed per candidate id: the id is bound into each secret.
            connection.id = id.to_string();
            connection.settings = self.seal_settings(id, &new.settings)?;
            codec::encode("connection", &connection)
        })?;
        debug_assert_eq!(connection.id, id);
        info!(connection = %id, account = %connection.account_id, plugin = %connection.plugin_id, "connection created");
        Ok(connection)
    }

    pub(super) fn seal_settings(
        &self,
        connection_id: &str,
        settings: &[(String, NewSetting)],
    ) -> Result<BTreeMap<String, StoredSetting>, StoreError> {
        settings
            .iter()
            .map(|(key, value)| {
                let stored = match value {
                    NewSetting::Text(text) => StoredSetting::Text(text.clone()),
                    NewSetting::Secret(secret) => {
                        let sealer = self.key.as_ref().ok_or_else(|| StoreError::SecretKeyMissing {
                            connection: connection_id.to_string(),
                            setting: key.clone(),
                        })?;
                        StoredSetting::Secret(sealer.seal(connection_id, key, secret)?)
                    }
                };
                Ok((key.clone(), stored))
            })
            .collect()
    }

    /// The connection with this id.
    pub fn connection(&self, id: &str) -> Result<Option<Connection>, StoreError> {
        read(&self.trees.connections, keys::CONNECTIONS, keys::id(id), id)
    }

    /// Every connection, by id.
    pub fn connections(&self) -> Result<Vec<Connection>, StoreError> {
        read_all(&self.trees.connections, keys::CONNECTIONS)
    }

    /// The connections of one account, by id. (Scans all connections: there
    /// are few, and an index would be one more thing to keep consistent.)
    pub fn connections_of(&self, account_id: &str) -> Result<Vec<Connection>, StoreError> {
        Ok(self.connections()?.into_iter().filter(|c| c.account_id == account_id).collect())
    }

    /// The connections that use a plugin, e.g. before removing or upgrading it.
    pub fn connections_using_plugin(&self, plugin_id: &str) -> Result<Vec<Connection>, StoreError> {
        Ok(self.connections()?.into_iter().filter(|c| c.plugin_id == plugin_id).collect())
    }

    /// Enables or disables a connection; returns it as stored.
    pub fn set_connection_enabled(&self, id: &str, enabled: bool) -> Result<Connection, StoreError> {
        let _gate = self.write_gate();
        let updated = self.trees.connections.transaction(|tx| {
            let mut connection = read_connection_tx(tx, id)?;
            connection.enabled = enabled;
            tx.insert(keys::id(id), codec::encode("connection", &connection).map_err(abort)?)?;
            Ok(connection)
        })?;
        info!(connection = %id, enabled, "connection enabled state changed");
        Ok(updated)
    }

    /// The connection's settings with secrets opened, as plain values (the
    /// sync engine builds the runtime's context from them). Fails, naming
    /// the setting, when a secret does not open under the store's key.
    pub fn opened_settings(&self, connection: &Connection) -> Result<Vec<(String, OpenedSetting)>, StoreError> {
        connection
            .settings
            .iter()
            .map(|(key, stored)| {
                let value = match stored {
                    StoredSetting::Text(text) => OpenedSetting::Text(text.clone()),
                    StoredSetting::Secret(sealed) => {
                        let opener = self.key.as_ref().ok_or_else(|| StoreError::SecretKeyMissing {
                            connection: connection.id.clone(),
                            setting: key.clone(),
                        })?;
                        OpenedSetting::Secret(opener.open(&connection.id, key, sealed)?)
                    }
                };
                Ok((key.clone(), value))
            })
            .collect()
    }

    /// The connection's sync state; the default for one never synced.
    pub fn state(&self, connection_id: &str) -> Result<ConnectionState, StoreError> {
        let stored = read(&self.trees.state, keys::CONNECTION_STATE, keys::id(connection_id), connection_id)?;
        Ok(stored.unwrap_or_else(|| default_state(connection_id)))
    }

    /// Changes a connection's state atomically and returns the new state.
    ///
    /// `change` may run more than once (sled retries a transaction that
    /// conflicts with another), so it should only modify the state it is
    /// given.
    pub fn update_state(
        &self,
        connection_id: &str,
        change: impl FnMut(&mut ConnectionState),
    ) -> Result<ConnectionState, StoreError> {
        let change = RefCell::new(change);
        let _gate = self.write_gate();
        let trees = (&self.trees.connections, &self.trees.state);
        Ok(trees.transaction(|(connections, state)| {
            read_connection_tx(connections, connection_id)?;
            let mut current = read_state_tx(state, connection_id)?;
            (change.borrow_mut())(&mut current);
            write_state_tx(state, &current)?;
            Ok(current)
        })?)
    }

    /// Asks for a fresh complete listing: drops the checkpoint and the
    /// incremental watermark and sets `reset_requested`. Positions stay.
    pub fn reset_connection(&self, connection_id: &str) -> Result<ConnectionState, StoreError> {
        let state = self.update_state(connection_id, |s| {
            s.checkpoint = None;
            s.changed_since = None;
            s.reset_requested = true;
        })?;
        info!(connection = %connection_id, "connection reset requested");
        Ok(state)
    }
}

fn default_state(connection_id: &str) -> ConnectionState {
    ConnectionState { connection_id: connection_id.to_string(), ..ConnectionState::default() }
}

/// Reads a connection inside a transaction; aborts if there is none.
pub(super) fn read_connection_tx(
    tx: &TransactionalTree,
    id: &str,
) -> ConflictableTransactionResult<Connection, StoreError> {
    match tx.get(keys::id(id))? {
        None => Err(abort(StoreError::UnknownConnection(id.to_string()))),
        Some(bytes) => codec::decode(keys::CONNECTIONS, id, &bytes).map_err(abort),
    }
}

/// Reads a connection's state inside a transaction; the default if none.
pub(super) fn read_state_tx(
    tx: &TransactionalTree,
    connection_id: &str,
) -> ConflictableTransactionResult<ConnectionState, StoreError> {
    match tx.get(keys::id(connection_id))? {
        None => Ok(default_state(connection_id)),
        Some(bytes) => codec::decode(keys::CONNECTION_STATE, connection_id, &bytes).map_err(abort),
    }
}

/// Writes a connection's state inside a transaction.
pub(super) fn write_state_tx(
    tx: &TransactionalTree,
    state: &ConnectionState,
) -> ConflictableTransactionResult<u64, StoreError> {
    let (key, value) = (keys::id(&state.connection_id), codec::encode("connection state", state).map_err(abort)?);
    let written = (key.len() + value.len()) as u64; // metering: the bytes this wrote
    tx.insert(key, value)?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::store::SecretKey;
    use crate::store::model::Checkpoint;
    use crate::store::testutil::{connection, temp_store};

    const PLAINTEXT: &str = "sk-live-PLAINTEXT-42";

    fn secret_of(store: &Store, c: &Connection) -> Option<String> {
        use secrecy::ExposeSecret;
        store.opened_settings(c).unwrap().into_iter().find_map(|(k, v)| match v {
            OpenedSetting::Secret(s) if k == "api_key" => Some(s.expose_secret().to_string()),
            _ => None,
        })
    }

    fn files_contain(dir: &std::path::Path, needle: &[u8]) -> bool {
        std::fs::read_dir(dir).unwrap().any(|entry| {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files_contain(&path, needle)
            } else {
                memchr::memmem::find(&std::fs::read(&path).unwrap(), needle).is_some()
            }
        })
    }

    #[test]
    fn secrets_are_never_on_disk_in_the_clear() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        assert_eq!(c.id, "acme-greenhouse");
        store.flush().unwrap();
        // The scan does find stored text: the text setting is there.
        assert!(files_contain(dir.path(), b"acme-board"));
        assert!(!files_contain(dir.path(), PLAINTEXT.as_bytes()));

        assert_eq!(secret_of(&store, &c).as_deref(), Some(PLAINTEXT));
        let shown = format!("{c:?} {store:?}");
        assert!(!shown.contains(PLAINTEXT), "{shown}");
    }

    #[test]
    fn a_wrong_or_missing_key_names_the_setting() {
        let (dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        drop(store);

        // A wrong key is refused when the store opens (its key check value).
        let wrong = Store::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap_err();
        assert!(matches!(wrong, StoreError::WrongKey { .. }), "{wrong}");

        let keyless = Store::open(dir.path(), None).unwrap();
        assert!(matches!(keyless.opened_settings(&c), Err(StoreError::SecretKeyMissing { .. })));
        let err = keyless
            .add_connection(NewConnection {
                account_id: "acme".into(),
                name: "Lever".into(),
                plugin_id: "lever".into(),
                settings: vec![("token".into(), NewSetting::Secret(SecretString::from("x")))],
                extra_hosts: vec![],
                schedule: None,
            })
            .unwrap_err();
        assert!(err.to_string().contains("ATSBRIDGE_SECRET_KEY"), "{err}");
    }

    #[test]
    fn connections_are_listed_and_checked() {
        let (_dir, store) = temp_store();
        let a = connection(&store, "Greenhouse");
        let b = connection(&store, "Greenhouse");
        assert_eq!(b.id, "acme-greenhouse-2");
        // Each connection's secrets are sealed for it alone.
        assert_eq!(secret_of(&store, &b).as_deref(), Some(PLAINTEXT));
        assert_eq!(store.connections_of("acme").unwrap().len(), 2);
        assert_eq!(store.connections_using_plugin("greenhouse").unwrap(), vec![a.clone(), b]);
        assert!(store.connections_using_plugin("lever").unwrap().is_empty());

        assert!(!store.set_connection_enabled(&a.id, false).unwrap().enabled);
        assert!(!store.connection(&a.id).unwrap().unwrap().enabled);
        assert!(matches!(store.set_connection_enabled("nope", true), Err(StoreError::UnknownConnection(_))));

        let new = |account: &str, hosts: Vec<String>| NewConnection {
            account_id: account.into(),
            name: "x".into(),
            plugin_id: "p".into(),
            settings: vec![],
            extra_hosts: hosts,
            schedule: None,
        };
        assert!(matches!(store.add_connection(new("globex", vec![])), Err(StoreError::UnknownAccount(_))));
        let ok = store.add_connection(new("acme", vec!["https://*.example.com".into()])).unwrap();
        assert_eq!(store.connection(&ok.id).unwrap().unwrap().extra_hosts, vec!["https://*.example.com".to_string()]);
    }

    #[test]
    fn state_defaults_updates_atomically_and_resets() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        assert_eq!(store.state(&c.id).unwrap().connection_id, c.id);
        store
            .update_state(&c.id, |s| {
                s.changed_since = Some("2026-01-01T00:00:00Z".into());
                s.checkpoint = Some(Checkpoint {
                    run_seq: 1,
                    cursor: Some("p2".into()),
                    pages_done: 1,
                    full_listing: true,
                    listing_started_unix: 0,
                    written_unix: 0,
                });
            })
            .unwrap();
        let state = store.reset_connection(&c.id).unwrap();
        assert!(state.reset_requested && state.checkpoint.is_none() && state.changed_since.is_none());
        assert_eq!(store.state(&c.id).unwrap(), state);
        assert!(matches!(store.reset_connection("nope"), Err(StoreError::UnknownConnection(_))));
    }
}
