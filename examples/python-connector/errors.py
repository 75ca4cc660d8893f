"""Turning HTTP outcomes into the contract's `connector-error`.

A connector reports every failure as one `connector-error` case, chosen by
what the host should do about it (see `wit/v0.1.0/types.wit`):

| what happened                        | case              | the host...            |
|--------------------------------------|-------------------|------------------------|
| HTTP 401 / 403                       | `unauthorized`    | asks a user to fix it  |
| HTTP 404                             | `not-found`       | skips the item         |
| HTTP 429                             | `rate-limited`    | waits `Retry-After`    |
| HTTP 5xx, timeout, dropped connection| `transient`       | retries later          |
| other 4xx, malformed JSON            | `permanent`       | gives up on the call   |
| a missing or bad setting             | `invalid-config`  | asks a user to fix it  |

componentize-py maps a Python exception `componentize_py_types.Err(value)`
raised from an export to the `err` side of its `result`, so the helpers here
*return* such exceptions and callers `raise` them:

    raise errors.permanent("Workable requires the candidate's e-mail address")
"""

from datetime import datetime, timezone
from typing import List, Optional, Tuple

from componentize_py_types import Err
from wit_world.imports import http
from wit_world.imports.types import (
    ConnectorError_InvalidConfig,
    ConnectorError_NotFound,
    ConnectorError_Permanent,
    ConnectorError_RateLimited,
    ConnectorError_Transient,
    ConnectorError_Unauthorized,
    RateLimit,
)

#: How much of a response body an error message quotes: enough to show
#: Workable's `{"error": "..."}`, short enough for a log line.
BODY_EXCERPT_CHARS = 200

#: `Retry-After` as an HTTP-date (RFC 9110 section 5.6.7, IMF-fixdate).
HTTP_DATE_FORMAT = "%a, %d %b %Y %H:%M:%S GMT"

#: Reason phrases of the statuses ATS APIs actually send (the `http.client`
#: module has them all, but importing it pulls in sockets and e-mail parsing).
REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def invalid_config(message: str) -> Err:
    return Err(ConnectorError_InvalidConfig(message))


def unauthorized(message: str) -> Err:
    return Err(ConnectorError_Unauthorized(message))


def not_found(message: str) -> Err:
    return Err(ConnectorError_NotFound(message))


def rate_limited(retry_after_ms: Optional[int], message: str) -> Err:
    return Err(ConnectorError_RateLimited(RateLimit(retry_after_ms, message)))


def transient(message: str) -> Err:
    return Err(ConnectorError_Transient(message))


def permanent(message: str) -> Err:
    return Err(ConnectorError_Permanent(message))


def header(headers: List[Tuple[str, str]], name: str) -> Optional[str]:
    """The first value of a header; the host sends names in lower case."""
    name = name.lower()
    return next((v for (n, v) in headers if n.lower() == name), None)


def excerpt(body: bytes) -> str:
    """The start of a body for an error message, whitespace collapsed."""
    text = " ".join(body.decode("utf-8", errors="replace").split())
    if not text:
        return "(empty body)"
    if len(text) > BODY_EXCERPT_CHARS:
        return text[:BODY_EXCERPT_CHARS] + "…"
    return text


def parse_retry_after(value: str, now: Optional[datetime] = None) -> Optional[int]:
    """`Retry-After` in milliseconds: delay seconds (`120`) or an HTTP-date.

    A date in the past gives 0; anything unreadable gives None (the host
    then uses its own back-off).
    """
    value = value.strip()
    if value.isdigit():
        return int(value) * 1000
    try:
        when = datetime.strptime(value, HTTP_DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    now = now or datetime.now(timezone.utc)
    return max(0, int((when - now).total_seconds() * 1000))


def status_error(response: http.Response) -> Optional[Err]:
    """The error a non-2xx response stands for, or None for 2xx.

    The message names the status and quotes the start of the body, which is
    where Workable explains itself (`{"error": "Not authorized"}`).
    """
    status = response.status
    if 200 <= status < 300:
        return None
    message = f"HTTP {status} {REASONS.get(status, '')}".rstrip() + f": {excerpt(response.body)}"
    if status in (401, 403):
        return unauthorized(message)
    if status == 404:
        return not_found(message)
    if status == 429:
        retry_after = header(response.headers, "retry-after")
        return rate_limited(parse_retry_after(retry_after) if retry_after else None, message)
    if 500 <= status < 600:
        return transient(message)
    return permanent(message)


def from_http_error(error: http.HttpError) -> Err:
    """The host refused or could not complete a request (see `http.wit`)."""
    if isinstance(error, http.HttpError_Denied):
        return permanent(f"request denied by the host: {error.value}")
    if isinstance(error, http.HttpError_InvalidRequest):
        return permanent(f"invalid HTTP request: {error.value}")
    if isinstance(error, http.HttpError_TooLarge):
        return permanent(f"the response body exceeded the host's limit of {error.value} bytes")
    if isinstance(error, http.HttpError_Timeout):
        return transient("the ATS did not answer in time")
    if isinstance(error, http.HttpError_Transport):
        return transient(f"could not reach the ATS: {error.value}")
    if isinstance(error, http.HttpError_UnknownSecret):
        return invalid_config(f"no secret setting named `{error.value}` on this connection")
    if isinstance(error, http.HttpError_AuthFailed):
        return unauthorized(f"the token endpoint refused the client credentials: {error.value}")
    return permanent(f"HTTP request failed: {error!r}")
