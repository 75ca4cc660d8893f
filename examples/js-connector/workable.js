// Workable SPI v3: the requests (class `Workable`) and the mapping of its
// records onto the contract's (the functions below it).
//
// - Base URL `https://{subdomain}.workable.com/spi/v3`, or the `base-url`
//   setting (sandboxes, proxies, the project's mock server).
// - `Authorization: Bearer <api-token>`: the plugin only names the secret
//   setting (`{ tag: 'secret', val: { key: 'api-token' } }`); the host
//   attaches the value. The plugin never sees it.
// - Pages: `limit` (at most PAGE_SIZE) and the absolute URL in
//   `paging.next`, which becomes the contract's cursor. That URL comes from
//   a response body, so it is checked against the base URL's origin both
//   when it arrives and when it is followed: a page must never send the
//   token somewhere else.

import { send } from 'atsbridge:connector/http@0.1.0';
import { fromHttpError, invalidConfig, permanent, statusError } from './errors.js';

/** Workable's largest page (`limit` 1-100; more is a 422). */
export const PAGE_SIZE = 100;
/** The ad's text comes with the listing, so no per-job request is needed. */
const JOB_LIST_FIELDS = 'description,full_description';
/** Every Workable account is a subdomain of this. */
const WORKABLE_DOMAIN = 'workable.com';
/** The setting holding the token; the host resolves it. */
const TOKEN_SETTING = 'api-token';
/** Epoch values with this many digits or more are milliseconds, not seconds. */
const EPOCH_MS_MIN_DIGITS = 12;

/** key -> string (text, url, choice) or `{ key }` (a secret reference). */
function settings(config) {
  const values = new Map();
  for (const { key, value } of config) {
    values.set(key, value.tag === 'secret' ? { secret: value.val } : value.val);
  }
  return values;
}

function textSetting(values, key) {
  const value = values.get(key);
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalidConfig(`setting \`${key}\` must be text, not a secret`);
  return value.trim() || undefined;
}

/** `https://{subdomain}.workable.com/spi/v3`, from the subdomain as typed or pasted. */
export function defaultBaseUrl(subdomain) {
  let name = subdomain.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/+$/, '');
  if (name.endsWith(`.${WORKABLE_DOMAIN}`)) name = name.slice(0, -(WORKABLE_DOMAIN.length + 1));
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw invalidConfig(
      `setting \`subdomain\`: \`${subdomain}\` is not a Workable subdomain (the \`acme\` of acme.workable.com)`,
    );
  }
  return `https://${name}.${WORKABLE_DOMAIN}/spi/v3`;
}

/** `scheme://host:port` of an absolute http(s) URL, or undefined. */
export function origin(url) {
  if (url.includes('\\')) return undefined;
  let parsed;
  try {
    parsed = new URL(url.trim());
  } catch {
    return undefined;
  }
  if (!['http:', 'https:'].includes(parsed.protocol) || !parsed.hostname || parsed.username || parsed.password) {
    return undefined;
  }
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.protocol}//${parsed.hostname.toLowerCase()}:${port}`;
}

/** A configured Workable account: where it is and how to authenticate. */
export class Workable {
  constructor(config) {
    const values = settings(config);
    const token = values.get(TOKEN_SETTING);
    if (!token || typeof token !== 'object') {
      throw invalidConfig(`setting \`${TOKEN_SETTING}\` is missing or not a secret`);
    }
    let base = textSetting(values, 'base-url');
    if (base === undefined) {
      const subdomain = textSetting(values, 'subdomain');
      if (subdomain === undefined) throw invalidConfig('setting `subdomain` is required');
      base = defaultBaseUrl(subdomain);
    }
    this.base = base.replace(/\/+$/, '');
    this.origin = origin(this.base);
    if (this.origin === undefined) {
      throw invalidConfig(`setting \`base-url\`: \`${base}\` has no usable http(s) scheme, host and port`);
    }
    this.auth = { tag: 'bearer', val: { tag: 'secret', val: token.secret } };
  }

  /** One GET through the host; host refusals become connector errors. */
  get(url) {
    try {
      return send({
        method: 'get',
        url,
        headers: [['accept', 'application/json']],
        body: undefined,
        auth: this.auth,
        timeoutMs: undefined,
      });
    } catch (e) {
      throw fromHttpError(e);
    }
  }

  /** GET a 2xx JSON object; `what` names the endpoint in errors. */
  getJson(url, what) {
    const response = this.get(url);
    const error = statusError(response);
    if (error) throw error;
    return decode(response, what);
  }

  /** `GET /jobs?limit=1`: the cheapest call that proves the token can read jobs. */
  check() {
    this.getJson(`${this.base}/jobs?limit=1`, 'GET /jobs');
  }

  /** The first page's URL; later pages use `paging.next`, which keeps these parameters. */
  firstJobsUrl(changedSince) {
    let url = `${this.base}/jobs?limit=${PAGE_SIZE}&include_fields=${JOB_LIST_FIELDS}`;
    if (changedSince !== undefined && changedSince !== null) {
      url += `&updated_after=${updatedAfter(changedSince)}`;
    }
    return url;
  }

  /** One page of jobs from `url`, and the next page's URL. */
  jobsPage(url) {
    this.checkOrigin(url);
    const page = this.getJson(url, 'GET /jobs');
    const jobs = page.jobs ?? [];
    if (!Array.isArray(jobs)) throw permanent('malformed Workable `GET /jobs` response: `jobs` is not a list');
    let nextUrl = page.paging?.next;
    if (typeof nextUrl !== 'string' || !nextUrl.trim()) nextUrl = undefined;
    if (nextUrl !== undefined) this.checkOrigin(nextUrl);
    return { jobs, nextUrl };
  }

