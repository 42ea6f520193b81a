//! SIPp as the carrier and as registered staff phones, for end-to-end tests of call routing.
//!
//! Each phone is a SIPp instance: it registers a demo user from 127.0.0.1:PORT (register_only.xml), then
//! a UAS scenario listens on that same port, because the B2BUA rings a user at the address the user
//! registered from.

use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::audio::write_tone_wav;
use super::baresip::KillOnDrop;
use super::{registrations, sipp_as, wait_until, Server, ServerOptions};

/// A staff phone: the demo user and the port it registers from and answers on.
pub struct Phone {
    pub user: &'static str,
    pub sip_port: u16,
    pub media_port: u16,
}

/// Registers `phone.user` from 127.0.0.1:`phone.sip_port`.
pub fn register(server: &Server, phone: &Phone) {
    let password = format!("demo-{}", phone.user);
    let port = phone.sip_port.to_string();
    let out = sipp_as(
        server,
        "register_only.xml",
        (phone.user, &password),
        1,
        &["-p", &port, "-timeout", "10"],
    );
    assert!(
        out.status.success(),
        "{} did not register from port {port}: {}\n{}",
        phone.user,
        String::from_utf8_lossy(&out.stderr),
        server.log_text()
    );
    let contact = format!("127.0.0.1:{port}");
    wait_until(
        &format!("{}'s registration", phone.user),
        Duration::from_secs(5),
        || {
            registrations(server)
                .iter()
                .any(|r| r["aor"] == phone.user && r.to_string().contains(&contact))
        },
    );
}

/// Starts `scenario` (a file in tests/sipp) as `phone`'s UAS for `calls` calls; its messages and
/// errors land in `dir` as `<user>.msg.log` / `<user>.err.log`.
pub fn answer_as(dir: &Path, phone: &Phone, scenario: &str, calls: u32) -> KillOnDrop {
    answer_as_with(dir, phone, scenario, calls, &[])
}

/// [`answer_as`] with more SIPp arguments (e.g. `-rtp_echo`).
pub fn answer_as_with(
    dir: &Path,
    phone: &Phone,
    scenario: &str,
    calls: u32,
    extra: &[&str],
) -> KillOnDrop {
    let child = Command::new("sipp")
        .args(extra)
        .arg("-sf")
        .arg(super::sipp_dir().join(scenario))
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            &phone.sip_port.to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &phone.media_port.to_string(),
            "-m",
            &calls.to_string(),
            "-nostdin",
            "-timeout",
            "25",
            "-trace_msg",
            "-trace_err",
            "-message_file",
        ])
        .arg(dir.join(format!("{}.msg.log", phone.user)))
        .arg("-error_file")
        .arg(dir.join(format!("{}.err.log", phone.user)))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("sipp runs (apt-get install sip-tester)");
    let child = KillOnDrop(child);
    super::wait_udp_listening(phone.sip_port, Duration::from_secs(10));
    child
}

/// Registers the phone, then has it wait for calls with `scenario`.
pub fn phone(server: &Server, dir: &Path, phone: &Phone, scenario: &str, calls: u32) -> KillOnDrop {
    register(server, phone);
    answer_as(dir, phone, scenario, calls)
}

/// The carrier (SIPp from 127.0.0.1, the demo trunk's address) runs `scenario` (a path) to
/// `dialled`, `calls` times one after the other, from `sip_port`; returns SIPp's exit status.
pub fn carrier_calls(
    server: &Server,
    dir: &Path,
    scenario: &Path,
    dialled: &str,
    calls: u32,
    ports: (u16, u16),
) -> ExitStatus {
    carrier_command(server, dir, scenario, dialled, calls, ports)
        .status()
        .expect("sipp runs (apt-get install sip-tester)")
}

/// As [`carrier_calls`], but in the background: several callers at once.
pub fn spawn_carrier_calls(
    server: &Server,
    dir: &Path,
    scenario: &Path,
    dialled: &str,
    calls: u32,
    ports: (u16, u16),
) -> KillOnDrop {
    KillOnDrop(
        carrier_command(server, dir, scenario, dialled, calls, ports)
            .spawn()
            .expect("sipp runs (apt-get install sip-tester)"),
    )
}

