// Turning HTTP outcomes into the contract's `connector-error`.
//
// A connector reports every failure as one `connector-error` case, chosen by
// what the host should do about it (see wit/v0.1.0/types.wit):
//
// | what happened                         | case             | the host...           |
// |---------------------------------------|------------------|-----------------------|
// | HTTP 401 / 403                        | `unauthorized`   | asks a user to fix it |
// | HTTP 404                              | `not-found`      | skips the item        |
// | HTTP 429                              | `rate-limited`   | waits the delay       |
// | HTTP 5xx, timeout, dropped connection | `transient`      | retries later         |
// | other 4xx, malformed JSON             | `permanent`      | gives up on the call  |
// | a missing or bad setting              | `invalid-config` | asks a user to fix it |
//
// componentize-js maps a value thrown from an export whose WIT result is
// `result<T, connector-error>` to the `err` side: throw the variant itself,
// `{ tag: 'not-found', val: '...' }`. The helpers here return such values
// (as `ConnectorError`s, so a stack trace is kept) and callers `throw` them.

/** How much of a response body an error message quotes. */
export const BODY_EXCERPT_CHARS = 200;

/** The largest `Retry-After` believed, in seconds (a day); more is a typo or a misbehaving proxy. */
const MAX_RETRY_AFTER_SECS = 86400;

/** A thrown `connector-error` variant. */
export class ConnectorError extends Error {
  constructor(tag, val) {
    super(`${tag}: ${typeof val === 'string' ? val : val.message}`);
    this.tag = tag;
    this.val = val;
  }
}

export const invalidConfig = (message) => new ConnectorError('invalid-config', message);
export const unauthorized = (message) => new ConnectorError('unauthorized', message);
export const notFound = (message) => new ConnectorError('not-found', message);
export const transient = (message) => new ConnectorError('transient', message);
export const permanent = (message) => new ConnectorError('permanent', message);
export const unsupported = (message) => new ConnectorError('unsupported', message);

/** `retryAfterMs` is a WIT `u64`: a BigInt in JavaScript. */
export function rateLimited(retryAfterMs, message) {
  const ms = retryAfterMs === undefined ? undefined : BigInt(retryAfterMs);
  return new ConnectorError('rate-limited', { retryAfterMs: ms, message });
}

/** The first value of a (lower-case) response header. */
export function header(response, name) {
  const found = response.headers.find(([key]) => key === name);
  return found ? found[1] : undefined;
}

/** The start of a body, for error messages. */
export function excerpt(body) {
  const text = new TextDecoder().decode(body.subarray(0, BODY_EXCERPT_CHARS * 4));
  return text.length > BODY_EXCERPT_CHARS ? `${text.slice(0, BODY_EXCERPT_CHARS)}...` : text;
}

/**
 * `Retry-After` (RFC 9110 section 10.2.3): delay-seconds or an HTTP-date,
 * in milliseconds; undefined when unreadable. The connector does not wait:
 * it returns `rate-limited` and the host waits before calling again.
 */
export function parseRetryAfter(value, nowMs = Date.now()) {
  const text = (value || '').trim();
  if (/^\d+$/.test(text)) {
    return Math.min(Number(text), MAX_RETRY_AFTER_SECS) * 1000;
  }
  const at = Date.parse(text);
  if (Number.isNaN(at)) {
    return undefined;
  }
  return Math.min(Math.max(0, at - nowMs), MAX_RETRY_AFTER_SECS * 1000);
}

/** The error a non-2xx response stands for, or undefined for 2xx. */
export function statusError(response) {
  const status = response.status;
  if (status >= 200 && status < 300) {
    return undefined;
  }
  const message = `HTTP ${status}: ${excerpt(response.body)}`;
  if (status === 401 || status === 403) return unauthorized(message);
  if (status === 404) return notFound(message);
  if (status === 429) {
    const retryAfter = header(response, 'retry-after');
    return rateLimited(retryAfter === undefined ? undefined : parseRetryAfter(retryAfter), message);
  }
  if (status >= 500 && status < 600) return transient(message);
  return permanent(message);
}

/** The host refused or could not complete a request (see `http.wit`). */
export function fromHttpError(error) {
  // An imported function's `err` arrives as a thrown value whose `payload`
  // is the `http-error` variant.
  const e = error && error.payload !== undefined ? error.payload : error;
  switch (e && e.tag) {
    case 'denied':
      return permanent(`request denied by the host: ${e.val}`);
    case 'invalid-request':
      return permanent(`invalid HTTP request: ${e.val}`);
    case 'too-large':
      return permanent(`the response body exceeded the host's limit of ${e.val} bytes`);
    case 'timeout':
      return transient('the ATS did not answer in time');
    case 'transport':
      return transient(`could not reach the ATS: ${e.val}`);
    case 'unknown-secret':
      return invalidConfig(`no secret setting named \`${e.val}\` on this connection`);
    case 'auth-failed':
      return unauthorized(`the token endpoint refused the client credentials: ${e.val}`);
    default:
      return permanent(`HTTP request failed: ${String(error)}`);
  }
}
