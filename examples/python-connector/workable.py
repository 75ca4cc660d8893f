"""Workable SPI v3: the requests (class `Workable`) and the mapping of its
records onto the contract's (the functions below it).

- Base URL `https://{subdomain}.workable.com/spi/v3`, or the `base-url`
  setting (sandboxes, proxies, the project's mock server).
- `Authorization: Bearer <api-token>`: the plugin only names the secret
  setting (`secret-ref{key: "api-token"}`); the host attaches the value.
- Pages: `limit` (at most PAGE_SIZE) and the absolute URL in `paging.next`,
  which becomes the contract's cursor. That URL comes from a response body,
  so it is checked against the base URL's origin (scheme, host, port) both
  when it arrives and when it is followed: a page must never send the token
  somewhere else.

Only the standard library is used (json, urllib.parse, datetime, base64):
a component carries its own Python, so every import adds to its size.
"""

import base64
import json
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import quote, urlencode, urlsplit

from componentize_py_types import Err
from wit_world.imports import http, types
from wit_world.imports.types import (
    ApplicationState_Active,
    ApplicationState_Hired,
    ApplicationState_Other,
    ApplicationState_Rejected,
    ApplicationState_Withdrawn,
    JobStatus_Closed,
    JobStatus_Draft,
    JobStatus_Open,
    JobStatus_Other,
)

import errors

#: Workable's largest page (`limit` 1-100; more is a 422).
PAGE_SIZE = 100
#: The ad's text comes with the listing, so no per-job request is needed.
JOB_LIST_FIELDS = "description,full_description"
#: Every Workable account is a subdomain of this.
WORKABLE_DOMAIN = "workable.com"
#: The setting holding the token; the host resolves it, the plugin never
#: sees the value.
TOKEN_SETTING = "api-token"
#: Epoch values with this many digits or more are milliseconds, not seconds.
EPOCH_MS_MIN_DIGITS = 12
#: Profile link types Workable's `social_profiles[].type` accepts, by host.
SOCIAL_PROFILE_HOSTS = {
    "linkedin.com": "linkedin",
    "github.com": "github",
    "twitter.com": "twitter",
    "x.com": "twitter",
    "facebook.com": "facebook",
    "dribbble.com": "dribbble",
    "behance.net": "behance",
    "stackoverflow.com": "stackoverflow",
    "xing.com": "xing",
}

Json = Dict[str, Any]


# --- Settings ---------------------------------------------------------------


def settings(config: List[types.Setting]) -> Dict[str, Any]:
    """key -> str (text, url and choice settings) or SecretRef (secrets)."""
    return {s.key: s.value.value for s in config}


def text_setting(values: Dict[str, Any], key: str) -> Optional[str]:
    value = values.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.invalid_config(f"setting `{key}` must be text, not a secret")
    return value.strip() or None


