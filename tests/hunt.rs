//! Hunt groups through the running binary, with SIPp as the carrier and as registered staff phones.
//!
//! Each phone is a SIPp instance: it registers a demo user from 127.0.0.1:PORT (register_only.xml), then
//! a UAS scenario listens on that same port, because the B2BUA rings a user at the address the user
//! registered from. Groups and numbers are created through the admin API with short ring times. The
//! tests assert on what SIPp saw (a scenario that expects a CANCEL or a BYE fails without one) and on
//! the call records. Ports: phones and carriers 17000–17999, media 18000–18999, distinct per test, so
//! these tests run in parallel with each other and with other test binaries. The members are demo
//! users without a mobile (1005 rings on its mobile through the trunk at 127.0.0.1:5090: not used).

mod common;

use std::time::{Duration, Instant};

use common::baresip::KillOnDrop;
use common::http_request;
use common::phones::*;
use common::Server;
use serde_json::Value;

/// A public number the tests route to their group (each test has its own server and database).
const GROUP_NUMBER: &str = "+4764000900";

/// Creates a hunt group through the admin API and routes [`GROUP_NUMBER`] to it; returns its id.
fn create_group(server: &Server, spec: Value) -> i64 {
    let (status, body) = http_request(
        server.http,
        "POST",
        "/api/v1/hunt-groups",
        Some(&spec.to_string()),
    );
    assert_eq!(status, 201, "create hunt group: {body}");
    let group: Value = serde_json::from_str(&body).expect("hunt group JSON");
    let id = group["id"].as_i64().expect("group id");
    let number = serde_json::json!({
        "number": GROUP_NUMBER,
        "label": "test group",
        "target_kind": "hunt_group",
        "target_ref": id.to_string(),
    });
    let (status, body) = http_request(
        server.http,
        "POST",
        "/api/v1/numbers",
        Some(&number.to_string()),
    );
    assert_eq!(status, 201, "create number: {body}");
    id
}

#[test]
fn ring_all_connects_the_first_to_answer_and_cancels_the_other() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let answering = Phone {
        user: "1006",
        sip_port: 17010,
        media_port: 18010,
    };
    let ringing = Phone {
        user: "1007",
        sip_port: 17012,
        media_port: 18020,
    };
    create_group(
        &server,
        serde_json::json!({
            "name": "Ring all", "strategy": "ring_all", "ring_time_secs": 3, "timeout_secs": 15,
            "members": [{"username": "1006"}, {"username": "1007"}],
        }),
    );
    let mut a = phone(&server, dir, &answering, "phone_answer.xml", 1);
    let mut b = phone(&server, dir, &ringing, "phone_ring_until_cancel.xml", 1);
    let sf = carrier_hangs_up_after(dir, 1000);
    let status = carrier_calls(&server, dir, &sf, GROUP_NUMBER, 1, (17014, 18030));
    assert_carrier_ok(&server, dir, status, "call_user");
    assert_phone_ok(&server, dir, &mut a, "1006");
    assert_phone_ok(&server, dir, &mut b, "1007");
    // Both were rung by the one call; the loser saw a CANCEL.
    assert!(read(dir, "1006.msg.log").contains("INVITE sip:"));
    assert!(read(dir, "1007.msg.log").contains("CANCEL sip:"));

    let cdr = &closed_cdrs(&server, 1)[0];
    assert_eq!(cdr["answered_by"], "1006", "{cdr}");
    assert_eq!(cdr["hangup_side"], "caller", "{cdr}");
    assert_eq!(cdr["target_kind"], "hunt_group", "{cdr}");
    assert_eq!(leg_statuses(cdr, "1006"), [200], "{cdr}");
    assert_eq!(leg_statuses(cdr, "1007"), [487], "{cdr}");
}

#[test]
fn sequential_moves_on_after_the_ring_time_and_the_next_member_answers() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let first = Phone {
        user: "1008",
        sip_port: 17110,
        media_port: 18110,
    };
    let second = Phone {
        user: "1009",
        sip_port: 17112,
        media_port: 18120,
    };
    create_group(
        &server,
        serde_json::json!({
            "name": "Sequential", "strategy": "sequential", "ring_time_secs": 2,
            "timeout_secs": 15,
            "members": [{"username": "1008"}, {"username": "1009"}],
        }),
    );
    let mut a = phone(&server, dir, &first, "phone_ring_until_cancel.xml", 1);
    let mut b = phone(&server, dir, &second, "phone_answer.xml", 1);
    let started = Instant::now();
    let sf = carrier_hangs_up_after(dir, 1000);
    let status = carrier_calls(&server, dir, &sf, GROUP_NUMBER, 1, (17114, 18130));
    assert_carrier_ok(&server, dir, status, "call_user");
    assert_phone_ok(&server, dir, &mut a, "1008");
    assert_phone_ok(&server, dir, &mut b, "1009");
    // 2 s of ringing the first member, half a second to answer, a second of talk.
    assert!(
        started.elapsed() >= Duration::from_millis(3300),
        "{:?}",
        started.elapsed()
    );
    assert!(read(dir, "1008.msg.log").contains("CANCEL sip:"));

    let cdr = &closed_cdrs(&server, 1)[0];
    assert_eq!(cdr["answered_by"], "1009", "{cdr}");
    assert_eq!(cdr["hangup_side"], "caller", "{cdr}");
    assert_eq!(
        leg_statuses(cdr, "1008"),
        [487],
        "the first member is listed, not answered: {cdr}"
    );
    assert_eq!(leg_statuses(cdr, "1009"), [200], "{cdr}");
    // The second member was rung only after the first member's 2 s.
    let ring_time = cdr["ring_time_ms"].as_i64().unwrap_or(0);
    assert!(ring_time >= 2000, "ring time {ring_time} ms: {cdr}");
}

