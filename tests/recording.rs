//! Recording a call through the running binary: a SIPp carrier calls a number that rings a SIPp
//! staff phone; each side streams its own tone. The test finds the call in `GET /api/v1/calls`,
//! records it in stereo and stops, records it again (mixed) and lets the call end, then downloads
//! both WAV files through the API and checks *what* is in them with the Goertzel helpers: the
//! caller's 1 kHz on the left channel and the phone's 600 Hz on the right, both in the mixed file.
//! Ports: SIPp signalling 16600–16699, media 16700–16799.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::audio::write_tone_wav;
use common::http_request;
use common::phones::*;
use common::{wait_until, Server};
use serde_json::{json, Value};
use switchboard_media::tone::tone_share;
use switchboard_media::wav::{read_with, ReadOptions};

/// The number the carrier dials; it rings user 1006.
const NUMBER: &str = "+4764000660";
const CALLER_HZ: f64 = 1000.0;
const PHONE_HZ: f64 = 600.0;

fn api(server: &Server, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let (status, body) = http_request(server.http, method, path, text.as_deref());
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// A GET whose body is bytes (the WAV file): status, Content-Type, body.
fn get_bytes(addr: SocketAddr, path: &str) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send HTTP");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read HTTP");
    let split = resp
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("HTTP head");
    let head = String::from_utf8_lossy(&resp[..split]).to_string();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status");
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (status, content_type, resp[split + 4..].to_vec())
}

/// The answered call to [`NUMBER`], once `/calls` shows it.
fn answered_call(server: &Server) -> Value {
    let mut found = Value::Null;
    wait_until(
        "the answered call in /calls",
        Duration::from_secs(15),
        || {
            let (status, calls) = api(server, "GET", "/api/v1/calls", None);
            assert_eq!(status, 200, "{calls}");
            found = calls
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|c| c["to"] == NUMBER && c["state"] == "answered")
                })
                .cloned()
                .unwrap_or(Value::Null);
            !found.is_null()
        },
    );
    found
}

/// The recording once its file is complete.
fn finished(server: &Server, id: i64) -> Value {
    let mut rec = Value::Null;
    wait_until("the recording's file", Duration::from_secs(10), || {
        let (status, body) = api(server, "GET", &format!("/api/v1/recordings/{id}"), None);
        assert_eq!(status, 200, "{body}");
        rec = body;
        !rec["ended_at_ms"].is_null()
    });
    rec
}

/// The recording's audio through the API: rate and one `Vec` per channel.
fn download(server: &Server, id: i64) -> (u32, Vec<Vec<i16>>) {
    let (status, content_type, bytes) =
        get_bytes(server.http, &format!("/api/v1/recordings/{id}/audio"));
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(content_type, "audio/wav");
    let audio = read_with(
        &bytes,
        &ReadOptions {
            downmix: false,
            ..ReadOptions::default()
        },
    )
    .expect("a WAV file");
    let n = usize::from(audio.channels);
    let channels = (0..n)
        .map(|c| audio.samples.iter().skip(c).step_by(n).copied().collect())
        .collect();
    (audio.rate, channels)
}

/// Half a second from the middle of a channel.
/// Waits until the recording's file (written as the call goes on) holds `seconds` of audio, by its
/// header's rate and channels and the bytes after the header.
fn wait_recorded(server: &Server, rec: &Value, seconds: f64) {
    let file = server
        .dir
        .join("recordings")
        .join(rec["file_name"].as_str().expect("file name"));
    wait_until("audio in the recording", Duration::from_secs(10), || {
        let Ok(bytes) = std::fs::read(&file) else {
            return false;
        };
        let (Some(channels), Some(rate)) = (bytes.get(22..24), bytes.get(24..28)) else {
            return false;
        };
        let channels = u16::from_le_bytes([channels[0], channels[1]]);
        let rate = u32::from_le_bytes([rate[0], rate[1], rate[2], rate[3]]);
        let per_second = f64::from(rate) * f64::from(channels) * 2.0;
        per_second > 0.0 && (bytes.len().saturating_sub(44) as f64) >= per_second * seconds
    });
}

fn middle(samples: &[i16], rate: u32) -> &[i16] {
    let half = rate as usize / 4;
    let mid = samples.len() / 2;
    assert!(
        mid > half,
        "a recording of {} samples is too short",
        samples.len()
    );
    &samples[mid - half..mid + half]
}

