//! Users managed at runtime — through the admin API and through the `switchboard user` CLI — take effect
//! on the running node without a restart; SIPp proves it by registering with the new credentials.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{http_request, metric, registrations, sipp_as, wait_until, Server, ServerOptions};

fn register(server: &Server, user: &str, password: &str) -> bool {
    sipp_as(server, "register_only.xml", (user, password), 1, &[])
        .status
        .success()
}

#[test]
fn admin_api_creates_changes_and_removes_users() {
    let server = Server::start(ServerOptions::default());
    let (status, body) = server.get("/healthz");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("\"status\":\"ok\"") && body.contains("\"database\":\"ok\""),
        "{body}"
    );
    let (status, body) = http_request(
        server.http,
        "POST",
        "/api/v1/users",
        Some(
            r#"{"username":"2001","display_name":"Nora Berg","mobile":"+4790002001","password":"first-pass-1"}"#,
        ),
    );
    assert_eq!(status, 201, "{body}");
    let (status, body) = http_request(
        server.http,
        "POST",
        "/api/v1/users",
        Some(r#"{"username":"2001","display_name":"Again","password":"first-pass-1"}"#),
    );
    assert_eq!(status, 409, "duplicate: {body}");
    assert!(body.contains("\"error\":\"conflict\""), "{body}");
    let (status, _) = http_request(
        server.http,
        "POST",
        "/api/v1/users",
        Some(r#"{"username":"2002","display_name":"Short","password":"short"}"#),
    );
    assert_eq!(status, 422);
    assert!(
        register(&server, "2001", "first-pass-1"),
        "new user registers at once"
    );

    let (status, _) = http_request(
        server.http,
        "PUT",
        "/api/v1/users/2001/password",
        Some(r#"{"password":"second-pass-2"}"#),
    );
    assert_eq!(status, 204);
    assert!(
        !register(&server, "2001", "first-pass-1"),
        "old password refused"
    );
    assert!(
        register(&server, "2001", "second-pass-2"),
        "new password accepted"
    );

    let (status, _) = http_request(server.http, "DELETE", "/api/v1/users/2001", None);
    assert_eq!(status, 204);
    assert!(
        registrations(&server).is_empty(),
        "removing a user removes its registrations"
    );
    let (status, body) = http_request(server.http, "GET", "/api/v1/users/2001", None);
    assert_eq!(status, 404);
    assert!(body.contains("not_found"), "{body}");
}

#[test]
fn cli_changes_reach_the_running_node() {
    let server = Server::start(ServerOptions::default());
    let db = format!("sqlite://{}?mode=rwc", server.dir.join("sb.db").display());
    let cli = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["user"])
            .args(args)
            .args(["--db", &db])
            .output()
            .expect("switchboard user runs");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let updates_before = metric(&server, "switchboard_sip_credential_updates_total");
    let listed = cli(&["list"]);
    assert!(
        listed.contains("1001\tKari Nordmann\t+47900001001"),
        "{listed}"
    );
    cli(&[
        "add",
        "3001",
        "--name",
        "Per Dahl",
        "--password",
        "cli-pass-1",
    ]);
    cli(&["passwd", "1002", "--password", "cli-pass-2"]);
    // The node re-reads credentials every 5 s. Wait for that rather than retrying REGISTERs: failed
    // attempts would (rightly) get this source banned. The SIP core counts the users it was given.
    let updates = |server: &Server| metric(server, "switchboard_sip_credential_updates_total");
    wait_until(
        "the CLI's changes to be applied",
        Duration::from_secs(15),
        || updates(&server) >= updates_before + 2.0,
    );
    assert!(register(&server, "3001", "cli-pass-1"));
    assert!(register(&server, "1002", "cli-pass-2"));
    let generated = cli(&["add", "3002", "--name", "Eva Lie"]);
    let password = generated
        .lines()
        .find_map(|l| l.strip_prefix("password: "))
        .expect("generated password printed")
        .to_string();
    assert!(password.len() >= 16);
    wait_until(
        "the generated password to be applied",
        Duration::from_secs(15),
        || updates(&server) >= updates_before + 3.0,
    );
    assert!(register(&server, "3002", &password));
    cli(&["remove", "3001"]);
    wait_until("the removal to be applied", Duration::from_secs(15), || {
        metric(&server, "switchboard_sip_users_removed_total") >= 1.0
    });
    // Exactly the CLI's changes reached the SIP core, each once.
    assert_eq!(updates(&server), updates_before + 3.0);
    assert!(
        registrations(&server).iter().all(|r| r["aor"] != "3001"),
        "the removed user's binding is gone"
    );
    assert!(
        !register(&server, "3001", "cli-pass-1"),
        "removed user refused"
    );
}
