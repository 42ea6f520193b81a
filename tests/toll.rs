//! Toll-fraud limits against a running node: 1001 may call abroad, the limit is one such call at
//! a time (set through the admin API); with one call abroad in progress (SIPp as the phone, SIPp as
//! the carrier) a second is refused with 403, 1001 is listed as blocked, counted in /metrics, and an
//! admin lifts the block through the API. Inside a private network namespace: the phone must not
//! share the demo trunk's address (127.0.0.1).

mod common;

use std::time::Duration;

use common::phones::{scenario, scenario_edited, spawn_far_end};
use common::{
    http_request, in_private_netns, metric, wait_until, Server, ServerOptions, VETH_SETUP,
};

fn put(server: &Server, path: &str, body: &str) {
    let (status, text) = http_request(server.http, "PUT", path, Some(body));
    assert_eq!(status, 200, "{path}: {text}");
}

fn blocks(server: &Server) -> serde_json::Value {
    let (status, body) = server.get("/api/v1/toll-blocks");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

/// SIPp as 1001's phone from 10.200.0.1:`port`, running `scenario` to `number`.
fn phone_calls(
    server: &Server,
    dir: &std::path::Path,
    scenario: &std::path::Path,
    number: &str,
    port: u16,
) -> common::baresip::KillOnDrop {
    let child = std::process::Command::new("sipp")
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(scenario)
        .args(["-s", number, "-au", "1001", "-ap", "demo-1001", "-m", "1"])
        .args([
            "-i",
            "10.200.0.1",
            "-p",
            &port.to_string(),
            "-mp",
            &(port + 1000).to_string(),
        ])
        .args(["-nostdin", "-timeout", "60", "-trace_err", "-error_file"])
        .arg(dir.join(format!("phone-{port}.err.log")))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)");
    common::baresip::KillOnDrop(child)
}

#[test]
fn a_second_call_abroad_at_once_is_refused_and_blocks_the_user_until_lifted() {
    if !in_private_netns(
        "a_second_call_abroad_at_once_is_refused_and_blocks_the_user_until_lifted",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        ..Default::default()
    });
    put(
        &server,
        "/api/v1/users/1001/call-settings",
        r#"{"allow_international":true}"#,
    );
    put(
        &server,
        "/api/v1/settings/toll-limits",
        r#"{"max_concurrent_per_user":1,"max_minutes_per_hour_per_user":600}"#,
    );
    let dir = tempfile::tempdir().expect("temp dir");
    // The demo trunk's far end answers and keeps the call until the B2BUA hangs up.
    let _carrier = spawn_far_end(
        dir.path(),
        "carrier",
        &common::sipp_dir().join("phone_answer.xml"),
        (5090, 16100),
        1,
    );
    // The first call abroad stays up for half a minute.
    let holding = scenario_edited(
        dir.path(),
        "phone_call_auth.xml",
        &[(
            "<pause milliseconds=\"1000\"/>",
            "<pause milliseconds=\"30000\"/>",
        )],
    );
    let _first = phone_calls(&server, dir.path(), &holding, "004646000000", 16400);
    wait_until("the call abroad answered", Duration::from_secs(10), || {
        let (_, body) = server.get("/api/v1/calls");
        body.contains("\"answered\"")
    });
    let refused = scenario(dir.path(), "call_expect_status.xml", &[("status", "403")]);
    let mut second = phone_calls(&server, dir.path(), &refused, "004646000001", 16500);
    let status = common::phones::wait_exit(&mut second, Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "the second call abroad is refused with 403: {}\n{}",
        common::phones::read(dir.path(), "phone-16500.err.log"),
        server.log_text()
    );
    let listed = blocks(&server);
    assert_eq!(listed[0]["user"], "1001", "{listed}");
    assert_eq!(listed[0]["reason"], "concurrent_calls", "{listed}");
    assert_eq!(metric(&server, "switchboard_toll_blocks_total"), 1.0);
    assert_eq!(metric(&server, "switchboard_toll_blocked_users"), 1.0);

    let (status, body) = http_request(server.http, "DELETE", "/api/v1/toll-blocks/1001", None);
    assert_eq!(status, 204, "{body}");
    assert_eq!(blocks(&server), serde_json::json!([]));
    let (status, _) = http_request(server.http, "DELETE", "/api/v1/toll-blocks/1001", None);
    assert_eq!(status, 404);
    let (status, body) = http_request(
        server.http,
        "PUT",
        "/api/v1/settings/toll-limits",
        Some(r#"{"max_concurrent_per_user":0,"max_minutes_per_hour_per_user":600}"#),
    );
    assert_eq!(status, 400, "a limit of 0 is refused: {body}");
}
