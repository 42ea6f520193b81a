//! What receptionists read: a queue's history over a period (`/queues/{id}/history`) and the live
//! event feed (`/events`, server-sent events).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{api, assert_error, assert_invalid, TOKEN};
use http_body_util::BodyExt;
use mobile_api::{AppState, EventHub, LiveEvent};
use serde_json::json;
use switchboard_schema::{
    CallDirection, CdrClose, CdrOpen, Db, HangupSide, QueueOutcome, TargetKind,
};
use tokio::sync::mpsc;
use tower::ServiceExt;

const T0: i64 = 1_800_000_000_000;

async fn abandoned_call(db: &Db, queue: i64, start: i64, wait_ms: i64) {
    let id = db
        .cdr_open(&CdrOpen {
            call_id: format!("{start}@carrier"),
            direction: CallDirection::Inbound,
            from_number: "+4791234567".into(),
            to_number: "+4764000901".into(),
            target_kind: Some(TargetKind::Queue),
            target_ref: Some(queue.to_string()),
            started_at_ms: start,
        })
        .await
        .expect("open");
    db.cdr_closed(
        id,
        &CdrClose {
            ended_at_ms: start + wait_ms,
            hangup_cause: "caller hung up".into(),
            hangup_side: HangupSide::Caller,
            ring_time_ms: None,
            queue_id: Some(queue),
            queue_wait_ms: Some(wait_ms),
            queue_outcome: Some(QueueOutcome::Abandoned),
            queue_announcements: None,
            legs_json: "[]".into(),
            media_json: "[]".into(),
        },
    )
    .await
    .expect("close");
}

