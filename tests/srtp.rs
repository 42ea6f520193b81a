//! SRTP with SDES keys (RFC 4568) against a real phone: baresip's `srtp` module, registered over TLS
//! with `mediaenc=srtp-mand` (RTP/SAVP only), talks to a carrier on plain RTP through the relay. Each
//! side must decode the other's tone, and a capture of the wire must show the carrier's leg in clear
//! G.711 and the phone's leg with none.

mod common;

use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;

use common::audio::tone_quarters;
use common::baresip::{Baresip, Phone};
use common::capture::{Capture, Datagram};
use common::{in_private_netns, Server, ServerOptions, VETH_SETUP};
use switchboard_media::g711;
use switchboard_media::tone::tone_share;

const STAFF_RTP: RangeInclusive<u16> = 40000..=40100;
const CARRIER_RTP: RangeInclusive<u16> = 40400..=40500;

fn phone<'a>(
    user: &'a str,
    sip_port: u16,
    ctrl_port: u16,
    rtp: u16,
    tone_hz: u32,
    transport: &'a str,
) -> Phone<'a> {
    Phone {
        user,
        sip_port,
        ctrl_port,
        rtp_ports: (rtp, rtp + 100),
        tone_hz,
        sip_trace: false,
        transport,
    }
}

/// A node with a TLS listener for phones and the demo trunk pointed at the carrier's UDP port
/// (15080), taking calls from `call_sources` (CIDRs).
fn server_with_tls_and_carrier(dir: &Path, call_sources: &str) -> Server {
    let (cert, key) = common::tls::self_signed(dir);
    let toml = format!(
        "[sip]\ntls_listen = \"10.200.0.1:5071\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    });
    let body = format!(
        r#"{{"name":"carrier","host":"10.200.0.1","port":15080,"transport":"udp","inbound_sources":["{call_sources}"]}}"#
    );
    common::point_demo_trunk(&server, &body, "10.200.0.1:15080");
    server
}

/// The μ-law audio of the RTP packets sent from or to `ports` (the first 160 payload bytes after the
/// fixed header of each, whether or not it is encrypted), split by direction: (sent by the
/// peer on those ports, sent to it), and the sizes of the packets seen.
fn audio_of(
    datagrams: &[Datagram],
    ports: &RangeInclusive<u16>,
) -> (Vec<i16>, Vec<i16>, Vec<usize>) {
    let (mut from, mut to, mut sizes) = (Vec::new(), Vec::new(), Vec::new());
    for d in datagrams {
        let rtp = d.payload.len() >= 172 && d.payload[0] >> 6 == 2 && d.payload[1] & 0x7f == 0;
        if !rtp {
            continue;
        }
        let samples = d.payload[12..172].iter().map(|&b| g711::ulaw_decode(b));
        if ports.contains(&d.src_port) {
            from.extend(samples);
            sizes.push(d.payload.len());
        } else if ports.contains(&d.dst_port) {
            to.extend(samples);
            sizes.push(d.payload.len());
        }
    }
    (from, to, sizes)
}

/// The TLS phone's leg (its RTP ports) carried at least half a second each way, as SRTP: every
/// packet 160 bytes of payload plus a tag (4 or 10 bytes), and neither tone (`(sent, received)` by
/// the phone) audible in what crossed the wire.
fn assert_encrypted(datagrams: &[Datagram], (sent_hz, got_hz): (f64, f64), logs: &str) {
    let (sent, got, sizes) = audio_of(datagrams, &STAFF_RTP);
    assert!(
        sent.len() >= 4000 && got.len() >= 4000,
        "half a second of RTP each way on the TLS leg: {} and {} samples\n{logs}",
        sent.len(),
        got.len(),
    );
    let (heard_sent, heard_got) = (share(&sent, sent_hz), share(&got, got_hz));
    assert!(
        heard_sent < 0.05 && heard_got < 0.05,
        "tones on the TLS leg: {heard_sent} {heard_got}\n{logs}"
    );
    assert!(
        sizes.iter().all(|&s| s == 176 || s == 182),
        "packet sizes {sizes:?}"
    );
}

fn share(samples: &[i16], hz: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    tone_share(samples, hz, 8000.0)
}

#[test]
fn an_srtp_phone_on_tls_calls_out_to_a_plain_rtp_carrier() {
    if !in_private_netns(
        "an_srtp_phone_on_tls_calls_out_to_a_plain_rtp_carrier",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    // Calls from the phones' address are staff calls, not the carrier's.
    let server = server_with_tls_and_carrier(server_dir.path(), "127.0.0.1/32");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut carrier = Baresip::start_carrier(
        &dir.path().join("carrier"),
        phone(
            "+4722334455",
            15080,
            4446,
            *CARRIER_RTP.start(),
            1000,
            "udp",
        ),
        None,
    );
    common::wait_udp_listening(15080, Duration::from_secs(10));
    // Both relay legs' traffic crosses loopback (every address here is 10.200.0.1).
    let capture = Capture::start(
        dir.path(),
        "lo",
        &format!(
            "udp and (portrange {}-{} or portrange {}-{})",
            STAFF_RTP.start(),
            STAFF_RTP.end(),
            CARRIER_RTP.start(),
            CARRIER_RTP.end()
        ),
    );
    let mut staff = Baresip::start_with_media_encryption(
        &dir.path().join("staff"),
        &server,
        phone("1001", 15060, 4444, *STAFF_RTP.start(), 600, "tls"),
        Some("srtp-mand"),
    );
    staff.command("dial", "sip:22334455@10.200.0.1:5071");
    common::wait_answered_by(&server, "carrier", Duration::from_secs(5));
    carrier.wait_heard(
        "the staff's 600 Hz at the carrier",
        Duration::from_secs(10),
        |a| tone_quarters(a, 600.0) >= 4,
    );
    staff.wait_heard(
        "the carrier's 1 kHz at the staff",
        Duration::from_secs(10),
        |a| tone_quarters(a, 1000.0) >= 4,
    );
    staff.command("hangup", "");
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
    let datagrams = capture.finish();
    staff.stop();
    carrier.stop();
    let logs = format!(
        "server: {}\nstaff: {}\ncarrier: {}",
        server.log_text(),
        staff.log(),
        carrier.log()
    );

    // The carrier's leg is plain G.711: both tones are there for anyone to hear.
    let (carrier_sent, carrier_got, _) = audio_of(&datagrams, &CARRIER_RTP);
    assert!(
        share(&carrier_sent, 1000.0) > 0.5,
        "carrier's tone in clear: {}",
        share(&carrier_sent, 1000.0)
    );
    assert!(
        share(&carrier_got, 600.0) > 0.5,
        "staff's tone in clear on the trunk leg: {}",
        share(&carrier_got, 600.0)
    );
    // The phone's leg carries the same audio, and none of it can be heard on the wire.
    assert_encrypted(&datagrams, (600.0, 1000.0), &logs);
}

#[test]
fn a_citizen_reaches_a_phone_that_requires_srtp() {
    if !in_private_netns("a_citizen_reaches_a_phone_that_requires_srtp", VETH_SETUP) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = server_with_tls_and_carrier(server_dir.path(), "10.200.0.1/32");
    // The administrator requires SRTP for 1001.
    let (status, body) = common::http_request(
        server.http,
        "PUT",
        "/api/v1/users/1001/call-settings",
        Some(r#"{"srtp":"required"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let (_, body) =
        common::http_request(server.http, "GET", "/api/v1/users/1001/call-settings", None);
    assert!(body.contains(r#""srtp":"required""#), "{body}");
    let dir = tempfile::tempdir().expect("temp dir");
    let capture = Capture::start(
        dir.path(),
        "lo",
        &format!(
            "udp and portrange {}-{}",
            STAFF_RTP.start(),
            STAFF_RTP.end()
        ),
    );
    let mut staff = Baresip::start_with_media_encryption(
        &dir.path().join("staff"),
        &server,
        phone("1001", 15060, 4444, *STAFF_RTP.start(), 600, "tls"),
        Some("srtp-mand"),
    );
    let mut citizen = Baresip::start_carrier(
        &dir.path().join("citizen"),
        phone("4791234567", 15080, 4446, *CARRIER_RTP.start(), 1000, "udp"),
        None,
    );
    // The switchboard's direct number rings 1001 and 1002; only 1001 is registered.
    citizen.command("dial", "sip:+4764000001@10.200.0.1:5070");
    common::wait_answered_by(&server, "1001", Duration::from_secs(10));
    staff.wait_heard(
        "the citizen's 1 kHz at the staff",
        Duration::from_secs(10),
        |a| tone_quarters(a, 1000.0) >= 4,
    );
    citizen.wait_heard(
        "the staff's 600 Hz at the citizen",
        Duration::from_secs(10),
        |a| tone_quarters(a, 600.0) >= 4,
    );
    citizen.command("hangup", "");
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    let datagrams = capture.finish();
    staff.stop();
    citizen.stop();
    let logs = format!("server: {}\nstaff: {}", server.log_text(), staff.log());
    assert_encrypted(&datagrams, (600.0, 1000.0), &logs);
}
