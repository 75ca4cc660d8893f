//! Publication: whether a position is shown to candidates, who decided it
//! and why, the ad a rule rendered for it, its public id, and each
//! connection's ordered publish rules.
//!
//! # Who wins
//!
//! A position carries one standing [`Decision`] (publish or not) made by a
//! person ([`Actor::User`]) or a rule ([`Actor::Rule`]); `published` is that
//! decision while the job is not closed. The sync never makes a decision:
//! closing the job hides the position ([`Actor::Sync`] in
//! [`Publication::last_change`]) and reopening it shows it again if the
//! decision still says so, so a job closed (or missing from one bad
//! listing) and back returns to what its rule or user had decided. Rules
//! never override a person's decision, in either direction, until the
//! person hands the position back to the rules.
//!
//! # Public ids
//!
//! A position gets a random, unguessable public id the first time it is
//! published (tree `public_ids`: id -> position id). It never changes, so
//! the public URL stays stable across unpublish, republish, closes and new
//! questions, and it reveals nothing about accounts or internal ids.
//!
//! # Rules
//!
//! Tree `publish_rules`: connection id -> [`RuleSet`] (the rules in their
//! order, one record so a reorder is one write).

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sled::Transactional;
use tracing::info;

use super::events::{self, EventKind};
use super::model::Position;
use super::{Store, StoreError, abort, codec, keys, now_unix, position_versions, stored_position};

/// Tree mapping a public id to its position id (`u64` big-endian).
pub(crate) const PUBLIC_IDS: &str = "public_ids";
/// Tree of each connection's publish rules, by connection id.
pub(crate) const PUBLISH_RULES: &str = "publish_rules";
/// Random bytes in a public id: 128 bits, not guessable, 22 characters.
const PUBLIC_ID_BYTES: usize = 16;
/// The longest public id accepted in a lookup (a real one has 22 characters).
pub const MAX_PUBLIC_ID_LEN: usize = 64;

/// Who or what published or unpublished a position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A person, through the API or the CLI.
    User {
        /// The credential used: `operator` or `key:<API key id>`.
        credential: String,
        /// The platform's user, when the request named one.
        #[serde(default)]
        user: Option<String>,
    },
    /// A publish rule of the position's connection.
    Rule {
        /// The rule's id.
        rule_id: String,
    },
    /// The sync: the ATS closed, removed or listed the job again.
    Sync {
        /// What the ATS did.
        cause: SyncCause,
    },
}

/// What the ATS did to a position's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncCause {
    /// The ATS reports the job closed.
    ClosedInAts,
    /// A complete listing no longer contained the job.
    RemovedInAts,
    /// A closed job is open again.
    Reopened,
}

/// A standing decision to publish a position or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    /// Publish (true) or keep unpublished.
    pub publish: bool,
    /// A user or a rule (never the sync).
    pub by: Actor,
    /// Why, as the user said or the rule engine explains.
    #[serde(default)]
    pub reason: Option<String>,
    /// When, Unix seconds.
    pub at_unix: i64,
}

/// The last change of `published`, and its cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationChange {
    /// `published` after the change.
    pub published: bool,
    /// Who or what changed it.
    pub by: Actor,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
    /// When, Unix seconds.
    pub at_unix: i64,
}

/// An ad rendered from a rule's template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ad {
    /// The rule that rendered it.
    pub rule_id: String,
    /// Plain text (escaped where shown).
    pub title: String,
    /// Sanitized HTML.
    pub description_html: String,
}

/// What the application form asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// A file upload: the candidate's resume.
    ResumeUpload,
}

/// One question of a position's application form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Question {
    /// Stable within the position (`resume`).
    pub id: String,
    /// What sort of answer.
    pub kind: QuestionKind,
    /// Shown to candidates.
    pub label: String,
    /// Whether the form is refused without it.
    pub required: bool,
}

