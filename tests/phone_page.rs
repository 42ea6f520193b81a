//! The browser softphone page (`/phone`) used as a staff member would: sign in with extension and
//! SIP password, see who is calling, answer, hold and resume, hang up — driven through the page's
//! own fields and buttons in headless Chromium. A colleague's SIP phone (baresip) calls; audio is
//! checked both ways. A screenshot of the page in the call is kept beside the test's files.

mod common;

use std::time::Duration;

use common::audio::tone_quarters;
use common::baresip::Baresip;
use common::browser::BrowserPhone;
use common::{in_private_netns, VETH_SETUP};

#[test]
fn a_colleague_calls_the_softphone_page_and_it_answers_holds_and_hangs_up() {
    if !in_private_netns(
        "a_colleague_calls_the_softphone_page_and_it_answers_holds_and_hangs_up",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let (_, config) = server.get("/phone/config.json");
    assert_eq!(config, r#"{"websocket":"wss://10.200.0.1:7443"}"#);
    let dir = tempfile::tempdir().expect("temp dir");
    let tone = dir.path().join("microphone.wav");
    common::audio::write_pcm_tone_wav(&tone, 600.0, 30.0);
    let screenshot = std::env::temp_dir().join("switchboard-phone-page.png");
    let mut page = BrowserPhone::open_phone_page(
        server.http,
        &dir.path().join("page.log"),
        Some(&tone),
        &screenshot,
    );
    let log = || std::fs::read_to_string(dir.path().join("page.log")).unwrap_or_default();
    sign_in_as_1001(&mut page, &log);

    let mut colleague = Baresip::start_colleague_1002(&dir.path().join("colleague"), &server);
    colleague.command("dial", "sip:1001@10.200.0.1:5070");
    page.command("wait-incoming");
    let incoming = page.wait_report("the incoming call", Duration::from_secs(30), |r| {
        r.get("incoming").is_some() || r.get("error").is_some()
    });
    assert_eq!(incoming["incoming"], "1002", "{incoming}\n{}", log());
    page.command("click answer");
    page.command("wait-status I samtale");
    let status = page.wait_report("in the call", Duration::from_secs(20), |r| {
        r.get("status").is_some() || r.get("error").is_some()
    });
    assert!(status.get("error").is_none(), "{status}\n{}", log());
    common::wait_answered_by(&server, "1001", Duration::from_secs(5));
    colleague.wait_heard(
        "the page's microphone at the colleague",
        Duration::from_secs(15),
        |a| tone_quarters(a, 600.0) >= 4,
    );
    page.command("listen 1000 3000");
    let heard = page.wait_report("listening", Duration::from_secs(10), |r| {
        r.get("heard").is_some()
    });
    assert!(
        heard["heard"]["share"].as_f64().unwrap_or(0.0) > 0.5
            && heard["heard"]["samples"].as_u64().unwrap_or(0) >= 12_000,
        "the colleague's 1 kHz in the page: {heard}"
    );

    // Hold and resume from the page's button: the call shows held, then not.
    page.command("click hold");
    common::wait_on_hold(&server, true, Duration::from_secs(10));
    page.command("click hold");
    common::wait_on_hold(&server, false, Duration::from_secs(10));

    page.command("click hangup");
    page.command("wait-status avsluttet");
    page.wait_report("the call over", Duration::from_secs(10), |r| {
        r.get("status")
            .is_some_and(|s| s.as_str().is_some_and(|s| s.contains("avsluttet")))
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    assert_eq!(cdr["hangup_side"], "callee", "{cdr}");
    page.close();
    colleague.stop();
}

/// A citizen calls the switchboard's public number (+4764000001, the hunt group "Sentralbord"):
/// the ringing page shows the citizen's number and what the call came through — the hunt group's
/// name and the number dialled — and the staff member declines from the page.
#[test]
fn the_page_shows_which_number_and_group_a_citizen_called() {
    if !in_private_netns(
        "the_page_shows_which_number_and_group_a_citizen_called",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let screenshot = std::env::temp_dir().join("switchboard-phone-page-incoming.png");
    let mut page =
        BrowserPhone::open_phone_page(server.http, &dir.path().join("page.log"), None, &screenshot);
    let log = || std::fs::read_to_string(dir.path().join("page.log")).unwrap_or_default();
    sign_in_as_1001(&mut page, &log);
    let mut citizen = Baresip::start_citizen(dir.path(), &server);
    citizen.command("dial", "sip:+4764000001@10.200.0.1:5070");
    page.command("wait-incoming");
    let incoming = page.wait_report("the incoming call", Duration::from_secs(30), |r| {
        r.get("incoming").is_some() || r.get("error").is_some()
    });
    assert_eq!(incoming["incoming"], "4791234567", "{incoming}\n{}", log());
    assert_eq!(
        incoming["via"],
        "via Sentralbord · +4764000001",
        "{incoming}\n{}",
        log()
    );
    page.command("click decline");
    page.wait_report("declined", Duration::from_secs(5), |r| {
        r.get("clicked").is_some()
    });
    // The only member with a phone declined: the hunt ends and the citizen's call with it.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert!(cdr["answered_by"].is_null(), "{cdr}");
    page.close();
    citizen.stop();
}

/// Signs in on the page as 1001 with its SIP password, through the page's form, and waits until it
/// says it is registered.
fn sign_in_as_1001(page: &mut BrowserPhone, log: &dyn Fn() -> String) {
    page.command("login 1001 demo-1001");
    let status = page.wait_report("signing in", Duration::from_secs(30), |r| {
        r.get("status").is_some() || r.get("error").is_some()
    });
    assert!(
        status["status"]
            .as_str()
            .is_some_and(|s| s.contains("Registrert")),
        "{status}\n{}",
        log()
    );
}
