//! WebRTC end to end: JsSIP in headless Chromium, registered over WSS, calls a colleague's SIP phone
//! (baresip on plain RTP/PCMU). The relay's WebRTC leg (ICE-lite, DTLS-SRTP) bridges the two: the
//! browser's fake microphone (a 600 Hz tone) must reach the phone, and the phone's 1 kHz tone must be
//! heard in the browser's received track.

mod common;

use std::time::Duration;

use common::audio::tone_quarters;
use common::baresip::Baresip;
use common::browser::BrowserPhone;
use common::{in_private_netns, VETH_SETUP};
use switchboard_media::tone::tone_share;

#[test]
fn a_browser_calls_a_sip_phone_and_both_hear_each_other() {
    if !in_private_netns(
        "a_browser_calls_a_sip_phone_and_both_hear_each_other",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Baresip::start_colleague_1002(&dir.path().join("phone"), &server);
    let tone = dir.path().join("microphone.wav");
    common::audio::write_pcm_tone_wav(&tone, 600.0, 30.0);
    let mut browser = BrowserPhone::start_with_audio(
        server.http,
        "wss://10.200.0.1:7443",
        "1001",
        dir.path(),
        Some(&tone),
    );
    let logs = |browser: &BrowserPhone, phone: &Baresip| {
        format!(
            "server: {}\nphone: {}\nbrowser: {:?}\n{}",
            server.log_text(),
            phone.log(),
            browser.seen,
            std::fs::read_to_string(dir.path().join("browser-1001.log")).unwrap_or_default()
        )
    };
    let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
        r.get("registered").is_some()
    });
    assert_eq!(registered["registered"], true, "{}", logs(&browser, &phone));

    browser.command("call sip:1002@10.200.0.1");
    let settled = browser.wait_report("the call", Duration::from_secs(20), |r| {
        r.get("confirmed").is_some() || r.get("failed").is_some()
    });
    assert_eq!(settled["confirmed"], true, "{}", logs(&browser, &phone));
    common::wait_answered_by(&server, "1002", Duration::from_secs(5));

    // The browser's microphone at the phone, as G.711.
    phone.wait_heard(
        "the browser's 600 Hz at the phone",
        Duration::from_secs(15),
        |a| tone_quarters(a, 600.0) >= 4,
    );
    // The phone's tone in the browser's received track (at least a quarter second of it at 48 kHz).
    browser.command("listen 1000 3000");
    let heard = browser.wait_report("the browser listening", Duration::from_secs(10), |r| {
        r.get("heard").is_some()
    });
    let share = heard["heard"]["share"].as_f64().unwrap_or(0.0);
    assert!(
        share > 0.5 && heard["heard"]["samples"].as_u64().unwrap_or(0) >= 12_000,
        "the phone's 1 kHz in the browser: {heard}\n{}",
        logs(&browser, &phone)
    );
    // The browser talks Opus, its first choice; the relay transcodes to the phone's PCMU.
    assert_eq!(browser.received_codec(), "audio/opus");

    // A stereo recording of the call: the browser's voice on the caller's channel, the phone's on
    // the other.
    let (_, calls) = common::http_request(server.http, "GET", "/api/v1/calls", None);
    let calls: serde_json::Value = serde_json::from_str(&calls).expect("calls JSON");
    let id = calls[0]["id"].as_u64().expect("the call");
    let (status, rec) = common::http_request(
        server.http,
        "POST",
        &format!("/api/v1/calls/{id}/recording"),
        Some(r#"{"layout":"stereo"}"#),
    );
    assert_eq!(status, 201, "{rec}");
    let rec: serde_json::Value = serde_json::from_str(&rec).expect("recording JSON");
    let file = server
        .dir
        .join("recordings")
        .join(rec["file_name"].as_str().expect("file name"));
    // 1.5 s of 8 kHz stereo 16-bit after the header.
    common::wait_until("1.5 s recorded", Duration::from_secs(10), || {
        std::fs::metadata(&file).is_ok_and(|m| m.len() >= 44 + 48_000)
    });
    let (status, _) = common::http_request(
        server.http,
        "DELETE",
        &format!("/api/v1/calls/{id}/recording"),
        None,
    );
    assert_eq!(status, 202);
    let rec_id = rec["id"].as_i64().expect("recording id");
    common::wait_until("the recording finished", Duration::from_secs(10), || {
        let (_, body) = server.get(&format!("/api/v1/recordings/{rec_id}"));
        serde_json::from_str::<serde_json::Value>(&body).is_ok_and(|r| !r["ended_at_ms"].is_null())
    });
    let wav = switchboard_media::wav::read_with(
        &std::fs::read(&file).expect("recording"),
        &switchboard_media::wav::ReadOptions {
            downmix: false,
            ..Default::default()
        },
    )
    .expect("a WAV file");
    assert_eq!(wav.channels, 2, "stereo");
    let channel =
        |c: usize| -> Vec<i16> { wav.samples.iter().skip(c).step_by(2).copied().collect() };
    let (caller, callee) = (channel(0), channel(1));
    let rate = f64::from(wav.rate);
    assert!(
        tone_share(&caller, 600.0, rate) > 0.5 && tone_share(&callee, 1000.0, rate) > 0.5,
        "browser's 600 Hz on the caller's channel ({}), the phone's 1 kHz on the other ({})",
        tone_share(&caller, 600.0, rate),
        tone_share(&callee, 1000.0, rate)
    );

    browser.command("hangup");
    browser.wait_report("the hang-up", Duration::from_secs(10), |r| {
        r.get("ended").is_some()
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    browser.close();
    phone.stop();
}

/// A citizen's call through the trunk (baresip as the carrier, G.711) to the switchboard's number
/// rings the hunt group; 1001 answers in the browser. Audio both ways.
#[test]
fn a_citizen_reaches_a_browser_that_answers() {
    if !in_private_netns("a_citizen_reaches_a_browser_that_answers", VETH_SETUP) {
        return;
    }
    citizen_answered_in_browser("1001", |_| "+4764000001".to_string());
}

/// The same through a queue (a number straight to the demo's "Helse" queue): Switchboard answers
/// the citizen itself, then the agent's browser answers the offer in Opus and the relay transcodes
/// to the citizen's PCMU. Audio both ways.
#[test]
fn a_citizen_in_a_queue_is_answered_by_an_agent_in_the_browser() {
    if !in_private_netns(
        "a_citizen_in_a_queue_is_answered_by_an_agent_in_the_browser",
        VETH_SETUP,
    ) {
        return;
    }
    citizen_answered_in_browser("1003", |server| {
        let (_, queues) = common::http_request(server.http, "GET", "/api/v1/queues", None);
        let queues: serde_json::Value = serde_json::from_str(&queues).expect("queues JSON");
        let helse = queues
            .as_array()
            .and_then(|q| q.iter().find(|q| q["name"] == "Helse"))
            .and_then(|q| q["id"].as_i64())
            .expect("the demo's Helse queue");
        let number = serde_json::json!({
            "number": "+4764000200",
            "label": "Helse direkte",
            "target_kind": "queue",
            "target_ref": helse.to_string(),
        });
        common::create(server, "/api/v1/numbers", &number);
        "+4764000200".to_string()
    });
}

/// A browser signed in as `user` (demo password) answers what a citizen's baresip carrier dials
/// (the number `set_up` returns after preparing the node): both hear each other's tone, the browser
/// receives Opus, the citizen hangs up and the CDR says who answered.
fn citizen_answered_in_browser(user: &str, set_up: impl Fn(&common::Server) -> String) {
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let number = set_up(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    let tone = dir.path().join("microphone.wav");
    common::audio::write_pcm_tone_wav(&tone, 600.0, 30.0);
    let mut browser = BrowserPhone::start_with_audio(
        server.http,
        "wss://10.200.0.1:7443",
        user,
        dir.path(),
        Some(&tone),
    );
    let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
        r.get("registered").is_some()
    });
    assert_eq!(registered["registered"], true, "{}", server.log_text());
    browser.command("autoanswer");
    browser.wait_report("answering on", Duration::from_secs(5), |r| {
        r.get("autoanswer").is_some()
    });
    let mut citizen = Baresip::start_citizen(dir.path(), &server);
    citizen.command("dial", &format!("sip:{number}@10.200.0.1:5070"));
    let logs = |browser: &BrowserPhone, citizen: &Baresip| {
        format!(
            "server: {}\ncitizen: {}\nbrowser: {:?}\n{}",
            server.log_text(),
            citizen.log(),
            browser.seen,
            std::fs::read_to_string(dir.path().join(format!("browser-{user}.log")))
                .unwrap_or_default()
        )
    };
    let settled = browser.wait_report("the call in the browser", Duration::from_secs(20), |r| {
        r.get("confirmed").is_some() || r.get("failed").is_some()
    });
    assert_eq!(settled["confirmed"], true, "{}", logs(&browser, &citizen));
    common::wait_answered_by(&server, user, Duration::from_secs(5));
    citizen.wait_heard(
        "the browser's 600 Hz at the citizen",
        Duration::from_secs(15),
        |a| tone_quarters(a, 600.0) >= 4,
    );
    // The citizen's tone in the browser, listened to in 1 s windows until one has it: after a
    // queue the first second or two are not clean yet (the relay's transcoder joins a stream that
    // has been running while the citizen waited; see the issue note), so the steady state is what
    // is checked, within a deadline.
    let deadline = std::time::Instant::now() + Duration::from_secs(12);
    let heard = loop {
        browser.command("listen 1000 1000");
        let heard = browser.wait_report("the browser listening", Duration::from_secs(10), |r| {
            r.get("heard").is_some()
        });
        let share = heard["heard"]["share"].as_f64().unwrap_or(0.0);
        if (share > 0.5 && heard["heard"]["samples"].as_u64().unwrap_or(0) >= 12_000)
            || std::time::Instant::now() > deadline
        {
            break heard;
        }
    };
    let share = heard["heard"]["share"].as_f64().unwrap_or(0.0);
    assert!(
        share > 0.5 && heard["heard"]["samples"].as_u64().unwrap_or(0) >= 12_000,
        "the citizen's 1 kHz in the browser: {heard}\n{}",
        logs(&browser, &citizen)
    );
    // The browser talks Opus, its first choice; the relay transcodes to the citizen's PCMU.
    assert_eq!(browser.received_codec(), "audio/opus");
    citizen.command("hangup", "");
    browser.wait_report("the hang-up", Duration::from_secs(10), |r| {
        r.get("ended").is_some()
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], user, "{cdr}");
    browser.close();
    citizen.stop();
}

/// Two staff members in their browsers: 1001 calls 1002, who answers. Both legs are WebRTC (Opus
/// as the browsers prefer it); each hears the other's microphone.
#[test]
fn two_browsers_call_each_other() {
    if !in_private_netns("two_browsers_call_each_other", VETH_SETUP) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let dir = tempfile::tempdir().expect("temp dir");
    let (tone_a, tone_b) = (dir.path().join("a.wav"), dir.path().join("b.wav"));
    common::audio::write_pcm_tone_wav(&tone_a, 600.0, 30.0);
    common::audio::write_pcm_tone_wav(&tone_b, 1000.0, 30.0);
    let wss = "wss://10.200.0.1:7443";
    let mut a = BrowserPhone::start_with_audio(server.http, wss, "1001", dir.path(), Some(&tone_a));
    let mut b = BrowserPhone::start_with_audio(server.http, wss, "1002", dir.path(), Some(&tone_b));
    for browser in [&mut a, &mut b] {
        let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
            r.get("registered").is_some()
        });
        assert_eq!(registered["registered"], true, "{}", server.log_text());
    }
    b.command("autoanswer");
    b.wait_report("answering on", Duration::from_secs(5), |r| {
        r.get("autoanswer").is_some()
    });
    a.command("call sip:1002@10.200.0.1");
    let logs = |a: &BrowserPhone, b: &BrowserPhone| {
        format!(
            "server: {}\nA: {:?}\nB: {:?}\n{}\n{}",
            server.log_text(),
            a.seen,
            b.seen,
            std::fs::read_to_string(dir.path().join("browser-1001.log")).unwrap_or_default(),
            std::fs::read_to_string(dir.path().join("browser-1002.log")).unwrap_or_default()
        )
    };
    for browser in [&mut a, &mut b] {
        let settled = browser.wait_report("the call", Duration::from_secs(20), |r| {
            r.get("confirmed").is_some() || r.get("failed").is_some()
        });
        assert_eq!(settled["confirmed"], true, "{settled}");
    }
    common::wait_answered_by(&server, "1002", Duration::from_secs(5));
    for (browser, hz) in [(&mut a, 1000), (&mut b, 600)] {
        browser.command(&format!("listen {hz} 3000"));
        let heard = browser.wait_report("listening", Duration::from_secs(10), |r| {
            r.get("heard").is_some()
        });
        let share = heard["heard"]["share"].as_f64().unwrap_or(0.0);
        assert!(
            share > 0.5 && heard["heard"]["samples"].as_u64().unwrap_or(0) >= 12_000,
            "{hz} Hz: {heard}"
        );
    }
    a.command("hangup");
    b.wait_report("the hang-up", Duration::from_secs(10), |r| {
        r.get("ended").is_some()
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1002", "{cdr}\n{}", logs(&a, &b));
    a.close();
    b.close();
}

/// A staff member in the browser calls the main number, hears the voice menu and presses 2: the keys
/// go as JsSIP sends them (SIP INFO), and the caller waits in queue "Skole".
#[test]
fn a_browser_chooses_in_the_voice_menu() {
    if !in_private_netns("a_browser_chooses_in_the_voice_menu", VETH_SETUP) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = common::tls::server_with_wss(server_dir.path());
    let queues: serde_json::Value =
        serde_json::from_str(&server.get("/api/v1/queues").1).expect("queues JSON");
    let skole = queues
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "Skole"))
        .and_then(|q| q["id"].as_i64())
        .expect("demo queue Skole");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut browser = BrowserPhone::start(server.http, "wss://10.200.0.1:7443", "1001", dir.path());
    let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
        r.get("registered").is_some()
    });
    assert_eq!(registered["registered"], true, "{}", server.log_text());
    browser.command("call sip:+4764000000@10.200.0.1");
    let settled = browser.wait_report("the menu answering", Duration::from_secs(20), |r| {
        r.get("confirmed").is_some() || r.get("failed").is_some()
    });
    assert_eq!(settled["confirmed"], true, "{}", server.log_text());
    // The menu's greeting reaches the browser over its WebRTC leg.
    browser.command("listen 0 1000");
    let heard = browser.wait_report("the greeting", Duration::from_secs(10), |r| {
        r.get("heard").is_some()
    });
    assert!(
        heard["heard"]["rms"].as_f64().unwrap_or(0.0) > 0.01,
        "the greeting is audible in the browser: {heard}"
    );
    browser.command("dtmf 2");
    browser.wait_report("the key sent", Duration::from_secs(5), |r| {
        r.get("sent").is_some()
    });
    common::wait_until(
        "the caller waiting in Skole",
        Duration::from_secs(10),
        || {
            let (_, body) = server.get(&format!("/api/v1/queues/{skole}/live"));
            serde_json::from_str::<serde_json::Value>(&body)
                .is_ok_and(|live| live["waiting"].as_array().is_some_and(|w| !w.is_empty()))
        },
    );
    browser.command("hangup");
    browser.wait_report("the hang-up", Duration::from_secs(10), |r| {
        r.get("ended").is_some()
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["queue_id"], skole, "{cdr}");
    assert!(
        cdr["media"].as_array().is_some_and(|legs| legs
            .iter()
            .any(|l| l["prompt_packets_out"].as_u64().unwrap_or(0) > 0)),
        "the menu's prompts went to the browser: {cdr}"
    );
    browser.close();
}
