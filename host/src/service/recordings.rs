//! Recording a connection's sync runs ([`crate::recording`]): asking for the
//! next run to be recorded, and reading a run's recording.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Caller, Service, ServiceError};
use crate::recording::{RecordingDir, RecordingError};

/// The next run of a connection will be recorded.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RecordingArmed {
    pub connection: String,
    /// Always true: the next run, whatever starts it, is recorded.
    pub armed: bool,
}

fn recording_error(e: RecordingError) -> ServiceError {
    match e {
        RecordingError::BadName(name) => ServiceError::Invalid(format!("`{name}` cannot name a recording")),
        other => ServiceError::internal(other),
    }
}

impl Service {
    fn recording_dir(&self) -> Result<&RecordingDir, ServiceError> {
        self.app
            .engine
            .recordings()
            .dir()
            .ok_or_else(|| ServiceError::Conflict("this host keeps no recordings (no data directory)".into()))
    }

    /// Asks for the next run of `id` (scheduled or on request) to be
    /// recorded; `GET .../runs/{run}/recording` then has it.
    pub fn arm_recording(&self, caller: &Caller, id: &str) -> Result<RecordingArmed, ServiceError> {
        let c = self.visible_connection(caller, id)?;
        self.recording_dir()?.arm(&c.id).map_err(recording_error)?;
        tracing::info!(connection = %c.id, "the next run will be recorded");
        Ok(RecordingArmed { connection: c.id, armed: true })
    }

    /// The recording of run `seq` of `id`, as written (JSON lines).
    pub fn recording(&self, caller: &Caller, id: &str, seq: u64) -> Result<Vec<u8>, ServiceError> {
        let c = self.visible_connection(caller, id)?;
        self.recording_dir()?
            .read(&c.id, seq)
            .map_err(recording_error)?
            .ok_or_else(|| ServiceError::NotFound { what: "recording of run", id: format!("{id}/{seq}") })
    }
}
