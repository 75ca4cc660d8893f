//! Mock ATS servers: Greenhouse, Lever, Workable, Ashby, SmartRecruiters and
//! BambooHR over real HTTP.
//!
//! Each mock binds `127.0.0.1` on a free port and answers the vendor's REST
//! API the way the vendor documents it (see `/work/shared/ats-apis.md` and this
//! crate's README): auth and its error bodies, pagination and page-size
//! limits, incremental filters, rate limiting, candidate creation and
//! reconciliation reads. Data is seeded and deterministic; tests can mutate
//! it, inject faults, and read back exactly what a connector sent.
//!
//! ```no_run
//! use atsbridge_mock_ats::{Fault, MockAts, MockConfig, Vendor};
//! # async fn demo() -> Result<(), atsbridge_mock_ats::MockError> {
//! let ats = MockAts::start(Vendor::Lever, MockConfig { jobs: 250, seed: 7, ..Default::default() }).await?;
//! let key = ats.credentials().api_key;          // Basic `key:` for Lever
//! let url = format!("{}/postings", ats.api_base_url());
//! ats.inject(Fault::Status(503));               // the next API call fails once
//! # let _ = (key, url);
//! ats.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! Module map: `data` seeds jobs; `greenhouse`, `lever`, `workable`,
//! `ashby`, `smartrecruiters`, `bamboohr` are the vendor APIs; `server` runs the accept loop and the shared
//! pipeline (request log → faults → rate limit → handler); `envelope` holds
//! each vendor's error body and rate-limit headers.

#![warn(missing_docs)]
// Handlers return `Result<Response, Response>`, axum's idiom for early
// exits with a vendor error body; boxing the error would only add noise.
#![allow(clippy::result_large_err, reason = "axum handlers return Response errors")]

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

mod ashby;
mod bamboohr;
mod cli;
mod config;
mod data;
mod envelope;
mod faults;
mod greenhouse;
mod http;
mod lever;
mod people;
mod ratelimit;
mod recorder;
mod server;
mod smartrecruiters;
mod state;
mod time_fmt;
mod workable;

pub use cli::{MockAtsArgs, describe, run_cli, run_cli_blocking};
pub use config::{Credentials, MockConfig, PageSizePolicy, Vendor};
pub use data::{Department, EmploymentType, Job, JobStatus, Office, User, Workplace};
pub use faults::{Fault, FaultRule};
pub use people::{Application, ApplicationStatus, Stage};
pub use ratelimit::{ParseRateLimitError, RateLimit};
pub use recorder::{PushedCandidate, PushedFile, RecordedRequest};

use people::ApplicationStatus as Status;
use state::{Shared, lock};

/// Errors of the mock's own API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MockError {
    /// The listener could not bind.
    #[error("could not bind 127.0.0.1:{port}: {source}")]
    Bind {
        /// Requested port.
        port: u16,
        /// OS error.
        source: std::io::Error,
    },
    /// No job with this id.
    #[error("no job with id {0:?}")]
    UnknownJob(String),
    /// No application with this id.
    #[error("no application with id {0:?}")]
    UnknownApplication(String),
    /// The stage is not in the application's job pipeline.
    #[error("stage {stage:?} is not a stage of job {job:?}")]
    UnknownStage {
        /// Requested stage.
        stage: String,
        /// The application's job.
        job: String,
    },
}

