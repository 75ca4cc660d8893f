//! The API against its own OpenAPI document, schemathesis-style: every GET
//! operation of the document, called on a running host with real records
//! and with hostile query values, answers without a server error; every
//! success has a status the document lists and a body that validates
//! against the schema documented for it; every failure has the one error
//! shape.

use serde_json::{Value, json};

use crate::api_auth::{Ids, fill};
use crate::api_support;
use crate::support;

/// Follows `$ref`s into `#/components/schemas`.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unsupported $ref {r}"));
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unsupported schema type {other}"),
    }
}

/// Validates `v` against the subset of JSON Schema the document uses;
/// returns what does not match, with where.
fn validate(doc: &Value, schema: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(t) = schema.get("type") {
        let ok = match t {
            Value::String(t) => type_matches(t, v),
            Value::Array(ts) => ts.iter().any(|t| type_matches(t.as_str().unwrap_or(""), v)),
            other => panic!("unsupported type {other}"),
        };
        if !ok {
            errors.push(format!("{at}: {v} is not of type {t}"));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errors.push(format!("{at}: {v} is not one of {options:?}"));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && v.as_f64().is_some_and(|n| n < min)
    {
        errors.push(format!("{at}: {v} is below {min}"));
    }
    for key in ["allOf"] {
        for s in schema.get(key).and_then(Value::as_array).into_iter().flatten() {
            validate(doc, s, v, at, errors);
        }
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let matching = options
                .iter()
                .filter(|s| {
                    let mut e = Vec::new();
                    validate(doc, s, v, at, &mut e);
                    e.is_empty()
                })
                .count();
            if matching == 0 || (key == "oneOf" && matching > 1) {
                errors.push(format!("{at}: {v} matches {matching} of the {key} options"));
            }
        }
    }
    if let Value::Object(map) = v {
        for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
            let name = name.as_str().unwrap();
            if !map.contains_key(name) {
                errors.push(format!("{at}: required `{name}` is missing"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (name, value) in map {
                match props.get(name) {
                    Some(s) => validate(doc, s, value, &format!("{at}.{name}"), errors),
                    None if schema.get("additionalProperties") == Some(&Value::Bool(false)) => {
                        errors.push(format!("{at}: `{name}` is not in the schema"))
                    }
                    None => {}
                }
            }
        }
    }
    if let (Value::Array(items), Some(s)) = (v, schema.get("items")) {
        for (i, item) in items.iter().enumerate() {
            validate(doc, s, item, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Hostile values for a query parameter of this schema.
fn hostile(doc: &Value, schema: &Value) -> Vec<String> {
    let schema = resolve(doc, schema);
    let mut values = vec!["".to_string(), "%00".to_string(), "..%2F..%2Fetc%2Fpasswd".to_string(), "x".repeat(4096)];
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    if types.contains(&"integer") {
        values.extend(["-1", "0", "18446744073709551616", "1e3", "500", "501"].map(str::to_string));
    }
    if types.contains(&"boolean") {
        values.extend(["maybe", "TRUE", "1"].map(str::to_string));
    }
    values
}

#[tokio::test(flavor = "multi_thread")]
async fn every_get_operation_answers_as_its_document_says() {
    let dir = tempfile::tempdir().unwrap();
    let host = api_support::start(&dir.path().join("data"), &api_support::secret_key());
    let ats = support::fake_ats().await;
    host.install_well_behaved().await;
    let connection = host.account_with_connection("Acme", &ats).await;
    let accepted = host.op("POST", &format!("/api/v1/connections/{connection}/sync"), None).await;
    host.wait_run(&connection, accepted["run"].as_u64().unwrap(), &host.token).await;
    let created = host.op("POST", "/api/v1/accounts/acme/keys", Some(json!({"label": "platform"}))).await;
    let acme = created["token"].as_str().unwrap().to_string();
    let positions = host.op("GET", &format!("/api/v1/positions?connection={connection}"), None).await;
    let hook = host.op("POST", "/api/v1/accounts/acme/webhooks", Some(json!({"url": "https://p.example/h"}))).await;
    let ids = Ids {
        connection: connection.clone(),
        position: positions["items"][0]["id"].as_u64().unwrap().to_string(),
        key: created["key"]["id"].as_str().unwrap().to_string(),
        webhook: hook["webhook"]["id"].as_str().unwrap().to_string(),
        // No candidate: its routes answer 404, in the error shape.
        candidate: "1".to_string(),
    };

    let doc = host.op("GET", "/api/v1/openapi.json", None).await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("get") else { continue };
        let url = fill(path, &ids);
        let params: Vec<&Value> =
            op["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query").collect();
        // The plain call, then each query parameter with each hostile value.
        let mut calls = vec![url.clone()];
        for p in &params {
            for value in hostile(&doc, &p["schema"]) {
                calls.push(format!("{url}?{}={value}", p["name"].as_str().unwrap()));
            }
        }
        for call in calls {
            for token in [host.token.as_str(), acme.as_str()] {
                let who = if token == host.token { "operator" } else { "account key" };
                let (status, body) = host.call("GET", &call, Some(token), None).await;
                let what = format!("GET {call} as {who}: {status}");
                assert!(status < 500 || (status == 503 && path == "/readyz"), "{what} {body}");
                let documented = &op["responses"][status.to_string()];
                if (200..300).contains(&status) {
                    assert!(documented.is_object(), "{what} is not a documented status");
                    let Some(schema) = documented["content"]["application/json"].get("schema") else { continue };
                    let mut errors = Vec::new();
                    validate(&doc, schema, &body, "body", &mut errors);
                    assert!(errors.is_empty(), "{what}: the body does not match its schema: {errors:#?}\n{body}");
                } else {
                    let shape = body["error"]["code"].is_string() && body["error"]["message"].is_string();
                    assert!(shape || path == "/readyz", "{what}: not the error shape: {body}");
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} calls checked");
}

#[test]
fn the_validator_refuses_what_the_schema_does_not_allow() {
    let doc = json!({"components": {"schemas": {"Item": {
        "type": "object", "required": ["id"],
        "properties": {"id": {"type": "integer", "minimum": 0}, "note": {"type": ["string", "null"]},
                       "state": {"type": "string", "enum": ["a", "b"]}}
    }}}});
    let page = json!({"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/Item"}}}});
    let errors = |v: Value| {
        let mut e = Vec::new();
        validate(&doc, &page, &v, "body", &mut e);
        e
    };
    assert!(errors(json!({"items": [{"id": 1, "note": null, "state": "a"}]})).is_empty());
    for bad in [
        json!({"items": [{"note": "x"}]}),
        json!({"items": [{"id": -1}]}),
        json!({"items": [{"id": "1"}]}),
        json!({"items": [{"id": 1, "note": 3}]}),
        json!({"items": [{"id": 1, "state": "c"}]}),
        json!({"items": {}}),
    ] {
        assert!(!errors(bad.clone()).is_empty(), "{bad} passed");
    }
}
