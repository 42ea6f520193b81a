//! SIP over TLS (RFC 3261 §26) with a real phone: baresip registers on the TLS listener with a
//! self-signed certificate it is told to trust, and calls a colleague registered over UDP. Each
//! phone must decode the other's sine: signalling crossed TLS and media crossed the relay.

mod common;

use std::process::Command;
use std::time::Duration;

use common::baresip::{Baresip, Phone};
use common::{in_private_netns, registrations, wait_until, Server, ServerOptions, VETH_SETUP};
use switchboard_media::tone::tone_share;

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

/// Quarter seconds of `audio` where `hz` is most of the signal.
fn tone_quarters(audio: &switchboard_media::wav::WavAudio, hz: f64) -> usize {
    let quarter = audio.rate as usize / 4;
    audio
        .samples
        .chunks(quarter)
        .filter(|w| w.len() == quarter && tone_share(w, hz, f64::from(audio.rate)) > 0.6)
        .count()
}

#[test]
fn a_phone_on_tls_registers_and_talks_to_a_udp_phone() {
    if !in_private_netns(
        "a_phone_on_tls_registers_and_talks_to_a_udp_phone",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = common::tls::self_signed(server_dir.path());
    let toml = format!(
        "[sip]\ntls_listen = \"10.200.0.1:5071\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        dir: Some(server_dir.path().to_path_buf()),
        ..Default::default()
    });
    assert_eq!(
        server.sip_tls,
        Some("10.200.0.1:5071".parse().expect("addr")),
        "{}",
        server.log_text()
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut a = Baresip::start(
        &dir.path().join("a"),
        &server,
        phone("1001", 15060, 4444, 40000, 600, "tls"),
    );
    let mut b = Baresip::start(
        &dir.path().join("b"),
        &server,
        phone("1002", 15070, 4445, 40200, 1000, "udp"),
    );
    let regs = registrations(&server);
    let tls_reg = regs
        .iter()
        .find(|r| r["aor"] == "1001")
        .expect("1001 registered");
    assert_eq!(tls_reg["transport"], "tls", "{regs:?}");

    let logs = |a: &Baresip, b: &Baresip| {
        format!(
            "server: {}\nA: {}\nB: {}",
            server.log_text(),
            a.log(),
            b.log()
        )
    };
    // baresip adds the account's `;transport=tls` itself.
    a.command("dial", "sip:1002@10.200.0.1:5071");
    wait_until("1002 answers", Duration::from_secs(5), || {
        server.log_text().contains("call answered by=1002")
    });
    std::thread::sleep(Duration::from_secs(3));
    a.command("hangup", "");
    // The hang-up reached the server: the call record is closed.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    a.stop();
    b.stop();
    let at_b = tone_quarters(&b.decoded(), 600.0);
    let at_a = tone_quarters(&a.decoded(), 1000.0);
    assert!(
        at_b >= 4 && at_a >= 4,
        "tone quarters: A's 600 Hz at B {at_b}, B's 1 kHz at A {at_a}\n{}",
        logs(&a, &b)
    );
}

/// A certificate that cannot be read stops the start with the file named, rather than a node that
/// silently leaves its TLS phones unregistered.
#[test]
fn an_unreadable_tls_certificate_stops_the_start() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        "[sip]\ntls_listen = \"127.0.0.1:0\"\ntls_certificate = \"missing-cert.pem\"\n\
         tls_private_key = \"missing-key.pem\"\n",
    )
    .expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args(["serve", "--sip", "127.0.0.1:0", "--http", "127.0.0.1:0"])
        .args(["--db", "sqlite::memory:"])
        .arg("--config")
        .arg(&config)
        .env("NO_COLOR", "1")
        .output()
        .expect("switchboard runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("missing-cert.pem") && text.contains("TLS"),
        "{text}"
    );
}
