//! Which contract version a component implements, read from its exports.
//!
//! A connector exports `atsbridge:connector/plugin@X.Y.Z`; the version in
//! that name is the contract it was built against. Reading it from the
//! component (rather than trusting the manifest) lets install refuse a
//! component built against another world or version with a precise message.

use semver::Version;
use wasmtime::Engine;
use wasmtime::component::Component;

use crate::contract::{CONTRACT_PACKAGE, PLUGIN_INTERFACE, SUPPORTED_CONTRACTS};

/// Why a component's contract is not one this host can run.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContractError {
    #[error(
        "the component does not export `{CONTRACT_PACKAGE}/{PLUGIN_INTERFACE}@<version>`, so it is not an atsbridge connector (its exports: {})",
        if found.is_empty() { "none".to_string() } else { found.join(", ") }
    )]
    MissingExport { found: Vec<String> },
    #[error(
        "the component implements {CONTRACT_PACKAGE}@{found}, which this host does not support (supported: {})",
        supported()
    )]
    Unsupported { found: Version },
}

fn supported() -> String {
    SUPPORTED_CONTRACTS.iter().map(|v| format!("{}.{}.x", v.major, v.minor)).collect::<Vec<_>>().join(", ")
}

/// The contract version implemented by `component`.
pub fn implemented_contract(engine: &Engine, component: &Component) -> Result<Version, ContractError> {
    let exports: Vec<String> = component.component_type().exports(engine).map(|(name, _)| name.to_string()).collect();
    let prefix = format!("{CONTRACT_PACKAGE}/{PLUGIN_INTERFACE}@");
    let version = exports
        .iter()
        .find_map(|name| name.strip_prefix(&prefix))
        .and_then(|v| Version::parse(v).ok())
        .ok_or_else(|| ContractError::MissingExport { found: exports.clone() })?;
    check_supported(&version)?;
    Ok(version)
}

/// Whether a contract version is served by one of this host's bindings:
/// same major, and for 0.x the same minor (semver's compatibility rule).
pub fn check_supported(version: &Version) -> Result<(), ContractError> {
    let compatible = SUPPORTED_CONTRACTS
        .iter()
        .any(|s| s.major == version.major && (version.major > 0 || s.minor == version.minor) && version.pre.is_empty());
    if compatible { Ok(()) } else { Err(ContractError::Unsupported { found: version.clone() }) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_compatibility_rule() {
        assert!(check_supported(&Version::new(0, 1, 0)).is_ok());
        assert!(check_supported(&Version::new(0, 1, 7)).is_ok());
        let err = check_supported(&Version::new(0, 9, 0)).unwrap_err();
        assert!(err.to_string().contains("0.9.0") && err.to_string().contains("0.1.x"), "{err}");
        assert!(check_supported(&Version::new(1, 0, 0)).is_err());
    }
}
