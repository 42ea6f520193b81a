//! baresip 1.0 (a real softphone) registers to the running binary over UDP and over TCP. baresip will not
//! use loopback, so each test runs in its own network namespace with a veth pair (10.200.0.1 on v0).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{in_private_netns, registrations, wait_until, Server, ServerOptions, VETH_SETUP};

fn baresip_registers(test: &str, user: &str, transport: &str) {
    if !in_private_netns(test, VETH_SETUP) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        ..Default::default()
    });
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("config"),
        "sip_listen 10.200.0.1:15060\nmodule_path /usr/lib/baresip/modules\nmodule g711.so\n\
         module account.so\nmodule menu.so\nnet_interface v0\naudio_alert aufile,/dev/null\n\
         rtp_ports 40000-40100\n",
    )
    .expect("baresip config");
    std::fs::write(
        dir.path().join("accounts"),
        format!(
            "<sip:{user}@10.200.0.1:5070;transport={transport}>;auth_pass=demo-{user};regint=60\n"
        ),
    )
    .expect("baresip accounts");
    let log = std::fs::File::create(dir.path().join("baresip.log")).expect("log");
    // -t: baresip quits (and unregisters) by itself after that many seconds.
    let mut baresip = Command::new("baresip")
        .arg("-f")
        .arg(dir.path())
        .args(["-t", "6"])
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log)
        .spawn()
        .expect("baresip runs (apt-get install baresip-core)");
    let baresip_log =
        || std::fs::read_to_string(dir.path().join("baresip.log")).unwrap_or_default();
    wait_until("baresip's registration", Duration::from_secs(5), || {
        registrations(&server)
            .iter()
            .any(|r| r["aor"] == user && r["transport"] == transport)
    });
    let regs = registrations(&server);
    assert!(
        regs[0]["user_agent"]
            .as_str()
            .is_some_and(|ua| ua.contains("baresip")),
        "{regs:?}"
    );
    let status = baresip.wait().expect("baresip exits");
    assert!(status.success(), "baresip failed: {}", baresip_log());
    assert!(baresip_log().contains("200 OK"), "{}", baresip_log());
    // On exit baresip unregisters.
    wait_until("baresip's unregistration", Duration::from_secs(3), || {
        registrations(&server).is_empty()
    });
}

#[test]
fn baresip_registers_over_udp() {
    baresip_registers("baresip_registers_over_udp", "1008", "udp");
}

#[test]
fn baresip_registers_over_tcp() {
    baresip_registers("baresip_registers_over_tcp", "1009", "tcp");
}
