//! Pagination: turning an ATS's way of paging into the contract's cursor.
//!
//! The host calls `list-jobs` with `cursor: None` for the first page and then
//! with whatever [`JobPage::next_cursor`](crate::types::JobPage::next_cursor)
//! the connector returned, until it returns `None`. The cursor is an opaque
//! string to the host; the connector chooses what it holds. ATS APIs page in
//! four ways, and each has a pair of helpers here:
//!
//! | ATS style | example | read the cursor | write the next cursor |
//! |---|---|---|---|
//! | page number | Greenhouse `page=N` | [`page_number`] | [`next_page_cursor`] |
//! | offset | `offset=200&limit=100` | [`offset`] | [`next_offset_cursor`] |
//! | next-page URL | `Link: <...>; rel="next"` ([`link_next`]), Workable `paging.next` | [`next_url`] | [`next_url_cursor`] |
//! | vendor token | Lever `next`, Ashby `nextCursor` | [`vendor_token`] | [`vendor_token_cursor`] |
//!
//! All four encode a [`PageCursor`]. A page-number cursor is the bare
//! number (`"2"`), the others carry a prefix (`"offset:200"`,
//! `"url:https://..."`, `"token:abc"`), so a cursor of the wrong style is
//! reported as [`ConnectorError::Permanent`] instead of silently restarting.
//!
//! ```
//! use atsbridge_sdk::paging;
//!
//! // Page numbers: first call has no cursor.
//! let page = paging::page_number(None).unwrap();
//! assert_eq!(page, 1);
//! assert_eq!(paging::next_page_cursor(page, true).as_deref(), Some("2"));
//! assert_eq!(paging::page_number(Some("2")).unwrap(), 2);
//!
//! // Next-page URL from a Link header.
//! let next = paging::find_link(r#"<https://x.example/jobs?page=3>; rel="next""#, "next");
//! let cursor = paging::next_url_cursor(next).unwrap();
//! assert_eq!(paging::next_url(Some(&cursor)).unwrap().as_deref(), Some("https://x.example/jobs?page=3"));
//! ```

use std::fmt;
use std::str::FromStr;

use crate::http::Response;
use crate::types::ConnectorError;

/// Where the next page starts, in one of the four styles ATS APIs use.
/// [`PageCursor::encode`] and [`PageCursor::decode`] convert it to and from
/// the contract's cursor string.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PageCursor {
    /// A page number, as the ATS counts them. Encoded as the bare number.
    Page(u32),
    /// The number of items to skip. Encoded `offset:<n>`.
    Offset(u64),
    /// The absolute URL of the next page. Encoded `url:<url>`.
    NextUrl(String),
    /// The ATS's own opaque continuation token. Encoded `token:<token>`.
    Token(String),
}

const OFFSET_PREFIX: &str = "offset:";
const URL_PREFIX: &str = "url:";
const TOKEN_PREFIX: &str = "token:";
/// How much of an unrecognised cursor an error message quotes.
const CURSOR_EXCERPT_CHARS: usize = 80;

impl PageCursor {
    /// The contract's cursor string for this position.
    pub fn encode(&self) -> String {
        match self {
            PageCursor::Page(page) => page.to_string(),
            PageCursor::Offset(offset) => format!("{OFFSET_PREFIX}{offset}"),
            PageCursor::NextUrl(url) => format!("{URL_PREFIX}{url}"),
            PageCursor::Token(token) => format!("{TOKEN_PREFIX}{token}"),
        }
    }

    /// Reads a cursor written by [`PageCursor::encode`];
    /// [`ConnectorError::Permanent`] for anything else.
    pub fn decode(cursor: &str) -> Result<Self, ConnectorError> {
        if !cursor.is_empty() && cursor.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(page) = cursor.parse() {
                return Ok(PageCursor::Page(page));
            }
        } else if let Some(n) = cursor.strip_prefix(OFFSET_PREFIX) {
            if let Ok(offset) = n.parse() {
                return Ok(PageCursor::Offset(offset));
            }
        } else if let Some(url) = cursor.strip_prefix(URL_PREFIX) {
            if !url.is_empty() {
                return Ok(PageCursor::NextUrl(url.to_string()));
            }
        } else if let Some(token) = cursor.strip_prefix(TOKEN_PREFIX) {
            return Ok(PageCursor::Token(token.to_string()));
        }
        Err(bad_cursor(cursor, "a page number, `offset:<n>`, `url:<url>` or `token:<token>`"))
    }

    /// Decodes an optional cursor; `None` (the first page) stays `None`.
    pub fn decode_opt(cursor: Option<&str>) -> Result<Option<Self>, ConnectorError> {
        cursor.map(Self::decode).transpose()
    }
}

