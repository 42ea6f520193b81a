//! Queue features through the running binary, with SIPp callers on the demo trunk and SIPp phones as
//! agents: priority callers, a callback to a keyed-in number, opening hours on a queue and a menu, a
//! member's mobile rung after their delay, auto-pause, the receptionists' event feed and historical
//! statistics. Ports: SIPp signalling 19000–19499, its media 19500–19999.

mod common;

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::baresip::KillOnDrop;
use common::phones::*;
use common::{http_request, wait_until, Server};
use serde_json::{json, Value};

fn post(server: &Server, path: &str, body: Value) -> Value {
    let (status, text) = http_request(server.http, "POST", path, Some(&body.to_string()));
    assert_eq!(status, 201, "POST {path}: {text}");
    serde_json::from_str(&text).expect("JSON")
}

fn put(server: &Server, path: &str, body: Value) -> String {
    let (status, text) = http_request(server.http, "PUT", path, Some(&body.to_string()));
    assert!(
        status == 200 || status == 204,
        "PUT {path}: {status} {text}"
    );
    text
}

fn agent_state(server: &Server, user: &str, state: &str) {
    put(
        server,
        &format!("/api/v1/agents/{user}/state"),
        json!({ "state": state }),
    );
}

/// A queue on its own number; returns the queue's id.
fn queue_on(server: &Server, number: &str, queue: Value, priority: i64) -> i64 {
    let id = post(server, "/api/v1/queues", queue)["id"]
        .as_i64()
        .expect("queue id");
    number_to_queue(server, number, id, priority);
    id
}

fn number_to_queue(server: &Server, number: &str, queue: i64, priority: i64) {
    post(
        server,
        "/api/v1/numbers",
        json!({
            "number": number,
            "target_kind": "queue",
            "target_ref": queue.to_string(),
            "priority": priority,
        }),
    );
}

fn history(server: &Server, queue: i64) -> Value {
    let (status, text) = server.get(&format!("/api/v1/queues/{queue}/history"));
    assert_eq!(status, 200, "{text}");
    serde_json::from_str(&text).expect("history JSON")
}

/// The receptionists' event feed (`/api/v1/events`), read in the background by curl — what an admin
/// would use (`curl -N`), and an HTTP client that is not ours.
struct Feed {
    text: Arc<Mutex<String>>,
    _curl: KillOnDrop,
}

impl Feed {
    fn open(server: &Server) -> Feed {
        // -v: the response head goes to stderr at once (with -i curl holds it until the first
        // event), and the head is how we know the feed is open.
        let mut curl = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(
                "exec curl -sNv --noproxy '*' http://{}/api/v1/events 2>&1",
                server.http
            ))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("curl runs");
        let mut stdout = curl.stdout.take().expect("curl's output");
        let text = Arc::new(Mutex::new(String::new()));
        let sink = text.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = sink.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }
        });
        let feed = Feed {
            text,
            _curl: KillOnDrop(curl),
        };
        wait_until("the event feed answers", Duration::from_secs(5), || {
            feed.raw().contains("text/event-stream")
        });
        feed
    }

    fn raw(&self) -> String {
        self.text.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Every event's data so far (a `data:` line each).
    fn events(&self) -> Vec<Value> {
        self.raw()
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .filter_map(|d| serde_json::from_str(d).ok())
            .collect()
    }

    fn of_type(&self, kind: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == kind)
            .collect()
    }

    fn wait_for(&self, kind: &str, count: usize, server: &Server) -> Vec<Value> {
        wait_until(kind, Duration::from_secs(20), || {
            self.of_type(kind).len() >= count
        });
        let found = self.of_type(kind);
        assert!(
            found.len() >= count,
            "{kind}: {}\n{}",
            self.raw(),
            server.log_text()
        );
        found
    }
}

/// A caller: their scenario, the number they dial, their SIPp ports.
type Caller<'a> = (&'a std::path::Path, &'a str, (u16, u16));

/// `first` calls and is queued with no priority, then `second`, who must get `priority` and so go
/// ahead of `first` (position 1). Returns both callers, still running.
fn second_goes_first(
    server: &Server,
    dir: &std::path::Path,
    feed: &Feed,
    first: Caller<'_>,
    second: Caller<'_>,
    priority: u8,
) -> (KillOnDrop, KillOnDrop) {
    let a = spawn_carrier_calls(server, dir, first.0, first.1, 1, first.2);
    feed.wait_for("caller_queued", 1, server);
    let b = spawn_carrier_calls(server, dir, second.0, second.1, 1, second.2);
    let queued = feed.wait_for("caller_queued", 2, server);
    assert_eq!(queued[0]["priority"], 0, "{queued:?}");
    assert_eq!(queued[1]["priority"], priority, "{queued:?}");
    assert_eq!(
        queued[1]["position"], 1,
        "ahead of the earlier caller: {queued:?}"
    );
    (a, b)
}

