//! The citizen's path through the running binary: SIPp callers on the demo trunk meet the voice menu
//! and queues; SIPp phones registered as demo staff answer. Ports: 17500–17999 for SIPp signalling,
//! 18500–18999 for media, distinct from the other test binaries.

mod common;

use std::process::{Command, Stdio};

use common::phones::*;
use common::{http_request, Server};
use serde_json::Value;

fn post(server: &Server, path: &str, body: Value) -> Value {
    common::create(server, path, &body)
}

/// The caller's relay leg in a call record: the one that carried prompts (music, announcements).
fn prompt_packets(cdr: &Value) -> u64 {
    cdr["media"]
        .as_array()
        .map(|legs| {
            legs.iter()
                .filter_map(|l| l["prompt_packets_out"].as_u64())
                .sum()
        })
        .unwrap_or(0)
}

#[test]
fn a_menu_choice_reaches_the_right_queue_and_its_agent() {
    let (server, dir) = start_server();
    // Demo: +4764000000 → "Hovedmeny": 2 → queue "Skole" (1006, 1007). Only 1006 has a phone.
    let agent = Phone {
        user: "1006",
        sip_port: 17600,
        media_port: 18600,
    };
    let mut answering = phone(&server, dir.path(), &agent, "phone_answer.xml", 1);
    let sf = scenario(
        dir.path(),
        "carrier_menu_choice.xml",
        &[
            ("dtmf_pcap", "/usr/share/sip-tester/dtmf_2833_2.pcap"),
            ("before_key_ms", "1500"),
            ("talk_ms", "3000"),
        ],
    );
    let status = carrier_calls(&server, dir.path(), &sf, "+4764000000", 1, (17610, 18610));
    assert_carrier_ok(&server, dir.path(), status, "carrier_menu_choice");
    assert_phone_ok(&server, dir.path(), &mut answering, "1006");
    // Key 2 is the only way into Skole: the record's queue shows the key was heard.
    let cdr = closed_cdrs(&server, 1).remove(0);
    let queues: Value = serde_json::from_str(&server.get("/api/v1/queues").1).expect("queues JSON");
    let skole = queues
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "Skole"))
        .map(|q| q["id"].clone())
        .expect("demo queue Skole");
    assert_eq!(cdr["target_kind"], "menu", "{cdr}");
    assert_eq!(cdr["answered_by"], "1006", "{cdr}");
    assert_eq!(cdr["queue_id"], skole, "{cdr}");
    assert!(
        prompt_packets(&cdr) >= 50,
        "the caller heard the menu's prompts (≥ 1 s of them): {cdr}"
    );
}

/// The same choice pressed on a phone that sends keys as SIP INFO (`application/dtmf-relay`, what
/// JsSIP sends by default) and offers no telephone-event.
#[test]
fn a_menu_choice_sent_as_sip_info_reaches_the_right_queue() {
    let (server, dir) = start_server();
    // Demo: +4764000000 → "Hovedmeny": 2 → queue "Skole" (1006, 1007). Only 1007 has a phone.
    let agent = Phone {
        user: "1007",
        sip_port: 17620,
        media_port: 18620,
    };
    let mut answering = phone(&server, dir.path(), &agent, "phone_answer.xml", 1);
    let sf = scenario(
        dir.path(),
        "carrier_menu_info.xml",
        &[("key", "2"), ("before_key_ms", "1500"), ("talk_ms", "3000")],
    );
    let status = carrier_calls(&server, dir.path(), &sf, "+4764000000", 1, (17630, 18630));
    assert_carrier_ok(&server, dir.path(), status, "carrier_menu_info");
    assert_phone_ok(&server, dir.path(), &mut answering, "1007");
    let cdr = closed_cdrs(&server, 1).remove(0);
    let queues: Value = serde_json::from_str(&server.get("/api/v1/queues").1).expect("queues JSON");
    let skole = queues
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "Skole"))
        .map(|q| q["id"].clone())
        .expect("demo queue Skole");
    assert_eq!(cdr["answered_by"], "1007", "{cdr}");
    assert_eq!(cdr["queue_id"], skole, "{cdr}");
}

