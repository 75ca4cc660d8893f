//! Changing and deleting accounts and connections after creation.
//!
//! Updating a connection rewrites its record only: its id, positions
//! (with their local edits and publication) and run history stay, so a
//! rotated credential or a new base URL carries everything over.

use std::collections::BTreeMap;

use sled::Transactional;
use tracing::info;

use super::connections::read_connection_tx;
use super::model::{Account, Connection, NewSetting, OpenedSetting, SyncRun};
use super::{Store, StoreError, abort, codec, keys, read};

/// A change to a connection; `None` keeps the field.
#[derive(Debug, Default)]
pub struct ConnectionChange {
    /// New display name (the id stays).
    pub name: Option<String>,
    /// The complete new settings, validated by the caller against the
    /// plugin's schema; secret ones are sealed again.
    pub settings: Option<Vec<(String, NewSetting)>>,
    /// New extra allowed hosts, checked by the caller.
    pub extra_hosts: Option<Vec<String>>,
    /// New schedule (`Some(None)`: back to the daily default).
    pub schedule: Option<Option<String>>,
}

impl Store {
    /// Changes an account's time zone (canonical IANA spelling) and/or name.
    pub fn update_account(&self, id: &str, name: Option<&str>, time_zone: Option<&str>) -> Result<Account, StoreError> {
        let _gate = self.write_gate();
        let tz = time_zone
            .map(|t| {
                t.trim().parse::<chrono_tz::Tz>().map_err(|_| StoreError::InvalidTimeZone { time_zone: t.to_string() })
            })
            .transpose()?;
        let account = self.trees.accounts.transaction(|tx| {
            let bytes = tx.get(keys::id(id))?.ok_or_else(|| abort(StoreError::UnknownAccount(id.to_string())))?;
            let mut account: Account = codec::decode(keys::ACCOUNTS, id, &bytes).map_err(abort)?;
            if let Some(tz) = tz {
                account.time_zone = tz.name().to_string();
            }
            if let Some(name) = name {
                account.name = name.trim().to_string();
            }
            tx.insert(keys::id(id), codec::encode("account", &account).map_err(abort)?)?;
            Ok(account)
        })?;
        info!(account = id, time_zone = %account.time_zone, "account updated");
        Ok(account)
    }

    /// Deletes an account record. The caller checks it has no connections
    /// left and revokes its keys.
    pub fn delete_account(&self, id: &str) -> Result<bool, StoreError> {
        let _gate = self.write_gate();
        let removed = self.trees.accounts.remove(keys::id(id))?.is_some();
        if removed {
            info!(account = id, "account deleted");
        }
        Ok(removed)
    }

    /// Applies a change to a connection and returns it as stored.
    pub fn update_connection(&self, id: &str, change: ConnectionChange) -> Result<Connection, StoreError> {
        let _gate = self.write_gate();
        // Sealed outside the transaction (a retried transaction must not
        // draw new nonces for the same write); bound to this connection id.
        let sealed = match &change.settings {
            Some(settings) => Some(self.seal_settings(id, settings)?),
            None => None,
        };
        let updated = self.trees.connections.transaction(|tx| {
            let mut connection = read_connection_tx(tx, id)?;
            if let Some(name) = &change.name {
                connection.name = name.trim().to_string();
            }
            if let Some(settings) = &sealed {
                connection.settings = settings.clone();
            }
            if let Some(hosts) = &change.extra_hosts {
                connection.extra_hosts = hosts.clone();
            }
            if let Some(schedule) = &change.schedule {
                connection.schedule = schedule.clone();
            }
            tx.insert(keys::id(id), codec::encode("connection", &connection).map_err(abort)?)?;
            Ok(connection)
        })?;
        info!(connection = id, settings_changed = sealed.is_some(), "connection updated");
        Ok(updated)
    }

