"""Unit tests of the mapping and error handling, run natively (no wasm):

    examples/python-connector/build.sh --test

build.sh generates the WIT bindings (`componentize-py bindings`) and runs
these with the host's python3 before building the component. Only pure
functions are tested here; the calls that go through the host's `http`
import are tested against the mock Workable server by the Rust test
`tests/tests/all/python_connector.rs`.
"""

import json
import unittest
from datetime import datetime, timezone

from componentize_py_types import Err
from wit_world.imports import http, types

import errors
import workable

# A `GET /jobs?include_fields=description,full_description` page, as
# Workable documents it (plus `updated_at`, which the mock serves).
JOBS_PAGE = json.loads("""{
  "jobs": [
    {"id": "61884e2", "title": "Backend Engineer", "full_title": "Backend Engineer - REQ-42",
     "shortcode": "GROOV003", "code": "REQ-42", "state": "published", "department": "Engineering",
     "url": "https://acme.workable.com/j/GROOV003",
     "location": {"location_str": "Berlin, Germany", "telecommuting": false, "workplace_type": "hybrid"},
     "locations": [{"location_str": "Berlin, Germany"}, {"location_str": "Lisbon, Portugal"}],
     "created_at": "2024-05-01T10:00:00Z", "updated_at": "2024-05-02T12:30:00+02:00",
     "description": "<p>About</p>", "full_description": "<p>About</p><h3>Requirements</h3>"},
    {"id": "61884e3", "title": "Remote Designer", "shortcode": "GROOV004", "code": null,
     "state": "archived", "location": {"location_str": "", "telecommuting": true},
     "created_at": "2024-05-03T10:00:00Z", "description": "<p>Design</p>"}
  ]
}""")


def config(**settings):
    out = []
    for key, value in settings.items():
        key = key.replace("_", "-")
        if key == "api-token":
            out.append(types.Setting(key, types.SettingValue_Secret(types.SecretRef(key))))
        else:
            out.append(types.Setting(key, types.SettingValue_Text(value)))
    return out


def error_of(raised: Err):
    return type(raised.value).__name__.split("_", 1)[1]


class JobMapping(unittest.TestCase):
    def test_a_published_job(self):
        j = workable.job(JOBS_PAGE["jobs"][0])
        self.assertEqual(j.code, "GROOV003")
        self.assertIsInstance(j.status, types.JobStatus_Open)
        self.assertEqual(j.raw_status, "published")
        self.assertEqual(j.locations, ["Berlin, Germany", "Lisbon, Portugal"])
        self.assertEqual(j.description, "<p>About</p><h3>Requirements</h3>")
        self.assertEqual(j.updated_at, "2024-05-02T10:30:00Z")
        extra = {f.key: f.value for f in j.extra}
        self.assertEqual(extra["code"], "REQ-42")
        self.assertEqual(extra["workable-id"], "61884e2")
        self.assertEqual(extra["workplace-type"], "hybrid")
        self.assertEqual(extra["created-at"], "2024-05-01T10:00:00Z")
        self.assertNotIn("employment-type", extra)

    def test_an_archived_remote_job_without_optional_fields(self):
        j = workable.job(JOBS_PAGE["jobs"][1])
        self.assertIsInstance(j.status, types.JobStatus_Closed)
        self.assertEqual(j.locations, ["Remote"])
        self.assertEqual(j.description, "<p>Design</p>")
        self.assertIsNone(j.updated_at)
        self.assertNotIn("code", [f.key for f in j.extra])

    def test_statuses(self):
        self.assertIsInstance(workable.status("draft"), types.JobStatus_Draft)
        self.assertIsInstance(workable.status("closed"), types.JobStatus_Closed)
        self.assertEqual(workable.status("on_hold"), types.JobStatus_Other("on_hold"))

    def test_stages_are_ordered_by_position(self):
        raw = [{"slug": "interview", "name": "Interview", "position": 2},
               {"slug": "sourced", "name": "Sourced", "position": 0},
               {"slug": "applied", "name": "Applied", "position": None}]
        stages = workable.stages(raw, "GROOV003")
        self.assertEqual([(s.id, s.position) for s in stages], [("sourced", 0), ("interview", 1), ("applied", 2)])
        self.assertEqual(stages[0].job_code, "GROOV003")


