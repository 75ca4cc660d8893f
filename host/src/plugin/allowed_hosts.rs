//! Outbound host allow-lists, parsed once and checked in one place.
//!
//! A pattern is `scheme://host[:port]`, where `host` may start with a `*.`
//! wildcard label (`https://*.workable.com` matches `acme.workable.com` but
//! not `workable.com` or `evil-workable.com`). Without a port the scheme's
//! default port is implied; `:*` allows any port. Paths are not allowed in
//! patterns: a connector either may talk to a host or may not.

use std::fmt;

use url::Url;

/// Why an allowed-host pattern was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum PatternError {
    /// Not of the form `scheme://host[:port]`.
    #[error("`{pattern}` is not of the form scheme://host[:port]: {reason}")]
    Malformed { pattern: String, reason: String },
    /// Only `http` and `https` are served by the `http` import.
    #[error("`{pattern}`: scheme `{scheme}` is not allowed (use http or https)")]
    Scheme { pattern: String, scheme: String },
    /// A `*` anywhere but as a whole leading label.
    #[error("`{pattern}`: a wildcard may only be a whole leading label, as in *.example.com")]
    Wildcard { pattern: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum HostMatch {
    Exact(String),
    /// Matches any host ending in `.{suffix}` (at least one more label).
    Subdomains(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PortMatch {
    Exact(u16),
    Any,
}

/// One parsed allowed-host pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern {
    source: String,
    scheme: String,
    host: HostMatch,
    port: PortMatch,
}

impl HostPattern {
    /// Parses `scheme://host[:port]`.
    pub fn parse(pattern: &str) -> Result<Self, PatternError> {
        let malformed =
            |reason: &str| PatternError::Malformed { pattern: pattern.to_string(), reason: reason.to_string() };
        let (scheme, rest) = pattern.split_once("://").ok_or_else(|| malformed("missing scheme"))?;
        let scheme = scheme.to_ascii_lowercase();
        if scheme != "http" && scheme != "https" {
            return Err(PatternError::Scheme { pattern: pattern.to_string(), scheme });
        }
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.contains('/') || rest.contains('?') || rest.contains('#') || rest.contains('@') {
            return Err(malformed("only scheme, host and port are allowed"));
        }
        let (host_part, any_port) = match rest.strip_suffix(":*") {
            Some(h) => (h, true),
            None => (rest, false),
        };
        let (wildcard, bare_host) = match host_part.strip_prefix("*.") {
            Some(h) => (true, h),
            None => (false, host_part),
        };
        if bare_host.contains('*') {
            return Err(PatternError::Wildcard { pattern: pattern.to_string() });
        }
        // Let the URL parser normalise the host (IDNA, IPv6 brackets, case)
        // and the port rather than doing it by hand.
        let url = Url::parse(&format!("{scheme}://{bare_host}/")).map_err(|e| malformed(&e.to_string()))?;
        let host = url.host_str().ok_or_else(|| malformed("missing host"))?.to_string();
        let port = if any_port {
            PortMatch::Any
        } else {
            PortMatch::Exact(url.port_or_known_default().ok_or_else(|| malformed("no port"))?)
        };
        let host = if wildcard { HostMatch::Subdomains(host) } else { HostMatch::Exact(host) };
        Ok(HostPattern { source: pattern.to_string(), scheme, host, port })
    }

    /// Whether `url` is covered by this pattern.
    pub fn matches(&self, url: &Url) -> bool {
        if url.scheme() != self.scheme {
            return false;
        }
        let Some(host) = url.host_str() else { return false };
        let host_ok = match &self.host {
            HostMatch::Exact(h) => host == h,
            HostMatch::Subdomains(suffix) => {
                host.strip_suffix(suffix.as_str()).is_some_and(|prefix| prefix.len() > 1 && prefix.ends_with('.'))
            }
        };
        let port_ok = match self.port {
            PortMatch::Any => true,
            PortMatch::Exact(p) => url.port_or_known_default() == Some(p),
        };
        host_ok && port_ok
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

/// A set of allowed-host patterns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    patterns: Vec<HostPattern>,
}

impl AllowedHosts {
    /// Parses every pattern; the first bad one is the error.
    pub fn parse<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let patterns = patterns.iter().map(|p| HostPattern::parse(p.as_ref())).collect::<Result<_, _>>()?;
        Ok(AllowedHosts { patterns })
    }

    /// Whether any pattern covers `url`.
    pub fn allows(&self, url: &Url) -> bool {
        self.patterns.iter().any(|p| p.matches(url))
    }

    /// This list plus `other`'s patterns.
    pub fn union(&self, other: &AllowedHosts) -> AllowedHosts {
        let mut patterns = self.patterns.clone();
        patterns.extend(other.patterns.iter().cloned());
        AllowedHosts { patterns }
    }

    /// The patterns as written.
    pub fn iter(&self) -> impl Iterator<Item = &HostPattern> {
        self.patterns.iter()
    }

    /// True when nothing is allowed.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(patterns: &[&str], url: &str) -> bool {
        AllowedHosts::parse(patterns).unwrap().allows(&Url::parse(url).unwrap())
    }

    #[test]
    fn exact_host_with_default_port() {
        assert!(allows(&["https://harvest.greenhouse.io"], "https://harvest.greenhouse.io/v3/jobs?x=1"));
        assert!(allows(&["https://harvest.greenhouse.io"], "https://HARVEST.greenhouse.io:443/v3"));
        assert!(!allows(&["https://harvest.greenhouse.io"], "http://harvest.greenhouse.io/v3"));
        assert!(!allows(&["https://harvest.greenhouse.io"], "https://harvest.greenhouse.io:8443/"));
        assert!(!allows(&["https://harvest.greenhouse.io"], "https://harvest.greenhouse.io.evil.com/"));
    }

    #[test]
    fn wildcard_matches_subdomains_only() {
        let p = ["https://*.workable.com"];
        assert!(allows(&p, "https://acme.workable.com/spi/v3/jobs"));
        assert!(allows(&p, "https://a.b.workable.com/"));
        assert!(!allows(&p, "https://workable.com/"));
        assert!(!allows(&p, "https://evilworkable.com/"));
        assert!(!allows(&p, "https://acme.workable.com.evil.io/"));
    }

    #[test]
    fn ports_and_loopback() {
        assert!(allows(&["http://127.0.0.1:8080"], "http://127.0.0.1:8080/jobs"));
        assert!(!allows(&["http://127.0.0.1:8080"], "http://127.0.0.1:8081/jobs"));
        assert!(allows(&["http://127.0.0.1:*"], "http://127.0.0.1:39123/jobs"));
        assert!(!allows(&["http://127.0.0.1:*"], "http://localhost:39123/jobs"));
    }

    #[test]
    fn userinfo_does_not_fool_the_matcher() {
        assert!(!allows(&["https://api.lever.co"], "https://api.lever.co@evil.com/"));
    }

    #[test]
    fn bad_patterns_are_named() {
        assert!(matches!(HostPattern::parse("api.lever.co"), Err(PatternError::Malformed { .. })));
        assert!(matches!(HostPattern::parse("ftp://x.io"), Err(PatternError::Scheme { .. })));
        assert!(matches!(HostPattern::parse("https://a.*.io"), Err(PatternError::Wildcard { .. })));
        assert!(matches!(HostPattern::parse("https://x.io/path"), Err(PatternError::Malformed { .. })));
        let err = HostPattern::parse("https://x.io/path").unwrap_err().to_string();
        assert!(err.contains("https://x.io/path"), "{err}");
    }
}
