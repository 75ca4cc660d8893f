//! Injectable faults: what can go wrong between a connector and an ATS.
//!
//! A [`FaultRule`] says which fault, how many times, and optionally on which
//! path prefix. Rules are checked in the order they were injected; the first
//! one that matches a request fires and its count goes down by one. A rule
//! without a path never fires on the mock's auxiliary endpoints (the
//! Greenhouse OAuth token endpoint and the Ashby upload URL), so
//! `inject(Fault::Status(500))` hits the next *API* call rather than the
//! token request that precedes it; scope a rule to `/auth/token` to break
//! token issuance on purpose.

use std::time::Duration;

/// One kind of misbehaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// Answer with this HTTP status instead of handling the request.
    /// 500 carries the vendor's JSON error body; 502/503/504 an HTML page as
    /// a load balancer would; any other status the vendor's error body.
    Status(u16),
    /// Answer `429` with the vendor's rate-limit headers and
    /// `Retry-After: retry_after_secs`, regardless of the configured limiter.
    RateLimit {
        /// Seconds the client is told to wait.
        retry_after_secs: u64,
    },
    /// Wait this long before handling the request (the response is normal).
    Slow(Duration),
    /// Handle the request, then send only the first half of the body (with
    /// the normal status and `Content-Type: application/json`): invalid JSON.
    MalformedJson,
    /// Close the TCP connection without writing any response. The mock runs
    /// its own accept loop; the handler signals the connection task, which
    /// drops the socket while the request is in flight. Clients see a
    /// connection reset / "connection closed before message completed".
    DropConnection,
    /// Serve the request normally, then change the data before the next one:
    /// one new job is added (it sorts last, so a listing in progress will
    /// reach it) and the first job in listing order is updated (it was
    /// already served, so only a later incremental sync sees the change).
    /// Unscoped, this fires after the next request to the vendor's job
    /// listing path.
    ChangePageBetweenRequests,
}

/// A fault plus when it fires.
///
/// ```
/// use atsbridge_mock_ats::{Fault, FaultRule};
/// let rule = FaultRule::new(Fault::Status(503)).times(2).on_path("/v3/jobs");
/// # let _ = rule;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultRule {
    /// What happens.
    pub fault: Fault,
    /// How many more times it fires (`u32::MAX` for "until cleared").
    pub remaining: u32,
    /// Only requests whose path starts with this fire it.
    pub path_prefix: Option<String>,
}

impl FaultRule {
    /// Fires once on the next API request.
    pub fn new(fault: Fault) -> Self {
        Self { fault, remaining: 1, path_prefix: None }
    }

    /// Fires on the next `n` matching requests.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = n;
        self
    }

    /// Only on requests whose path (without the query) starts with `prefix`.
    pub fn on_path(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }
}

impl From<Fault> for FaultRule {
    fn from(fault: Fault) -> Self {
        FaultRule::new(fault)
    }
}

/// The pending rules of one mock.
#[derive(Debug, Default)]
pub(crate) struct FaultSet {
    rules: Vec<FaultRule>,
}

impl FaultSet {
    pub(crate) fn push(&mut self, rule: FaultRule) {
        if rule.remaining > 0 {
            self.rules.push(rule);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.rules.clear();
    }

    /// Takes one firing of the first rule matching `path`.
    ///
    /// `auxiliary` marks the token / upload endpoints, which only rules
    /// scoped to them can hit. `job_list_paths` are where an unscoped
    /// [`Fault::ChangePageBetweenRequests`] fires.
    pub(crate) fn take(&mut self, path: &str, auxiliary: bool, job_list_paths: &[&str]) -> Option<Fault> {
        let pos = self.rules.iter().position(|r| match (&r.path_prefix, &r.fault) {
            (Some(prefix), _) => path.starts_with(prefix.as_str()),
            (None, Fault::ChangePageBetweenRequests) => job_list_paths.contains(&path),
            (None, _) => !auxiliary,
        })?;
        let rule = &mut self.rules[pos];
        let fault = rule.fault.clone();
        rule.remaining -= 1;
        if rule.remaining == 0 {
            self.rules.remove(pos);
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_fire_in_order_count_down_and_respect_scope() {
        let mut set = FaultSet::default();
        set.push(FaultRule::new(Fault::Status(503)).times(2).on_path("/v1/postings"));
        set.push(Fault::MalformedJson.into());
        assert_eq!(set.take("/auth/token", true, &["/v3/jobs"]), None);
        assert_eq!(set.take("/v1/stages", false, &["/v3/jobs"]), Some(Fault::MalformedJson));
        assert_eq!(set.take("/v1/stages", false, &["/v3/jobs"]), None);
        assert_eq!(set.take("/v1/postings", false, &["/v3/jobs"]), Some(Fault::Status(503)));
        assert_eq!(set.take("/v1/postings/x", false, &["/v3/jobs"]), Some(Fault::Status(503)));
        assert_eq!(set.take("/v1/postings", false, &["/v3/jobs"]), None);
        set.push(Fault::ChangePageBetweenRequests.into());
        assert_eq!(set.take("/v3/jobs/1/stages", false, &["/v3/jobs"]), None);
        assert_eq!(set.take("/v3/jobs", false, &["/v3/jobs"]), Some(Fault::ChangePageBetweenRequests));
    }
}
