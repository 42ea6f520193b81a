//! WebRTC end to end: JsSIP in headless Chromium, registered over WSS, calls a colleague's SIP phone
//! (baresip on plain RTP/PCMU). The relay's WebRTC leg (ICE-lite, DTLS-SRTP) bridges the two: the
//! browser's fake microphone (a 600 Hz tone) must reach the phone, and the phone's 1 kHz tone must be
//! heard in the browser's received track.

mod common;

use std::time::Duration;

use common::baresip::{Baresip, Phone};
use common::browser::BrowserPhone;
use common::{in_private_netns, Server, ServerOptions, VETH_SETUP};
use switchboard_media::tone::tone_share;

fn tone_quarters(audio: &switchboard_media::wav::WavAudio, hz: f64) -> usize {
    let quarter = audio.rate as usize / 4;
    audio
        .samples
        .chunks(quarter)
        .filter(|w| w.len() == quarter && tone_share(w, hz, f64::from(audio.rate)) > 0.6)
        .count()
}

#[test]
fn a_browser_calls_a_sip_phone_and_both_hear_each_other() {
    if !in_private_netns(
        "a_browser_calls_a_sip_phone_and_both_hear_each_other",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = common::tls::self_signed(server_dir.path());
    let toml = format!(
        "[sip]\nwss_listen = \"10.200.0.1:7443\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        dir: Some(server_dir.path().to_path_buf()),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone = Baresip::start(
        &dir.path().join("phone"),
        &server,
        Phone {
            user: "1002",
            sip_port: 15070,
            ctrl_port: 4445,
            rtp_ports: (40200, 40300),
            tone_hz: 1000,
            sip_trace: false,
            transport: "udp",
        },
    );
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

    browser.command("hangup");
    browser.wait_report("the hang-up", Duration::from_secs(10), |r| {
        r.get("ended").is_some()
    });
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    browser.close();
    phone.stop();
}
