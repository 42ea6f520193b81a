//! The OpenAPI document lists every route the router serves, each documented route is served, every
//! admin route needs the token, and unknown routes answer in JSON.

mod common;

use std::collections::BTreeSet;

use axum::http::StatusCode;
use common::{api, assert_error, Api, TOKEN};
use serde_json::{json, Value};

/// Every route of the HTTP API. Adding a route means adding it here; the tests below check that
/// the document and the router agree with this list.
const ROUTES: &[(&str, &str)] = &[
    ("GET", "/healthz"),
    ("GET", "/assets/jssip.js"),
    ("GET", "/assets/LICENSES.md"),
    ("GET", "/phone"),
    ("GET", "/phone/phone.js"),
    ("GET", "/phone/phone.css"),
    ("GET", "/phone/config.json"),
    ("GET", "/metrics"),
    ("GET", "/api/v1/openapi.json"),
    ("GET", "/api/docs"),
    ("GET", "/api/docs/swagger-ui-bundle.js"),
    ("GET", "/api/docs/swagger-ui.css"),
    ("GET", "/api/docs/init.js"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/refresh"),
    ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/oidc/login"),
    ("GET", "/api/v1/auth/oidc/callback"),
    ("GET", "/api/v1/me"),
    ("PUT", "/api/v1/me/password"),
    ("POST", "/api/v1/me/totp"),
    ("DELETE", "/api/v1/me/totp"),
    ("POST", "/api/v1/me/totp/confirm"),
    ("GET", "/api/v1/me/presence"),
    ("PUT", "/api/v1/me/presence"),
    ("GET", "/api/v1/me/queues"),
    ("PUT", "/api/v1/me/agent-state"),
    ("GET", "/api/v1/directory"),
    ("GET", "/api/v1/me/calls"),
    ("POST", "/api/v1/me/calls"),
    ("GET", "/api/v1/me/missed-queue-calls"),
    ("GET", "/api/v1/me/call-settings"),
    ("PUT", "/api/v1/me/call-settings"),
    ("GET", "/api/v1/users/{username}/roles"),
    ("PUT", "/api/v1/users/{username}/roles"),
    ("PUT", "/api/v1/users/{username}/login"),
    ("DELETE", "/api/v1/users/{username}/totp"),
    ("DELETE", "/api/v1/users/{username}/sessions"),
    ("GET", "/api/v1/settings/login"),
    ("PUT", "/api/v1/settings/login"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/export"),
    ("GET", "/api/v1/users"),
    ("POST", "/api/v1/users"),
    ("GET", "/api/v1/users/{username}"),
    ("DELETE", "/api/v1/users/{username}"),
    ("PUT", "/api/v1/users/{username}/password"),
    ("GET", "/api/v1/users/{username}/call-settings"),
    ("PUT", "/api/v1/users/{username}/call-settings"),
    ("GET", "/api/v1/users/{username}/push-devices"),
    ("GET", "/api/v1/registrations"),
    ("GET", "/api/v1/bans"),
    ("DELETE", "/api/v1/bans/{ip}"),
    ("GET", "/api/v1/settings/toll-limits"),
    ("PUT", "/api/v1/settings/toll-limits"),
    ("GET", "/api/v1/toll-blocks"),
    ("DELETE", "/api/v1/toll-blocks/{username}"),
    ("GET", "/api/v1/settings/main-number"),
    ("PUT", "/api/v1/settings/main-number"),
    ("GET", "/api/v1/numbers"),
    ("POST", "/api/v1/numbers"),
    ("GET", "/api/v1/numbers/{number}"),
    ("PUT", "/api/v1/numbers/{number}"),
    ("DELETE", "/api/v1/numbers/{number}"),
    ("GET", "/api/v1/hunt-groups"),
    ("POST", "/api/v1/hunt-groups"),
    ("GET", "/api/v1/hunt-groups/{id}"),
    ("PUT", "/api/v1/hunt-groups/{id}"),
    ("DELETE", "/api/v1/hunt-groups/{id}"),
    ("PUT", "/api/v1/hunt-groups/{id}/members"),
    ("GET", "/api/v1/trunks"),
    ("POST", "/api/v1/trunks"),
    ("GET", "/api/v1/trunks/{id}"),
    ("PUT", "/api/v1/trunks/{id}"),
    ("DELETE", "/api/v1/trunks/{id}"),
    ("GET", "/api/v1/trunks/{id}/status"),
    ("GET", "/api/v1/cdrs"),
    ("GET", "/api/v1/cdrs/{id}"),
    ("GET", "/api/v1/queues"),
    ("POST", "/api/v1/queues"),
    ("GET", "/api/v1/queues/stats"),
    ("GET", "/api/v1/queues/{id}"),
    ("PUT", "/api/v1/queues/{id}"),
    ("DELETE", "/api/v1/queues/{id}"),
    ("GET", "/api/v1/queues/{id}/members"),
    ("PUT", "/api/v1/queues/{id}/members"),
    ("GET", "/api/v1/queues/{id}/live"),
    ("PUT", "/api/v1/agents/{user}/state"),
    ("GET", "/api/v1/menus"),
    ("POST", "/api/v1/menus"),
    ("GET", "/api/v1/menus/{id}"),
    ("PUT", "/api/v1/menus/{id}"),
    ("DELETE", "/api/v1/menus/{id}"),
    ("GET", "/api/v1/prompts"),
    ("GET", "/api/v1/prompts/{name}"),
    ("PUT", "/api/v1/prompts/{name}"),
    ("DELETE", "/api/v1/prompts/{name}"),
    ("GET", "/api/v1/schedules"),
    ("POST", "/api/v1/schedules"),
    ("GET", "/api/v1/schedules/{id}"),
    ("PUT", "/api/v1/schedules/{id}"),
    ("DELETE", "/api/v1/schedules/{id}"),
    ("PUT", "/api/v1/schedules/{id}/override"),
    ("DELETE", "/api/v1/schedules/{id}/override"),
    ("GET", "/api/v1/queues/{id}/history"),
    ("GET", "/api/v1/events"),
    ("GET", "/api/v1/calls"),
    ("GET", "/api/v1/calls/{id}"),
    ("POST", "/api/v1/calls/{id}/recording"),
    ("DELETE", "/api/v1/calls/{id}/recording"),
    ("GET", "/api/v1/recordings"),
    ("GET", "/api/v1/recordings/{id}"),
    ("DELETE", "/api/v1/recordings/{id}"),
    ("GET", "/api/v1/recordings/{id}/audio"),
];

/// Routes that need no token.
const OPEN: &[&str] = &[
    "/healthz",
    "/metrics",
    "/api/v1/openapi.json",
    "/api/v1/auth/login",
    "/api/v1/auth/refresh",
    "/api/v1/auth/oidc/login",
    "/api/v1/auth/oidc/callback",
    "/api/docs",
    "/api/docs/swagger-ui-bundle.js",
    "/api/docs/swagger-ui.css",
    "/api/docs/init.js",
    "/assets/jssip.js",
    "/assets/LICENSES.md",
    "/phone",
    "/phone/phone.js",
    "/phone/phone.css",
    "/phone/config.json",
];

/// A concrete URI for a route template.
fn concrete(path: &str) -> String {
    path.replace("{username}", "1001")
        .replace("{number}", "+4764000000")
        .replace("{user}", "1001")
        .replace("{name}", "welcome")
        .replace("{id}", "1")
}

/// The document as served.
async fn served_document(api: &Api) -> Value {
    // No token: the description is public.
    let (status, doc) = api.raw("GET", "/api/v1/openapi.json", None, None).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    doc
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn document_lists_every_route() {
    let api = api().await;
    let doc = served_document(&api).await;
    assert!(
        doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.")),
        "{}",
        doc["openapi"]
    );
    let want: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented_routes(&doc), want);
    // Generated clients name methods after operationId: each must be there and unique.
    let mut ids = BTreeSet::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"]
                .as_str()
                .unwrap_or_else(|| panic!("{method}: no operationId"));
            assert!(ids.insert(id.to_owned()), "operationId {id} twice");
        }
    }
    assert_eq!(ids.len(), ROUTES.len());
    // The served document is the one the library builds.
    assert_eq!(
        doc,
        serde_json::to_value(mobile_api::openapi()).expect("serialise")
    );
}

