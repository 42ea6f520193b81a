//! Push wake-up (RFC 8599) end to end: a staff app (SIPp over TCP, push parameters in its Contact)
//! registers as 1001 and goes to sleep (its connection closes, and with it the binding); a citizen
//! (baresip through the demo trunk) calls a hunt group with 1001; the node sends a correctly signed
//! push through the FCM or APNs stand-in (tests/common/push_providers.rs), holds the branch while
//! the citizen hears ringback, and once the app registers again sends it the call there. The app
//! echoes the citizen's audio (`-rtp_echo`): the citizen hearing its own 1 kHz tone proves audio
//! both ways. Also: a token the provider calls unregistered is forgotten and the hunt moves on to
//! the next member, as it does when a woken app never registers within its ring time.
//! Runs in a private network namespace (baresip needs the veth address).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::audio::tone_quarters;
use common::baresip::{Baresip, KillOnDrop};
use common::push_providers::{self, Provider};
use common::{in_private_netns, metric, wait_until, Server, VETH_SETUP};
use serde_json::{json, Value};

const GROUP_NUMBER: &str = "+4764000900";
const SIP: &str = "10.200.0.1:5070";

/// A node in the namespace whose `[push]` section is `push_toml`, with a hunt group at
/// [`GROUP_NUMBER`] of `members` (sequential, `ring_time` each).
fn server(dir: &Path, push_toml: &str, members: &[&str], ring_time: u32) -> Server {
    let toml = format!("[push]\nwait_secs = 20\n{push_toml}");
    let server = Server::start(common::ServerOptions {
        sip: SIP,
        config_toml: Some(&toml),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    });
    let members: Vec<Value> = members.iter().map(|m| json!({ "username": m })).collect();
    let group = common::create(
        &server,
        "/api/v1/hunt-groups",
        &json!({
            "name": "Teknisk vakt", "strategy": "sequential", "ring_time_secs": ring_time,
            "timeout_secs": 60, "members": members,
        }),
    );
    common::create(
        &server,
        "/api/v1/numbers",
        &json!({
            "number": GROUP_NUMBER, "label": "Teknisk vakt", "target_kind": "hunt_group",
            "target_ref": group["id"].as_i64().expect("group id").to_string(),
        }),
    );
    server
}

/// The FCM stand-in and a node whose service account it accepts (see [`server`]).
fn fcm_node(dir: &Path, members: &[&str], ring_time: u32) -> (Provider, Server) {
    let (fcm, account) = push_providers::fcm(dir);
    let push_toml = format!(
        "fcm_service_account = \"{}\"\nfcm_url = \"http://{}\"\n",
        account.display(),
        fcm.addr
    );
    let node = server(dir, &push_toml, members, ring_time);
    (fcm, node)
}

/// The app (SIPp) as 1001 over TCP from `port`, with push parameters `pn`: registers, then answers
/// a call down that connection (its out-of-call scenario: the call has its own Call-ID), echoing
/// its audio.
fn app(dir: &Path, name: &str, pn: &str, port: u16) -> KillOnDrop {
    let scenario = common::phones::scenario(dir, "app_register.xml", &[("pn", pn)]);
    let child = Command::new("sipp")
        .arg(SIP)
        .arg("-sf")
        .arg(&scenario)
        .arg("-oocsf")
        .arg(common::sipp_dir().join("app_answer.xml"))
        .args(["-t", "t1", "-i", "10.200.0.1", "-p", &port.to_string()])
        .args(["-mi", "10.200.0.1", "-mp", &(port + 1000).to_string()])
        .args(["-rtp_echo", "-s", "1001", "-au", "1001", "-ap", "demo-1001"])
        .args([
            "-m",
            "1",
            "-nostdin",
            "-timeout",
            "90",
            "-trace_msg",
            "-trace_err",
        ])
        .arg("-message_file")
        .arg(dir.join(format!("{name}.msg.log")))
        .arg("-error_file")
        .arg(dir.join(format!("{name}.err.log")))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)");
    KillOnDrop(child)
}

