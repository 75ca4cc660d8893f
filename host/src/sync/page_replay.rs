//! Replay of unchanged pages: the engine's half.
//!
//! On a full listing of a connection whose plugin declares
//! `[listing] replay-unchanged-pages`, each page is first looked up by its
//! page key (the plugin install, the connection's settings less secret
//! values, the call's arguments). With a record, the
//! host sends the recorded requests itself through the plugin's `http`
//! path (`Plugin::replay_exchanges`: every check a guest's request gets)
//! and, when every answer digests the same, the page is applied from the
//! record as a page of unchanged jobs (`Store::commit_replayed_page`, which
//! also requires every job's stored fingerprint to equal the recorded
//! one). Anything else (no record, a different answer, a failed request, a
//! job whose fingerprint moved) runs the plugin as always, recording the
//! call again. Replay never changes what a sync produces: a replayed page
//! is one the plugin would have answered identically, applied as the
//! engine applies an unchanged page.
//!
//! Not replayed: incremental listings (their `changed_since` moves every
//! run, so a record would never be used again), and runs whose I/O is being
//! recorded for `crate::recording` (it needs the plugin's own answers).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::runtime::{ConnectionContext, Plugin, ReplayExchange, SettingInput};
use crate::store::{PAGE_KEY_LEN, PageReplay, ReplayedJob, Store};

/// A page key.
pub(super) type PageKey = [u8; PAGE_KEY_LEN];

/// A page applied from its record, once its exchanges replayed unchanged.
pub(super) struct Replayed {
    pub record: PageReplay,
}

/// A page the plugin answered, with what to store for its replay.
pub(super) struct PendingRecord {
    pub key: PageKey,
    /// The call's exchanges when it was replayable; `None` removes an old
    /// record under the key.
    pub exchanges: Option<Vec<ReplayExchange>>,
}

/// The fixed part of a connection's page keys: the plugin install and the
/// settings in order (a secret by its name only: its value is attached
/// when a request is sent, and an unsalted hash of it in the store would be
/// a way to test guesses). The hosts granted to the connection are not part
/// of it: they decide whether a request may be sent, which the replay
/// checks again on every request, not what an answer holds.
fn key_base(plugin_id: &str, install_name: &str, settings: &[(String, SettingInput)]) -> Sha256 {
    let mut base = Sha256::new();
    let mut put = |bytes: &[u8]| {
        base.update((bytes.len() as u64).to_be_bytes());
        base.update(bytes);
    };
    put(b"atsbridge page replay v1");
    put(plugin_id.as_bytes());
    put(install_name.as_bytes());
    for (key, value) in settings {
        put(key.as_bytes());
        match value {
            SettingInput::Text(text) => {
                put(b"text");
                put(text.as_bytes());
            }
            SettingInput::Secret(_) => put(b"secret"),
        }
    }
    base
}

/// The key of the page at `cursor` under `base`.
fn page_key(base: &Sha256, cursor: Option<&str>) -> PageKey {
    let mut h = base.clone();
    match cursor {
        Some(c) => {
            h.update([1]);
            h.update((c.len() as u64).to_be_bytes());
            h.update(c.as_bytes());
        }
        None => h.update([0]),
    }
    h.finalize().into()
}

/// One run's replay: the key's fixed part and the pages it used.
pub(super) struct Replayer {
    store: Store,
    connection_id: String,
    base: Sha256,
    /// Keys this run looked up or recorded (kept by the prune at the end).
    used: Mutex<BTreeSet<PageKey>>,
}

impl Replayer {
    /// The run's replayer, when the plugin opted in, the listing is full
    /// (no `changed_since`) and the run is not being recorded.
    pub fn for_run(
        store: &Store,
        plugin: &Plugin,
        ctx: &ConnectionContext,
        changed_since: Option<&str>,
    ) -> Option<Arc<Self>> {
        if !plugin.replays_unchanged_pages() || changed_since.is_some() || ctx.recording.is_some() {
            return None;
        }
        let base = key_base(plugin.id(), plugin.install_name(), &ctx.settings);
        Some(Arc::new(Replayer { store: store.clone(), connection_id: ctx.id.clone(), base, used: Mutex::default() }))
    }

    /// The key of the page at `cursor`.
    pub fn key(&self, cursor: Option<&str>) -> PageKey {
        let key = page_key(&self.base, cursor);
        self.used.lock().unwrap_or_else(|e| e.into_inner()).insert(key);
        key
    }

