//! A self-signed certificate for SIP over TLS tests, made with the openssl CLI.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Writes `cert.pem` and `key.pem` into `dir`: a self-signed RSA certificate for 127.0.0.1 and the
/// test veth address 10.200.0.1. Returns (certificate, key).
pub fn self_signed(dir: &Path) -> (PathBuf, PathBuf) {
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let out = Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        ])
        .args(["-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,IP:10.200.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

/// A CA and a leaf certificate it signed for 10.200.0.1 (a carrier's), in `dir`: returns the CA
/// certificate and a PEM holding the leaf certificate and its key (what baresip's
/// `sip_certificate` takes). A self-signed certificate will not do for rustls: it is a CA
/// certificate, refused as a server's own.
pub fn ca_and_leaf(dir: &Path) -> (PathBuf, PathBuf) {
    let ca = dir.join("carrier-ca.pem");
    let ca_key = dir.join("carrier-ca-key.pem");
    let key = dir.join("carrier-key.pem");
    let csr = dir.join("carrier.csr");
    let leaf = dir.join("carrier-cert.pem");
    let ext = dir.join("carrier.ext");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:10.200.0.1\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    let steps: [Vec<&std::ffi::OsStr>; 3] = [
        [
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=Test carrier CA",
            "-keyout",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([ca_key.as_os_str(), "-out".as_ref(), ca.as_os_str()])
        .collect(),
        [
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=10.200.0.1",
            "-keyout",
        ]
        .iter()
        .map(std::ffi::OsStr::new)
        .chain([key.as_os_str(), "-out".as_ref(), csr.as_os_str()])
        .collect(),
        ["x509", "-req", "-days", "2", "-set_serial", "2", "-in"]
            .iter()
            .map(std::ffi::OsStr::new)
            .chain([
                csr.as_os_str(),
                "-CA".as_ref(),
                ca.as_os_str(),
                "-CAkey".as_ref(),
                ca_key.as_os_str(),
                "-extfile".as_ref(),
                ext.as_os_str(),
                "-out".as_ref(),
                leaf.as_os_str(),
            ])
            .collect(),
    ];
    for args in steps {
        let out = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl runs");
        assert!(
            out.status.success(),
            "openssl {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let combined = dir.join("carrier.pem");
    let mut pem = std::fs::read(&leaf).expect("leaf");
    pem.extend(std::fs::read(&key).expect("key"));
    std::fs::write(&combined, pem).expect("combined pem");
    (ca, combined)
}

/// A node inside a test's namespace (SIP on 10.200.0.1:5070) with SIP over secure WebSocket on
/// 10.200.0.1:7443, presenting a self-signed certificate written into `dir` (its directory).
pub fn server_with_wss(dir: &Path) -> super::Server {
    let (cert, key) = self_signed(dir);
    let toml = format!(
        "[sip]\nwss_listen = \"10.200.0.1:7443\"\ntls_certificate = \"{}\"\ntls_private_key = \"{}\"\n",
        cert.display(),
        key.display()
    );
    super::Server::start(super::ServerOptions {
        sip: "10.200.0.1:5070",
        config_toml: Some(&toml),
        dir: Some(dir.to_path_buf()),
        ..Default::default()
    })
}
