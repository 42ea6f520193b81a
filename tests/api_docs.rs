//! The browsable API docs (`/api/docs`, vendored Swagger UI) in headless Chromium: every operation of
//! the OpenAPI document is rendered, with the roles each admits, and the page raises no errors.

mod common;

use std::path::Path;
use std::process::Command;

use common::{Server, ServerOptions};
use serde_json::Value;

#[test]
fn the_api_docs_page_shows_every_operation_with_its_roles() {
    let server = Server::start(ServerOptions::default());
    let (status, doc) = server.get("/api/v1/openapi.json");
    assert_eq!(status, 200);
    let doc: Value = serde_json::from_str(&doc).expect("OpenAPI JSON");
    let operations: usize = doc["paths"]
        .as_object()
        .expect("paths")
        .values()
        .map(|item| item.as_object().map_or(0, |m| m.len()))
        .sum();
    let out = Command::new("node")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser/api_docs.mjs"))
        .arg(format!("http://{}/api/docs", server.http))
        .output()
        .expect("node runs the browser script");
    let report: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    assert!(
        report["error"].is_null(),
        "{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report["operations"], operations, "{report}");
    let paths: Vec<&str> = report["paths"]
        .as_array()
        .expect("paths")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for path in [
        "/api/v1/me/presence",
        "/api/v1/auth/login",
        "/api/v1/queues/{id}/live",
    ] {
        assert!(paths.contains(&path), "{path} not rendered: {paths:?}");
    }
    assert!(
        report["description"]
            .as_str()
            .is_some_and(|d| d.contains("Roles: admin, receptionist, staff")),
        "{report}"
    );
    assert_eq!(report["errors"], serde_json::json!([]), "{report}");
}
