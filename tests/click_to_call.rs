//! Click-to-call through the running binary: staff member 1003 asks from the app (their own login,
//! `POST /api/v1/me/calls`) to call a citizen's number; Switchboard rings 1003's baresip first (which
//! answers), then dials the number through the demo trunk, where SIPp answers as the carrier and
//! echoes the audio back (`-rtp_echo`). baresip hearing its own 600 Hz tone proves audio went both
//! ways through the relay. The carrier sees the main number as the caller; the call record and the
//! staff member's own history show the call.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::baresip::{Baresip, KillOnDrop, Phone};
use common::phones::{closed_cdrs, scenario_edited};
use common::{http_request_as, in_private_netns, staff_login, Server, ServerOptions, VETH_SETUP};
use switchboard_media::tone::tone_share;

#[test]
fn click_to_call_rings_the_staff_phone_then_the_number_and_both_hear_each_other() {
    if !in_private_netns(
        "click_to_call_rings_the_staff_phone_then_the_number_and_both_hear_each_other",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    });
    common::wait_trunks_active(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    // The carrier answers, echoes what it hears for five seconds, and hangs up.
    let carrier_sf = scenario_edited(
        dir,
        "carrier_answer.xml",
        &[(r#"milliseconds="2000""#, r#"milliseconds="5000""#)],
    );
    let mut carrier = KillOnDrop(
        Command::new("sipp")
            .arg("-sf")
            .arg(&carrier_sf)
            .args([
                "-i",
                "127.0.0.1",
                "-p",
                "5090",
                "-mi",
                "127.0.0.1",
                "-mp",
                "26700",
            ])
            .args(["-rtp_echo", "-m", "1", "-nostdin", "-timeout", "60"])
            .args(["-trace_msg", "-trace_err", "-message_file"])
            .arg(dir.join("carrier.msg.log"))
            .arg("-error_file")
            .arg(dir.join("carrier.err.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("sipp runs"),
    );
    common::wait_udp_listening(5090, Duration::from_secs(10));
    let baresip = Baresip::start(
        &dir.join("baresip"),
        &server,
        Phone {
            user: "1003",
            sip_port: 15060,
            ctrl_port: 4444,
            rtp_ports: (40000, 40100),
            tone_hz: 600,
            sip_trace: false,
            transport: "udp",
        },
    );
    let token = staff_login(&server, "1003", &["staff"]);
    let (status, body) = http_request_as(
        server.http,
        "POST",
        "/api/v1/me/calls",
        &token,
        Some(r#"{"to": "91234567", "caller_id": "main"}"#),
    );
    assert_eq!(status, 202, "{body}");

    // baresip auto-answers its ringing phone; then the carrier answers and echoes: baresip hears
    // its own tone come back.
    baresip.wait_heard(
        "1003 hearing its tone echoed by the carrier",
        Duration::from_secs(10),
        |audio| {
            let rate = f64::from(audio.rate);
            let half_second = (rate / 2.0) as usize;
            audio
                .samples
                .chunks(half_second)
                .any(|w| w.len() == half_second && tone_share(w, 600.0, rate) > 0.5)
        },
    );
    let status = carrier.0.wait().expect("carrier exits");
    let msgs = std::fs::read_to_string(dir.join("carrier.msg.log")).unwrap_or_default();
    assert!(status.success(), "carrier: {msgs}\n{}", server.log_text());
    assert!(
        msgs.contains("INVITE sip:+4791234567@127.0.0.1:5090")
            || msgs.contains("INVITE sip:91234567@127.0.0.1:5090"),
        "{msgs}"
    );
    assert!(
        msgs.contains("From: <sip:+4764000000@"),
        "the main number is shown: {msgs}"
    );

    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["direction"], "outbound", "{cdr}");
    assert_eq!(cdr["from_number"], "1003", "{cdr}");
    assert_eq!(cdr["to_number"], "91234567", "{cdr}");
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
    let (status, mine) = http_request_as(server.http, "GET", "/api/v1/me/calls", &token, None);
    assert_eq!(status, 200, "{mine}");
    let mine: serde_json::Value = serde_json::from_str(&mine).expect("JSON");
    assert_eq!(mine["calls"][0]["kind"], "outgoing", "{mine}");

    // A number 1003 may not call is refused before anything rings.
    let (status, body) = http_request_as(
        server.http,
        "POST",
        "/api/v1/me/calls",
        &token,
        Some(r#"{"to": "004646000000"}"#),
    );
    assert_eq!(status, 403, "{body}");
}
