//! Builds the test guest components (`tests/guests/*`) for `wasm32-wasip2`
//! once per test run, and the shipped connectors (`plugins/*`) the
//! conformance tests load, and tells the test crate where they are.
//!
//! For each it emits `ATSBRIDGE_GUEST_<NAME>` (e.g.
//! `ATSBRIDGE_GUEST_WELL_BEHAVED`) with the absolute path of the `.wasm`
//! component; `src/lib.rs` exposes them as constants.

/// The guest packages, as named in their `Cargo.toml`.
const GUESTS: &[&str] = &[
    "well-behaved",
    "hostile",
    "bench-connector",
    "wrong-version",
    "wrong-world",
    "bloated-info",
    "slow-info",
    "net-probe",
    "contract-v0-2",
    "contract-v0-1",
    "careless",
    "lever-variant",
    "greenhouse-variant",
    "clock-reader",
];

fn main() {
    let out = atsbridge_guest_build::build(GUESTS, &["tests/guests"], "the test guests");
    for guest in GUESTS {
        let wasm = atsbridge_guest_build::component_path(&out, guest);
        let var = format!("ATSBRIDGE_GUEST_{}", guest.replace('-', "_").to_uppercase());
        println!("cargo:rustc-env={var}={}", wasm.display());
    }
}