#[test]
fn a_priority_caller_is_answered_first_and_receptionists_see_the_queue_move() {
    let (server, dir) = start_server();
    let feed = Feed::open(&server);
    let queue = queue_on(
        &server,
        "+4764000901",
        json!({"name": "Prioritet", "wrap_up_secs": 0, "greeting_prompt": null,
               "announce_every_secs": null, "members": [{"user": "1002"}]}),
        0,
    );
    // The same queue on a second number given to doctors: its callers jump the queue.
    number_to_queue(&server, "+4764000902", queue, 5);
    agent_state(&server, "1002", "logged_out");
    let agent = Phone {
        user: "1002",
        sip_port: 19000,
        media_port: 19500,
    };
    let mut answering = phone(&server, dir.path(), &agent, "phone_answer_then_bye.xml", 2);
    let scenario = common::sipp_dir().join("user_call_answered.xml");
    let doctor_sf = dir.path().join("doctor.xml");
    std::fs::copy(&scenario, &doctor_sf).expect("copy scenario");
    // The doctor goes straight to the head of the queue.
    let (mut normal, mut doctor) = second_goes_first(
        &server,
        dir.path(),
        &feed,
        (&scenario, "+4764000901", (19010, 19510)),
        (&doctor_sf, "+4764000902", (19020, 19520)),
        5,
    );
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains(&format!("switchboard_queue_waiting{{queue=\"{queue}\"}} 2")),
        "both callers waiting, for the dashboards: {metrics}"
    );
    agent_state(&server, "1002", "available");
    for (child, name) in [(&mut doctor, "doctor"), (&mut normal, "user_call_answered")] {
        let status = wait_exit(child, Duration::from_secs(30));
        assert!(
            status.is_some_and(|s| s.success()),
            "{name}: {status:?}\n{}\n{}",
            read(dir.path(), &format!("carrier-{name}.err.log")),
            server.log_text()
        );
    }
    assert_phone_ok(&server, dir.path(), &mut answering, "1002");
    let cdrs = closed_cdrs(&server, 2);
    let answered_at = |number: &str| {
        cdrs.iter()
            .find(|c| c["to_number"].as_str().is_some_and(|t| t.ends_with(number)))
            .and_then(|c| c["answered_at_ms"].as_i64())
            .unwrap_or_else(|| panic!("a record for {number}: {cdrs:?}"))
    };
    assert!(
        answered_at("4764000902") < answered_at("4764000901"),
        "the later priority caller was answered first: {cdrs:#?}"
    );
    for c in &cdrs {
        assert_eq!(c["queue_outcome"], "answered", "{c}");
    }
    let left = feed.wait_for("caller_left", 2, &server);
    assert!(left.iter().all(|e| e["outcome"] == "answered"), "{left:?}");
    let h = history(&server, queue);
    assert_eq!(h["offered"], 2, "{h}");
    assert_eq!(h["answered"], 2, "{h}");
    assert_eq!(h["abandoned"], 0, "{h}");
    assert_eq!(h["agents"][0]["user"], "1002", "{h}");
    assert_eq!(h["agents"][0]["answered"], 2, "{h}");
}

#[test]
fn a_menu_key_can_give_a_caller_priority() {
    let (server, dir) = start_server();
    let feed = Feed::open(&server);
    let queue = post(
        &server,
        "/api/v1/queues",
        json!({"name": "Legevakt", "greeting_prompt": null, "announce_every_secs": null,
               "members": [{"user": "1002"}]}),
    )["id"]
        .as_i64()
        .expect("queue id");
    agent_state(&server, "1002", "logged_out");
    // "Press 1 if you are a health worker": the same queue, with priority 3.
    let menu = post(
        &server,
        "/api/v1/menus",
        json!({"name": "Helsemeny", "prompt": "main_menu",
               "options": {"1": format!("queue:{queue}"), "2": format!("queue:{queue}")},
               "priorities": {"1": 3}}),
    )["id"]
        .as_i64()
        .expect("menu id");
    post(
        &server,
        "/api/v1/numbers",
        json!({"number": "+4764000951", "target_kind": "menu", "target_ref": menu.to_string()}),
    );
    let chooser = |name: &str, key: &str| {
        let sf = scenario(
            dir.path(),
            "carrier_menu_choice.xml",
            &[
                (
                    "dtmf_pcap",
                    &format!("/usr/share/sip-tester/dtmf_2833_{key}.pcap"),
                ),
                ("before_key_ms", "1500"),
                ("talk_ms", "6000"),
            ],
        );
        let copy = dir.path().join(format!("{name}.xml"));
        std::fs::copy(&sf, &copy).expect("copy scenario");
        copy
    };
    let (citizen, nurse) = (chooser("citizen", "2"), chooser("nurse", "1"));
    let _callers = second_goes_first(
        &server,
        dir.path(),
        &feed,
        (&citizen, "+4764000951", (19050, 19550)),
        (&nurse, "+4764000951", (19060, 19560)),
        3,
    );
}