class Time(unittest.TestCase):
    def test_updated_after_is_iso_basic_utc(self):
        self.assertEqual(workable.updated_after("2026-05-01T12:00:00.750+02:00"), "20260501T100000Z")
        self.assertEqual(workable.updated_after("2026-05-01T10:00:00Z"), "20260501T100000Z")
        with self.assertRaises(Err) as e:
            workable.updated_after("yesterday")
        self.assertEqual(error_of(e.exception), "Permanent")

    def test_to_rfc3339_is_lenient(self):
        self.assertEqual(workable.to_rfc3339("20150708T115616Z"), "2015-07-08T11:56:16Z")
        self.assertEqual(workable.to_rfc3339("2024-05-01 10:00:00"), "2024-05-01T10:00:00Z")
        self.assertEqual(workable.to_rfc3339(1714557600), "2024-05-01T10:00:00Z")
        self.assertEqual(workable.to_rfc3339("1714557600000"), "2024-05-01T10:00:00Z")
        self.assertIsNone(workable.to_rfc3339("soon"))
        self.assertIsNone(workable.to_rfc3339(None))


class Settings(unittest.TestCase):
    def test_subdomain_or_base_url(self):
        w = workable.Workable(config(subdomain=" https://Acme.workable.com/ ", api_token=None))
        self.assertEqual(w.base, "https://acme.workable.com/spi/v3")
        w = workable.Workable(config(subdomain="acme", base_url="http://127.0.0.1:9000/spi/v3/", api_token=None))
        self.assertEqual(w.base, "http://127.0.0.1:9000/spi/v3")
        for bad in [config(subdomain="acme.example.com", api_token=None),
                    config(subdomain="acme"),
                    config(subdomain="acme", base_url="ftp://x", api_token=None)]:
            with self.assertRaises(Err) as e:
                workable.Workable(bad)
            self.assertEqual(error_of(e.exception), "InvalidConfig")

    def test_next_page_urls_must_stay_on_the_base_origin(self):
        w = workable.Workable(config(subdomain="acme", api_token=None))
        for ok in ["https://acme.workable.com/spi/v3/jobs?since_id=1", "HTTPS://ACME.workable.com:443/x",
                   "https://acme.workable.com./spi/v3/jobs"]:
            w.check_origin(ok)
        for bad in ["https://evil.example/spi/v3/jobs", "http://acme.workable.com/spi/v3/jobs",
                    "https://acme.workable.com:8443/x", "https://acme.workable.com@evil.example/x",
                    "https://acme.workable.com\\@evil.example/x", "/spi/v3/jobs", ""]:
            with self.assertRaises(Err, msg=bad):
                w.check_origin(bad)

    def test_first_jobs_url(self):
        w = workable.Workable(config(subdomain="acme", api_token=None))
        self.assertEqual(w.first_jobs_url(None),
                         "https://acme.workable.com/spi/v3/jobs?limit=100&include_fields=description,full_description")
        self.assertTrue(w.first_jobs_url("2026-05-01T10:00:00Z").endswith("&updated_after=20260501T100000Z"))


