//! Every route of a running host, called with no key, a wrong key and
//! another account's key; the route table is checked against the OpenAPI
//! document so a new route cannot go untested.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::api_support;
use crate::support;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Scope {
    /// The operator only: an account key gets 403 (or 404 for another
    /// account's record).
    Operator,
    /// The owning account's key (and the operator); another account's key
    /// gets 404.
    Account,
    /// An account key sees only its own records (lists filter).
    Filtered,
}

struct Route {
    method: &'static str,
    /// With `{c}` (acme's connection), `{p}` (one of its positions),
    /// `{a}` (acme), `{k}` (a key of acme), `{r}` (a run of acme's connection).
    path: &'static str,
    scope: Scope,
    body: Option<Value>,
    /// Safe to call with acme's own key to see it succeed.
    own_call: bool,
}

fn route(method: &'static str, path: &'static str, scope: Scope, body: Option<Value>, own_call: bool) -> Route {
    Route { method, path, scope, body, own_call }
}

fn routes() -> Vec<Route> {
    use Scope::*;
    // Refused before the body is read, so a small one will do.
    let upload = json!({ "bundled": "greenhouse" });
    vec![
        route("GET", "/api/v1/status", Filtered, None, true),
        route("GET", "/api/v1/metrics", Operator, None, false),
        route("GET", "/api/v1/plugins", Operator, None, false),
        route("POST", "/api/v1/plugins", Operator, Some(upload), false),
        route("GET", "/api/v1/plugins/well-behaved", Operator, None, false),
        route("DELETE", "/api/v1/plugins/well-behaved", Operator, None, false),
        route("POST", "/api/v1/plugins/well-behaved/check", Operator, Some(json!({"settings": {}})), false),
        route("GET", "/api/v1/accounts", Filtered, None, true),
        route("POST", "/api/v1/accounts", Operator, Some(json!({"name": "Initech"})), false),
        route("GET", "/api/v1/accounts/{a}", Account, None, true),
        route("PATCH", "/api/v1/accounts/{a}", Operator, Some(json!({"time_zone": "Europe/Paris"})), false),
        route("DELETE", "/api/v1/accounts/{a}", Operator, None, false),
        route("GET", "/api/v1/accounts/{a}/keys", Operator, None, false),
        route("POST", "/api/v1/accounts/{a}/keys", Operator, Some(json!({"label": "x"})), false),
        route("DELETE", "/api/v1/accounts/{a}/keys/{k}", Operator, None, false),
        route("GET", "/api/v1/connections", Filtered, None, true),
        route(
            "POST",
            "/api/v1/connections",
            Account,
            Some(json!({"account": "acme", "name": "second", "plugin": "well-behaved", "settings": {}})),
            false,
        ),
        route("GET", "/api/v1/connections/{c}", Account, None, true),
        route("PATCH", "/api/v1/connections/{c}", Account, Some(json!({"name": "renamed"})), true),
        route("DELETE", "/api/v1/connections/{c}", Account, None, false),
        route("POST", "/api/v1/connections/{c}/enable", Account, None, true),
        route("POST", "/api/v1/connections/{c}/disable", Account, None, false),
        route("POST", "/api/v1/connections/{c}/test", Account, None, true),
        route("POST", "/api/v1/connections/{c}/sync", Account, None, false),
        route("POST", "/api/v1/connections/{c}/reset", Account, None, true),
        route("GET", "/api/v1/connections/{c}/runs", Account, None, true),
        route("GET", "/api/v1/connections/{c}/runs/{r}", Account, None, true),
        route("GET", "/api/v1/positions", Filtered, None, true),
        route("GET", "/api/v1/positions/{p}", Account, None, true),
        route("PATCH", "/api/v1/positions/{p}", Account, Some(json!({"name": "Edited"})), true),
        route("DELETE", "/api/v1/positions/{p}/edits/name", Account, None, true),
        route("POST", "/api/v1/positions/{p}/publish", Account, None, false),
        route("POST", "/api/v1/positions/{p}/unpublish", Account, None, true),
        route("GET", "/api/v1/accounts/{a}/stages", Account, None, true),
        route("POST", "/api/v1/accounts/{a}/stages", Account, Some(json!({"name": "Tech test"})), true),
        route("PATCH", "/api/v1/accounts/{a}/stages/offer", Account, Some(json!({"name": "Offer made"})), true),
        route("DELETE", "/api/v1/accounts/{a}/stages/rejected", Account, None, true),
        route("PUT", "/api/v1/accounts/{a}/stage-order", Account, Some(json!({"order": []})), false),
        route("GET", "/api/v1/connections/{c}/stages", Account, None, true),
        route("POST", "/api/v1/connections/{c}/stages/refresh", Account, None, true),
        route("PUT", "/api/v1/connections/{c}/stage-mapping/offer", Account, Some(json!({"ats_stage_id": "s1"})), true),
        route("DELETE", "/api/v1/connections/{c}/stage-mapping/offer", Account, None, true),
        route("GET", "/api/v1/candidates", Filtered, None, true),
        route(
            "POST",
            "/api/v1/candidates",
            Account,
            Some(json!({"position": "{p}", "name": "Ada", "email": "a@b.example"})),
            true,
        ),
        route("GET", "/api/v1/candidates/{n}", Account, None, true),
        route("POST", "/api/v1/candidates/{n}/move", Account, Some(json!({"stage": "screening"})), true),
        route("GET", "/api/v1/candidates/{n}/history", Account, None, true),
    ]
}

