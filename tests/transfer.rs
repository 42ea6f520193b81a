//! Hold and transfer with real phones: baresip instances registered as demo staff press hold, resume
//! and transfer through their control sockets; SIPp plays the citizen on the carrier trunk. What the
//! phones decode shows what the B2BUA did with the media: music while held, the citizen's tone at the
//! transfer target.

mod common;

use std::time::Duration;

use common::audio::write_tone_wav;
use common::baresip::{Baresip, Phone};
use common::{in_private_netns, wait_until, Server, ServerOptions, VETH_SETUP};
use switchboard_media::tone::tone_share;

/// What a quarter second of decoded audio was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Heard {
    Tone,
    Music,
    Other,
}

fn classify(samples: &[i16], rate: f64, tone_hz: f64) -> Vec<Heard> {
    samples
        .chunks(rate as usize / 4)
        .filter(|w| w.len() == rate as usize / 4)
        .map(|w| {
            let rms =
                (w.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / w.len() as f64).sqrt();
            let share = tone_share(w, tone_hz, rate);
            if share > 0.6 {
                Heard::Tone
            } else if share < 0.3 && rms > 200.0 {
                Heard::Music
            } else {
                Heard::Other
            }
        })
        .collect()
}

/// Runs of the same kind, as (kind, count of quarter seconds).
fn runs(heard: &[Heard]) -> Vec<(Heard, usize)> {
    let mut out: Vec<(Heard, usize)> = Vec::new();
    for &h in heard {
        match out.last_mut() {
            Some((k, n)) if *k == h => *n += 1,
            _ => out.push((h, 1)),
        }
    }
    out
}

/// Runs of what was heard, classified against `tone_hz`.
fn heard_runs(audio: &switchboard_media::wav::WavAudio, tone_hz: f64) -> Vec<(Heard, usize)> {
    runs(&classify(&audio.samples, f64::from(audio.rate), tone_hz))
}

/// A run of at least `n` quarter seconds of `kind`.
fn has_run(runs: &[(Heard, usize)], kind: Heard, n: usize) -> bool {
    runs.iter().any(|&(k, m)| k == kind && m >= n)
}

const WAIT_AUDIO: Duration = Duration::from_secs(10);

fn server() -> Server {
    Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    })
}

