//! Trunk maintenance through the running binary, with SIPp as the carrier: registration with a
//! digest challenge, OPTIONS probes taking a trunk down (calls then go to the backup), and the
//! concurrent-call cap. Each test runs in its own network namespace (only loopback), so the
//! carrier ports are its own.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::baresip::KillOnDrop;
use common::phones::{scenario_edited, spawn_far_end};
use common::{http_request, in_private_netns, sipp, sipp_dir, Server, ServerOptions, VETH_SETUP};
use serde_json::Value;

/// Like `wait_until`, but a timeout shows the server's log.
fn wait_for(server: &Server, what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + timeout;
    while !f() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

fn json(server: &Server, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let (status, text) = http_request(server.http, method, path, body);
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn trunk_id(server: &Server, name: &str) -> i64 {
    let (_, list) = json(server, "GET", "/api/v1/trunks", None);
    list.as_array()
        .and_then(|l| l.iter().find(|t| t["name"] == name))
        .and_then(|t| t["id"].as_i64())
        .expect("trunk in the list")
}

fn trunk_status(server: &Server, id: i64) -> Value {
    let (status, body) = json(server, "GET", &format!("/api/v1/trunks/{id}/status"), None);
    assert_eq!(status, 200, "{body}");
    body
}

/// Replaces the demo trunk "carrier" (127.0.0.1:5090) with `extra` settings; returns its id.
fn set_demo_carrier(server: &Server, extra: &str) -> i64 {
    let id = trunk_id(server, "carrier");
    let body = format!(
        r#"{{"name":"carrier","host":"127.0.0.1","port":5090,"inbound_sources":["127.0.0.1/32"],{extra}}}"#
    );
    let (status, resp) = json(server, "PUT", &format!("/api/v1/trunks/{id}"), Some(&body));
    assert_eq!(status, 200, "{resp}");
    id
}

/// Registers `user` (demo password) from 10.200.0.1:`port` with SIPp, so calls from there are
/// that user's (loopback is the demo trunk's address: calls from there are the carrier's).
fn register_user(server: &Server, dir: &Path, user: &str, port: u16) {
    let password = format!("demo-{user}");
    let out = sipp(
        dir,
        "register_only.xml",
        server.sip,
        &[
            "-s",
            user,
            "-au",
            user,
            "-ap",
            &password,
            "-m",
            "1",
            "-i",
            "10.200.0.1",
            "-p",
            &port.to_string(),
            "-timeout",
            "10",
        ],
    );
    assert!(out.status.success(), "{user} registers: {:?}", out);
}

#[test]
fn a_registering_trunk_answers_the_carriers_challenge_and_is_probed() {
    if !in_private_netns(
        "a_registering_trunk_answers_the_carriers_challenge_and_is_probed",
        "true",
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).expect("secrets dir");
    std::fs::write(secrets.join("carrier.password"), "hemmelig-42\n").expect("password file");
    let config = format!("[secrets]\ndir = \"{}\"\n", secrets.display());
    let server = Server::start(ServerOptions {
        config_toml: Some(&config),
        dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    });
    let file = scenario_edited(
        dir.path(),
        "carrier_registrar.xml",
        &[("[$password]", "hemmelig-42")],
    );
    let _registrar = spawn_far_end(dir.path(), "registrar", &file, (5092, 16920), 0);
    let (status, trunk) = json(
        &server,
        "POST",
        "/api/v1/trunks",
        Some(
            r#"{"name":"registered","host":"127.0.0.1","port":5092,"priority":300,"register":true,
                "username":"kommune","password_secret":"carrier.password","options_interval_secs":5}"#,
        ),
    );
    assert_eq!(status, 201, "{trunk}");
    let id = trunk["id"].as_i64().expect("id");

    let mut last = Value::Null;
    wait_for(
        &server,
        "the trunk registered",
        Duration::from_secs(20),
        || {
            last = trunk_status(&server, id);
            last["registration"]["state"] == "registered"
        },
    );
    let expires = last["registration"]["expires_in_secs"]
        .as_u64()
        .unwrap_or(0);
    assert!((590..=600).contains(&expires), "{last}");
    assert_eq!(last["active"], true, "{last}");
    assert_eq!(last["address"], "127.0.0.1:5092", "{last}");
    wait_for(
        &server,
        "an answered OPTIONS probe",
        Duration::from_secs(15),
        || {
            last = trunk_status(&server, id);
            last["probe"]["last_status"] == 200
        },
    );
    assert_eq!(last["probe"]["state"], "up", "{last}");

    let msgs = read(dir.path(), "registrar.msg.log");
    assert!(
        msgs.contains("To: <sip:kommune@127.0.0.1>"),
        "REGISTER for the trunk's AOR: {msgs}"
    );
    assert!(
        msgs.contains("Authorization: Digest username=\"kommune\""),
        "{msgs}"
    );
    assert!(msgs.contains("qop=auth"), "{msgs}");
    assert!(msgs.contains("OPTIONS sip:127.0.0.1:5092"), "{msgs}");
    let log = server.log_text();
    assert!(
        !log.contains("hemmelig"),
        "the password leaked into the log"
    );

    // Disabling the trunk takes the registration down.
    let (status, _) = json(
        &server,
        "PUT",
        &format!("/api/v1/trunks/{id}"),
        Some(
            r#"{"name":"registered","host":"127.0.0.1","port":5092,"priority":300,"register":true,
                "username":"kommune","password_secret":"carrier.password","enabled":false}"#,
        ),
    );
    assert_eq!(status, 200);
    wait_for(
        &server,
        "REGISTER Expires: 0",
        Duration::from_secs(15),
        || read(dir.path(), "registrar.msg.log").contains("Expires: 0"),
    );
    assert_eq!(trunk_status(&server, id)["active"], false);
}

