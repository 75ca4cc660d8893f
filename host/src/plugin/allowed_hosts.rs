//! Outbound host allow-lists, parsed once and checked in one place.
//!
//! A pattern is `scheme://host[:port]`, where `host` may start with a `*.`
//! wildcard label (`https://*.workable.com` matches `acme.workable.com` but
//! not `workable.com` or `evil-workable.com`). Without a port the scheme's
//! default port is implied; `:*` allows any port. Paths are not allowed in
//! patterns: a connector either may talk to a host or may not.
//!
//! A wildcard must stand below a registrable domain: `*.com`, `*.co.uk` or
//! `*.github.io` would hand a plugin every site under a public suffix, so
//! they are refused (judged by the public suffix list, `psl`). A manifest's
//! own list ([`AllowedHosts::parse_for_manifest`]) may not name `localhost`
//! or a non-public IP address either: only the operator can grant those, per
//! connection (see [`super::address_policy`]).

use std::fmt;
use std::net::IpAddr;

use url::{Host, Url};

use super::address_policy;

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
    /// A wildcard directly under a public suffix (`*.com`, `*.co.uk`).
    #[error("`{pattern}`: a wildcard directly under the public suffix `{suffix}` would allow every site under it")]
    PublicSuffix { pattern: String, suffix: String },
    /// A manifest naming the local machine or a non-public address.
    #[error(
        "`{pattern}`: {reason}; a manifest may name public hosts only (the operator can grant such a host to a connection)"
    )]
    NotPublic { pattern: String, reason: String },
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
        if wildcard {
            let Some(Host::Domain(domain)) = url.host() else {
                return Err(PatternError::Wildcard { pattern: pattern.to_string() });
            };
            let domain = domain.trim_end_matches('.');
            // No registrable domain (`com`, `co.uk`, an unknown TLD): the
            // whole name is a public suffix.
            if atsbridge_public_suffix::registrable_domain(domain).is_none() {
                let suffix = atsbridge_public_suffix::public_suffix(domain).unwrap_or(domain).to_string();
                return Err(PatternError::PublicSuffix { pattern: pattern.to_string(), suffix });
            }
        }
        let port = if any_port {
            PortMatch::Any
        } else {
            PortMatch::Exact(url.port_or_known_default().ok_or_else(|| malformed("no port"))?)
        };
        let host = if wildcard { HostMatch::Subdomains(host) } else { HostMatch::Exact(host) };
        Ok(HostPattern { source: pattern.to_string(), scheme, host, port })
    }

    /// Refuses what only an operator may grant: `localhost` names and
    /// non-public IP literals.
    fn check_public(&self) -> Result<(), PatternError> {
        let name = match &self.host {
            HostMatch::Exact(h) | HostMatch::Subdomains(h) => h,
        };
        let not_public = |reason: String| PatternError::NotPublic { pattern: self.source.clone(), reason };
        if address_policy::is_local_name(name) {
            return Err(not_public(format!("`{name}` names the local machine")));
        }
        let literal = name.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && let Some(reason) = address_policy::non_public_reason(ip)
        {
            return Err(not_public(format!("{ip} is {reason}")));
        }
        Ok(())
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

    /// Parses a manifest's patterns: as [`AllowedHosts::parse`], and none
    /// may name `localhost` or a non-public IP address.
    pub fn parse_for_manifest<S: AsRef<str>>(patterns: &[S]) -> Result<Self, PatternError> {
        let hosts = Self::parse(patterns)?;
        for p in &hosts.patterns {
            p.check_public()?;
        }
        Ok(hosts)
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
    fn wildcards_on_public_suffixes_are_refused() {
        for p in ["https://*.com", "https://*.co.uk", "https://*.github.io", "http://*.internal", "https://*.com.:*"] {
            assert!(matches!(HostPattern::parse(p), Err(PatternError::PublicSuffix { .. })), "{p}");
        }
        let err = HostPattern::parse("https://*.co.uk").unwrap_err().to_string();
        assert!(err.contains("co.uk"), "{err}");
        for p in ["https://*.workable.com", "https://*.acme.co.uk", "https://*.corp.internal"] {
            assert!(HostPattern::parse(p).is_ok(), "{p}");
        }
        assert!(matches!(HostPattern::parse("https://*.1.2.3"), Err(PatternError::Wildcard { .. })));
    }

    #[test]
    fn a_manifest_cannot_name_local_or_private_hosts() {
        for p in [
            "http://127.0.0.1:*",
            "http://localhost:8080",
            "http://LOCALHOST.",
            "http://api.localhost",
            "http://169.254.169.254",
            "http://10.0.0.5",
            "http://[::1]:80",
            "http://[::ffff:127.0.0.1]",
            "http://[fd00::1]",
            "http://0.0.0.0",
            "http://100.64.1.1",
        ] {
            let err = AllowedHosts::parse_for_manifest(&[p]).unwrap_err();
            assert!(matches!(err, PatternError::NotPublic { .. }), "{p}: {err}");
            assert!(err.to_string().contains("operator"), "{err}");
        }
        // The operator may still grant them.
        assert!(AllowedHosts::parse(&["http://127.0.0.1:*", "http://localhost:8080"]).is_ok());
        assert!(AllowedHosts::parse_for_manifest(&["https://api.lever.co", "http://93.184.216.34"]).is_ok());
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