/// A running mock ATS. Dropping it stops the server; [`MockAts::shutdown`]
/// also waits for the accept loop to end.
pub struct MockAts {
    shared: Arc<Shared>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl MockAts {
    /// Seeds data and starts serving `vendor`'s API on 127.0.0.1.
    pub async fn start(vendor: Vendor, config: MockConfig) -> Result<MockAts, MockError> {
        let port = config.port;
        let bind = |source| MockError::Bind { port, source };
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await.map_err(bind)?;
        let addr = listener.local_addr().map_err(bind)?;
        let shared = Arc::new(Shared::new(vendor, config, format!("http://{addr}")));
        let routes = match vendor {
            Vendor::Greenhouse => greenhouse::routes(),
            Vendor::Lever => lever::routes(),
            Vendor::Workable => workable::routes(),
            Vendor::Ashby => ashby::routes(),
            Vendor::SmartRecruiters => smartrecruiters::routes(),
            Vendor::BambooHr => bamboohr::routes(),
        };
        let app = server::app(shared.clone(), routes);
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, app, stop_rx));
        Ok(MockAts { shared, addr, stop, task: Some(task) })
    }

    /// The vendor imitated.
    pub fn vendor(&self) -> Vendor {
        self.shared.vendor
    }

    /// `http://127.0.0.1:PORT`, without the vendor prefix.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// Base URL plus [`Vendor::api_prefix`]: what a connector's "API base" setting takes.
    pub fn api_base_url(&self) -> String {
        format!("{}{}", self.shared.base_url, self.shared.vendor.api_prefix())
    }

    /// The Greenhouse OAuth token URL (`{base}/auth/token`); `None` for other vendors.
    pub fn token_url(&self) -> Option<String> {
        (self.vendor() == Vendor::Greenhouse).then(|| format!("{}{}", self.shared.base_url, server::TOKEN_PATH))
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The credentials the mock accepts now.
    pub fn credentials(&self) -> Credentials {
        let client_secret = self.shared.store().client_secret.clone();
        Credentials { client_secret, ..self.shared.credentials.clone() }
    }

    /// Greenhouse: replaces the OAuth client secret, as an admin rotating
    /// the Harvest credential does. The old secret is refused from now on,
    /// and the access tokens issued with it are revoked.
    pub fn rotate_client_secret(&self, secret: &str) {
        let mut store = self.shared.store();
        store.client_secret = Some(secret.to_string());
        store.tokens.clear();
    }

    /// The configuration it was started with.
    pub fn config(&self) -> &MockConfig {
        &self.shared.config
    }

    /// All current jobs in listing order.
    pub fn jobs(&self) -> Vec<Job> {
        self.shared.store().data.jobs.clone()
    }

    /// One job by its vendor id.
    pub fn job(&self, id: &str) -> Option<Job> {
        self.shared.store().data.job(id).cloned()
    }

    /// The HTML description the API serves for a job.
    pub fn job_description(&self, id: &str) -> Option<String> {
        let store = self.shared.store();
        store.data.job(id).map(|job| store.data.description_html(job))
    }

    /// Changes a job; bumps `updated_at` (wall clock) and the sync version.
    pub fn update_job(&self, id: &str, change: impl FnOnce(&mut Job)) -> Result<Job, MockError> {
        self.shared.store().data.update(id, change).ok_or_else(|| MockError::UnknownJob(id.to_string()))
    }

    /// Puts a job copied earlier (from [`MockAts::job`]) back verbatim,
    /// its `updated_at` included, whether it was changed or removed since:
    /// the ATS then answers about it exactly as it did when copied (an edit
    /// or a deletion undone without a trace in the listing).
    pub fn restore_job(&self, job: Job) -> Job {
        self.shared.store().data.restore(job)
    }

    /// Closes a job (status `Closed`, `closed_at` now).
    pub fn close_job(&self, id: &str) -> Result<Job, MockError> {
        let now = time_fmt::now_ms();
        self.update_job(id, |job| {
            job.status = JobStatus::Closed;
            job.closed_at = Some(now);
        })
    }

    /// Deletes a job: it disappears from listings.
    pub fn remove_job(&self, id: &str) -> Result<Job, MockError> {
        self.shared.store().data.remove(id).ok_or_else(|| MockError::UnknownJob(id.to_string()))
    }

    /// Adds `n` open jobs created now; they sort after all existing jobs.
    pub fn add_jobs(&self, n: usize) -> Vec<Job> {
        self.shared.store().data.add(n)
    }

    /// Users (hiring managers, recruiters); [`Job::hiring_manager`] indexes this.
    pub fn users(&self) -> Vec<User> {
        self.shared.store().data.users.clone()
    }

    /// Offices; [`Job::office`] indexes this.
    pub fn offices(&self) -> Vec<Office> {
        self.shared.store().data.offices.clone()
    }

    /// Departments; [`Job::department`] indexes this.
    pub fn departments(&self) -> Vec<Department> {
        self.shared.store().data.departments.clone()
    }

    /// The pipeline of a job, first stage first (Workable: slugs).
    pub fn stages(&self, job_id: &str) -> Result<Vec<Stage>, MockError> {
        let store = self.shared.store();
        let job = store.data.job(job_id).ok_or_else(|| MockError::UnknownJob(job_id.to_string()))?;
        Ok(self.vendor_stages(&store.data, job))
    }

    fn vendor_stages(&self, data: &data::Dataset, job: &Job) -> Vec<Stage> {
        match self.vendor() {
            Vendor::Greenhouse => greenhouse::job_stages(job),
            Vendor::Lever => lever::stages(data.seed()),
            Vendor::Workable => workable::stages(),
            Vendor::Ashby => ashby::job_stages(data.seed(), job),
            Vendor::SmartRecruiters => smartrecruiters::job_stages(job),
            Vendor::BambooHr => bamboohr::stages(),
        }
    }

    /// Every candidate / application created through the API, in order.
    pub fn pushed_candidates(&self) -> Vec<PushedCandidate> {
        self.shared.store().pushed.clone()
    }

    /// All applications (including those created through the API).
    pub fn applications(&self) -> Vec<Application> {
        self.shared.store().people.apps.iter().map(|a| a.snapshot()).collect()
    }

    /// Moves an application to another stage of its job (as a recruiter would in the UI).
    pub fn set_application_stage(&self, app_id: &str, stage_id: &str) -> Result<Application, MockError> {
        let mut store = self.shared.store();
        let job_id =
            store.people.app(app_id).ok_or_else(|| MockError::UnknownApplication(app_id.into()))?.job_id.clone();
        let job = store.data.job(&job_id).ok_or_else(|| MockError::UnknownJob(job_id.clone()))?;
        if !self.vendor_stages(&store.data, job).iter().any(|s| s.id == stage_id) {
            return Err(MockError::UnknownStage { stage: stage_id.into(), job: job_id });
        }
        let now = store.data.stamp();
        let app = store.people.app_mut(app_id).expect("checked above");
        app.stage_id = stage_id.to_string();
        app.history.push((stage_id.to_string(), now));
        app.updated_at = now;
        Ok(app.snapshot())
    }

    /// Rejects an application (Greenhouse `rejected`, Lever archived with a
    /// non-hired reason, Workable disqualified, Ashby `Archived`,
    /// SmartRecruiters `REJECTED`, BambooHR status "Not a Fit").
    pub fn reject(&self, app_id: &str) -> Result<Application, MockError> {
        self.finish_application(app_id, Status::Rejected)
    }

    /// Hires an application (Greenhouse `hired`, Lever archived as "Hired",
    /// Workable stage `hired`, Ashby `Hired`, SmartRecruiters `HIRED`,
    /// BambooHR status "Hired").
    pub fn hire(&self, app_id: &str) -> Result<Application, MockError> {
        self.finish_application(app_id, Status::Hired)
    }

    /// The name of the stage a vendor models an outcome as, if it does.
    fn outcome_stage_name(&self, status: Status) -> Option<&'static str> {
        match (self.vendor(), status) {
            (Vendor::Workable | Vendor::Ashby | Vendor::SmartRecruiters | Vendor::BambooHr, Status::Hired) => {
                Some("Hired")
            }
            (Vendor::Ashby, Status::Rejected) => Some("Archived"),
            (Vendor::BambooHr, Status::Rejected) => Some("Not a Fit"),
            _ => None,
        }
    }

    fn finish_application(&self, app_id: &str, status: Status) -> Result<Application, MockError> {
        let mut store = self.shared.store();
        let job_id =
            store.people.app(app_id).ok_or_else(|| MockError::UnknownApplication(app_id.into()))?.job_id.clone();
        // Some vendors model the outcome as a stage too.
        let terminal = match (self.outcome_stage_name(status), store.data.job(&job_id)) {
            (Some(name), Some(job)) => self.vendor_stages(&store.data, job).into_iter().find(|s| s.name == name),
            _ => None,
        };
        let now = store.data.stamp();
        let app = store.people.app_mut(app_id).expect("checked above");
        app.status = status;
        app.closed_at = Some(now);
        app.updated_at = now;
        if let Some(stage) = terminal {
            app.stage_id = stage.id.clone();
            app.history.push((stage.id, now));
        }
        Ok(app.snapshot())
    }

    /// Adds a fault (a [`Fault`] fires once on the next API request; a
    /// [`FaultRule`] says how often and where).
    pub fn inject(&self, rule: impl Into<FaultRule>) {
        lock(&self.shared.faults).push(rule.into());
    }

    /// Makes every Greenhouse create (`POST /candidates`, `POST
    /// /candidates/{id}/applications`, `POST /v3/applications`) take `hold`
    /// before it takes effect, as a slow ATS would; `Duration::ZERO`: at
    /// once again. A held create is worked on to the end even when the
    /// client gives up or dies meanwhile: a real server does not stop
    /// creating a candidate because the connection closed.
    pub fn hold_creates(&self, hold: std::time::Duration) {
        *lock(&self.shared.create_hold) = hold;
    }

    /// Removes all pending faults.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Expires every Greenhouse access token and Ashby sync token issued so
    /// far (the next use gets 401 / `sync_token_expired`).
    pub fn expire_tokens(&self) {
        let mut store = self.shared.store();
        store.tokens.clear();
        store.sync_tokens.clear();
    }

    /// Number of requests received (including rejected and faulted ones).
    pub fn request_count(&self) -> usize {
        lock(&self.shared.log).len()
    }

    /// Every request received, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.log).clone()
    }

    /// Stops accepting, lets in-flight requests finish, and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for MockAts {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

impl std::fmt::Debug for MockAts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAts").field("vendor", &self.vendor()).field("addr", &self.addr).finish_non_exhaustive()
    }
}