#[test]
fn a_trunk_whose_probes_fail_goes_down_and_calls_take_the_backup() {
    if !in_private_netns(
        "a_trunk_whose_probes_fail_goes_down_and_calls_take_the_backup",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let file = scenario_edited(dir.path(), "carrier_options.xml", &[("[$status]", "503")]);
    let _primary = spawn_far_end(dir.path(), "primary", &file, (5090, 16900), 0);
    let carrier = set_demo_carrier(&server, r#""options_interval_secs":5"#);
    let (status, body) = json(
        &server,
        "POST",
        "/api/v1/trunks",
        Some(
            r#"{"name":"backup","host":"127.0.0.1","port":5091,"priority":200,"options_interval_secs":0}"#,
        ),
    );
    assert_eq!(status, 201, "{body}");
    let mut last = Value::Null;
    wait_for(
        &server,
        "the carrier trunk down",
        Duration::from_secs(30),
        || {
            last = trunk_status(&server, carrier);
            last["probe"]["state"] == "down"
        },
    );
    assert_eq!(last["probe"]["last_status"], 503, "{last}");

    register_user(&server, dir.path(), "1001", 15061);
    let backup_file = sipp_dir().join("carrier_answer.xml");
    let mut backup = spawn_far_end(dir.path(), "backup", &backup_file, (5091, 16910), 1);
    let out = sipp(
        dir.path(),
        "user_call_answered.xml",
        server.sip,
        &[
            "-au",
            "1001",
            "-ap",
            "demo-1001",
            "-s",
            "22334455",
            "-m",
            "1",
            "-i",
            "10.200.0.1",
            "-p",
            "15061",
            "-mp",
            "17000",
            "-timeout",
            "20",
        ],
    );
    let backup_status = backup.0.wait().expect("backup exits");
    assert!(
        out.status.success() && backup_status.success(),
        "call: {:?}\nbackup: {}\nserver: {}",
        out,
        read(dir.path(), "backup.msg.log"),
        server.log_text()
    );
    assert!(read(dir.path(), "backup.msg.log").contains("INVITE sip:+4722334455@127.0.0.1:5091"));
    assert!(
        !read(dir.path(), "primary.msg.log").contains("INVITE sip:"),
        "the down trunk got the call"
    );
}

#[test]
fn a_trunk_at_max_calls_refuses_a_second_call_with_503() {
    if !in_private_netns(
        "a_trunk_at_max_calls_refuses_a_second_call_with_503",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    // The probe interval (an hour: no probe during the test) shows when the SIP core has the new
    // settings: the demo trunk is not probed, so a probe state appears only with them.
    let carrier = set_demo_carrier(&server, r#""options_interval_secs":3600,"max_calls":1"#);
    wait_for(
        &server,
        "the cap in the SIP core",
        Duration::from_secs(10),
        || !trunk_status(&server, carrier)["probe"].is_null(),
    );
    // The carrier keeps the first call up long enough for the second to try.
    let file = scenario_edited(
        dir.path(),
        "carrier_answer.xml",
        &[("milliseconds=\"2000\"", "milliseconds=\"6000\"")],
    );
    let mut far_end = spawn_far_end(dir.path(), "carrier", &file, (5090, 16900), 1);
    register_user(&server, dir.path(), "1001", 15061);
    register_user(&server, dir.path(), "1002", 15062);

    let first_file = sipp_dir().join("user_call_answered.xml");
    let mut first = KillOnDrop(
        Command::new("sipp")
            .arg(server.sip.to_string())
            .args(["-sf", &first_file.to_string_lossy()])
            .args([
                "-au",
                "1001",
                "-ap",
                "demo-1001",
                "-s",
                "22334455",
                "-m",
                "1",
                "-i",
                "10.200.0.1",
                "-p",
                "15061",
            ])
            .args(["-mp", "17000", "-nostdin", "-timeout", "30"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp runs"),
    );
    wait_for(
        &server,
        "one call on the trunk",
        Duration::from_secs(10),
        || trunk_status(&server, carrier)["calls"] == 1,
    );
    let second = scenario_edited(
        dir.path(),
        "call_expect_status.xml",
        &[("[$status]", "503")],
    );
    let out = Command::new("sipp")
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(&second)
        .args([
            "-au",
            "1002",
            "-ap",
            "demo-1002",
            "-s",
            "22334466",
            "-m",
            "1",
            "-i",
            "10.200.0.1",
            "-p",
            "15062",
        ])
        .args(["-mp", "17100", "-nostdin", "-timeout", "15"])
        .output()
        .expect("sipp runs");
    assert!(
        out.status.success(),
        "the second call gets 503: {:?}\n{}",
        out,
        server.log_text()
    );
    let first_status = first.0.wait().expect("first call ends");
    let far_status = far_end.0.wait().expect("carrier exits");
    assert!(
        first_status.success() && far_status.success(),
        "first call: {}\n{}",
        read(dir.path(), "carrier.msg.log"),
        server.log_text()
    );
    // The slot comes back when the call ends.
    wait_for(
        &server,
        "the slot released",
        Duration::from_secs(10),
        || trunk_status(&server, carrier)["calls"] == 0,
    );
    // The 503 came from the cap, not from the carrier: the second number never reached it.
    let carrier_log = read(dir.path(), "carrier.msg.log");
    assert!(
        carrier_log.contains("INVITE sip:+4722334455@")
            && !carrier_log.contains("INVITE sip:+4722334466@"),
        "{carrier_log}"
    );
}