impl Question {
    /// The question every published position starts with.
    pub fn resume() -> Question {
        Question {
            id: "resume".into(),
            kind: QuestionKind::ResumeUpload,
            label: "Your resume (PDF, DOC, DOCX, ODT, RTF or TXT)".into(),
            required: true,
        }
    }
}

/// A position's publication record. Absent from records written before it
/// existed: [`Default`], and the schema migration fills it in.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Publication {
    /// The standing decision; `None`: nobody decided (not published).
    pub decision: Option<Decision>,
    /// The last change of `published`.
    pub last_change: Option<PublicationChange>,
    /// Assigned at first publish; never changes.
    pub public_id: Option<String>,
    /// The ad of the rule that published it, if a rule did.
    pub ad: Option<Ad>,
    /// The application form's questions, attached at first publish.
    pub questions: Vec<Question>,
}

impl Position {
    /// Whether the standing decision is to publish.
    pub fn wants_published(&self) -> bool {
        self.publication.decision.as_ref().is_some_and(|d| d.publish)
    }

    /// Whether a person (not a rule) made the standing decision.
    pub fn decided_by_user(&self) -> bool {
        matches!(self.publication.decision, Some(Decision { by: Actor::User { .. }, .. }))
    }

    /// Records a decision and derives `published` from it (a closed job
    /// stays hidden until it reopens). Returns whether anything changed.
    pub fn decide(&mut self, decision: Decision) -> bool {
        let same = self
            .publication
            .decision
            .as_ref()
            .is_some_and(|d| d.publish == decision.publish && d.by == decision.by && d.reason == decision.reason);
        if same {
            return false;
        }
        let visible = decision.publish && !self.is_closed();
        if visible != self.published {
            self.published = visible;
            self.publication.last_change = Some(PublicationChange {
                published: visible,
                by: decision.by.clone(),
                reason: decision.reason.clone(),
                at_unix: decision.at_unix,
            });
        }
        if decision.publish && self.publication.questions.is_empty() {
            self.publication.questions.push(Question::resume());
        }
        self.publication.decision = Some(decision);
        true
    }

    /// Hides the position because the ATS closed or removed its job; the
    /// decision stays, for the reopen.
    pub(crate) fn hide_for_close(&mut self, cause: SyncCause, now_unix: i64) {
        if self.published {
            self.published = false;
            self.publication.last_change = Some(PublicationChange {
                published: false,
                by: Actor::Sync { cause },
                reason: None,
                at_unix: now_unix,
            });
        }
    }

    /// Shows the position again after its job reopened, if the standing
    /// decision is to publish.
    pub(crate) fn restore_after_reopen(&mut self, now_unix: i64) {
        if self.wants_published() && !self.published {
            self.published = true;
            self.publication.last_change = Some(PublicationChange {
                published: true,
                by: Actor::Sync { cause: SyncCause::Reopened },
                reason: None,
                at_unix: now_unix,
            });
        }
    }
}

/// Where a rule's title pattern comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "pattern", rename_all = "snake_case")]
pub enum TitlePattern {
    /// `*` any run of characters, `?` one character; case-insensitive,
    /// whole title.
    Glob(String),
    /// A regular expression (searched, case-sensitive unless `(?i)`).
    Regex(String),
}

/// Which positions a rule publishes. Every field given must match.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleFilter {
    /// Position statuses (`open`, `draft`, `on_hold`, `other`); empty:
    /// `open` only.
    pub statuses: Vec<String>,
    /// The (effective) title.
    pub title: Option<TitlePattern>,
    /// A glob one of the (effective) locations must match.
    pub location: Option<String>,
    /// Globs the position's extra ATS fields must match, by field name
    /// (`department = "Eng*"`).
    pub extra: BTreeMap<String, String>,
}

/// A rule's ad: a title and a description, templates over the position's
/// fields.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AdTemplate {
    /// Plain text template (e.g. `{{ title }} in {{ location }}`).
    pub title: String,
    /// HTML template (e.g. `<p>Join {{ extra.department }}</p>{{ description }}`).
    pub description: String,
}

