//! Integration tests: the real host runtime, real wasmtime, real guest
//! components built from `tests/guests/` for this run, real HTTP on loopback.

mod api_auth;
mod api_cli;
mod api_http;
mod api_support;
mod conformance;
mod crash;
mod demo;
mod install;
mod python_connector;
mod sandbox;
mod scaffold;
mod serve;
mod support;
mod sync;
mod well_behaved;
