//! The [`Connector`] trait and the [`export_connector!`](crate::export_connector) macro.

use crate::config::Config;
use crate::types::{
    CandidateRef, CandidateStatus, ConnectorError, ConnectorInfo, JobPage, MoveRequest, PushRequest, Pushed, Stage,
};

/// What a connector plugin implements: one ATS, seen through the
/// `atsbridge:connector` contract.
///
/// Every function is an associated function (no `self`): the host runs each
/// call in a fresh instance of the component, so a connector keeps no state
/// between calls. Every call but [`Connector::info`] receives the
/// connection's settings, already validated by the host against
/// [`ConnectorInfo::config_schema`].
///
/// The optional calls default to [`ConnectorError::Unsupported`]; implement
/// the ones whose [`Capability`](crate::types::Capability) you list in
/// [`Connector::info`].
///
/// Export the implementation with [`export_connector!`](crate::export_connector).
pub trait Connector {
    /// Name, version, capabilities and configuration schema. Must not do I/O:
    /// the host calls it when installing the plugin, before any connection
    /// exists.
    fn info() -> ConnectorInfo;

    /// Tests the connection's settings against the ATS, typically with one
    /// cheap authenticated request.
    fn check(config: &Config) -> Result<(), ConnectorError>;

    /// One page of jobs. `cursor` is `None` for the first page and otherwise
    /// the [`JobPage::next_cursor`] this connector returned before (see
    /// [`crate::paging`]). `changed_since` (RFC 3339) asks for jobs changed at
    /// or after that instant; ignore it when the ATS cannot filter.
    fn list_jobs(
        config: &Config,
        cursor: Option<String>,
        changed_since: Option<String>,
    ) -> Result<JobPage, ConnectorError>;

    /// Hiring stages: for one job when `job_code` is given and the ATS has
    /// per-job pipelines, otherwise the account's. Positions start at 0.
    fn list_stages(config: &Config, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
        let _ = (config, job_code);
        Err(unsupported("list-stages"))
    }

    /// Creates the candidate and an application on `request.job_code`.
    /// Retries carry the same `request.idempotency_key`: never create a
    /// second candidate for a key the ATS has already seen.
    fn push_candidate(config: &Config, request: PushRequest) -> Result<Pushed, ConnectorError> {
        let _ = (config, request);
        Err(unsupported("push-candidate"))
    }

    /// The ATS's current stage and state of previously pushed candidates.
    fn candidate_statuses(config: &Config, refs: Vec<CandidateRef>) -> Result<Vec<CandidateStatus>, ConnectorError> {
        let _ = (config, refs);
        Err(unsupported("candidate-statuses"))
    }

    /// Moves a pushed application to the ATS stage `request.stage_id` (of
    /// job `request.job_code` where stages are per job). Moving to the stage
    /// it is already in succeeds. Declare
    /// [`Capability::MoveApplication`](crate::types::Capability::MoveApplication)
    /// when you implement it.
    fn move_application(config: &Config, request: MoveRequest) -> Result<(), ConnectorError> {
        let _ = (config, request);
        Err(unsupported("move-application"))
    }
}

fn unsupported(call: &str) -> ConnectorError {
    ConnectorError::Unsupported(format!("this connector does not implement `{call}`"))
}