impl fmt::Display for PageCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.encode())
    }
}

impl FromStr for PageCursor {
    type Err = ConnectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::decode(s)
    }
}

impl From<PageCursor> for String {
    fn from(cursor: PageCursor) -> Self {
        cursor.encode()
    }
}

fn bad_cursor(cursor: &str, expected: &str) -> ConnectorError {
    let shown: String = cursor.chars().take(CURSOR_EXCERPT_CHARS).collect();
    ConnectorError::Permanent(format!("unrecognised page cursor `{shown}`: expected {expected}"))
}

/// The page to fetch: 1 for the first call, otherwise the page-number
/// cursor's value. For ATS APIs that count pages from 0, add your own offset
/// or use [`offset`].
pub fn page_number(cursor: Option<&str>) -> Result<u32, ConnectorError> {
    match PageCursor::decode_opt(cursor)? {
        None => Ok(1),
        Some(PageCursor::Page(page)) => Ok(page),
        Some(_) => Err(bad_cursor(cursor.unwrap_or_default(), "a page number")),
    }
}

/// The cursor of the page after `current`, or `None` when `has_more` is
/// false (the ATS said so, or the page came back short or empty).
pub fn next_page_cursor(current: u32, has_more: bool) -> Option<String> {
    match current.checked_add(1) {
        Some(next) if has_more => Some(PageCursor::Page(next).encode()),
        _ => None,
    }
}

/// The number of items to skip: 0 for the first call, otherwise the offset
/// cursor's value.
pub fn offset(cursor: Option<&str>) -> Result<u64, ConnectorError> {
    match PageCursor::decode_opt(cursor)? {
        None => Ok(0),
        Some(PageCursor::Offset(offset)) => Ok(offset),
        Some(_) => Err(bad_cursor(cursor.unwrap_or_default(), "`offset:<n>`")),
    }
}

/// The cursor after a page that started at `offset`, asked for `limit`
/// items and got `returned`. A short or empty page is the last one.
pub fn next_offset_cursor(offset: u64, returned: usize, limit: u64) -> Option<String> {
    let returned = u64::try_from(returned).unwrap_or(u64::MAX);
    if returned == 0 || returned < limit {
        return None;
    }
    Some(PageCursor::Offset(offset.saturating_add(returned)).encode())
}

/// The URL of the page to fetch: `None` for the first call (build the first
/// URL yourself), otherwise the next-URL cursor's value.
///
/// The host checks every URL against the plugin's allowed hosts, so a
/// next-page URL pointing elsewhere fails with a denied request rather than
/// leaking credentials.
pub fn next_url(cursor: Option<&str>) -> Result<Option<String>, ConnectorError> {
    match PageCursor::decode_opt(cursor)? {
        None => Ok(None),
        Some(PageCursor::NextUrl(url)) => Ok(Some(url)),
        Some(_) => Err(bad_cursor(cursor.unwrap_or_default(), "`url:<url>`")),
    }
}

/// The cursor for the next page's URL; `None` (the last page) when the ATS
/// gave no URL or an empty one.
pub fn next_url_cursor(next: Option<String>) -> Option<String> {
    next.filter(|url| !url.trim().is_empty()).map(|url| PageCursor::NextUrl(url).encode())
}

/// The ATS's continuation token: `None` for the first call, otherwise the
/// token cursor's value.
pub fn vendor_token(cursor: Option<&str>) -> Result<Option<String>, ConnectorError> {
    match PageCursor::decode_opt(cursor)? {
        None => Ok(None),
        Some(PageCursor::Token(token)) => Ok(Some(token)),
        Some(_) => Err(bad_cursor(cursor.unwrap_or_default(), "`token:<token>`")),
    }
}

/// The cursor for the ATS's continuation token; `None` (the last page) when
/// the ATS gave no token or an empty one.
pub fn vendor_token_cursor(token: Option<String>) -> Option<String> {
    token.filter(|t| !t.is_empty()).map(|t| PageCursor::Token(t).encode())
}

