//! Integration tests: the real host runtime, real wasmtime, real guest
//! components built from `tests/guests/` for this run, real HTTP on loopback.

mod crash;
mod install;
mod sandbox;
mod serve;
mod support;
mod sync;
mod well_behaved;