#[test]
fn round_robin_starts_each_call_one_member_further_on() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let members = [
        Phone {
            user: "1002",
            sip_port: 17210,
            media_port: 18210,
        },
        Phone {
            user: "1003",
            sip_port: 17212,
            media_port: 18220,
        },
        Phone {
            user: "1004",
            sip_port: 17214,
            media_port: 18230,
        },
    ];
    create_group(
        &server,
        serde_json::json!({
            "name": "Round robin", "strategy": "round_robin", "ring_time_secs": 3,
            "timeout_secs": 15,
            "members": [{"username": "1002"}, {"username": "1003"}, {"username": "1004"}],
        }),
    );
    // routing::hunt: with no memory the first call rings the first member; each later call starts
    // after the member the previous call rang first. Four calls: 1002, 1003, 1004, 1002.
    let expected = ["1002", "1003", "1004", "1002"];
    let mut phones: Vec<KillOnDrop> = members
        .iter()
        .map(|m| {
            let calls = expected.iter().filter(|&&u| u == m.user).count() as u32;
            phone(&server, dir, m, "phone_answer.xml", calls)
        })
        .collect();
    let sf = carrier_hangs_up_after(dir, 500);
    let status = carrier_calls(&server, dir, &sf, GROUP_NUMBER, 4, (17216, 18240));
    assert_carrier_ok(&server, dir, status, "call_user");
    for (m, child) in members.iter().zip(phones.iter_mut()) {
        assert_phone_ok(&server, dir, child, m.user);
    }

    let cdrs = closed_cdrs(&server, 4);
    let answered: Vec<&str> = cdrs
        .iter()
        .map(|c| c["answered_by"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(answered, expected, "{cdrs:#?}");
    for cdr in &cdrs {
        assert_eq!(cdr["hangup_side"], "caller", "{cdr}");
        // Each call rang only the member whose turn it was.
        let legs = cdr["legs"].as_array().map_or(0, Vec::len);
        assert_eq!(legs, 1, "{cdr}");
    }
}

#[test]
fn the_caller_cancelling_while_it_rings_cancels_the_member() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let member = Phone {
        user: "1010",
        sip_port: 17310,
        media_port: 18310,
    };
    // A ring time well past the caller's patience: the CANCEL must come from the caller.
    create_group(
        &server,
        serde_json::json!({
            "name": "Cancelled", "strategy": "sequential", "ring_time_secs": 10,
            "timeout_secs": 15, "members": [{"username": "1010"}],
        }),
    );
    let mut a = phone(&server, dir, &member, "phone_ring_until_cancel.xml", 1);
    let started = Instant::now();
    let sf = scenario(dir, "carrier_cancel.xml", &[("ring_ms", "1000")]);
    let status = carrier_calls(&server, dir, &sf, GROUP_NUMBER, 1, (17314, 18320));
    assert_carrier_ok(&server, dir, status, "carrier_cancel");
    assert_phone_ok(&server, dir, &mut a, "1010");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the member was cancelled by the caller, not by its ring time: {:?}",
        started.elapsed()
    );
    assert!(read(dir, "1010.msg.log").contains("CANCEL sip:"));

    let cdr = &closed_cdrs(&server, 1)[0];
    assert!(cdr["answered_by"].is_null(), "{cdr}");
    assert!(cdr["answered_at_ms"].is_null(), "{cdr}");
    assert_eq!(cdr["hangup_side"], "caller", "{cdr}");
    assert_eq!(leg_statuses(cdr, "1010"), [487], "{cdr}");
}

#[test]
fn the_member_hanging_up_sends_bye_to_the_carrier() {
    let (server, dir) = start_server();
    let dir = dir.path();
    let member = Phone {
        user: "1001",
        sip_port: 17410,
        media_port: 18410,
    };
    create_group(
        &server,
        serde_json::json!({
            "name": "Callee hangs up", "strategy": "ring_all", "ring_time_secs": 3,
            "timeout_secs": 15, "members": [{"username": "1001"}],
        }),
    );
    let mut a = phone(&server, dir, &member, "phone_answer_then_bye.xml", 1);
    // The carrier answers the BYE that the phone's hang-up becomes.
    let sf = common::sipp_dir().join("user_call_answered.xml");
    let status = carrier_calls(&server, dir, &sf, GROUP_NUMBER, 1, (17414, 18420));
    assert_carrier_ok(&server, dir, status, "user_call_answered");
    assert_phone_ok(&server, dir, &mut a, "1001");
    let carrier = read(dir, "carrier-user_call_answered.msg.log");
    // The BYE is in the carrier's dialog: to the carrier's Contact, with the carrier's tag in To.
    let bye = carrier
        .split("-----")
        .find(|m| m.contains("BYE sip:"))
        .unwrap_or_else(|| panic!("no BYE reached the carrier: {carrier}"));
    assert!(bye.contains("BYE sip:staff@127.0.0.1:17414"), "{bye}");
    assert!(
        bye.lines()
            .any(|l| l.starts_with("To:") && l.contains("SIPpTag00")),
        "{bye}"
    );

    let cdr = &closed_cdrs(&server, 1)[0];
    assert_eq!(cdr["answered_by"], "1001", "{cdr}");
    assert_eq!(cdr["hangup_side"], "callee", "{cdr}");
    assert_eq!(leg_statuses(cdr, "1001"), [200], "{cdr}");
}