def default_base_url(subdomain: str) -> str:
    """`https://{subdomain}.workable.com/spi/v3`. Accepts the subdomain as
    typed or pasted: `acme`, `acme.workable.com`, `https://acme.workable.com/`."""
    name = subdomain.strip().lower()
    for prefix in ("https://", "http://"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    name = name.rstrip("/")
    suffix = "." + WORKABLE_DOMAIN
    if name.endswith(suffix):
        name = name[: -len(suffix)]
    valid = (
        bool(name)
        and not name.startswith("-")
        and all(c.isascii() and (c.isalnum() or c == "-") for c in name)
    )
    if not valid:
        raise errors.invalid_config(
            f"setting `subdomain`: `{subdomain}` is not a Workable subdomain "
            "(the `acme` of acme.workable.com)"
        )
    return f"https://{name}.{WORKABLE_DOMAIN}/spi/v3"


def origin(url: str) -> Optional[Tuple[str, str, int]]:
    """(scheme, host, port) of an absolute http(s) URL, or None.

    URLs with user info or backslashes are refused outright: parsers
    disagree on where their host is.
    """
    if "\\" in url:
        return None
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    host = parts.hostname.lower().rstrip(".")
    return (scheme, host, port or (443 if scheme == "https" else 80))


# --- Requests ---------------------------------------------------------------


class Workable:
    """A configured Workable account: where it is and how to authenticate."""

    def __init__(self, config: List[types.Setting]):
        values = settings(config)
        if not isinstance(values.get(TOKEN_SETTING), types.SecretRef):
            raise errors.invalid_config(f"setting `{TOKEN_SETTING}` is missing or not a secret")
        base = text_setting(values, "base-url")
        if base is None:
            subdomain = text_setting(values, "subdomain")
            if subdomain is None:
                raise errors.invalid_config("setting `subdomain` is required")
            base = default_base_url(subdomain)
        self.base = base.rstrip("/")
        self.origin = origin(self.base)
        if self.origin is None:
            raise errors.invalid_config(
                f"setting `base-url`: `{base}` has no usable http(s) scheme, host and port"
            )
        self.auth = http.Auth_Bearer(http.Credential_Secret(types.SecretRef(TOKEN_SETTING)))

    def send(self, method: http.Method, url: str, body: Optional[Json] = None) -> http.Response:
        """One request through the host; host refusals become connector errors."""
        headers = [("accept", "application/json")]
        data = None
        if body is not None:
            headers.append(("content-type", "application/json"))
            data = json_bytes(body)
        request = http.Request(method, url, headers, data, self.auth, None)
        try:
            return http.send(request)
        except Err as e:
            raise errors.from_http_error(e.value)

    def get_json(self, url: str, what: str) -> Json:
        """GET a 2xx JSON object; `what` names the endpoint in errors."""
        response = self.send(http.Method.GET, url)
        error = errors.status_error(response)
        if error is not None:
            raise error
        return decode(response, what)

    def check(self) -> None:
        """`GET /jobs?limit=1`: the cheapest call that proves the token can read jobs."""
        self.get_json(f"{self.base}/jobs?limit=1", "GET /jobs")

    def first_jobs_url(self, changed_since: Optional[str]) -> str:
        """`GET /jobs?limit=100&include_fields=...[&updated_after=<ISO basic>]`.
        Later pages use `paging.next`, which keeps these parameters."""
        params = [("limit", str(PAGE_SIZE)), ("include_fields", JOB_LIST_FIELDS)]
        if changed_since is not None:
            params.append(("updated_after", updated_after(changed_since)))
        return f"{self.base}/jobs?{urlencode(params, safe=',')}"

    def jobs_page(self, url: str) -> Tuple[List[Json], Optional[str]]:
        """One page of jobs from `url`, and the next page's URL."""
        self.check_origin(url)
        page = self.get_json(url, "GET /jobs")
        jobs = page.get("jobs") or []
        if not isinstance(jobs, list):
            raise errors.permanent("malformed Workable `GET /jobs` response: `jobs` is not a list")
        next_url = (page.get("paging") or {}).get("next")
        if not isinstance(next_url, str) or not next_url.strip():
            next_url = None
        if next_url is not None:
            self.check_origin(next_url)
        return jobs, next_url

    def stages(self, job_code: Optional[str]) -> List[Json]:
        """`GET /jobs/{shortcode}/stages`, or the account's `GET /stages`."""
        if job_code is None:
            body = self.get_json(f"{self.base}/stages", "GET /stages")
        else:
            url = f"{self.base}/jobs/{segment(job_code)}/stages"
            body = self.get_json(url, "GET /jobs/{shortcode}/stages")
        return body.get("stages") or []

    def find_candidate(self, shortcode: str, email: str) -> Optional[Json]:
        """`GET /candidates?shortcode=&email=`: this e-mail on this job, if any."""
        query = urlencode([("shortcode", shortcode), ("email", email)])
        page = self.get_json(f"{self.base}/candidates?{query}", "GET /candidates")
        return next(
            (c for c in page.get("candidates") or [] if is_same_candidate(c, email, shortcode)),
            None,
        )

    def create_candidate(self, shortcode: str, stage: Optional[str], body: Json) -> Tuple[Optional[Json], Optional[Err]]:
        """`POST /jobs/{shortcode}/candidates[?stage=<slug>]`.

        Returns (candidate, None), or (None, error) for a 422 so the caller
        can tell a duplicate made by a concurrent push from other failures;
        every other failure is raised.
        """
        url = f"{self.base}/jobs/{segment(shortcode)}/candidates"
        if stage:
            url += "?" + urlencode([("stage", stage)])
        response = self.send(http.Method.POST, url, body)
        error = errors.status_error(response)
        if response.status == 422:
            return None, error
        if error is not None:
            raise error
        created = decode(response, "POST /jobs/{shortcode}/candidates")
        candidate = created.get("candidate")
        if not isinstance(candidate, dict) or "id" not in candidate:
            raise errors.permanent("Workable created the candidate but did not return its id")
        return candidate, None

    def candidate(self, candidate_id: str) -> Optional[Json]:
        """`GET /candidates/{id}`; None when Workable answers 404."""
        response = self.send(http.Method.GET, f"{self.base}/candidates/{segment(candidate_id)}")
        if response.status == 404:
            return None
        error = errors.status_error(response)
        if error is not None:
            raise error
        return decode(response, "GET /candidates/{id}").get("candidate")

    def check_origin(self, url: str) -> None:
        """Refuses a URL that is not on the base URL's origin."""
        if origin(url) != self.origin:
            scheme, host, port = self.origin
            raise errors.permanent(
                f"Workable's next-page URL `{url}` is not on {scheme}://{host}:{port}, "
                "the configured base URL's origin; refusing to follow it"
            )


def decode(response: http.Response, what: str) -> Json:
    """A JSON object body; anything else is permanent (retrying will not fix it)."""
    try:
        value = json.loads(response.body)
    except ValueError as e:
        raise errors.permanent(
            f"malformed Workable `{what}` response: {e}; body: {errors.excerpt(response.body)}"
        )
    if not isinstance(value, dict):
        raise errors.permanent(f"malformed Workable `{what}` response: not a JSON object")
    return value


def json_bytes(value: Json) -> bytes:
    """`json.dumps(value).encode()`, except that `bytes` values are written
    as base64 strings.

    A resume can be megabytes and a plugin's memory is capped (see the
    README), so the base64 is spliced into the encoded JSON instead of
    passing through a `str`, the JSON `str` and its UTF-8 copy.
    """
    blobs: List[bytes] = []

    def placeholder(o: Any) -> str:
        if not isinstance(o, (bytes, bytearray)):
            raise TypeError(f"{type(o).__name__} is not JSON serializable")
        blobs.append(o)
        return blob_placeholder(len(blobs) - 1)

    text = json.dumps(value, default=placeholder)
    parts: List[bytes] = []
    for i, blob in enumerate(blobs):
        token = json.dumps(blob_placeholder(i))  # as written, quotes included
        if text.count(token) != 1:
            # Some other string equals the placeholder: do it the plain way.
            return json.dumps(value, default=lambda o: base64.b64encode(o).decode()).encode()
        before, text = text.split(token)
        parts += [before.encode(), b'"', base64.b64encode(blob), b'"']
    parts.append(text.encode())
    return b"".join(parts)


def blob_placeholder(index: int) -> str:
    """What json_bytes() writes first in place of a blob (NULs keep it
    apart from any plausible real value)."""
    return f"\0blob{index}\0"


def segment(value: str) -> str:
    """Percent-encodes one path segment: a stray `/` or `?` must not change the endpoint."""
    return quote(value, safe="")


# --- Time -------------------------------------------------------------------


def updated_after(changed_since: str) -> str:
    """`updated_after` for `GET /jobs`: ISO 8601 basic in UTC, whole seconds
    (`2026-05-01T12:00:00.750+02:00` -> `20260501T100000Z`). Dropping the
    fraction moves the bound earlier, so "changed at or after" still holds."""
    try:
        instant = datetime.fromisoformat(changed_since.strip())
    except ValueError:
        raise errors.permanent(f"changed-since `{changed_since}` is not an RFC 3339 timestamp")
    if instant.tzinfo is None:
        raise errors.permanent(f"changed-since `{changed_since}` has no UTC offset")
    return instant.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def to_rfc3339(value: Any) -> Optional[str]:
    """Best effort: an ISO 8601 timestamp (extended or basic, no offset means
    UTC) or epoch seconds/milliseconds as RFC 3339 UTC; None when unreadable.
    A missing `updated-at` is better than a failed sync."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(int(value))
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    try:
        if value.lstrip("-").isdigit():
            number = int(value)
            if len(value.lstrip("-")) >= EPOCH_MS_MIN_DIGITS:
                number //= 1000
            instant = datetime.fromtimestamp(number, timezone.utc)
        else:
            instant = datetime.fromisoformat(value)
    except (ValueError, OverflowError, OSError):
        return None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=timezone.utc)
    return instant.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- Jobs -------------------------------------------------------------------


def job(j: Json) -> types.Job:
    """A Workable job as a contract job.

    | contract         | Workable                                                     |
    |------------------|--------------------------------------------------------------|
    | `code`           | `shortcode` (the code every job path uses)                   |
    | `status`         | draft -> draft, published -> open, closed/archived -> closed |
    | `locations`      | `location.location_str`, then each of `locations[]`          |
    | `description`    | `full_description`, else `description`                       |
    | `assigned-users` | empty: the team costs a request per job (10 req / 10 s)      |
    | `updated-at`     | `updated_at` when Workable sends it                          |
    | `extra`          | see `extra()`                                                |
    """
    state = str(j.get("state") or "")
    return types.Job(
        code=str(j["shortcode"]),
        status=status(state),
        raw_status=state,
        title=str(j.get("title") or ""),
        locations=locations(j),
        description=description(j),
        assigned_users=[],
        updated_at=to_rfc3339(j.get("updated_at")),
        extra=extra(j),
    )


def status(state: str) -> types.JobStatus:
    """A `closed` Workable job is still visible internally (confidential)
    but takes no applications from the public, so it counts as closed."""
    mapped = {
        "draft": JobStatus_Draft(),
        "published": JobStatus_Open(),
        "closed": JobStatus_Closed(),
        "archived": JobStatus_Closed(),
    }.get(state.lower())
    return mapped if mapped is not None else JobStatus_Other(state)


def locations(j: Json) -> List[str]:
    """Most relevant (the primary `location`) first, no duplicates; a remote
    job without a place reads "Remote"."""
    out: List[str] = []
    for location in [j.get("location")] + list(j.get("locations") or []):
        if not isinstance(location, dict):
            continue
        name = (location.get("location_str") or "").strip()
        if not name and location.get("telecommuting") is True:
            name = "Remote"
        if name and name not in out:
            out.append(name)
    return out


def description(j: Json) -> str:
    """`full_description` holds description, requirements and benefits together."""
    for key in ("full_description", "description"):
        html = j.get(key)
        if isinstance(html, str) and html.strip():
            return html
    return ""


def extra(j: Json) -> List[types.Field]:
    """Workable fields worth keeping, under stable kebab-case keys."""
    location = j.get("location") if isinstance(j.get("location"), dict) else {}
    pairs = [
        ("workable-id", j.get("id")),
        ("code", j.get("code")),
        ("full-title", j.get("full_title")),
        ("department", j.get("department")),
        ("employment-type", j.get("employment_type")),
        ("workplace-type", location.get("workplace_type")),
        ("url", j.get("url")),
        ("application-url", j.get("application_url")),
        ("created-at", to_rfc3339(j.get("created_at"))),
    ]
    return [types.Field(k, str(v)) for (k, v) in pairs if v is not None and str(v).strip()]


def stages(raw: List[Json], job_code: Optional[str]) -> List[types.Stage]:
    """Pipeline order, the slug as id. `position` is documented zero-based;
    sort on it anyway and renumber, so a gap cannot produce duplicates."""
    def position(stage: Json) -> float:
        p = stage.get("position")
        return p if isinstance(p, int) else float("inf")

    ordered = sorted(raw, key=position)
    return [
        types.Stage(id=str(s["slug"]), name=str(s.get("name") or s["slug"]), position=i, job_code=job_code)
        for (i, s) in enumerate(ordered)
    ]


# --- Candidates -------------------------------------------------------------


def new_candidate(c: types.Candidate) -> Json:
    """The body of `POST /jobs/{shortcode}/candidates`.

    - `sourced: false`: the candidate applied through atsbridge, so Workable
      files them as an applicant ("Applied" unless the push names a stage).
    - Known profile links become `social_profiles`; other links and the
      answers go to `summary` as text (Workable's `answers[]` need question
      keys of the job's form that a push does not carry).
    - The source goes to `domain`; a resume is sent inline as
      `{name, data (base64)}` (the bytes stay bytes here; `json_bytes()`
      encodes them when the request is sent).
    """
    profiles, other_links = [], []
    for link in c.links:
        kind = social_profile_type(link)
        if kind:
            profiles.append({"type": kind, "url": link})
        else:
            other_links.append(link)
    summary = []
    if other_links:
        summary.append("Links: " + " ".join(other_links))
    summary += [f"{a.question.strip()}: {a.answer.strip()}" for a in c.answers]

    candidate: Json = {"firstname": c.first_name, "lastname": c.last_name, "email": c.email.strip()}
    if c.phone and c.phone.strip():
        candidate["phone"] = c.phone
    if summary:
        candidate["summary"] = "\n".join(summary)
    if profiles:
        candidate["social_profiles"] = profiles
    if c.resume is not None:
        candidate["resume"] = {
            "name": c.resume.file_name,
            "data": c.resume.content,  # json_bytes() writes it as base64
        }
    body: Json = {"sourced": False, "candidate": candidate}
    if c.source and c.source.strip():
        body["domain"] = c.source
    return body


def social_profile_type(link: str) -> Optional[str]:
    """The Workable profile type of a link, by its host (subdomains included)."""
    rest = link.split("://", 1)[-1]
    host = rest.split("/")[0].split("?")[0].split("#")[0].rsplit("@", 1)[-1].split(":")[0].lower()
    for domain, kind in SOCIAL_PROFILE_HOSTS.items():
        if host == domain or host.endswith("." + domain):
            return kind
    return None


def is_same_candidate(c: Json, email: str, shortcode: str) -> bool:
    """`GET /candidates?email=&shortcode=` filters, but check what came back."""
    found_email = c.get("email")
    found_job = (c.get("job") or {}).get("shortcode")
    same_email = found_email is None or found_email.strip().lower() == email.strip().lower()
    same_job = found_job is None or found_job == shortcode
    return same_email and same_job


def candidate_ref(c: Json) -> types.CandidateRef:
    """Workable keeps one candidate record per job, so its `id` is both ids."""
    return types.CandidateRef(str(c["id"]), str(c["id"]))


def application_state(c: Json) -> types.ApplicationState:
    """withdrew -> withdrawn, disqualified -> rejected, `hired_at` -> hired."""
    if c.get("withdrew") is True:
        return ApplicationState_Withdrawn()
    if c.get("disqualified") is True:
        return ApplicationState_Rejected()
    if isinstance(c.get("hired_at"), str) and c["hired_at"].strip():
        return ApplicationState_Hired()
    return ApplicationState_Active()


def candidate_status(ref: types.CandidateRef, c: Json, stage_name: Optional[str]) -> types.CandidateStatus:
    return types.CandidateStatus(
        ref=ref,
        state=application_state(c),
        stage_id=c.get("stage"),
        stage_name=stage_name,
        updated_at=to_rfc3339(c.get("updated_at")),
    )


def missing_candidate_status(ref: types.CandidateRef) -> types.CandidateStatus:
    """A reference Workable no longer knows (deleted, or out of the token's
    reach): reported, so one missing candidate does not fail the batch."""
    return types.CandidateStatus(ref, ApplicationState_Other("not-found"), None, None, None)
