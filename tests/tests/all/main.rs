//! Integration tests: the real host runtime, real wasmtime, real guest
//! components built from `tests/guests/` for this run, real HTTP on loopback.

mod api_auth;
mod api_cli;
mod api_http;
mod api_openapi;
mod api_plugin_dir;
mod api_support;
mod conformance;
mod contract_v0_2;
mod crash;
mod demo;
mod install;
mod js_connector;
mod net_attacks;
mod ops_keys;
mod ops_serve;
mod ops_support;
mod ops_webhooks;
mod outbox_crash;
mod outbox_e2e;
mod outbox_e2e_connectors;
mod outbox_fixture;
mod outbox_support;
mod publish;
mod python_connector;
mod sandbox;
mod sandbox_attacks;
mod scaffold;
mod serve;
mod stages_http;
mod stages_sync;
mod store_read_only;
mod support;
mod sync;
mod sync_safety;
mod well_behaved;
