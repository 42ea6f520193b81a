//! SIP over TLS (RFC 3261 §26) with a real phone: baresip registers on the TLS listener with a
//! self-signed certificate it is told to trust, and calls a colleague registered over UDP. Each
//! phone must decode the other's sine: signalling crossed TLS and media crossed the relay.

mod common;

use std::process::Command;
use std::time::Duration;

use common::audio::tone_quarters;
use common::baresip::{Baresip, Phone};
use common::{in_private_netns, registrations, wait_until, Server, ServerOptions, VETH_SETUP};

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

/// A node in the test namespace with SIP over TLS on 10.200.0.1:5071 and a fresh self-signed
/// certificate in `dir` (returned with its key), plus `extra` lines in `[sip]`.
fn tls_node(
    dir: &std::path::Path,
    extra: &str,
) -> (Server, std::path::PathBuf, std::path::PathBuf) {
    let (cert, key) = common::tls::self_signed(dir);
    let toml = format!(
        "[sip]\ntls_listen = \"10.200.0.1:5071\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n{extra}",
        cert.display(),
        key.display()
    );
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    });
    (server, cert, key)
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
    let (server, _, _) = tls_node(server_dir.path(), "");
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
    common::wait_answered_by(&server, "1002", Duration::from_secs(5));
    // Both ways for a second before the hang-up.
    b.wait_heard("A's 600 Hz at B", Duration::from_secs(10), |audio| {
        tone_quarters(audio, 600.0) >= 4
    });
    a.wait_heard("B's 1 kHz at A", Duration::from_secs(10), |audio| {
        tone_quarters(audio, 1000.0) >= 4
    });
    a.command("hangup", "");
    // The hang-up reached the server: the call record is closed.
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1002", "{cdr}");
    // 1001 proved itself when it registered over this TLS connection: its call (INVITE and BYE on
    // the same connection) went through without a challenge.
    assert_eq!(
        common::metric(&server, "switchboard_sip_request_challenges_total"),
        0.0
    );
    assert!(common::metric(&server, "switchboard_sip_trusted_connection_requests_total") >= 1.0);
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

/// A staff call out through a trunk with transport tls: the carrier (baresip on its TLS port, with
/// a certificate from a private CA given as `[sip] tls_ca_file`) answers, and each side decodes the
/// other's tone.
#[test]
fn a_staff_call_goes_out_over_a_tls_trunk() {
    if !in_private_netns("a_staff_call_goes_out_over_a_tls_trunk", VETH_SETUP) {
        return;
    }
    let certs = tempfile::tempdir().expect("temp dir");
    let (ca, carrier_pem) = common::tls::ca_and_leaf(certs.path());
    let toml = format!("[sip]\ntls_ca_file = \"{}\"\n", ca.display());
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let mut carrier = Baresip::start_tls_carrier(
        &dir.path().join("carrier"),
        phone("+4722334455", 15080, 4446, 40400, 1000, "tls"),
        &carrier_pem,
    );
    let status = point_demo_trunk_at_tls_carrier(&server, |s| !s["probe"]["last_status"].is_null());
    // baresip answers OPTIONS to the trunk's URI with 404 (no such account): an answer over TLS
    // all the same, and the trunk is up.
    assert_ne!(status["probe"]["last_status"], 408, "{status}");
    assert_eq!(status["probe"]["state"], "up", "{status}");
    let mut staff = Baresip::start(
        &dir.path().join("staff"),
        &server,
        phone("1001", 15060, 4444, 40000, 600, "udp"),
    );
    staff.command("dial", "sip:22334455@10.200.0.1:5070");
    common::wait_answered_by(&server, "carrier", Duration::from_secs(5));
    carrier.wait_heard(
        "the staff's 600 Hz at the carrier",
        Duration::from_secs(10),
        |audio| tone_quarters(audio, 600.0) >= 4,
    );
    staff.wait_heard(
        "the carrier's 1 kHz at the staff",
        Duration::from_secs(10),
        |audio| tone_quarters(audio, 1000.0) >= 4,
    );
    staff.command("hangup", "");
    let cdr = common::phones::closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
    // The staff phone is on UDP: its call was challenged, and answered the challenge.
    assert!(common::metric(&server, "switchboard_sip_request_challenges_total") >= 1.0);
    staff.stop();
    carrier.stop();
    let at_carrier = tone_quarters(&carrier.decoded(), 600.0);
    let at_staff = tone_quarters(&staff.decoded(), 1000.0);
    assert!(
        at_carrier >= 4 && at_staff >= 4,
        "tone quarters: staff's 600 Hz at the carrier {at_carrier}, carrier's 1 kHz at staff {at_staff}\nserver: {}\ncarrier: {}\nstaff: {}",
        server.log_text(),
        carrier.log(),
        staff.log()
    );
}

