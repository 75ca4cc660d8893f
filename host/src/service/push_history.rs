//! A candidate's push history through the API: each push that ended
//! (pushed, or failed for good), with what its attempts cost.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::metering_dto::RunMeteringDto;
use super::{Caller, Service, ServiceError};
use crate::store::PushRecord;

/// One push of a candidate that ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushRecordDto {
    /// The outbox entry that carried it.
    pub entry: u64,
    /// `pushed` or `failed`.
    pub outcome: String,
    /// When it ended, Unix seconds.
    pub at_unix: i64,
    /// Attempts made, the last included.
    pub attempts: u32,
    /// What its attempts cost, summed (`retries`: the attempts before the
    /// last; `store_bytes_written`: its entry's retries, its event and the
    /// candidate record). Absent when no attempt called the plugin, and on
    /// pushes recorded before pushes were metered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metering: Option<RunMeteringDto>,
    /// The questions whose answers were not sent to the ATS, because the
    /// connector does not declare `application-answers`. Empty when every
    /// answer went with the push (or there were none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub answers_not_sent: Vec<String>,
}

impl From<PushRecord> for PushRecordDto {
    fn from(r: PushRecord) -> Self {
        PushRecordDto {
            entry: r.entry_id,
            outcome: r.outcome,
            at_unix: r.at_unix,
            attempts: r.attempts,
            metering: r.metering.map(RunMeteringDto::of_push),
            answers_not_sent: r.answers_not_sent,
        }
    }
}

impl Service {
    /// A candidate's pushes that ended, oldest first (at most
    /// [`MAX_PUSH_RECORDS`](crate::store::MAX_PUSH_RECORDS), the newest).
    pub fn candidate_pushes(&self, caller: &Caller, id: u64) -> Result<Vec<PushRecordDto>, ServiceError> {
        let candidate = self.visible_candidate(caller, id)?;
        Ok(candidate.pushes.into_iter().map(PushRecordDto::from).collect())
    }
}
