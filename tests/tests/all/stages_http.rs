//! Hiring stages, the ATS's stages and the mapping between them, and
//! candidates moving through them, over real HTTP against a running
//! `atsbridge serve` with the bundled Greenhouse connector and its mock.

use std::collections::BTreeMap;
use std::time::Duration;

use atsbridge::conformance::{settings_for_mock, start_mock};
use atsbridge_mock_ats::{Stage, Vendor};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::api_support::{self, Host};
use crate::support;

/// A running host with the bundled Greenhouse connector connected to a
/// fresh mock and synced once: what every test of this file starts from.
pub(crate) struct GreenhouseHost {
    pub(crate) host: Host,
    pub(crate) mock: atsbridge_mock_ats::MockAts,
    pub(crate) conn: String,
    pub(crate) positions: Vec<Value>,
    /// The host's data directory: bind it (`dir: _dir`) to keep it.
    pub(crate) dir: tempfile::TempDir,
}

pub(crate) async fn greenhouse_host() -> GreenhouseHost {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let mock = start_mock(Vendor::Greenhouse).await.unwrap();
    let (conn, positions) = greenhouse_connection(&host, &mock).await;
    GreenhouseHost { host, mock, conn, positions, dir }
}

/// The bundled Greenhouse connector, an account and a connection of it to
/// `mock`, synced once; returns (connection id, open positions).
pub(crate) async fn greenhouse_connection(host: &Host, mock: &atsbridge_mock_ats::MockAts) -> (String, Vec<Value>) {
    let (status, p) =
        host.call("POST", "/api/v1/plugins", Some(&host.token), Some(json!({"bundled": "greenhouse"}))).await;
    assert_eq!(status, 201, "{p}");
    host.op("POST", "/api/v1/accounts", Some(json!({"name": "Acme"}))).await;
    let settings = settings_for_mock("greenhouse", mock, &BTreeMap::new());
    let c = host
        .op(
            "POST",
            "/api/v1/connections",
            Some(json!({
                "account": "acme", "name": "Greenhouse", "plugin": "greenhouse", "settings": settings,
                "extra_hosts": [support::url_origin(mock.base_url())],
            })),
        )
        .await;
    let id = c["id"].as_str().unwrap().to_string();
    let accepted = host.op("POST", &format!("/api/v1/connections/{id}/sync?full=true"), None).await;
    let run = host.wait_run(&id, accepted["run"].as_u64().unwrap(), &host.token).await;
    assert_eq!(run["outcome"], "succeeded", "{run}");
    let positions = host.op("GET", &format!("/api/v1/positions?connection={id}&status=open&limit=500"), None).await;
    (id, positions["items"].as_array().unwrap().clone())
}

