//! The report as JUnit XML, for CI systems that show test results.
//!
//! One test suite named after the plugin, one test case per check: a
//! failed check is a `<failure>` and a skipped one `<skipped>`, each with
//! the check's detail as its message. The detail often quotes what the
//! plugin or the ATS said; `quick-junit` escapes it and strips control
//! characters and terminal escapes, so neither can break the XML or a CI
//! page that shows it.

use std::time::Duration;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::{Outcome, Report};

/// Why the report could not be written as JUnit XML.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JunitError {
    /// The XML writer failed.
    #[error("cannot write the conformance report as JUnit XML: {0}")]
    Serialize(#[from] quick_junit::SerializeError),
}

impl Report {
    /// The report as a JUnit XML document.
    pub fn junit(&self) -> Result<String, JunitError> {
        let mut suite = TestSuite::new(format!("conformance of {} {}", self.plugin, self.version));
        suite.add_property(("target", self.target.as_str()));
        let mut total = Duration::ZERO;
        for check in &self.checks {
            let mut status = match check.outcome {
                Outcome::Pass => TestCaseStatus::success(),
                Outcome::Fail => TestCaseStatus::non_success(NonSuccessKind::Failure),
                Outcome::Skip => TestCaseStatus::skipped(),
            };
            if check.outcome != Outcome::Pass {
                status.set_message(check.detail.as_str());
            }
            let mut case = TestCase::new(check.id.name(), status);
            let time = Duration::from_millis(check.millis);
            total += time;
            case.set_classname(format!("conformance.{}", self.plugin)).set_time(time);
            if check.outcome == Outcome::Pass {
                case.set_system_out(check.detail.as_str());
            }
            suite.add_test_case(case);
        }
        suite.set_time(total);
        let mut report = quick_junit::Report::new("atsbridge plugin test");
        report.set_time(total).add_test_suite(suite);
        Ok(report.to_string()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{CheckId, CheckResult};
    use super::*;

    #[test]
    fn checks_become_cases_and_plugin_text_is_escaped() {
        let result = |id: CheckId, outcome, detail: &str| CheckResult {
            id,
            title: id.title(),
            outcome,
            detail: detail.into(),
            millis: 5,
        };
        let report = Report {
            plugin: "acme".into(),
            version: "1.0.0".into(),
            target: "mock lever at http://127.0.0.1:1".into(),
            passed: false,
            checks: vec![
                result(CheckId::Info, Outcome::Pass, "Acme 1.0.0"),
                result(CheckId::FullListing, Outcome::Fail, "page 2 failed: </failure><x a=\"1\">&\u{1b}[31m\u{7}"),
                result(CheckId::Push, Outcome::Skip, "allow writes first"),
            ],
        };
        let xml = report.junit().unwrap();
        assert!(xml.contains(r#"<testsuite name="conformance of acme 1.0.0" tests="3""#), "{xml}");
        assert!(xml.contains(r#"failures="1""#) && xml.contains(r#"disabled="1""#), "{xml}");
        assert!(xml.contains(r#"<testcase name="full-listing" classname="conformance.acme""#), "{xml}");
        // The plugin's text is data: escaped, no escape codes, no bell.
        assert!(xml.contains("&lt;/failure&gt;&lt;x a=&quot;1&quot;&gt;&amp;"), "{xml}");
        assert!(!xml.contains("</failure><x") && !xml.contains('\u{1b}') && !xml.contains('\u{7}'), "{xml}");
        assert!(xml.contains("<skipped message=\"allow writes first\""), "{xml}");
    }
}
