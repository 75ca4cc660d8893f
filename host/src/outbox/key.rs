//! The idempotency key of a push.
//!
//! Derived from what the push is (this candidate, onto this position), never
//! from when or how often it is attempted, so every retry, on this process
//! or after a restart, sends the same key and a connector that has seen it
//! answers with the candidate it created instead of creating another.

use sha2::{Digest, Sha256};

/// Names the derivation, so keys from a future scheme never collide with
/// these. Fixed forever: changing it would make retries of pushes queued
/// before an upgrade look new to the ATS.
const DOMAIN: &[u8] = b"atsbridge push-candidate v1\0";
/// Hex characters kept: 128 bits, short enough for any ATS's header or
/// field limit, far beyond any chance of collision.
const KEY_HEX_CHARS: usize = 32;

/// The idempotency key of pushing `candidate_id` onto `position_id`.
pub fn push_key(candidate_id: u64, position_id: u64) -> String {
    let mut hash = Sha256::new();
    hash.update(DOMAIN);
    hash.update(candidate_id.to_be_bytes());
    hash.update(position_id.to_be_bytes());
    let mut key = hex::encode(hash.finalize());
    key.truncate(KEY_HEX_CHARS);
    format!("atsbridge-{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stable_and_names_one_pair() {
        // Pinned: a retry after an upgrade must send the same key.
        assert_eq!(push_key(1, 2), push_key(1, 2));
        assert_eq!(push_key(1, 2).len(), 10 + KEY_HEX_CHARS);
        assert_ne!(push_key(1, 2), push_key(2, 1), "the pair is ordered");
        assert_ne!(push_key(1, 2), push_key(1, 3));
        assert_eq!(push_key(7, 9), PINNED);
    }

    const PINNED: &str = "atsbridge-37de493598fe34a2a8b96677a6364f3b";
}
