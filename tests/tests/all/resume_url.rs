//! For an ATS that takes a résumé only as a URL: a push through a running
//! `atsbridge serve` carries, besides the bytes, a signed link at which the
//! host serves that candidate's résumé. The test ATS fetches it as a real
//! one would: the link answers the file, and the same link altered to name
//! another candidate, or cut short, answers nothing.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;

use crate::outbox_support::{LineAts, line_setup, op, positions, push, wait_for_state};

const WAIT: Duration = Duration::from_secs(30);
const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";

/// A candidate on job J1 of `acme-line` with `resume` (if any); its id.
async fn candidate(host: &crate::ops_support::Host, email: &str, resume: Option<&[u8]>) -> u64 {
    let j1 = positions(host, "acme-line").await.into_iter().find(|p| p["ats_job_code"] == "J1").unwrap();
    let mut body = json!({ "position": j1["id"], "name": "Ada Lovelace", "email": email });
    if let Some(bytes) = resume {
        let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
        body["resume"] = json!({ "file_name": "cv.pdf", "content_base64": encoded });
    }
    op(host, "POST", "/api/v1/candidates", Some(body)).await["id"].as_u64().unwrap()
}

/// The `resume-url=` line of the push the test ATS received for `email`.
fn resume_url(ats: &LineAts, email: &str) -> String {
    let seen = ats.seen();
    let body = seen
        .iter()
        .find(|(path, body)| path == "/candidates" && body.contains(&format!("email={email}\n")))
        .unwrap_or_else(|| panic!("no push for {email}: {seen:?}"));
    body.1.lines().find_map(|l| l.strip_prefix("resume-url=")).unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_carries_a_signed_link_the_ats_can_fetch_the_resume_from() {
    let ats = LineAts::start().await;
    let setup = line_setup(&ats);
    let host = setup.serve(&setup.dir.path().join("host.log"));
    let with = candidate(&host, "ada@example.com", Some(PDF)).await;
    let without = candidate(&host, "grace@example.com", None).await;
    for id in [with, without] {
        let (status, body) = push(&host, id).await;
        assert_eq!(status, 202, "{body}");
        wait_for_state(&host, id, "pushed", WAIT).await;
    }

    // No résumé, no link.
    assert_eq!(resume_url(&ats, "grace@example.com"), "-");
    // The link is the host's, under /r/, and serves exactly the file.
    let url = resume_url(&ats, "ada@example.com");
    assert!(url.starts_with(&format!("{}/r/", host.base)), "{url}");
    let client = reqwest::Client::new();
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    assert_eq!(r.headers()["content-type"], "application/pdf");
    assert_eq!(&r.bytes().await.unwrap()[..], PDF);

    // Not guessable: the token names its candidate and is signed; another
    // candidate's id under the same signature, or a cut token, is refused.
    let token = url.rsplit('/').next().unwrap();
    assert!(token.len() >= 40, "{token}");
    let (id, rest) = token.split_once('.').unwrap_or_else(|| panic!("{token}"));
    assert_eq!(id, with.to_string(), "{token}");
    for forged in [format!("{without}.{rest}"), token[..token.len() - 4].to_string(), format!("{token}x")] {
        let r = client.get(format!("{}/r/{forged}", host.base)).send().await.unwrap();
        assert_eq!(r.status(), 404, "{forged}");
    }
}