#[test]
fn a_call_is_recorded_on_command_and_its_tones_are_in_the_files() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let (status, body) = api(
        &server,
        "POST",
        "/api/v1/numbers",
        Some(json!({
            "number": NUMBER, "label": "recording test", "target_kind": "user", "target_ref": "1006",
        })),
    );
    assert_eq!(status, 201, "{body}");

    let phone_tone = dir.join("phone-tone.wav");
    write_tone_wav(&phone_tone, PHONE_HZ as f32, 3.0);
    let answer = scenario(
        dir,
        "phone_answer_tone.xml",
        &[("tone", &phone_tone.to_string_lossy())],
    );
    let staff = Phone {
        user: "1006",
        sip_port: 16610,
        media_port: 16710,
    };
    let mut phone = phone(&server, dir, &staff, &answer.to_string_lossy(), 1);

    let caller_tone = dir.join("caller-tone.wav");
    write_tone_wav(&caller_tone, CALLER_HZ as f32, 3.0);
    // The caller talks for 6 s; its tone file loops (-1) so it never runs dry.
    let call = scenario_edited(
        dir,
        "call_user.xml",
        &[
            ("[$tone],1,0", &format!("{},-1,0", caller_tone.display())),
            ("[$talk_ms]", "6000"),
        ],
    );
    let mut carrier = spawn_carrier_calls(&server, dir, &call, NUMBER, 1, (16620, 16720));

    let live = answered_call(&server);
    assert_eq!(live["from"], "+4791234567", "{live}");
    assert_eq!(live["answered_by"], "1006", "{live}");
    assert_eq!(live["recording"], false, "{live}");
    let id = live["id"].as_u64().expect("call id");
    let call_uri = format!("/api/v1/calls/{id}");
    let rec_uri = format!("{call_uri}/recording");

    // Stereo, stopped on command.
    let (status, stereo) = api(
        &server,
        "POST",
        &rec_uri,
        Some(json!({ "layout": "stereo" })),
    );
    assert_eq!(status, 201, "{stereo}\n{}", server.log_text());
    assert_eq!(stereo["layout"], "stereo");
    let stereo_id = stereo["id"].as_i64().expect("recording id");
    let (_, now) = api(&server, "GET", &call_uri, None);
    assert_eq!(now["recording_id"], stereo_id, "{now}");
    let (status, again) = api(&server, "POST", &rec_uri, None);
    assert_eq!(status, 409, "{again}");
    wait_recorded(&server, &stereo, 1.5);
    let (status, stopped) = api(&server, "DELETE", &rec_uri, None);
    assert_eq!(status, 202, "{stopped}");

    // Mixed, ended by the call's end.
    let (status, mixed) = api(&server, "POST", &rec_uri, None);
    assert_eq!(status, 201, "{mixed}\n{}", server.log_text());
    assert_eq!(mixed["layout"], "mixed");
    let mixed_id = mixed["id"].as_i64().expect("recording id");

    let status = wait_exit(&mut carrier, Duration::from_secs(20)).expect("the carrier hangs up");
    assert_carrier_ok(&server, dir, status, "call_user");
    assert_phone_ok(&server, dir, &mut phone, "1006");
    let (_, calls) = api(&server, "GET", "/api/v1/calls", None);
    assert!(
        calls
            .as_array()
            .is_some_and(|a| a.iter().all(|c| c["id"] != id)),
        "{calls}"
    );

    // Both rows, by the call's Call-ID, each with its file.
    let stereo = finished(&server, stereo_id);
    let mixed = finished(&server, mixed_id);
    for rec in [&stereo, &mixed] {
        assert!(rec["bytes"].as_i64().is_some_and(|b| b > 44), "{rec}");
        assert_eq!(rec["call_id"], live["call_id"], "{rec}");
        let file = server
            .dir
            .join("recordings")
            .join(rec["file_name"].as_str().expect("file name"));
        assert!(
            file.exists(),
            "{} in the recordings directory",
            file.display()
        );
    }
    let call_id = live["call_id"].as_str().expect("Call-ID");
    let (_, list) = api(
        &server,
        "GET",
        &format!("/api/v1/recordings?call_id={}", call_id.replace('@', "%40")),
        None,
    );
    assert_eq!(list.as_array().map(Vec::len), Some(2), "{list}");

    // Stereo: the caller's tone on the left, the phone's on the right, neither on the other side.
    let (rate, channels) = download(&server, stereo_id);
    assert_eq!(channels.len(), 2);
    let rate_f = f64::from(rate);
    let left = middle(&channels[0], rate);
    let right = middle(&channels[1], rate);
    let shares = format!(
        "left: {:.3} at 1 kHz, {:.3} at 600 Hz; right: {:.3} at 1 kHz, {:.3} at 600 Hz",
        tone_share(left, CALLER_HZ, rate_f),
        tone_share(left, PHONE_HZ, rate_f),
        tone_share(right, CALLER_HZ, rate_f),
        tone_share(right, PHONE_HZ, rate_f),
    );
    eprintln!("stereo recording at {rate} Hz: {shares}");
    assert!(tone_share(left, CALLER_HZ, rate_f) > 0.7, "{shares}");
    assert!(tone_share(left, PHONE_HZ, rate_f) < 0.05, "{shares}");
    assert!(tone_share(right, PHONE_HZ, rate_f) > 0.7, "{shares}");
    assert!(tone_share(right, CALLER_HZ, rate_f) < 0.05, "{shares}");

    // Mixed: one channel holding both.
    let (rate, channels) = download(&server, mixed_id);
    assert_eq!(channels.len(), 1);
    let rate_f = f64::from(rate);
    let both = middle(&channels[0], rate);
    let (caller, staff) = (
        tone_share(both, CALLER_HZ, rate_f),
        tone_share(both, PHONE_HZ, rate_f),
    );
    eprintln!("mixed recording at {rate} Hz: {caller:.3} at 1 kHz, {staff:.3} at 600 Hz");
    assert!(
        caller > 0.25 && staff > 0.25,
        "mixed: {caller:.3} at 1 kHz, {staff:.3} at 600 Hz"
    );

    // Deleting one removes its file too.
    let (status, _) = api(
        &server,
        "DELETE",
        &format!("/api/v1/recordings/{stereo_id}"),
        None,
    );
    assert_eq!(status, 204);
    let file = server
        .dir
        .join("recordings")
        .join(stereo["file_name"].as_str().expect("file name"));
    assert!(!file.exists());
}
