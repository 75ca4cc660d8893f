//! Where a plugin's requests may connect: public addresses only, checked at
//! connect time.
//!
//! A host name is checked by the resolver the HTTP client connects with
//! ([`PublicOnlyResolver`]), so every address a name resolves to is judged
//! by [`address_policy`] after resolution, when the connection is made (a
//! string check on the URL would miss `attacker.example` pointing at
//! 127.0.0.1, and a check before resolving would be undone by a second DNS
//! answer). IP-literal URLs never reach a resolver and are checked by
//! [`check_literal`]. A host the operator granted to the connection is sent
//! through a client with the system resolver instead: self-hosted ATS and
//! test mocks live on private and loopback addresses.
//!
//! Neither client uses a proxy from the environment: through a proxy, the
//! address checked would be the proxy's, not the target's.

use std::error::Error as StdError;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::{Host, Url};

use crate::plugin::address_policy;

/// Longest a name lookup may take; the request's own timeout bounds the
/// rest.
const DNS_TIMEOUT: Duration = Duration::from_secs(10);
/// Connecting (TCP and TLS handshake) must not take longer than this.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A request refused because of the address it would connect to.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "{host} {verb} {addr}, which is {reason}; plugins may reach public addresses only, unless the operator grants this host to the connection"
)]
pub struct AddressRefused {
    pub host: String,
    pub addr: IpAddr,
    pub reason: &'static str,
    verb: &'static str,
}

/// Resolves names with the system resolver and keeps only public
/// addresses; a name with none left is refused.
#[derive(Debug, Default)]
pub struct PublicOnlyResolver;

impl Resolve for PublicOnlyResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let lookup = tokio::net::lookup_host((host.as_str(), 0));
            let resolved: Vec<SocketAddr> = tokio::time::timeout(DNS_TIMEOUT, lookup)
                .await
                .map_err(|_| format!("resolving {host} took longer than {DNS_TIMEOUT:?}"))??
                .collect();
            let (public, refused): (Vec<SocketAddr>, Vec<SocketAddr>) =
                resolved.into_iter().partition(|a| address_policy::is_public(a.ip()));
            if public.is_empty()
                && let Some(first) = refused.first()
            {
                let reason = address_policy::non_public_reason(first.ip()).unwrap_or("not public");
                return Err(Box::new(AddressRefused { host, addr: first.ip(), reason, verb: "resolves to" }) as _);
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// Refuses a URL whose host is a non-public IP literal (these bypass the
/// resolver).
pub fn check_literal(url: &Url) -> Result<(), AddressRefused> {
    let ip = match url.host() {
        Some(Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(Host::Ipv6(v6)) => IpAddr::V6(v6),
        _ => return Ok(()),
    };
    match address_policy::non_public_reason(ip) {
        Some(reason) => Err(AddressRefused { host: ip.to_string(), addr: ip, reason, verb: "is" }),
        None => Ok(()),
    }
}

/// The address refusal behind a transport error, if that is what it was.
pub fn find_refusal<'a>(error: &'a (dyn StdError + 'static)) -> Option<&'a AddressRefused> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(refused) = e.downcast_ref::<AddressRefused>() {
            return Some(refused);
        }
        current = e.source();
    }
    None
}

/// The two clients a runtime sends plugin requests with.
pub struct Clients {
    /// For hosts from manifests: public addresses only.
    pub public: reqwest::Client,
    /// For hosts the operator granted to the connection: any address.
    pub granted: reqwest::Client,
}

impl Clients {
    pub fn new() -> Result<Self, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .connect_timeout(CONNECT_TIMEOUT)
                .user_agent(concat!("atsbridge/", env!("CARGO_PKG_VERSION")))
        };
        Ok(Clients {
            public: base().dns_resolver(std::sync::Arc::new(PublicOnlyResolver)).build()?,
            granted: base().build()?,
        })
    }
}

/// Refused requests of one call: counted, and logged once when the call
/// ends (a plugin retrying a refused host in a loop must not flood the log).
#[derive(Debug)]
pub struct Denials {
    plugin: String,
    connection: String,
    count: AtomicU64,
    first: Mutex<Option<String>>,
}

impl Denials {
    pub fn new(plugin: &str, connection: Option<&str>) -> Self {
        Denials {
            plugin: plugin.to_string(),
            connection: connection.unwrap_or("-").to_string(),
            count: AtomicU64::new(0),
            first: Mutex::new(None),
        }
    }

    /// Counts one refusal; the first one's reason goes into the log line.
    pub fn record(&self, why: &str) {
        tracing::debug!(plugin = %self.plugin, connection = %self.connection, why, "refused plugin request");
        if self.count.fetch_add(1, Ordering::Relaxed) == 0 {
            *self.first.lock().unwrap_or_else(|e| e.into_inner()) = Some(why.to_string());
        }
    }

    /// Refusals so far in this call.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

impl Drop for Denials {
    fn drop(&mut self) {
        let denied = self.count();
        if denied == 0 {
            return;
        }
        let first = self.first.get_mut().map(|f| f.take()).unwrap_or_default().unwrap_or_default();
        tracing::warn!(plugin = %self.plugin, connection = %self.connection, denied, first = %first,
            "refused plugin requests to hosts or addresses it may not reach");
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[tokio::test]
    async fn the_resolver_refuses_names_of_local_addresses() {
        let name = Name::from_str("localhost").unwrap();
        let err = PublicOnlyResolver.resolve(name).await.err().expect("localhost must be refused");
        let refused = err.downcast_ref::<AddressRefused>().expect("an address refusal");
        assert!(refused.addr.is_loopback(), "{refused}");
        assert!(refused.to_string().contains("localhost resolves to"), "{refused}");
        assert!(find_refusal(&*err).is_some());
    }

    #[test]
    fn literals_are_checked() {
        for url in ["http://127.0.0.1:9/", "http://[::ffff:169.254.169.254]/", "http://10.1.1.1/", "http://[fe80::1]/"]
        {
            assert!(check_literal(&Url::parse(url).unwrap()).is_err(), "{url}");
        }
        assert!(check_literal(&Url::parse("https://93.184.216.34/").unwrap()).is_ok());
        assert!(check_literal(&Url::parse("https://api.lever.co/").unwrap()).is_ok());
    }
}