/// One link of an RFC 8288 `Link` header: `<target>; name="value"; ...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// The URI between `<` and `>`, as written (it may be relative: see
    /// [`resolve_url`]).
    pub target: String,
    /// The parameters in order; names are lower-case, quoted values
    /// unescaped, valueless parameters have an empty value.
    pub params: Vec<(String, String)>,
}

impl Link {
    /// The value of the first parameter called `name` (case-insensitive).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The relation types of the first `rel` parameter (`rel="next last"`
    /// has two).
    pub fn rels(&self) -> impl Iterator<Item = &str> {
        self.param("rel").unwrap_or_default().split_ascii_whitespace()
    }

    /// Whether the link has relation type `rel` (case-insensitive).
    pub fn has_rel(&self, rel: &str) -> bool {
        self.rels().any(|r| r.eq_ignore_ascii_case(rel))
    }
}

/// Parses a `Link` header value into its links. Malformed entries are
/// skipped rather than failing the whole header; commas and semicolons in
/// quoted values and inside `<...>` are handled.
pub fn parse_link_header(value: &str) -> Vec<Link> {
    let mut links = Vec::new();
    let mut rest = value;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_whitespace());
        if rest.is_empty() {
            return links;
        }
        let Some(after_lt) = rest.strip_prefix('<') else {
            // Not a link-value: skip to the next comma.
            rest = rest.find(',').map_or("", |i| &rest[i..]);
            continue;
        };
        let Some(end) = after_lt.find('>') else {
            return links;
        };
        let target = after_lt[..end].trim().to_string();
        rest = &after_lt[end + 1..];
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start();
            let Some(after_semicolon) = rest.strip_prefix(';') else {
                break;
            };
            let (param, remaining) = parse_param(after_semicolon.trim_start());
            params.extend(param);
            rest = remaining;
        }
        // Anything before the next comma that is not a parameter is junk.
        rest = rest.find(',').map_or("", |i| &rest[i..]);
        links.push(Link { target, params });
    }
}

/// Parses `name[=value]` and returns the rest, which starts at the next
/// `;` or `,` (or is empty).
fn parse_param(input: &str) -> (Option<(String, String)>, &str) {
    let is_name_end = |c: char| c == '=' || c == ';' || c == ',' || c.is_whitespace();
    let name_end = input.find(is_name_end).unwrap_or(input.len());
    let name = input[..name_end].to_ascii_lowercase();
    let mut rest = input[name_end..].trim_start();
    let mut value = String::new();
    if let Some(after_eq) = rest.strip_prefix('=') {
        rest = after_eq.trim_start();
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut chars = quoted.char_indices();
            rest = "";
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        rest = &quoted[i + 1..];
                        break;
                    }
                    '\\' => value.extend(chars.next().map(|(_, escaped)| escaped)),
                    c => value.push(c),
                }
            }
        } else {
            let end = rest.find([';', ',']).unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
    }
    let junk_end = rest.find([';', ',']).unwrap_or(rest.len());
    rest = &rest[junk_end..];
    if name.is_empty() { (None, rest) } else { (Some((name, value)), rest) }
}

/// The target of the first link with relation `rel` in a `Link` header
/// value.
pub fn find_link(header_value: &str, rel: &str) -> Option<String> {
    parse_link_header(header_value).into_iter().find(|l| l.has_rel(rel)).map(|l| l.target)
}

/// The target of the first `rel` link across all of a response's `Link`
/// headers.
pub fn link_rel(response: &Response, rel: &str) -> Option<String> {
    response.header_values("link").find_map(|value| find_link(value, rel))
}

/// The `rel="next"` target of a response's `Link` headers, as written. No
/// header, or no next link, means the last page. Resolve a relative target
/// against the request URL with [`resolve_url`].
pub fn link_next(response: &Response) -> Option<String> {
    link_rel(response, "next")
}

