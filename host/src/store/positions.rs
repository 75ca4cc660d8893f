//! Reading positions, and the edits users make to them. (The sync engine
//! writes positions through `runs`.)

use sled::Transactional;
use tracing::info;

use super::model::{FieldEdit, FieldName, Position, PositionStatus};
use super::{Store, StoreError, abort, job_groups, keys, now_unix, position_versions, stored_position};

/// The most positions one page of [`Store::positions_page`] returns,
/// whatever the caller asks: a page is one response of the API, and 100,000
/// positions in one body are tens of megabytes.
pub const MAX_POSITIONS_PAGE: usize = 500;

/// Which positions [`Store::positions_page`] returns; `None` fields match
/// everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PositionFilter {
    /// Only this connection's (walks its index, not every position).
    pub connection_id: Option<String>,
    /// Only this account's.
    pub account_id: Option<String>,
    /// Only positions with this status.
    pub status: Option<PositionStatus>,
    /// Only published (or only unpublished) positions.
    pub published: Option<bool>,
}

impl PositionFilter {
    fn matches(&self, p: &Position) -> bool {
        self.connection_id.as_ref().is_none_or(|c| *c == p.connection_id)
            && self.account_id.as_ref().is_none_or(|a| *a == p.account_id)
            && self.status.as_ref().is_none_or(|s| *s == p.status)
            && self.published.is_none_or(|v| v == p.published)
    }
}

impl Store {
    /// The position with this id.
    pub fn position(&self, id: u64) -> Result<Option<Position>, StoreError> {
        self.trees
            .positions
            .get(keys::position(id))?
            .map(|bytes| stored_position::decode(keys::POSITIONS, id, &bytes))
            .transpose()
    }

    /// The position an ATS job of a connection maps to. Reads the
    /// connection's whole job map: for tools and tests, not for a path
    /// taken per job.
    pub fn position_by_job(&self, connection_id: &str, code: &str) -> Result<Option<Position>, StoreError> {
        let mut found = None;
        job_groups::for_each_job(&self.trees.job_groups, connection_id, |job, entry| {
            if job == code {
                found = Some(entry.position);
            }
            Ok(())
        })?;
        let Some(id) = found else { return Ok(None) };
        self.position(id)?.map(Some).ok_or_else(|| dangling(keys::JOB_GROUPS, format!("{connection_id}/{code}"), id))
    }

    /// The ATS job codes a connection maps, with their position ids, in
    /// code order, without reading the positions (cheap even for 100,000
    /// jobs).
    pub fn job_codes_of_connection(&self, connection_id: &str) -> Result<Vec<(String, u64)>, StoreError> {
        let mut codes = Vec::new();
        job_groups::for_each_job(&self.trees.job_groups, connection_id, |code, entry| {
            codes.push((code.to_string(), entry.position));
            Ok(())
        })?;
        codes.sort_unstable();
        Ok(codes)
    }