/// Exports a [`Connector`] implementation as the component's
/// `atsbridge:connector/plugin` interface.
///
/// Invoke it once, at the top level of the connector's crate (a `cdylib`):
///
/// ```no_run
/// use atsbridge_sdk::prelude::*;
///
/// struct Minimal;
///
/// impl Connector for Minimal {
///     fn info() -> ConnectorInfo {
///         ConnectorInfo {
///             name: "Minimal".into(),
///             version: "0.1.0".into(),
///             vendor: "Example".into(),
///             capabilities: vec![],
///             config_schema: vec![],
///         }
///     }
///     fn check(_: &Config) -> Result<(), ConnectorError> {
///         Ok(())
///     }
///     fn list_jobs(_: &Config, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
///         Ok(JobPage { jobs: vec![], next_cursor: None })
///     }
/// }
///
/// atsbridge_sdk::export_connector!(Minimal);
/// ```
///
/// The macro defines a private adapter type that implements the generated
/// `Guest` trait by wrapping each call's settings in a [`Config`] and
/// delegating to your type, then emits the component's exports and its WIT
/// type information. A native build of the crate (`cargo build` over a
/// workspace, or its unit tests) exports nothing, so it links like any
/// other library. Everything it defines lives in an anonymous `const`
/// block, so it adds no names to your crate.
#[macro_export]
// rustfmt does not format this body stably (the nested export! call moves
// on every run), so it keeps the hand layout.
#[rustfmt::skip]
macro_rules! export_connector {
    ($connector:ty) => {
        const _: () = {
            use $crate::__private::{Option, Result, String, Vec};
            use $crate::types::{
                CandidateRef, CandidateStatus, ConnectorError, ConnectorInfo, JobPage, MoveRequest, PushRequest, Pushed,
                Setting, Stage,
            };

            struct __AtsbridgeConnectorExport;

            impl $crate::bindings::exports::atsbridge::connector::plugin::Guest for __AtsbridgeConnectorExport {
                fn info() -> ConnectorInfo {
                    $crate::__private::answered(<$connector as $crate::Connector>::info())
                }

                fn check(config: Vec<Setting>) -> Result<(), ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::check(&$crate::Config::from(config)))
                }

                fn list_jobs(
                    config: Vec<Setting>,
                    cursor: Option<String>,
                    changed_since: Option<String>,
                ) -> Result<JobPage, ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::list_jobs(
                        &$crate::Config::from(config),
                        cursor,
                        changed_since,
                    ))
                }

                fn list_stages(config: Vec<Setting>, job_code: Option<String>) -> Result<Vec<Stage>, ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::list_stages(
                        &$crate::Config::from(config),
                        job_code,
                    ))
                }

                fn push_candidate(config: Vec<Setting>, request: PushRequest) -> Result<Pushed, ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::push_candidate(
                        &$crate::Config::from(config),
                        request,
                    ))
                }

                fn candidate_statuses(
                    config: Vec<Setting>,
                    refs: Vec<CandidateRef>,
                ) -> Result<Vec<CandidateStatus>, ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::candidate_statuses(
                        &$crate::Config::from(config),
                        refs,
                    ))
                }

                fn move_application(config: Vec<Setting>, request: MoveRequest) -> Result<(), ConnectorError> {
                    $crate::__private::answered(<$connector as $crate::Connector>::move_application(
                        &$crate::Config::from(config),
                        request,
                    ))
                }
            }

            // Only a component exports these names. A native build of the
            // `cdylib` (`cargo build` over a workspace) would list them in
            // the linker's version script, whose parser refuses the `:` in
            // names such as `atsbridge:connector/plugin@0.2.0#info`.
            #[cfg(target_arch = "wasm32")]
            $crate::bindings::export!(__AtsbridgeConnectorExport with_types_in $crate::bindings);
            // Natively, an anonymous constant names every export instead:
            // the dead-code lint follows what a `const _` names, so the
            // connector's code still counts as used, and naming the
            // functions restates none of the contract's signatures.
            #[cfg(not(target_arch = "wasm32"))]
            const _: () = {
                use $crate::bindings::exports::atsbridge::connector::plugin::Guest;
                let _ = <__AtsbridgeConnectorExport as Guest>::info;
                let _ = <__AtsbridgeConnectorExport as Guest>::check;
                let _ = <__AtsbridgeConnectorExport as Guest>::list_jobs;
                let _ = <__AtsbridgeConnectorExport as Guest>::list_stages;
                let _ = <__AtsbridgeConnectorExport as Guest>::push_candidate;
                let _ = <__AtsbridgeConnectorExport as Guest>::candidate_statuses;
                let _ = <__AtsbridgeConnectorExport as Guest>::move_application;
            };
        };
    };
}