#[test]
fn five_callers_queue_behind_two_agents_and_are_answered_in_order() {
    let (server, dir) = start_server();
    // A queue with quick announcements and no wrap-up, on its own number.
    let queue = post(
        &server,
        "/api/v1/queues",
        serde_json::json!({
            "name": "Test",
            "strategy": "longest_idle",
            "ring_timeout_secs": 10,
            "wrap_up_secs": 0,
            "first_announce_after_secs": 1,
            "announce_every_secs": 3,
            "greeting_prompt": null,
            "members": [{"user": "1002"}, {"user": "1003"}],
        }),
    );
    let id = queue["id"].as_i64().expect("queue id");
    post(
        &server,
        "/api/v1/numbers",
        serde_json::json!({
            "number": "+4764000777",
            "label": "test queue",
            "target_kind": "queue",
            "target_ref": id.to_string(),
        }),
    );
    // Two agents who answer after half a second and hang up a second later.
    let agents = [
        Phone {
            user: "1002",
            sip_port: 17700,
            media_port: 18700,
        },
        Phone {
            user: "1003",
            sip_port: 17710,
            media_port: 18710,
        },
    ];
    let _phones: Vec<_> = agents
        .iter()
        .map(|a| phone(&server, dir.path(), a, "phone_answer_then_bye.xml", 5))
        .collect();
    // Five callers, half a second apart, all waiting at once; each is hung up by its agent.
    let status = Command::new("sipp")
        .arg(server.sip.to_string())
        .arg("-sf")
        .arg(common::sipp_dir().join("user_call_answered.xml"))
        .args(["-s", "+4764000777", "-m", "5", "-l", "5", "-r", "2"])
        .args([
            "-i",
            "127.0.0.1",
            "-p",
            "17720",
            "-mi",
            "127.0.0.1",
            "-mp",
            "18720",
        ])
        .args(["-nostdin", "-timeout", "40", "-trace_err", "-error_file"])
        .arg(dir.path().join("callers.err.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("sipp runs");
    let errors = std::fs::read_to_string(dir.path().join("callers.err.log")).unwrap_or_default();
    assert!(status.success(), "callers: {errors}\n{}", server.log_text());
    let cdrs = closed_cdrs(&server, 5);
    let answered: Vec<i64> = cdrs
        .iter()
        .map(|c| c["answered_at_ms"].as_i64().unwrap_or(0))
        .collect();
    for (cdr, _) in cdrs.iter().zip(&answered) {
        assert_eq!(cdr["queue_id"].as_i64(), Some(id), "{cdr}");
        assert!(
            cdr["answered_by"] == "1002" || cdr["answered_by"] == "1003",
            "{cdr}"
        );
    }
    assert!(
        answered.windows(2).all(|w| w[0] < w[1]),
        "answered in the order they called: {answered:?}\n{cdrs:#?}"
    );
    // The last caller waited for four calls of about 1.5 s each: it was told its place.
    let last = &cdrs[4];
    assert!(
        last["queue_announcements"].as_i64().unwrap_or(0) >= 1,
        "the last caller heard an announcement: {last}"
    );
    assert!(
        last["queue_wait_ms"].as_i64().unwrap_or(0) >= 1000,
        "the last caller waited: {last}"
    );
    assert!(
        prompt_packets(last) >= 50,
        "the last caller received prompt audio while waiting: {last}"
    );
}

#[test]
fn a_closed_number_plays_its_message_and_an_override_takes_effect_on_the_next_call() {
    let (server, dir) = start_server();
    // Never open: no weekly hours at all.
    let schedule = post(
        &server,
        "/api/v1/schedules",
        serde_json::json!({"name": "Aldri", "schedule": {"weekly": {}}}),
    );
    let id = schedule["id"].as_i64().expect("schedule id");
    post(
        &server,
        "/api/v1/numbers",
        serde_json::json!({
            "number": "+4764000555",
            "label": "closed",
            "target_kind": "user",
            "target_ref": "1006",
            "schedule_id": id,
        }),
    );
    let carrier = common::sipp_dir().join("user_call_answered.xml");
    // Closed: the "closed" prompt (about 7 s), then Switchboard hangs up (the caller gets the BYE).
    let status = carrier_calls(
        &server,
        dir.path(),
        &carrier,
        "+4764000555",
        1,
        (17800, 18800),
    );
    assert_carrier_ok(&server, dir.path(), status, "user_call_answered");
    let closed = closed_cdrs(&server, 1).remove(0);
    assert_eq!(closed["hangup_side"], "system", "{closed}");
    assert!(closed["answered_by"].is_null(), "nobody took it: {closed}");
    let closed_packets = prompt_packets(&closed);
    assert!(
        closed_packets >= 300,
        "≈ 7 s of the closed message: {closed}"
    );
    // An admin uploads their own, shorter "closed" recording: the next call plays it.
    let short = dir.path().join("closed.wav");
    write_pcm_tone(&short, 1.0);
    let (status, body) = common::http_send(
        server.http,
        "PUT",
        "/api/v1/prompts/closed",
        "audio/wav",
        &std::fs::read(&short).expect("wav"),
    );
    assert!(status == 200 || status == 201, "{status} {body}");
    let status = carrier_calls(
        &server,
        dir.path(),
        &carrier,
        "+4764000555",
        1,
        (17805, 18805),
    );
    assert_carrier_ok(&server, dir.path(), status, "user_call_answered");
    let uploaded = prompt_packets(&closed_cdrs(&server, 1).remove(0));
    assert!(
        (40..=70).contains(&uploaded),
        "the uploaded 1 s prompt, not the built-in 7 s one: {uploaded}"
    );
    // The receptionist's override: closed with another message (the short goodbye), at once.
    let (status, body) = http_request(
        server.http,
        "PUT",
        &format!("/api/v1/schedules/{id}/override"),
        Some(r#"{"closed_with_message": "goodbye"}"#),
    );
    assert_eq!(status, 200, "{body}");
    let status = carrier_calls(
        &server,
        dir.path(),
        &carrier,
        "+4764000555",
        1,
        (17810, 18810),
    );
    assert_carrier_ok(&server, dir.path(), status, "user_call_answered");
    let overridden = closed_cdrs(&server, 1).remove(0);
    let packets = prompt_packets(&overridden);
    assert!(
        packets > 20 && packets < closed_packets / 2,
        "the override's short message, not the closed one: {packets} vs {closed_packets}"
    );
}

#[test]
fn a_hunt_group_nobody_answers_sends_the_caller_to_its_no_answer_queue() {
    let (server, dir) = start_server();
    let queues: Value = serde_json::from_str(&server.get("/api/v1/queues").1).expect("queues");
    let skole = queues
        .as_array()
        .and_then(|qs| qs.iter().find(|q| q["name"] == "Skole"))
        .and_then(|q| q["id"].as_i64())
        .expect("demo queue Skole");
    // 1010 has no phone: the group is exhausted at once and the caller goes on to the queue.
    let group = post(
        &server,
        "/api/v1/hunt-groups",
        serde_json::json!({
            "name": "Kveld",
            "strategy": "ring_all",
            "members": [{"username": "1010"}],
            "no_answer_kind": "queue",
            "no_answer_ref": skole.to_string(),
        }),
    );
    post(
        &server,
        "/api/v1/numbers",
        serde_json::json!({
            "number": "+4764000888",
            "label": "evening",
            "target_kind": "hunt_group",
            "target_ref": group["id"].as_i64().expect("group id").to_string(),
        }),
    );
    let agent = Phone {
        user: "1006",
        sip_port: 17900,
        media_port: 18900,
    };
    let mut answering = phone(&server, dir.path(), &agent, "phone_answer.xml", 1);
    let carrier = carrier_hangs_up_after(dir.path(), 2000);
    let status = carrier_calls(
        &server,
        dir.path(),
        &carrier,
        "+4764000888",
        1,
        (17910, 18910),
    );
    assert_carrier_ok(&server, dir.path(), status, "call_user");
    assert_phone_ok(&server, dir.path(), &mut answering, "1006");
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(cdr["answered_by"], "1006", "{cdr}");
    assert_eq!(cdr["queue_id"].as_i64(), Some(skole), "{cdr}");
}

#[test]
fn a_caller_who_books_a_callback_is_called_back_and_bridged_to_the_agent() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (server, dir) = start_server();
    let queue = post(
        &server,
        "/api/v1/queues",
        serde_json::json!({
            "name": "Tilbake",
            "ring_timeout_secs": 10,
            "callback_after_secs": 1,
            "announce_every_secs": null,
            "greeting_prompt": null,
            "members": [{"user": "1002"}],
        }),
    );
    post(
        &server,
        "/api/v1/numbers",
        serde_json::json!({
            "number": "+4764000444",
            "label": "callback queue",
            "target_kind": "queue",
            "target_ref": queue["id"].as_i64().expect("id").to_string(),
        }),
    );
    let agent_state = |state: &str| {
        let (status, body) = http_request(
            server.http,
            "PUT",
            "/api/v1/agents/1002/state",
            Some(&format!(r#"{{"state": "{state}"}}"#)),
        );
        assert_eq!(status, 204, "{body}");
    };
    // The only agent is away: the caller waits, hears the offer and presses 2.
    agent_state("logged_out");
    let agent = Phone {
        user: "1002",
        sip_port: 17950,
        media_port: 18950,
    };
    register(&server, &agent);
    let mut agent_phone = answer_as_with(dir.path(), &agent, "phone_answer.xml", 1, &["-rtp_echo"]);
    // "2" for a callback, then "1": on the number I call from.
    let keys = dir.path().join("keys.pcap");
    common::dtmf::write_keys_pcap(&keys, "21", 8000);
    let booking = scenario(
        dir.path(),
        "carrier_book_callback.xml",
        &[
            ("dtmf_pcap", &keys.to_string_lossy()),
            ("before_key_ms", "2500"),
        ],
    );
    let status = carrier_calls(
        &server,
        dir.path(),
        &booking,
        "+4764000444",
        1,
        (17960, 18960),
    );
    assert_carrier_ok(&server, dir.path(), status, "carrier_book_callback");
    // The booking call's record says how its stay in the queue ended.
    let booking_cdr = closed_cdrs(&server, 1).remove(0);
    assert_eq!(booking_cdr["queue_outcome"], "callback", "{booking_cdr}");
    // The citizen's mobile answers on the carrier trunk and talks for 3 s, once the agent is back:
    // the callback rings the agent first, then the citizen.
    citizen_answers_callback(&server, dir.path(), "+4791234567", 18970, || {
        agent_state("available")
    });
    assert_phone_ok(&server, dir.path(), &mut agent_phone, "1002");
    // Both legs carried audio: the citizen's tone to the agent, echoed back.
    let cdr = closed_cdrs(&server, 1).remove(0);
    assert!(
        cdr["call_id"]
            .as_str()
            .is_some_and(|c| c.starts_with("callback-")),
        "the callback's own record: {cdr}"
    );
    assert_eq!(cdr["answered_by"], "carrier", "{cdr}");
    let packets_in: Vec<u64> = cdr["media"]
        .as_array()
        .map(|legs| {
            legs.iter()
                .filter_map(|l| l["packets_in"].as_u64())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        packets_in.len() == 2 && packets_in.iter().all(|&p| p >= 50),
        "bridged both ways: {cdr}"
    );
}

/// Tests that play the demo trunk's far end on 127.0.0.1:5090 take turns.
static TRUNK_PORT: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn a_queue_rings_an_agents_mobile_who_must_press_1() {
    let _port = TRUNK_PORT.lock().unwrap_or_else(|e| e.into_inner());
    let (server, dir) = start_server();
    // 1005 has no phone registered but is rung on the mobile too (demo setting, with confirmation).
    let queue = post(
        &server,
        "/api/v1/queues",
        serde_json::json!({"name": "Mobil", "greeting_prompt": null, "members": [{"user": "1005"}]}),
    );
    post(
        &server,
        "/api/v1/numbers",
        serde_json::json!({
            "number": "+4764000333",
            "label": "mobile queue",
            "target_kind": "queue",
            "target_ref": queue["id"].as_i64().expect("id").to_string(),
        }),
    );
    let cdr =
        queue_call_answered_on_mobile(&server, dir.path(), "+4764000333", 18980, (17990, 18990));
    assert_eq!(cdr["answered_by"], "1005/cellular", "{cdr}");
    assert_eq!(cdr["queue_id"], queue["id"], "{cdr}");
}

/// A 16-bit PCM, 8 kHz mono WAV of a 440 Hz tone, `seconds` long (an admin's own recording).
fn write_pcm_tone(path: &std::path::Path, seconds: f32) {
    let n = (8000.0 * seconds) as usize;
    let data: Vec<u8> = (0..n)
        .flat_map(|i| {
            let v = 8000.0 * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / 8000.0).sin();
            (v as i16).to_le_bytes()
        })
        .collect();
    let mut wav = b"RIFF".to_vec();
    wav.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&8000u32.to_le_bytes());
    wav.extend_from_slice(&16000u32.to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&(data.len() as u32).to_le_bytes());
    wav.extend_from_slice(&data);
    std::fs::write(path, wav).expect("write wav");
}
