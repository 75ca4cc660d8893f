//! Pagination: every list takes `limit` (capped) and an opaque `cursor`
//! from the previous page's `next_cursor`.

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

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

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next_cursor: self.next_cursor }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_follow_the_cursor_and_cap_the_limit() {
        let q = |limit, cursor: Option<&str>| PageQuery { limit, cursor: cursor.map(str::to_string) };
        let page = |q: &PageQuery| Page::after(1..=7u64, q, |s| s.parse().ok(), |i| *i, |k| k.to_string());
        let p1 = page(&q(Some(3), None));
        assert_eq!((p1.items.clone(), p1.next_cursor.as_deref()), (vec![1, 2, 3], Some("3")));
        let p3 = page(&q(Some(3), Some("6")));
        assert_eq!((p3.items, p3.next_cursor), (vec![7], None));
        assert_eq!(q(Some(100_000), None).limit(), MAX_LIMIT);
        assert_eq!(q(Some(0), None).limit(), 1);
    }
}
