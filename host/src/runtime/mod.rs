//! The sandboxed plugin runtime.
//!
//! One wasmtime [`Engine`] and [`Linker`] serve every plugin. Each installed
//! plugin is compiled once (cached on disk by content hash) and
//! pre-instantiated ([`InstancePre`](wasmtime::component::InstancePre)); each
//! call then gets a fresh [`Store`] and instance (tens of microseconds), so no
//! state, memory or failure carries over from one call to the next.
//!
//! A call runs under its plugin's [`CallLimits`]: an epoch-driven wall-clock
//! deadline (the guest yields to tokio at every epoch tick, so a busy loop
//! cannot pin a worker), a memory cap for the whole instance, a cap on the
//! bytes copied out of the guest per lift, and instance/table caps. Traps,
//! timeouts and exceeded limits become a [`CallError`] for that call only.
//! Calls wait for pool capacity, fairly shared between plugins and
//! connections ([`slots`]); a call's deadline starts once it has its slots.

pub mod bindings;
pub mod compiler;
pub mod connection;
mod engine;
mod error;
mod host_http;
mod host_log;
pub mod limits;
pub mod meter;
pub mod metrics;
mod net_guard;
pub(crate) mod oauth; // record and replay observe token requests
mod replay_watch;
pub mod scrub;
pub mod slots;
mod state;
mod stderr_tail;
mod wasi; // replay of unchanged pages

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use semver::Version;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};

use self::bindings::{Convert, v0_1, v0_2};
use self::compiler::{Compiler, CompilerOptions};
pub use self::connection::ConnectionContext;
pub use self::engine::EngineOptions;
pub use self::error::{CallError, CallErrorKind};
use self::host_http::{HttpClient, OutboundHttp};
use self::host_log::GuestLog;
use self::limits::{CallLimits, Limiter, OperatorLimits};
pub use self::meter::Meter;
use self::metrics::{Metrics, Outcome};
use self::slots::{Need, Slots};
use self::state::PluginState;
pub use crate::contract::SettingInput;
use crate::contract::{
    CandidateRef, CandidateStatus, ConnectorError, ConnectorInfo, JobPage, MoveRequest, PushRequest, Pushed, Stage,
};
use crate::display::escape_capped;
use crate::plugin::artifacts::{ArtifactCache, CompileFn};
use crate::plugin::manifest::Manifest;
use crate::plugin::{LoadError, PluginRegistry};

/// Runtime-wide settings.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    pub engine: EngineOptions,
    pub operator: OperatorLimits,
    /// Where and under which bounds components are compiled.
    pub compiler: CompilerOptions,
}

/// Wall-clock budget of `info()` when a plugin is installed: it only
/// describes the plugin, so a few seconds are plenty, and a plugin that
/// spins in it must not hold the install for the full call ceiling.
pub const INSTALL_INFO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(5);

/// Why the runtime could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    #[error("cannot configure wasmtime: {0}")]
    Engine(String),
    #[error("cannot build the HTTP client: {0}")]
    Http(#[from] reqwest::Error),
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The plugin runtime. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<PluginState>,
    http: Arc<HttpClient>,
    metrics: Metrics,
    registry: PluginRegistry,
    artifacts: ArtifactCache,
    operator: OperatorLimits,
    /// Loaded plugins by id, each tagged with the install it came from.
    loaded: Mutex<HashMap<String, Arc<LoadedPlugin>>>,
    /// Pool capacity and the plugins' and connections' shares of it: a
    /// call waits for its slots instead of failing to instantiate.
    slots: Slots,
}

/// A pre-instantiated component, by contract version.
enum Pre {
    V0_1(v0_1::ConnectorPre<PluginState>),
    V0_2(v0_2::ConnectorPre<PluginState>),
}

/// A live instance, by contract version.
enum Instance {
    V0_1(v0_1::Connector),
    V0_2(v0_2::Connector),
}

/// A `Vec` converted element by element, its element type inferred from
/// where it is used (a binding's `&[T]` argument).
fn vec<A: Convert<B>, B>(v: Vec<A>) -> Vec<B> {
    v.convert()
}

