//! The admin API is never open to the network by accident: `serve` on a non-loopback HTTP address
//! without a token refuses to start; with `--admin-token-file` naming a missing file it makes a
//! token there (owner-only) and the API answers only requests that carry it (checked with curl).

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, ServerOptions};

#[test]
fn serving_the_api_off_loopback_without_a_token_is_refused_before_anything_starts() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("sb.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_switchboard"))
        .args([
            "serve",
            "--sip",
            "127.0.0.1:0",
            "--http",
            "0.0.0.0:0",
            "--db",
        ])
        .arg(format!("sqlite://{}?mode=rwc", db.display()))
        .env_remove("SWITCHBOARD_LOG")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("switchboard starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "serve did not refuse to start");
        std::thread::sleep(Duration::from_millis(50));
    };
    let stderr = {
        use std::io::Read;
        let mut text = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut text)
            .expect("read stderr");
        text
    };
    assert!(!status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line saying why: {stderr}");
    assert!(
        lines[0].contains("0.0.0.0") && lines[0].contains("admin_token_file"),
        "says why and how to fix it: {stderr}"
    );
    assert!(!db.exists(), "nothing started, not even the database");
}

fn curl_status(url: &str, token: Option<&str>) -> u16 {
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "10",
    ]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd.arg(url).output().expect("curl runs");
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("an HTTP status")
}

#[test]
fn with_a_token_file_the_api_off_loopback_answers_only_the_token() {
    let dir = tempfile::tempdir().expect("temp dir");
    let token_file = dir.path().join("admin.token");
    let token_arg = token_file.to_string_lossy().into_owned();
    let server = Server::start(ServerOptions {
        http: "0.0.0.0:0",
        args: &["--admin-token-file", &token_arg],
        demo: false,
        ..Default::default()
    });
    let token = std::fs::read_to_string(&token_file).expect("the token file was made");
    let token = token.trim();
    assert_eq!(token.len(), 64, "32 random bytes, hex");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "readable by the owner only");
    }
    // Reached over loopback here (tests send only to loopback); the listener is on every address.
    let base = format!("http://127.0.0.1:{}", server.http.port());
    let users = format!("{base}/api/v1/users");
    assert_eq!(curl_status(&users, None), 401);
    assert_eq!(curl_status(&users, Some("not-the-token")), 401);
    assert_eq!(curl_status(&users, Some(token)), 200);
    assert_eq!(
        curl_status(&format!("{base}/healthz"), None),
        200,
        "health stays open for load balancers"
    );
    // A restart reads the same file: the token stays what it was.
    let status = server.stop();
    assert!(status.success());
    let again = std::fs::read_to_string(&token_file).expect("token file");
    assert_eq!(again.trim(), token);
}
