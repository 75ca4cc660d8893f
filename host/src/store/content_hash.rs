//! A job's content hash: tells an unchanged job without comparing it field
//! by field.
//!
//! Every listed job is hashed on every sync, so the hash is chosen for
//! speed: the 128-bit XXH3. It does not resist an adversary, and need not:
//! the hash only decides whether the ATS's copy of a job changed, and the
//! ATS is the source of that content anyway (a crafted collision could at
//! most hide a change its author made). 128 bits keep accidental collisions
//! negligible (about 2^-64 after 2^32 versions of one job).
//!
//! Positions written before this hash held a SHA-256 of the same bytes
//! ([`ContentHash::Sha256`], 64 hex digits, no prefix); the current form
//! carries [`XXH3_PREFIX`], so a stored hash says which form it is and an
//! upgrade can tell an old fingerprint from a changed job (`job_entry`).

use xxhash_rust::xxh3::xxh3_128;

use crate::contract::{Job, JobStatus};

/// Marks a content hash of the current form (XXH3-128, 32 hex digits).
pub(crate) const XXH3_PREFIX: &str = "xxh3:";
/// Bytes of an XXH3-128 hash.
pub(crate) const XXH3_LEN: usize = 16;
/// The largest hashing buffer kept between jobs: jobs are a few KiB, and a
/// rare huge one should not keep its memory.
const KEPT_BUFFER_BYTES: usize = 1 << 20;
/// Bytes of a SHA-256 hash (the form before XXH3).
pub(crate) const SHA256_LEN: usize = 32;

/// A stored or listed content hash, by form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ContentHash {
    /// SHA-256, as positions written before XXH3 hold it.
    Sha256([u8; SHA256_LEN]),
    /// XXH3-128, what [`job_content_hash`] gives now.
    Xxh3([u8; XXH3_LEN]),
}

impl ContentHash {
    /// Reads a hash as [`job_content_hash`] writes it (or as the SHA-256
    /// form was written); `None` for anything else.
    pub(crate) fn parse(text: &str) -> Option<ContentHash> {
        if let Some(hex_digits) = text.strip_prefix(XXH3_PREFIX) {
            let mut bytes = [0u8; XXH3_LEN];
            hex::decode_to_slice(hex_digits, &mut bytes).ok()?;
            return Some(ContentHash::Xxh3(bytes));
        }
        let mut bytes = [0u8; SHA256_LEN];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(ContentHash::Sha256(bytes))
    }
}

/// The content hash of everything in a job, to tell an unchanged job
/// cheaply: [`XXH3_PREFIX`] and the XXH3-128 in hex.
///
/// Hashed over an explicit length-prefixed encoding (one update per piece,
/// no intermediate string) rather than a serde format, so the hash stays
/// the same across releases and a host upgrade does not count every job as
/// updated. The bytes are those the SHA-256 form hashed.
pub fn job_content_hash(job: &Job) -> String {
    // The job's bytes are gathered in one buffer and hashed in one call: the
    // streaming hasher's setup and its per-piece calls cost more than the
    // copy (a few KiB, most of it the description). The buffer is kept per
    // thread and trimmed back when a huge job grew it.
    thread_local! {
        static BYTES: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    let hash = BYTES.with_borrow_mut(|bytes| {
        bytes.clear();
        feed(job, |piece| bytes.extend_from_slice(piece));
        let hash = xxh3_128(bytes);
        if bytes.capacity() > KEPT_BUFFER_BYTES {
            *bytes = Vec::new();
        }
        hash
    });
    let mut digits = [0u8; 2 * XXH3_LEN];
    // The buffer is exactly twice the hash's length, as `encode_to_slice` requires.
    let _ = hex::encode_to_slice(hash.to_be_bytes(), &mut digits);
    let mut text = String::with_capacity(XXH3_PREFIX.len() + digits.len());
    text.push_str(XXH3_PREFIX);
    text.push_str(std::str::from_utf8(&digits).unwrap_or_default());
    text
}

/// The SHA-256 form of [`job_content_hash`], as stores written before XXH3
/// hold it (tests build such stores with it).
#[cfg(test)]
pub(crate) fn sha256_content_hash(job: &Job) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    feed(job, |bytes| hasher.update(bytes));
    hex::encode(hasher.finalize())
}

/// Gives `update` the job's bytes: each field as its length (`u64` BE) and
/// its bytes; counts and statuses as the text they always were, written
/// without allocating (this runs for every listed job).
fn feed(job: &Job, update: impl FnMut(&[u8])) {
    let mut out = Feed(update);
    let mut digits = [0u8; 20];
    out.put(&job.code);
    match &job.status {
        // The status's `Display`, `other (<raw>)`, in pieces.
        JobStatus::Other(raw) => {
            const OPEN: &str = "other (";
            const CLOSE: &str = ")";
            out.len(OPEN.len() + raw.len() + CLOSE.len());
            out.raw(OPEN);
            out.raw(raw);
            out.raw(CLOSE);
        }
        known => out.put(status_text(known)),
    }
    out.put(&job.raw_status);
    out.put(&job.title);
    out.put(decimal(job.locations.len(), &mut digits));
    job.locations.iter().for_each(|l| out.put(l));
    out.put(&job.description);
    out.put(decimal(job.assigned_users.len(), &mut digits));
    for u in &job.assigned_users {
        out.put(&u.ats_id);
        out.put(&u.name);
        // Distinguishes "no email" from an empty one.
        out.put(if u.email.is_some() { "1" } else { "0" });
        out.put(u.email.as_deref().unwrap_or(""));
    }
    out.put(if job.updated_at.is_some() { "1" } else { "0" });
    out.put(job.updated_at.as_deref().unwrap_or(""));
    out.put(decimal(job.extra.len(), &mut digits));
    for f in &job.extra {
        out.put(&f.key);
        out.put(&f.value);
    }
}

