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
//! cannot pin a worker), a memory cap and instance/table caps. Traps,
//! panics, timeouts and exceeded limits become a [`CallError`] for that call
//! only.

pub mod bindings;
pub mod connection;
mod engine;
mod error;
mod host_http;
mod host_log;
pub mod limits;
pub mod metrics;
mod net_guard;
mod oauth;
pub mod scrub;
mod state;
mod stderr_tail;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use semver::Version;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::WasiCtxBuilder;

use self::bindings::v0_1;
pub use self::connection::{ConnectionContext, SettingInput};
pub use self::engine::EngineOptions;
pub use self::error::CallError;
use self::host_http::{HttpClient, OutboundHttp};
use self::host_log::GuestLog;
use self::limits::{CallLimits, Limiter, OperatorLimits};
use self::metrics::{Metrics, Outcome};
use self::state::PluginState;
use self::stderr_tail::StderrTail;
use crate::contract::{
    CandidateRef, CandidateStatus, ConnectorError, ConnectorInfo, JobPage, PushRequest, Pushed, Stage,
};
use crate::plugin::artifacts::ArtifactCache;
use crate::plugin::manifest::Manifest;
use crate::plugin::{LoadError, PluginRegistry};

/// Runtime-wide settings.
#[derive(Debug, Clone, Copy, Default)]
pub struct RuntimeOptions {
    pub engine: EngineOptions,
    pub operator: OperatorLimits,
}

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
    /// With the pooling allocator, one permit per pooled instance: a call
    /// waits for a free slot instead of failing to instantiate.
    slots: Option<Arc<tokio::sync::Semaphore>>,
}

/// A pre-instantiated component, by contract version.
enum Pre {
    V0_1(v0_1::ConnectorPre<PluginState>),
}

struct LoadedPlugin {
    install_name: String,
    manifest: Manifest,
    limits: CallLimits,
    pre: Pre,
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
        v0_1::Connector::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| RuntimeError::Engine(format!("{e:#}")))?;
        let registry = PluginRegistry::open(&data_dir.join("plugins"))?;
        let artifacts = ArtifactCache::open(&data_dir.join("artifacts"), &engine)?;
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
                slots: options.engine.pooling_instances.map(|n| Arc::new(tokio::sync::Semaphore::new(n as usize))),
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
            return Ok(Plugin { inner: self.inner.clone(), loaded });
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
                std::fs::read(&wasm_path).map_err(|source| LoadError::Io { path: wasm_path.clone(), source })
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
        let pre = self.inner.linker.instantiate_pre(component).map_err(|e| format!("{e:#}"))?;
        let pre = v0_1::ConnectorPre::new(pre).map_err(|e| format!("{e:#}"))?;
        let limits = CallLimits::resolve(&manifest.limits, &self.inner.operator);
        let loaded =
            Arc::new(LoadedPlugin { install_name: install_name.to_string(), manifest, limits, pre: Pre::V0_1(pre) });
        Ok(Plugin { inner: self.inner.clone(), loaded })
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
}