/// Resolves a URI reference against an absolute base URL (RFC 3986
/// section 5.2), for relative `Link` targets and `next` fields.
///
/// ```
/// use atsbridge_sdk::paging::resolve_url;
/// let base = "https://x.example/v1/jobs?page=1";
/// assert_eq!(resolve_url(base, "/v1/jobs?page=2"), "https://x.example/v1/jobs?page=2");
/// assert_eq!(resolve_url(base, "?page=2"), "https://x.example/v1/jobs?page=2");
/// assert_eq!(resolve_url(base, "https://y.example/a"), "https://y.example/a");
/// ```
pub fn resolve_url(base: &str, reference: &str) -> String {
    if has_scheme(reference) {
        return reference.to_string();
    }
    let base = base.split('#').next().unwrap_or_default();
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let scheme = &base[..scheme_end.saturating_sub(2)];
    let authority_end = base[scheme_end..].find(['/', '?']).map_or(base.len(), |i| scheme_end + i);
    let origin = &base[..authority_end];
    let path_and_query = &base[authority_end..];
    let base_path = path_and_query.split('?').next().unwrap_or_default();

    if let Some(network_path) = reference.strip_prefix("//") {
        return format!("{scheme}//{network_path}");
    }
    if reference.is_empty() || reference.starts_with('#') {
        return format!("{base}{reference}");
    }
    if reference.starts_with('?') {
        return format!("{origin}{base_path}{reference}");
    }
    let (ref_path, suffix) = match reference.find(['?', '#']) {
        Some(i) => (&reference[..i], &reference[i..]),
        None => (reference, ""),
    };
    let merged = if ref_path.starts_with('/') {
        ref_path.to_string()
    } else {
        let dir = base_path.rfind('/').map_or("/", |i| &base_path[..=i]);
        format!("{dir}{ref_path}")
    };
    format!("{origin}{}{suffix}", remove_dot_segments(&merged))
}

fn has_scheme(reference: &str) -> bool {
    match reference.find(':') {
        Some(i) if i > 0 => {
            let scheme = &reference[..i];
            scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
        }
        _ => false,
    }
}

