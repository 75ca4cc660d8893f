//! Pagination: every list takes `limit` (capped) and an opaque `cursor`
//! from the previous page's `next_cursor`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ServiceError;

/// Items per page when the caller does not say.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items one page holds: bounds the work and the response size of
/// one request whatever the caller asks for.
pub const MAX_LIMIT: usize = 500;

/// `?limit=&cursor=`.
#[derive(Debug, Default, Clone, Deserialize, Serialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page (default 50, at most 500).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    pub fn limit(&self) -> usize {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }
}

/// One page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Takes items after `cursor` (by `key`, items sorted by it ascending)
    /// up to `limit`.
    pub fn after<K: PartialOrd>(
        items: impl IntoIterator<Item = T>,
        query: &PageQuery,
        parse: impl Fn(&str) -> Option<K>,
        key: impl Fn(&T) -> K,
        show: impl Fn(&K) -> String,
    ) -> Page<T> {
        let limit = query.limit();
        let after = query.cursor.as_deref().and_then(&parse);
        let mut out: Vec<T> = Vec::with_capacity(limit.min(64));
        let mut more = false;
        for item in items {
            if after.as_ref().is_some_and(|a| key(&item) <= *a) {
                continue;
            }
            if out.len() == limit {
                more = true;
                break;
            }
            out.push(item);
        }
        let next_cursor = if more { out.last().map(|i| show(&key(i))) } else { None };
        Page { items: out, next_cursor }
    }

    /// A page read from the store a slice at a time, from the cursor on.
    ///
    /// `fetch(after, n)` returns up to `n` items that follow the key
    /// `after` in list order (from the start when `None`); an empty answer
    /// means the list is exhausted. Items `keep` refuses are skipped. One
    /// item past the page is looked for, so `next_cursor` is given exactly
    /// when another page follows. A cursor that does not parse is refused
    /// rather than silently restarting the list.
    pub fn fetch<K>(
        query: &PageQuery,
        parse: impl Fn(&str) -> Option<K>,
        key: impl Fn(&T) -> K,
        show: impl Fn(&K) -> String,
        keep: impl Fn(&T) -> bool,
        mut fetch: impl FnMut(Option<&K>, usize) -> Result<Vec<T>, ServiceError>,
    ) -> Result<Page<T>, ServiceError> {
        let limit = query.limit();
        let mut after = match query.cursor.as_deref() {
            Some(c) => Some(parse(c).ok_or_else(|| {
                ServiceError::Invalid("`cursor` is not one this list gave; pass `next_cursor` back unchanged".into())
            })?),
            None => None,
        };
        let mut items: Vec<T> = Vec::with_capacity(limit.min(64));
        loop {
            let batch = fetch(after.as_ref(), limit + 1 - items.len())?;
            if batch.is_empty() {
                return Ok(Page { items, next_cursor: None });
            }
            for item in batch {
                after = Some(key(&item));
                if !keep(&item) {
                    continue;
                }
                if items.len() == limit {
                    let next_cursor = items.last().map(|i| show(&key(i)));
                    return Ok(Page { items, next_cursor });
                }
                items.push(item);
            }
        }
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}