#[test]
fn a_caller_keys_another_number_and_is_called_back_there() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (server, dir) = start_server();
    let feed = Feed::open(&server);
    let queue = queue_on(
        &server,
        "+4764000911",
        json!({"name": "Ring tilbake", "ring_timeout_secs": 10, "callback_after_secs": 1,
               "announce_every_secs": null, "greeting_prompt": null,
               "members": [{"user": "1002"}]}),
        0,
    );
    agent_state(&server, "1002", "logged_out");
    let agent = Phone {
        user: "1002",
        sip_port: 19100,
        media_port: 19600,
    };
    register(&server, &agent);
    let mut agent_phone = answer_as_with(dir.path(), &agent, "phone_answer.xml", 1, &["-rtp_echo"]);
    // "2" for a callback; during the question about which number, another mobile number and #.
    let keys = dir.path().join("keys.pcap");
    common::dtmf::write_keys_pcap(&keys, "2", 8000);
    let number = dir.path().join("number.pcap");
    common::dtmf::write_keys_pcap(&number, "41234568#", 800_000);
    let booking = scenario_edited(
        dir.path(),
        "carrier_book_callback.xml",
        &[
            ("[$dtmf_pcap]", &keys.to_string_lossy()),
            ("[$before_key_ms]", "2500"),
            (
                "  <recv request=\"BYE\"/>",
                &format!(
                    "  <pause milliseconds=\"2500\"/>\n  <nop><action><exec play_pcap_audio=\"{}\"/></action></nop>\n  <recv request=\"BYE\"/>",
                    number.to_string_lossy()
                ),
            ),
        ],
    );
    let status = carrier_calls(
        &server,
        dir.path(),
        &booking,
        "+4764000911",
        1,
        (19110, 19610),
    );
    assert_carrier_ok(&server, dir.path(), status, "carrier_book_callback");
    let requested = feed.wait_for("callback_requested", 1, &server);
    assert_eq!(
        requested[0]["number"],
        "+4741234568",
        "{requested:?}\n{}",
        server.log_text()
    );
    assert_eq!(requested[0]["queue"], queue, "{requested:?}");
    // The keyed number answers on the carrier trunk; the agent comes back and takes the callback.
    citizen_answers_callback(&server, dir.path(), "+4741234568", 19620, || {
        agent_state(&server, "1002", "available")
    });
    assert_phone_ok(&server, dir.path(), &mut agent_phone, "1002");
    let h = history(&server, queue);
    assert_eq!(h["offered"], 1, "{h}");
    assert_eq!(h["callbacks"], 1, "{h}");
}

#[test]
fn a_closed_queue_and_a_closed_menu_send_callers_to_their_closed_targets() {
    let (server, dir) = start_server();
    let schedule = post(
        &server,
        "/api/v1/schedules",
        json!({"name": "Aldri åpen", "schedule": {"weekly": {}}}),
    )["id"]
        .as_i64()
        .expect("schedule id");
    // A queue that is never open: its callers hear "goodbye" (its closed target) and are hung up.
    let queue = queue_on(
        &server,
        "+4764000921",
        json!({"name": "Stengt kø", "greeting_prompt": null, "members": [{"user": "1002"}],
               "schedule_id": schedule, "closed_kind": "message", "closed_ref": "goodbye"}),
        0,
    );
    let caller = common::sipp_dir().join("user_call_answered.xml");
    let status = carrier_calls(
        &server,
        dir.path(),
        &caller,
        "+4764000921",
        1,
        (19200, 19700),
    );
    assert_carrier_ok(&server, dir.path(), status, "user_call_answered");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["hangup_side"], "system", "{cdr}");
    assert!(cdr["queue_id"].is_null(), "never queued: {cdr}");
    // The record names where the call went: the queue's closed target.
    assert_eq!(cdr["target_kind"], "message", "{cdr}");
    assert_eq!(cdr["target_ref"], "goodbye", "{cdr}");
    // A menu under the same schedule, whose closed target is that queue: still closed, so the
    // caller ends at the queue's closed target too.
    let menu = post(
        &server,
        "/api/v1/menus",
        json!({"name": "Stengt meny", "prompt": "main_menu", "options": {"1": format!("queue:{queue}")},
               "schedule_id": schedule, "closed": format!("queue:{queue}")}),
    )["id"]
        .as_i64()
        .expect("menu id");
    post(
        &server,
        "/api/v1/numbers",
        json!({"number": "+4764000922", "target_kind": "menu", "target_ref": menu.to_string()}),
    );
    let status = carrier_calls(
        &server,
        dir.path(),
        &caller,
        "+4764000922",
        1,
        (19210, 19710),
    );
    assert_carrier_ok(&server, dir.path(), status, "user_call_answered");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["hangup_side"], "system", "{cdr}");
    // The closed menu was never started: the call went straight to the queue's closed target.
    assert_eq!(cdr["target_kind"], "message", "{cdr}");
    assert_eq!(cdr["target_ref"], "goodbye", "{cdr}");
    // While a queue or menu follows it, the schedule cannot be deleted.
    let (status, body) = http_request(
        server.http,
        "DELETE",
        &format!("/api/v1/schedules/{schedule}"),
        None,
    );
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("queue") && body.contains("menu"), "{body}");
}