#[tokio::test]
async fn a_queues_history_over_a_period() {
    let api = api().await;
    let (status, queue) = api
        .call("POST", "/api/v1/queues", Some(json!({"name": "Helse"})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{queue}");
    let id = queue["id"].as_i64().expect("id");
    abandoned_call(&api.db, id, T0, 12_000).await;
    abandoned_call(&api.db, id, T0 + 60_000, 30_000).await;
    // RFC 3339 and unix milliseconds both work as bounds.
    let uri = format!(
        "/api/v1/queues/{id}/history?from={T0}&to={}",
        T0 + 3_600_000
    );
    let (status, h) = api.call("GET", &uri, None).await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["offered"], 2, "{h}");
    assert_eq!(h["abandoned"], 2, "{h}");
    assert_eq!(h["average_abandon_wait_ms"], 21_000, "{h}");
    assert_eq!(h["longest_wait_ms"], 30_000, "{h}");
    assert_eq!(h["service_level_secs"], 20, "{h}");
    let (status, h) = api
        .call(
            "GET",
            &format!("/api/v1/queues/{id}/history?from=2027-01-15T00:00:00Z&to=2027-01-16"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["offered"], 2, "T0 is 15 January 2027: {h}");
    // Without bounds: today in Oslo, up to now — those old calls are not in it.
    let (status, h) = api
        .call("GET", &format!("/api/v1/queues/{id}/history"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{h}");
    assert_eq!(h["offered"], 0, "{h}");
    assert!(h["from_ms"].as_i64() < h["to_ms"].as_i64(), "{h}");
    assert_invalid(
        &api.call(
            "GET",
            &format!("/api/v1/queues/{id}/history?from=yesterday"),
            None,
        )
        .await,
        "from",
    );
    assert_invalid(
        &api.call("GET", &format!("/api/v1/queues/{id}/history?since=1"), None)
            .await,
        "since",
    );
    assert_invalid(
        &api.call(
            "GET",
            &format!("/api/v1/queues/{id}/history?from=2&to=1"),
            None,
        )
        .await,
        "to",
    );
    assert_error(
        &api.call("GET", "/api/v1/queues/999/history", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.raw("GET", &format!("/api/v1/queues/{id}/history"), None, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

#[tokio::test]
async fn without_call_control_the_event_feed_is_unavailable() {
    let api = api().await;
    assert_error(
        &api.call("GET", "/api/v1/events", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "events_unavailable",
    );
}

/// An app with a hub and the users of the common harness (1001–1005): 1002 a receptionist, 1003 staff in
/// queue `queue`.
async fn app_with_hub() -> (axum::Router, EventHub, i64, String, String) {
    let api = common::api().await;
    let queue = api
        .call(
            "POST",
            "/api/v1/queues",
            Some(json!({"name": "Helse", "members": [{"user": "1003"}]})),
        )
        .await
        .1["id"]
        .as_i64()
        .expect("queue id");
    let receptionist = common::session(&api, "1002", &["receptionist"]).await;
    let staff = common::session(&api, "1003", &["staff"]).await;
    let hub = EventHub::new();
    let (sip, _) = mpsc::channel(1);
    let app = mobile_api::app(AppState {
        db: api.db.clone(),
        sip,
        realm: "switchboard".into(),
        admin_token: Some(TOKEN.into()),
        login_throttle: Default::default(),
        oidc: None,
        config_changes: None,
        queues: None,
        events: Some(hub.clone()),
        calls: None,
        recordings_dir: None,
        phone_websocket: None,
    });
    (app, hub, queue, receptionist, staff)
}

/// Opens the feed as `token` (with `Last-Event-ID` if given).
async fn open_feed(
    app: &axum::Router,
    token: &str,
    last_event_id: Option<&str>,
) -> axum::body::Body {
    let mut request =
        Request::get("/api/v1/events").header("authorization", format!("Bearer {token}"));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    response.into_body()
}

/// The next SSE event: (id, name, data).
async fn next_event(body: &mut axum::body::Body) -> (Option<u64>, String, serde_json::Value) {
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .expect("a frame")
        .expect("no error");
    let text = String::from_utf8(frame.into_data().expect("data").to_vec()).expect("UTF-8");
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(str::to_owned)
    };
    (
        field("id: ").map(|id| id.parse().expect("numeric id")),
        field("event: ").expect("an event name"),
        serde_json::from_str(&field("data: ").expect("a data line")).expect("JSON data"),
    )
}

#[tokio::test]
async fn the_event_feed_streams_numbered_events_and_replays_what_a_client_missed() {
    let (app, hub, _, receptionist, _) = app_with_hub().await;
    let mut body = open_feed(&app, &receptionist, None).await;
    let first = hub.publish(LiveEvent::AgentAutoPaused {
        user: "1003".into(),
        queue: 7,
        missed: 3,
    });
    let (id, name, data) = next_event(&mut body).await;
    assert_eq!((id, name.as_str()), (Some(first), "agent_auto_paused"));
    assert_eq!(
        data,
        json!({"type": "agent_auto_paused", "user": "1003", "queue": 7, "missed": 3})
    );
    drop(body);
    // While the client is away, two more happen; reconnecting with Last-Event-ID gets both, in
    // order, then the live feed.
    for user in ["1004", "1005"] {
        hub.publish(LiveEvent::PresenceChanged {
            user: user.into(),
            status: "dnd".into(),
        });
    }
    let mut body = open_feed(&app, &receptionist, Some(&first.to_string())).await;
    for (offset, user) in [(1, "1004"), (2, "1005")] {
        let (id, name, data) = next_event(&mut body).await;
        assert_eq!(
            (id, name.as_str(), data["user"].as_str()),
            (Some(first + offset), "presence_changed", Some(user))
        );
    }
    let live = hub.publish(LiveEvent::CallStarted {
        call: 9,
        from: "+4791234567".into(),
        to: "+4764000000".into(),
    });
    assert_eq!(next_event(&mut body).await.0, Some(live));
    // A client that was away longer than the history is told how much it lost.
    for _ in 0..mobile_api::events_history() {
        hub.publish(LiveEvent::PresenceChanged {
            user: "1004".into(),
            status: "away".into(),
        });
    }
    let mut body = open_feed(&app, &receptionist, Some(&first.to_string())).await;
    let (id, name, data) = next_event(&mut body).await;
    assert_eq!(
        (id, name.as_str(), data["missed"].as_u64()),
        (None, "lagged", Some(3))
    );
}

#[tokio::test]
async fn staff_see_presence_their_own_calls_and_their_queues_only() {
    let (app, hub, queue, _, staff) = app_with_hub().await;
    let mut body = open_feed(&app, &staff, None).await;
    let hidden_and_shown = [
        (
            LiveEvent::CallStarted {
                call: 1,
                from: "+4791234567".into(),
                to: "1004".into(),
            },
            false,
        ),
        (
            LiveEvent::CallStarted {
                call: 2,
                from: "+4791234567".into(),
                to: "1003".into(),
            },
            true,
        ),
        (
            LiveEvent::CallerQueued {
                queue: queue + 100,
                call: 3,
                caller: "+4791234567".into(),
                priority: 0,
                position: 1,
            },
            false,
        ),
        (
            LiveEvent::CallerQueued {
                queue,
                call: 4,
                caller: "+4791234567".into(),
                priority: 0,
                position: 1,
            },
            true,
        ),
        (
            LiveEvent::AgentStateChanged {
                user: "1004".into(),
                state: "paused".into(),
                reason: None,
            },
            false,
        ),
        (
            LiveEvent::AgentStateChanged {
                user: "1003".into(),
                state: "paused".into(),
                reason: None,
            },
            true,
        ),
        (
            LiveEvent::TollBlocked {
                user: "1004".into(),
                reason: "concurrent_calls".into(),
            },
            false,
        ),
        (
            LiveEvent::PresenceChanged {
                user: "1004".into(),
                status: "dnd".into(),
            },
            true,
        ),
        (
            LiveEvent::CallEnded {
                call: 5,
                from: "+4791234567".into(),
                to: "+4764000000".into(),
                answered_by: Some("1003".into()),
            },
            true,
        ),
    ];
    let mut expected = Vec::new();
    for (event, shown) in hidden_and_shown {
        let seq = hub.publish(event);
        if shown {
            expected.push(seq);
        }
    }
    for seq in expected {
        assert_eq!(next_event(&mut body).await.0, Some(seq));
    }
}

#[tokio::test]
async fn a_bad_last_event_id_is_refused() {
    let (app, _, _, receptionist, _) = app_with_hub().await;
    let response = app
        .oneshot(
            Request::get("/api/v1/events")
                .header("authorization", format!("Bearer {receptionist}"))
                .header("last-event-id", "yesterday")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}
