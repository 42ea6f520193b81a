//! What receptionists read: a queue's history over a period (`/queues/{id}/history`) and the live
//! event feed (`/events`, server-sent events).

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{api, assert_error, assert_invalid, TOKEN};
use http_body_util::BodyExt;
use mobile_api::{AppState, LiveEvent};
use serde_json::json;
use switchboard_schema::{
    CallDirection, CdrClose, CdrOpen, Db, HangupSide, QueueOutcome, TargetKind,
};
use tokio::sync::{broadcast, mpsc};
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

#[tokio::test]
async fn the_event_feed_streams_what_call_control_publishes() {
    let db = Db::connect("sqlite::memory:").await.expect("database");
    let (sip, _) = mpsc::channel(1);
    let (events, _) = broadcast::channel(16);
    let app = mobile_api::app(AppState {
        db,
        sip,
        realm: "switchboard".into(),
        admin_token: Some(TOKEN.into()),
        login_throttle: Default::default(),
        config_changes: None,
        queues: None,
        events: Some(events.clone()),
        calls: None,
        recordings_dir: None,
        phone_websocket: None,
    });
    let request = Request::get("/api/v1/events")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(Body::empty())
        .expect("request");
    let response = app.oneshot(request).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/event-stream",
        "{:?}",
        response.headers()
    );
    let mut body = response.into_body();
    let published = LiveEvent::AgentAutoPaused {
        user: "1003".into(),
        queue: 7,
        missed: 3,
    };
    assert_eq!(events.send(published).expect("a subscriber"), 1);
    let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("an event within 5 s")
        .expect("a frame")
        .expect("no error");
    let text = String::from_utf8(frame.into_data().expect("data").to_vec()).expect("UTF-8");
    assert!(text.starts_with("event: agent_auto_paused\n"), "{text}");
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line");
    let data: serde_json::Value = serde_json::from_str(data).expect("JSON data");
    assert_eq!(
        data,
        json!({"type": "agent_auto_paused", "user": "1003", "queue": 7, "missed": 3})
    );
}