#[tokio::test]
async fn every_documented_route_is_served() {
    let api = api().await;
    let doc = served_document(&api).await;
    for (method, path) in documented_routes(&doc) {
        let body = matches!(method.as_str(), "POST" | "PUT").then(|| json!({}));
        let (status, resp) = api.call(&method, &concrete(&path), body).await;
        // Not the router's "no such route" nor "method not allowed": the handler answered, whatever
        // it thought of the empty body.
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let no_route = status == StatusCode::NOT_FOUND
            && resp["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no route"));
        assert!(
            !no_route,
            "{method} {path} is documented but not served: {resp}"
        );
    }
}

#[tokio::test]
async fn every_admin_route_needs_the_token() {
    let api = api().await;
    let doc = served_document(&api).await;
    assert_eq!(doc["security"], json!([{ "bearer": [] }]));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    for (method, path) in ROUTES {
        let uri = concrete(path);
        let body = matches!(*method, "POST" | "PUT").then(|| ("application/json", "{}".to_owned()));
        let open = OPEN.contains(path);
        for token in [None, Some("wrong-token")] {
            let resp = api.raw(method, &uri, token, body.clone()).await;
            if open {
                assert_ne!(resp.0, StatusCode::UNAUTHORIZED, "{method} {path} is open");
            } else {
                assert_error(&resp, StatusCode::UNAUTHORIZED, "unauthorized");
            }
        }
        // The document says the same: open routes override the global requirement with "none".
        let op = &doc["paths"][path][method.to_lowercase()];
        if open {
            assert_eq!(op["security"], json!([{}]), "{method} {path}");
        } else {
            assert!(
                op.get("security").is_none(),
                "{method} {path}: {}",
                op["security"]
            );
        }
    }
    // The right token gets through.
    let (status, _) = api.raw("GET", "/api/v1/numbers", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn schemas_resolve() {
    let api = api().await;
    let doc = served_document(&api).await;
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in [
        "HuntGroupSpec",
        "HuntGroup",
        "MemberSpec",
        "TrunkSpec",
        "Trunk",
        "PublicNumber",
        "PublicNumberSpec",
        "UserCallSettings",
        "CdrList",
        "CdrView",
        "ErrorBody",
        "User",
        "TargetKind",
        "HuntStrategy",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
    // Every reference points at a schema the document has.
    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }
    let mut found = Vec::new();
    refs(&doc, &mut found);
    assert!(found.len() > 20, "{found:?}");
    for r in found {
        let name = r
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("odd $ref {r}"));
        assert!(schemas.contains_key(name), "dangling $ref {r}");
    }
    // The enums carry their values, as the API spells them.
    assert_eq!(
        schemas["HuntStrategy"]["enum"],
        json!(["ring_all", "sequential", "round_robin", "longest_idle"])
    );
}

#[tokio::test]
async fn path_parameters_are_in_the_path_and_json_bodies_document_415() {
    let api = api().await;
    let doc = served_document(&api).await;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().expect("name");
                let in_path = path.contains(&format!("{{{name}}}"));
                assert_eq!(
                    param["in"] == "path",
                    in_path,
                    "{method} {path}: parameter {name} is documented in {}",
                    param["in"]
                );
            }
            let json_body = op["requestBody"]["content"]
                .as_object()
                .is_some_and(|c| c.contains_key("application/json"));
            if json_body {
                assert!(
                    op["responses"]["415"].is_object(),
                    "{method} {path}: no 415"
                );
                assert!(
                    op["responses"]["400"].is_object(),
                    "{method} {path}: no 400"
                );
            }
        }
    }
}

#[tokio::test]
async fn unknown_routes_answer_json() {
    let api = api().await;
    for uri in ["/api/v1/nothing", "/nothing", "/api/v2/users"] {
        assert_error(
            &api.call("GET", uri, None).await,
            StatusCode::NOT_FOUND,
            "not_found",
        );
    }
}
