//! Exactly once under SIGKILL: 500 candidate pushes against a mock
//! Greenhouse, the host killed at random moments at least ten times and
//! restarted each time; in the end every candidate is in the ATS exactly
//! once and every push is recorded with the ATS's ids.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use atsbridge::store::PushState;
use atsbridge_mock_ats::{Fault, FaultRule};

use crate::ops_support::operator_client;
use crate::outbox_support::{CONNECTION, GhSetup, push};

const CANDIDATES: usize = 500;
const KILLS: usize = 12;

/// A draw in `[lo, hi)` from a small xorshift seeded by the clock, so each
/// run kills at other moments (the seed is printed for reproduction).
struct Draws(u64);

impl Draws {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        lo + self.0 % (hi - lo)
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sigkill_at_random_moments_never_duplicates_or_loses_a_push() {
    let gh = GhSetup::new(3).await;
    let ids = gh.create_candidates(CANDIDATES, "crash");
    // Each push is a lookup and a create: slowed down, the pushes take
    // seconds, so the kills land while hundreds are queued or in flight.
    gh.mock.inject(FaultRule::new(Fault::Slow(Duration::from_millis(40))).times(u32::MAX).on_path("/v3/candidates"));
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
    eprintln!("kill schedule seed: {seed}");
    let mut draws = Draws(seed);
    let started = Instant::now();

    let mut requested = vec![false; CANDIDATES];
    let mut kills_with_work_left = 0;
    for kill in 0..KILLS {
        let mut host = gh.serve(&format!("host-{kill}"));
        let deadline = Instant::now() + Duration::from_millis(draws.next(80, 450));
        // Ask for the pushes not yet acknowledged, until the kill.
        while Instant::now() < deadline {
            let Some(i) = requested.iter().position(|r| !r) else {
                tokio::time::sleep(deadline - Instant::now()).await;
                break;
            };
            let (status, body) = push(&host, ids[i]).await;
            assert!(status == 202 || status == 409, "push {}: {status} {body}", ids[i]);
            requested[i] = true;
        }
        host.child.kill().unwrap(); // SIGKILL
        host.child.wait().unwrap();
        if gh.mock.pushed_candidates().len() < CANDIDATES {
            kills_with_work_left += 1;
        }
    }
    assert!(kills_with_work_left >= 10, "only {kills_with_work_left} kills landed while pushes were pending");

    // The last start: request whatever is left and let the outbox drain.
    let mut host = gh.serve("host-final");
    for (i, done) in requested.iter().enumerate() {
        if !done {
            let (status, body) = push(&host, ids[i]).await;
            assert!(status == 202 || status == 409, "push {}: {status} {body}", ids[i]);
        }
    }
    let client = operator_client();
    crate::ops_support::eventually(Duration::from_secs(120), "the outbox to drain", || async {
        let page: serde_json::Value =
            client.get(format!("{}/api/v1/outbox?limit=1", host.base)).send().await.ok()?.json().await.ok()?;
        page["items"].as_array().is_some_and(|a| a.is_empty()).then_some(())
    })
    .await;
    let (status, _) = host.terminate(Duration::from_secs(30));
    assert!(status.success());

    // Exactly once in the ATS ...
    let pushed = gh.mock.pushed_candidates();
    let mut by_email: HashMap<String, Vec<String>> = HashMap::new();
    for p in &pushed {
        for email in &p.emails {
            by_email.entry(email.to_lowercase()).or_default().push(p.candidate_id.clone());
        }
    }
    let apps = gh.mock.applications();
    // ... and recorded here with the ATS's ids.
    gh.with_store(|store| {
        let mut recorded = 0;
        for (i, id) in ids.iter().enumerate() {
            let email = format!("crash-{i}@example.com");
            let in_ats = by_email.get(&email).cloned().unwrap_or_default();
            assert_eq!(in_ats.len(), 1, "{email} is in the ATS {} times", in_ats.len());
            let candidate = store.candidate(*id).unwrap().unwrap();
            let PushState::Pushed { ats_candidate_id, application_id, .. } = &candidate.push else {
                panic!("candidate {id} ended {:?}", candidate.push);
            };
            assert_eq!(ats_candidate_id, &in_ats[0], "{email}");
            let app = apps.iter().find(|a| &a.id == application_id).expect("the recorded application exists");
            assert_eq!(&app.candidate_id, ats_candidate_id);
            assert_eq!(
                apps.iter().filter(|a| &a.candidate_id == ats_candidate_id).count(),
                1,
                "{email}: one application"
            );
            recorded += 1;
        }
        assert_eq!(recorded, CANDIDATES);
        assert!(store.outbox_candidates().unwrap().is_empty());
        assert_eq!(store.connection(CONNECTION).unwrap().map(|c| c.id).as_deref(), Some(CONNECTION));
    });
    assert_eq!(pushed.len(), CANDIDATES, "no extra candidates in the ATS");
    eprintln!("{KILLS} kills, {CANDIDATES} pushes exactly once in {:.1} s", started.elapsed().as_secs_f64());
}
