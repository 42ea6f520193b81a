//! Staff flows through the running binary, each steered by the staff member's own login (roles and
//! a password given by an admin, then `/api/v1/auth/login`): do-not-disturb makes a ring-all group
//! skip that member's phone (baresip), and pausing in a queue stops offers until the agent resumes
//! (SIPp phone). Asserted through the call records, the queue's live state and the staff API.
//! Ports: SIPp 26000–26099, its media 26500–26599.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::baresip::{Baresip, Phone as Baresip_Phone};
use common::phones::*;
use common::{
    http_request, http_request_as, in_private_netns, staff_login, wait_until, Server,
    ServerOptions, VETH_SETUP,
};
use serde_json::{json, Value};

fn post(server: &Server, path: &str, body: Value) -> Value {
    let (status, text) = http_request(server.http, "POST", path, Some(&body.to_string()));
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn as_staff(server: &Server, token: &str, method: &str, path: &str, body: Option<Value>) -> Value {
    let body = body.map(|b| b.to_string());
    let (status, text) = http_request_as(server.http, method, path, token, body.as_deref());
    assert!(
        (200..300).contains(&status),
        "{method} {path}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

const GROUP_NUMBER: &str = "+4764000960";

#[test]
fn do_not_disturb_makes_a_ring_all_group_skip_that_members_phone() {
    if !in_private_netns(
        "do_not_disturb_makes_a_ring_all_group_skip_that_members_phone",
        VETH_SETUP,
    ) {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "10.200.0.1:5070",
        demo: true,
        ..Default::default()
    });
    common::wait_trunks_active(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    let dir = dir.path();
    let group = post(
        &server,
        "/api/v1/hunt-groups",
        json!({"name": "Servicetorget", "strategy": "ring_all", "ring_time_secs": 4,
               "timeout_secs": 15, "members": [{"username": "1006"}, {"username": "1007"}]}),
    );
    post(
        &server,
        "/api/v1/numbers",
        json!({"number": GROUP_NUMBER, "target_kind": "hunt_group",
               "target_ref": group["id"].as_i64().expect("id").to_string()}),
    );
    // 1007 answers on baresip (auto-answer); 1006 on a SIPp phone that answers two calls.
    let _baresip = Baresip::start(
        &dir.join("baresip"),
        &server,
        Baresip_Phone {
            user: "1007",
            sip_port: 15060,
            ctrl_port: 4444,
            rtp_ports: (40000, 40100),
            tone_hz: 600,
            sip_trace: false,
            transport: "udp",
        },
    );
    let mut sipp_phone = phone(
        &server,
        dir,
        &Phone {
            user: "1006",
            sip_port: 26010,
            media_port: 26510,
        },
        "phone_answer.xml",
        1,
    );

    // 1007 turns on do-not-disturb in the staff app, with a note.
    let token = staff_login(&server, "1007", &["staff"]);
    let set = as_staff(
        &server,
        &token,
        "PUT",
        "/api/v1/me/presence",
        Some(json!({"status": "dnd", "note": "I møte"})),
    );
    assert_eq!(set["status"], "dnd", "{set}");
    let colleagues = as_staff(&server, &token, "GET", "/api/v1/directory?q=1007", None);
    assert_eq!(
        colleagues["colleagues"][0]["presence"]["status"], "dnd",
        "{colleagues}"
    );

    let caller = carrier_hangs_up_after(dir, 1000);
    let status = carrier_calls(&server, dir, &caller, GROUP_NUMBER, 1, (26020, 26520));
    assert_carrier_ok(&server, dir, status, "call_user");
    assert_phone_ok(&server, dir, &mut sipp_phone, "1006");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1006", "{cdr}");
    assert_eq!(leg_statuses(&cdr, "1007"), Vec::<u64>::new(), "{cdr}");

    // Available again: the next call rings 1007's baresip too, which answers it at once.
    as_staff(
        &server,
        &token,
        "PUT",
        "/api/v1/me/presence",
        Some(json!({"status": "available"})),
    );
    let _second_phone = phone_ringing(&server, dir);
    let status = carrier_calls(&server, dir, &caller, GROUP_NUMBER, 1, (26022, 26522));
    assert_carrier_ok(&server, dir, status, "call_user");
    let cdr = closed_cdrs(&server, 2).remove(1);
    assert_eq!(cdr["answered_by"], "1007", "{cdr}");
    assert_eq!(leg_statuses(&cdr, "1007"), [200], "{cdr}");
}

/// 1006's SIPp phone, ringing until cancelled, for the second call.
fn phone_ringing(server: &Server, dir: &Path) -> common::baresip::KillOnDrop {
    phone(
        server,
        dir,
        &Phone {
            user: "1006",
            sip_port: 26012,
            media_port: 26512,
        },
        "phone_ring_until_cancel.xml",
        1,
    )
}

const QUEUE_NUMBER: &str = "+4764000961";

/// The staff member's own event feed (`/api/v1/events` with their token), read in the background.
struct Feed {
    text: std::sync::Arc<std::sync::Mutex<String>>,
}

impl Feed {
    fn open(server: &Server, token: &str) -> Feed {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(server.http).expect("connect");
        write!(
            stream,
            "GET /api/v1/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\n\r\n",
            server.http
        )
        .expect("send");
        let text = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stream.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .expect("feed")
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Feed { text }
    }

    /// The data of every event named `name` so far.
    fn of_type(&self, name: &str) -> Vec<Value> {
        let text = self.text.lock().expect("feed").clone();
        let marker = format!("event: {name}\n");
        text.split("\n\n")
            .filter(|block| block.contains(&marker))
            .filter_map(|block| block.lines().find_map(|l| l.strip_prefix("data: ")))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    }

    fn wait_for(&self, name: &str) -> Vec<Value> {
        wait_until(&format!("a {name} event"), Duration::from_secs(5), || {
            !self.of_type(name).is_empty()
        });
        self.of_type(name)
    }
}

fn queue_live(server: &Server, queue: i64) -> Value {
    let (status, text) = server.get(&format!("/api/v1/queues/{queue}/live"));
    if status != 200 {
        return Value::Null;
    }
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

#[test]
fn a_paused_agent_gets_no_offers_until_they_resume() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let queue = post(
        &server,
        "/api/v1/queues",
        json!({"name": "Byggesak", "ring_timeout_secs": 10, "greeting_prompt": null,
               "announce_every_secs": null, "members": [{"user": "1003"}]}),
    )["id"]
        .as_i64()
        .expect("queue id");
    post(
        &server,
        "/api/v1/numbers",
        json!({"number": QUEUE_NUMBER, "target_kind": "queue", "target_ref": queue.to_string()}),
    );
    let mut agent_phone = phone(
        &server,
        dir,
        &Phone {
            user: "1003",
            sip_port: 26030,
            media_port: 26530,
        },
        "phone_answer.xml",
        1,
    );
    let token = staff_login(&server, "1003", &["staff"]);
    let feed = Feed::open(&server, &token);
    let mine = as_staff(&server, &token, "GET", "/api/v1/me/queues", None);
    assert_eq!(mine["queues"][0]["id"], queue, "{mine}");
    assert_eq!(mine["agent_state"], "available", "{mine}");
    as_staff(
        &server,
        &token,
        "PUT",
        "/api/v1/me/agent-state",
        Some(json!({"state": "paused", "reason": "lunsj"})),
    );
    let mine = as_staff(&server, &token, "GET", "/api/v1/me/queues", None);
    assert_eq!(
        (&mine["agent_state"], &mine["pause_reason"]),
        (&json!("paused"), &json!("lunsj")),
        "{mine}"
    );

    // A citizen calls and waits 8 s in all.
    let caller = carrier_hangs_up_after(dir, 8000);
    let mut citizen = spawn_carrier_calls(&server, dir, &caller, QUEUE_NUMBER, 1, (26040, 26540));
    wait_until("the citizen waiting", Duration::from_secs(5), || {
        queue_live(&server, queue)["waiting"]
            .as_array()
            .is_some_and(|w| w.len() == 1)
    });
    // Two seconds paused with a caller waiting: no offer (the phone would have answered it).
    let paused_until = Instant::now() + Duration::from_secs(2);
    while Instant::now() < paused_until {
        let live = queue_live(&server, queue);
        assert_eq!(live["waiting"].as_array().map(Vec::len), Some(1), "{live}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let resumed_at_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64;
    as_staff(
        &server,
        &token,
        "PUT",
        "/api/v1/me/agent-state",
        Some(json!({"state": "available"})),
    );
    let status = wait_exit(&mut citizen, Duration::from_secs(20)).expect("the citizen's call ends");
    assert_carrier_ok(&server, dir, status, "call_user");
    assert_phone_ok(&server, dir, &mut agent_phone, "1003");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1003", "{cdr}");
    assert_eq!(cdr["queue_outcome"], "answered", "{cdr}");
    let answered = cdr["answered_at_ms"].as_i64().expect("answered_at_ms");
    assert!(
        answered >= resumed_at_ms,
        "answered at {answered}, resumed at {resumed_at_ms}"
    );
    // The agent's own feed told them about their pause, their queue's caller and their call.
    let paused = feed.wait_for("agent_state_changed");
    assert_eq!(
        (&paused[0]["state"], &paused[0]["reason"]),
        (&json!("paused"), &json!("lunsj"))
    );
    assert_eq!(feed.wait_for("caller_queued")[0]["queue"], queue);
    assert_eq!(feed.wait_for("call_answered")[0]["by"], "1003");
    assert_eq!(feed.wait_for("call_ended")[0]["answered_by"], "1003");
}

const MISSED_QUEUE_NUMBER: &str = "+4764000962";

#[test]
fn a_missed_queue_call_shows_called_back_once_a_colleague_calls_the_number() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let queue = post(
        &server,
        "/api/v1/queues",
        json!({"name": "Skatt", "greeting_prompt": null, "announce_every_secs": null,
               "members": [{"user": "1003"}, {"user": "1004"}]}),
    )["id"]
        .as_i64()
        .expect("queue id");
    post(
        &server,
        "/api/v1/numbers",
        json!({"number": MISSED_QUEUE_NUMBER, "target_kind": "queue", "target_ref": queue.to_string()}),
    );
    // Nobody's phone is registered: the citizen waits two seconds and hangs up.
    let caller = carrier_hangs_up_after(dir, 2000);
    let status = carrier_calls(
        &server,
        dir,
        &caller,
        MISSED_QUEUE_NUMBER,
        1,
        (26050, 26550),
    );
    assert_carrier_ok(&server, dir, status, "call_user");
    let missed = closed_cdrs(&server, 1).remove(0);
    assert_eq!(missed["queue_outcome"], "abandoned", "{missed}");
    let ingrid = staff_login(&server, "1003", &["staff"]);
    let list = as_staff(
        &server,
        &ingrid,
        "GET",
        "/api/v1/me/missed-queue-calls",
        None,
    );
    assert_eq!(list["calls"][0]["from"], "+4791234567", "{list}");
    assert_eq!(list["calls"][0]["called_back"], false, "{list}");

    // Colleague 1004 calls the citizen back from the app (the number as people write it): their
    // SIPp phone answers, then the carrier answers the call out.
    let _lars_phone = phone(
        &server,
        dir,
        &Phone {
            user: "1004",
            sip_port: 26060,
            media_port: 26560,
        },
        "phone_answer.xml",
        1,
    );
    let mut carrier = spawn_far_end(
        dir,
        "carrier",
        &common::sipp_dir().join("carrier_answer.xml"),
        (5090, 26570),
        1,
    );
    let lars = staff_login(&server, "1004", &["staff"]);
    let placed = as_staff(
        &server,
        &lars,
        "POST",
        "/api/v1/me/calls",
        Some(json!({"to": "91234567"})),
    );
    assert!(placed["id"].is_u64(), "{placed}");
    let status = wait_exit(&mut carrier, Duration::from_secs(20)).expect("the carrier's call ends");
    assert!(
        status.success(),
        "carrier: {}",
        read(dir, "carrier.msg.log")
    );
    let back = closed_cdrs(&server, 2).remove(1);
    assert_eq!(
        (&back["from_number"], &back["answered_by"]),
        (&json!("1004"), &json!("carrier")),
        "{back}"
    );
    let list = as_staff(
        &server,
        &ingrid,
        "GET",
        "/api/v1/me/missed-queue-calls",
        None,
    );
    assert_eq!(list["calls"][0]["called_back"], true, "{list}");
    assert_eq!(list["calls"][0]["called_back_by"], "1004", "{list}");
}