  /** `GET /jobs/{shortcode}/stages`, or the account's `GET /stages`. */
  stages(jobCode) {
    const body =
      jobCode === undefined || jobCode === null
        ? this.getJson(`${this.base}/stages`, 'GET /stages')
        : this.getJson(`${this.base}/jobs/${encodeURIComponent(jobCode)}/stages`, 'GET /jobs/{shortcode}/stages');
    const list = body.stages ?? [];
    if (!Array.isArray(list)) throw permanent('malformed Workable stages response: `stages` is not a list');
    return list;
  }

  /** Refuses a URL that is not on the base URL's origin. */
  checkOrigin(url) {
    if (origin(url) !== this.origin) {
      throw permanent(
        `Workable's next-page URL \`${url}\` is not on ${this.origin}, the configured base URL's origin; refusing to follow it`,
      );
    }
  }
}

/** A JSON object body; anything else is permanent (retrying will not fix it). */
function decode(response, what) {
  let value;
  try {
    value = JSON.parse(new TextDecoder().decode(response.body));
  } catch (e) {
    throw permanent(`malformed Workable \`${what}\` response: ${e.message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw permanent(`malformed Workable \`${what}\` response: not a JSON object`);
  }
  return value;
}

/**
 * `updated_after` for `GET /jobs`: ISO 8601 basic in UTC, whole seconds
 * (`2026-05-01T12:00:00.750+02:00` -> `20260501T100000Z`). Dropping the
 * fraction moves the bound earlier, so "changed at or after" still holds.
 */
export function updatedAfter(changedSince) {
  const text = changedSince.trim();
  if (!/(Z|[+-]\d\d:\d\d)$/i.test(text)) {
    throw permanent(`changed-since \`${changedSince}\` has no UTC offset`);
  }
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) throw permanent(`changed-since \`${changedSince}\` is not an RFC 3339 timestamp`);
  return new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z').replace(/[-:]/g, '');
}

/** Best effort RFC 3339 UTC from ISO 8601 or epoch seconds/milliseconds; undefined when unreadable. */
export function toRfc3339(value) {
  if (value === undefined || value === null) return undefined;
  let text = String(value).trim();
  if (!text) return undefined;
  let ms;
  if (/^-?\d+$/.test(text)) {
    ms = Number(text);
    if (text.replace('-', '').length < EPOCH_MS_MIN_DIGITS) ms *= 1000;
  } else {
    // ISO 8601 basic (`20260501T100000Z`) -> extended, and no offset means UTC.
    const basic = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})(.*)$/.exec(text);
    if (basic) text = `${basic[1]}-${basic[2]}-${basic[3]}T${basic[4]}:${basic[5]}:${basic[6]}${basic[7]}`;
    if (!/(Z|[+-]\d\d:?\d\d)$/i.test(text)) text += 'Z';
    ms = Date.parse(text);
  }
  if (!Number.isFinite(ms)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString().replace(/\.\d+Z$/, 'Z');
}

/** A `closed` Workable job takes no applications from the public, so it counts as closed. */
export function status(state) {
  switch (state.toLowerCase()) {
    case 'draft':
      return { tag: 'draft' };
    case 'published':
      return { tag: 'open' };
    case 'closed':
    case 'archived':
      return { tag: 'closed' };
    default:
      return { tag: 'other', val: state };
  }
}

/** The primary `location` first, no duplicates; a remote job without a place reads "Remote". */
function locations(j) {
  const out = [];
  for (const location of [j.location, ...(Array.isArray(j.locations) ? j.locations : [])]) {
    if (!location || typeof location !== 'object') continue;
    let name = String(location.location_str ?? '').trim();
    if (!name && location.telecommuting === true) name = 'Remote';
    if (name && !out.includes(name)) out.push(name);
  }
  return out;
}

/** Workable fields worth keeping, under stable kebab-case keys. */
function extra(j) {
  const location = j.location && typeof j.location === 'object' ? j.location : {};
  const pairs = [
    ['workable-id', j.id],
    ['code', j.code],
    ['full-title', j.full_title],
    ['department', j.department],
    ['employment-type', j.employment_type],
    ['workplace-type', location.workplace_type],
    ['url', j.url],
    ['application-url', j.application_url],
    ['created-at', toRfc3339(j.created_at)],
  ];
  return pairs
    .filter(([, v]) => v !== undefined && v !== null && String(v).trim())
    .map(([key, v]) => ({ key, value: String(v) }));
}

/** A Workable job as a contract job. */
export function job(j) {
  if (j === null || typeof j !== 'object' || j.shortcode === undefined || j.shortcode === null) {
    throw permanent('malformed Workable job: no `shortcode`');
  }
  const state = String(j.state ?? '');
  const description = [j.full_description, j.description].find((h) => typeof h === 'string' && h.trim()) ?? '';
  return {
    code: String(j.shortcode),
    status: status(state),
    rawStatus: state,
    title: String(j.title ?? ''),
    locations: locations(j),
    description,
    assignedUsers: [],
    updatedAt: toRfc3339(j.updated_at),
    extra: extra(j),
  };
}

/** Pipeline order, the slug as id; renumbered from 0 so a gap cannot produce duplicates. */
export function stages(raw, jobCode) {
  const position = (s) => (Number.isInteger(s.position) ? s.position : Number.POSITIVE_INFINITY);
  return [...raw]
    .sort((a, b) => position(a) - position(b))
    .map((s, i) => ({
      id: String(s.slug),
      name: String(s.name || s.slug),
      position: i,
      jobCode: jobCode ?? undefined,
    }));
}
