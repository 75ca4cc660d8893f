//! Reading positions, and the edits users make to them. (The sync engine
//! writes positions through `runs`.)

use tracing::info;

use super::model::{FieldEdit, FieldName, Position};
use super::{Store, StoreError, abort, codec, keys, now_unix, read};

impl Store {
    /// The position with this id.
    pub fn position(&self, id: u64) -> Result<Option<Position>, StoreError> {
        read(&self.trees.positions, keys::POSITIONS, &keys::position(id), id)
    }

    /// The position an ATS job of a connection maps to.
    pub fn position_by_job(&self, connection_id: &str, code: &str) -> Result<Option<Position>, StoreError> {
        let Some(bytes) = self.trees.job_map.get(keys::job(connection_id, code))? else {
            return Ok(None);
        };
        let id = keys::decode_position(&bytes).map_err(|e| StoreError::Corrupt {
            tree: keys::JOB_MAP,
            key: format!("{connection_id}/{code}"),
            reason: e.reason.into(),
        })?;
        self.position(id)?.map(Some).ok_or_else(|| dangling(keys::JOB_MAP, format!("{connection_id}/{code}"), id))
    }

    /// The ATS job codes a connection maps, with their position ids, without
    /// reading the positions (cheap even for 100,000 jobs).
    pub fn job_codes_of_connection(&self, connection_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        self.trees
            .job_map
            .scan_prefix(keys::connection_prefix(connection_id))
            .map(|entry| {
                let (key, value) = entry?;
                let job = keys::decode_job(&key)?;
                let id = keys::decode_position(&value)?;
                Ok((job.code, id))
            })
            .collect()
    }

    /// A connection's positions, by id (that is, in creation order).
    pub fn positions_of_connection(&self, connection_id: &str) -> Result<Vec<Position>, StoreError> {
        self.trees
            .by_connection
            .scan_prefix(keys::connection_prefix(connection_id))
            .map(|entry| {
                let (key, _) = entry?;
                let (_, id) = keys::decode_connection_position(&key)?;
                self.position(id)?.ok_or_else(|| dangling(keys::POSITIONS_BY_CONNECTION, connection_id.into(), id))
            })
            .collect()
    }

    /// An account's positions, connection by connection.
    pub fn positions_of_account(&self, account_id: &str) -> Result<Vec<Position>, StoreError> {
        let mut positions = Vec::new();
        for connection in self.connections_of(account_id)? {
            positions.extend(self.positions_of_connection(&connection.id)?);
        }
        Ok(positions)
    }

    /// A connection's positions that are not closed and were last seen
    /// before run `run_seq`: after a complete listing in that run, the jobs
    /// the ATS no longer has.
    pub fn positions_not_seen_since(&self, connection_id: &str, run_seq: u64) -> Result<Vec<Position>, StoreError> {
        Ok(self
            .positions_of_connection(connection_id)?
            .into_iter()
            .filter(|p| !p.is_closed() && p.last_seen_run < run_seq)
            .collect())
    }

    /// Overrides a tracked field locally. Later syncs update the ATS side
    /// only, so the edit stays until [`Store::clear_edit`].
    pub fn edit_position(&self, id: u64, edit: FieldEdit) -> Result<Position, StoreError> {
        let position = self.modify_position(id, |p| p.apply_edit(edit.clone()))?;
        info!(position = id, "position edited");
        Ok(position)
    }

    /// Drops a local override: the field follows the ATS again.
    pub fn clear_edit(&self, id: u64, field: FieldName) -> Result<Position, StoreError> {
        let position = self.modify_position(id, |p| p.clear_edit(field))?;
        info!(position = id, field = ?field, "position edit cleared");
        Ok(position)
    }

    /// Publishes or unpublishes a position.
    pub fn set_published(&self, id: u64, published: bool) -> Result<Position, StoreError> {
        let position = self.modify_position(id, |p| p.published = published)?;
        info!(position = id, published, "position publication changed");
        Ok(position)
    }

    /// Read-modify-write of one position in a transaction, so it cannot
    /// interleave with a page commit touching the same position.
    fn modify_position(&self, id: u64, change: impl Fn(&mut Position)) -> Result<Position, StoreError> {
        let key = keys::position(id);
        Ok(self.trees.positions.transaction(|tx| {
            let bytes = tx.get(key)?.ok_or_else(|| abort(StoreError::UnknownPosition(id)))?;
            let mut position: Position = codec::decode(keys::POSITIONS, id, &bytes).map_err(abort)?;
            change(&mut position);
            position.updated_at_unix = now_unix();
            tx.insert(&key, codec::encode("position", &position).map_err(abort)?)?;
            Ok(position)
        })?)
    }
}

/// An index entry whose position is missing.
fn dangling(tree: &'static str, key: String, id: u64) -> StoreError {
    StoreError::Corrupt { tree, key, reason: format!("points to position {id}, which does not exist") }
}

#[cfg(test)]
mod tests {
    use crate::store::model::{AuthorizedUser, FieldEdit, FieldName};
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    #[test]
    fn local_edits_survive_syncs_and_clearing_follows_the_ats_again() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);

        store.edit_position(p.id, FieldEdit::Name("Senior Engineer".into())).unwrap();
        let users = vec![AuthorizedUser { ats_id: "local".into(), name: "Bo".into(), email: None }];
        store.edit_position(p.id, FieldEdit::AuthorizedUsers(users.clone())).unwrap();
        store.set_published(p.id, true).unwrap();

        // The next sync brings a new title, applied as the engine does.
        commit_jobs(&store, &c.id, &[("J1", "Staff Engineer")]);
        let p = store.position(p.id).unwrap().unwrap();
        assert_eq!(p.name.effective(), "Senior Engineer");
        assert_eq!(p.name.ats, "Staff Engineer");
        assert_eq!(p.authorized_users.effective(), &users);
        assert!(p.published);

        let p = store.clear_edit(p.id, FieldName::Name).unwrap();
        assert_eq!(p.name.effective(), "Staff Engineer");
        commit_jobs(&store, &c.id, &[("J1", "Principal Engineer")]);
        assert_eq!(store.position(p.id).unwrap().unwrap().name.effective(), "Principal Engineer");
    }

    #[test]
    fn lookups_by_job_connection_and_account() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let made = commit_jobs(&store, &c.id, &[("J1", "A"), ("J2", "B")]);
        assert_eq!(store.position_by_job(&c.id, "J2").unwrap(), Some(made[1].clone()));
        assert_eq!(store.position_by_job(&c.id, "J3").unwrap(), None);
        assert_eq!(store.positions_of_connection(&c.id).unwrap(), made);
        assert_eq!(store.positions_of_account("acme").unwrap(), made);
        assert!(store.positions_of_connection("other").unwrap().is_empty());
        assert!(store.edit_position(999_999, FieldEdit::Name("x".into())).is_err());
    }
}
