//! Logging in with an OpenID provider, end to end: the certified `oidc-provider` package (npm) runs
//! as the municipality's identity provider, headless Chromium (Debian's, driven by playwright-core)
//! goes through Switchboard's `/api/v1/auth/oidc/login`, the provider's login and consent pages and
//! back; the session Switchboard opens must belong to the user the `preferred_username` claim names,
//! with the role the provider's `roles` claim maps to. The provider then rotates its signing key
//! (restarted with a new key id): the next login must still work, Switchboard fetching the JWKS
//! again for the unknown key. Ports: node 127.0.0.1:18094, provider 127.0.0.1:18095.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::baresip::KillOnDrop;
use common::{http_get, http_request_as, Server, ServerOptions};
use serde_json::Value;

const NODE_HTTP: &str = "127.0.0.1:18094";
const PROVIDER_PORT: u16 = 18095;
const SECRET: &str = "a-client-secret-for-the-test";

fn browser_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Starts the provider with signing key `kid` and waits for it to listen.
fn provider(kid: &str, log: &Path) -> KillOnDrop {
    let mut child = Command::new("node")
        .arg(browser_dir().join("oidc_provider.mjs"))
        .args([
            &PROVIDER_PORT.to_string(),
            &format!("http://{NODE_HTTP}/api/v1/auth/oidc/callback"),
            SECRET,
            kid,
        ])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).expect("provider log"))
        .spawn()
        .expect("node runs oidc-provider (tests/run installs it)");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "ready" {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| {
            panic!(
                "the OpenID provider did not start: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        });
    KillOnDrop(child)
}

/// A person logs in as `login` at the provider through Switchboard's login route; answers the address
/// Switchboard sent the browser back to.
fn browser_login(login: &str, log: &Path) -> String {
    let out = Command::new("node")
        .arg(browser_dir().join("oidc_login.mjs"))
        .arg(format!(
            "http://{NODE_HTTP}/api/v1/auth/oidc/login?return_to=/phone"
        ))
        .arg(login)
        .stderr(std::fs::File::create(log).expect("browser log"))
        .output()
        .expect("node runs the browser script");
    let report: Value = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or(Value::Null);
    report["url"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            panic!(
                "the browser login failed: {report}\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            )
        })
}

/// The value of `key` in the address's fragment.
fn fragment_value(url: &str, key: &str) -> Option<String> {
    let (_, fragment) = url.split_once('#')?;
    fragment
        .split('&')
        .find_map(|pair| pair.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
}

fn me(server: &Server, token: &str) -> Value {
    let (status, body) = http_request_as(server.http, "GET", "/api/v1/me", token, None);
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("JSON")
}

#[test]
fn a_login_through_the_identity_provider_opens_a_session_with_the_mapped_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let secret_file = dir.join("oidc-client-secret");
    std::fs::write(&secret_file, format!("{SECRET}\n")).expect("secret file");
    let config = format!(
        r#"
[oidc]
issuer = "http://127.0.0.1:{PROVIDER_PORT}"
client_id = "switchboard"
client_secret_file = "{}"
redirect_uri = "http://{NODE_HTTP}/api/v1/auth/oidc/callback"
username_claim = "preferred_username"
roles_claim = "roles"
role_map = {{ "Switchboard.Reception" = "receptionist" }}
"#,
        secret_file.display()
    );
    let mut idp = provider("key-1", &dir.join("provider-1.log"));
    let server = Server::start(ServerOptions {
        http: NODE_HTTP,
        config_toml: Some(&config),
        demo: true,
        ..Default::default()
    });
    // 1004 holds no role in the demo: whatever it has after logging in came from the claim.
    let (_, roles) = http_get(server.http, "/api/v1/users/1004/roles");
    assert_eq!(roles, r#"{"roles":[]}"#);

    let url = browser_login("kari", &dir.join("browser-1.log"));
    assert!(
        url.starts_with(&format!("http://{NODE_HTTP}/phone#")),
        "{url}"
    );
    let token = fragment_value(&url, "access_token").expect("an access token in the fragment");
    assert!(fragment_value(&url, "refresh_token").is_some(), "{url}");
    let profile = me(&server, &token);
    assert_eq!(profile["username"], "1004", "{profile}");
    assert_eq!(
        profile["roles"],
        serde_json::json!(["receptionist"]),
        "{profile}"
    );
    // The role admits the receptionist's routes.
    let (status, body) = http_request_as(server.http, "GET", "/api/v1/queues", &token, None);
    assert_eq!(status, 200, "{body}");
    let (_, audit) = http_get(server.http, "/api/v1/audit?actor=1004");
    let audit: Value = serde_json::from_str(&audit).expect("audit JSON");
    assert!(
        audit["entries"].as_array().is_some_and(|e| e
            .iter()
            .any(|l| l["action"] == "login" && l["target"] == "oidc")),
        "{audit}"
    );

    // The provider rotates its key; Switchboard's cached JWKS lacks the new one and fetches it.
    drop(idp);
    idp = provider("key-2", &dir.join("provider-2.log"));
    let url = browser_login("ola", &dir.join("browser-2.log"));
    let token =
        fragment_value(&url, "access_token").expect("an access token after the key rotation");
    let profile = me(&server, &token);
    assert_eq!(profile["username"], "1005", "{profile}");
    assert_eq!(profile["roles"], serde_json::json!(["staff"]), "{profile}");
    drop(idp);

    // A callback nobody started is refused.
    let (status, body) = http_get(
        server.http,
        "/api/v1/auth/oidc/callback?code=made-up&state=made-up",
    );
    assert_eq!(status, 403, "{body}");
}
