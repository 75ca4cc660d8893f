//! The data of one store: one call of one plugin for one connection.

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use super::bindings::Convert;
use super::bindings::v0_1::atsbridge::connector as v0_1;
use super::bindings::v0_2::atsbridge::connector as v0_2;
use super::bindings::{HttpError, HttpRequest, HttpResponse, LogLevel};
use super::host_http::OutboundHttp;
use super::host_log::GuestLog;
use super::limits::Limiter;
use super::stderr_tail::StderrTail;

pub struct PluginState {
    pub wasi: WasiCtx,
    pub table: ResourceTable,
    pub limiter: Limiter,
    pub http: OutboundHttp,
    pub log: GuestLog,
    pub stderr: StderrTail,
    /// Replay: set when the call reads a clock or randomness.
    pub watch: super::replay_watch::Watch,
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl v0_2::types::Host for PluginState {}

impl v0_2::http::Host for PluginState {
    async fn send(&mut self, req: HttpRequest) -> wasmtime::Result<Result<HttpResponse, HttpError>> {
        Ok(send(&self.http, req).await)
    }
}

impl v0_2::log::Host for PluginState {
    async fn log(&mut self, level: LogLevel, message: String) -> wasmtime::Result<()> {
        // Cut to what will be kept before scrubbing, so a huge line costs
        // no more than a short one.
        let kept = &message[..message.floor_char_boundary(super::host_log::MAX_LOG_MESSAGE_BYTES)];
        let message = self.http.scrubber().scrub_str(kept);
        self.log.log(level, &message);
        Ok(())
    }
}

// Contract 0.1.0 imports the same `http` and `log`, less the header value
// template: its values are converted and served by the same code.
impl v0_1::types::Host for PluginState {}

impl v0_1::http::Host for PluginState {
    async fn send(
        &mut self,
        req: v0_1::http::Request,
    ) -> wasmtime::Result<Result<v0_1::http::Response, v0_1::http::HttpError>> {
        let req: HttpRequest = req.convert();
        Ok(send(&self.http, req).await.convert())
    }
}

impl v0_1::log::Host for PluginState {
    async fn log(&mut self, level: v0_1::log::Level, message: String) -> wasmtime::Result<()> {
        <Self as v0_2::log::Host>::log(self, level.convert(), message).await
    }
}

/// Sends a plugin's request, or, when the call's connection is recorded or
/// replayed, lets [`crate::recording`] record it or answer it.
async fn send(http: &OutboundHttp, req: HttpRequest) -> Result<HttpResponse, HttpError> {
    match http.recording() {
        Some(io) => io.exchange(req, |r| http.send(r), || http.scrubber()).await,
        None => http.send(req).await,
    }
}
