//! The report as a table for people.

use std::fmt::Write as _;

use super::{Outcome, Report};

impl Outcome {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "PASS",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "SKIP",
        }
    }
}

impl Report {
    /// A heading, one line per check (name, result, time, detail) and a
    /// summary line.
    pub fn table(&self) -> String {
        let width = self.checks.iter().map(|c| c.id.name().len()).max().unwrap_or(0).max("CHECK".len());
        let mut out = String::new();
        let _ = writeln!(out, "conformance of {} {} against {}\n", self.plugin, self.version, self.target);
        let _ = writeln!(out, "{:<width$}  {:<6} {:>7}  DETAIL", "CHECK", "RESULT", "TIME");
        for c in &self.checks {
            let time = format!("{}ms", c.millis);
            let _ = writeln!(out, "{:<width$}  {:<6} {time:>7}  {}", c.id.name(), c.outcome.label(), c.detail);
        }
        let _ = writeln!(
            out,
            "\n{} checks: {} passed, {} failed, {} skipped",
            self.checks.len(),
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip)
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CheckId, CheckResult};
    use super::*;

    #[test]
    fn table_lists_every_check_and_counts() {
        let result = |id: CheckId, outcome, detail: &str| CheckResult {
            id,
            title: id.title(),
            outcome,
            detail: detail.into(),
            millis: 3,
        };
        let report = Report {
            plugin: "acme".into(),
            version: "1.0.0".into(),
            target: "a server (generic checks)".into(),
            passed: false,
            checks: vec![
                result(CheckId::Info, Outcome::Pass, "Acme 1.0.0"),
                result(CheckId::FullListing, Outcome::Fail, "job 7 listed twice"),
                result(CheckId::RateLimited, Outcome::Skip, "needs a mock"),
            ],
        };
        let table = report.table();
        assert!(table.contains("full-listing  FAIL       3ms  job 7 listed twice"), "{table}");
        assert!(table.contains("rate-limited  SKIP"), "{table}");
        assert!(table.ends_with("3 checks: 1 passed, 1 failed, 1 skipped\n"), "{table}");
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["checks"][1]["id"], "full-listing");
        assert_eq!(json["checks"][1]["outcome"], "fail");
        assert_eq!(json["passed"], false);
    }
}