/// One auto-publish rule of a connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishRule {
    /// `r1`, `r2`, ...; never reused within the connection.
    pub id: String,
    /// For people.
    pub name: String,
    /// A disabled rule matches nothing.
    pub enabled: bool,
    /// Which positions.
    pub filter: RuleFilter,
    /// Their ad.
    pub template: AdTemplate,
    /// Creation time, Unix seconds.
    pub created_at_unix: i64,
    /// Last change, Unix seconds.
    pub updated_at_unix: i64,
}

/// A connection's publish rules, first match wins.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RuleSet {
    /// The connection.
    pub connection_id: String,
    /// In order.
    pub rules: Vec<PublishRule>,
    /// The number in the next rule's id.
    pub next_id: u64,
    /// Rules changed since they were last applied: the next sync (or an
    /// "apply now") goes over every position of the connection.
    pub pending: bool,
}

impl RuleSet {
    /// Whether a pass over the connection's positions can change anything:
    /// there are rules, or rules changed (a deleted rule's positions must
    /// be unpublished).
    pub fn needs_pass(&self) -> bool {
        self.pending || !self.rules.is_empty()
    }
}

fn random_public_id() -> Result<String, StoreError> {
    let mut bytes = [0u8; PUBLIC_ID_BYTES];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Secret(super::SecretError::Random(e)))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