/// A store with a fresh instance, ready for one call.
struct ActiveCall {
    /// Dropped after the store (field order), freeing the pool slot.
    store: Store<PluginState>,
    _slot: Option<tokio::sync::OwnedSemaphorePermit>,
    instance: v0_1::Connector,
    function: &'static str,
    started: Instant,
    deadline: tokio::time::Instant,
}

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

    /// Name, version, capabilities and config schema.
    pub async fn info(&self) -> Result<ConnectorInfo, CallError> {
        let mut call = self.begin("info", None).await?;
        let fut = call.instance.atsbridge_connector_plugin().call_info(&mut call.store);
        let raw = tokio::time::timeout_at(call.deadline, async { fut.await.map(Ok) }).await;
        self.end(call, raw)
    }

    /// Tests a connection's settings against the ATS.
    pub async fn check(&self, conn: &ConnectionContext) -> Result<(), CallError> {
        let config = conn.guest_config();
        let mut call = self.begin("check", Some(conn)).await?;
        let fut = call.instance.atsbridge_connector_plugin().call_check(&mut call.store, &config);
        let raw = tokio::time::timeout_at(call.deadline, fut).await;
        self.end(call, raw)
    }

    /// One page of jobs.
    pub async fn list_jobs(
        &self,
        conn: &ConnectionContext,
        cursor: Option<&str>,
        changed_since: Option<&str>,
    ) -> Result<JobPage, CallError> {
        let config = conn.guest_config();
        let mut call = self.begin("list-jobs", Some(conn)).await?;
        let fut =
            call.instance.atsbridge_connector_plugin().call_list_jobs(&mut call.store, &config, cursor, changed_since);
        let raw = tokio::time::timeout_at(call.deadline, fut).await;
        self.end(call, raw)
    }

    /// Hiring stages, for one job or the account.
    pub async fn list_stages(&self, conn: &ConnectionContext, job_code: Option<&str>) -> Result<Vec<Stage>, CallError> {
        let config = conn.guest_config();
        let mut call = self.begin("list-stages", Some(conn)).await?;
        let fut = call.instance.atsbridge_connector_plugin().call_list_stages(&mut call.store, &config, job_code);
        let raw = tokio::time::timeout_at(call.deadline, fut).await;
        self.end(call, raw)
    }

    /// Creates a candidate and application in the ATS.
    pub async fn push_candidate(&self, conn: &ConnectionContext, request: &PushRequest) -> Result<Pushed, CallError> {
        let config = conn.guest_config();
        let mut call = self.begin("push-candidate", Some(conn)).await?;
        let fut = call.instance.atsbridge_connector_plugin().call_push_candidate(&mut call.store, &config, request);
        let raw = tokio::time::timeout_at(call.deadline, fut).await;
        self.end(call, raw)
    }

    /// The ATS's current view of pushed candidates.
    pub async fn candidate_statuses(
        &self,
        conn: &ConnectionContext,
        refs: &[CandidateRef],
    ) -> Result<Vec<CandidateStatus>, CallError> {
        let config = conn.guest_config();
        let mut call = self.begin("candidate-statuses", Some(conn)).await?;
        let fut = call.instance.atsbridge_connector_plugin().call_candidate_statuses(&mut call.store, &config, refs);
        let raw = tokio::time::timeout_at(call.deadline, fut).await;
        self.end(call, raw)
    }

    /// A fresh store and instance. Instantiation counts against the call's
    /// deadline: a component's start function could loop too.
    async fn begin(&self, function: &'static str, conn: Option<&ConnectionContext>) -> Result<ActiveCall, CallError> {
        let started = Instant::now();
        let deadline = tokio::time::Instant::now() + self.loaded.limits.call_timeout;
        let slot = match &self.inner.slots {
            // The semaphore is never closed, so acquiring only waits.
            Some(slots) => slots.clone().acquire_owned().await.ok(),
            None => None,
        };
        let mut store = self.new_store(conn);
        let Pre::V0_1(pre) = &self.loaded.pre;
        let instantiated = tokio::time::timeout_at(deadline, pre.instantiate_async(&mut store)).await;
        match instantiated {
            Ok(Ok(instance)) => Ok(ActiveCall { store, _slot: slot, instance, function, started, deadline }),
            Ok(Err(e)) => {
                let error = CallError::Instantiate { plugin: self.id().to_string(), message: format!("{e:#}") };
                self.record(function, started, &Err::<(), _>(&error), true);
                Err(error)
            }
            Err(_) => {
                let error = CallError::Timeout {
                    plugin: self.id().to_string(),
                    function,
                    limit: self.loaded.limits.call_timeout,
                };
                self.record(function, started, &Err::<(), _>(&error), true);
                Err(error)
            }
        }
    }

    fn new_store(&self, conn: Option<&ConnectionContext>) -> Store<PluginState> {
        let manifest = &self.loaded.manifest;
        let stderr = StderrTail::default();
        let mut wasi = WasiCtxBuilder::new();
        wasi.stderr(stderr.clone());
        let state = PluginState {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            limiter: Limiter::new(self.loaded.limits),
            // info() runs without a connection and must not do I/O: it gets no hosts.
            http: OutboundHttp::new(self.inner.http.clone(), manifest, conn),
            log: GuestLog::new(&manifest.id, conn.map(|c| c.id.as_str())),
            stderr,
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limiter);
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
            Err(_elapsed) => {
                (Err(CallError::Timeout { plugin, function, limit: self.loaded.limits.call_timeout }), true)
            }
            Ok(Err(trap)) => (Err(self.classify_trap(&call, trap)), true),
            Ok(Ok(Err(error))) => (Err(CallError::Connector { plugin, error }), false),
            Ok(Ok(Ok(value))) => (Ok(value), false),
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
        self.record(function, call.started, &result.as_ref().map(|_| ()), trapped);
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
            return CallError::Timeout { plugin, function, limit: self.loaded.limits.call_timeout };
        }
        let stderr = state.stderr.contents();
        if let Some(at) = stderr.find("panicked at") {
            let message = stderr[at..].trim().to_string();
            return CallError::Panic { plugin, function, message };
        }
        CallError::Trap { plugin, function, message: format!("{trap:#}") }
    }

    fn record<T>(&self, function: &'static str, started: Instant, result: &Result<T, &CallError>, trapped: bool)
    where
        T: Sized,
    {
        let outcome = match result {
            Ok(_) => Outcome::Ok,
            Err(CallError::Connector { error, .. }) => Outcome::ConnectorError(error.kind()),
            Err(e) => Outcome::Failure(e.kind()),
        };
        self.inner.metrics.record(self.id(), function, started.elapsed(), outcome, trapped);
    }
}
