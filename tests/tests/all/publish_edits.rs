//! A person's local edit of a position is judged by the connection's
//! publish rules at once, through the real `atsbridge serve` over HTTP:
//! an edited title that newly matches a rule publishes the position with
//! an ad built from the edit; an edit (or the clearing of one) after which
//! no rule matches withdraws it; a person's explicit unpublish still beats
//! the rule; a job closed in the ATS stays hidden whatever its edit says.
//! None of this waits for the rules to change or for "apply now".

use serde_json::{Value, json};

use crate::api_support::{Host, secret_key, start};
use crate::publish::{position, sync};
use crate::support;

/// Edits a position's title through the API; the position as answered.
async fn retitle(host: &Host, id: &Value, title: &str) -> Value {
    host.op("PATCH", &format!("/api/v1/positions/{id}"), Some(json!({ "name": title }))).await
}

fn published_by_rule(p: &Value) -> bool {
    p["published"] == true && p["publication"]["decision"]["by"] == json!({ "kind": "rule", "rule_id": "r1" })
}

/// A host serving `ats` through one connection (returned with the host and
/// the data directory to keep) with one publish rule: `name`, for titles
/// matching `glob`, its ad titled "Now hiring: {{ title }}".
async fn host_with_rule(ats: &support::FakeAts, name: &str, glob: &str) -> (tempfile::TempDir, Host, String) {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &secret_key());
    host.install_well_behaved().await;
    let c = host.account_with_connection("Acme", ats).await;
    host.op(
        "POST",
        &format!("/api/v1/connections/{c}/publish-rules"),
        Some(json!({
            "name": name,
            "filter": { "title": { "kind": "glob", "pattern": glob } },
            "template": { "title": "Now hiring: {{ title }}", "description": "{{ description }}" }
        })),
    )
    .await;
    (dir, host, c)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_edit_is_judged_by_the_rules_at_once_and_a_persons_unpublish_still_wins() {
    // J1 and J5 are open, J4 closed; all are titled "Engineer n".
    let ats = support::fake_ats().await;
    let (_dir, host, c) = host_with_rule(&ats, "Senior roles", "senior*").await;
    // The sync applies the new rules (none matches) and clears their
    // pending flag: from now on only changes trigger a pass.
    sync(&host, &c).await;
    let j1 = position(&host, &c, "J1").await;
    assert_eq!(j1["published"], false, "{j1}");
    let rules = host.op("GET", &format!("/api/v1/connections/{c}/publish-rules"), None).await;
    assert_eq!(rules["pending"], false, "{rules}");

    // Retitled to match: published by the rule, its ad from the edit.
    let edited = retitle(&host, &j1["id"], "Senior Engineer").await;
    assert!(published_by_rule(&edited), "the edit's answer shows the rule's verdict: {edited}");
    assert_eq!(edited["publication"]["ad"]["title"], "Now hiring: Senior Engineer", "{edited}");
    let stored = position(&host, &c, "J1").await;
    assert!(published_by_rule(&stored), "{stored}");
    assert!(stored["publication"]["public_url"].is_string(), "{stored}");

    // Retitled again, still matching: the ad follows the edit.
    let edited = retitle(&host, &j1["id"], "Senior Staff Engineer").await;
    assert_eq!(edited["publication"]["ad"]["title"], "Now hiring: Senior Staff Engineer", "{edited}");

    // The edit cleared: "Engineer 1" matches no rule, so the rule withdraws it.
    let cleared = host.op("DELETE", &format!("/api/v1/positions/{}/edits/name", j1["id"]), None).await;
    assert_eq!(cleared["name"]["value"], "Engineer 1", "{cleared}");
    assert_eq!(cleared["published"], false, "{cleared}");
    assert_eq!(cleared["publication"]["last_change"]["by"], json!({ "kind": "rule", "rule_id": "r1" }), "{cleared}");
    assert_eq!(position(&host, &c, "J1").await["published"], false);

    // Published by the rule, then retitled out of it: withdrawn at once.
    retitle(&host, &j1["id"], "Senior Engineer").await;
    let edited = retitle(&host, &j1["id"], "Chef").await;
    assert_eq!(edited["published"], false, "{edited}");
    assert!(edited["publication"]["ad"].is_null(), "{edited}");

    // A person's explicit unpublish beats the rule, edit or not.
    let j5 = position(&host, &c, "J5").await;
    let done = host
        .op(
            "POST",
            &format!("/api/v1/positions/{}/unpublish", j5["id"]),
            Some(json!({ "user": "jane@platform.example", "reason": "filled internally" })),
        )
        .await;
    assert_eq!(done["published"], false);
    let edited = retitle(&host, &j5["id"], "Senior Engineer").await;
    assert_eq!(edited["published"], false, "{edited}");
    assert_eq!(edited["publication"]["decision"]["by"]["kind"], "user", "{edited}");
    assert_eq!(position(&host, &c, "J5").await["published"], false);

    // A job closed in the ATS is never published by an edit.
    let j4 = position(&host, &c, "J4").await;
    assert_eq!(j4["status"], "closed", "{j4}");
    let edited = retitle(&host, &j4["id"], "Senior Engineer").await;
    assert_eq!(edited["published"], false, "{edited}");
}

/// Every position of `c`, a page at a time.
async fn all_positions(host: &Host, c: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = host.op("GET", &format!("/api/v1/positions?connection={c}&limit=500{cursor}"), None).await;
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return all,
        }
    }
}

/// A run's record is written before its publish rules' pass over what it
/// changed: whoever follows the run must read it as running until that
/// pass is done too. With 1,500 new positions the pass takes far longer
/// than the follower's 25 ms poll, so reading the end too early shows here.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_reads_as_ended_only_once_its_rules_pass_is_done() {
    let ats = support::fake_ats_with(1_500, 500, std::time::Duration::ZERO).await;
    let (_dir, host, c) = host_with_rule(&ats, "Engineers", "engineer*").await;
    let done = sync(&host, &c).await;
    assert_eq!(done["counts"]["created"], 1_500, "{done}");

    let rules = host.op("GET", &format!("/api/v1/connections/{c}/publish-rules"), None).await;
    assert_eq!(rules["pending"], false, "the run ended before its rules pass did: {rules}");
    let positions = all_positions(&host, &c).await;
    assert_eq!(positions.len(), 1_500);
    let open: Vec<&Value> = positions.iter().filter(|p| p["status"] == "open").collect();
    assert!(!open.is_empty());
    let unpublished: Vec<&&Value> = open.iter().filter(|p| !published_by_rule(p)).collect();
    assert!(unpublished.is_empty(), "{} of {} open positions not yet published", unpublished.len(), open.len());
}