impl Store {
    fn public_ids_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(PUBLIC_IDS)?)
    }

    fn rules_tree(&self) -> Result<sled::Tree, StoreError> {
        Ok(self.db.open_tree(PUBLISH_RULES)?)
    }

    /// Changes a position's publication in one transaction: `edit` gets the
    /// stored position and says whether it changed it; only `published`
    /// and `publication` are taken from the edited copy (the rest stays as
    /// stored, so a concurrent sync or edit is never overwritten). A
    /// position whose decision is to publish gets its public id here. A
    /// change of `published` is written with its `position.published` or
    /// `position.unpublished` event. Returns the stored position and
    /// whether it was written.
    pub fn update_publication(
        &self,
        id: u64,
        edit: impl Fn(&mut Position) -> Result<bool, StoreError>,
    ) -> Result<(Position, bool), StoreError> {
        let key = keys::position(id);
        let public = self.public_ids_tree()?;
        // Drawn before the transaction (sled's id generator may not be used
        // inside one); left unused when `published` does not change.
        let event_id = self.draw_event_id()?;
        let _gate = self.write_gate();
        let t = &self.trees;
        let trees = (&t.positions, &public, &t.events, &t.events_pending, &t.position_versions);
        let result = trees.transaction(|(positions, public, events_tree, pending, versions)| {
            let bytes = positions.get(key)?.ok_or_else(|| abort(StoreError::UnknownPosition(id)))?;
            let mut stored = stored_position::decode(keys::POSITIONS, id, &bytes).map_err(abort)?;
            let mut edited = stored.clone();
            if !edit(&mut edited).map_err(abort)? {
                return Ok((stored, false));
            }
            let was_published = stored.published;
            stored.published = edited.published;
            stored.publication = edited.publication;
            if stored.wants_published() && stored.publication.public_id.is_none() {
                let public_id = random_public_id().map_err(abort)?;
                public.insert(public_id.as_bytes(), &keys::position(id))?;
                stored.publication.public_id = Some(public_id);
            }
            stored.updated_at_unix = now_unix();
            // The platform hears of it in the same transaction: a crash
            // loses neither the change nor its event. The record is the
            // version the event shows; the one it replaces is kept if an
            // event shows that one.
            let kind = EventKind::of_publication(was_published, stored.published);
            let value = match kind {
                Some(_) => stored_position::encode_versioned(&stored, event_id),
                None => stored_position::encode(&stored),
            };
            position_versions::keep_tx(versions, id, &bytes)?;
            positions.insert(&key, value.map_err(abort)?)?;
            if let Some(kind) = kind {
                events::append_position_tx(events_tree, pending, event_id, kind, &stored)?;
            }
            Ok((stored, true))
        })?;
        if result.1 {
            info!(position = id, published = result.0.published, "position publication changed");
        }
        Ok(result)
    }

    /// Publishes or unpublishes a position as the operator decided.
    pub fn set_published(&self, id: u64, published: bool) -> Result<Position, StoreError> {
        let decision = Decision {
            publish: published,
            by: Actor::User { credential: "operator".into(), user: None },
            reason: None,
            at_unix: now_unix(),
        };
        Ok(self.update_publication(id, |p| Ok(p.decide(decision.clone())))?.0)
    }

    /// The position a public id names, whatever its state (the caller
    /// decides what the public may see).
    pub fn position_by_public_id(&self, public_id: &str) -> Result<Option<Position>, StoreError> {
        if public_id.is_empty() || public_id.len() > MAX_PUBLIC_ID_LEN {
            return Ok(None);
        }
        let Some(bytes) = self.public_ids_tree()?.get(public_id.as_bytes())? else { return Ok(None) };
        let id = keys::decode_position(&bytes)?;
        self.position(id)
    }

    /// A connection's publish rules (empty if it has none).
    pub fn publish_rules(&self, connection_id: &str) -> Result<RuleSet, StoreError> {
        match self.rules_tree()?.get(keys::id(connection_id))? {
            Some(bytes) => codec::decode(PUBLISH_RULES, connection_id, &bytes),
            None => Ok(RuleSet { connection_id: connection_id.to_string(), next_id: 1, ..Default::default() }),
        }
    }

    /// Changes a connection's publish rules in one transaction; `change`
    /// may refuse with its own error, and then nothing is written (the
    /// outer error is the store's, the inner one the refusal). The
    /// connection must exist.
    pub fn update_publish_rules<T, E>(
        &self,
        connection_id: &str,
        change: impl Fn(&mut RuleSet) -> Result<T, E>,
    ) -> Result<Result<(RuleSet, T), E>, StoreError> {
        if self.connection(connection_id)?.is_none() {
            return Err(StoreError::UnknownConnection(connection_id.to_string()));
        }
        let tree = self.rules_tree()?;
        let _gate = self.write_gate();
        Ok(tree.transaction(|tx| {
            let mut set = match tx.get(keys::id(connection_id))? {
                Some(bytes) => codec::decode(PUBLISH_RULES, connection_id, &bytes).map_err(abort)?,
                None => RuleSet { connection_id: connection_id.to_string(), next_id: 1, ..Default::default() },
            };
            match change(&mut set) {
                Ok(out) => {
                    tx.insert(keys::id(connection_id), codec::encode("publish rules", &set).map_err(abort)?)?;
                    Ok(Ok((set, out)))
                }
                Err(e) => Ok(Err(e)),
            }
        })?)
    }

    /// Deletes a connection's rules (with the connection).
    pub fn delete_publish_rules(&self, connection_id: &str) -> Result<(), StoreError> {
        let _gate = self.write_gate();
        self.rules_tree()?.remove(keys::id(connection_id))?;
        Ok(())
    }
}

