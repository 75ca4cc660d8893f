//! A connector for a contract version the host does not support.
//!
//! `wit/` is a copy of `wit/v0.1.0` whose package is
//! `atsbridge:connector@0.9.0`; the interfaces are otherwise identical. The
//! host must refuse the component with a clear "unsupported contract
//! version" error, not a linker error at instantiation. It deliberately does
//! not use the SDK, which is pinned to 0.1.0.

wit_bindgen::generate!({ path: "wit", world: "connector" });

use atsbridge::connector::types::{
    CandidateRef, CandidateStatus, ConnectorError, ConnectorInfo, JobPage, PushRequest, Pushed, Setting, Stage,
};
use exports::atsbridge::connector::plugin::Guest;

struct WrongVersion;

fn unsupported() -> ConnectorError {
    ConnectorError::Unsupported("wrong-version implements nothing".to_string())
}

impl Guest for WrongVersion {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Wrong Version".to_string(),
            version: "0.9.0".to_string(),
            vendor: "atsbridge tests".to_string(),
            capabilities: vec![],
            config_schema: vec![],
        }
    }

    fn check(_: Vec<Setting>) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn list_jobs(_: Vec<Setting>, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        Ok(JobPage { jobs: vec![], next_cursor: None })
    }

    fn list_stages(_: Vec<Setting>, _: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        Err(unsupported())
    }

    fn push_candidate(_: Vec<Setting>, _: PushRequest) -> Result<Pushed, ConnectorError> {
        Err(unsupported())
    }

    fn candidate_statuses(_: Vec<Setting>, _: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        Err(unsupported())
    }
}

export!(WrongVersion);
