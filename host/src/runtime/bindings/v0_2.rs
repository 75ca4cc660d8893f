//! Bindings for `atsbridge:connector@0.2.0`, the newest contract: its types
//! convert one to one to [`crate::contract`]'s, and its `http` and `log`
//! types are the ones the runtime's imports take (0.1.0's values are
//! converted to them, see [`super`]).

use super::Convert;
use crate::contract as c;

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "connector",
    imports: { default: async | trappable },
    exports: { default: async },
    additional_derives: [PartialEq],
});

use self::atsbridge::connector::types as w;

record! {
    SettingSpec { key, label, kind, required, help, choices, default_value }
    ConnectorInfo { name, version, vendor, capabilities, config_schema }
    SecretRef { key }
    Setting { key, value }
    AtsUser { ats_id, name, email }
    Field { key, value }
    Job { code, status, raw_status, title, locations, description, assigned_users, updated_at, extra }
    JobPage { jobs, next_cursor }
    Stage { id, name, position, job_code }
    Attachment { file_name, content_type, content }
    Answer { question, answer }
    Candidate { first_name, last_name, email, phone, resume, resume_url, source, links, answers }
    PushRequest { job_code, candidate, stage_id, idempotency_key }
    CandidateRef { candidate_id, application_id }
    Pushed { ref_, existing }
    CandidateStatus { ref_, state, stage_id, stage_name, updated_at }
    MoveRequest { ref_, stage_id, job_code }
    RateLimit { retry_after_ms, message }
}

variant! {
    Capability { Stages, CandidatePush, CandidateStatus, Webhooks, MoveApplication, ApplicationAnswers ; }
    SettingKind { Text, Secret, Url, Choice ; }
    SettingValue { ; Text, Secret }
    JobStatus { Open, Closed, Draft, OnHold ; Other }
    ApplicationState { Active, Rejected, Hired, Withdrawn ; Other }
    ConnectorError { ; InvalidConfig, Unauthorized, RateLimited, NotFound, Transient, Permanent, Unsupported }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_move_request_and_a_push_round_trip() {
        let m = c::MoveRequest {
            ref_: c::CandidateRef { candidate_id: "c1".into(), application_id: "a1".into() },
            stage_id: "s2".into(),
            job_code: "J1".into(),
        };
        let wit: w::MoveRequest = m.clone().convert();
        assert_eq!(wit.stage_id, "s2");
        let back: c::MoveRequest = wit.convert();
        assert_eq!(back, m);

        let info = c::ConnectorInfo {
            name: "n".into(),
            version: "1.0.0".into(),
            vendor: "v".into(),
            capabilities: vec![c::Capability::MoveApplication, c::Capability::ApplicationAnswers],
            config_schema: vec![],
        };
        let wit: w::ConnectorInfo = info.clone().convert();
        assert_eq!(Convert::<c::ConnectorInfo>::convert(wit), info);
    }
}
