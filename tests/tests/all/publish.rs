//! Publishing end to end against a real `atsbridge serve` and the fake ATS
//! over loopback: a rule publishes matching positions on sync with its
//! rendered ad; a person's unpublish beats the rule; a job closed, or
//! missing from one listing, and back is published again; preview renders
//! without saving; the public page escapes hostile ATS text; the form
//! (real multipart HTTP) creates a candidate in the first stage, refuses an
//! oversize upload while it streams and an executable named `.pdf`, and is
//! rate-limited per address.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Value, json};

use crate::api_support::{Host, secret_key, start};
use crate::support;

/// A title no template may evaluate and no page may render as markup.
const HOSTILE_TITLE: &str = "<script>alert('t')</script>{{ 7 * 7 }} Engineer";
pub const PDF: &[u8] = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
pub const BOUNDARY: &str = "atsbridge-test-boundary-7d3f";
/// The configured upload limit (1 MiB) and burst of the rate limit.
const CONFIG: &str = "[publish]\nmax-upload-mib = 1\napply-per-minute = 1\napply-burst = 6\n";

/// The application form's body: a name, an e-mail and a resume file.
pub fn multipart(name: &str, email: &str, file_name: &str, file: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, value) in [("name", name), ("email", email)] {
        body.extend(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"\r\n\r\n{value}\r\n").bytes(),
        );
    }
    body.extend(
        format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"resume\"; filename=\"{file_name}\"\r\n\
             Content-Type: application/pdf\r\n\r\n"
        )
        .bytes(),
    );
    body.extend_from_slice(file);
    body.extend(format!("\r\n--{BOUNDARY}--\r\n").bytes());
    body
}

/// Posts a form body to a public page's `apply`: the status and the page.
pub async fn post_form(base: &str, public_path: &str, body: Vec<u8>) -> (u16, String) {
    let resp = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
        .post(format!("{base}{public_path}/apply"))
        .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
        .body(body)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

pub async fn sync(host: &Host, c: &str) -> Value {
    let accepted = host.op("POST", &format!("/api/v1/connections/{c}/sync?full=true"), None).await;
    let done = host.wait_run(c, accepted["run"].as_u64().unwrap(), &host.token.clone()).await;
    assert_eq!(done["outcome"], "succeeded", "{done}");
    done
}

pub async fn position(host: &Host, c: &str, code: &str) -> Value {
    let page = host.op("GET", &format!("/api/v1/positions?connection={c}&limit=500"), None).await;
    page["items"].as_array().unwrap().iter().find(|p| p["ats_job_code"] == code).cloned().unwrap()
}

/// The path part of a public URL.
pub fn path_of(p: &Value) -> String {
    let url = p["publication"]["public_url"].as_str().unwrap_or_else(|| panic!("no public url: {p}"));
    format!("/p/{}", url.rsplit("/p/").next().unwrap())
}

async fn get_page(host: &Host, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("{}{path}", host.base)).await.unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

/// Sends a request's head and part of its body on a raw socket and reads
/// the status line, without ever sending the rest.
fn partial_upload(addr: &str, path: &str, head_extra: &str, body_part: &[u8]) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head = format!(
        "POST {path}/apply HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n{head_extra}\r\n"
    );
    s.write_all(head.as_bytes()).unwrap();
    // The server may answer and close before it has taken all of this.
    let _ = s.write_all(body_part);
    let mut status = [0u8; 12];
    s.read_exact(&mut status).unwrap();
    String::from_utf8_lossy(&status[9..12]).into_owned()
}

