//! Shared harness for the end-to-end tests: start the real `switchboard` binary, run real peers against it,
//! and read its HTTP API. Everything talks over loopback (or a veth pair inside a private namespace).
#![allow(dead_code)]

pub mod audio;
pub mod baresip;
pub mod browser;
pub mod capture;
pub mod dtmf;
pub mod phones;
pub mod push_providers;
pub mod tls;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub fn sipp_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sipp")
}

/// Runs the calling test inside a fresh network namespace (only loopback, plus what `setup` adds), so
/// messages that name other hosts can never leave the machine. Returns true in the inner run, where the
/// test body executes; in the outer run it waits for the inner one and asserts it passed.
pub fn in_private_netns(test_name: &str, setup: &str) -> bool {
    if std::env::var("SB_NETNS_TEST").as_deref() == Ok(test_name) {
        return true;
    }
    let exe = std::env::current_exe().expect("test executable path");
    let script = format!(
        "set -e; ip link set lo up; {setup}; exec \"$0\" --exact {test_name} --nocapture --test-threads=1"
    );
    // As root a new network namespace is enough; otherwise a user namespace makes us root inside it.
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let ns_args: &[&str] = if is_root { &["-n"] } else { &["-r", "-n"] };
    let status = Command::new("unshare")
        .args(ns_args)
        .args(["sh", "-c", &script])
        .arg(&exe)
        .env("SB_NETNS_TEST", test_name)
        .status()
        .expect("unshare runs (the tests need root for a private network namespace)");
    assert!(
        status.success(),
        "{test_name} failed inside its network namespace"
    );
    false
}

/// A veth pair with 10.200.0.1 on `v0`: baresip refuses loopback-only hosts.
pub const VETH_SETUP: &str =
    "ip link add v0 type veth peer name v1; ip addr add 10.200.0.1/24 dev v0; \
                              ip link set v0 up; ip link set v1 up";

pub struct Server {
    child: Child,
    pub sip: SocketAddr,
    pub http: SocketAddr,
    /// The TLS listener, when the config has `[sip] tls_listen`.
    pub sip_tls: Option<SocketAddr>,
    /// The WebSocket listeners, when the config has `[sip] ws_listen` / `wss_listen`.
    pub sip_ws: Option<SocketAddr>,
    pub sip_wss: Option<SocketAddr>,
    pub dir: PathBuf,
    log: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

pub struct ServerOptions<'a> {
    pub sip: &'a str,
    /// `--http` (default 127.0.0.1:0).
    pub http: &'a str,
    /// More arguments for `serve`.
    pub args: &'a [&'a str],
    pub db: Option<String>,
    pub config_toml: Option<&'a str>,
    pub demo: bool,
    pub dir: Option<PathBuf>,
}

impl Default for ServerOptions<'_> {
    fn default() -> Self {
        ServerOptions {
            sip: "127.0.0.1:0",
            http: "127.0.0.1:0",
            args: &[],
            db: None,
            config_toml: None,
            demo: true,
            dir: None,
        }
    }
}