/// Calls one export of the plugin's instance, whichever contract version it
/// implements: the same arguments are converted to that version's types,
/// and the answer back to the contract's, under the call's deadline.
macro_rules! call_export {
    ($call:ident . $method:ident ( $($arg:expr),* )) => {{
        let deadline = $call.deadline;
        match &$call.instance {
            Instance::V0_1(i) => tokio::time::timeout_at(
                deadline,
                $call.clock.time(i.atsbridge_connector_plugin().$method(&mut $call.store, $($arg),*)),
            )
            .await
            .map(|r| r.map(Convert::convert)),
            Instance::V0_2(i) => tokio::time::timeout_at(
                deadline,
                $call.clock.time(i.atsbridge_connector_plugin().$method(&mut $call.store, $($arg),*)),
            )
            .await
            .map(|r| r.map(Convert::convert)),
        }
    }};
}

// Replay of unchanged pages (declared after `call_export!`, which it uses).
mod replay;
pub use self::replay::{ReplayExchange, ReplayMiss};

struct LoadedPlugin {
    install_name: String,
    manifest: Manifest,
    limits: CallLimits,
    /// The pool slots one call of it holds.
    need: Need,
    /// The contract version the component implements.
    contract: Version,
    pre: Pre,
    /// WASI contexts of finished calls, for the next calls ([`wasi`]).
    wasi: wasi::WasiContexts,
}