/// Points the demo trunk at the carrier's TLS port (10.200.0.1:15081), probed every 5 s, and
/// returns the trunk's status once the core has it and `ready` holds.
fn point_demo_trunk_at_tls_carrier(
    server: &Server,
    mut ready: impl FnMut(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let (_, list) = common::http_request(server.http, "GET", "/api/v1/trunks", None);
    let list: serde_json::Value = serde_json::from_str(&list).expect("trunk list");
    let id = list
        .as_array()
        .and_then(|l| l.iter().find(|t| t["name"] == "carrier"))
        .and_then(|t| t["id"].as_i64())
        .expect("the demo trunk");
    let (status, body) = common::http_request(
        server.http,
        "PUT",
        &format!("/api/v1/trunks/{id}"),
        Some(
            r#"{"name":"carrier","host":"10.200.0.1","port":15081,"transport":"tls","options_interval_secs":5,"inbound_sources":["127.0.0.1/32"]}"#,
        ),
    );
    assert_eq!(status, 200, "{body}");
    let mut last = serde_json::Value::Null;
    wait_until("the TLS trunk in the core", Duration::from_secs(20), || {
        let (_, body) = common::http_request(
            server.http,
            "GET",
            &format!("/api/v1/trunks/{id}/status"),
            None,
        );
        last = serde_json::from_str(&body).unwrap_or_default();
        last["address"] == "10.200.0.1:15081" && ready(&last)
    });
    last
}

/// Without the carrier's CA the handshake fails (the certificate is checked, not just accepted):
/// the probe gets no answer and the trunk's status says why.
#[test]
fn a_tls_trunk_with_an_unknown_ca_is_not_trusted() {
    if !in_private_netns("a_tls_trunk_with_an_unknown_ca_is_not_trusted", VETH_SETUP) {
        return;
    }
    let certs = tempfile::tempdir().expect("temp dir");
    let (_, carrier_pem) = common::tls::ca_and_leaf(certs.path());
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let _carrier = Baresip::start_tls_carrier(
        &dir.path().join("carrier"),
        phone("+4722334455", 15080, 4446, 40400, 1000, "tls"),
        &carrier_pem,
    );
    // The probe itself only times out after Timer F (32 s); the refused handshake shows in the
    // trunk's status at once.
    let status = point_demo_trunk_at_tls_carrier(&server, |s| !s["connection_error"].is_null());
    assert_ne!(status["probe"]["last_status"], 200, "{status}");
    let reason = status["connection_error"].as_str().unwrap_or_default();
    assert!(
        reason.starts_with("TLS handshake failed") && reason.contains("UnknownIssuer"),
        "{status}"
    );
}

/// Whether OpenSSL's client, trusting only `ca`, verifies the certificate the node presents on its
/// TLS listener (the IP in the certificate checked too).
fn openssl_verifies(addr: &str, ca: &std::path::Path) -> bool {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", addr, "-verify_return_error"])
        .args(["-verify_ip", addr.split(':').next().unwrap_or(addr)])
        .arg("-CAfile")
        .arg(ca)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("openssl runs");
    out.status.success()
}

/// A certificate renewed in place (as certbot does) is taken without a signal: the node watches the
/// files (`tls_watch_secs`, 1 s here) and presents the new one once both were replaced.
#[test]
fn the_tls_certificate_is_reloaded_when_its_files_change() {
    if !in_private_netns(
        "the_tls_certificate_is_reloaded_when_its_files_change",
        VETH_SETUP,
    ) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let (server, cert, key) = tls_node(server_dir.path(), "tls_watch_secs = 1\n");
    let renewed = tempfile::tempdir().expect("temp dir");
    let (new_cert, new_key) = common::tls::self_signed(renewed.path());
    let tls = "10.200.0.1:5071";
    assert!(!openssl_verifies(tls, &new_cert));
    std::fs::copy(&new_cert, &cert).expect("new certificate");
    std::fs::copy(&new_key, &key).expect("new key");
    wait_until("the renewed certificate", Duration::from_secs(10), || {
        openssl_verifies(tls, &new_cert)
    });
    assert!(common::metric(&server, "switchboard_tls_certificate_reloads_total") >= 1.0);
}

/// A renewed certificate is taken on SIGHUP without a restart: after the reload the node presents
/// the new one (a client trusting only it verifies, one trusting only the old one does not); a
/// reload from broken files is refused and the certificate in use stays; phones keep registering.
#[test]
fn the_tls_certificate_is_reloaded_on_sighup() {
    if !in_private_netns("the_tls_certificate_is_reloaded_on_sighup", VETH_SETUP) {
        return;
    }
    let server_dir = tempfile::tempdir().expect("temp dir");
    let (server, cert, key) = tls_node(server_dir.path(), "tls_watch_secs = 0\n");
    let certs = tempfile::tempdir().expect("temp dir");
    let old_ca = certs.path().join("old.pem");
    std::fs::copy(&cert, &old_ca).expect("old certificate");
    let renewed = tempfile::tempdir().expect("temp dir");
    let (new_cert, new_key) = common::tls::self_signed(renewed.path());
    let tls = "10.200.0.1:5071";
    assert!(openssl_verifies(tls, &old_ca) && !openssl_verifies(tls, &new_cert));

    // The certificate is renewed in place, and the node told.
    std::fs::copy(&new_cert, &cert).expect("new certificate");
    std::fs::copy(&new_key, &key).expect("new key");
    server.signal("HUP");
    wait_until("the reload", Duration::from_secs(5), || {
        common::metric(&server, "switchboard_tls_certificate_reloads_total") == 1.0
    });
    assert!(
        openssl_verifies(tls, &new_cert),
        "the renewed certificate is presented"
    );
    assert!(
        !openssl_verifies(tls, &old_ca),
        "the old certificate is no longer presented"
    );

    // Broken files: the reload is refused and the renewed certificate stays in use.
    std::fs::write(&key, "not a key").expect("broken key");
    server.signal("HUP");
    wait_until("the refused reload", Duration::from_secs(5), || {
        common::metric(&server, "switchboard_tls_certificate_reload_failures_total") == 1.0
    });
    assert!(
        openssl_verifies(tls, &new_cert),
        "the renewed certificate stays"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let mut phone_after = Baresip::start(
        &dir.path().join("phone"),
        &server,
        phone("1001", 15060, 4444, 40000, 600, "tls"),
    );
    phone_after.stop();
    assert_eq!(
        common::metric(&server, "switchboard_tls_certificate_reloads_total"),
        1.0
    );
}
