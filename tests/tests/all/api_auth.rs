//! Every route of a running host, called with no key, a wrong key and
//! another account's key. The routes called are those of the host's own
//! OpenAPI document, so a route added later fails this test until it is
//! given an entry (who may call it, with what body).

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::api_support;
use crate::support;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    /// Anyone, without credentials (documented with `security: [{}]`).
    Public,
    /// The operator only: an account key gets 403 (or 404 for another
    /// account's record).
    Operator,
    /// The owning account's key (and the operator); another account's key
    /// gets 404.
    Account,
    /// An account key sees only its own records (lists filter).
    Filtered,
}

/// How the test calls a documented route.
struct Expect {
    scope: Scope,
    body: Option<Value>,
    /// Safe to call with acme's own key to see it succeed.
    own_call: bool,
}

fn expect(scope: Scope, body: Option<Value>, own_call: bool) -> Expect {
    Expect { scope, body, own_call }
}

/// What the test knows of each route, by its method and OpenAPI path. The
/// routes called are the OpenAPI document's: a route documented without an
/// entry here fails the test, so none goes untested.
fn table() -> BTreeMap<&'static str, Expect> {
    use Scope::*;
    // Refused before the body is read, so a small one will do.
    let upload = json!({ "bundled": "greenhouse" });
    BTreeMap::from([
        ("GET /healthz", expect(Public, None, true)),
        ("GET /readyz", expect(Public, None, true)),
        ("GET /metrics", expect(Operator, None, false)),
        ("GET /api/v1/backup", expect(Operator, None, false)),
        ("GET /api/v1/status", expect(Filtered, None, true)),
        ("GET /api/v1/metrics", expect(Operator, None, false)),
        ("GET /api/v1/plugins", expect(Operator, None, false)),
        ("POST /api/v1/plugins", expect(Operator, Some(upload), false)),
        ("POST /api/v1/plugins/from-directory", expect(Operator, Some(json!({"name": "well-behaved"})), false)),
        ("GET /api/v1/plugins/{id}", expect(Operator, None, false)),
        ("DELETE /api/v1/plugins/{id}", expect(Operator, None, false)),
        ("POST /api/v1/plugins/{id}/check", expect(Operator, Some(json!({"settings": {}})), false)),
        ("GET /api/v1/accounts", expect(Filtered, None, true)),
        ("POST /api/v1/accounts", expect(Operator, Some(json!({"name": "Initech"})), false)),
        ("GET /api/v1/accounts/{account}", expect(Account, None, true)),
        ("PATCH /api/v1/accounts/{account}", expect(Operator, Some(json!({"time_zone": "Europe/Paris"})), false)),
        ("DELETE /api/v1/accounts/{account}", expect(Operator, None, false)),
        ("GET /api/v1/accounts/{account}/keys", expect(Operator, None, false)),
        ("POST /api/v1/accounts/{account}/keys", expect(Operator, Some(json!({"label": "x"})), false)),
        ("DELETE /api/v1/accounts/{account}/keys/{key}", expect(Operator, None, false)),
        ("GET /api/v1/accounts/{account}/webhooks", expect(Account, None, true)),
        (
            "POST /api/v1/accounts/{account}/webhooks",
            expect(Account, Some(json!({"url": "https://platform.example/hook"})), true),
        ),
        ("DELETE /api/v1/accounts/{account}/webhooks/{webhook}", expect(Account, None, false)),
        ("GET /api/v1/accounts/{account}/webhooks/{webhook}/deliveries", expect(Account, None, true)),
        ("GET /api/v1/connections", expect(Filtered, None, true)),
        (
            "POST /api/v1/connections",
            expect(
                Account,
                Some(json!({"account": "acme", "name": "second", "plugin": "well-behaved", "settings": {}})),
                false,
            ),
        ),
        ("GET /api/v1/connections/{id}", expect(Account, None, true)),
        ("PATCH /api/v1/connections/{id}", expect(Account, Some(json!({"name": "renamed"})), true)),
        ("DELETE /api/v1/connections/{id}", expect(Account, None, false)),
        ("POST /api/v1/connections/{id}/enable", expect(Account, None, true)),
        ("POST /api/v1/connections/{id}/disable", expect(Account, None, false)),
        ("POST /api/v1/connections/{id}/test", expect(Account, None, true)),
        ("POST /api/v1/connections/{id}/sync", expect(Account, None, false)),
        ("POST /api/v1/connections/{id}/record-next", expect(Account, None, true)),
        ("POST /api/v1/connections/{id}/reset", expect(Account, None, true)),
        ("GET /api/v1/connections/{id}/runs", expect(Account, None, true)),
        ("GET /api/v1/connections/{id}/runs/{run}", expect(Account, None, true)),
        // Run 1 was not recorded: the own call answers 404.
        ("GET /api/v1/connections/{id}/runs/{run}/recording", expect(Account, None, false)),
        ("GET /api/v1/positions", expect(Filtered, None, true)),
        ("GET /api/v1/positions/{id}", expect(Account, None, true)),
        ("PATCH /api/v1/positions/{id}", expect(Account, Some(json!({"name": "Edited"})), true)),
        ("DELETE /api/v1/positions/{id}/edits/{field}", expect(Account, None, true)),
        ("POST /api/v1/positions/{id}/publish", expect(Account, None, false)),
        ("POST /api/v1/positions/{id}/unpublish", expect(Account, None, true)),
        ("GET /api/v1/accounts/{account}/stages", expect(Account, None, true)),
        ("POST /api/v1/accounts/{account}/stages", expect(Account, Some(json!({"name": "Tech test"})), true)),
        ("PATCH /api/v1/accounts/{account}/stages/{stage}", expect(Account, Some(json!({"name": "Offer made"})), true)),
        // Deleting would take the stage the other routes name away.
        ("DELETE /api/v1/accounts/{account}/stages/{stage}", expect(Account, None, false)),
        ("PUT /api/v1/accounts/{account}/stage-order", expect(Account, Some(json!({"order": []})), false)),
        ("GET /api/v1/connections/{id}/stages", expect(Account, None, true)),
        ("POST /api/v1/connections/{id}/stages/refresh", expect(Account, None, true)),
        (
            "PUT /api/v1/connections/{id}/stage-mapping/{stage}",
            expect(Account, Some(json!({"ats_stage_id": "s1"})), true),
        ),
        // Runs before the PUT (the document's order): there is no override yet.
        ("DELETE /api/v1/connections/{id}/stage-mapping/{stage}", expect(Account, None, false)),
        ("GET /api/v1/candidates", expect(Filtered, None, true)),
        (
            "POST /api/v1/candidates",
            expect(Account, Some(json!({"position": POSITION, "name": "Ada", "email": "a@b.example"})), true),
        ),
        ("GET /api/v1/candidates/{id}", expect(Account, None, true)),
        ("POST /api/v1/candidates/{id}/move", expect(Account, Some(json!({"stage": "screening"})), true)),
        ("GET /api/v1/candidates/{id}/history", expect(Account, None, true)),
        ("GET /api/v1/candidates/{id}/pushes", expect(Account, None, true)),
        // Acme's candidate has no résumé: its own call is a 404.
        ("GET /api/v1/candidates/{id}/resume", expect(Account, None, false)),
        // The well-behaved connector cannot push: acme's own call is refused.
        ("POST /api/v1/candidates/{id}/push", expect(Account, Some(json!({})), false)),
        ("GET /api/v1/candidates/{id}/push", expect(Account, None, true)),
        ("GET /api/v1/outbox", expect(Filtered, None, true)),
        ("GET /api/v1/connections/{id}/auto-push", expect(Account, None, true)),
        ("PUT /api/v1/connections/{id}/auto-push", expect(Account, Some(json!({"stage_id": null})), true)),
        ("POST /api/v1/connections/{id}/reconcile", expect(Account, None, false)),
        ("GET /api/v1/connections/{id}/publish-rules", expect(Account, None, true)),
        (
            "POST /api/v1/connections/{id}/publish-rules",
            expect(
                Account,
                Some(json!({"name": "all", "template": {"title": "{{ name }}", "description": "{{ description }}"}})),
                true,
            ),
        ),
        ("PATCH /api/v1/connections/{id}/publish-rules/{rule}", expect(Account, Some(json!({})), false)),
        ("DELETE /api/v1/connections/{id}/publish-rules/{rule}", expect(Account, None, false)),
        ("PUT /api/v1/connections/{id}/publish-rules/order", expect(Account, Some(json!({"rule_ids": []})), false)),
        (
            "POST /api/v1/connections/{id}/publish-rules/preview",
            expect(
                Account,
                Some(json!({"position_id": POSITION, "template": {"title": "{{ name }}", "description": ""}})),
                true,
            ),
        ),
        ("POST /api/v1/connections/{id}/publish-rules/apply", expect(Account, None, true)),
        ("DELETE /api/v1/positions/{id}/publication", expect(Account, None, true)),
    ])
}

