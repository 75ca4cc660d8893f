//! A connector whose `info()` spins forever. Install must give up after its
//! short fixed deadline rather than the plugin's full call budget.

use std::hint::black_box;

use atsbridge_sdk::prelude::*;

struct SlowInfo;

impl Connector for SlowInfo {
    fn info() -> ConnectorInfo {
        let mut counter: u64 = 0;
        loop {
            // `black_box` keeps the optimiser from proving the loop useless.
            counter = black_box(counter.wrapping_add(1));
        }
    }

    fn check(_: &Config) -> Result<(), ConnectorError> {
        Ok(())
    }

    fn list_jobs(_: &Config, _: Option<String>, _: Option<String>) -> Result<JobPage, ConnectorError> {
        Ok(JobPage { jobs: vec![], next_cursor: None })
    }
}

atsbridge_sdk::export_connector!(SlowInfo);
