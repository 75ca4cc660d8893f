//! A connector whose `info()` is absurdly large: 100,000 settings and a
//! 1 MiB vendor string. The host must refuse to install it with a clear
//! message instead of storing and printing it.

use atsbridge_sdk::prelude::*;

struct BloatedInfo;

/// Settings declared; real connectors declare under ten.
const SETTINGS: usize = 100_000;
/// Length of the vendor string.
const VENDOR_BYTES: usize = 1 << 20;

impl Connector for BloatedInfo {
    fn info() -> ConnectorInfo {
        ConnectorInfo {
            name: "Bloated Info".into(),
            version: "0.1.0".into(),
            vendor: "v".repeat(VENDOR_BYTES),
            capabilities: vec![],
            config_schema: (0..SETTINGS).map(|i| SettingSpec::text(format!("s{i}"), "Setting")).collect(),
        }
    }

    fn check(_: &Config) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn list_jobs(_: &Config, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        Ok(JobPage { jobs: vec![], next_cursor: None })
    }
}

atsbridge_sdk::export_connector!(BloatedInfo);
