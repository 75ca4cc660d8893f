//! Host bindings for each supported version of the connector contract.
//!
//! Each published contract version in `wit/vX.Y.Z/` gets a module here. The
//! newest one defines the types the rest of the host works with (re-exported
//! as [`crate::contract`]); older versions, when there are any, convert their
//! values into the newest types at the boundary so the sync engine never
//! sees more than one shape. See `wit/README.md` for the policy.

/// Bindings for `atsbridge:connector@0.1.0`.
pub mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.0",
        world: "connector",
        imports: { default: async | trappable },
        exports: { default: async },
        additional_derives: [PartialEq, serde::Serialize, serde::Deserialize],
    });
}

/// The contract versions this host loads, newest last. A plugin built
/// against any `0.1.x` is served by the `v0_1` bindings.
pub const SUPPORTED_CONTRACTS: &[semver::Version] = &[semver::Version::new(0, 1, 0)];

/// The WIT package every contract version lives in.
pub const CONTRACT_PACKAGE: &str = "atsbridge:connector";

/// The interface a connector exports.
pub const PLUGIN_INTERFACE: &str = "plugin";