fn carrier_command(
    server: &Server,
    dir: &Path,
    scenario: &Path,
    dialled: &str,
    calls: u32,
    (sip_port, media_port): (u16, u16),
) -> Command {
    let name = scenario
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cmd = Command::new("sipp");
    cmd.arg(server.sip.to_string())
        .arg("-sf")
        .arg(scenario)
        .args([
            "-s",
            dialled,
            "-m",
            &calls.to_string(),
            // One call at a time: the next starts when the previous one has ended.
            "-l",
            "1",
            "-i",
            "127.0.0.1",
            "-p",
            &sip_port.to_string(),
            "-mi",
            "127.0.0.1",
            "-mp",
            &media_port.to_string(),
            "-nostdin",
            "-timeout",
            "25",
            "-trace_msg",
            "-trace_err",
            "-message_file",
        ])
        .arg(dir.join(format!("carrier-{name}.msg.log")))
        .arg("-error_file")
        .arg(dir.join(format!("carrier-{name}.err.log")))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// A copy of a SIPp scenario (tests/sipp) in `dir`, with each `(text, replacement)` applied.
pub fn scenario_edited(dir: &Path, name: &str, replace: &[(&str, &str)]) -> std::path::PathBuf {
    let mut text = std::fs::read_to_string(super::sipp_dir().join(name)).expect("scenario");
    for (k, v) in replace {
        text = text.replace(k, v);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// A copy of a SIPp scenario with `[$name]` placeholders written in (SIPp expands no variables in
/// some places, e.g. rtp_stream's file name).
pub fn scenario(dir: &Path, name: &str, vars: &[(&str, &str)]) -> std::path::PathBuf {
    let keys: Vec<(String, &str)> = vars.iter().map(|(k, v)| (format!("[${k}]"), *v)).collect();
    let replace: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    scenario_edited(dir, name, &replace)
}

/// SIPp as a far end answering on 127.0.0.1:`port` (a carrier, a mobile behind it, a registrar)
/// with `scenario`, for `calls` calls (0: until killed); its messages and errors land in `dir` as
/// `name.msg.log` / `name.err.log`.
pub fn spawn_far_end(
    dir: &Path,
    name: &str,
    scenario: &Path,
    (port, media_port): (u16, u16),
    calls: u32,
) -> KillOnDrop {
    let mut cmd = Command::new("sipp");
    cmd.arg("-sf")
        .arg(scenario)
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mi", "127.0.0.1", "-mp", &media_port.to_string()])
        .args(["-nostdin", "-timeout", "60", "-trace_err", "-trace_msg"])
        .arg("-message_file")
        .arg(dir.join(format!("{name}.msg.log")))
        .arg("-error_file")
        .arg(dir.join(format!("{name}.err.log")))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if calls > 0 {
        cmd.args(["-m", &calls.to_string()]);
    }
    let child = KillOnDrop(cmd.spawn().expect("sipp runs (apt-get install sip-tester)"));
    // Ready for the B2BUA's INVITE once it listens.
    super::wait_udp_listening(port, Duration::from_secs(10));
    child
}

/// call_user.xml filled in: the carrier streams a tone for `talk_ms`, then hangs up.
pub fn carrier_hangs_up_after(dir: &Path, talk_ms: u32) -> std::path::PathBuf {
    let tone = dir.join("tone.wav");
    write_tone_wav(&tone, 1000.0, 3.0);
    scenario(
        dir,
        "call_user.xml",
        &[
            ("tone", &tone.to_string_lossy()),
            ("talk_ms", &talk_ms.to_string()),
        ],
    )
}

/// Waits for a SIPp phone to finish its calls; `None` if it is still running after `timeout`.
pub fn wait_exit(child: &mut KillOnDrop, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Ok(Some(status)) = child.0.try_wait() {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap_or_default()
}

/// Asserts the phone's SIPp finished all its calls successfully (within 10 s).
pub fn assert_phone_ok(server: &Server, dir: &Path, child: &mut KillOnDrop, user: &str) {
    let status = wait_exit(child, Duration::from_secs(10));
    assert!(
        status.is_some_and(|s| s.success()),
        "phone {user}: {status:?}\nerrors: {}\nmessages:\n{}\nserver:\n{}",
        read(dir, &format!("{user}.err.log")),
        read(dir, &format!("{user}.msg.log")),
        server.log_text()
    );
}

pub fn assert_carrier_ok(server: &Server, dir: &Path, status: ExitStatus, name: &str) {
    assert!(
        status.success(),
        "carrier ({name}): {status}\nerrors: {}\nmessages:\n{}\nserver:\n{}",
        read(dir, &format!("carrier-{name}.err.log")),
        read(dir, &format!("carrier-{name}.msg.log")),
        server.log_text()
    );
}

/// The newest `n` call records, oldest first, once all are closed.
pub fn closed_cdrs(server: &Server, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, body) = server.get(&format!("/api/v1/cdrs?limit={n}"));
        let page: Value = serde_json::from_str(&body).unwrap_or_default();
        let mut cdrs = page["cdrs"].as_array().cloned().unwrap_or_default();
        if status == 200 && cdrs.len() == n && cdrs.iter().all(|c| !c["ended_at_ms"].is_null()) {
            cdrs.reverse();
            return cdrs;
        }
        assert!(
            Instant::now() < deadline,
            "no {n} closed CDRs: {body}\n{}",
            server.log_text()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The final status of each leg the call tried for `target`.
pub fn leg_statuses(cdr: &Value, target: &str) -> Vec<u64> {
    cdr["legs"]
        .as_array()
        .map(|legs| {
            legs.iter()
                .filter(|l| l["target"] == target)
                .filter_map(|l| l["status"].as_u64())
                .collect()
        })
        .unwrap_or_default()
}

pub fn start_server() -> (Server, tempfile::TempDir) {
    let server = Server::start(ServerOptions {
        demo: true,
        ..Default::default()
    });
    // The carrier's address must be known as a trunk source before it calls.
    super::wait_trunks_active(&server);
    (server, tempfile::tempdir().expect("temp dir"))
}

/// A citizen calls `dialled` (a queue whose member is rung on the mobile only) and talks 4 s; the
/// mobile, SIPp on the demo trunk's far end (5090), answers and presses 1. Returns the call record.
pub fn queue_call_answered_on_mobile(
    server: &Server,
    dir: &Path,
    dialled: &str,
    mobile_media_port: u16,
    caller_ports: (u16, u16),
) -> Value {
    let mobile_sf = scenario(
        dir,
        "carrier_confirm.xml",
        &[("dtmf_pcap", "/usr/share/sip-tester/dtmf_2833_1.pcap")],
    );
    let mut mobile = spawn_far_end(dir, "mobile", &mobile_sf, (5090, mobile_media_port), 1);
    let caller = carrier_hangs_up_after(dir, 4000);
    let status = carrier_calls(server, dir, &caller, dialled, 1, caller_ports);
    assert_carrier_ok(server, dir, status, "call_user");
    let status = wait_exit(&mut mobile, Duration::from_secs(15));
    assert!(
        status.is_some_and(|s| s.success()),
        "the mobile: {}\n{}",
        read(dir, "mobile.err.log"),
        server.log_text()
    );
    closed_cdrs(server, 1).remove(0)
}

/// The citizen's side of a booked callback: SIPp on the demo trunk's far end (5090) answers with a
/// 1 kHz tone for 3 s once `agent_back` (which makes the agent available) has run; asserts the
/// callback went to `number`.
pub fn citizen_answers_callback(
    server: &Server,
    dir: &Path,
    number: &str,
    media_port: u16,
    agent_back: impl FnOnce(),
) {
    let tone = dir.join("tone.wav");
    write_tone_wav(&tone, 1000.0, 4.0);
    let answer = scenario(
        dir,
        "carrier_answer_tone.xml",
        &[("tone", &tone.to_string_lossy()), ("talk_ms", "3000")],
    );
    let mut citizen = spawn_far_end(dir, "citizen", &answer, (5090, media_port), 1);
    agent_back();
    let status = wait_exit(&mut citizen, Duration::from_secs(25));
    assert!(
        status.is_some_and(|s| s.success()),
        "the citizen's side: {status:?}\n{}\n{}",
        read(dir, "citizen.err.log"),
        server.log_text()
    );
    let messages = read(dir, "citizen.msg.log");
    assert!(
        messages.contains(&format!("INVITE sip:{number}@127.0.0.1:5090")),
        "the callback went to {number}: {messages}"
    );
}