    /// Deletes a connection with its state, positions and runs. Children go
    /// first, the connection record last, so an interrupted delete leaves a
    /// connection that can be deleted again, never orphans without one.
    pub fn delete_connection(&self, id: &str) -> Result<bool, StoreError> {
        let _gate = self.write_gate();
        if self.connection(id)?.is_none() {
            return Ok(false);
        }
        let prefix = keys::connection_prefix(id);
        let index = self.position_index_entries(id)?;
        for (key, ids) in &index {
            // A record an event shows is kept: the event still reads.
            let trees = (&self.trees.positions, &self.trees.by_connection, &self.trees.position_versions);
            trees.transaction(|(positions, by_connection, versions)| {
                for &position in ids {
                    if let Some(old) = positions.remove(&keys::position(position))? {
                        super::position_versions::keep_tx(versions, position, &old)?;
                    }
                }
                by_connection.remove(key)?;
                Ok::<_, sled::transaction::ConflictableTransactionError<StoreError>>(())
            })?;
        }
        let positions: usize = index.iter().map(|(_, ids)| ids.len()).sum();
        super::job_groups::remove_connection(&self.trees.job_groups, id)?;
        for tree in [&self.trees.runs, &self.trees.ats_stages] {
            for key in tree.scan_prefix(&prefix).keys() {
                tree.remove(key?)?;
            }
        }
        self.delete_page_replays(id)?; // replay of unchanged pages
        self.trees.state.remove(keys::id(id))?;
        self.trees.stage_mappings.remove(keys::id(id))?;
        self.trees.connections.remove(keys::id(id))?;
        self.job_directories.forget(id);
        info!(connection = id, positions, "connection deleted");
        Ok(true)
    }

    /// One run of a connection.
    pub fn run(&self, connection_id: &str, seq: u64) -> Result<Option<SyncRun>, StoreError> {
        read(&self.trees.runs, keys::SYNC_RUNS, &keys::run(connection_id, seq), format!("{connection_id}/{seq}"))
    }
}

/// Setting values as the plugin would get them, for re-validation when only
/// some settings change: secret values opened.
pub fn plain_settings(inputs: &[(String, OpenedSetting)]) -> BTreeMap<String, String> {
    use secrecy::ExposeSecret;
    inputs
        .iter()
        .map(|(k, v)| {
            let v = match v {
                OpenedSetting::Text(t) => t.clone(),
                OpenedSetting::Secret(s) => s.expose_secret().to_string(),
            };
            (k.clone(), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use secrecy::SecretString;

    use super::*;
    use crate::store::FieldEdit;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    #[test]
    fn updating_settings_keeps_positions_edits_and_the_id() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        store.edit_position(p.id, FieldEdit::Name("Edited".into())).unwrap();
        let settings = vec![
            ("board".into(), NewSetting::Text("acme-board".into())),
            ("api_key".into(), NewSetting::Secret(SecretString::from("rotated"))),
        ];
        let change = ConnectionChange { settings: Some(settings), ..Default::default() };
        let updated = store.update_connection(&c.id, change).unwrap();
        assert_eq!(updated.id, c.id);
        let opened = plain_settings(&store.opened_settings(&updated).unwrap());
        assert_eq!(opened.get("api_key").map(String::as_str), Some("rotated"));
        assert_eq!(store.positions_of_connection(&c.id).unwrap()[0].name.effective(), "Edited");

        assert!(store.delete_connection(&c.id).unwrap());
        assert!(store.positions_of_connection(&c.id).unwrap().is_empty());
        assert!(store.position(p.id).unwrap().is_none());
        assert!(store.runs(&c.id, 10).unwrap().is_empty());
        assert!(!store.delete_connection(&c.id).unwrap());
    }

    #[test]
    fn time_zones_are_checked_on_update() {
        let (_dir, store) = temp_store();
        store.add_account("Acme", "UTC").unwrap();
        assert_eq!(store.update_account("acme", None, Some("Europe/Paris")).unwrap().time_zone, "Europe/Paris");
        assert!(matches!(
            store.update_account("acme", None, Some("Mars/Base")),
            Err(StoreError::InvalidTimeZone { .. })
        ));
        assert!(matches!(store.update_account("nope", None, None), Err(StoreError::UnknownAccount(_))));
    }
}
