//! The versions of a position that events refer to.
//!
//! An event about a position (created, updated, closed, published, ...)
//! shows the position as it was right after the change. The event used to
//! carry a copy of the whole position, so every new job was stored twice:
//! its record and its `position.created` event's copy, the larger part of
//! what a full sync writes. Now the event refers to the record
//! ([`PositionRef`]: the position's id and a version), and the record
//! written with the event carries that version in its value
//! (`codec::encode_versioned`).
//!
//! When a record that an event refers to is overwritten (a later sync, a
//! user's edit, a publication change) or removed (its connection deleted),
//! the writer keeps the old bytes in the `position_versions` tree under
//! (position id, version), in the same transaction ([`keep_tx`]). Reading
//! an event resolves its reference ([`Store::position_version`]): the
//! current record when its version matches, else the kept one. An event
//! therefore reads exactly as it did when it held the copy, and the store
//! keeps a second copy of a position only once it changed after an event
//! named it.
//!
//! A version is the id of the first event written with the record: unique
//! across the store, and known to the writer before its transaction.

use serde::{Deserialize, Serialize};
use sled::transaction::{ConflictableTransactionResult, TransactionalTree};

use super::model::Position;
use super::{Store, StoreError, codec, keys, stored_position};

/// Which stored version of a position an event shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PositionRef {
    /// The position.
    pub id: u64,
    /// The version written with the event (the id of its first event).
    pub version: u64,
}

/// Key of a kept version: (position id, version), both `u64` BE, so a
/// position's versions sort together, oldest first.
pub(crate) fn key(id: u64, version: u64) -> [u8; 16] {
    let mut key = [0; 16];
    key[..8].copy_from_slice(&id.to_be_bytes());
    key[8..].copy_from_slice(&version.to_be_bytes());
    key
}

/// Before position `id`'s stored record `old` is overwritten or removed,
/// inside the same transaction: keeps it when an event refers to it (it
/// carries a version). Records no event names are not kept. The key it
/// wrote, if it kept one (for the run's tally of bytes written).
pub(crate) fn keep_tx(
    versions: &TransactionalTree,
    id: u64,
    old: &[u8],
) -> ConflictableTransactionResult<Option<[u8; 16]>, StoreError> {
    let Some(version) = codec::version_of(old) else { return Ok(None) };
    let kept = key(id, version);
    versions.insert(&kept, old)?;
    Ok(Some(kept))
}

impl Store {
    /// The position as the version `at` names: the current record if it is
    /// still that version, else the one kept when it was overwritten.
    /// `event` is the referring event's id, for the error.
    pub(crate) fn position_version(&self, at: PositionRef, event: u64) -> Result<Position, StoreError> {
        if let Some(bytes) = self.trees.positions.get(keys::position(at.id))?
            && codec::version_of(&bytes) == Some(at.version)
        {
            return stored_position::decode(keys::POSITIONS, at.id, &bytes);
        }
        // Overwritten or removed since: the writer kept it, in the same
        // transaction, so it is here whichever of the two reads came first.
        match self.trees.position_versions.get(key(at.id, at.version))? {
            Some(bytes) => {
                stored_position::decode(keys::POSITION_VERSIONS, format!("{}@{}", at.id, at.version), &bytes)
            }
            None => Err(StoreError::Corrupt {
                tree: keys::EVENTS,
                key: event.to_string(),
                reason: format!("refers to version {} of position {}, which is not stored", at.version, at.id),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::model::FieldEdit;
    use crate::store::testutil::{commit_jobs, connection, temp_store};
    use crate::store::{Event, EventKind};

    fn all_events(store: &Store) -> Vec<Event> {
        store.events_after(0, 100).unwrap()
    }

    #[test]
    fn an_event_shows_the_position_as_it_was_after_its_change() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let created = commit_jobs(&store, &c.id, &[("J1", "Engineer \"Staff\""), ("J2", "Designer")]);
        let first = all_events(&store);
        assert_eq!(first.len(), 2);
        assert_eq!(first[0].position, created[0], "a new position's event shows it as stored");
        assert_eq!(store.trees.position_versions.len(), 0, "nothing kept while the record is the event's version");

        // Overwritten by a sync, an edit and a publication decision: each
        // earlier event still reads as it did.
        let updated = commit_jobs(&store, &c.id, &[("J1", "Principal Engineer"), ("J2", "Designer")]);
        store.edit_position(created[0].id, FieldEdit::Name("Lead".into())).unwrap();
        store.set_published(created[0].id, true).unwrap();
        store.edit_position(created[0].id, FieldEdit::Name("Lead 2".into())).unwrap();
        let all = all_events(&store);
        let kinds: Vec<EventKind> = all.iter().map(|e| e.kind).collect();
        assert_eq!(
            kinds,
            [
                EventKind::PositionCreated,
                EventKind::PositionCreated,
                EventKind::PositionUpdated,
                EventKind::PositionPublished
            ]
        );
        assert_eq!(&all[..2], &first[..], "the created events read as before");
        assert_eq!(all[2].position, updated[0], "the update's event shows the sync's version, not the later edit");
        assert_eq!(all[3].position.name.effective(), "Lead", "the publication's event shows the first edit");
        assert!(all[3].position.published);
        assert_eq!(store.position(created[0].id).unwrap().unwrap().name.effective(), "Lead 2");
        // Three versions were overwritten after an event named them (the
        // creation, the update and the publication); J2 never changed.
        assert_eq!(store.trees.position_versions.len(), 3);
        for e in &all {
            assert_eq!(store.event(e.id).unwrap().as_ref(), Some(e), "one event reads as the list shows it");
        }

        // The connection goes: its events still show their positions.
        assert!(store.delete_connection(&c.id).unwrap());
        assert_eq!(store.position(created[0].id).unwrap(), None);
        assert_eq!(all_events(&store), all);
    }

    #[test]
    fn a_reference_to_a_version_never_stored_is_a_corrupt_event_not_a_panic() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        let err = store.position_version(PositionRef { id: p.id, version: 999_999 }, 7).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("version 999999 of position"), "{err}");
    }
}
