//! Prompts (built-in, uploaded, restored) and the live queue routes, which ask call control's queue
//! engine over `AppState::queues`: 503 without one, its answers with a test engine. On SQLite and
//! PostgreSQL.

#[path = "citizen_path/harness.rs"]
mod harness;

use axum::http::{header, StatusCode};
use harness::{api_on, assert_error, assert_invalid, on_both_backends, wav};
use mobile_api::{AgentStateChange, ConfigChanged, QueueRequest};
use serde_json::{json, Value};
use switchboard_media::prompts::PromptSet;
use switchboard_schema::Db;
use tokio::sync::mpsc;

on_both_backends!(prompts, live_without_engine, live_with_engine);

async fn prompts(db: Db) {
    let api = api_on(db, None).await;
    let builtin = PromptSet::builtin_nb();
    let builtin_welcome = builtin.get("welcome").expect("built-in welcome").to_vec();

    // The list starts with the built-in set.
    let (status, list) = api.call("GET", "/api/v1/prompts", None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let list = list.as_array().expect("array").clone();
    assert_eq!(list.len(), builtin.len());
    let welcome = list
        .iter()
        .find(|p| p["name"] == "welcome")
        .expect("welcome listed");
    assert_eq!(
        (&welcome["source"], &welcome["builtin"]),
        (&json!("builtin"), &json!(true))
    );
    let (status, headers, bytes) = api.raw("GET", "/api/v1/prompts/welcome", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "audio/wav");
    assert_eq!(bytes.as_ref(), builtin_welcome.as_slice());

    // Refused uploads.
    let put = |name: &str, content_type: &str, body: Vec<u8>| {
        let api = &api;
        let uri = format!("/api/v1/prompts/{name}");
        let content_type = content_type.to_owned();
        async move {
            let (status, _, bytes) = api.raw("PUT", &uri, Some((&content_type, body))).await;
            let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            (status, value)
        }
    };
    let not_wav = put("welcome", "audio/wav", b"RIFF....not a wave file".to_vec()).await;
    assert_invalid(&not_wav, "body");
    assert!(
        not_wav.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("WAV")),
        "{}",
        not_wav.1
    );
    assert_invalid(&put("welcome", "audio/wav", wav(&[])).await, "body");
    assert_invalid(&put("welcome", "audio/wav", Vec::new()).await, "body");
    assert_invalid(&put("Welcome", "audio/wav", wav(&[1, 2])).await, "name");
    assert_invalid(&put("wel-come", "audio/wav", wav(&[1, 2])).await, "name");
    assert_invalid(
        &put(&"x".repeat(41), "audio/wav", wav(&[1, 2])).await,
        "name",
    );
    let too_big = vec![0u8; switchboard_schema::MAX_PROMPT_BYTES + 1];
    assert_invalid(&put("welcome", "audio/wav", too_big).await, "body");
    assert_error(
        &put("welcome", "application/json", b"{}".to_vec()).await,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(api.changes().is_empty());

    // An upload replaces the built-in prompt …
    let recorded = wav(&[100, -100, 200, -200, 300]);
    let resp = put("welcome", "audio/x-wav", recorded.clone()).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(
        (&resp.1["name"], &resp.1["size_bytes"]),
        (&json!("welcome"), &json!(recorded.len()))
    );
    assert_eq!(api.changes(), [ConfigChanged::Prompt("welcome".into())]);
    let (_, _, bytes) = api.raw("GET", "/api/v1/prompts/welcome", None).await;
    assert_eq!(bytes.as_ref(), recorded.as_slice());
    let (_, list) = api.call("GET", "/api/v1/prompts", None).await;
    let welcome = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["name"] == "welcome")
        .cloned();
    let welcome = welcome.expect("still listed once");
    assert_eq!(
        (&welcome["source"], &welcome["builtin"]),
        (&json!("uploaded"), &json!(true))
    );
    assert!(welcome["uploaded_at"].is_i64(), "{welcome}");
    assert_eq!(list.as_array().map(Vec::len), Some(builtin.len()));

    // … a new name is added, and replacing an upload keeps one entry.
    assert_eq!(
        put("helse_closed", "audio/wav", wav(&[5])).await.0,
        StatusCode::OK
    );
    assert_eq!(
        put("helse_closed", "audio/wav", wav(&[5, 6])).await.0,
        StatusCode::OK
    );
    let (_, list) = api.call("GET", "/api/v1/prompts", None).await;
    let entry = list
        .as_array()
        .expect("array")
        .iter()
        .find(|p| p["name"] == "helse_closed")
        .cloned();
    let entry = entry.expect("listed");
    assert_eq!(
        (&entry["source"], &entry["builtin"]),
        (&json!("uploaded"), &json!(false))
    );
    assert_eq!(list.as_array().map(Vec::len), Some(builtin.len() + 1));
    api.changes();

    // Deleting the upload restores the built-in prompt; a name without one is gone.
    assert_eq!(
        api.call("DELETE", "/api/v1/prompts/welcome", None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, _, bytes) = api.raw("GET", "/api/v1/prompts/welcome", None).await;
    assert_eq!(bytes.as_ref(), builtin_welcome.as_slice());
    assert_error(
        &api.call("DELETE", "/api/v1/prompts/welcome", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.call("DELETE", "/api/v1/prompts/helse_closed", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &api.call("GET", "/api/v1/prompts/helse_closed", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.changes(),
        [
            ConfigChanged::Prompt("welcome".into()),
            ConfigChanged::Prompt("helse_closed".into())
        ]
    );
}

async fn live_without_engine(db: Db) {
    let api = api_on(db, None).await;
    let queue = api
        .call("POST", "/api/v1/queues", Some(json!({ "name": "Helse" })))
        .await;
    let id = queue.1["id"].as_i64().expect("id");
    let live_uri = format!("/api/v1/queues/{id}/live");
    let state = json!({ "state": "available" });
    for resp in [
        api.call("GET", &live_uri, None).await,
        api.call("GET", "/api/v1/queues/stats", None).await,
        api.call("PUT", "/api/v1/agents/1001/state", Some(state.clone()))
            .await,
    ] {
        assert_error(&resp, StatusCode::SERVICE_UNAVAILABLE, "queues_unavailable");
    }
    // Unknown queues and users are still 404: the database answers those.
    assert_error(
        &api.call("GET", "/api/v1/queues/999/live", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.call("PUT", "/api/v1/agents/7777/state", Some(state.clone()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // An engine that has gone away (its receiver dropped) is the same as none …
    let (tx, rx) = mpsc::channel(4);
    drop(rx);
    let gone = api.with_engine(Some(tx));
    assert_error(
        &gone.call("GET", "/api/v1/queues/stats", None).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "queues_unavailable",
    );
    // … and so is one that drops the reply unanswered.
    let (tx, mut rx) = mpsc::channel::<QueueRequest>(4);
    let engine = tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            drop(request);
        }
    });
    let mute = api.with_engine(Some(tx));
    assert_error(
        &mute
            .call("PUT", "/api/v1/agents/1001/state", Some(state))
            .await,
        StatusCode::SERVICE_UNAVAILABLE,
        "queues_unavailable",
    );
    engine.abort();
}

async fn live_with_engine(db: Db) {
    let (tx, mut rx) = mpsc::channel::<QueueRequest>(8);
    let api = api_on(db, Some(tx)).await;
    let id = api
        .call("POST", "/api/v1/queues", Some(json!({ "name": "Helse" })))
        .await
        .1["id"]
        .as_i64()
        .expect("id");
    let other = api
        .call("POST", "/api/v1/queues", Some(json!({ "name": "Skole" })))
        .await
        .1["id"]
        .as_i64()
        .expect("id");

    // A stand-in for call control: runs queue `id` only, refuses 1002, records state changes.
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let engine = tokio::spawn(async move {
        while let Some(request) = rx.recv().await {
            match request {
                QueueRequest::Snapshot { queue, reply } => {
                    let _ = reply.send((queue == id).then(|| {
                        json!({ "queue": queue, "waiting": [{ "position": 1, "waited_secs": 42 }], "agents": [] })
                    }));
                }
                QueueRequest::Stats { reply } => {
                    let _ = reply.send(json!({ "queues": [{ "id": id, "answered": 7 }] }));
                }
                QueueRequest::SetAgentState { user, state, reply } => {
                    let answer = if user == "1002" {
                        Err("1002 is not a member of any queue".to_owned())
                    } else {
                        Ok(())
                    };
                    let _ = seen_tx.send((user, state));
                    let _ = reply.send(answer);
                }
                // Not asked in this test (the staff routes are tested through the binary).
                QueueRequest::Staff { .. } | QueueRequest::SetPresence { .. } => {}
            }
        }
    });

    let resp = api
        .call("GET", &format!("/api/v1/queues/{id}/live"), None)
        .await;
    assert_eq!(
        resp,
        (
            StatusCode::OK,
            json!({ "queue": id, "waiting": [{ "position": 1, "waited_secs": 42 }], "agents": [] })
        )
    );
    assert_error(
        &api.call("GET", &format!("/api/v1/queues/{other}/live"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    let resp = api.call("GET", "/api/v1/queues/stats", None).await;
    assert_eq!(
        resp,
        (
            StatusCode::OK,
            json!({ "queues": [{ "id": id, "answered": 7 }] })
        )
    );

    let put = |user: &str, body: Value| {
        let api = &api;
        let uri = format!("/api/v1/agents/{user}/state");
        async move { api.call("PUT", &uri, Some(body)).await }
    };
    assert_eq!(
        put("1001", json!({ "state": "paused", "reason": "lunsj" }))
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put("1003", json!({ "state": "logged_out" })).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put("1004", json!({ "state": "dnd" })).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put("1005", json!({ "state": "reset" })).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        put("1001", json!({ "state": "available" })).await.0,
        StatusCode::NO_CONTENT
    );
    let refused = put("1002", json!({ "state": "available" })).await;
    assert_error(&refused, StatusCode::CONFLICT, "conflict");
    assert!(
        refused.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a member")),
        "{}",
        refused.1
    );
    // Bad bodies never reach the engine.
    assert_invalid(&put("1001", json!({ "state": "asleep" })).await, "state");
    assert_invalid(
        &put("1001", json!({ "state": "available", "reason": "x" })).await,
        "reason",
    );
    assert_invalid(
        &put(
            "1001",
            json!({ "state": "paused", "reason": "x".repeat(101) }),
        )
        .await,
        "reason",
    );
    assert_invalid(&put("1001", json!({})).await, "state");
    assert_error(
        &put("7777", json!({ "state": "available" })).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let mut changes = Vec::new();
    while let Ok(change) = seen.try_recv() {
        changes.push(change);
    }
    assert_eq!(
        changes,
        [
            (
                "1001".to_owned(),
                AgentStateChange::Paused {
                    reason: Some("lunsj".into())
                }
            ),
            ("1003".to_owned(), AgentStateChange::LoggedOut),
            ("1004".to_owned(), AgentStateChange::Dnd),
            ("1005".to_owned(), AgentStateChange::Reset),
            ("1001".to_owned(), AgentStateChange::Available),
            ("1002".to_owned(), AgentStateChange::Available),
        ]
    );
    engine.abort();
}
