//! Calls through the running binary (B2BUA with media anchored in the relay) against real peers:
//! SIPp plays the carrier, baresip is a registered staff member. A tone SIPp streams in must come out
//! of baresip's decoder at the same frequency — media crossed the relay, not just signalling.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::audio::write_tone_wav;
use common::baresip::{Baresip, Phone};
use common::phones::{scenario, spawn_far_end};
use common::{in_private_netns, registrations, Server, ServerOptions, VETH_SETUP};
use switchboard_media::tone::tone_share;

/// The newest call record once it is closed (the CDR is written just after the BYE).
fn wait_for_closed_cdr(server: &Server) -> serde_json::Value {
    common::phones::closed_cdrs(server, 1).remove(0)
}

/// Tests that play the demo trunk's far end on 127.0.0.1:5090 outside a private namespace take turns.
static TRUNK_PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// baresip registered as 1001 (inside the test's namespace) dials `number` through its control
/// socket, as a staff member would.
fn baresip_1001_dials(dir: &Path, server: &Server, number: &str) -> Baresip {
    let baresip = Baresip::start(&dir.join("baresip"), server, phone("1001", 15060, "udp"));
    baresip.command("dial", &format!("sip:{number}@10.200.0.1:5070"));
    baresip
}

/// A demo user's baresip on this test's veth address, sending a 600 Hz sine.
fn phone<'a>(user: &'a str, sip_port: u16, transport: &'a str) -> Phone<'a> {
    Phone {
        user,
        sip_port,
        ctrl_port: 4444,
        rtp_ports: (40000, 40100),
        tone_hz: 600,
        sip_trace: false,
        transport,
    }
}

/// Runs SIPp with a scenario file (a filled-in copy) against `target`; logs land in `dir`.
fn sipp_file(
    dir: &Path,
    file: &Path,
    target: std::net::SocketAddr,
    extra: &[&str],
) -> std::process::Output {
    let name = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    Command::new("sipp")
        .arg(target.to_string())
        .arg("-sf")
        .arg(file)
        .args(["-nostdin", "-trace_err", "-error_file"])
        .arg(dir.join(format!("{name}.err.log")))
        .args(extra)
        .output()
        .expect("sipp runs (apt-get install sip-tester)")
}

#[test]
fn a_carrier_call_reaches_baresip_with_its_audio() {
    carrier_call_reaches_baresip(
        "a_carrier_call_reaches_baresip_with_its_audio",
        "1002",
        "udp",
        ("user", Some("1002")),
    );
}