    /// A connection's positions, by id (that is, in creation order).
    pub fn positions_of_connection(&self, connection_id: &str) -> Result<Vec<Position>, StoreError> {
        self.position_ids_from(connection_id, 0)?
            .map(|id| {
                let id = id?;
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

    /// The open positions of a connection whose ids `listed` does not
    /// accept: after a complete listing that listed those positions' jobs,
    /// the jobs the ATS no longer has. Reads only the job map (whose
    /// fingerprints say whether a position is closed), and a position only
    /// for an entry without one. In the order the jobs were created.
    pub fn open_positions_missing_from(
        &self,
        connection_id: &str,
        listed: impl Fn(u64) -> bool,
    ) -> Result<Vec<u64>, StoreError> {
        let mut missing = Vec::new();
        job_groups::for_each_job(&self.trees.job_groups, connection_id, |code, entry| {
            if listed(entry.position) {
                return Ok(());
            }
            let closed = match entry.fingerprint {
                Some(f) => f.closed,
                None => self
                    .position(entry.position)?
                    .ok_or_else(|| dangling(keys::JOB_GROUPS, format!("{connection_id}/{code}"), entry.position))?
                    .is_closed(),
            };
            if !closed {
                missing.push(entry.position);
            }
            Ok(())
        })?;
        Ok(missing)
    }

    /// One page of positions matching `filter`, by id: those with an id
    /// above `after` (from the start when `None`), at most `limit` (capped
    /// at [`MAX_POSITIONS_PAGE`]). The next page starts after the last id.
    pub fn positions_page(
        &self,
        filter: &PositionFilter,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<Position>, StoreError> {
        let limit = limit.min(MAX_POSITIONS_PAGE);
        let start = match after {
            None => 0,
            Some(u64::MAX) => return Ok(Vec::new()),
            Some(a) => a + 1,
        };
        let mut page = Vec::new();
        let mut keep = |position: Position| {
            if filter.matches(&position) {
                page.push(position);
            }
            page.len() < limit
        };
        match &filter.connection_id {
            Some(connection_id) => {
                for id in self.position_ids_from(connection_id, start)? {
                    let id = id?;
                    let position = self
                        .position(id)?
                        .ok_or_else(|| dangling(keys::POSITIONS_BY_CONNECTION, connection_id.clone(), id))?;
                    if !keep(position) {
                        break;
                    }
                }
            }
            None => {
                for entry in self.trees.positions.range(keys::position(start)..) {
                    let (key, bytes) = entry?;
                    let id = keys::decode_position(&key)?;
                    if !keep(stored_position::decode(keys::POSITIONS, id, &bytes)?) {
                        break;
                    }
                }
            }
        }
        Ok(page)
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

    /// Read-modify-write of one position in a transaction, so it cannot
    /// interleave with a page commit touching the same position. An edit
    /// has no event: the record it replaces is kept if an event shows it.
    fn modify_position(&self, id: u64, change: impl Fn(&mut Position)) -> Result<Position, StoreError> {
        let key = keys::position(id);
        let _gate = self.write_gate();
        let trees = (&self.trees.positions, &self.trees.position_versions);
        Ok(trees.transaction(|(tx, versions)| {
            let bytes = tx.get(key)?.ok_or_else(|| abort(StoreError::UnknownPosition(id)))?;
            let mut position = stored_position::decode(keys::POSITIONS, id, &bytes).map_err(abort)?;
            change(&mut position);
            position.updated_at_unix = now_unix();
            position_versions::keep_tx(versions, id, &bytes)?;
            tx.insert(&key, stored_position::encode(&position).map_err(abort)?)?;
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
    use super::PositionFilter;
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

    #[test]
    fn positions_come_in_capped_pages_with_filters() {
        let (_dir, store) = temp_store();
        let a = connection(&store, "Greenhouse");
        let b = connection(&store, "Lever");
        let codes: Vec<String> = (0..7).map(|i| format!("J{i}")).collect();
        let jobs: Vec<(&str, &str)> = codes.iter().map(|c| (c.as_str(), "T")).collect();
        let in_a = commit_jobs(&store, &a.id, &jobs);
        let in_b = commit_jobs(&store, &b.id, &jobs[..2]);
        store.set_published(in_a[3].id, true).unwrap();

        let by_a = PositionFilter { connection_id: Some(a.id.clone()), ..Default::default() };
        let first = store.positions_page(&by_a, None, 3).unwrap();
        let second = store.positions_page(&by_a, Some(first[2].id), 3).unwrap();
        let third = store.positions_page(&by_a, Some(second[2].id), 3).unwrap();
        let ids: Vec<u64> = first.iter().chain(&second).chain(&third).map(|p| p.id).collect();
        assert_eq!(ids, in_a.iter().map(|p| p.id).collect::<Vec<_>>());
        assert_eq!(third.len(), 1);

        let all = store.positions_page(&PositionFilter::default(), None, usize::MAX).unwrap();
        assert_eq!(all.len(), 9);
        let published = PositionFilter { published: Some(true), ..Default::default() };
        assert_eq!(store.positions_page(&published, None, 10).unwrap()[0].id, in_a[3].id);
        let b_after = PositionFilter { connection_id: Some(b.id.clone()), ..Default::default() };
        assert_eq!(store.positions_page(&b_after, Some(in_b[0].id), 10).unwrap().len(), 1);
        assert!(store.positions_page(&b_after, Some(u64::MAX), 10).unwrap().is_empty());
    }
}
