//! Shared support for atsbridge's integration tests.
//!
//! The test guest components live in `tests/guests/*`. `build.rs` builds
//! them for `wasm32-wasip2` once per test run (into `target/guests`) and
//! [`guests`] gives their absolute paths.

/// Absolute paths of the test guest components (`.wasm`), built by this
/// crate's `build.rs`. Each is a real component; what it does is documented
/// in its crate under `tests/guests/`.
pub mod guests {
    /// `tests/guests/well-behaved`: a correct connector ("Well Behaved"
    /// 1.2.3) for the tests' small JSON API, with every capability. Settings:
    /// `base-url` (url, required), `api-key` (secret, required), `account`
    /// (text, default `main`), `region` (choice `us`/`eu`).
    pub const WELL_BEHAVED: &str = env!("ATSBRIDGE_GUEST_WELL_BEHAVED");

    /// `tests/guests/hostile`: `check` attacks the sandbox according to the
    /// `mode` setting (`loop`, `alloc`, `read-file`, `env`, `forbidden-host`,
    /// `secret-snoop`, `echo-secret`, `panic`, `log-flood`, `forge-log`,
    /// `forge-panic`, `huge-error`; `list-jobs` with `alias`) and reports what
    /// it saw as a `permanent` error. Other settings: `api-key` (secret),
    /// `target-url` (url).
    pub const HOSTILE: &str = env!("ATSBRIDGE_GUEST_HOSTILE");

    /// `tests/guests/net-probe`: `check` sends the requests scripted in the
    /// `steps` setting (`AUTH METHOD URL` per line), with `api-key` /
    /// `other-key` attached by the host as asked, and reports (and logs)
    /// what came back as a `permanent` error; `repeat = N` reports a tally.
    pub const NET_PROBE: &str = env!("ATSBRIDGE_GUEST_NET_PROBE");

    /// `tests/guests/bench-connector`: `list-jobs` decodes a built-in page of
    /// 500 Greenhouse jobs and returns them all; for comparing with the same
    /// code run natively (`bench_connector::logic::decode_page`).
    pub const BENCH_CONNECTOR: &str = env!("ATSBRIDGE_GUEST_BENCH_CONNECTOR");

    /// `tests/guests/wrong-version`: a connector for contract
    /// `atsbridge:connector@0.9.0`, which the host must refuse.
    pub const WRONG_VERSION: &str = env!("ATSBRIDGE_GUEST_WRONG_VERSION");

    /// `tests/guests/wrong-world`: a component of an unrelated world
    /// (`other:thing/greeter@1.0.0`, exporting only `hello`), which the host
    /// must refuse.
    pub const WRONG_WORLD: &str = env!("ATSBRIDGE_GUEST_WRONG_WORLD");

    /// `tests/guests/bloated-info`: `info()` declares 100,000 settings and a
    /// 1 MiB vendor; install must refuse it.
    pub const BLOATED_INFO: &str = env!("ATSBRIDGE_GUEST_BLOATED_INFO");

    /// `tests/guests/slow-info`: `info()` spins forever; install must give up
    /// after its short deadline.
    pub const SLOW_INFO: &str = env!("ATSBRIDGE_GUEST_SLOW_INFO");

    /// `tests/guests/contract-v0-2`: a connector for contract
    /// `atsbridge:connector@0.2.0` ("Contract 0.2" 0.2.0) with every export,
    /// `move-application` included, over a small line-based test API.
    /// Settings: `base-url` (url), `api-key` (secret).
    pub const CONTRACT_V0_2: &str = env!("ATSBRIDGE_GUEST_CONTRACT_V0_2");
    /// `atsbridge:connector@0.1.0` ("Contract 0.1" 0.1.0), built with
    /// wit-bindgen directly so it stays on 0.1.0 whatever the SDK binds;
    /// the same test API and settings as [`CONTRACT_V0_2`].
    pub const CONTRACT_V0_1: &str = env!("ATSBRIDGE_GUEST_CONTRACT_V0_1");

    /// `tests/guests/careless`: the well-behaved guest's API and settings,
    /// but `list-jobs` answers an HTTP 503 or 429 with an empty, final page.
    pub const CARELESS: &str = env!("ATSBRIDGE_GUEST_CARELESS");
    /// `tests/guests/lever-variant`: the shipped Lever connector's modules
    /// with one deliberate change, upper-cased job titles ("Lever
    /// (variant)" 0.2.1, id `lever` in its manifest); for replay tests.
    pub const LEVER_VARIANT: &str = env!("ATSBRIDGE_GUEST_LEVER_VARIANT");
    /// `tests/guests/greenhouse-variant`: the shipped Greenhouse connector's
    /// modules with deliberate changes (upper-cased job titles, stage names
    /// and candidate stage names; "Greenhouse (variant)" 0.2.1); for replay
    /// tests.
    pub const GREENHOUSE_VARIANT: &str = env!("ATSBRIDGE_GUEST_GREENHOUSE_VARIANT");

    /// `tests/guests/clock-reader`: the well-behaved guest, reading the
    /// wall clock in `list-jobs` (never replayable).
    pub const CLOCK_READER: &str = env!("ATSBRIDGE_GUEST_CLOCK_READER");

    /// Every guest as `(package name, path)`.
    pub const ALL: [(&str, &str); 13] = [
        ("well-behaved", WELL_BEHAVED),
        ("hostile", HOSTILE),
        ("bench-connector", BENCH_CONNECTOR),
        ("wrong-version", WRONG_VERSION),
        ("wrong-world", WRONG_WORLD),
        ("bloated-info", BLOATED_INFO),
        ("slow-info", SLOW_INFO),
        ("contract-v0-2", CONTRACT_V0_2),
        ("contract-v0-1", CONTRACT_V0_1),
        ("careless", CARELESS),
        ("lever-variant", LEVER_VARIANT),
        ("greenhouse-variant", GREENHOUSE_VARIANT),
        ("clock-reader", CLOCK_READER),
    ];
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_guest_component_was_built() {
        for (name, path) in super::guests::ALL {
            let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{name}: cannot read {path}: {e}"));
            // A component starts with the wasm magic and a component-layer version.
            assert_eq!(&bytes[..4], b"\0asm", "{name}: not wasm");
            assert_eq!(&bytes[6..8], &[0x01, 0x00], "{name}: a core module, not a component");
        }
    }
}