/// Acme's records, to fill path parameters with.
pub(crate) struct Ids {
    pub connection: String,
    pub position: String,
    pub key: String,
    pub webhook: String,
    pub candidate: String,
}

/// In a request body, stands for acme's position (its id is known only
/// once the host runs).
const POSITION: &str = "{position}";

/// A table body with acme's records in it.
pub(crate) fn fill_body(body: &Value, ids: &Ids) -> Value {
    let text = body.to_string().replace(&format!("\"{POSITION}\""), &ids.position);
    serde_json::from_str(&text).expect("a filled body is JSON")
}

/// A documented path with acme's records in its parameters. A parameter
/// this does not know fails the test (teach it the new one).
pub(crate) fn fill(path: &str, ids: &Ids) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map(|c| open + c).unwrap_or_else(|| panic!("unclosed {{ in {path}"));
        let name = &rest[open + 1..close];
        let value = match name {
            "account" => "acme",
            "key" => ids.key.as_str(),
            "webhook" => ids.webhook.as_str(),
            "stage" => "offer",
            "rule" => "no-such-rule",
            "id" if path.starts_with("/api/v1/candidates/") => ids.candidate.as_str(),
            "run" => "1",
            "field" => "name",
            "id" if path.starts_with("/api/v1/connections/") => ids.connection.as_str(),
            "id" if path.starts_with("/api/v1/positions/") => ids.position.as_str(),
            "id" if path.starts_with("/api/v1/plugins/") => "well-behaved",
            other => panic!("path parameter `{other}` of {path}: add its value to `fill` in api_auth.rs"),
        };
        out.push_str(value);
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    out
}

