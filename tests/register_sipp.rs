//! Registration against the running binary with SIPp 3.6 as the client (MD5 digest).

mod common;

use common::{registrations, sipp, sipp_as, sipp_messages, PgDatabase, Server, ServerOptions};

fn assert_sipp_ok(out: &std::process::Output, what: &str, server: &Server) {
    assert!(
        out.status.success(),
        "{what}: sipp failed ({})\nstdout: {}\nstderr: {}\nserver log:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
}

#[test]
fn sipp_registers_refreshes_and_unregisters_over_udp() {
    let server = Server::start(ServerOptions::default());
    let out = sipp_as(
        &server,
        "register_unregister.xml",
        ("1001", "demo-1001"),
        1,
        &[],
    );
    assert_sipp_ok(&out, "register/refresh/unregister over UDP", &server);
    let msgs = sipp_messages(&server.dir, "register_unregister.xml");
    assert!(
        msgs.contains("algorithm=MD5"),
        "MD5 challenge expected:\n{msgs}"
    );
    assert!(
        registrations(&server).is_empty(),
        "unregistered user still bound"
    );
}

#[test]
fn sipp_registers_over_tcp() {
    let server = Server::start(ServerOptions::default());
    let out = sipp_as(
        &server,
        "register_only.xml",
        ("1002", "demo-1002"),
        1,
        &["-t", "t1"],
    );
    assert_sipp_ok(&out, "register over TCP", &server);
    let regs = registrations(&server);
    assert_eq!(regs.len(), 1, "{regs:?}");
    assert_eq!(regs[0]["aor"], "1002");
    assert_eq!(regs[0]["transport"], "tcp");
}

#[test]
fn wrong_password_gets_403() {
    let server = Server::start(ServerOptions::default());
    let out = sipp_as(
        &server,
        "register_wrong_password.xml",
        ("1003", "not-the-password"),
        1,
        &[],
    );
    assert_sipp_ok(&out, "wrong password answered 401 then 403", &server);
    assert!(registrations(&server).is_empty());
}

#[test]
fn repeated_failures_ban_the_source() {
    let server = Server::start(ServerOptions {
        config_toml: Some("[auth_guard]\nmax_failures = 3\nwindow_secs = 60\nban_secs = 300\n"),
        ..Default::default()
    });
    let out = sipp_as(
        &server,
        "register_wrong_password.xml",
        ("1004", "wrong-password"),
        3,
        &[],
    );
    assert_sipp_ok(&out, "three failures, each answered 403", &server);
    // Now even the right password from this source goes unanswered.
    let out = sipp_as(
        &server,
        "register_only.xml",
        ("1004", "demo-1004"),
        1,
        &["-recv_timeout", "3000"],
    );
    assert!(
        !out.status.success(),
        "a banned source must not be answered"
    );
    let msgs = sipp_messages(&server.dir, "register_only.xml");
    assert!(
        !msgs.contains("SIP/2.0 "),
        "banned source got a reply:\n{msgs}"
    );
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("switchboard_registrar_bans_total 1"),
        "{metrics}"
    );
    assert!(registrations(&server).is_empty());
}

fn registration_survives_restart(db: Option<String>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let opts = || ServerOptions {
        db: db.clone(),
        dir: Some(dir.path().to_path_buf()),
        ..Default::default()
    };
    let server = Server::start(opts());
    let out = sipp_as(&server, "register_only.xml", ("1005", "demo-1005"), 1, &[]);
    assert_sipp_ok(&out, "register before restart", &server);
    let before = registrations(&server);
    assert_eq!(before.len(), 1);
    let status = server.stop();
    assert!(status.success(), "clean shutdown on SIGTERM: {status}");

    let server = Server::start(opts());
    let after = registrations(&server);
    assert_eq!(
        after.len(),
        1,
        "registration lost across restart: {after:?}\n{}",
        server.log_text()
    );
    assert_eq!(after[0]["aor"], "1005");
    assert_eq!(after[0]["contact"], before[0]["contact"]);
    assert_eq!(after[0]["expires_at"], before[0]["expires_at"]);
}

#[test]
fn registration_survives_restart_on_sqlite() {
    registration_survives_restart(None);
}

#[test]
fn registration_survives_restart_on_postgres() {
    let pg = PgDatabase::create();
    registration_survives_restart(Some(pg.url.clone()));
}

#[test]
fn options_is_answered_with_capabilities() {
    let server = Server::start(ServerOptions::default());
    let out = sipp(
        &server.dir,
        "options.xml",
        server.sip,
        &["-m", "1", "-i", "127.0.0.1"],
    );
    assert_sipp_ok(&out, "OPTIONS ping", &server);
    let msgs = sipp_messages(&server.dir, "options.xml");
    assert!(
        msgs.contains("Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, REGISTER, REFER, UPDATE, PRACK"),
        "{msgs}"
    );
}
