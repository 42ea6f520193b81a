//! Calls from phones are challenged, end to end: the attack from the issue (a phone registers from
//! 127.0.0.5, then INVITEs to 22334455 and 112 arrive from that same address and port without
//! credentials) gets 407 and never reaches the trunk; the SIPp phone that answers the challenge
//! places its call through the trunk (SIPp as the carrier answers); the Proxy-Authorization SIPp sent
//! for it, replayed in a new call and in the same one, is refused. Everything stays on loopback:
//! 127.0.0.1 is the demo trunk's address, so the phone is 127.0.0.5.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::phones::{closed_cdrs, read, spawn_far_end, wait_exit};
use common::{metric, sipp, sipp_dir, Server, ServerOptions};

const PHONE_IP: &str = "127.0.0.5";
const PHONE_PORT: u16 = 15081;

/// An INVITE as a phone would send it, from the phone's own address, with `extra` headers.
fn invite(
    server: SocketAddr,
    to: &str,
    call_id: &str,
    branch: &str,
    cseq: u32,
    extra: &str,
) -> String {
    let sdp = format!(
        "v=0\r\no=phone 1 1 IN IP4 {PHONE_IP}\r\ns=-\r\nc=IN IP4 {PHONE_IP}\r\nt=0 0\r\nm=audio 17900 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    format!(
        "INVITE sip:{to}@{server} SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_IP}:{PHONE_PORT};rport;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:1001@{server}>;tag={branch}\r\nTo: <sip:{to}@{server}>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} INVITE\r\nContact: <sip:1001@{PHONE_IP}:{PHONE_PORT}>\r\n{extra}Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    )
}

/// Sends `request` from the phone's address and returns the first final response's status line.
fn final_status(socket: &UdpSocket, server: SocketAddr, request: &str) -> String {
    socket.send_to(request.as_bytes(), server).expect("send");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        let Ok((n, _)) = socket.recv_from(&mut buf) else {
            continue;
        };
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        let status = text.lines().next().unwrap_or("").to_string();
        if status.starts_with("SIP/2.0 1") {
            continue;
        }
        return status;
    }
    panic!("no final response to:\n{request}");
}

/// SIPp as phone 1001 (its credentials given) from the phone's address, one call of `scenario`.
fn as_phone(
    dir: &std::path::Path,
    server: &Server,
    scenario: &str,
    extra: &[&str],
) -> std::process::Output {
    let port = PHONE_PORT.to_string();
    let mut args = vec![
        "-au",
        "1001",
        "-ap",
        "demo-1001",
        "-m",
        "1",
        "-i",
        PHONE_IP,
        "-p",
        &port,
        "-timeout",
        "20",
    ];
    args.extend_from_slice(extra);
    sipp(dir, scenario, server.sip, &args)
}

#[test]
fn forged_and_replayed_invites_never_reach_the_trunk_and_answered_challenges_do() {
    let server = Server::start(ServerOptions::default());
    let dir = tempfile::tempdir().expect("temp dir");
    let carrier_file = sipp_dir().join("carrier_answer.xml");
    let mut carrier = spawn_far_end(dir.path(), "carrier", &carrier_file, (5090, 16950), 1);

    let out = as_phone(dir.path(), &server, "register_only.xml", &["-s", "1001"]);
    assert!(out.status.success(), "1001 registers: {out:?}");

    // The attacker: the registered phone's own address and port, no credentials.
    let attacker = UdpSocket::bind((PHONE_IP, PHONE_PORT)).expect("bind the phone's address");
    attacker
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    for (to, call_id) in [("22334455", "forged-national"), ("112", "forged-emergency")] {
        let status = final_status(
            &attacker,
            server.sip,
            &invite(server.sip, to, call_id, call_id, 1, ""),
        );
        assert_eq!(status, "SIP/2.0 407 Proxy Authentication Required", "{to}");
    }
    let (_, calls) = server.get("/api/v1/calls");
    assert!(
        !calls.contains("forged"),
        "no forged call in progress: {calls}"
    );
    drop(attacker);

    // The phone itself (SIPp, -au/-ap) answers the challenge and its call goes out.
    let out = as_phone(
        dir.path(),
        &server,
        "user_call_answered.xml",
        &["-s", "22334455", "-mp", "17950"],
    );
    let carrier_status = wait_exit(&mut carrier, Duration::from_secs(30)).expect("carrier done");
    assert!(
        out.status.success() && carrier_status.success(),
        "phone: {out:?}\ncarrier: {}",
        read(dir.path(), "carrier.err.log")
    );
    let phone_log = read(dir.path(), "user_call_answered.msg.log");
    let carrier_log = read(dir.path(), "carrier.msg.log");
    assert!(
        phone_log.contains("407 Proxy Authentication Required"),
        "{phone_log}"
    );
    // The carrier saw exactly one call: the answered challenge's, none of the forged ones (sent
    // before it on the same path).
    assert_eq!(
        carrier_log.matches("INVITE sip:").count(),
        1,
        "{carrier_log}"
    );
    assert!(
        carrier_log.contains("INVITE sip:+4722334455@127.0.0.1:5090"),
        "{carrier_log}"
    );
    let cdrs = closed_cdrs(&server, 1);
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0]["from_number"], "1001", "{cdrs:?}");

    // Replays of the credentials SIPp sent: on a new call, and on the same Call-ID again.
    let sent = phone_log
        .split("\n\n")
        .find(|m| m.contains("Proxy-Authorization:"))
        .expect("SIPp's INVITE with credentials");
    let authorization = sent
        .lines()
        .find(|l| l.trim_start().starts_with("Proxy-Authorization:"))
        .expect("the header")
        .trim()
        .to_string();
    let call_id = sent
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("Call-ID:"))
        .expect("Call-ID")
        .trim()
        .to_string();
    let replayer = UdpSocket::bind((PHONE_IP, 0)).expect("bind");
    replayer
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    let header = format!("{authorization}\r\n");
    for (call_id, branch) in [
        ("replayed-elsewhere", "replay1"),
        (call_id.as_str(), "replay2"),
    ] {
        let status = final_status(
            &replayer,
            server.sip,
            &invite(server.sip, "22334455", call_id, branch, 2, &header),
        );
        assert_eq!(
            status, "SIP/2.0 407 Proxy Authentication Required",
            "{call_id}"
        );
    }
    assert!(metric(&server, "switchboard_sip_replays_refused_total") >= 1.0);
    let (_, cdrs) = server.get("/api/v1/cdrs");
    let total: serde_json::Value = serde_json::from_str(&cdrs).expect("JSON");
    assert_eq!(total["total"], 1, "still only the one call: {cdrs}");
}