impl Server {
    pub fn start(opts: ServerOptions<'_>) -> Server {
        let (tmp, dir) = match opts.dir {
            Some(d) => (None, d),
            None => {
                let t = tempfile::tempdir().expect("temp dir");
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let log = dir.join(format!("switchboard-{}.log", std::process::id()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_switchboard"));
        cmd.args(["serve", "--sip", opts.sip, "--http", opts.http]);
        let ready_file = dir.join(format!("ready-{}.json", std::process::id()));
        let _ = std::fs::remove_file(&ready_file);
        cmd.arg("--ready-file").arg(&ready_file);
        cmd.args(opts.args);
        let db = opts
            .db
            .unwrap_or_else(|| format!("sqlite://{}?mode=rwc", dir.join("sb.db").display()));
        cmd.args(["--db", &db]);
        if let Some(toml) = opts.config_toml {
            let path = dir.join("switchboard.toml");
            std::fs::write(&path, toml).expect("write config");
            cmd.arg("--config").arg(path);
        }
        if opts.demo {
            // Tests run at any hour: the demo's main number must not be closed at night.
            cmd.args(["--demo", "--demo-open"]);
        }
        let child = cmd
            .env("SWITCHBOARD_LOG", "info,sip_core=debug")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("switchboard starts");
        let mut server = Server {
            child,
            sip: "0.0.0.0:0".parse().expect("addr"),
            http: "0.0.0.0:0".parse().expect("addr"),
            sip_tls: None,
            sip_ws: None,
            sip_wss: None,
            dir,
            log,
            _tmp: tmp,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            // The node writes its bound addresses once serving (`--ready-file`).
            if let Some(ready) = std::fs::read_to_string(&ready_file)
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            {
                let addr = |key: &str| ready[key].as_str().and_then(|a| a.parse().ok());
                server.sip = addr("sip").expect("sip address in the ready file");
                server.http = addr("http").expect("http address in the ready file");
                server.sip_tls = addr("sip_tls");
                server.sip_ws = addr("sip_ws");
                server.sip_wss = addr("sip_wss");
                return server;
            }
            if let Ok(Some(status)) = server.child.try_wait() {
                panic!(
                    "switchboard exited with {status} before serving:\n{}",
                    server.log_text()
                );
            }
            assert!(
                Instant::now() < deadline,
                "switchboard did not start:\n{}",
                server.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn log_text(&self) -> String {
        let raw = std::fs::read(&self.log).unwrap_or_default();
        strip_ansi(&String::from_utf8_lossy(&raw))
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        http_get(self.http, path)
    }

    /// Sends the node a signal (`HUP`, `TERM`, …).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status();
        assert!(status.is_ok_and(|s| s.success()), "kill -{name} {pid}");
    }

    /// SIGTERM and wait: the node flushes registrations and exits cleanly.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "switchboard did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// A minimal HTTP/1.1 GET (the tests need no HTTP client crate for this).
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    http_request(addr, "GET", path, None)
}

pub fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    json: Option<&str>,
) -> (u16, String) {
    http_send(
        addr,
        method,
        path,
        "application/json",
        json.unwrap_or("").as_bytes(),
    )
}

/// An HTTP request with any body (a WAV upload, say).
pub fn http_send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    http_send_as(addr, method, path, None, content_type, body)
}

/// A JSON request with a session's access token, as the staff app sends it.
pub fn http_request_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: &str,
    json: Option<&str>,
) -> (u16, String) {
    http_send_as(
        addr,
        method,
        path,
        Some(token),
        "application/json",
        json.unwrap_or("").as_bytes(),
    )
}

/// Logs `user` in through `/api/v1/auth/login` after an admin gave them `roles` and a login
/// password; answers the access token.
pub fn staff_login(server: &Server, user: &str, roles: &[&str]) -> String {
    let password = format!("login-password-{user}");
    let (status, body) = http_request(
        server.http,
        "PUT",
        &format!("/api/v1/users/{user}/roles"),
        Some(&serde_json::json!({ "roles": roles }).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    let (status, body) = http_request(
        server.http,
        "PUT",
        &format!("/api/v1/users/{user}/login"),
        Some(&serde_json::json!({ "password": password }).to_string()),
    );
    assert_eq!(status, 204, "{body}");
    let (status, body) = http_request(
        server.http,
        "POST",
        "/api/v1/auth/login",
        Some(&serde_json::json!({ "username": user, "password": password }).to_string()),
    );
    assert_eq!(status, 200, "{body}");
    let session: serde_json::Value = serde_json::from_str(&body).expect("session JSON");
    session["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

fn http_send_as(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect HTTP");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let auth = token.map_or_else(String::new, |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{auth}Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("send HTTP");
    s.write_all(body).expect("send HTTP body");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("read HTTP");
    let status = resp
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("HTTP status");
    let body = resp
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// Runs sipp with a scenario from tests/sipp against `target`. Message and error logs land in `dir`.
pub fn sipp(dir: &Path, scenario: &str, target: SocketAddr, extra: &[&str]) -> Output {
    let name = scenario.trim_end_matches(".xml");
    let out = Command::new("sipp")
        .arg(target.to_string())
        .arg("-sf")
        .arg(sipp_dir().join(scenario))
        .args(["-nostdin", "-trace_msg", "-trace_err"])
        .arg("-message_file")
        .arg(dir.join(format!("{name}.msg.log")))
        .arg("-error_file")
        .arg(dir.join(format!("{name}.err.log")))
        .args(extra)
        .output()
        .expect("sipp runs (apt-get install sip-tester)");
    out
}

/// Runs `scenario` `calls` times as `user` (SIPp's `-s`, `-au`) with `password` (`-ap`) from 127.0.0.1.
pub fn sipp_as(
    server: &Server,
    scenario: &str,
    (user, password): (&str, &str),
    calls: u32,
    extra: &[&str],
) -> Output {
    let calls = calls.to_string();
    let mut args = vec![
        "-s",
        user,
        "-au",
        user,
        "-ap",
        password,
        "-m",
        &calls,
        "-i",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    sipp(&server.dir, scenario, server.sip, &args)
}

pub fn sipp_messages(dir: &Path, scenario: &str) -> String {
    let name = scenario.trim_end_matches(".xml");
    std::fs::read_to_string(dir.join(format!("{name}.msg.log"))).unwrap_or_default()
}

pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Waits until something on this machine (in this network namespace) listens on UDP `port`, as
/// `/proc/net/udp` and `udp6` show it: a peer started in the background is ready for packets.
pub fn wait_udp_listening(port: u16, timeout: Duration) {
    let listening = || {
        ["/proc/net/udp", "/proc/net/udp6"].iter().any(|table| {
            std::fs::read_to_string(table).is_ok_and(|text| {
                text.lines().skip(1).any(|line| {
                    // `sl local_address rem_address …`, the local address as `HEXIP:HEXPORT`.
                    line.split_whitespace()
                        .nth(1)
                        .and_then(|local| local.rsplit(':').next())
                        .and_then(|hex| u16::from_str_radix(hex, 16).ok())
                        == Some(port)
                })
            })
        })
    };
    wait_until(
        &format!("a listener on UDP port {port}"),
        timeout,
        listening,
    );
}

/// Waits until a call in progress (`/api/v1/calls`) was answered by `who` (a user, `user/cellular`,
/// or a trunk's name).
pub fn wait_answered_by(server: &Server, who: &str, timeout: Duration) {
    wait_until(&format!("a call answered by {who}"), timeout, || {
        let (status, body) = server.get("/api/v1/calls");
        status == 200
            && serde_json::from_str::<Vec<serde_json::Value>>(&body).is_ok_and(|calls| {
                calls
                    .iter()
                    .any(|c| c["state"] == "answered" && c["answered_by"] == who)
            })
    });
}

/// Waits until a call in progress has its caller on hold (`held`) or no call has (`!held`), as
/// `/api/v1/calls` shows it.
pub fn wait_on_hold(server: &Server, held: bool, timeout: Duration) {
    let what = if held {
        "a caller on hold"
    } else {
        "no caller on hold"
    };
    wait_until(what, timeout, || {
        let (status, body) = server.get("/api/v1/calls");
        status == 200
            && serde_json::from_str::<Vec<serde_json::Value>>(&body)
                .is_ok_and(|calls| calls.iter().any(|c| c["on_hold"] == true) == held)
    });
}

/// Waits until the SIP core has every enabled trunk (`active` in its status) and so, as the node
/// tells it the trunks' networks first, accepts calls from them.
pub fn wait_trunks_active(server: &Server) {
    wait_until(
        "the trunks in the SIP core",
        Duration::from_secs(10),
        || {
            let (status, body) = server.get("/api/v1/trunks");
            let Ok(trunks) = serde_json::from_str::<Vec<serde_json::Value>>(&body) else {
                return false;
            };
            status == 200
                && trunks.iter().filter(|t| t["enabled"] == true).all(|t| {
                    let (status, body) = server.get(&format!("/api/v1/trunks/{}/status", t["id"]));
                    status == 200
                        && serde_json::from_str::<serde_json::Value>(&body)
                            .is_ok_and(|s| s["active"] == true)
                })
        },
    );
}

/// The value of an unlabelled series in `/metrics` (0 when it is not there).
pub fn metric(server: &Server, name: &str) -> f64 {
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200, "/metrics: {text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// Parses the JSON list from /api/v1/registrations.
pub fn registrations(server: &Server) -> Vec<serde_json::Value> {
    let (status, body) = server.get("/api/v1/registrations");
    assert_eq!(status, 200, "registrations API: {body}");
    serde_json::from_str(&body).expect("registrations JSON")
}

/// A PostgreSQL database of its own for one test, dropped at the end.
pub struct PgDatabase {
    admin: String,
    name: String,
    pub url: String,
}

impl PgDatabase {
    pub fn create() -> PgDatabase {
        let admin = std::env::var("SWITCHBOARD_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!(
            "sb_e2e_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let out = Command::new("psql")
            .args([
                &admin,
                "-v",
                "ON_ERROR_STOP=1",
                "-qc",
                &format!("CREATE DATABASE {name}"),
            ])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "cannot create database at {admin}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
        PgDatabase {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                &self.admin,
                "-qc",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .output();
    }
}

/// POSTs `body` to the API at `path`, asserts 201 Created and returns the created object.
pub fn create(server: &Server, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let (status, text) = http_request(server.http, "POST", path, Some(&body.to_string()));
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

/// Points the demo trunk "carrier" somewhere else (`body`: the trunk's JSON) and waits until the SIP
/// core has it at `address`; returns the trunk's id.
pub fn point_demo_trunk(server: &Server, body: &str, address: &str) -> i64 {
    let (_, list) = http_request(server.http, "GET", "/api/v1/trunks", None);
    let list: serde_json::Value = serde_json::from_str(&list).expect("trunk list");
    let id = list
        .as_array()
        .and_then(|l| l.iter().find(|t| t["name"] == "carrier"))
        .and_then(|t| t["id"].as_i64())
        .expect("the demo trunk");
    let (status, answer) = http_request(
        server.http,
        "PUT",
        &format!("/api/v1/trunks/{id}"),
        Some(body),
    );
    assert_eq!(status, 200, "{answer}");
    wait_until("the trunk in the core", Duration::from_secs(20), || {
        let (_, status) = http_request(
            server.http,
            "GET",
            &format!("/api/v1/trunks/{id}/status"),
            None,
        );
        serde_json::from_str::<serde_json::Value>(&status).is_ok_and(|s| s["address"] == address)
    });
    id
}