/// A chunked body: the form's head, then the resume in 64 KiB chunks.
fn chunked(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in bytes.chunks(64 << 10) {
        out.extend(format!("{:x}\r\n", chunk.len()).bytes());
        out.extend_from_slice(chunk);
        out.extend(b"\r\n");
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn rules_publish_people_win_reopens_restore_and_the_public_form_takes_applications() {
    let ats = support::fake_ats().await;
    ats.update("J1", |j| j["title"] = json!(HOSTILE_TITLE));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("atsbridge.toml"), CONFIG).unwrap();
    let host = start(&data, &secret_key());
    host.install_well_behaved().await;
    let c = host.account_with_connection("Acme", &ats).await;
    sync(&host, &c).await;
    let j1 = position(&host, &c, "J1").await;
    assert_eq!(j1["published"], false, "nothing is published by default");

    // A rule for open engineering jobs, with an ad template.
    let rule = host
        .op(
            "POST",
            &format!("/api/v1/connections/{c}/publish-rules"),
            Some(json!({
                "name": "Engineering",
                "filter": { "title": { "kind": "glob", "pattern": "*engineer*" }, "extra": { "department": "Eng*" } },
                "template": {
                    "title": "{{ title }} ({{ location }})",
                    "description": "<p>Team: {{ extra.department }}</p>{{ description }}"
                }
            })),
        )
        .await;
    assert_eq!(rule["id"], "r1");
    let (status, refused) = host
        .call(
            "POST",
            &format!("/api/v1/connections/{c}/publish-rules"),
            Some(&host.token.clone()),
            Some(json!({ "name": "Bad", "template": { "title": "{% include '/etc/passwd' %}", "description": "" } })),
        )
        .await;
    assert_eq!(status, 422, "{refused}");

    // Preview: rendered, nothing saved.
    let preview = host
        .op(
            "POST",
            &format!("/api/v1/connections/{c}/publish-rules/preview"),
            Some(json!({ "position_id": j1["id"], "rule_id": "r1" })),
        )
        .await;
    assert_eq!(preview["matches"], true, "{preview}");
    assert_eq!(preview["ad"]["title"], format!("{HOSTILE_TITLE} (Berlin)"), "{preview}");
    assert!(preview["ad"]["description_html"].as_str().unwrap().contains("<p>Team: Eng</p><p>Job 1</p>"), "{preview}");
    assert_eq!(position(&host, &c, "J1").await["published"], false, "a preview saves nothing");

    // The next sync applies the rule: the open jobs, not the draft.
    sync(&host, &c).await;
    let j1 = position(&host, &c, "J1").await;
    assert_eq!(j1["published"], true, "{j1}");
    assert_eq!(j1["publication"]["decision"]["by"], json!({ "kind": "rule", "rule_id": "r1" }), "{j1}");
    assert_eq!(j1["publication"]["ad"]["title"], format!("{HOSTILE_TITLE} (Berlin)"));
    assert!(j1["publication"]["explanation"].as_str().unwrap().contains("rule r1"), "{j1}");
    assert_eq!(position(&host, &c, "J5").await["published"], true);
    assert_eq!(position(&host, &c, "J2").await["published"], false, "a draft is not open");
    let public = path_of(&j1);
    // Not the position's id: a random, unguessable segment.
    let segment = public.strip_prefix("/p/").unwrap_or(&public);
    assert!(Some(segment) != j1["id"].as_u64().map(|id| id.to_string()).as_deref() && segment.len() >= 20, "{public}");

    // The public page: no credentials, everything escaped, nothing internal.
    let (status, html) = get_page(&host, &public).await;
    assert_eq!(status, 200, "{html}");
    assert!(!html.contains("<script>alert"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#x27;t&#x27;)&lt;&#x2f;script&gt;{{ 7 * 7 }} Engineer"), "{html}");
    assert!(!html.contains("49 Engineer"), "template syntax in a title is never evaluated");
    assert!(!html.contains("acme") && !html.contains("\"id\""), "{html}");
    assert!(html.contains("enctype=\"multipart/form-data\"") && html.contains("name=\"resume\""), "{html}");
    assert_eq!(get_page(&host, "/p/not-a-real-id").await.0, 404);
    let unpublished = position(&host, &c, "J2").await;
    assert!(unpublished["publication"]["public_url"].is_null());

    // A person's unpublish beats the rule, sync after sync.
    let j5 = position(&host, &c, "J5").await;
    let done = host
        .op(
            "POST",
            &format!("/api/v1/positions/{}/unpublish", j5["id"]),
            Some(json!({ "user": "jane@platform.example", "reason": "filled internally" })),
        )
        .await;
    assert_eq!(done["published"], false);
    sync(&host, &c).await;
    let j5 = position(&host, &c, "J5").await;
    assert_eq!(j5["published"], false, "{j5}");
    let by = &j5["publication"]["decision"]["by"];
    assert_eq!((by["kind"].as_str(), by["user"].as_str()), (Some("user"), Some("jane@platform.example")), "{j5}");
    assert_eq!(j5["publication"]["decision"]["reason"], "filled internally");
    let applied = host.op("POST", &format!("/api/v1/connections/{c}/publish-rules/apply"), None).await;
    assert!(applied["decided_by_users"].as_u64().unwrap() >= 1, "{applied}");
    assert_eq!(position(&host, &c, "J5").await["published"], false, "apply-now does not override a person either");

    // Closed in the ATS: hidden (404), then reopened: published again.
    ats.update("J1", |j| j["status"] = json!("closed"));
    sync(&host, &c).await;
    let j1 = position(&host, &c, "J1").await;
    assert_eq!(j1["published"], false);
    assert_eq!(j1["publication"]["last_change"]["by"], json!({ "kind": "sync", "cause": "closed_in_ats" }), "{j1}");
    assert_eq!(get_page(&host, &public).await.0, 404, "a closed position's page is gone");
    ats.update("J1", |j| j["status"] = json!("open"));
    sync(&host, &c).await;
    let j1 = position(&host, &c, "J1").await;
    assert_eq!(j1["published"], true, "{j1}");
    assert_eq!(path_of(&j1), public, "the public URL is stable");

    // Missing from one listing, then back: published again.
    let saved = ats.state.jobs.lock().unwrap().iter().find(|j| j["id"] == "J1").cloned().unwrap();
    ats.remove("J1");
    let done = sync(&host, &c).await;
    assert_eq!(done["counts"]["removed"], 1, "{done}");
    assert_eq!(position(&host, &c, "J1").await["published"], false);
    ats.state.jobs.lock().unwrap().insert(0, saved);
    sync(&host, &c).await;
    assert_eq!(position(&host, &c, "J1").await["published"], true);
    assert_eq!(get_page(&host, &public).await.0, 200);

    // The form: a PDF creates a candidate (checked in the store below).
    let (status, page) =
        post_form(&host.base, &public, multipart("Ada Lovelace", "ada@example.com", "cv.pdf", PDF)).await;
    assert_eq!(status, 201, "{page}");
    assert!(page.contains("Thank you"), "{page}");
    // An executable renamed .pdf.
    let mut exe = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00".to_vec();
    exe.resize(4096, 0);
    let (status, _) = post_form(&host.base, &public, multipart("Eve", "eve@example.com", "cv.pdf", &exe)).await;
    assert_eq!(status, 415);
    // Declared too large: refused before the body is read.
    let addr = host.base.trim_start_matches("http://").to_string();
    let head = format!("Content-Length: {}\r\n", 50u64 << 20);
    assert_eq!(partial_upload(&addr, &public, &head, &[b'x'; 4096]), "413");
    // Streamed without a length: refused once past 1 MiB, the rest never sent.
    let mut body = multipart("Mallory", "m@example.com", "big.pdf", b"");
    body.truncate(body.len() - format!("\r\n--{BOUNDARY}--\r\n").len());
    body.extend(PDF);
    body.extend(vec![b'a'; (1 << 20) + (256 << 10)]);
    assert_eq!(partial_upload(&addr, &public, "Transfer-Encoding: chunked\r\n", &chunked(&body)), "413");

    // The rate limit: a burst of 6 per address, then 429 with Retry-After.
    let mut statuses = Vec::new();
    for i in 0..4 {
        let resp = reqwest::Client::new()
            .post(format!("{}{public}/apply", host.base))
            .header("content-type", format!("multipart/form-data; boundary={BOUNDARY}"))
            .body(multipart("Bob", &format!("bob{i}@example.com"), "cv.pdf", PDF))
            .send()
            .await
            .unwrap();
        statuses.push((resp.status().as_u16(), resp.headers().contains_key("retry-after")));
    }
    assert_eq!(statuses[..2], [(201, false), (201, false)], "{statuses:?}");
    assert_eq!(statuses[2..], [(429, true), (429, true)], "{statuses:?}");

    // The candidates are in the account's first stage, with the resume.
    let key = atsbridge::store::SecretKey::parse(&host.key).unwrap();
    drop(host);
    let store = atsbridge::store::Store::open(&data.join("store"), Some(key)).unwrap();
    let first = store.first_hiring_stage("acme").unwrap();
    let filter = atsbridge::store::CandidateFilter { position_id: j1["id"].as_u64(), ..Default::default() };
    let candidates = store.candidates_page(&filter, None, 100).unwrap();
    assert_eq!(candidates.len(), 3, "{candidates:?}");
    let ada = candidates.iter().find(|c| c.name == "Ada Lovelace").unwrap();
    assert_eq!(ada.stage_id, first.id);
    assert_eq!(ada.resume.as_ref().unwrap().content_type, "application/pdf");
    assert_eq!(store.candidate_resume(ada.id).unwrap().unwrap(), PDF);
}