/// The hasher's input, written piece by piece.
struct Feed<F>(F);

impl<F: FnMut(&[u8])> Feed<F> {
    /// A length-prefixed string.
    fn put(&mut self, s: &str) {
        self.len(s.len());
        self.raw(s);
    }

    /// A length prefix alone (its string follows in pieces).
    fn len(&mut self, n: usize) {
        (self.0)(&(n as u64).to_be_bytes());
    }

    /// Bytes with no prefix.
    fn raw(&mut self, s: &str) {
        (self.0)(s.as_bytes());
    }
}

/// The text of a status other than `Other` (its `Display`).
fn status_text(status: &JobStatus) -> &'static str {
    match status {
        JobStatus::Open => "open",
        JobStatus::Closed => "closed",
        JobStatus::Draft => "draft",
        JobStatus::OnHold => "on-hold",
        JobStatus::Other(_) => "other",
    }
}

/// `n` in decimal, written into `buf` (a `usize` has at most 20 digits).
fn decimal(mut n: usize, buf: &mut [u8; 20]) -> &str {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[at..]).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testutil::job;

    /// A job touching every branch of the encoding (an `Other` status, an
    /// email, no update time, no extra fields).
    fn other_job() -> Job {
        let mut other = job("J2", "T");
        other.status = JobStatus::Other("paused".into());
        other.raw_status = "paused".into();
        other.locations.clear();
        other.assigned_users[0].email = Some("a@b.c".into());
        other.updated_at = None;
        other.extra.clear();
        other
    }

    #[test]
    fn the_content_hash_sees_every_field() {
        let base = job("J1", "Engineer");
        let mut variants = vec![base.clone(); 5];
        variants[0].locations.push("Lyon".into());
        variants[1].assigned_users[0].email = Some(String::new());
        variants[2].updated_at = None;
        variants[3].extra[0].value = "Sales".into();
        variants[4].status = JobStatus::Other("open".into());
        for v in &variants {
            assert_ne!(job_content_hash(v), job_content_hash(&base));
        }
        assert_eq!(job_content_hash(&base), job_content_hash(&base.clone()));
    }

    #[test]
    fn the_content_hash_stays_what_stored_positions_hold() {
        // Pinned: a changed encoding would count every stored job as updated.
        let (base, other) = (job("J1", "Engineer"), other_job());
        assert_eq!(job_content_hash(&base), "xxh3:ef10e2f0d0c321499e6b9975c76f2b58");
        assert_eq!(job_content_hash(&other), "xxh3:999df479ca31917bab5f42fb9214a27f");
        // The SHA-256 form is what stores written before XXH3 hold.
        assert_eq!(sha256_content_hash(&base), "e31a6cfacdb0b71b8b9e3cb1af3c8396ebf59f2ac055f773d7d647171a526a63");
        assert_eq!(sha256_content_hash(&other), "8c520ac9997030baee984e29133b922d9363f5804cde80d099c81f5c6e159228");
        let mut digits = [0u8; 20];
        assert_eq!(decimal(1234, &mut digits), "1234");
        assert_eq!(decimal(0, &mut digits), "0");
        assert_eq!(decimal(usize::MAX, &mut digits), usize::MAX.to_string());
    }

    #[test]
    fn the_hash_is_the_xxh3_of_the_length_prefixed_bytes_in_hex() {
        for j in [job("J1", "Engineer"), other_job()] {
            let mut bytes = Vec::new();
            feed(&j, |b| bytes.extend_from_slice(b));
            let one_shot = xxhash_rust::xxh3::xxh3_128(&bytes).to_be_bytes();
            assert_eq!(job_content_hash(&j), format!("{XXH3_PREFIX}{}", hex::encode(one_shot)));
        }
    }

    #[test]
    fn both_forms_parse_and_nothing_else_does() {
        let j = job("J1", "Engineer");
        assert!(matches!(ContentHash::parse(&job_content_hash(&j)), Some(ContentHash::Xxh3(_))));
        assert!(matches!(ContentHash::parse(&sha256_content_hash(&j)), Some(ContentHash::Sha256(_))));
        for bad in [
            "",
            "xxh3:",
            "xxh3:zz",
            "not a sha-256",
            "xxh3:e31a6cfacdb0b71b8b9e3cb1af3c8396ebf59f2ac055f773d7d647171a526a63",
        ] {
            assert_eq!(ContentHash::parse(bad), None, "{bad}");
        }
    }
}
