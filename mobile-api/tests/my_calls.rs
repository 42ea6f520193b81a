//! The staff member's own calls and call settings, in-process: `/me/calls` shows what they placed,
//! answered and missed and nobody else's; `/me/call-settings` changes only their own preferences.

mod common;

use axum::http::StatusCode;
use common::{api, as_user, assert_invalid, session, Api};
use serde_json::{json, Value};
use switchboard_schema::{CallDirection, CdrAnswer, CdrClose, CdrOpen, HangupSide, TargetKind};

const T0: i64 = 1_800_000_000_000;

/// A closed call record: `legs` are the branch targets rung, `answered_by` who took it.
async fn call(
    api: &Api,
    at: i64,
    direction: CallDirection,
    from: &str,
    to: &str,
    legs: &[&str],
    answered_by: Option<&str>,
) {
    let id = api
        .db
        .cdr_open(&CdrOpen {
            call_id: format!("{at}@test"),
            direction,
            from_number: from.into(),
            to_number: to.into(),
            target_kind: Some(TargetKind::HuntGroup),
            target_ref: Some("5".into()),
            started_at_ms: at,
        })
        .await
        .unwrap();
    if let Some(by) = answered_by {
        api.db
            .cdr_answered(
                id,
                &CdrAnswer {
                    answered_at_ms: at + 3_000,
                    answered_by: by.into(),
                    ring_time_ms: 3_000,
                    queue_id: None,
                    queue_wait_ms: None,
                },
            )
            .await
            .unwrap();
    }
    let legs: Vec<Value> = legs
        .iter()
        .map(|t| json!({"target": t, "status": if Some(*t) == answered_by { 200 } else { 487 }}))
        .collect();
    api.db
        .cdr_closed(
            id,
            &CdrClose {
                ended_at_ms: at + 60_000,
                hangup_cause: "BYE".into(),
                hangup_side: HangupSide::Caller,
                ring_time_ms: None,
                queue_id: None,
                queue_wait_ms: None,
                queue_outcome: None,
                queue_announcements: None,
                legs_json: serde_json::to_string(&legs).unwrap(),
                media_json: "{}".into(),
            },
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn my_calls_are_the_ones_i_placed_answered_or_missed() {
    let api = api().await;
    let citizen = "+4791234567";
    call(
        &api,
        T0,
        CallDirection::Outbound,
        "1003",
        "+4722222222",
        &["carrier"],
        Some("+4722222222"),
    )
    .await;
    call(
        &api,
        T0 + 1_000,
        CallDirection::Inbound,
        citizen,
        "+4764000100",
        &["1003", "1004"],
        Some("1003"),
    )
    .await;
    call(
        &api,
        T0 + 2_000,
        CallDirection::Inbound,
        citizen,
        "+4764000100",
        &["1003", "1004"],
        Some("1004"),
    )
    .await;
    call(
        &api,
        T0 + 3_000,
        CallDirection::Inbound,
        citizen,
        "+4764000100",
        &["1004", "1005"],
        Some("1005"),
    )
    .await;
    call(
        &api,
        T0 + 4_000,
        CallDirection::Internal,
        "1001",
        "1003",
        &["1003"],
        None,
    )
    .await;

    let token = session(&api, "1003", &["staff"]).await;
    let (status, mine) = as_user(&api, &token, "GET", "/api/v1/me/calls", None).await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let kinds: Vec<(i64, String)> = mine["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["started_at_ms"].as_i64().unwrap() - T0,
                c["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            (4_000, "missed".to_owned()),
            (2_000, "missed".to_owned()),
            (1_000, "answered".to_owned()),
            (0, "outgoing".to_owned()),
        ]
    );
    assert_eq!(mine["total"], 4);
    assert_eq!(mine["calls"][1]["answered_by"], "1004");
    // A time window and paging.
    let (_, window) = as_user(
        &api,
        &token,
        "GET",
        &format!("/api/v1/me/calls?from={}&limit=1", T0 + 1_000),
        None,
    )
    .await;
    assert_eq!(
        (
            window["total"].clone(),
            window["calls"].as_array().unwrap().len()
        ),
        (json!(3), 1)
    );
    assert_invalid(
        &as_user(&api, &token, "GET", "/api/v1/me/calls?limit=500", None).await,
        "limit",
    );
    // 1005 sees only the call they answered.
    let other = session(&api, "1005", &["staff"]).await;
    let (_, theirs) = as_user(&api, &other, "GET", "/api/v1/me/calls", None).await;
    assert_eq!(theirs["total"], 1, "{theirs}");
    assert_eq!(theirs["calls"][0]["kind"], "answered");
}

#[tokio::test]
async fn staff_choose_their_caller_id_and_mobile_ringing_but_not_their_permissions() {
    let api = api().await;
    let token = session(&api, "1003", &["staff"]).await;
    let (status, settings) = as_user(&api, &token, "GET", "/api/v1/me/call-settings", None).await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(settings["ring_cellular"], false);
    assert_eq!(settings["mobile"], "+47900001003");
    let (status, settings) = as_user(
        &api,
        &token,
        "PUT",
        "/api/v1/me/call-settings",
        Some(json!({"caller_id_default": "main", "ring_cellular": true, "cellular_delay_secs": 15, "confirm_cellular": false})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{settings}");
    assert_eq!(
        (
            settings["ring_cellular"].clone(),
            settings["cellular_delay_secs"].clone()
        ),
        (json!(true), json!(15))
    );
    // Stored for call control, permissions untouched.
    let (_, stored) = api
        .call("GET", "/api/v1/users/1003/call-settings", None)
        .await;
    assert_eq!(stored["ring_cellular"], true, "{stored}");
    assert_eq!(stored["confirm_cellular"], false, "{stored}");
    assert_eq!(stored["allow_international"], false, "{stored}");
    // Permissions are not theirs to set, nor a direct number to show without one.
    let (status, _) = as_user(
        &api,
        &token,
        "PUT",
        "/api/v1/me/call-settings",
        Some(
            json!({"caller_id_default": "main", "ring_cellular": true, "cellular_delay_secs": 15,
                    "confirm_cellular": false, "allow_international": true}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_invalid(
        &as_user(
            &api,
            &token,
            "PUT",
            "/api/v1/me/call-settings",
            Some(json!({"caller_id_default": "direct", "ring_cellular": false, "cellular_delay_secs": 0, "confirm_cellular": true})),
        )
        .await,
        "caller_id_default",
    );
    assert_invalid(
        &as_user(
            &api,
            &token,
            "PUT",
            "/api/v1/me/call-settings",
            Some(json!({"caller_id_default": "main", "ring_cellular": false, "cellular_delay_secs": 301, "confirm_cellular": true})),
        )
        .await,
        "cellular_delay_secs",
    );
}