class Candidates(unittest.TestCase):
    def candidate(self, **changes):
        c = types.Candidate("Ada", "Lovelace", " ada@example.com ", "+44 20 0000",
                            types.Attachment("cv.pdf", "application/pdf", b"%PDF"), "jobs.example.com",
                            ["https://www.linkedin.com/in/ada", "https://ada.dev"],
                            [types.Answer("Notice period?", "1 month")])
        for key, value in changes.items():
            setattr(c, key, value)
        return c

    def test_new_candidate_body(self):
        body = json.loads(workable.json_bytes(workable.new_candidate(self.candidate())))
        self.assertEqual(body, {
            "sourced": False, "domain": "jobs.example.com",
            "candidate": {"firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com",
                          "phone": "+44 20 0000",
                          "summary": "Links: https://ada.dev\nNotice period?: 1 month",
                          "social_profiles": [{"type": "linkedin", "url": "https://www.linkedin.com/in/ada"}],
                          "resume": {"name": "cv.pdf", "data": "JVBERg=="}}})

    def test_minimal_candidate_leaves_optional_fields_out(self):
        c = self.candidate(phone=None, resume=None, source=None, links=[], answers=[])
        body = json.loads(workable.json_bytes(workable.new_candidate(c)))
        self.assertEqual(body, {"sourced": False, "candidate": {
            "firstname": "Ada", "lastname": "Lovelace", "email": "ada@example.com"}})

    def test_json_bytes_survives_a_value_equal_to_its_placeholder(self):
        value = {"a": workable.blob_placeholder(0), "b": b"hi", "c": 'q"\\u0000'}
        self.assertEqual(json.loads(workable.json_bytes(value)), {"a": workable.blob_placeholder(0), "b": "aGk=", "c": 'q"\\u0000'})

    def test_social_profile_types_match_whole_host_labels(self):
        self.assertEqual(workable.social_profile_type("https://de.linkedin.com/in/x"), "linkedin")
        self.assertEqual(workable.social_profile_type("github.com/x"), "github")
        self.assertIsNone(workable.social_profile_type("https://notgithub.com/x"))
        self.assertIsNone(workable.social_profile_type("https://github.com.evil.example/x"))

    def test_application_states(self):
        state = workable.application_state
        self.assertIsInstance(state({"disqualified": True}), types.ApplicationState_Rejected)
        self.assertIsInstance(state({"hired_at": "2024-06-01T00:00:00Z"}), types.ApplicationState_Hired)
        self.assertIsInstance(state({"withdrew": True, "disqualified": True}), types.ApplicationState_Withdrawn)
        self.assertIsInstance(state({"disqualified": None}), types.ApplicationState_Active)

    def test_same_candidate_checks_email_and_job(self):
        c = {"id": "ce4", "email": "ada@example.com", "job": {"shortcode": "GROOV003"}}
        self.assertTrue(workable.is_same_candidate(c, "ADA@example.com ", "GROOV003"))
        self.assertFalse(workable.is_same_candidate(c, "bob@example.com", "GROOV003"))
        self.assertFalse(workable.is_same_candidate(c, "ada@example.com", "OTHER"))


class Errors(unittest.TestCase):
    def response(self, status, body=b'{"error": "x"}', headers=()):
        return http.Response(status, list(headers), body)

    def test_statuses(self):
        cases = {200: None, 401: "Unauthorized", 403: "Unauthorized", 404: "NotFound", 422: "Permanent",
                 429: "RateLimited", 500: "Transient", 503: "Transient", 302: "Permanent"}
        for status, kind in cases.items():
            err = errors.status_error(self.response(status))
            self.assertEqual(err and error_of(err), kind, status)

    def test_rate_limit_carries_retry_after_in_ms(self):
        err = errors.status_error(self.response(429, headers=[("retry-after", "7")]))
        self.assertEqual(err.value.value.retry_after_ms, 7000)
        self.assertIn('HTTP 429 Too Many Requests: {"error": "x"}', err.value.value.message)

    def test_retry_after_as_http_date(self):
        now = datetime(2026, 10, 21, 7, 28, 0, tzinfo=timezone.utc)
        self.assertEqual(errors.parse_retry_after("Wed, 21 Oct 2026 07:28:30 GMT", now), 30000)
        self.assertEqual(errors.parse_retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now), 0)
        self.assertIsNone(errors.parse_retry_after("later", now))

    def test_malformed_json_is_permanent_and_names_the_endpoint(self):
        with self.assertRaises(Err) as e:
            workable.decode(self.response(200, b'{"jobs": [1, '), "GET /jobs")
        self.assertEqual(error_of(e.exception), "Permanent")
        self.assertIn("`GET /jobs`", e.exception.value.value)

    def test_host_refusals(self):
        self.assertEqual(error_of(errors.from_http_error(http.HttpError_Timeout())), "Transient")
        self.assertEqual(error_of(errors.from_http_error(http.HttpError_Denied("no"))), "Permanent")
        self.assertEqual(error_of(errors.from_http_error(http.HttpError_UnknownSecret("api-token"))), "InvalidConfig")


class Reported(unittest.TestCase):
    def test_unexpected_exceptions_become_permanent_errors(self):
        import app

        logged = []
        original, app.log.log = app.log.log, lambda level, message: logged.append((level, message))
        try:
            @app.reported
            def list_jobs():
                return {"jobs": 5}["jobs"][0]

            with self.assertRaises(Err) as e:
                list_jobs()
        finally:
            app.log.log = original
        self.assertEqual(error_of(e.exception), "Permanent")
        self.assertIn("list_jobs: TypeError", e.exception.value.value)
        self.assertIn("Traceback", logged[0][1])

    def test_connector_errors_pass_through(self):
        import app

        @app.reported
        def check():
            raise errors.unauthorized("no")

        with self.assertRaises(Err) as e:
            check()
        self.assertEqual(error_of(e.exception), "Unauthorized")


if __name__ == "__main__":
    unittest.main()
