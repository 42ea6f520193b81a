//! The citizen's-path admin endpoints on SQLite and PostgreSQL: queues, menus and schedules with their
//! override; round trips, validation bodies, 404/409 and the change notices.

#[path = "citizen_path/harness.rs"]
mod harness;

use axum::http::StatusCode;
use harness::{
    api_on, assert_error, assert_invalid, id_of, main_menu, office_hours, on_both_backends,
};
use mobile_api::ConfigChanged;
use serde_json::{json, Value};
use switchboard_schema::Db;

on_both_backends!(queues, menus, schedules_and_override);

async fn queues(db: Db) {
    let api = api_on(db, None).await;
    let created = api
        .call(
            "POST",
            "/api/v1/queues",
            Some(json!({
                "name": "Helse", "strategy": "linear", "max_callers": 10,
                "members": [{ "user": "1003" }, { "user": "1004", "penalty": 2 }]
            })),
        )
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let id = id_of(&created);
    let q = &created.1;
    assert_eq!(q["strategy"], "linear");
    assert_eq!(
        (&q["ring_timeout_secs"], &q["wrap_up_secs"]),
        (&json!(20), &json!(10))
    );
    assert_eq!(q["announce_every_secs"], 60);
    assert_eq!(q["first_announce_after_secs"], 30);
    assert_eq!(q["service_level_secs"], 20);
    assert_eq!(
        (&q["join_empty"], &q["leave_empty"]),
        (&json!(true), &json!(false))
    );
    assert_eq!(q["hold_music"], "moh");
    assert_eq!(q["greeting_prompt"], "queue_greeting");
    assert_eq!(q["callback_after_secs"], Value::Null);
    assert_eq!(q["max_callers"], 10);
    assert_eq!(
        q["members"],
        json!([
            { "user": "1003", "penalty": 0, "position": 0 },
            { "user": "1004", "penalty": 2, "position": 1 }
        ])
    );
    assert_eq!(api.changes(), [ConfigChanged::Queues]);

    let uri = format!("/api/v1/queues/{id}");
    assert_eq!(
        api.call("GET", &uri, None).await,
        (StatusCode::OK, created.1.clone())
    );
    let listed = api.call("GET", "/api/v1/queues", None).await;
    assert_eq!(listed, (StatusCode::OK, json!([created.1.clone()])));

    // An update without `members` keeps them; nulls switch the defaulted options off.
    let resp = api
        .call(
            "PUT",
            &uri,
            Some(json!({
                "name": "Helse og omsorg", "strategy": "ring_all", "announce_every_secs": null,
                "greeting_prompt": null, "hold_music": "ringback", "callback_after_secs": 120,
                "overflow_kind": "message", "overflow_ref": "closed"
            })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(resp.1["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (&resp.1["announce_every_secs"], &resp.1["greeting_prompt"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        (&resp.1["hold_music"], &resp.1["callback_after_secs"]),
        (&json!("ringback"), &json!(120))
    );
    assert_eq!(api.changes(), [ConfigChanged::Queues]);

    // Members on their own.
    let members_uri = format!("{uri}/members");
    let resp = api
        .call(
            "PUT",
            &members_uri,
            Some(json!({ "members": [{ "user": "1005", "penalty": 1 }] })),
        )
        .await;
    assert_eq!(
        resp,
        (
            StatusCode::OK,
            json!({ "members": [{ "user": "1005", "penalty": 1, "position": 0 }] })
        )
    );
    assert_eq!(api.call("GET", &members_uri, None).await, resp);
    assert_eq!(api.changes(), [ConfigChanged::Queues]);
    assert_invalid(
        &api.call(
            "PUT",
            &members_uri,
            Some(json!({ "members": [{ "user": "7777" }] })),
        )
        .await,
        "members[0].user",
    );
    assert_invalid(
        &api.call(
            "PUT",
            &members_uri,
            Some(json!({ "members": [{ "user": "1001" }, { "user": "1001" }] })),
        )
        .await,
        "members[1].user",
    );
    assert_invalid(
        &api.call(
            "PUT",
            &members_uri,
            Some(json!({ "members": [{ "user": "1001", "penalty": -1 }] })),
        )
        .await,
        "members[0].penalty",
    );
    assert_error(
        &api.call(
            "PUT",
            "/api/v1/queues/999/members",
            Some(json!({ "members": [] })),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.call("GET", &members_uri, None).await,
        resp,
        "refused writes change nothing"
    );

    // Validation and conflicts.
    let post = |body: Value| {
        let api = &api;
        async move { api.call("POST", "/api/v1/queues", Some(body)).await }
    };
    assert_error(
        &post(json!({ "name": "Helse og omsorg" })).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "strategy": "fifo" })).await,
        "strategy",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "ring_timeout_secs": 0 })).await,
        "ring_timeout_secs",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "hold_music": "jazz" })).await,
        "hold_music",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "colour": 1 })).await,
        "colour",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "overflow_kind": "queue", "overflow_ref": "999" })).await,
        "overflow_ref",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "overflow_kind": "queue" })).await,
        "overflow_ref",
    );
    assert_invalid(
        &post(json!({ "name": "Skole", "members": [{ "user": "7777" }] })).await,
        "members[0].user",
    );
    assert_invalid(
        &api.call(
            "PUT",
            &uri,
            Some(json!({ "name": "Helse", "overflow_kind": "queue", "overflow_ref": id.to_string() })),
        )
        .await,
        "overflow_ref",
    );
    assert!(api.changes().is_empty(), "refused writes announce nothing");

    // A second queue overflowing into the first keeps the first from being deleted.
    let other =
        post(json!({ "name": "Skole", "overflow_kind": "queue", "overflow_ref": id.to_string() }))
            .await;
    assert_eq!(other.0, StatusCode::CREATED, "{}", other.1);
    api.changes();
    assert_error(
        &api.call("DELETE", &uri, None).await,
        StatusCode::CONFLICT,
        "in_use",
    );
    let other_uri = format!("/api/v1/queues/{}", id_of(&other));
    assert_eq!(
        api.call("DELETE", &other_uri, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call("DELETE", &uri, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.changes(),
        [ConfigChanged::Queues, ConfigChanged::Queues]
    );
    assert_error(
        &api.call("GET", &uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.call("DELETE", &uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_invalid(&api.call("GET", "/api/v1/queues/abc", None).await, "id");
}

async fn menus(db: Db) {
    let api = api_on(db, None).await;
    let queue = id_of(
        &api.call("POST", "/api/v1/queues", Some(json!({ "name": "Helse" })))
            .await,
    );
    api.changes();

    let created = api
        .call("POST", "/api/v1/menus", Some(main_menu(queue)))
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let id = id_of(&created);
    let menu = &created.1;
    assert_eq!(menu["name"], "Hovedmeny");
    assert_eq!(menu["options"]["1"], format!("queue:{queue}"));
    assert_eq!(menu["timeout_ms"], 4000);
    // Defaults are written out, so what the API shows is what call control runs.
    assert_eq!(menu["max_attempts"], 3);
    assert_eq!(menu["goodbye_prompt"], "goodbye");
    assert_eq!(api.changes(), [ConfigChanged::Menus]);

    // What a GET answers can be PUT back, changed.
    let uri = format!("/api/v1/menus/{id}");
    let (status, mut body) = api.call("GET", &uri, None).await;
    assert_eq!((status, &body), (StatusCode::OK, &created.1));
    body["options"]["2"] = json!("message:closed");
    let resp = api.call("PUT", &uri, Some(body.clone())).await;
    assert_eq!(resp, (StatusCode::OK, body.clone()));
    assert_eq!(
        api.call("GET", "/api/v1/menus", None).await,
        (StatusCode::OK, json!([body]))
    );
    assert_eq!(api.changes(), [ConfigChanged::Menus]);

    // Routing's refusals, with its message.
    let post = |body: Value| {
        let api = &api;
        async move { api.call("POST", "/api/v1/menus", Some(body)).await }
    };
    let bad_key = post(json!({ "name": "B", "prompt": "p", "options": { "x": "repeat" } })).await;
    assert_invalid(&bad_key, "options");
    assert!(
        bad_key.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("not a key")),
        "{}",
        bad_key.1
    );
    assert_invalid(
        &post(json!({ "name": "B", "prompt": "p", "options": { "1": "fax:1" } })).await,
        "options",
    );
    assert_invalid(
        &post(json!({ "name": "B", "options": { "1": "repeat" } })).await,
        "prompt",
    );
    assert_invalid(
        &post(json!({ "name": "B", "prompt": "p", "options": {} })).await,
        "body",
    );
    assert_invalid(
        &post(json!({ "name": "B", "prompt": "p", "options": { "1": "repeat" }, "colour": 1 }))
            .await,
        "colour",
    );
    assert_invalid(
        &post(json!({ "prompt": "p", "options": { "1": "repeat" } })).await,
        "name",
    );
    assert_invalid(&post(json!([1, 2])).await, "body");
    assert_error(
        &post(main_menu(queue)).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    let mut to_itself = body_with(&api, &uri).await;
    to_itself["options"]["3"] = json!(format!("menu:{id}"));
    let resp = api.call("PUT", &uri, Some(to_itself)).await;
    assert_invalid(&resp, "body");
    assert!(
        resp.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("itself")),
        "{}",
        resp.1
    );
    let mut other_id = body_with(&api, &uri).await;
    other_id["id"] = json!(id + 100);
    assert_invalid(&api.call("PUT", &uri, Some(other_id)).await, "id");
    assert_error(
        &api.call("PUT", "/api/v1/menus/999", Some(main_menu(queue)))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(api.changes().is_empty());

    // A sub-menu pointing back; then deletes that would leave a menu pointing nowhere are refused.
    let sub =
        post(json!({ "name": "Helse", "prompt": "p", "options": { "0": format!("menu:{id}") } }))
            .await;
    assert_eq!(sub.0, StatusCode::CREATED, "{}", sub.1);
    api.changes();
    let resp = api.call("DELETE", &uri, None).await;
    assert_error(&resp, StatusCode::CONFLICT, "in_use");
    assert!(
        resp.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("Helse")),
        "{}",
        resp.1
    );
    assert_error(
        &api.call("DELETE", &format!("/api/v1/queues/{queue}"), None)
            .await,
        StatusCode::CONFLICT,
        "in_use",
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/menus/{}", id_of(&sub)), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call("DELETE", &uri, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.changes(), [ConfigChanged::Menus, ConfigChanged::Menus]);
    assert_error(
        &api.call("GET", &uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

async fn body_with(api: &harness::Api, uri: &str) -> Value {
    let (status, body) = api.call("GET", uri, None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn schedules_and_override(db: Db) {
    let api = api_on(db, None).await;
    let created = api
        .call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "Rådhuset", "schedule": office_hours() })),
        )
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    let id = id_of(&created);
    assert_eq!(
        created.1["schedule"]["weekly"]["mon"],
        json!([{ "from": "08:00", "to": "15:30" }])
    );
    assert_eq!(created.1["schedule"]["closed_on_public_holidays"], true);
    assert_eq!(created.1["override"], Value::Null);
    assert_eq!(api.changes(), [ConfigChanged::Schedules]);
    let uri = format!("/api/v1/schedules/{id}");
    assert_eq!(
        api.call("GET", &uri, None).await,
        (StatusCode::OK, created.1.clone())
    );

    // Bad hours are refused with routing's message, naming where.
    let bad = api
        .call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "X", "schedule": { "weekly": { "mon": [{ "from": "25:00", "to": "26:00" }] } } })),
        )
        .await;
    assert_eq!(bad.0, StatusCode::BAD_REQUEST, "{}", bad.1);
    assert!(
        bad.1["field"]
            .as_str()
            .is_some_and(|f| f.starts_with("schedule")),
        "{}",
        bad.1
    );
    assert!(
        bad.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("25:00")),
        "{}",
        bad.1
    );
    assert_invalid(
        &api.call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "X", "schedule": { "weekly": { "tues": [] } } })),
        )
        .await,
        "schedule.weekly.tues",
    );
    assert_invalid(
        &api.call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": " ", "schedule": {} })),
        )
        .await,
        "name",
    );
    assert_error(
        &api.call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "Rådhuset", "schedule": {} })),
        )
        .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert!(api.changes().is_empty());

    // The override: set, shown, kept by an update of the hours, cleared.
    let override_uri = format!("{uri}/override");
    let closed = json!({ "closed_with_message": "Sentralbordet er stengt i dag." });
    let resp = api.call("PUT", &override_uri, Some(closed.clone())).await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(resp.1["override"], closed);
    assert_eq!(api.changes(), [ConfigChanged::Schedules]);
    let resp = api
        .call(
            "PUT",
            &uri,
            Some(json!({ "name": "Rådhuset", "schedule": { "closed_on_public_holidays": false } })),
        )
        .await;
    assert_eq!(
        (resp.0, &resp.1["override"]),
        (StatusCode::OK, &closed),
        "{}",
        resp.1
    );
    assert_eq!(resp.1["schedule"]["closed_on_public_holidays"], false);
    let queue = id_of(
        &api.call(
            "POST",
            "/api/v1/queues",
            Some(json!({ "name": "Beredskap" })),
        )
        .await,
    );
    api.changes();
    let route = json!({ "route_to": format!("queue:{queue}") });
    let resp = api.call("PUT", &override_uri, Some(route.clone())).await;
    assert_eq!(
        (resp.0, &resp.1["override"]),
        (StatusCode::OK, &route),
        "{}",
        resp.1
    );
    assert_invalid(
        &api.call(
            "PUT",
            &override_uri,
            Some(json!({ "route_to": "queue:999" })),
        )
        .await,
        "route_to",
    );
    assert_invalid(
        &api.call(
            "PUT",
            &override_uri,
            Some(json!({ "route_to": "somewhere" })),
        )
        .await,
        "route_to",
    );
    let resp = api
        .call(
            "PUT",
            &override_uri,
            Some(json!({ "closed_with_message": " " })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::BAD_REQUEST, "{}", resp.1);
    let resp = api
        .call("PUT", &override_uri, Some(json!({ "open": true })))
        .await;
    assert_eq!(resp.0, StatusCode::BAD_REQUEST, "{}", resp.1);
    assert_error(
        &api.call(
            "PUT",
            "/api/v1/schedules/999/override",
            Some(closed.clone()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.call("GET", &uri, None).await.1["override"],
        route,
        "refusals kept the override"
    );
    let resp = api.call("DELETE", &override_uri, None).await;
    assert_eq!(
        (resp.0, &resp.1["override"]),
        (StatusCode::OK, &Value::Null),
        "{}",
        resp.1
    );
    // The redirect and the clearing.
    assert_eq!(
        api.changes(),
        [ConfigChanged::Schedules, ConfigChanged::Schedules]
    );

    assert_eq!(
        api.call("DELETE", &uri, None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &api.call("GET", &uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.call("DELETE", &uri, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}
