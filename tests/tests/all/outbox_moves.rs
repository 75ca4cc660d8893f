//! A stage move after the push, through a connector that cannot move
//! applications: a contract 0.1.0 component (0.1.0 has no
//! `move-application`). The host runs it through the outbox like any other
//! move and records it on the candidate as not propagated, saying why,
//! without calling the connector or the ATS.

use std::time::Duration;

use serde_json::{Value, json};

use crate::ops_support::{Setup, eventually, operator_client};
use crate::outbox_support::{LineAts, j1_stages, push, wait_for_state, with_store};

const WAIT: Duration = Duration::from_secs(30);
const CONNECTION: &str = "acme-line-one";

/// A data directory with the contract 0.1.0 test connector against `ats`:
/// connection `acme-line-one`, synced (job J1), J1's ATS stages cached
/// (0.1.0's connector lists none), our stages mapped to them by name.
fn v0_1_setup(ats: &LineAts) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let key_file = dir.path().join("secret.key");
    let setup = Setup { data, key_file, dir };
    setup.ok(&["key", "generate", setup.key_file.to_str().unwrap()]);
    let src = setup.dir.path().join("src-line-one");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::copy(atsbridge_tests::guests::CONTRACT_V0_1, src.join("plugin.wasm")).unwrap();
    std::fs::write(
        src.join("atsbridge-plugin.toml"),
        "[plugin]\nid = \"line-one\"\nversion = \"0.1.0\"\ncontract = \"0.1.0\"\ncomponent = \"plugin.wasm\"\n",
    )
    .unwrap();
    setup.ok(&["plugin", "install", src.to_str().unwrap()]);
    setup.ok(&["account", "add", "Acme", "--time-zone", "Europe/Berlin"]);
    setup.ok(&[
        "connection",
        "add",
        "--account",
        "acme",
        "--plugin",
        "line-one",
        "--name",
        "Line One",
        "--set",
        &format!("base-url={}", ats.base),
        "--set",
        "api-key=line-key",
        "--allow-host",
        &ats.base,
    ]);
    setup.ok(&["connection", "sync", CONNECTION]);
    with_store(&setup, |store| {
        store.put_ats_stages(CONNECTION, Some("J1"), j1_stages(&["New submission", "Interview", "Offer"])).unwrap();
    });
    setup
}

/// `GET /candidates/{id}/history`, once the last move is no longer pending.
async fn settled_history(base: &str, id: u64) -> Value {
    eventually(WAIT, "the move to settle", || async {
        let r = operator_client().get(format!("{base}/api/v1/candidates/{id}/history")).send().await.ok()?;
        let history: Value = r.json().await.ok()?;
        let last = history.as_array()?.last()?.clone();
        (last["propagation"]["state"] != "pending").then_some(history)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_move_through_a_0_1_connector_is_recorded_as_not_propagated() {
    let ats = LineAts::start().await;
    let setup = v0_1_setup(&ats);
    let host = setup.serve(&setup.dir.path().join("host.log"));
    let client = operator_client();
    let positions: Value = client
        .get(format!("{}/api/v1/positions?connection={CONNECTION}", host.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let j1 = positions["items"].as_array().unwrap().iter().find(|p| p["ats_job_code"] == "J1").unwrap()["id"]
        .as_u64()
        .unwrap();
    let created: Value = client
        .post(format!("{}/api/v1/candidates", host.base))
        .json(&json!({ "position": j1, "name": "Ada Lovelace", "email": "ada@example.com" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_u64().unwrap();
    let (status, body) = push(&host, id).await;
    assert!((200..300).contains(&status), "{status} {body}");
    let pushed = wait_for_state(&host, id, "pushed", WAIT).await;
    assert_eq!(pushed["ats_application_id"], "app-9", "{pushed}");

    // Interview maps to the ATS's J1-s2 by name: the move could be sent,
    // but the connector has no move-application.
    let r = client
        .post(format!("{}/api/v1/candidates/{id}/move", host.base))
        .json(&json!({ "stage": "interview" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let moved: Value = r.json().await.unwrap();
    assert_eq!(moved["move"]["propagation"]["state"], "pending", "{moved}");
    let history = settled_history(&host.base, id).await;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!((last["from"].as_str(), last["to"].as_str()), (Some("new-submission"), Some("interview")));
    assert_eq!(last["propagation"]["state"], "not_propagated", "{history}");
    let reason = last["propagation"]["reason"].as_str().unwrap();
    assert!(reason.contains("line-one") && reason.contains("cannot move applications"), "{reason}");
    // The ATS heard the push only; the outbox is empty.
    let paths: Vec<String> = ats.seen().into_iter().map(|(path, _)| path).collect();
    assert_eq!(paths, vec!["/candidates".to_string()], "{paths:?}");
    let status: Value = crate::outbox_support::push_status(&host, id).await;
    assert_eq!(status["state"], "pushed");
    assert!(status["outbox"].as_array().unwrap().is_empty(), "{status}");
    // A later move is recorded the same way; the candidate stays pushed.
    let r = client
        .post(format!("{}/api/v1/candidates/{id}/move", host.base))
        .json(&json!({ "stage": "offer" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let history = settled_history(&host.base, id).await;
    let last = history.as_array().unwrap().last().unwrap();
    assert_eq!(last["propagation"]["state"], "not_propagated", "{history}");
    assert_eq!(ats.seen().len(), 1);
}