    /// The page at `key` from its record, if its exchanges replay unchanged.
    pub async fn try_replay(&self, plugin: &Plugin, ctx: &ConnectionContext, key: PageKey) -> Option<Replayed> {
        let (store, id) = (self.store.clone(), self.connection_id.clone());
        let record = match tokio::task::spawn_blocking(move || store.page_replay(&id, &key)).await {
            Ok(Ok(Some(record))) => record,
            Ok(Ok(None)) => return None,
            Ok(Err(e)) => {
                tracing::warn!(connection = %self.connection_id, error = %e, "cannot read a page replay record");
                return None;
            }
            Err(_) => return None,
        };
        let exchanges: Vec<ReplayExchange> = serde_json::from_slice(&record.exchanges).ok()?;
        match plugin.replay_exchanges(ctx, &exchanges).await {
            Ok(()) => Some(Replayed { record }),
            Err(miss) => {
                tracing::debug!(connection = %self.connection_id, %miss, "page replay missed; running the plugin");
                None
            }
        }
    }

    /// Stores (or, for a call that was not replayable, removes) the record
    /// of a page the plugin answered and the store committed.
    pub fn save(&self, store: &Store, pending: PendingRecord, jobs: Vec<ReplayedJob>, next_cursor: Option<String>) {
        let saved = match pending.exchanges {
            Some(exchanges) => {
                let record =
                    PageReplay { exchanges: serde_json::to_vec(&exchanges).unwrap_or_default(), next_cursor, jobs };
                store.put_page_replay(&self.connection_id, &pending.key, &record).map(|_| ())
            }
            None => store.remove_page_replay(&self.connection_id, &pending.key),
        };
        if let Err(e) = saved {
            tracing::warn!(connection = %self.connection_id, error = %e, "cannot store a page replay record");
        }
    }

    /// After a complete listing: drops the connection's records this run
    /// did not use (pages that are gone, cursors that changed).
    pub fn prune(&self, store: &Store) {
        let kept: Vec<PageKey> = self.used.lock().unwrap_or_else(|e| e.into_inner()).iter().copied().collect();
        match store.prune_page_replays(&self.connection_id, &kept) {
            Ok(0) => {}
            Ok(n) => tracing::debug!(connection = %self.connection_id, removed = n, "pruned page replay records"),
            Err(e) => tracing::warn!(connection = %self.connection_id, error = %e, "cannot prune page replay records"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn key(install: &str, settings: &[(&str, Option<&str>, Option<&str>)], cursor: Option<&str>) -> PageKey {
        let settings: Vec<(String, SettingInput)> = settings
            .iter()
            .map(|(k, text, secret)| {
                let value = match (text, secret) {
                    (Some(t), _) => SettingInput::Text(t.to_string()),
                    (None, s) => SettingInput::Secret(SecretString::from(s.unwrap_or_default().to_string())),
                };
                (k.to_string(), value)
            })
            .collect();
        page_key(&key_base("greenhouse", install, &settings), cursor)
    }

    #[test]
    fn a_plugin_upgrade_a_setting_or_a_cursor_changes_the_key_and_a_secret_value_does_not() {
        let base =
            key("0.2.0-abc", &[("base-url", Some("https://a"), None), ("client-secret", None, Some("s1"))], None);
        let same =
            key("0.2.0-abc", &[("base-url", Some("https://a"), None), ("client-secret", None, Some("s1"))], None);
        assert_eq!(base, same);
        let rotated =
            key("0.2.0-abc", &[("base-url", Some("https://a"), None), ("client-secret", None, Some("s2"))], None);
        assert_eq!(base, rotated, "secret values are not part of the key");
        for other in [
            key("0.2.1-def", &[("base-url", Some("https://a"), None), ("client-secret", None, Some("s1"))], None),
            key("0.2.0-abc", &[("base-url", Some("https://b"), None), ("client-secret", None, Some("s1"))], None),
            key("0.2.0-abc", &[("base-url", Some("https://a"), None), ("client-secret", Some("s1"), None)], None),
            key("0.2.0-abc", &[("base-url", Some("https://a"), None), ("client-secret", None, Some("s1"))], Some("")),
        ] {
            assert_ne!(base, other);
        }
    }
}