impl Runtime {
    /// Opens the runtime over a data directory (`plugins/`, `artifacts/`).
    pub fn open(data_dir: &Path, options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let engine = engine::build(&options.engine).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        // WASI p2 with an empty context: no preopened directories, no
        // environment, no arguments, no sockets. A wasip2 component imports
        // these interfaces to start; they grant nothing.
        wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        replay_watch::watch_insecure_seed(&mut linker).map_err(|e| RuntimeError::Engine(format!("{e:#}")))?; // replay
        // Every supported contract version side by side: their interface
        // names differ by version, so they coexist in one linker.
        v0_1::Connector::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        v0_2::Connector::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let registry = PluginRegistry::open(&data_dir.join("plugins"))?;
        let compiler = Compiler::new(&options.compiler, options.engine);
        let compile: CompileFn =
            Arc::new(move |wasm, scratch| compiler.compile(wasm, scratch).map_err(|e| e.to_string()));
        let artifacts = ArtifactCache::open(&data_dir.join("artifacts"), &engine, compile)?
            .reading_into_memory(options.engine.perf_map);
        Ok(Runtime {
            inner: Arc::new(Inner {
                engine,
                linker,
                http: Arc::new(HttpClient::new()?),
                metrics: Metrics::default(),
                registry,
                artifacts,
                operator: options.operator,
                loaded: Mutex::new(HashMap::new()),
                slots: Slots::new(options.engine.pool_size()),
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn registry(&self) -> &PluginRegistry {
        &self.inner.registry
    }

    pub fn artifacts(&self) -> &ArtifactCache {
        &self.inner.artifacts
    }

    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The active install of plugin `id`, loaded and ready to call. Notices
    /// installs and removals made by other processes since the last call.
    pub async fn plugin(&self, id: &str) -> Result<Plugin, LoadError> {
        let current = self.inner.registry.current_name(id).ok_or_else(|| LoadError::NotInstalled(id.to_string()))?;
        let cached = self.lock_loaded().get(id).filter(|p| p.install_name == current).cloned();
        if let Some(loaded) = cached {
            return Ok(Plugin { inner: self.inner.clone(), loaded, meter: Meter::off() });
        }
        let runtime = self.clone();
        let id_owned = id.to_string();
        // Loading may compile (CPU-bound) when the artifact cache misses.
        tokio::task::spawn_blocking(move || runtime.load(&id_owned))
            .await
            .map_err(|e| LoadError::Damaged { id: id.to_string(), reason: e.to_string() })?
    }

    fn load(&self, id: &str) -> Result<Plugin, LoadError> {
        let installed = self.inner.registry.current(id)?;
        let wasm_path = installed.component_path();
        let component =
            self.inner.artifacts.load_or_compile(&self.inner.engine, id, &installed.record.sha256, || {
                crate::plugin::files::read_bounded(&wasm_path, crate::plugin::files::MAX_COMPONENT_BYTES)
                    .map_err(|e| LoadError::Damaged { id: id.to_string(), reason: e.to_string() })
            })?;
        let name = installed.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let plugin = self
            .prepare(installed.manifest, &component, &name)
            .map_err(|reason| LoadError::Damaged { id: id.to_string(), reason })?;
        tracing::info!(plugin = id, install = %name, "plugin loaded");
        self.lock_loaded().insert(id.to_string(), plugin.loaded.clone());
        Ok(plugin)
    }

    /// Pre-instantiates a compiled component. The error names what does
    /// not fit (a missing import, a mismatched export).
    pub(crate) fn prepare(
        &self,
        manifest: Manifest,
        component: &Component,
        install_name: &str,
    ) -> Result<Plugin, String> {
        // The component's own export names the contract it was built
        // against; that picks the bindings.
        let contract = crate::plugin::contract_version::implemented_contract(&self.inner.engine, component)
            .map_err(|e| e.to_string())?;
        let pre = self.inner.linker.instantiate_pre(component).map_err(|e| format!("{e:#}"))?;
        let pre = match (contract.major, contract.minor) {
            (0, 1) => Pre::V0_1(v0_1::ConnectorPre::new(pre).map_err(|e| format!("{e:#}"))?),
            (0, 2) => Pre::V0_2(v0_2::ConnectorPre::new(pre).map_err(|e| format!("{e:#}"))?),
            _ => return Err(format!("no bindings for contract {contract}")),
        };
        let limits = CallLimits::resolve(&manifest.limits, &self.inner.operator);
        let need = Need::of(component.resources_required());
        let wasi = wasi::WasiContexts::default();
        let loaded = Arc::new(LoadedPlugin {
            install_name: install_name.to_string(),
            manifest,
            limits,
            need,
            contract,
            pre,
            wasi,
        });
        Ok(Plugin { inner: self.inner.clone(), loaded, meter: Meter::off() })
    }

    /// Forgets a loaded plugin (after `plugin remove`).
    pub fn unload(&self, id: &str) {
        self.lock_loaded().remove(id);
    }

    fn lock_loaded(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<LoadedPlugin>>> {
        self.inner.loaded.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A loaded plugin, pinned to one install: a sync run keeps using the
/// version it started with even if a new one is installed meanwhile.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
    loaded: Arc<LoadedPlugin>,
    /// What calls through this handle add their costs to ([`meter`]).
    meter: Meter,
}

/// A store with a fresh instance, ready for one call.
struct ActiveCall {
    /// Dropped after the store (field order), freeing the pool slot.
    store: Store<PluginState>,
    _slot: slots::Held,
    instance: Instance,
    function: &'static str,
    /// The call's CPU time, when metered.
    clock: meter::CallClock,
    started: Instant,
    deadline: tokio::time::Instant,
    /// The budget the deadline was set from.
    timeout: std::time::Duration,
}

/// How long one call took (waiting for pool slots included), and how much
/// of it was spent in HTTP exchanges: the difference is the host's own
/// time (instantiation, the guest's work, conversions).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTiming {
    /// From the call's start to its answer.
    pub total: std::time::Duration,
    /// Request sent to response body read, summed over the call's requests.
    pub http: std::time::Duration,
}

impl CallTiming {
    /// The call's time outside HTTP exchanges.
    pub fn host(&self) -> std::time::Duration {
        self.total.saturating_sub(self.http)
    }
}

/// What a call returned, converted to the contract's types.
type Raw<T> = Result<wasmtime::Result<Result<T, ConnectorError>>, tokio::time::error::Elapsed>;

impl Plugin {
    pub fn id(&self) -> &str {
        &self.loaded.manifest.id
    }

    pub fn version(&self) -> &Version {
        &self.loaded.manifest.version
    }

    pub fn manifest(&self) -> &Manifest {
        &self.loaded.manifest
    }

    pub fn limits(&self) -> &CallLimits {
        &self.loaded.limits
    }

    /// The contract version the component implements.
    pub fn contract(&self) -> &Version {
        &self.loaded.contract
    }

    /// This handle, with its calls' costs added to `meter`.
    pub fn with_meter(&self, meter: Meter) -> Plugin {
        Plugin { meter, ..self.clone() }
    }

    /// The meter this handle's calls add to (off unless set).
    pub fn meter(&self) -> &Meter {
        &self.meter
    }

    /// Name, version, capabilities and config schema.
    pub async fn info(&self) -> Result<ConnectorInfo, CallError> {
        self.info_within(self.loaded.limits.call_timeout).await
    }

    /// `info()` under [`INSTALL_INFO_DEADLINE`] (or the plugin's own budget
    /// if shorter), for install.
    pub async fn info_for_install(&self) -> Result<ConnectorInfo, CallError> {
        self.info_within(self.loaded.limits.call_timeout.min(INSTALL_INFO_DEADLINE)).await
    }

    async fn info_within(&self, timeout: std::time::Duration) -> Result<ConnectorInfo, CallError> {
        let mut call = self.begin_within("info", None, timeout).await?;
        let deadline = call.deadline;
        let raw = match &call.instance {
            Instance::V0_1(i) => tokio::time::timeout_at(
                deadline,
                call.clock.time(i.atsbridge_connector_plugin().call_info(&mut call.store)),
            )
            .await
            .map(|r| r.map(|info| Ok(info.convert()))),
            Instance::V0_2(i) => tokio::time::timeout_at(
                deadline,
                call.clock.time(i.atsbridge_connector_plugin().call_info(&mut call.store)),
            )
            .await
            .map(|r| r.map(|info| Ok(info.convert()))),
        };
        self.end(call, raw)
    }

    /// Tests a connection's settings against the ATS.
    pub async fn check(&self, conn: &ConnectionContext) -> Result<(), CallError> {
        let mut call = self.begin("check", Some(conn)).await?;
        let raw = call_export!(call.call_check(&vec(conn.guest_config())));
        self.end(call, raw)
    }

    /// One page of jobs.
    pub async fn list_jobs(
        &self,
        conn: &ConnectionContext,
        cursor: Option<&str>,
        changed_since: Option<&str>,
    ) -> Result<JobPage, CallError> {
        let mut call = self.begin("list-jobs", Some(conn)).await?;
        let raw = call_export!(call.call_list_jobs(&vec(conn.guest_config()), cursor, changed_since));
        self.end(call, raw)
    }

    /// [`Plugin::list_jobs`] under `timeout` when it is shorter than the
    /// plugin's own budget (never longer): the conformance kit's
    /// slow-response check ends in seconds.
    pub async fn list_jobs_within(
        &self,
        conn: &ConnectionContext,
        cursor: Option<&str>,
        changed_since: Option<&str>,
        timeout: std::time::Duration,
    ) -> Result<JobPage, CallError> {
        let budget = timeout.min(self.loaded.limits.call_timeout);
        let mut call = self.begin_within("list-jobs", Some(conn), budget).await?;
        let raw = call_export!(call.call_list_jobs(&vec(conn.guest_config()), cursor, changed_since));
        self.end(call, raw)
    }

    /// Hiring stages, for one job or the account.
    pub async fn list_stages(&self, conn: &ConnectionContext, job_code: Option<&str>) -> Result<Vec<Stage>, CallError> {
        let mut call = self.begin("list-stages", Some(conn)).await?;
        let raw = call_export!(call.call_list_stages(&vec(conn.guest_config()), job_code));
        self.end(call, raw)
    }

    /// Creates a candidate and application in the ATS.
    pub async fn push_candidate(&self, conn: &ConnectionContext, request: &PushRequest) -> Result<Pushed, CallError> {
        self.push_candidate_timed(conn, request).await.0
    }

    /// [`Plugin::push_candidate`], with how long the call took and how much
    /// of that was spent in HTTP exchanges with the ATS.
    pub async fn push_candidate_timed(
        &self,
        conn: &ConnectionContext,
        request: &PushRequest,
    ) -> (Result<Pushed, CallError>, CallTiming) {
        let started = Instant::now();
        let mut call = match self.begin("push-candidate", Some(conn)).await {
            Ok(call) => call,
            Err(e) => return (Err(e), CallTiming { total: started.elapsed(), http: std::time::Duration::ZERO }),
        };
        let raw = call_export!(call.call_push_candidate(&vec(conn.guest_config()), &request.clone().convert()));
        let timing = CallTiming { total: started.elapsed(), http: call.store.data().http.exchange_time() };
        (self.end(call, raw), timing)
    }

    /// The ATS's current view of pushed candidates.
    pub async fn candidate_statuses(
        &self,
        conn: &ConnectionContext,
        refs: &[CandidateRef],
    ) -> Result<Vec<CandidateStatus>, CallError> {
        let mut call = self.begin("candidate-statuses", Some(conn)).await?;
        let raw = call_export!(call.call_candidate_statuses(&vec(conn.guest_config()), &vec(refs.to_vec())));
        self.end(call, raw)
    }

    /// Moves an application to another ATS stage. A connector built against
    /// contract 0.1.0 has no such export: the host answers `unsupported` for
    /// it without instantiating it. A 0.2.0 connector that does not declare
    /// the `move-application` capability answers `unsupported` itself.
    pub async fn move_application(&self, conn: &ConnectionContext, request: &MoveRequest) -> Result<(), CallError> {
        if matches!(self.loaded.pre, Pre::V0_1(_)) {
            let error = ConnectorError::Unsupported(format!(
                "the plugin implements contract {}, which has no move-application (0.2.0 and later)",
                self.loaded.contract
            ));
            return Err(CallError::Connector { plugin: self.id().to_string(), error });
        }
        let mut call = self.begin("move-application", Some(conn)).await?;
        let raw = match &call.instance {
            // Unreachable in practice (checked above); answered the same way.
            Instance::V0_1(_) => {
                Ok(Ok(Err(ConnectorError::Unsupported("contract 0.1.0 has no move-application".into()))))
            }
            Instance::V0_2(i) => tokio::time::timeout_at(
                call.deadline,
                call.clock.time(i.atsbridge_connector_plugin().call_move_application(
                    &mut call.store,
                    &vec(conn.guest_config()),
                    &request.clone().convert(),
                )),
            )
            .await
            .map(|r| r.map(Convert::convert)),
        };
        self.end(call, raw)
    }

    /// A fresh store and instance. Instantiation counts against the call's
    /// deadline: a component's start function could loop too.
    async fn begin(&self, function: &'static str, conn: Option<&ConnectionContext>) -> Result<ActiveCall, CallError> {
        self.begin_within(function, conn, self.loaded.limits.call_timeout).await
    }

    async fn begin_within(
        &self,
        function: &'static str,
        conn: Option<&ConnectionContext>,
        timeout: std::time::Duration,
    ) -> Result<ActiveCall, CallError> {
        let slot = self.inner.slots.acquire(self.id(), conn.map(|c| c.id.as_str()), self.loaded.need).await;
        // The budget starts once the call has its slots: time spent waiting
        // behind other plugins' calls is not this call's to lose.
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + timeout;
        let mut store = self.new_store(conn);
        let clock = self.meter.clock();
        let instantiated = match &self.loaded.pre {
            Pre::V0_1(pre) => tokio::time::timeout_at(deadline, clock.time(pre.instantiate_async(&mut store)))
                .await
                .map(|r| r.map(Instance::V0_1)),
            Pre::V0_2(pre) => tokio::time::timeout_at(deadline, clock.time(pre.instantiate_async(&mut store)))
                .await
                .map(|r| r.map(Instance::V0_2)),
        };
        match instantiated {
            Ok(Ok(instance)) => {
                Ok(ActiveCall { store, _slot: slot, instance, function, clock, started, deadline, timeout })
            }
            Ok(Err(e)) => {
                let plugin = self.id().to_string();
                let error = if store.data().limiter.memory_exceeded {
                    CallError::MemoryLimit { plugin, function, limit_bytes: self.loaded.limits.memory_bytes }
                } else {
                    CallError::Instantiate { plugin, message: escape_capped(&format!("{e:#}")) }
                };
                self.record(function, started, &Err::<(), _>(&error), true, (&clock, std::time::Duration::ZERO));
                Err(error)
            }
            Err(_) => {
                let error = CallError::Timeout { plugin: self.id().to_string(), function, limit: timeout };
                self.record(function, started, &Err::<(), _>(&error), true, (&clock, std::time::Duration::ZERO));
                Err(error)
            }
        }
    }

    fn new_store(&self, conn: Option<&ConnectionContext>) -> Store<PluginState> {
        let manifest = &self.loaded.manifest;
        let wasi = self.loaded.wasi.take();
        let state = PluginState {
            wasi: wasi.ctx,
            table: ResourceTable::new(),
            limiter: Limiter::new(self.loaded.limits),
            // info() runs without a connection and must not do I/O: it gets no hosts.
            http: OutboundHttp::new(self.inner.http.clone(), manifest, conn).metered(self.meter.clone()),
            log: GuestLog::new(&manifest.id, conn.map(|c| c.id.as_str())),
            stderr: wasi.stderr,
            watch: wasi.watch, // replay
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
        store.set_hostcall_fuel(self.loaded.limits.hostcall_copy_bytes());
        // Yield to the executor at every epoch tick; the wall-clock deadline
        // is enforced by the tokio timeout around the call.
        store.set_epoch_deadline(1);
        store.epoch_deadline_async_yield_and_update(1);
        store
    }

    fn end<T>(&self, call: ActiveCall, raw: Raw<T>) -> Result<T, CallError> {
        let plugin = self.id().to_string();
        let function = call.function;
        let (result, trapped) = match raw {
            Err(_elapsed) => (Err(CallError::Timeout { plugin, function, limit: call.timeout }), true),
            Ok(Err(trap)) => (Err(self.classify_trap(&call, trap)), true),
            Ok(Ok(answer)) => match answer {
                Ok(value) => (Ok(value), false),
                Err(mut error) => {
                    // The connector's message is the plugin's text: capped and
                    // escaped before it reaches logs, terminals or run records.
                    let message = error.message_mut();
                    *message = escape_capped(message);
                    (Err(CallError::Connector { plugin, error }), false)
                }
            },
        };
        // Nothing a plugin says leaves the runtime with a secret in it.
        let result = result.map_err(|e| scrub::scrub_call_error(e, &call.store.data().http.scrubber()));
        let dropped = call.store.data().log.dropped();
        if dropped > 0 {
            tracing::warn!(plugin = %self.id(), function, dropped, "plugin log lines dropped over the per-call budget");
        }
        if let Err(e) = &result
            && e.is_sandbox_failure()
        {
            tracing::warn!(plugin = %self.id(), function, error = %e, "plugin call stopped by the sandbox");
        }
        let metered = (&call.clock, call.store.data().http.exchange_time());
        self.record(function, call.started, &result.as_ref().map(|_| ()), trapped, metered);
        if !trapped {
            // The instance is freed here; its WASI context serves the next call.
            let state = call.store.into_data();
            self.loaded.wasi.give_back(wasi::CallWasi { ctx: state.wasi, stderr: state.stderr, watch: state.watch });
        }
        result
    }

    fn classify_trap(&self, call: &ActiveCall, trap: wasmtime::Error) -> CallError {
        let plugin = self.id().to_string();
        let function = call.function;
        let state = call.store.data();
        if state.limiter.memory_exceeded {
            return CallError::MemoryLimit { plugin, function, limit_bytes: self.loaded.limits.memory_bytes };
        }
        if trap.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
            return CallError::Timeout { plugin, function, limit: call.timeout };
        }
        // A panicking guest traps like any other; nothing the guest cannot
        // also write tells a panic from a forged one. So every trap is
        // reported as a trap, with what the guest wrote to stderr attached
        // as the guest's own words (escaped and capped).
        let stderr = state.stderr.contents();
        let stderr = stderr.trim();
        let guest_stderr = (!stderr.is_empty()).then(|| escape_capped(stderr));
        // The trap's backtrace names guest functions: guest text too.
        CallError::Trap { plugin, function, message: escape_capped(&format!("{trap:#}")), guest_stderr }
    }

    /// Counts a finished call in the runtime's metrics and, with its CPU
    /// time and HTTP wait (`metered`), in the handle's meter.
    fn record<T>(
        &self,
        function: &'static str,
        started: Instant,
        result: &Result<T, &CallError>,
        trapped: bool,
        metered: (&meter::CallClock, std::time::Duration),
    ) where
        T: Sized,
    {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Connector { error, .. }) => Outcome::ConnectorError(error.kind()),
            Err(e) => Outcome::Failure(e.kind()),
        };
        let took = started.elapsed();
        self.inner.metrics.record(self.id(), function, took, outcome, trapped);
        self.meter.call_ended(function, metered.0, took, metered.1, outcome);
    }
}