#[test]
fn an_agent_who_misses_an_offer_is_paused_and_receptionists_are_told() {
    let (server, dir) = start_server();
    let feed = Feed::open(&server);
    let queue = queue_on(
        &server,
        "+4764000931",
        json!({"name": "Pause", "ring_timeout_secs": 2, "auto_pause_after": 1,
               "greeting_prompt": null, "announce_every_secs": null,
               "members": [{"user": "1003"}]}),
        0,
    );
    // 1003's phone rings but nobody answers.
    let agent = Phone {
        user: "1003",
        sip_port: 19300,
        media_port: 19800,
    };
    let _ringing = phone(
        &server,
        dir.path(),
        &agent,
        "phone_ring_until_cancel.xml",
        1,
    );
    let caller = carrier_hangs_up_after(dir.path(), 5000);
    let status = carrier_calls(
        &server,
        dir.path(),
        &caller,
        "+4764000931",
        1,
        (19310, 19810),
    );
    assert_carrier_ok(&server, dir.path(), status, "call_user");
    let paused = feed.wait_for("agent_auto_paused", 1, &server);
    assert_eq!(paused[0]["user"], "1003", "{paused:?}");
    assert_eq!(paused[0]["queue"], queue, "{paused:?}");
    let left = feed.wait_for("caller_left", 1, &server);
    assert_eq!(left[0]["outcome"], "abandoned", "{left:?}");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["queue_outcome"], "abandoned", "{cdr}");
    assert!(cdr["queue_wait_ms"].as_i64().unwrap_or(0) > 0, "{cdr}");
    let (_, metrics) = server.get("/metrics");
    for line in [
        format!("switchboard_queue_abandoned_total{{queue=\"{queue}\"}} 1"),
        format!("switchboard_queue_missed_offers_total{{queue=\"{queue}\"}} 1"),
        format!("switchboard_queue_waiting{{queue=\"{queue}\"}} 0"),
    ] {
        assert!(metrics.contains(&line), "{line} in {metrics}");
    }
    let h = history(&server, queue);
    assert_eq!(h["offered"], 1, "{h}");
    assert_eq!(h["abandoned"], 1, "{h}");
    assert!(
        h["average_abandon_wait_ms"].as_i64().unwrap_or(0) > 0,
        "{h}"
    );
}

#[test]
fn a_queue_rings_a_members_mobile_after_their_delay() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (server, dir) = start_server();
    // 1005 is rung on the mobile (demo setting, with confirmation); now only after 2 s.
    let (status, settings) = server.get("/api/v1/users/1005/call-settings");
    assert_eq!(status, 200, "{settings}");
    let mut settings: Value = serde_json::from_str(&settings).expect("settings JSON");
    settings["cellular_delay_secs"] = json!(2);
    put(&server, "/api/v1/users/1005/call-settings", settings);
    queue_on(
        &server,
        "+4764000941",
        json!({"name": "Forsinket mobil", "greeting_prompt": null, "members": [{"user": "1005"}]}),
        0,
    );
    let cdr =
        queue_call_answered_on_mobile(&server, dir.path(), "+4764000941", 19920, (19400, 19900));
    // (That the mobile waits its delay is tested in simulated time: call-control's scenarios.)
    assert_eq!(cdr["answered_by"], "1005/cellular", "{cdr}");
}

/// Tests that play the demo trunk's far end on 127.0.0.1:5090 take turns.
static TRUNK_PORT: Mutex<()> = Mutex::new(());