fn app_bindings(server: &Server) -> usize {
    common::registrations(server)
        .iter()
        .filter(|r| r["aor"] == "1001")
        .count()
}

fn devices(server: &Server) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/users/1001/push-devices");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .expect("devices JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The app registers with `pn`, is listed as a push device, then sleeps (SIPp killed: its TCP
/// connection closes and its binding ends; the device stays).
fn app_goes_to_sleep(server: &Server, dir: &Path, pn: &str) {
    let mut first = app(dir, "app-first", pn, 16100);
    wait_until("the app's registration", Duration::from_secs(10), || {
        app_bindings(server) == 1
    });
    let listed = devices(server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    let _ = first.0.kill();
    let _ = first.0.wait();
    wait_until(
        "the binding to end with its connection",
        Duration::from_secs(10),
        || app_bindings(server) == 0,
    );
    assert_eq!(devices(server).len(), 1, "the device outlives its binding");
}

/// The citizen calls the group; the push arrives at `provider`; the app wakes (registers again)
/// and answers; the citizen hears itself through the app; the citizen hangs up.
fn woken_app_answers(server: &Server, dir: &Path, provider: &Provider, pn: &str) -> Value {
    let citizen = Baresip::start_citizen(dir, server);
    citizen.command("dial", &format!("sip:{GROUP_NUMBER}@{SIP}"));
    wait_until("the push", Duration::from_secs(15), || {
        !provider.pushes().is_empty()
    });
    let push = provider.pushes().remove(0);
    assert!(provider.refusals().is_empty(), "{:?}", provider.refusals());
    // Woken: the app registers from a new connection and gets the call there.
    let _woken = app(dir, "app-woken", pn, 16200);
    let answered = std::panic::catch_unwind(|| {
        common::wait_answered_by(server, "1001", Duration::from_secs(15))
    });
    assert!(
        answered.is_ok(),
        "the woken app answers:\n{}\napp: {}\n{}",
        server.log_text(),
        common::phones::read(dir, "app-woken.msg.log"),
        common::phones::read(dir, "app-woken.err.log"),
    );
    citizen.wait_heard(
        "the citizen's 1 kHz back through the woken app",
        Duration::from_secs(15),
        |a| tone_quarters(a, 1000.0) >= 4,
    );
    citizen.command("hangup", "");
    let cdr = &common::phones::closed_cdrs(server, 1)[0];
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    assert_eq!(cdr["target_kind"], "hunt_group", "{cdr}");
    assert_eq!(
        metric(server, "switchboard_calls_delivered_after_push_total"),
        1.0
    );
    assert_eq!(metric(server, "switchboard_pushes_sent_total"), 1.0);
    let listed = devices(server);
    assert_eq!(listed[0]["last_push_outcome"], "sent", "{listed:?}");
    assert!(listed[0]["last_push_at"].as_i64().is_some(), "{listed:?}");
    json!({ "body": push.body, "token": push.token, "topic": push.headers.get("apns-topic").and_then(|h| h.to_str().ok()) })
}

#[test]
fn an_app_asleep_is_woken_through_fcm_and_answers_the_hunt_groups_call() {
    if !in_private_netns(
        "an_app_asleep_is_woken_through_fcm_and_answers_the_hunt_groups_call",
        VETH_SETUP,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (fcm, server) = fcm_node(dir.path(), &["1001"], 30);
    let pn = "pn-provider=fcm;pn-prid=fcm-device-1;pn-param=muni-app";
    app_goes_to_sleep(&server, dir.path(), pn);
    let push = woken_app_answers(&server, dir.path(), &fcm, pn);
    assert_eq!(push["token"], "fcm-device-1", "{push}");
    let data = &push["body"]["message"]["data"];
    assert_eq!(data["type"], "incoming_call", "{push}");
    assert_eq!(data["user"], "1001", "{push}");
    assert_eq!(data["caller"], "4791234567", "{push}");
    assert!(
        data["call_id"].as_str().is_some_and(|c| !c.is_empty()),
        "{push}"
    );
    assert_eq!(
        push["body"]["message"]["android"]["priority"], "high",
        "{push}"
    );
    assert_eq!(
        fcm.access_tokens_issued(),
        1,
        "one OAuth2 exchange, then cached"
    );
}

#[test]
fn an_app_asleep_is_woken_through_apns_over_http2_and_answers() {
    if !in_private_netns(
        "an_app_asleep_is_woken_through_apns_over_http2_and_answers",
        VETH_SETUP,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (apns, key) = push_providers::apns(dir.path());
    let push_toml = format!(
        "apns_key = \"{}\"\napns_key_id = \"KEY1234567\"\napns_team_id = \"TEAM123456\"\n\
         apns_url = \"http://{}\"\n",
        key.display(),
        apns.addr
    );
    let server = server(dir.path(), &push_toml, &["1001"], 30);
    let token = "a1".repeat(32);
    let pn =
        format!("pn-provider=apns;pn-prid={token};pn-param=TEAM123456.no.kommune.switchboard.voip");
    app_goes_to_sleep(&server, dir.path(), &pn);
    let push = woken_app_answers(&server, dir.path(), &apns, &pn);
    assert_eq!(push["token"], token.as_str(), "{push}");
    assert_eq!(push["topic"], "no.kommune.switchboard.voip", "{push}");
    assert_eq!(push["body"]["caller"], "4791234567", "{push}");
    assert_eq!(push["body"]["user"], "1001", "{push}");
}

#[test]
fn a_refused_token_is_forgotten_and_an_app_that_never_wakes_lets_the_hunt_move_on() {
    if !in_private_netns(
        "a_refused_token_is_forgotten_and_an_app_that_never_wakes_lets_the_hunt_move_on",
        VETH_SETUP,
    ) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let (fcm, server) = fcm_node(dir.path(), &["1001", "1002"], 4);
    let _colleague = Baresip::start_colleague_1002(&dir.path().join("colleague"), &server);
    let citizen = Baresip::start_citizen(dir.path(), &server);

    // FCM calls this token unregistered: the device is forgotten, 1001's turn ends at once and
    // 1002 answers.
    app_goes_to_sleep(
        &server,
        dir.path(),
        "pn-provider=fcm;pn-prid=unregistered-token;pn-param=muni-app",
    );
    citizen.command("dial", &format!("sip:{GROUP_NUMBER}@{SIP}"));
    common::wait_answered_by(&server, "1002", Duration::from_secs(10));
    assert!(
        devices(&server).is_empty(),
        "the refused token is forgotten"
    );
    assert_eq!(
        metric(&server, "switchboard_push_invalid_tokens_total"),
        1.0
    );
    assert!(fcm.pushes().is_empty());
    citizen.command("hangup", "");
    let cdr = &common::phones::closed_cdrs(&server, 1)[0];
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");

    // A valid token, but the app never registers: the push goes out, and when 1001's ring time
    // (4 s) is over the hunt moves on to 1002.
    app_goes_to_sleep(
        &server,
        dir.path(),
        "pn-provider=fcm;pn-prid=fcm-device-2;pn-param=muni-app",
    );
    citizen.command("dial", &format!("sip:{GROUP_NUMBER}@{SIP}"));
    wait_until("the push", Duration::from_secs(10), || {
        !fcm.pushes().is_empty()
    });
    common::wait_answered_by(&server, "1002", Duration::from_secs(15));
    citizen.command("hangup", "");
    let cdr = &common::phones::closed_cdrs(&server, 2)[1];
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    assert_eq!(
        metric(&server, "switchboard_calls_delivered_after_push_total"),
        0.0
    );
    assert_eq!(devices(&server).len(), 1, "a valid token stays");
}
