//! Each vendor's error body and rate-limit headers, in one place.
//!
//! | vendor | error body | rate-limit headers |
//! |---|---|---|
//! | Greenhouse | `{"message"}`; 422 `{"message":"Validation error","errors":[{message,field}]}` | `X-RateLimit-Limit`, `X-RateLimit-Remaining` always; on 429 also `Retry-After`, `X-RateLimit-Reset` (unix s) |
//! | Lever | `{"code","message"}` (code names **unconfirmed**) | on 429 `Retry-After` only (**unconfirmed**) |
//! | Workable | `{"error"}` | `X-Rate-Limit-Limit`, `-Remaining`, `-Reset` (unix s) always; on 429 also `Retry-After` |
//! | SmartRecruiters | `{"message","errors":[{code,message}]}` | `X-RateLimit-Limit`, `-Remaining`, `X-RateLimit-Concurrent-Limit`, `-Remaining` always; on 429 also `Retry-After` (**unconfirmed**) |
//! | BambooHR | empty body, message in `X-BambooHR-Error-Message` (**unconfirmed**) | none; throttling is `503` + `Retry-After` (a `Fault::RateLimit` answers the rarer `429` + `Retry-After`) |
//! | Ashby | HTTP 200 `{"success":false,"errors":[code],"errorInfo":{code,message,requestId}}` for would-be 4xx; 401/403/429/5xx keep their status with the same body | on 429 `Retry-After` only |

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::json;

use crate::Vendor;
use crate::http::json as json_response;
use crate::ratelimit::Decision;

/// The vendor's error response for `status` with a human message.
pub(crate) fn error(vendor: Vendor, status: StatusCode, message: &str) -> Response {
    match vendor {
        Vendor::Greenhouse if status == StatusCode::UNPROCESSABLE_ENTITY => greenhouse_validation(None, message),
        Vendor::Greenhouse => json_response(status, &json!({ "message": message })),
        Vendor::Lever => json_response(status, &json!({ "code": lever_code(status), "message": message })),
        Vendor::Workable => json_response(status, &json!({ "error": message })),
        Vendor::Ashby => ashby_error(status, ashby_code(status), message),
        Vendor::SmartRecruiters => json_response(
            status,
            &json!({ "message": message, "errors": [{ "code": smartrecruiters_code(status), "message": message }] }),
        ),
        Vendor::BambooHr => bamboohr_error(status, message),
    }
}

/// BambooHR's error: no body, the message in a header (**unconfirmed**).
pub(crate) fn bamboohr_error(status: StatusCode, message: &str) -> Response {
    let mut resp = Response::new(axum::body::Body::empty());
    *resp.status_mut() = status;
    set(resp.headers_mut(), "x-bamboohr-error-message", message);
    resp
}

/// SmartRecruiters error codes (**unconfirmed**: the shape is documented,
/// the code names are not).
fn smartrecruiters_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "INVALID_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        409 => "CONFLICT",
        429 => "RATE_LIMIT_EXCEEDED",
        _ => "INTERNAL_ERROR",
    }
}

/// Greenhouse's 422 body.
pub(crate) fn greenhouse_validation(field: Option<&str>, message: &str) -> Response {
    let mut err = json!({ "message": message });
    if let Some(field) = field {
        err["field"] = json!(field);
    }
    json_response(StatusCode::UNPROCESSABLE_ENTITY, &json!({ "message": "Validation error", "errors": [err] }))
}

/// Ashby's failure envelope. Would-be 4xx answers are HTTP 200; auth,
/// throttling and server errors keep their real status.
pub(crate) fn ashby_error(status: StatusCode, code: &str, message: &str) -> Response {
    let keep = matches!(status.as_u16(), 401 | 403 | 429) || status.is_server_error();
    let http = if keep { status } else { StatusCode::OK };
    let request_id = format!("req_{:016x}", crate::data::mix(crate::time_fmt::now_ms() as u64));
    json_response(
        http,
        &json!({ "success": false, "errors": [code], "errorInfo": { "code": code, "message": message, "requestId": request_id } }),
    )
}

fn lever_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BadRequestError",
        401 => "UnauthorizedError",
        403 => "ForbiddenError",
        404 => "ResourceNotFound",
        429 => "TooManyRequests",
        _ => "InternalServerError",
    }
}

fn ashby_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not_found",
        429 => "rate_limit_exceeded",
        500..=599 => "internal_error",
        _ => "invalid_input",
    }
}

fn set(headers: &mut HeaderMap, name: &'static str, value: impl ToString) {
    if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
        headers.insert(HeaderName::from_static(name), v);
    }
}

/// Headers every response carries while a limiter is configured.
pub(crate) fn rate_limit_headers(vendor: Vendor, d: &Decision, headers: &mut HeaderMap) {
    match vendor {
        Vendor::Greenhouse => {
            set(headers, "x-ratelimit-limit", d.limit);
            set(headers, "x-ratelimit-remaining", d.remaining);
        }
        Vendor::Workable => {
            set(headers, "x-rate-limit-limit", d.limit);
            set(headers, "x-rate-limit-remaining", d.remaining);
            set(headers, "x-rate-limit-reset", d.reset_unix);
        }
        Vendor::SmartRecruiters => {
            set(headers, "x-ratelimit-limit", d.limit);
            set(headers, "x-ratelimit-remaining", d.remaining);
            // Concurrency is not limited by the mock; the headers show the
            // documented ceiling with one request (this one) in flight.
            set(headers, "x-ratelimit-concurrent-limit", SMARTRECRUITERS_CONCURRENCY);
            set(headers, "x-ratelimit-concurrent-remaining", SMARTRECRUITERS_CONCURRENCY - 1);
        }
        Vendor::Lever | Vendor::Ashby | Vendor::BambooHr => {}
    }
}

/// SmartRecruiters' documented concurrent-request ceiling per credential.
const SMARTRECRUITERS_CONCURRENCY: u32 = 8;

/// What the configured limiter answers once a window is used up: the
/// vendor's `429`, except BambooHR, whose throttling is reported as `503`
/// with `Retry-After`.
pub(crate) fn throttled(vendor: Vendor, d: &Decision) -> Response {
    if vendor != Vendor::BambooHr {
        return too_many_requests(vendor, d);
    }
    let mut resp = bamboohr_error(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable: too many requests");
    set(resp.headers_mut(), "retry-after", d.retry_after_secs);
    resp
}

/// The vendor's `429`.
pub(crate) fn too_many_requests(vendor: Vendor, d: &Decision) -> Response {
    let mut resp = error(vendor, StatusCode::TOO_MANY_REQUESTS, "Too Many Requests: rate limit exceeded");
    let headers = resp.headers_mut();
    rate_limit_headers(vendor, d, headers);
    set(headers, "retry-after", d.retry_after_secs);
    if vendor == Vendor::Greenhouse {
        set(headers, "x-ratelimit-reset", d.reset_unix);
    }
    resp
}

/// What [`crate::Fault::Status`] answers: 502/503/504 as an HTML page from a
/// load balancer, anything else as the vendor's own error.
pub(crate) fn fault_status(vendor: Vendor, code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    if matches!(code, 502..=504) {
        let reason = status.canonical_reason().unwrap_or("Error");
        let mut resp = Response::new(axum::body::Body::from(format!(
            "<html><head><title>{code} {reason}</title></head><body><center><h1>{code} {reason}</h1></center></body></html>"
        )));
        *resp.status_mut() = status;
        resp.headers_mut().insert(axum::http::header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
        return resp;
    }
    let message = match code {
        500 => "Internal Server Error",
        404 => "Resource not found",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    error(vendor, status, message)
}