/// RFC 3986 section 5.2.4, on an absolute path.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for cursor in [
            PageCursor::Page(1),
            PageCursor::Page(u32::MAX),
            PageCursor::Offset(0),
            PageCursor::Offset(12_345),
            PageCursor::NextUrl("https://x.example/jobs?cursor=a:b&per_page=100".into()),
            PageCursor::Token("eyJhIjoxfQ==".into()),
            PageCursor::Token(String::new()),
        ] {
            let encoded = cursor.encode();
            assert_eq!(PageCursor::decode(&encoded), Ok(cursor.clone()), "{encoded}");
            assert_eq!(encoded.parse::<PageCursor>(), Ok(cursor.clone()));
            assert_eq!(cursor.to_string(), encoded);
        }
        assert_eq!(PageCursor::Page(7).encode(), "7");
        assert_eq!(PageCursor::Offset(200).encode(), "offset:200");
    }

    #[test]
    fn bad_cursors_are_permanent_errors() {
        for bad in ["", "page:2", "-1", "99999999999", "offset:x", "url:", "junk"] {
            let err = PageCursor::decode(bad).unwrap_err();
            assert_eq!(err.kind(), "permanent", "{bad}");
        }
        let long = "z".repeat(1000);
        assert!(PageCursor::decode(&long).unwrap_err().message().len() < 200);
        assert_eq!(PageCursor::decode_opt(None), Ok(None));
    }

    #[test]
    fn page_number_helpers() {
        assert_eq!(page_number(None), Ok(1));
        assert_eq!(page_number(Some("3")), Ok(3));
        assert_eq!(page_number(Some("offset:3")).unwrap_err().kind(), "permanent");
        assert_eq!(next_page_cursor(1, true).as_deref(), Some("2"));
        assert_eq!(next_page_cursor(1, false), None);
        assert_eq!(next_page_cursor(u32::MAX, true), None);
    }

    #[test]
    fn offset_helpers() {
        assert_eq!(offset(None), Ok(0));
        assert_eq!(offset(Some("offset:200")), Ok(200));
        assert!(offset(Some("2")).is_err());
        assert_eq!(next_offset_cursor(0, 100, 100).as_deref(), Some("offset:100"));
        assert_eq!(next_offset_cursor(100, 40, 100), None, "short page is the last");
        assert_eq!(next_offset_cursor(100, 0, 0), None, "empty page is the last");
    }

    #[test]
    fn url_and_token_helpers() {
        assert_eq!(next_url(None), Ok(None));
        let c = next_url_cursor(Some("https://x.example/p2".into())).unwrap();
        assert_eq!(next_url(Some(&c)), Ok(Some("https://x.example/p2".into())));
        assert_eq!(next_url_cursor(Some(" ".into())), None);
        assert_eq!(next_url_cursor(None), None);
        assert!(next_url(Some("token:abc")).is_err());

        assert_eq!(vendor_token(None), Ok(None));
        let t = vendor_token_cursor(Some("abc".into())).unwrap();
        assert_eq!(t, "token:abc");
        assert_eq!(vendor_token(Some(&t)), Ok(Some("abc".into())));
        assert_eq!(vendor_token_cursor(Some(String::new())), None);
        assert!(vendor_token(Some("5")).is_err());
    }

    #[test]
    fn link_header_github_style() {
        let v = r#"<https://api.example/jobs?page=2&per_page=100>; rel="next", <https://api.example/jobs?page=14&per_page=100>; rel="last""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].target, "https://api.example/jobs?page=2&per_page=100");
        assert_eq!(links[1].param("rel"), Some("last"));
        assert_eq!(find_link(v, "next").as_deref(), Some("https://api.example/jobs?page=2&per_page=100"));
        assert_eq!(find_link(v, "prev"), None);
    }

    #[test]
    fn link_header_edge_cases() {
        // Unquoted rel, odd spacing, upper-case names, multiple rel values.
        let v = "<https://a.example/1>;REL=Next , <https://a.example/2> ; rel=\"prev last\"";
        assert_eq!(find_link(v, "next").as_deref(), Some("https://a.example/1"));
        assert_eq!(find_link(v, "last").as_deref(), Some("https://a.example/2"));
        // Commas and semicolons inside the target and inside quoted values.
        let v = r#"<https://a.example/q?ids=1,2;3>; title="a, b; \"c\""; rel="next""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 1);
        assert_eq!(links[0].target, "https://a.example/q?ids=1,2;3");
        assert_eq!(links[0].param("title"), Some("a, b; \"c\""));
        assert!(links[0].has_rel("NEXT"));
        // Valueless parameters and junk between links.
        let v = r#"junk, <https://a.example/x>; crossorigin; rel=next garbage, <https://a.example/y>; rel="next""#;
        let links = parse_link_header(v);
        assert_eq!(links.len(), 2);
        assert_eq!(links[0].param("crossorigin"), Some(""));
        assert_eq!(find_link(v, "next").as_deref(), Some("https://a.example/x"));
        // Only the first rel parameter counts.
        assert!(!parse_link_header(r#"<u>; rel="prev"; rel="next""#)[0].has_rel("next"));
        // Unterminated input does not panic.
        assert!(parse_link_header("<https://a.example/x").is_empty());
        assert_eq!(parse_link_header(r#"<u>; rel="next"#)[0].param("rel"), Some("next"));
        assert!(parse_link_header("").is_empty());
        assert!(parse_link_header(" , ,").is_empty());
    }

    #[test]
    fn link_next_reads_every_link_header() {
        let response = Response {
            status: 200,
            headers: vec![
                ("link".into(), r#"<https://a.example/p1>; rel="prev""#.into()),
                ("Link".into(), r#"<https://a.example/p3>; rel="next""#.into()),
            ],
            body: vec![],
        };
        assert_eq!(link_next(&response).as_deref(), Some("https://a.example/p3"));
        assert_eq!(link_rel(&response, "prev").as_deref(), Some("https://a.example/p1"));
        let none = Response { status: 200, headers: vec![], body: vec![] };
        assert_eq!(link_next(&none), None);
    }

    #[test]
    fn resolves_relative_references() {
        let base = "https://x.example/v1/jobs/list?page=1#frag";
        assert_eq!(resolve_url(base, "https://y.example/z"), "https://y.example/z");
        assert_eq!(resolve_url(base, "//cdn.example/a"), "https://cdn.example/a");
        assert_eq!(resolve_url(base, "/v2/jobs?page=2"), "https://x.example/v2/jobs?page=2");
        assert_eq!(resolve_url(base, "?page=2"), "https://x.example/v1/jobs/list?page=2");
        assert_eq!(resolve_url(base, "other?page=2"), "https://x.example/v1/jobs/other?page=2");
        assert_eq!(resolve_url(base, "../users"), "https://x.example/v1/users");
        assert_eq!(resolve_url(base, "./a/./b/../c"), "https://x.example/v1/jobs/a/c");
        assert_eq!(resolve_url(base, "../../../../x"), "https://x.example/x");
        assert_eq!(resolve_url(base, ""), "https://x.example/v1/jobs/list?page=1");
        assert_eq!(resolve_url("https://x.example", "jobs"), "https://x.example/jobs");
        assert_eq!(resolve_url("https://x.example?a=1", "?b=2"), "https://x.example?b=2");
    }
}
