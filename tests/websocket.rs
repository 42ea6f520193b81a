//! SIP over WebSocket (RFC 7118) with a real client: JsSIP (as the node serves it) in headless
//! Chromium registers over WSS and over WS, is reached down its connection by a carrier's call, and
//! loses its registration the moment its connection drops. The TLS certificate is swapped by SIGHUP.

mod common;

use std::time::Duration;

use common::browser::BrowserPhone;
use common::phones::{carrier_calls, scenario};
use common::{registrations, wait_until, Server, ServerOptions};

/// A node with WS and WSS listeners on loopback (ports chosen by the system) and a self-signed
/// certificate.
fn websocket_server(dir: &std::path::Path) -> Server {
    let (cert, key) = common::tls::self_signed(dir);
    let toml = format!(
        "[sip]\nws_listen = \"127.0.0.1:0\"\nwss_listen = \"127.0.0.1:0\"\n\
         tls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let server = Server::start(ServerOptions {
        config_toml: Some(&toml),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    });
    common::wait_trunks_active(&server);
    server
}

fn registration_of(server: &Server, aor: &str) -> Option<serde_json::Value> {
    registrations(server).into_iter().find(|r| r["aor"] == aor)
}

#[test]
fn a_browser_on_wss_is_called_down_its_connection_and_unregistered_when_it_drops() {
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = websocket_server(server_dir.path());
    let wss = server.sip_wss.expect("the WSS listener");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut browser = BrowserPhone::start(server.http, &format!("wss://{wss}"), "1001", dir.path());
    let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
        r.get("registered").is_some()
    });
    assert_eq!(
        registered["registered"],
        true,
        "{registered}\n{}",
        server.log_text()
    );
    let binding = registration_of(&server, "1001").expect("1001 registered");
    assert_eq!(binding["transport"], "wss", "{binding}");

    // A carrier's call to 1001 can only reach the browser down the connection it registered on.
    let sf = scenario(dir.path(), "call_expect_status.xml", &[("status", "486")]);
    let status = carrier_calls(&server, dir.path(), &sf, "1001", 1, (5301, 16300));
    let incoming = browser.wait_report("the INVITE in the browser", Duration::from_secs(10), |r| {
        r.get("incoming").is_some()
    });
    assert!(
        incoming["incoming"]["from"]
            .as_str()
            .is_some_and(|f| f.contains("+4791234567")),
        "{incoming}"
    );
    assert!(
        status.success(),
        "the carrier got the browser's 486: {}\n{}",
        common::phones::read(dir.path(), "carrier-call_expect_status.err.log"),
        server.log_text()
    );

    // The browser quits without unregistering: its registration ends with the connection, long
    // before it would expire.
    browser.close();
    wait_until("1001's registration gone", Duration::from_secs(5), || {
        registration_of(&server, "1001").is_none()
    });
    assert_eq!(
        common::metric(&server, "switchboard_registrar_flow_bindings_ended_total"),
        1.0
    );
}

#[test]
fn a_browser_registers_over_plain_websocket() {
    let server_dir = tempfile::tempdir().expect("temp dir");
    let server = websocket_server(server_dir.path());
    let ws = server.sip_ws.expect("the WS listener");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut browser = BrowserPhone::start(server.http, &format!("ws://{ws}"), "1002", dir.path());
    let registered = browser.wait_report("registration", Duration::from_secs(30), |r| {
        r.get("registered").is_some()
    });
    assert_eq!(
        registered["registered"],
        true,
        "{registered}\n{}",
        server.log_text()
    );
    let binding = registration_of(&server, "1002").expect("1002 registered");
    assert_eq!(binding["transport"], "ws", "{binding}");
    browser.close();
    wait_until("1002's registration gone", Duration::from_secs(5), || {
        registration_of(&server, "1002").is_none()
    });
}