/// The citizen: SIPp from the demo trunk's address, calling 1001 and sending 1 kHz for `talk_ms`.
fn spawn_citizen(dir: &std::path::Path, server: &Server, talk_ms: u32) -> std::process::Child {
    let tone = dir.join("tone.wav");
    write_tone_wav(&tone, 1000.0, talk_ms as f32 / 1000.0 + 1.0);
    let sf = common::phones::scenario(
        dir,
        "call_user.xml",
        &[
            ("tone", &tone.to_string_lossy()),
            ("talk_ms", &talk_ms.to_string()),
        ],
    );
    std::process::Command::new("sipp")
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(&sf)
        .args([
            "-s",
            "1001",
            "-m",
            "1",
            "-i",
            "127.0.0.1",
            "-mi",
            "127.0.0.1",
        ])
        .args([
            "-mp",
            "16000",
            "-timeout",
            "40",
            "-nostdin",
            "-trace_err",
            "-error_file",
        ])
        .arg(dir.join("citizen.err.log"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("sipp runs")
}

fn phone(user: &str, sip_trace: bool) -> Phone<'_> {
    let n: u16 = user.parse::<u16>().expect("demo user") - 1001;
    Phone {
        user,
        sip_port: 15060 + 10 * n,
        ctrl_port: 4444 + n,
        rtp_ports: (40000 + 200 * n, 40100 + 200 * n),
        tone_hz: [600, 900][usize::from(n)],
        sip_trace,
        transport: "udp",
    }
}

/// The consultation call as phone A sees it, from its SIP trace: A's INVITE to `callee` gives the
/// Call-ID and A's tag; our 200 to it gives our tag.
fn consultation_dialog(trace: &str, callee: &str) -> Option<(String, String, String)> {
    let trace = trace.replace('\r', "");
    let blocks: Vec<&str> = trace.split("\n\n").collect();
    let header = |block: &str, name: &str| -> Option<String> {
        block.lines().find_map(|l| {
            let (n, v) = l.trim().split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    };
    let tag = |value: &str| -> Option<String> {
        value
            .split(';')
            .find_map(|p| p.trim().strip_prefix("tag=").map(str::to_string))
    };
    let invite = blocks
        .iter()
        .find(|b| b.contains(&format!("INVITE sip:{callee}@")))?;
    let call_id = header(invite, "Call-ID")?;
    let a_tag = tag(&header(invite, "From")?)?;
    let ok = blocks.iter().find(|b| {
        b.contains("SIP/2.0 200 OK")
            && header(b, "Call-ID").as_deref() == Some(call_id.as_str())
            && header(b, "CSeq").is_some_and(|c| c.ends_with("INVITE"))
    })?;
    let our_tag = tag(&header(ok, "To")?)?;
    Some((call_id, a_tag, our_tag))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn staff_attended_transfer_after_consulting_a_colleague() {
    if !in_private_netns(
        "staff_attended_transfer_after_consulting_a_colleague",
        VETH_SETUP,
    ) {
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Baresip::start(&dir.path().join("a"), &server, phone("1001", true));
    let b = Baresip::start(&dir.path().join("b"), &server, phone("1002", false));
    let citizen = spawn_citizen(dir.path(), &server, 14_000);
    common::wait_answered_by(&server, "1001", Duration::from_secs(5));
    a.wait_heard("the citizen's tone at A", WAIT_AUDIO, |audio| {
        has_run(&heard_runs(audio, 1000.0), Heard::Tone, 4)
    });
    // A puts the citizen on hold and calls the colleague…
    a.command("hold", "");
    common::wait_on_hold(&server, true, Duration::from_secs(3));
    a.command("dial", "sip:1002@10.200.0.1:5070");
    common::wait_answered_by(&server, "1002", Duration::from_secs(5));
    b.wait_heard("A's tone at the colleague", WAIT_AUDIO, |audio| {
        has_run(&heard_runs(audio, 600.0), Heard::Tone, 2)
    });
    // …then, back on the citizen's line, transfers it to the colleague, replacing the consultation.
    let (call_id, a_tag, our_tag) = consultation_dialog(&a.log(), "1002")
        .unwrap_or_else(|| panic!("no consultation dialog in A's trace: {}", a.log()));
    a.command("line", "1");
    a.command(
        "transfer",
        &format!(
            "sip:1002@10.200.0.1:5070?Replaces={}%3Bto-tag%3D{}%3Bfrom-tag%3D{}",
            percent_encode(&call_id),
            percent_encode(&our_tag),
            percent_encode(&a_tag)
        ),
    );
    let logs = || {
        format!(
            "server: {}\nA: {}\nB: {}",
            server.log_text(),
            a.log(),
            b.log()
        )
    };
    // The citizen's call is now 1002's (the consultation call, also 1002's, is not the citizen's).
    wait_until("the transfer", Duration::from_secs(5), || {
        citizen_answered_by(&server, "1002")
    });
    let out = citizen.wait_with_output().expect("sipp ends");
    let errors = std::fs::read_to_string(dir.path().join("citizen.err.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the citizen's call failed: {errors}\n{}",
        logs()
    );
    // After the join the colleague hears the citizen's 1 kHz.
    let audio = b.decoded();
    let heard = runs(&classify(&audio.samples, f64::from(audio.rate), 1000.0));
    assert!(
        heard.iter().any(|&(k, n)| k == Heard::Tone && n >= 8),
        "the citizen's tone at the colleague: {heard:?}\n{}",
        logs()
    );
    // The consultation call's record ends as transferred.
    let (_, body) = server.get("/api/v1/cdrs?limit=5");
    assert!(body.contains("transferred"), "{body}");
}

#[test]
fn a_held_caller_hears_music_until_the_call_is_resumed() {
    if !in_private_netns(
        "a_held_caller_hears_music_until_the_call_is_resumed",
        VETH_SETUP,
    ) {
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Baresip::start(&dir.path().join("a"), &server, phone("1001", false));
    let b = Baresip::start(&dir.path().join("b"), &server, phone("1002", false));
    b.command("dial", "sip:1001@10.200.0.1:5070");
    common::wait_answered_by(&server, "1001", Duration::from_secs(5));
    b.wait_heard("A's tone at B", WAIT_AUDIO, |audio| {
        has_run(&heard_runs(audio, 600.0), Heard::Tone, 4)
    });
    a.command("hold", "");
    common::wait_on_hold(&server, true, Duration::from_secs(3));
    // At least 2.5 s of music after A's tone.
    let music_after_tone = |runs: &[(Heard, usize)]| {
        runs.iter()
            .position(|&(k, n)| k == Heard::Tone && n >= 4)
            .and_then(|tone| {
                runs[tone + 1..]
                    .iter()
                    .position(|&(k, n)| k == Heard::Music && n >= 10)
                    .map(|music| tone + 1 + music)
            })
    };
    b.wait_heard("music on hold at B", WAIT_AUDIO, |audio| {
        music_after_tone(&heard_runs(audio, 600.0)).is_some()
    });
    a.command("resume", "");
    common::wait_on_hold(&server, false, Duration::from_secs(3));
    b.wait_heard("A's tone at B after the resume", WAIT_AUDIO, |audio| {
        let runs = heard_runs(audio, 600.0);
        music_after_tone(&runs).is_some_and(|music| has_run(&runs[music + 1..], Heard::Tone, 4))
    });
    b.command("hangup", "");
    // The hang-up reached the server: the call's record is closed.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");

    let audio = b.decoded();
    let heard = runs(&classify(&audio.samples, f64::from(audio.rate), 600.0));
    let logs = || {
        format!(
            "server: {}\nA: {}\nB: {}",
            server.log_text(),
            a.log(),
            b.log()
        )
    };
    // A's tone, then at least 2.5 s of music while held, then A's tone again.
    let music_at = heard
        .iter()
        .position(|&(k, n)| k == Heard::Music && n >= 10)
        .unwrap_or_else(|| panic!("no music while held: {heard:?}\n{}", logs()));
    assert!(
        heard[..music_at]
            .iter()
            .any(|&(k, n)| k == Heard::Tone && n >= 4),
        "A's tone before the hold: {heard:?}"
    );
    assert!(
        heard[music_at + 1..]
            .iter()
            .any(|&(k, n)| k == Heard::Tone && n >= 4),
        "A's tone after the resume: {heard:?}"
    );
}

/// Whether the citizen's call (to 1001, from the carrier) is now answered by `who`, as
/// `/api/v1/calls` shows it.
fn citizen_answered_by(server: &Server, who: &str) -> bool {
    let (status, body) = server.get("/api/v1/calls");
    status == 200
        && serde_json::from_str::<Vec<serde_json::Value>>(&body).is_ok_and(|calls| {
            calls
                .iter()
                .any(|c| c["to"] == "1001" && c["answered_by"] == who)
        })
}

/// 1001 (baresip) answers a SIPp citizen who sends 1 kHz, then presses transfer to `target`; the
/// citizen's call must then be 1002's in `/api/v1/calls`. Returns what 1002 (baresip, auto-answering)
/// decoded, after the citizen's call ended cleanly.
fn blind_transfer(server: &Server, target: &str) -> switchboard_media::wav::WavAudio {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = Baresip::start(&dir.path().join("a"), server, phone("1001", false));
    let b = Baresip::start(&dir.path().join("b"), server, phone("1002", false));
    let citizen = spawn_citizen(dir.path(), server, 11_000);
    common::wait_answered_by(server, "1001", Duration::from_secs(5));
    a.wait_heard("the citizen's tone at A", WAIT_AUDIO, |audio| {
        has_run(&heard_runs(audio, 1000.0), Heard::Tone, 4)
    });
    a.command("transfer", target);
    wait_until("the transfer", Duration::from_secs(8), || {
        citizen_answered_by(server, "1002")
    });
    let out = citizen.wait_with_output().expect("sipp ends");
    let logs = || {
        format!(
            "server: {}\nA: {}\nB: {}",
            server.log_text(),
            a.log(),
            b.log()
        )
    };
    let errors = std::fs::read_to_string(dir.path().join("citizen.err.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the citizen's call failed: {errors}\n{}",
        logs()
    );
    let audio = b.decoded();
    let heard = runs(&classify(&audio.samples, f64::from(audio.rate), 1000.0));
    assert!(
        heard.iter().any(|&(k, n)| k == Heard::Tone && n >= 8),
        "the citizen's tone at 1002: {heard:?}\n{}",
        logs()
    );
    audio
}

#[test]
fn staff_blind_transfer_a_citizen_to_a_colleague() {
    if !in_private_netns("staff_blind_transfer_a_citizen_to_a_colleague", VETH_SETUP) {
        return;
    }
    let server = server();
    let audio = blind_transfer(&server, "sip:1002@10.200.0.1:5070");
    // The colleague hears the citizen's 1 kHz (checked above), not the transferor's 600 Hz.
    assert!(
        tone_share(&audio.samples, 600.0, f64::from(audio.rate)) < 0.05,
        "the transferor is gone from the media"
    );
    // The record: answered by 1001, and the colleague's leg with it.
    let mut cdr = serde_json::Value::Null;
    wait_until("a closed CDR", Duration::from_secs(5), || {
        let (_, body) = server.get("/api/v1/cdrs?limit=1");
        let page: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        cdr = page["cdrs"][0].clone();
        !cdr["ended_at_ms"].is_null()
    });
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    assert!(
        cdr.to_string().contains("1002"),
        "the transfer target is in the record: {cdr}"
    );
}

#[test]
fn staff_blind_transfer_a_citizen_to_a_queue() {
    if !in_private_netns("staff_blind_transfer_a_citizen_to_a_queue", VETH_SETUP) {
        return;
    }
    let server = server();
    // A queue with 1002 in it, on its own number.
    let (status, body) = common::http_request(
        server.http,
        "POST",
        "/api/v1/queues",
        Some(
            r#"{"name": "Viderekobling", "greeting_prompt": null, "members": [{"user": "1002"}]}"#,
        ),
    );
    assert_eq!(status, 201, "{body}");
    let queue: serde_json::Value = serde_json::from_str(&body).expect("queue");
    let number = serde_json::json!({
        "number": "+4764000222",
        "label": "queue",
        "target_kind": "queue",
        "target_ref": queue["id"].as_i64().expect("id").to_string(),
    });
    let (status, body) = common::http_request(
        server.http,
        "POST",
        "/api/v1/numbers",
        Some(&number.to_string()),
    );
    assert_eq!(status, 201, "{body}");
    // The receptionist sends the citizen to the queue's number; the queue rings 1002.
    blind_transfer(&server, "sip:+4764000222@10.200.0.1:5070");
    // The record shows the citizen's stay in that queue, answered there.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["queue_id"], queue["id"], "{cdr}");
    assert_eq!(cdr["queue_outcome"], "answered", "{cdr}");
}

#[test]
fn a_staff_member_who_called_a_citizen_transfers_the_citizen_to_a_colleague() {
    if !in_private_netns(
        "a_staff_member_who_called_a_citizen_transfers_the_citizen_to_a_colleague",
        VETH_SETUP,
    ) {
        return;
    }
    let server = server();
    let dir = tempfile::tempdir().expect("temp dir");
    // The citizen: SIPp on the demo trunk's address answers 1001's call out and sends 1 kHz.
    let tone = dir.path().join("tone.wav");
    write_tone_wav(&tone, 1000.0, 12.0);
    let sf = common::phones::scenario(
        dir.path(),
        "carrier_answer_tone.xml",
        &[("tone", &tone.to_string_lossy()), ("talk_ms", "11000")],
    );
    let mut citizen = common::phones::spawn_far_end(dir.path(), "citizen", &sf, (5090, 16100), 1);
    let a = Baresip::start(&dir.path().join("a"), &server, phone("1001", false));
    let b = Baresip::start(&dir.path().join("b"), &server, phone("1002", false));
    a.command("dial", "sip:22334455@10.200.0.1:5070");
    common::wait_answered_by(&server, "carrier", Duration::from_secs(5));
    a.wait_heard("the citizen's tone at A", WAIT_AUDIO, |audio| {
        has_run(&heard_runs(audio, 1000.0), Heard::Tone, 4)
    });
    // 1001, the caller, sends the citizen on to 1002.
    a.command("transfer", "sip:1002@10.200.0.1:5070");
    let logs = || {
        format!(
            "server: {}\nA: {}\nB: {}\ncitizen: {}",
            server.log_text(),
            a.log(),
            b.log(),
            common::phones::read(dir.path(), "citizen.msg.log")
        )
    };
    // The call 1001 placed is now 1002's.
    common::wait_answered_by(&server, "1002", Duration::from_secs(8));
    let status = common::phones::wait_exit(&mut citizen, Duration::from_secs(20));
    assert!(
        status.is_some_and(|s| s.success()),
        "the citizen's call failed: {status:?} {}\n{}",
        common::phones::read(dir.path(), "citizen.err.log"),
        logs()
    );
    // The colleague hears the citizen's 1 kHz, not the transferor's 600 Hz.
    let audio = b.decoded();
    let heard = runs(&classify(&audio.samples, f64::from(audio.rate), 1000.0));
    assert!(
        heard.iter().any(|&(k, n)| k == Heard::Tone && n >= 8),
        "the citizen's tone at 1002: {heard:?}\n{}",
        logs()
    );
    assert!(
        tone_share(&audio.samples, 600.0, f64::from(audio.rate)) < 0.05,
        "the transferor is gone from the media"
    );
    // The record: answered by the citizen, and the colleague's leg with it.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
    assert!(cdr.to_string().contains("1002"), "{cdr}");
}