/// v4 of the schema: positions written before publication provenance get
/// their decision from the two flags they had (`published`, and
/// `republish_on_reopen` for one the sync had closed): a person made every
/// decision then. Positions to publish get a public id. Idempotent: a
/// position that already has a decision is left alone.
pub(crate) fn migrate_publication_v4(db: &sled::Db) -> Result<(), StoreError> {
    #[derive(Deserialize)]
    struct Legacy {
        #[serde(default)]
        published: bool,
        #[serde(default)]
        republish_on_reopen: bool,
    }
    let positions = db.open_tree(keys::POSITIONS)?;
    let public = db.open_tree(PUBLIC_IDS)?;
    db.open_tree(PUBLISH_RULES)?;
    for entry in positions.iter() {
        let (key, bytes) = entry?;
        let id = keys::decode_position(&key)?;
        let mut position = stored_position::decode(keys::POSITIONS, id, &bytes)?;
        if position.publication.decision.is_some() {
            continue;
        }
        // Only a JSON record can be from before publication existed.
        let Ok(codec::Body::Json(_)) = codec::body(&bytes) else { continue };
        let legacy: Legacy = codec::decode(keys::POSITIONS, id, &bytes)?;
        if !(legacy.published || legacy.republish_on_reopen) {
            continue;
        }
        let at = position.updated_at_unix;
        position.publication.decision = Some(Decision {
            publish: true,
            by: Actor::User { credential: "operator".into(), user: None },
            reason: Some("published before publication was recorded".into()),
            at_unix: at,
        });
        position.publication.questions = vec![Question::resume()];
        let public_id = random_public_id()?;
        // The index entry first: a crash between the two writes leaves an
        // unused id, never a position whose id is not indexed.
        public.insert(public_id.as_bytes(), &keys::position(id))?;
        position.publication.public_id = Some(public_id);
        positions.insert(key, codec::encode("position", &position)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::{commit_jobs, connection, temp_store};

    fn by_rule(publish: bool, rule: &str) -> Decision {
        Decision { publish, by: Actor::Rule { rule_id: rule.into() }, reason: None, at_unix: 1 }
    }

    #[test]
    fn a_first_publish_gets_a_stable_public_id_and_the_resume_question() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        let (p1, written) = store.update_publication(p.id, |p| Ok(p.decide(by_rule(true, "r1")))).unwrap();
        assert!(written && p1.published);
        let public_id = p1.publication.public_id.clone().unwrap();
        // 128 random bits, not the position's id.
        assert!(public_id.len() >= 22 && public_id != p.id.to_string(), "{public_id}");
        assert_eq!(p1.publication.questions, vec![Question::resume()]);
        assert_eq!(store.position_by_public_id(&public_id).unwrap().unwrap().id, p.id);

        // Unpublish and publish again: same id; an unchanged decision writes nothing.
        store.set_published(p.id, false).unwrap();
        let p2 = store.set_published(p.id, true).unwrap();
        assert_eq!(p2.publication.public_id.as_deref(), Some(public_id.as_str()));
        let same = p2.publication.decision.clone().unwrap();
        let (_, written) = store.update_publication(p.id, |p| Ok(p.decide(same.clone()))).unwrap();
        assert!(!written);
        assert!(store.position_by_public_id("nope").unwrap().is_none());
        assert!(store.position_by_public_id(&"x".repeat(500)).unwrap().is_none());
    }

    #[test]
    fn a_question_added_later_keeps_the_positions_id_and_public_url() {
        let (_dir, store) = temp_store();
        let c = connection(&store, "Greenhouse");
        let p = commit_jobs(&store, &c.id, &[("J1", "Engineer")]).remove(0);
        let (first, _) = store.update_publication(p.id, |p| Ok(p.decide(by_rule(true, "r1")))).unwrap();
        let public_id = first.publication.public_id.clone().unwrap();
        let cover = Question {
            id: "cover-letter".into(),
            kind: QuestionKind::ResumeUpload,
            label: "Cover letter".into(),
            required: false,
        };
        let (later, written) = store
            .update_publication(p.id, |p| {
                p.publication.questions.push(cover.clone());
                Ok(true)
            })
            .unwrap();
        assert!(written);
        let stored = store.position(p.id).unwrap().unwrap();
        assert_eq!(stored.publication.questions, vec![Question::resume(), cover]);
        assert_eq!((later.id, stored.id), (p.id, p.id));
        assert_eq!(stored.publication.public_id.as_deref(), Some(public_id.as_str()), "the public URL stays");
        assert_eq!(store.position_by_public_id(&public_id).unwrap().unwrap().id, p.id);
        // The page at that URL asks the new question and posts to the same URL.
        let html = crate::publish::page::position_page(&stored, &public_id, 10 << 20);
        assert!(html.contains("Cover letter") && html.contains(&format!("action=\"/p/{public_id}/apply\"")), "{html}");
    }
}
