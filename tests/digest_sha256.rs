//! SHA-256 digest (RFC 7616 / RFC 8760), proven with a client that is not ours: a small independent Python
//! implementation in tests/clients. SIPp 3.6 speaks only MD5, and baresip 1.0 refuses SHA-256 challenges.

mod common;

use std::process::Command;

use common::{Server, ServerOptions};

fn client(server: &Server, user: &str, password: &str, algorithm: &str) -> std::process::Output {
    Command::new("python3")
        .arg(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/clients/digest_register.py"),
        )
        .args([
            &server.sip.ip().to_string(),
            &server.sip.port().to_string(),
            user,
            password,
            algorithm,
        ])
        .output()
        .expect("python3 runs")
}

#[test]
fn sha256_digest_registers_when_enabled() {
    let server = Server::start(ServerOptions {
        config_toml: Some("[registrar]\nalgorithms = [\"SHA-256\", \"MD5\"]\n"),
        ..Default::default()
    });
    for alg in ["SHA-256", "MD5"] {
        let out = client(&server, "1006", "demo-1006", alg);
        assert!(
            out.status.success(),
            "{alg}: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            server.log_text()
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("ok {alg}")));
    }
}

#[test]
fn default_node_offers_md5_only() {
    let server = Server::start(ServerOptions::default());
    let out = client(&server, "1007", "demo-1007", "SHA-256");
    assert!(
        !out.status.success(),
        "SHA-256 must not be offered by default"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("offered no SHA-256 challenge"));
    let out = client(&server, "1007", "demo-1007", "MD5");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
