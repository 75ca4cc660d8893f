//! Mozilla's public suffix list, behind two plain functions.
//!
//! `psl` compiles the list into a generic lookup (generic over the
//! iterator of labels) of about 377,000 lines of LLVM IR, so every crate
//! that calls it compiles and optimises the whole list again: about 20
//! CPU-seconds of a release build, twice for the host (its library and its
//! unit tests). Behind these functions, which are neither generic nor
//! inlined, it is compiled once, in this crate.

/// The registrable domain of `name` (`example.co.uk` for
/// `jobs.example.co.uk`), or `None` when `name` is itself a public suffix
/// (`com`, `co.uk`) or has no known suffix.
#[inline(never)]
pub fn registrable_domain(name: &str) -> Option<&str> {
    psl::domain_str(name)
}

/// The public suffix of `name` (`co.uk` for `jobs.example.co.uk`), or
/// `None` when it has none.
#[inline(never)]
pub fn public_suffix(name: &str) -> Option<&str> {
    psl::suffix_str(name)
}
