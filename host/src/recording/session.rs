//! Recording a sync run: armed beforehand ([`RecordingDir::arm`]), started
//! when the run starts, attached to every connection context built for the
//! connection while it runs, written when it ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::format::{FORMAT_NAME, FORMAT_VERSION, Header, RecordedSetting};
use super::{Recorder, RecordingDir, RecordingIo};
use crate::contract::SettingValue;
use crate::runtime::ConnectionContext;
use crate::store::Store;

/// The recordings of the runs going on. Cheap to clone; clones share.
#[derive(Clone, Default)]
pub struct RunRecordings {
    dir: Option<RecordingDir>,
    active: Arc<Mutex<HashMap<String, Active>>>,
}

struct Active {
    /// Built with the connection's secrets on the first context.
    recorder: Option<Recorder>,
    settings: Vec<RecordedSetting>,
}

impl std::fmt::Debug for RunRecordings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunRecordings").field("dir", &self.dir).finish()
    }
}

/// A run being recorded; [`ActiveRecording::finish`] writes it. Dropped
/// without finishing (the run was cancelled), nothing is written.
pub struct ActiveRecording {
    recordings: RunRecordings,
    connection: String,
    /// The connection's last run before this one started.
    last_run_before: u64,
    started_unix: i64,
}

impl RunRecordings {
    /// Recordings kept in `dir`; without one nothing is ever recorded.
    pub fn new(dir: Option<RecordingDir>) -> Self {
        RunRecordings { dir, active: Arc::default() }
    }

    pub fn dir(&self) -> Option<&RecordingDir> {
        self.dir.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Active>> {
        self.active.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording the run of `connection` about to start, if it was
    /// armed.
    pub fn begin(&self, store: &Store, connection: &str) -> Option<ActiveRecording> {
        let dir = self.dir.as_ref()?;
        if !dir.take_armed(connection) {
            return None;
        }
        let last_run_before = store.state(connection).map(|s| s.last_run_seq).unwrap_or(0);
        self.lock().insert(connection.to_string(), Active { recorder: None, settings: Vec::new() });
        tracing::info!(connection, "recording this run");
        Some(ActiveRecording {
            recordings: self.clone(),
            connection: connection.to_string(),
            last_run_before,
            started_unix: crate::store::now_unix(),
        })
    }

    /// Gives `ctx` the recorder of its connection's run, if that run is
    /// being recorded.
    pub fn attach(&self, ctx: &mut ConnectionContext) {
        let mut active = self.lock();
        let Some(a) = active.get_mut(&ctx.id) else { return };
        let recorder = a.recorder.get_or_insert_with(|| {
            a.settings = ctx
                .guest_config()
                .into_iter()
                .map(|s| match s.value {
                    SettingValue::Text(value) => RecordedSetting::Text { key: s.key, value },
                    SettingValue::Secret(_) => RecordedSetting::Secret { key: s.key },
                })
                .collect();
            Recorder::new(ctx.secrets().values())
        });
        ctx.recording = Some(RecordingIo::Record(recorder.clone()));
    }
}

impl ActiveRecording {
    /// Writes the recording of the run that just ended with `outcome`
    /// (none when the run never started). Callers following the run read
    /// it as running until then ([`crate::sync::InFlight`]).
    pub async fn finish(self, store: &Store, outcome: String) {
        let taken = self
            .recordings
            .lock()
            .get_mut(&self.connection)
            .map(|a| (a.recorder.take(), std::mem::take(&mut a.settings)));
        let Some((recorder, settings)) = taken else { return };
        let Some(dir) = self.recordings.dir.clone() else { return };
        let run = match store.state(&self.connection) {
            Ok(s) if s.last_run_seq > self.last_run_before => {
                store.run(&self.connection, s.last_run_seq).ok().flatten()
            }
            _ => None,
        };
        let Some(run) = run else {
            tracing::info!(connection = %self.connection, "the recorded run never started; nothing written");
            return;
        };
        let Some(recorder) = recorder else { return };
        let header = Header {
            format: FORMAT_NAME.to_string(),
            version: FORMAT_VERSION,
            connection: self.connection.clone(),
            run: Some(run.seq),
            plugin: run.plugin_id.clone(),
            plugin_version: run.plugin_version.clone(),
            started_unix: self.started_unix,
            settings,
        };
        let connection = self.connection.clone();
        let written = tokio::task::spawn_blocking(move || {
            let bytes = recorder.finish(&header, outcome);
            dir.write(&connection, run.seq, &bytes)
        })
        .await;
        match written {
            Ok(Ok(path)) => tracing::info!(connection = %self.connection, path = %path.display(), "run recorded"),
            Ok(Err(e)) => {
                tracing::warn!(connection = %self.connection, error = %e, "the run's recording was not written")
            }
            Err(e) => tracing::warn!(connection = %self.connection, error = %e, "the recording task failed"),
        }
    }
}

impl Drop for ActiveRecording {
    fn drop(&mut self) {
        self.recordings.lock().remove(&self.connection);
    }
}
