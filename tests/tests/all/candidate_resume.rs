//! `GET /api/v1/candidates/{id}/resume` on a real host: the platform
//! downloads the stored résumé with the account's key, as a download that
//! a browser will neither display nor sniff, under a file name the
//! applicant cannot use to break the header; other accounts and candidates
//! without a résumé get 404.

use base64::Engine as _;
use serde_json::json;

use crate::api_support;
use crate::support;

#[tokio::test(flavor = "multi_thread")]
async fn the_platform_downloads_a_candidates_resume_with_the_accounts_key() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let ats = support::fake_ats().await;
    host.install_well_behaved().await;
    let acme_conn = host.account_with_connection("Acme", &ats).await;
    host.account_with_connection("Globex", &ats).await;
    let accepted = host.op("POST", &format!("/api/v1/connections/{acme_conn}/sync"), None).await;
    host.wait_run(&acme_conn, accepted["run"].as_u64().unwrap(), &host.token).await;
    let acme = host.op("POST", "/api/v1/accounts/acme/keys", Some(json!({"label": "platform"}))).await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let globex =
        host.op("POST", "/api/v1/accounts/globex/keys", Some(json!({}))).await["token"].as_str().unwrap().to_string();
    let positions = host.op("GET", &format!("/api/v1/positions?connection={acme_conn}"), None).await;
    let position = positions["items"][0]["id"].as_u64().unwrap();

    // The applicant named the file to attack the header and hide its type.
    let pdf = b"%PDF-1.7\n<html><script>alert(1)</script></html>\n".to_vec();
    let file_name = "Zoë \"cv\".pdf; filename=evil.exe; x=\u{202e}fdp.exe";
    let body = json!({
        "position": position, "name": "Zoë Müller", "email": "zoe@example.com",
        "resume": {"file_name": file_name, "content_base64": base64::engine::general_purpose::STANDARD.encode(&pdf)},
    });
    let (status, created) = host.call("POST", "/api/v1/candidates", Some(&acme), Some(body)).await;
    assert_eq!(status, 201, "{created}");
    let with = created["id"].as_u64().unwrap();
    let body = json!({"position": position, "name": "Bo", "email": "bo@example.com"});
    let without = host.op("POST", "/api/v1/candidates", Some(body)).await["id"].as_u64().unwrap();

    let client = reqwest::Client::new();
    let get =
        |id: u64, token: &str| client.get(format!("{}/api/v1/candidates/{id}/resume", host.base)).bearer_auth(token);
    let r = get(with, &acme).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let headers = r.headers().clone();
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.get("set-cookie").is_none(), "{headers:?}");
    let disposition = headers["content-disposition"].to_str().unwrap().to_string();
    assert!(disposition.starts_with("attachment; filename=\""), "{disposition}");
    assert_eq!(disposition.matches('"').count(), 2, "only the quotes around the name: {disposition}");
    let params = (disposition.matches("filename=").count(), disposition.matches("filename*=").count());
    assert_eq!(params, (1, 1), "filename and filename* only: {disposition}");
    assert!(!disposition.contains('\u{202e}') && !disposition.contains("%E2%80%AE"), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''Zo%C3%AB%20%22cv%22.pdf"), "{disposition}");
    assert_eq!(r.bytes().await.unwrap().as_ref(), pdf.as_slice(), "the stored bytes, unchanged");

    // The operator may too; another account and unknown ids get 404.
    let r = get(with, &host.token).send().await.unwrap();
    assert_eq!(r.status(), 200);
    for (id, token, what) in [
        (with, globex.as_str(), "another account's key"),
        (without, acme.as_str(), "a candidate without a résumé"),
        (u64::MAX, acme.as_str(), "no such candidate"),
    ] {
        let r = get(id, token).send().await.unwrap();
        assert_eq!(r.status(), 404, "{what}");
        let body: serde_json::Value = r.json().await.unwrap();
        assert!(body["error"]["code"].as_str().unwrap().ends_with("not_found"), "{what}: {body}");
        assert!(!body.to_string().contains("PDF"), "{what}: {body}");
    }
    let r = client.get(format!("{}/api/v1/candidates/{with}/resume", host.base)).send().await.unwrap();
    assert_eq!(r.status(), 401);

    // Documented, with the résumé types it answers with.
    let doc = host.op("GET", "/api/v1/openapi.json", None).await;
    let op = &doc["paths"]["/api/v1/candidates/{id}/resume"]["get"];
    assert!(op["responses"]["200"]["content"]["application/pdf"].is_object(), "{op}");
    assert!(op["responses"]["404"].is_object(), "{op}");
}
