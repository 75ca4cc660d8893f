//! A rule's filter, compiled once per pass: which positions it publishes.
//!
//! Patterns are user input matched against ATS text, so every one is
//! bounded: its length, and the size of its compiled program (the `regex`
//! crate matches in linear time, so a hostile pattern cannot make a match
//! slow, only a compile large, which the size limit refuses).

use std::collections::BTreeMap;

use regex::{Regex, RegexBuilder};

use super::PublishError;
use crate::store::{Position, PositionStatus, RuleFilter, TitlePattern};

/// The longest pattern accepted, in bytes: a title pattern is a few words.
pub const MAX_PATTERN_BYTES: usize = 512;
/// The most compiled-program memory one pattern may take: ample for any
/// honest title pattern, far below what a `(a{1000}){1000}` would need.
const MAX_REGEX_BYTES: usize = 256 << 10;
/// The most `extra` fields one filter may name.
pub const MAX_EXTRA_FILTERS: usize = 16;
/// Statuses a filter may name.
pub const STATUSES: &[&str] = &["open", "draft", "on_hold", "other"];

/// The status name the API and filters use.
pub fn status_name(s: &PositionStatus) -> &'static str {
    match s {
        PositionStatus::Open => "open",
        PositionStatus::Closed => "closed",
        PositionStatus::Draft => "draft",
        PositionStatus::OnHold => "on_hold",
        PositionStatus::Other(_) => "other",
    }
}

/// A filter ready to match.
#[derive(Debug)]
pub struct CompiledFilter {
    statuses: Vec<String>,
    title: Option<Regex>,
    location: Option<Regex>,
    extra: BTreeMap<String, Regex>,
}

/// Compiles a pattern with the size bounds.
fn bounded(pattern: &str, case_insensitive: bool, what: &str) -> Result<Regex, PublishError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PublishError::Filter(format!("the {what} pattern is longer than {MAX_PATTERN_BYTES} bytes")));
    }
    RegexBuilder::new(pattern)
        .case_insensitive(case_insensitive)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| PublishError::Filter(format!("the {what} pattern does not compile: {e}")))
}

/// A glob (`*` any run, `?` one character) as an anchored,
/// case-insensitive regex.
fn glob(pattern: &str, what: &str) -> Result<Regex, PublishError> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(PublishError::Filter(format!("the {what} pattern is longer than {MAX_PATTERN_BYTES} bytes")));
    }
    let mut re = String::from("^");
    for c in pattern.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    // The escaped form is longer than the pattern; the length was checked
    // on what the user wrote.
    RegexBuilder::new(&re)
        .case_insensitive(true)
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_BYTES)
        .build()
        .map_err(|e| PublishError::Filter(format!("the {what} pattern does not compile: {e}")))
}

impl CompiledFilter {
    /// Checks and compiles a filter; the error names the part at fault.
    pub fn new(filter: &RuleFilter) -> Result<CompiledFilter, PublishError> {
        for s in &filter.statuses {
            if !STATUSES.contains(&s.as_str()) {
                return Err(PublishError::Filter(format!(
                    "`{s}` is not a status a rule can publish ({})",
                    STATUSES.join(", ")
                )));
            }
        }
        if filter.extra.len() > MAX_EXTRA_FILTERS {
            return Err(PublishError::Filter(format!("at most {MAX_EXTRA_FILTERS} extra fields")));
        }
        let title = match &filter.title {
            None => None,
            Some(TitlePattern::Glob(g)) => Some(glob(g, "title")?),
            Some(TitlePattern::Regex(r)) => Some(bounded(r, false, "title")?),
        };
        let location = filter.location.as_deref().map(|g| glob(g, "location")).transpose()?;
        let extra = filter
            .extra
            .iter()
            .map(|(k, g)| Ok((k.clone(), glob(g, &format!("extra field `{k}`"))?)))
            .collect::<Result<_, PublishError>>()?;
        let statuses = if filter.statuses.is_empty() { vec!["open".to_string()] } else { filter.statuses.clone() };
        Ok(CompiledFilter { statuses, title, location, extra })
    }

    /// Whether the position (its effective values: local edits win)
    /// matches. A closed position never does.
    pub fn matches(&self, p: &Position) -> bool {
        let status = status_name(&p.status);
        status != "closed"
            && self.statuses.iter().any(|s| s == status)
            && self.title.as_ref().is_none_or(|re| re.is_match(p.name.effective()))
            && self.location.as_ref().is_none_or(|re| p.locations.effective().iter().any(|l| re.is_match(l)))
            && self.extra.iter().all(|(k, re)| p.extra.get(k).is_some_and(|v| re.is_match(v)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::JobPatch;
    use crate::store::testutil::job;

    fn position(title: &str) -> Position {
        let mut j = job("J1", title);
        j.status = crate::contract::JobStatus::Open;
        Position::from_patch(1, "acme", "c", &JobPatch::from_job(&j), 1, 1)
    }

    #[test]
    fn globs_regexes_locations_and_extra_fields() {
        let p = position("Senior Rust Engineer");
        let department = p.extra.iter().next().map(|(k, v)| (k.clone(), v.clone())).unwrap();
        let f = |filter: RuleFilter| CompiledFilter::new(&filter).unwrap().matches(&p);
        assert!(f(RuleFilter::default()));
        assert!(f(RuleFilter { title: Some(TitlePattern::Glob("*rust*".into())), ..Default::default() }));
        assert!(!f(RuleFilter { title: Some(TitlePattern::Glob("rust*".into())), ..Default::default() }));
        assert!(f(RuleFilter { title: Some(TitlePattern::Regex(r"Senior\s+\w+".into())), ..Default::default() }));
        assert!(!f(RuleFilter { title: Some(TitlePattern::Regex("^Junior".into())), ..Default::default() }));
        assert!(!f(RuleFilter { statuses: vec!["draft".into()], ..Default::default() }));
        let loc = p.locations.effective()[0].clone();
        assert!(f(RuleFilter { location: Some(loc.to_uppercase()), ..Default::default() }));
        assert!(!f(RuleFilter { location: Some("Atlantis".into()), ..Default::default() }));
        let extra = BTreeMap::from([(department.0.clone(), format!("{}*", &department.1[..1]))]);
        assert!(f(RuleFilter { extra, ..Default::default() }));
        let extra = BTreeMap::from([("no-such-field".to_string(), "*".to_string())]);
        assert!(!f(RuleFilter { extra, ..Default::default() }));
        // Glob metacharacters of regexes are literal.
        assert!(!f(RuleFilter { title: Some(TitlePattern::Glob("Senior.+".into())), ..Default::default() }));
    }

    #[test]
    fn hostile_patterns_are_refused_not_run() {
        let huge = RuleFilter { title: Some(TitlePattern::Regex("(a{1000}){1000}".into())), ..Default::default() };
        let err = CompiledFilter::new(&huge).unwrap_err().to_string();
        assert!(err.contains("title"), "{err}");
        let long = RuleFilter { title: Some(TitlePattern::Glob("a".repeat(10_000))), ..Default::default() };
        assert!(CompiledFilter::new(&long).is_err());
        let bad = RuleFilter { statuses: vec!["closed".into()], ..Default::default() };
        assert!(CompiledFilter::new(&bad).unwrap_err().to_string().contains("closed"));
        // Catastrophic backtracking shapes run in linear time.
        let nested = RuleFilter { title: Some(TitlePattern::Regex("^(a+)+$".into())), ..Default::default() };
        let started = std::time::Instant::now();
        assert!(!CompiledFilter::new(&nested).unwrap().matches(&position(&format!("{}!", "a".repeat(50_000)))));
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
