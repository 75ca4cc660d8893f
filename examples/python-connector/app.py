"""The atsbridge connector for Workable (SPI v3), written in Python.

componentize-py looks in this module for one class per exported interface,
named after it: the world exports `plugin`, so the class is `Plugin`. Each
method is one call of `wit/v0.1.0/world.wit`; it returns the contract's
records (`wit_world.imports.types`) and reports failures by raising
`componentize_py_types.Err(<connector-error case>)` (see `errors.py`).

| call                 | Workable endpoint                                                   |
|----------------------|---------------------------------------------------------------------|
| `check`              | `GET /jobs?limit=1`                                                 |
| `list-jobs`          | `GET /jobs?limit=100&include_fields=...[&updated_after=]`, then `paging.next` |
| `list-stages`        | `GET /jobs/{shortcode}/stages`, or `GET /stages` without a job      |
| `push-candidate`     | `GET /candidates?shortcode=&email=`, then `POST /jobs/{shortcode}/candidates` |
| `candidate-statuses` | `GET /candidates/{id}` per reference, `GET /jobs/{shortcode}/stages` once per job |

Each call runs in a fresh instance: nothing is kept between calls.
"""

import functools
import traceback
from typing import Dict, List, Optional

from componentize_py_types import Err
from wit_world import exports
from wit_world.imports import log, types
from wit_world.imports.types import Capability, SettingKind, SettingSpec

import errors
import workable
from workable import Workable

#: Must equal `plugin.version` in atsbridge-plugin.toml (install checks it).
VERSION = "0.1.0"


def reported(method):
    """Turns an unexpected Python exception (a bug, or a Workable answer of
    an unexpected shape such as `{"jobs": 5}`) into a `permanent` error with
    the traceback in the host's log, instead of a trap that tells the
    operator nothing."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except Err:
            raise
        except Exception as e:
            log.log(log.Level.ERROR, f"{method.__name__} failed:\n{traceback.format_exc()}")
            raise errors.permanent(f"unexpected data or connector bug in {method.__name__}: {type(e).__name__}: {e}")

    return wrapper


class Plugin(exports.Plugin):
    def info(self) -> types.ConnectorInfo:
        return types.ConnectorInfo(
            name="Workable (Python)",
            version=VERSION,
            vendor="atsbridge examples",
            capabilities=[Capability.STAGES, Capability.CANDIDATE_PUSH, Capability.CANDIDATE_STATUS],
            config_schema=[
                SettingSpec(
                    key="subdomain",
                    label="Account subdomain",
                    kind=SettingKind.TEXT,
                    required=True,
                    help="The `acme` of acme.workable.com.",
                    choices=[],
                    default_value=None,
                ),
                SettingSpec(
                    key="api-token",
                    label="API access token",
                    kind=SettingKind.SECRET,
                    required=True,
                    help="Workable > Settings > Integrations > Apps > Generate API token, "
                    "with r_jobs, r_candidates and w_candidates.",
                    choices=[],
                    default_value=None,
                ),
                SettingSpec(
                    key="base-url",
                    label="API base URL",
                    kind=SettingKind.URL,
                    required=False,
                    help="Only for a proxy or test server; defaults to "
                    "https://{subdomain}.workable.com/spi/v3.",
                    choices=[],
                    default_value=None,
                ),
            ],
        )

    @reported
    def check(self, config: List[types.Setting]) -> None:
        Workable(config).check()

    @reported
    def list_jobs(self, config: List[types.Setting], cursor: Optional[str], changed_since: Optional[str]) -> types.JobPage:
        # The cursor is the absolute `paging.next` URL; it already carries
        # `updated_after`, so `changed_since` only shapes the first page.
        client = Workable(config)
        url = cursor if cursor is not None else client.first_jobs_url(changed_since)
        jobs, next_url = client.jobs_page(url)
        return types.JobPage([workable.job(j) for j in jobs], next_url)

    @reported
    def list_stages(self, config: List[types.Setting], job_code: Optional[str]) -> List[types.Stage]:
        return workable.stages(Workable(config).stages(job_code), job_code)

    @reported
    def push_candidate(self, config: List[types.Setting], request: types.PushRequest) -> types.Pushed:
        # Looking the e-mail up first makes a retried push (same
        # idempotency key) link to the candidate it created the first time.
        client = Workable(config)
        job, email = request.job_code, request.candidate.email.strip()
        if not email:
            raise errors.permanent("Workable requires the candidate's e-mail address")
        found = client.find_candidate(job, email)
        if found is not None:
            log.log(log.Level.INFO, f"candidate {found['id']} is already on job {job}")
            return types.Pushed(workable.candidate_ref(found), True)
        body = workable.new_candidate(request.candidate)
        created, unprocessable = client.create_candidate(job, request.stage_id, body)
        if created is not None:
            return types.Pushed(workable.candidate_ref(created), False)
        # 422: a concurrent push may have created the candidate meanwhile.
        found = client.find_candidate(job, email)
        if found is not None:
            return types.Pushed(workable.candidate_ref(found), True)
        raise unprocessable

    @reported
    def candidate_statuses(self, config: List[types.Setting], refs: List[types.CandidateRef]) -> List[types.CandidateStatus]:
        client = Workable(config)
        # The candidate record carries only the stage slug: fetch each job's
        # stage names once.
        stage_names: Dict[str, Dict[str, str]] = {}
        statuses = []
        for ref in refs:
            candidate = client.candidate(ref.candidate_id)
            if candidate is None:
                log.log(log.Level.WARN, f"Workable has no candidate {ref.candidate_id}")
                statuses.append(workable.missing_candidate_status(ref))
                continue
            job = (candidate.get("job") or {}).get("shortcode")
            name = None
            if job and candidate.get("stage"):
                if job not in stage_names:
                    stage_names[job] = stage_names_of(client, job)
                name = stage_names[job].get(candidate["stage"])
            statuses.append(workable.candidate_status(ref, candidate, name))
        return statuses


def stage_names_of(client: Workable, job: str) -> Dict[str, str]:
    """Slug -> name of a job's stages; empty when the job is gone (its
    candidates' statuses are still worth reporting)."""
    try:
        return {str(s["slug"]): str(s.get("name") or s["slug"]) for s in client.stages(job)}
    except Err as e:
        if isinstance(e.value, types.ConnectorError_NotFound):
            return {}
        raise