/// Every documented operation: (`METHOD /path`, public), public when its
/// `security` allows no credentials.
fn documented(doc: &Value) -> Vec<(String, bool)> {
    let methods = ["get", "post", "put", "patch", "delete"];
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            if !methods.contains(&method.as_str()) {
                continue;
            }
            let public = op["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.as_object().is_some_and(|r| r.is_empty())));
            out.push((format!("{} {path}", method.to_uppercase()), public));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_refuses_missing_wrong_and_other_tenants_keys() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let ats = support::fake_ats().await;
    host.install_well_behaved().await;
    let acme_conn = host.account_with_connection("Acme", &ats).await;
    let globex_conn = host.account_with_connection("Globex", &ats).await;
    for c in [&acme_conn, &globex_conn] {
        let accepted = host.op("POST", &format!("/api/v1/connections/{c}/sync"), None).await;
        host.wait_run(c, accepted["run"].as_u64().unwrap(), &host.token).await;
    }
    let acme_key = host.op("POST", "/api/v1/accounts/acme/keys", Some(json!({"label": "platform"}))).await;
    let (acme_key_id, acme) = (acme_key["key"]["id"].as_str().unwrap(), acme_key["token"].as_str().unwrap());
    let globex =
        host.op("POST", "/api/v1/accounts/globex/keys", Some(json!({}))).await["token"].as_str().unwrap().to_string();
    let acme_positions = host.op("GET", &format!("/api/v1/positions?connection={acme_conn}"), None).await;
    let position = acme_positions["items"][0]["id"].as_u64().unwrap().to_string();
    let hook = json!({"url": "https://platform.example/acme"});
    let webhook = host.op("POST", "/api/v1/accounts/acme/webhooks", Some(hook)).await["webhook"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let candidate_body = json!({"position": position.parse::<u64>().unwrap(), "name": "Bo", "email": "bo@b.example"});
    let candidate = host.op("POST", "/api/v1/candidates", Some(candidate_body)).await["id"].to_string();
    let ids = Ids { connection: acme_conn.clone(), position, key: acme_key_id.to_string(), webhook, candidate };

    // The routes are the document's; each must be known to the table, and
    // the table may not list routes that no longer exist.
    let doc = host.op("GET", "/api/v1/openapi.json", None).await;
    let routes = documented(&doc);
    let mut table = table();
    let unknown: Vec<&str> =
        routes.iter().filter(|(r, _)| !table.contains_key(r.as_str())).map(|(r, _)| r.as_str()).collect();
    assert!(unknown.is_empty(), "documented routes without an entry in api_auth.rs's table: {unknown:?}");
    let gone: Vec<&str> = table.keys().filter(|k| !routes.iter().any(|(r, _)| r == *k)).copied().collect();
    assert!(gone.is_empty(), "routes in the table but not in the OpenAPI document: {gone:?}");
    for wanted in
        ["GET /metrics", "GET /healthz", "GET /readyz", "GET /api/v1/backup", "GET /api/v1/accounts/{account}/webhooks"]
    {
        assert!(routes.iter().any(|(r, _)| r == wanted), "{wanted} is not documented");
    }

    let wrong = format!("atsb_{}_{}", &acme_key_id, "A".repeat(43));
    for (route, public) in &routes {
        let mut r = table.remove(route.as_str()).unwrap();
        r.body = r.body.as_ref().map(|b| fill_body(b, &ids));
        let (method, doc_path) = route.split_once(' ').unwrap();
        assert_eq!(*public, r.scope == Scope::Public, "{route}: documented security and the table disagree");
        let path = fill(doc_path, &ids);
        let what = format!("{method} {path}");
        if r.scope == Scope::Public {
            let (status, body) = host.call(method, &path, None, None).await;
            assert!(status == 200 || status == 503, "{what} without credentials: {status} {body}");
            continue;
        }
        for (label, token) in [("no key", None), ("a wrong key", Some(wrong.as_str())), ("junk", Some("junk"))] {
            let (status, body) = host.call(method, &path, token, r.body.clone()).await;
            assert_eq!(status, 401, "{what} with {label}: {body}");
            assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{what}: {body}");
        }
        let (status, body) = host.call(method, &path, Some(&globex), r.body.clone()).await;
        match r.scope {
            Scope::Operator => {
                assert!(status == 403 || status == 404, "{what} with another account's key: {status} {body}")
            }
            Scope::Account => assert_eq!(status, 404, "{what} with another account's key: {body}"),
            Scope::Filtered => {
                assert_eq!(status, 200, "{what}: {body}");
                assert!(!body.to_string().contains(&acme_conn), "{what} shows acme's records to globex: {body}");
            }
            Scope::Public => unreachable!(),
        }
        if r.scope == Scope::Operator {
            let (status, body) = host.call(method, &path, Some(acme), r.body.clone()).await;
            assert_eq!(status, 403, "{what} with an account key: {body}");
        }
        if r.own_call {
            let (status, body) = host.call(method, &path, Some(acme), r.body.clone()).await;
            assert!((200..300).contains(&status), "{what} with acme's own key: {status} {body}");
        }
    }

    // Nothing was changed by the refused calls.
    host.op("GET", &format!("/api/v1/connections/{acme_conn}"), None).await;
    host.op("GET", "/api/v1/plugins/well-behaved", None).await;
    let (status, _) = host.call("GET", "/api/v1/accounts/acme", Some(acme), None).await;
    assert_eq!(status, 200);
    // A connection created with acme's key for globex's account: "no such account".
    let body = json!({"account": "globex", "name": "x", "plugin": "well-behaved", "settings": {}});
    let (status, _) = host.call("POST", "/api/v1/connections", Some(acme), Some(body)).await;
    assert_eq!(status, 404);

    // A revoked key stops working at once.
    host.op("DELETE", &format!("/api/v1/accounts/acme/keys/{acme_key_id}"), None).await;
    let (status, _) = host.call("GET", &format!("/api/v1/connections/{acme_conn}"), Some(acme), None).await;
    assert_eq!(status, 401);
}
