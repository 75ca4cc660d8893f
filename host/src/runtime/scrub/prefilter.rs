//! A cheap test that tells which parts of a body can hold a secret form, so
//! the automaton runs only over those parts.
//!
//! Every form is at least `min_len` bytes long (the shortest form, usually
//! a [`MIN_SECRET_WINDOW`](super::MIN_SECRET_WINDOW)-byte piece). Any run of
//! `min_len` bytes holds a [`GRAM`]-byte gram starting at a multiple of
//! `stride = min_len - GRAM + 1`, so probing the body only at those offsets
//! cannot miss a form: the probed gram is one of the grams at offsets
//! `0..=min_len - GRAM` of the form, which are all registered. Grams are
//! compared ASCII-case-folded (a superset of what the automaton matches).
//!
//! A probe whose gram is registered (a Bloom filter in L1 cache, then an
//! exact check) marks the span a form through it could cover; overlapping
//! spans are merged, so even a body that hits on every probe is scanned by
//! the automaton at most once.

use std::ops::Range;

/// Bytes per probed gram: short enough that `min_len` of 8 probes every
/// fifth byte, long enough that innocent text rarely holds a secret's gram.
pub const GRAM: usize = 4;
/// Shortest form the prefilter is built for: with shorter forms the stride
/// would be 1 and the automaton alone is as fast.
pub const MIN_FORM_LEN: usize = GRAM + 1;
/// Bits of the Bloom filter: 16 KiB, small enough to stay in L1 cache, and
/// with two bits per gram a few hundred grams give a false hit rate well
/// under 0.1% before the exact check.
const BLOOM_BITS: usize = 1 << 17;

/// Which parts of a body can hold a form.
#[derive(Debug)]
pub struct Prefilter {
    /// Probe every `stride` bytes.
    stride: usize,
    /// Bytes a form may start before the probe that finds it.
    lead: usize,
    /// Longest form: bytes a form may end after the probe that finds it.
    max_len: usize,
    bloom: Vec<u64>,
    /// Every registered gram, folded and sorted.
    grams: Vec<u32>,
}

/// Maps each ASCII letter and its other case to the same value (and a few
/// other byte pairs together, which only adds false hits).
fn fold(gram: u32) -> u32 {
    gram | 0x2020_2020
}

fn gram_at(bytes: &[u8], at: usize) -> Option<u32> {
    let four: [u8; GRAM] = bytes.get(at..at + GRAM)?.try_into().ok()?;
    Some(fold(u32::from_le_bytes(four)))
}

/// The two Bloom bit positions of a gram.
fn bloom_bits(gram: u32) -> [usize; 2] {
    let h = u64::from(gram).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    [(h >> 47) as usize % BLOOM_BITS, (h >> 23) as usize % BLOOM_BITS]
}

impl Prefilter {
    /// A prefilter for these forms, or `None` when one is shorter than
    /// [`MIN_FORM_LEN`] (the automaton then scans every byte).
    pub fn new<'a>(forms: impl Iterator<Item = &'a [u8]> + Clone) -> Option<Self> {
        let min_len = forms.clone().map(<[u8]>::len).min()?;
        let max_len = forms.clone().map(<[u8]>::len).max()?;
        if min_len < MIN_FORM_LEN {
            return None;
        }
        let lead = min_len - GRAM;
        let mut grams: Vec<u32> = forms.flat_map(|f| (0..=lead).filter_map(move |at| gram_at(f, at))).collect();
        grams.sort_unstable();
        grams.dedup();
        let mut bloom = vec![0u64; BLOOM_BITS / 64];
        for &gram in &grams {
            for bit in bloom_bits(gram) {
                bloom[bit / 64] |= 1 << (bit % 64);
            }
        }
        Some(Prefilter { stride: lead + 1, lead, max_len, bloom, grams })
    }

    pub fn memory_usage(&self) -> usize {
        self.bloom.len() * 8 + self.grams.len() * 4
    }

    fn registered(&self, gram: u32) -> bool {
        bloom_bits(gram).iter().all(|&bit| self.bloom[bit / 64] & (1 << (bit % 64)) != 0)
            && self.grams.binary_search(&gram).is_ok()
    }

    /// Calls `scan` with each span of `data` that may hold a form, in order,
    /// disjoint; a form anywhere in `data` lies wholly inside one of them.
    pub fn spans(&self, data: &[u8], mut scan: impl FnMut(Range<usize>)) {
        let mut current: Option<Range<usize>> = None;
        let mut at = 0;
        while let Some(gram) = gram_at(data, at) {
            if self.registered(gram) {
                let span = at.saturating_sub(self.lead)..(at + self.max_len).min(data.len());
                match &mut current {
                    Some(open) if span.start <= open.end => open.end = open.end.max(span.end),
                    _ => {
                        if let Some(done) = current.replace(span) {
                            scan(done);
                        }
                    }
                }
            }
            at += self.stride;
        }
        if let Some(done) = current {
            scan(done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(pre: &Prefilter, data: &[u8]) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        pre.spans(data, |s| out.push(s));
        out
    }

    #[test]
    fn a_form_at_any_offset_and_case_lies_in_a_span() {
        let form = b"Secret-Value-77";
        let pre = Prefilter::new([&form[..], b"other-form"].into_iter()).unwrap();
        for offset in 0..40 {
            for text in [form.to_vec(), form.to_ascii_uppercase(), form.to_ascii_lowercase()] {
                let mut data = vec![b'.'; offset];
                data.extend_from_slice(&text);
                data.extend_from_slice(&[b'.'; 7]);
                let found = spans(&pre, &data);
                assert!(
                    found.iter().any(|s| s.start <= offset && offset + form.len() <= s.end),
                    "offset {offset}: {found:?}"
                );
            }
        }
    }

    #[test]
    fn clean_data_has_no_span_and_spans_are_disjoint() {
        let pre = Prefilter::new([&b"Secret-Value-77"[..]].into_iter()).unwrap();
        assert!(spans(&pre, &b"<p>nothing to see here, just a job description</p>".repeat(100)).is_empty());
        let dense = b"Secret-Value-77".repeat(50);
        let found = spans(&pre, &dense);
        assert_eq!(found, vec![0..dense.len()]);
    }

    #[test]
    fn short_forms_get_no_prefilter() {
        assert!(Prefilter::new([&b"pin1"[..], b"longer-secret"].into_iter()).is_none());
        assert!(Prefilter::new(std::iter::empty()).is_none());
    }
}
