//! What a connection says of its hiring stages, over real HTTP against a
//! running `atsbridge serve` with the bundled Greenhouse connector (per-job
//! pipelines, tagged in its account-wide answer) and its mock, and through
//! the CLI as the host's client: stale mappings on the connection itself,
//! the advice for an ATS with per-job pipelines, the plugin's pipelines as
//! `plugin inspect` and a refresh tell them, and `record-next`'s URL.

use atsbridge_mock_ats::Stage;
use serde_json::{Value, json};

use crate::api_support::Host;
use crate::stages_http::{GreenhouseHost, greenhouse_host};

fn stdout(out: &std::process::Output) -> String {
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}\n{}", String::from_utf8_lossy(&out.stderr));
    text
}

async fn connection(host: &Host, id: &str) -> Value {
    host.op("GET", &format!("/api/v1/connections/{id}"), None).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_mapping_is_reported_on_the_connection_itself() {
    let GreenhouseHost { host, mock, conn, positions, dir: _dir } = greenhouse_host().await;
    let job = positions[0]["ats_job_code"].as_str().unwrap().to_string();
    host.op("POST", &format!("/api/v1/connections/{conn}/stages/refresh"), None).await;
    let c = connection(&host, &conn).await;
    assert_eq!(c["stale_stage_mappings"], json!({"count": 0, "stages": [], "unchecked": 0}), "{c}");

    // A job override to a stage the ATS then drops, and a connection-wide
    // override to a stage no pipeline has.
    let screen_id = mock.stages(&job).unwrap()[1].id.clone();
    for (stage, body) in
        [("screening", json!({"ats_stage_id": screen_id, "job_code": job})), ("offer", json!({"ats_stage_id": "gone"}))]
    {
        host.op("PUT", &format!("/api/v1/connections/{conn}/stage-mapping/{stage}"), Some(body)).await;
    }
    let kept: Vec<Stage> = mock.stages(&job).unwrap().into_iter().filter(|s| s.id != screen_id).collect();
    mock.update_job(&job, |j| j.stages = Some(kept)).unwrap();
    host.op("POST", &format!("/api/v1/connections/{conn}/stages/refresh?job={job}"), None).await;

    let c = connection(&host, &conn).await;
    let stale = &c["stale_stage_mappings"];
    assert_eq!(stale["count"], 2, "{c}");
    assert_eq!(
        stale["stages"],
        json!([{"stage": "screening", "stage_name": "Screening"}, {"stage": "offer", "stage_name": "Offer"}]),
        "in the account's order: {c}"
    );
    // The same count as the stage view's, and in the connection list.
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages"), None).await;
    assert_eq!(view["stale_total"], stale["count"], "{view}");
    let list = host.op("GET", "/api/v1/connections?account=acme", None).await;
    assert_eq!(list["items"][0]["stale_stage_mappings"], *stale, "{list}");

    let text = stdout(&host.cli(&["connection", "show", &conn]));
    assert!(text.contains("STALE stage mappings: 2"), "{text}");
    assert!(text.contains("screening (Screening), offer (Offer)"), "{text}");

    // Cleared, the connection is clean again.
    for (stage, query) in [("screening", format!("?job={job}")), ("offer", String::new())] {
        let path = format!("/api/v1/connections/{conn}/stage-mapping/{stage}{query}");
        assert_eq!(host.call("DELETE", &path, Some(&host.token), None).await.0, 204);
    }
    assert_eq!(connection(&host, &conn).await["stale_stage_mappings"]["count"], 0);
    let text = stdout(&host.cli(&["connection", "show", &conn]));
    assert!(!text.contains("STALE"), "{text}");
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn per_job_pipelines_are_named_as_such_by_the_view_the_plugin_and_the_refresh() {
    let GreenhouseHost { host, mock, conn, positions, dir: _dir } = greenhouse_host().await;

    // The refresh finds Greenhouse's stages tagged with their job.
    let text = stdout(&host.cli(&["connection", "stages", "refresh", &conn]));
    assert!(text.contains("(per-job pipelines)"), "{text}");
    // `plugin inspect` does not contradict it: the manifest declares nothing,
    // so the connector's answer decides.
    let text = stdout(&host.cli(&["plugin", "inspect", "greenhouse"]));
    let line = text.lines().find(|l| l.trim_start().starts_with("pipelines:")).unwrap_or_else(|| panic!("{text}"));
    assert!(!line.contains("account-wide") && line.contains("per job where it tags stages"), "{line}");

    // Asked for no job: the stages are cached, per job; no refresh advice.
    let view = host.op("GET", &format!("/api/v1/connections/{conn}/stages"), None).await;
    assert_eq!(view["pipeline"], "per_job_only", "{view}");
    let jobs = view["jobs_total"].as_u64().unwrap();
    assert!(jobs >= positions.len() as u64, "{view}");
    for entry in view["mapping"].as_array().unwrap() {
        assert_eq!(entry["problem"]["code"], "job_needed", "{view}");
        assert!(!entry["problem"]["message"].as_str().unwrap().contains("refresh"), "{view}");
    }
    let text = stdout(&host.cli(&["connection", "stages", "show", &conn]));
    assert!(!text.contains("refresh"), "{text}");
    assert!(text.contains(&format!("{jobs} job pipeline(s) cached")), "{text}");
    assert!(text.contains(&format!("connection stages show {conn} --job <job code>")), "{text}");
    // One job's view maps, as before.
    let job = positions[0]["ats_job_code"].as_str().unwrap();
    let one = host.op("GET", &format!("/api/v1/connections/{conn}/stages?job={job}"), None).await;
    assert_eq!(one["pipeline"], "per_job", "{one}");

    // `record-next` names the recording's URL with the id as it is.
    assert!(conn.contains('-'), "an id with a dash: {conn}");
    let text = stdout(&host.cli(&["connection", "record-next", &conn]));
    let want = format!("{}/api/v1/connections/{conn}/runs/<run>/recording", host.base);
    assert!(text.contains(&want) && !text.contains('%'), "{text}");
    mock.shutdown().await;
}
