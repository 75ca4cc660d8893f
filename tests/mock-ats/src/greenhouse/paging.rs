//! Harvest pagination (v3 cursors, v1 page numbers) and timestamp filters.

use axum::http::{HeaderValue, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use super::{Api, PAGE};
use crate::envelope::greenhouse_validation;
use crate::http::{Query, decode_cursor, encode_cursor, page_size};
use crate::state::Shared;
use crate::time_fmt::parse_iso;

/// v3 first-call vs. cursor-call handling. Returns the effective filter
/// query, page size and the position to continue after.
pub(crate) fn v3_request(shared: &Shared, q: &Query) -> Result<(Query, usize, u64), Response> {
    #[derive(Deserialize)]
    struct Cursor {
        after: u64,
        per_page: usize,
        query: Vec<(String, String)>,
    }
    if let Some(cursor) = q.get("cursor") {
        if q.0.len() > 1 {
            return Err(greenhouse_validation(Some("cursor"), "cursor must be the only query parameter"));
        }
        let c: Cursor = decode_cursor(cursor).ok_or_else(|| greenhouse_validation(Some("cursor"), "invalid cursor"))?;
        return Ok((Query(c.query), c.per_page, c.after));
    }
    let per_page =
        page_size(PAGE, &shared.config, q.get("per_page")).map_err(|m| greenhouse_validation(Some("per_page"), &m))?;
    Ok((Query(q.0.iter().filter(|(k, _)| k != "per_page").cloned().collect()), per_page, 0))
}

/// Adds `Link: <…?cursor=…>; rel="next"` when more follows.
pub(crate) fn v3_link(
    resp: &mut Response,
    shared: &Shared,
    path: &str,
    query: &Query,
    per_page: usize,
    after: Option<u64>,
) {
    #[derive(Serialize)]
    struct Cursor<'a> {
        after: u64,
        per_page: usize,
        query: &'a [(String, String)],
    }
    if let Some(after) = after {
        let cursor = encode_cursor(&Cursor { after, per_page, query: &query.0 });
        let link = format!("<{}{}?cursor={}>; rel=\"next\"", shared.base_url, path, cursor);
        resp.headers_mut().insert(header::LINK, HeaderValue::from_str(&link).expect("ASCII link"));
    }
}

/// One v3 page of `rows`, each with its position in the listing
/// (increasing, above 0): the first `per_page` after `after`, and the
/// position to continue after when more follow.
pub(crate) fn v3_slice<T>(rows: impl Iterator<Item = (u64, T)>, after: u64, per_page: usize) -> (Vec<T>, Option<u64>) {
    let mut page: Vec<(u64, T)> = rows.filter(|(position, _)| *position > after).take(per_page + 1).collect();
    let more = page.len() > per_page;
    page.truncate(per_page);
    let next = more.then(|| page.last().map_or(after, |(position, _)| *position));
    (page.into_iter().map(|(_, item)| item).collect(), next)
}

/// v1 `page`/`per_page`: the page's slice of `items` and the `Link` header.
pub(crate) fn v1_page<T: Clone>(
    shared: &Shared,
    path: &str,
    q: &Query,
    items: Vec<T>,
) -> Result<(Vec<T>, Option<String>), Response> {
    let per_page =
        page_size(PAGE, &shared.config, q.get("per_page")).map_err(|m| greenhouse_validation(Some("per_page"), &m))?;
    let page: usize = match q.get("page") {
        None => 1,
        Some(p) => p
            .parse()
            .ok()
            .filter(|p| *p >= 1)
            .ok_or_else(|| greenhouse_validation(Some("page"), "page must be a positive integer"))?,
    };
    let last = items.len().div_ceil(per_page).max(1);
    let rest = q.encode_without(&["page"]);
    let url = |n: usize| {
        let sep = if rest.is_empty() { "" } else { "&" };
        format!("<{}{}?{rest}{sep}page={n}>", shared.base_url, path)
    };
    let mut links = Vec::new();
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if q.get("skip_count") != Some("true") {
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    let slice = items.into_iter().skip((page - 1) * per_page).take(per_page).collect();
    Ok((slice, (!links.is_empty()).then(|| links.join(", "))))
}

pub(crate) fn with_link(mut resp: Response, link: Option<String>) -> Response {
    if let Some(link) = link {
        resp.headers_mut().insert(header::LINK, HeaderValue::from_str(&link).expect("ASCII link"));
    }
    resp
}

/// A comparison from a v3 operator filter or a v1 `_after`/`_before` pair.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Op {
    Gt,
    Gte,
    Lt,
    Lte,
    Eq,
}

impl Op {
    pub(crate) fn test(self, value: i64, bound: i64) -> bool {
        match self {
            Op::Gt => value > bound,
            Op::Gte => value >= bound,
            Op::Lt => value < bound,
            Op::Lte => value <= bound,
            // Second precision, as the API prints.
            Op::Eq => value / 1000 == bound / 1000,
        }
    }
}

/// Timestamp conditions parsed from either API version's parameters.
#[derive(Debug, Default)]
pub(crate) struct TimeFilter {
    pub(crate) created: Vec<(Op, i64)>,
    pub(crate) updated: Vec<(Op, i64)>,
}

impl TimeFilter {
    pub(crate) fn parse(api: Api, q: &Query) -> Result<Self, Response> {
        let mut f = TimeFilter::default();
        let bad = |field: &str, value: &str| greenhouse_validation(Some(field), &format!("invalid value {value:?}"));
        match api {
            Api::V3 => {
                for (field, target) in [("created_at", &mut f.created), ("updated_at", &mut f.updated)] {
                    for raw in q.all(field) {
                        let (op, ts) = raw.split_once('|').ok_or_else(|| bad(field, raw))?;
                        let op = match op {
                            "gt" => Op::Gt,
                            "gte" => Op::Gte,
                            "lt" => Op::Lt,
                            "lte" => Op::Lte,
                            "eq" => Op::Eq,
                            _ => return Err(bad(field, raw)),
                        };
                        target.push((op, parse_iso(ts).ok_or_else(|| bad(field, raw))?));
                    }
                }
            }
            Api::V1 => {
                for (param, op, updated) in [
                    ("created_after", Op::Gte, false),
                    ("created_before", Op::Lt, false),
                    ("updated_after", Op::Gte, true),
                    ("updated_before", Op::Lt, true),
                ] {
                    if let Some(raw) = q.get(param) {
                        let bound = parse_iso(raw).ok_or_else(|| bad(param, raw))?;
                        if updated { f.updated.push((op, bound)) } else { f.created.push((op, bound)) }
                    }
                }
            }
        }
        Ok(f)
    }

    pub(crate) fn matches(&self, created: i64, updated: i64) -> bool {
        self.created.iter().all(|(op, b)| op.test(created, *b))
            && self.updated.iter().all(|(op, b)| op.test(updated, *b))
    }
}