/// SIPp (the carrier) calls `dialled`; baresip, registered as 1002, answers; the tone SIPp sends must
/// be what baresip decodes. `routed_to`: the target kind (and reference, when known) the call's
/// record must name.
fn carrier_call_reaches_baresip(
    test: &str,
    dialled: &str,
    transport: &str,
    routed_to: (&str, Option<&str>),
) {
    if !in_private_netns(test, VETH_SETUP) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut baresip = Baresip::start(
        &dir.path().join("b"),
        &server,
        phone("1002", 15060, transport),
    );
    let registered_over = registrations(&server)
        .iter()
        .find(|r| r["aor"] == "1002")
        .and_then(|r| r["transport"].as_str().map(str::to_ascii_lowercase));
    assert_eq!(registered_over.as_deref(), Some(transport));

    let tone = dir.path().join("tone.wav");
    write_tone_wav(&tone, 1000.0, 4.0);
    let sf = scenario(
        dir.path(),
        "call_user.xml",
        &[("tone", &tone.to_string_lossy()), ("talk_ms", "4000")],
    );
    let out = sipp_file(
        dir.path(),
        &sf,
        server.sip,
        &[
            "-s",
            dialled,
            "-m",
            "1",
            // From the demo trunk's address (127.0.0.1/32): other sources get 403.
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
            "-mp",
            "16000",
            "-timeout",
            "30",
        ],
    );
    baresip.stop();
    let sipp_errors =
        std::fs::read_to_string(dir.path().join("call_user.err.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "SIPp's call failed: {sipp_errors}\nserver: {}\nbaresip: {}",
        server.log_text(),
        baresip.log()
    );
    // The call's record: where it was routed, who answered, who hung up and how, and the relay's
    // packet counts per leg.
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(cdr["target_kind"], routed_to.0, "{cdr}");
    if let Some(target) = routed_to.1 {
        assert_eq!(cdr["target_ref"], target, "{cdr}");
    }
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    assert_eq!(cdr["hangup_cause"], "BYE", "{cdr}");
    assert_eq!(cdr["hangup_side"], "caller", "{cdr}");
    assert_eq!(cdr["direction"], "inbound", "{cdr}");
    let media = &cdr["media"];
    let packets_in: Vec<u64> = media
        .as_array()
        .map(|legs| {
            legs.iter()
                .filter_map(|l| l["packets_in"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(packets_in.len(), 2, "both legs counted: {cdr}");
    assert!(
        packets_in.iter().all(|&p| p >= 100),
        "≥ 2 s of audio each way: {media}"
    );

    // baresip's sndfile module writes what it decoded from the call.
    let audio = baresip.decoded();
    let rate = f64::from(audio.rate);
    let samples = &audio.samples;
    assert!(
        samples.len() as f64 >= rate * 2.0,
        "{} samples at {rate}",
        samples.len()
    );
    // One second from the middle of the call.
    let mid = samples.len() / 2;
    let window = &samples[mid - audio.rate as usize / 2..mid + audio.rate as usize / 2];
    let at_tone = tone_share(window, 1000.0, rate);
    assert!(
        at_tone > 0.7,
        "1 kHz share in what baresip heard: {at_tone}"
    );
    assert!(
        tone_share(window, 600.0, rate) < 0.05,
        "baresip's own tone must not loop back"
    );
}

#[test]
fn a_carrier_call_reaches_a_phone_registered_over_tcp() {
    // The INVITE goes down the phone's own TCP connection (the one it registered on).
    carrier_call_reaches_baresip(
        "a_carrier_call_reaches_a_phone_registered_over_tcp",
        "1002",
        "tcp",
        ("user", Some("1002")),
    );
}

#[test]
fn calls_to_unknown_and_unregistered_users_fail_cleanly() {
    let server = Server::start(ServerOptions {
        demo: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    for (user, status) in [("4242", "404"), ("1003", "480")] {
        let sf = scenario(dir.path(), "call_expect_status.xml", &[("status", status)]);
        let out = sipp_file(
            dir.path(),
            &sf,
            server.sip,
            &["-s", user, "-m", "1", "-i", "127.0.0.1", "-timeout", "15"],
        );
        let errors = std::fs::read_to_string(dir.path().join("call_expect_status.err.log"))
            .unwrap_or_default();
        assert!(
            out.status.success(),
            "call to {user} expecting {status}: {errors}"
        );
    }
}

#[test]
fn the_switchboard_number_rings_the_hunt_group_and_a_registered_member_answers() {
    // Demo: +4764000001 → hunt group "Sentralbord" (1001 and 1002, ring all; the main number's menu
    // leads there with 0). Only 1002 is registered (baresip), so 1001 fails at once and 1002 takes
    // the call, with its audio.
    carrier_call_reaches_baresip(
        "the_switchboard_number_rings_the_hunt_group_and_a_registered_member_answers",
        "+4764000001",
        "udp",
        ("hunt_group", None),
    );
}

#[test]
fn a_staff_member_calls_a_national_number_through_the_trunk() {
    // The carrier sees the municipality's main number (1001's default), not the extension.
    staff_call_out(
        "a_staff_member_calls_a_national_number_through_the_trunk",
        "22334455",
        "+4764000000",
    );
}

#[test]
fn a_dialling_prefix_presents_the_callers_direct_number_on_one_call() {
    // *81 asks for the user's own direct number on this call only (the default stays main).
    staff_call_out(
        "a_dialling_prefix_presents_the_callers_direct_number_on_one_call",
        "*8122334455",
        "+4764000123",
    );
}

/// baresip as 1001 dials `dialled`; SIPp as the carrier answers on the demo trunk and must see
/// `presented` as the caller. 1001 has the direct number +4764000123 (its default is still main).
fn staff_call_out(test: &str, dialled: &str, presented: &str) {
    if !in_private_netns(test, VETH_SETUP) {
        return;
    }
    // The demo trunk "carrier" is 127.0.0.1:5090: SIPp answers there as the carrier.
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    });
    let (status, body) = common::http_request(
        server.http,
        "PUT",
        "/api/v1/users/1001/call-settings",
        Some(r#"{"direct_number":"+4764000123","caller_id_default":"main"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut carrier = spawn_far_end(
        dir.path(),
        "carrier",
        &common::sipp_dir().join("carrier_answer.xml"),
        (5090, 16100),
        1,
    );
    let baresip = baresip_1001_dials(dir.path(), &server, dialled);
    let status = carrier.0.wait().expect("carrier sipp exits");
    let msgs = std::fs::read_to_string(dir.path().join("carrier.msg.log")).unwrap_or_default();
    let errors = std::fs::read_to_string(dir.path().join("carrier.err.log")).unwrap_or_default();
    let baresip_log = baresip.log();
    assert!(
        status.success(),
        "carrier: {errors}\n{msgs}\nserver: {}\nbaresip: {baresip_log}",
        server.log_text()
    );
    assert!(
        msgs.contains("INVITE sip:+4722334455@127.0.0.1:5090"),
        "{msgs}"
    );
    assert!(msgs.contains(&format!("From: <sip:{presented}@")), "{msgs}");
    assert!(
        msgs.contains(&format!("P-Asserted-Identity: <sip:{presented}@")),
        "{msgs}"
    );
    // The record is closed (and the end logged) just after the carrier's BYE.
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(cdr["direction"], "outbound", "{cdr}");
    assert_eq!(cdr["from_number"], "1001", "{cdr}");
    assert_eq!(cdr["to_number"], dialled, "{cdr}");
    assert_eq!(cdr["hangup_side"], "callee", "the carrier hung up: {cdr}");
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
}

#[test]
fn a_cellular_leg_is_connected_only_after_pressing_1() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    // Demo: +4764000100 → "Helse" (1003, 1004, 1005 in turn). None is registered, so the hunt reaches
    // 1005's mobile (+47900001005) through the demo trunk at once; SIPp plays that mobile and
    // presses 1 after the question; only then is the caller connected.
    let server = Server::start(ServerOptions {
        demo: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mobile_sf = scenario(
        dir.path(),
        "carrier_confirm.xml",
        &[("dtmf_pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap")],
    );
    let mut mobile = spawn_far_end(dir.path(), "mobile", &mobile_sf, (5090, 16200), 1);
    let tone = dir.path().join("tone.wav");
    write_tone_wav(&tone, 1000.0, 8.0);
    let sf = scenario(
        dir.path(),
        "call_user.xml",
        &[("tone", &tone.to_string_lossy()), ("talk_ms", "4000")],
    );
    let out = sipp_file(
        dir.path(),
        &sf,
        server.sip,
        &[
            "-s",
            "+4764000100",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "23071",
            "-mp",
            "23300",
            "-timeout",
            "40",
        ],
    );
    let caller_errors =
        std::fs::read_to_string(dir.path().join("call_user.err.log")).unwrap_or_default();
    let status = mobile.0.wait().expect("mobile sipp exits");
    let msgs = std::fs::read_to_string(dir.path().join("mobile.msg.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "caller: {caller_errors}\n{}",
        server.log_text()
    );
    assert!(status.success(), "mobile: {msgs}");
    assert!(
        msgs.contains("INVITE sip:+47900001005@127.0.0.1:5090"),
        "{msgs}"
    );
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(cdr["answered_by"], "1005/cellular", "{cdr}");
}

#[test]
fn a_cellular_leg_that_presses_another_key_is_released_and_the_hunt_moves_on() {
    // As above, but the mobile presses 2 (a voicemail or a wrong key): that leg is hung up, nobody is
    // left in "Helse", and the caller hears 480.
    cellular_leg_not_confirmed("/usr/share/sip-tester/dtmf_2833_2.pcap");
}

#[test]
fn a_cellular_leg_that_presses_no_key_is_released_after_the_confirmation_time() {
    // The mobile answers and sends only audio (a voicemail greeting, a person who does not press):
    // after 15 s the leg is hung up and the hunt moves on (nobody is left: 480).
    // (The 15 s confirmation time itself is tested in simulated time: call-control's scenarios.)
    cellular_leg_not_confirmed("/usr/share/sip-tester/g711a.pcap");
}

/// A call to "Helse" whose cellular leg (1005's mobile, SIPp on the demo trunk) answers and plays
/// `pcap` instead of pressing 1; the leg is declined (603 in the record) and the caller gets 480.
fn cellular_leg_not_confirmed(pcap: &str) {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(ServerOptions {
        demo: true,
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mobile_sf = scenario(dir.path(), "carrier_confirm.xml", &[("dtmf_pcap", pcap)]);
    let mut mobile = spawn_far_end(dir.path(), "mobile", &mobile_sf, (5090, 16300), 1);
    let sf = scenario(dir.path(), "call_expect_status.xml", &[("status", "480")]);
    let out = sipp_file(
        dir.path(),
        &sf,
        server.sip,
        &[
            "-s",
            "+4764000100",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "23081",
            "-timeout",
            "40",
        ],
    );
    let caller_errors =
        std::fs::read_to_string(dir.path().join("call_expect_status.err.log")).unwrap_or_default();
    let status = mobile.0.wait().expect("mobile sipp exits");
    let mobile_errors =
        std::fs::read_to_string(dir.path().join("mobile.err.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "caller: {caller_errors}\n{}",
        server.log_text()
    );
    assert!(
        status.success(),
        "the mobile leg was hung up: {mobile_errors}"
    );
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(
        common::phones::leg_statuses(&cdr, "1005/cellular"),
        vec![603],
        "the mobile answered and was declined: {cdr}"
    );
    assert!(cdr["answered_by"].is_null(), "{cdr}");
    assert_eq!(cdr["hangup_cause"], "480", "{cdr}");
}

#[test]
fn a_call_out_fails_over_to_the_next_trunk_when_the_first_answers_503() {
    if !in_private_netns(
        "a_call_out_fails_over_to_the_next_trunk_when_the_first_answers_503",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    });
    // A second carrier behind the demo's, added at runtime through the admin API.
    let (status, body) = common::http_request(
        server.http,
        "POST",
        "/api/v1/trunks",
        Some(r#"{"name":"backup","host":"127.0.0.1","port":5091,"priority":200}"#),
    );
    assert!(status == 201 || status == 200, "{status} {body}");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut primary = spawn_far_end(
        dir.path(),
        "primary",
        &common::sipp_dir().join("carrier_unavailable.xml"),
        (5090, 16400),
        1,
    );
    let mut backup = spawn_far_end(
        dir.path(),
        "backup",
        &common::sipp_dir().join("carrier_answer.xml"),
        (5091, 16500),
        1,
    );
    let _baresip = baresip_1001_dials(dir.path(), &server, "22334455");
    let backup_status = backup.0.wait().expect("backup carrier exits");
    let primary_status = primary.0.wait().expect("primary carrier exits");
    let log = |name: &str| {
        std::fs::read_to_string(dir.path().join(format!("{name}.msg.log"))).unwrap_or_default()
    };
    assert!(primary_status.success(), "primary: {}", log("primary"));
    assert!(
        backup_status.success(),
        "backup: {}\n{}",
        log("backup"),
        server.log_text()
    );
    assert!(log("backup").contains("INVITE sip:+4722334455@127.0.0.1:5091"));
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(cdr["answered_by"], "backup", "{cdr}");
    let legs = cdr["legs"].to_string();
    assert!(
        legs.contains("\"carrier\"") && legs.contains("503"),
        "{legs}"
    );
    // The failover is in the record: the backup's branch is the one answered.
    assert_eq!(
        common::phones::leg_statuses(&cdr, "backup"),
        vec![200],
        "{cdr}"
    );
}

#[test]
fn a_carrier_asking_us_to_refresh_its_session_gets_our_update_in_time() {
    // RFC 4028 with refresher=uas at the shortest interval allowed (90 s): SIPp as the carrier calls
    // 1001 (a SIPp phone) and waits at most 50 s for our refresh, which is due at half the
    // interval. Nobody sends RTP, so the relay's media timeout is raised past the test.
    let server = Server::start(ServerOptions {
        config_toml: Some("[media]\ntimeout_secs = 300\n"),
        ..Default::default()
    });
    common::wait_trunks_active(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    let phone = common::phones::Phone {
        user: "1001",
        sip_port: 17520,
        media_port: 18520,
    };
    common::phones::register(&server, &phone);
    let mut answering = spawn_far_end(
        dir.path(),
        "1001",
        &common::sipp_dir().join("phone_answer.xml"),
        (phone.sip_port, phone.media_port),
        1,
    );
    let out = sipp_file(
        dir.path(),
        &common::sipp_dir().join("carrier_session_refresh.xml"),
        server.sip,
        &[
            "-s",
            "1001",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "23091",
            "-mp",
            "23400",
            "-timeout",
            "80",
        ],
    );
    let read = |f: &str| common::phones::read(dir.path(), f);
    assert!(
        out.status.success(),
        "carrier: {}\nphone: {}\nserver: {}",
        read("carrier_session_refresh.err.log"),
        read("1001.err.log"),
        server.log_text()
    );
    let status = common::phones::wait_exit(&mut answering, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "the phone got the carrier's BYE: {}",
        read("1001.err.log")
    );
    let cdr = wait_for_closed_cdr(&server);
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    assert_eq!(
        cdr["hangup_side"], "caller",
        "the carrier hung up, not a timer: {cdr}"
    );
    // (The carrier's scenario fails unless our UPDATE comes within its 50 s.)
}

#[test]
fn two_mobiles_answering_at_once_are_both_asked_and_the_first_to_press_1_is_connected() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    // A ring-all group of 1003 and 1004, neither registered, both rung on their mobile at once
    // through the demo trunk. One SIPp plays both mobiles: each answers, hears the question on a
    // relay leg of its own and presses 1; the first is connected, the other hung up.
    let server = Server::start(ServerOptions {
        demo: true,
        ..Default::default()
    });
    common::wait_trunks_active(&server);
    for user in ["1003", "1004"] {
        let (status, body) = common::http_request(
            server.http,
            "PUT",
            &format!("/api/v1/users/{user}/call-settings"),
            Some(r#"{"ring_cellular": true, "cellular_delay_secs": 0, "confirm_cellular": true}"#),
        );
        assert_eq!(status, 200, "{body}");
    }
    let spec = serde_json::json!({
        "name": "Mobiler", "strategy": "ring_all", "ring_time_secs": 20, "timeout_secs": 30,
        "confirm_cellular": true,
        "members": [{"username": "1003"}, {"username": "1004"}],
    });
    let (status, body) = common::http_request(
        server.http,
        "POST",
        "/api/v1/hunt-groups",
        Some(&spec.to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let group: serde_json::Value = serde_json::from_str(&body).expect("group");
    let number = serde_json::json!({
        "number": "+4764000901", "label": "mobiles", "target_kind": "hunt_group",
        "target_ref": group["id"].as_i64().expect("id").to_string(),
    });
    let (status, body) = common::http_request(
        server.http,
        "POST",
        "/api/v1/numbers",
        Some(&number.to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let dir = tempfile::tempdir().expect("temp dir");
    let mobile_sf = scenario(
        dir.path(),
        "carrier_confirm.xml",
        &[("dtmf_pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap")],
    );
    let mut mobiles = spawn_far_end(dir.path(), "mobiles", &mobile_sf, (5090, 16500), 2);
    let tone = dir.path().join("tone.wav");
    write_tone_wav(&tone, 1000.0, 8.0);
    let sf = scenario(
        dir.path(),
        "call_user.xml",
        &[("tone", &tone.to_string_lossy()), ("talk_ms", "4000")],
    );
    let out = sipp_file(
        dir.path(),
        &sf,
        server.sip,
        &[
            "-s",
            "+4764000901",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            "23093",
            "-mp",
            "23500",
            "-timeout",
            "40",
        ],
    );
    let read = |f: &str| common::phones::read(dir.path(), f);
    let status = common::phones::wait_exit(&mut mobiles, Duration::from_secs(20));
    let msgs = read("mobiles.msg.log");
    assert!(
        out.status.success(),
        "caller: {}\nmobiles: {msgs}\n{}",
        read("call_user.err.log"),
        server.log_text()
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "both mobiles' calls ended with our BYE: {}\n{msgs}",
        read("mobiles.err.log")
    );
    for mobile in ["+47900001003", "+47900001004"] {
        assert!(msgs.contains(&format!("INVITE sip:{mobile}@")), "{msgs}");
    }
    let cdr = wait_for_closed_cdr(&server);
    let winner = cdr["answered_by"].as_str().unwrap_or_default().to_string();
    let loser = match winner.as_str() {
        "1003/cellular" => "1004/cellular",
        "1004/cellular" => "1003/cellular",
        other => panic!("answered by {other:?}: {cdr}"),
    };
    assert_eq!(
        common::phones::leg_statuses(&cdr, &winner),
        vec![200],
        "{cdr}"
    );
    assert_eq!(
        common::phones::leg_statuses(&cdr, loser),
        vec![487],
        "the other mobile was answered, then let go: {cdr}"
    );
}