/// The OpenAPI path of a route (`{c}` -> `{id}` and so on).
fn openapi_path(path: &str) -> String {
    path.replace("/accounts/{a}/keys/{k}", "/accounts/{account}/keys/{key}")
        .replace("/accounts/{a}", "/accounts/{account}")
        .replace("/connections/{c}/runs/{r}", "/connections/{id}/runs/{run}")
        .replace("{c}", "{id}")
        .replace("{p}", "{id}")
        .replace("/edits/name", "/edits/{field}")
        .replace("/stages/offer", "/stages/{stage}")
        .replace("/stages/rejected", "/stages/{stage}")
        .replace("/stage-mapping/offer", "/stage-mapping/{stage}")
        .replace("{n}", "{id}")
        .replace("/plugins/well-behaved", "/plugins/{id}")
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
    let candidate = host
        .op(
            "POST",
            "/api/v1/candidates",
            Some(json!({"position": position.parse::<u64>().unwrap(), "name": "Bo", "email": "bo@b.example"})),
        )
        .await["id"]
        .to_string();

    // The table covers every documented route.
    let doc = host.op("GET", "/api/v1/openapi.json", None).await;
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| item.as_object().unwrap().keys().map(move |m| format!("{} {path}", m.to_uppercase())))
        .collect();
    let tested: BTreeSet<String> = routes().iter().map(|r| format!("{} {}", r.method, openapi_path(r.path))).collect();
    assert_eq!(documented, tested, "routes in the OpenAPI document and in this test differ");

    let wrong = format!("atsb_{}_{}", &acme_key_id, "A".repeat(43));
    for r in routes() {
        let path = r
            .path
            .replace("{c}", &acme_conn)
            .replace("{p}", &position)
            .replace("{a}", "acme")
            .replace("{k}", acme_key_id)
            .replace("{r}", "1")
            .replace("{n}", &candidate);
        // A body naming acme's position (ids are only known now).
        let body_of = |r: &Route| {
            r.body
                .as_ref()
                .map(|b| serde_json::from_str::<Value>(&b.to_string().replace("\"{p}\"", &position)).unwrap())
        };
        let what = format!("{} {path}", r.method);
        for (label, token) in [("no key", None), ("a wrong key", Some(wrong.as_str())), ("junk", Some("junk"))] {
            let (status, body) = host.call(r.method, &path, token, body_of(&r)).await;
            assert_eq!(status, 401, "{what} with {label}: {body}");
            assert!(body["error"]["code"].is_string() && body["error"]["message"].is_string(), "{what}: {body}");
        }
        let (status, body) = host.call(r.method, &path, Some(&globex), body_of(&r)).await;
        match r.scope {
            Scope::Operator => {
                assert!(status == 403 || status == 404, "{what} with another account's key: {status} {body}")
            }
            Scope::Account => assert_eq!(status, 404, "{what} with another account's key: {body}"),
            Scope::Filtered => {
                assert_eq!(status, 200, "{what}: {body}");
                assert!(!body.to_string().contains(&acme_conn), "{what} shows acme's records to globex: {body}");
            }
        }
        if r.scope == Scope::Operator {
            let (status, body) = host.call(r.method, &path, Some(acme), body_of(&r)).await;
            assert_eq!(status, 403, "{what} with an account key: {body}");
        }
        if r.own_call {
            let (status, body) = host.call(r.method, &path, Some(acme), body_of(&r)).await;
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