fn entry<'a>(view: &'a Value, stage: &str) -> &'a Value {
    view["mapping"].as_array().unwrap().iter().find(|e| e["stage"] == stage).unwrap_or_else(|| panic!("{view}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn stages_are_fetched_per_job_mapped_by_name_or_override_and_stale_ones_reported() {
    let GreenhouseHost { host, mock, conn, positions, dir: _dir } = greenhouse_host().await;
    let job = positions[0]["ats_job_code"].as_str().unwrap().to_string();

    // Never fetched: every stage says so, none is guessed.
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages?job={job}"), None).await;
    assert_eq!(entry(&view, "offer")["problem"]["code"], "not_fetched", "{view}");

    let report = host.op("POST", &format!("/api/v1/connections/{conn}/stages/refresh"), None).await;
    assert_eq!((report["supported"].as_bool(), report["per_job"].as_bool()), (Some(true), Some(true)), "{report}");
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages"), None).await;
    assert!(view["jobs_total"].as_u64().unwrap() >= positions.len() as u64, "every open job's pipeline: {view}");

    // The job's own pipeline, as the mock has it; "Offer" maps by name.
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages?job={job}"), None).await;
    let want: Vec<String> = mock.stages(&job).unwrap().into_iter().map(|s| s.id).collect();
    let got: Vec<&str> = view["list"]["stages"].as_array().unwrap().iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(got, want, "{view}");
    assert_eq!(view["list"]["job_code"], job.as_str());
    let offer = entry(&view, "offer");
    assert_eq!((offer["ats_stage_name"].as_str(), offer["source"].as_str()), (Some("Offer"), Some("by_name")));
    assert_eq!(offer["ats_stage_id"], want[5].as_str());
    assert_eq!(entry(&view, "screening")["problem"]["code"], "no_mapping", "{view}");

    // A renamed stage maps by its new name; an override wins for one job.
    host.op("PATCH", "/api/v1/accounts/acme/stages/interview", Some(json!({"name": "phone interview"}))).await;
    let screen_id = want[1].clone();
    let view = host
        .op(
            "PUT",
            &format!("/api/v1/connections/{conn}/stage-mapping/screening"),
            Some(json!({"ats_stage_id": screen_id, "job_code": job})),
        )
        .await;
    assert_eq!(entry(&view, "interview")["ats_stage_id"], want[2].as_str(), "{view}");
    let screening = entry(&view, "screening");
    assert_eq!(
        (screening["ats_stage_id"].as_str(), screening["source"].as_str()),
        (Some(screen_id.as_str()), Some("job_override"))
    );
    assert_eq!(view["stale_total"], 0, "{view}");
    // Another job's pipeline is untouched by the override.
    let other = positions[1]["ats_job_code"].as_str().unwrap();
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages?job={other}"), None).await;
    assert_eq!(entry(&view, "screening")["problem"]["code"], "no_mapping", "{view}");

    // The ATS drops the stage the override points at: reported, not used.
    let kept: Vec<Stage> = mock.stages(&job).unwrap().into_iter().filter(|s| s.id != screen_id).collect();
    mock.update_job(&job, |j| j.stages = Some(kept)).unwrap();
    host.op("POST", &format!("/api/v1/connections/{conn}/stages/refresh?job={job}"), None).await;
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages?job={job}"), None).await;
    let screening = entry(&view, "screening");
    assert_eq!(screening["problem"]["code"], "stale_mapping", "{view}");
    assert_eq!(screening["problem"]["ats_stage_id"], screen_id.as_str());
    assert!(screening["ats_stage_id"].is_null(), "a stale mapping is never used: {view}");
    let whole = host.op("GET", &format!("/api/v1/connections/{conn}/stages"), None).await;
    assert_eq!(whole["stale"], json!([{"job_code": job, "stage": "screening", "ats_stage_id": screen_id}]), "{whole}");

    // The CLI, as a client of the running host, reports it too.
    let out = host.cli(&["connection", "stages", "show", &conn, "--job", &job]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("STALE") && text.contains("stale_mapping"), "{text}");

    // Clearing the override: the stage is unmapped again, nothing stale.
    let (status, _) = host
        .call(
            "DELETE",
            &format!("/api/v1/connections/{conn}/stage-mapping/screening?job={job}"),
            Some(&host.token),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let whole = host.op("GET", &format!("/api/v1/connections/{conn}/stages"), None).await;
    assert_eq!(whole["stale_total"], 0, "{whole}");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn candidates_move_through_stages_with_history_and_a_stage_in_use_stays() {
    let GreenhouseHost { host, mock, conn: _, positions, dir: _dir } = greenhouse_host().await;
    let position = positions[0]["id"].as_u64().unwrap();
    let key = host.op("POST", "/api/v1/accounts/acme/keys", Some(json!({"label": "platform"}))).await;
    let acme = key["token"].as_str().unwrap().to_string();

    let pdf = base64::engine::general_purpose::STANDARD.encode(b"%PDF-1.7\n% a resume\n");
    let body = json!({
        "position": position, "name": "Ada Lovelace", "email": "ada@example.com",
        "links": ["https://ada.example.com"], "answers": {"why": "Engines"},
        "resume": {"file_name": "../../etc/cv.pdf", "content_base64": pdf},
    });
    let (status, c) = host.call("POST", "/api/v1/candidates", Some(&acme), Some(body.clone())).await;
    assert_eq!(status, 201, "{c}");
    let id = c["id"].as_u64().unwrap();
    assert_eq!((c["stage"].as_str(), c["push"]["state"].as_str()), (Some("new-submission"), Some("not_sent")));
    assert_eq!(
        (c["resume"]["file_name"].as_str(), c["resume"]["content_type"].as_str()),
        (Some("cv.pdf"), Some("application/pdf"))
    );

    // A file that is not a resume, whatever it is called: refused.
    let mut bad = body.clone();
    bad["resume"] = json!({"file_name": "cv.pdf", "content_base64": base64::engine::general_purpose::STANDARD.encode(b"MZ\x90\x00\x03")});
    let (status, e) = host.call("POST", "/api/v1/candidates", Some(&acme), Some(bad)).await;
    assert_eq!(status, 422, "{e}");

    let (status, m) = host
        .call(
            "POST",
            &format!("/api/v1/candidates/{id}/move"),
            Some(&acme),
            Some(json!({"stage": "interview", "by": "jane"})),
        )
        .await;
    assert_eq!(status, 200, "{m}");
    assert_eq!((m["move"]["from"].as_str(), m["move"]["to"].as_str()), (Some("new-submission"), Some("interview")));
    let (status, _) = host
        .call("POST", &format!("/api/v1/candidates/{id}/move"), Some(&acme), Some(json!({"stage": "interview"})))
        .await;
    assert_eq!(status, 409, "already there");

    // The stage the candidate is in cannot be deleted; once empty it can.
    let (status, e) = host.call("DELETE", "/api/v1/accounts/acme/stages/interview", Some(&acme), None).await;
    assert_eq!((status, e["error"]["code"].as_str()), (409, Some("conflict")), "{e}");
    let stages = host.op("GET", "/api/v1/accounts/acme/stages", None).await;
    assert_eq!(stages[2]["candidates"], 1, "{stages}");
    host.op("POST", &format!("/api/v1/candidates/{id}/move"), Some(json!({"stage": "offer"}))).await;
    let (status, _) = host.call("DELETE", "/api/v1/accounts/acme/stages/interview", Some(&acme), None).await;
    assert_eq!(status, 204);

    let history = host.op("GET", &format!("/api/v1/candidates/{id}/history"), None).await;
    let path: Vec<(Value, Value, Value)> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["from"].clone(), m["to"].clone(), m["by"]["name"].clone()))
        .collect();
    assert_eq!(
        path,
        [
            (Value::Null, json!("new-submission"), json!("api key of acme")),
            (json!("new-submission"), json!("interview"), json!("jane")),
            (json!("interview"), json!("offer"), json!("operator")),
        ]
    );

    // Lists page by cursor; another account sees nothing of it.
    for n in 0..3 {
        let mut more = body.clone();
        more["email"] = json!(format!("c{n}@example.com"));
        more.as_object_mut().unwrap().remove("resume");
        host.op("POST", "/api/v1/candidates", Some(more)).await;
    }
    let first = host.op("GET", &format!("/api/v1/candidates?position={position}&limit=3"), None).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = host.op("GET", &format!("/api/v1/candidates?position={position}&limit=3&cursor={cursor}"), None).await;
    assert_eq!((first["items"].as_array().unwrap().len(), second["items"].as_array().unwrap().len()), (3, 1));
    assert!(second["next_cursor"].is_null());
    host.op("POST", "/api/v1/accounts", Some(json!({"name": "Globex"}))).await;
    let globex =
        host.op("POST", "/api/v1/accounts/globex/keys", Some(json!({}))).await["token"].as_str().unwrap().to_string();
    let (status, _) = host.call("GET", &format!("/api/v1/candidates/{id}"), Some(&globex), None).await;
    assert_eq!(status, 404);
    let (status, list) = host.call("GET", "/api/v1/candidates", Some(&globex), None).await;
    assert_eq!((status, list["items"].as_array().map(Vec::len)), (200, Some(0)), "{list}");

    // The CLI shows the same history.
    let out = host.cli(&["candidates", "history", &id.to_string()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("(created)") && text.contains("jane"), "{text}");
    tokio::time::sleep(Duration::from_millis(10)).await;
    mock.shutdown().await;
}
