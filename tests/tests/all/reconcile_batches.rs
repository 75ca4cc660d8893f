//! The daily reconciliation reads the statuses of pushed candidates in
//! batches: a scheduled run with more pushed candidates than one batch
//! holds calls `candidate-statuses` several times, none with more than
//! [`STATUS_BATCH`] applications, every application in exactly one call,
//! and maps every answer back to our stages. The run is recorded, so the
//! recording shows each export call with its arguments.

use std::collections::{BTreeMap, BTreeSet};

use atsbridge::app::App;
use atsbridge::contract::{CandidateRef, Pushed, Stage};
use atsbridge::outbox::reconcile::STATUS_BATCH;
use atsbridge::store::{MovedBy, PushOutcome, SecretKey, Trigger};
use atsbridge::sync::NoProgress;
use atsbridge_tests::guests;
use serde_json::Value;

use crate::outbox_fixture::new_candidate;
use crate::support;

/// Two full batches and a part of one.
const PUSHED: usize = 2 * STATUS_BATCH + 7;
/// The connection's secret. The recorder withholds any entry that holds a
/// secret it cannot mark, so a one-letter key would withhold every entry.
const SECRET: &str = "reconcile-batches-test-key";
/// Nothing listens here: the test connector's listing, stages and statuses
/// are made up inside it, so the run makes no request.
const BASE: &str = "http://127.0.0.1:9";

#[tokio::test(flavor = "multi_thread")]
async fn the_daily_reconciliation_reads_statuses_in_bounded_batches_and_maps_each_back() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(dir.path(), Some(SecretKey::generate().unwrap())).unwrap();
    support::install(&app.runtime, dir.path(), "line", "0.2.0", guests::CONTRACT_V0_2, "").await;
    app.store.add_account("Acme", "UTC").unwrap();
    let values =
        BTreeMap::from([("base-url".to_string(), BASE.to_string()), ("api-key".to_string(), SECRET.to_string())]);
    let c = app.add_connection("acme", "Line", "line", &values, vec![BASE.to_string()], None).unwrap().id;
    app.engine.sync(&c, Trigger::Manual, &NoProgress).await.unwrap();
    // The connector's account-wide stages ("Interview" is `s2`), as its
    // list-stages answers.
    let stages = [("s1", "Applied"), ("s2", "Interview")]
        .iter()
        .enumerate()
        .map(|(i, (id, name))| Stage { id: id.to_string(), name: name.to_string(), position: i as u32, job_code: None })
        .collect();
    app.store.put_ats_stages(&c, None, stages).unwrap();

    // Candidates in the ATS: each with its own application id.
    let j1 = app.store.positions_of_connection(&c).unwrap().into_iter().find(|p| p.ats_job_code == "J1").unwrap();
    let mut ids = Vec::new();
    for i in 0..PUSHED {
        let new = new_candidate(j1.id, format!("Person {i}"), format!("p{i}@example.com"), "test");
        let (candidate, _) = app.store.create_candidate(new).unwrap();
        let (_, entry) = app.store.queue_push(candidate.id, &candidate.stage_id).unwrap();
        let refs = CandidateRef { candidate_id: format!("cand-{i}"), application_id: format!("app-{i}") };
        app.store.finish_push(&entry, PushOutcome::Pushed(Pushed { ref_: refs, existing: false })).unwrap();
        ids.push(candidate.id);
    }

    app.engine.recordings().dir().unwrap().arm(&c).unwrap();
    let run = app.engine.sync(&c, Trigger::Scheduled, &NoProgress).await.unwrap();
    let path = dir.path().join("recordings").join(&c).join(format!("run-{}.jsonl", run.seq));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let calls: Vec<Vec<String>> = text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["kind"] == "export" && l["call"]["export"] == "candidate-statuses")
        .map(|l| {
            let refs = l["call"]["refs"].as_array().unwrap_or_else(|| panic!("{l}"));
            refs.iter().map(|r| r["application_id"].as_str().unwrap().to_string()).collect()
        })
        .collect();
    let sizes: Vec<usize> = calls.iter().map(Vec::len).collect();
    assert_eq!(
        sizes,
        [STATUS_BATCH, STATUS_BATCH, PUSHED - 2 * STATUS_BATCH],
        "calls of candidate-statuses: {run:?}\n{}",
        &text[..text.len().min(3000)]
    );
    let asked: BTreeSet<&String> = calls.iter().flatten().collect();
    assert_eq!(asked.len(), PUSHED, "every application in exactly one call");

    // Every answer ("Interview", `s2`) mapped back by name and recorded as
    // the ATS's move.
    for id in ids {
        let candidate = app.store.candidate(id).unwrap().unwrap();
        assert_eq!(candidate.stage_id, "interview", "candidate {id}");
        let last = app.store.stage_moves(id).unwrap().pop().unwrap();
        assert_eq!((last.to.as_str(), &last.by), ("interview", &MovedBy::Ats), "candidate {id}");
    }
}
