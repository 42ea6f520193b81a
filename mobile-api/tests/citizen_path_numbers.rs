//! Public numbers that follow a schedule with a closed target, on SQLite and PostgreSQL, and what call
//! control reads back with `load_citizen_path`.

#[path = "citizen_path/harness.rs"]
mod harness;

use axum::http::StatusCode;
use harness::{
    api_on, assert_error, assert_invalid, id_of, main_menu, office_hours, on_both_backends,
};
use mobile_api::ConfigChanged;
use serde_json::{json, Value};
use switchboard_schema::{Db, TargetKind};

on_both_backends!(numbers_with_hours, load_for_call_control);

async fn numbers_with_hours(db: Db) {
    let api = api_on(db, None).await;
    let schedule = id_of(
        &api.call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "Rådhuset", "schedule": office_hours() })),
        )
        .await,
    );
    let queue = id_of(
        &api.call(
            "POST",
            "/api/v1/queues",
            Some(json!({ "name": "Sentralbord" })),
        )
        .await,
    );
    let menu = id_of(
        &api.call("POST", "/api/v1/menus", Some(main_menu(queue)))
            .await,
    );
    api.changes();

    // A number routed to a menu, following the schedule, closed calls to a queue.
    let created = api
        .call(
            "POST",
            "/api/v1/numbers",
            Some(json!({
                "number": "+4764000000", "target_kind": "menu", "target_ref": menu.to_string(),
                "schedule_id": schedule, "closed_kind": "queue", "closed_ref": queue.to_string()
            })),
        )
        .await;
    assert_eq!(created.0, StatusCode::CREATED, "{}", created.1);
    assert_eq!(
        (
            &created.1["schedule_id"],
            &created.1["closed_kind"],
            &created.1["closed_ref"]
        ),
        (&json!(schedule), &json!("queue"), &json!(queue.to_string()))
    );
    assert_eq!(api.changes(), [ConfigChanged::Numbers]);
    let uri = "/api/v1/numbers/+4764000000";
    assert_eq!(
        api.call("GET", uri, None).await,
        (StatusCode::OK, created.1.clone())
    );

    // The old body (no hours) still works and keeps the hours.
    let resp = api
        .call("PUT", uri, Some(json!({ "label": "Sentralbord", "target_kind": "queue", "target_ref": queue.to_string() })))
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(
        (&resp.1["schedule_id"], &resp.1["closed_kind"]),
        (&json!(schedule), &json!("queue"))
    );
    // Giving any hours field sets all three: here, closed calls hear the message.
    let resp = api
        .call(
            "PUT",
            uri,
            Some(json!({ "target_kind": "queue", "target_ref": queue.to_string(), "schedule_id": schedule })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(
        (
            &resp.1["schedule_id"],
            &resp.1["closed_kind"],
            &resp.1["closed_ref"]
        ),
        (&json!(schedule), &Value::Null, &Value::Null)
    );
    let resp = api
        .call(
            "PUT",
            uri,
            Some(json!({
                "target_kind": "queue", "target_ref": queue.to_string(), "schedule_id": schedule,
                "closed_kind": "message", "closed_ref": "closed"
            })),
        )
        .await;
    assert_eq!(
        (resp.0, &resp.1["closed_ref"]),
        (StatusCode::OK, &json!("closed")),
        "{}",
        resp.1
    );
    assert_eq!(
        api.changes(),
        [
            ConfigChanged::Numbers,
            ConfigChanged::Numbers,
            ConfigChanged::Numbers
        ]
    );

    // Refusals.
    let put = |body: Value| {
        let api = &api;
        async move { api.call("PUT", uri, Some(body)).await }
    };
    let base = |extra: Value| {
        let mut body = json!({ "target_kind": "queue", "target_ref": queue.to_string() });
        for (k, v) in extra.as_object().expect("object") {
            body[k] = v.clone();
        }
        body
    };
    assert_invalid(
        &put(base(json!({ "schedule_id": 999 }))).await,
        "schedule_id",
    );
    assert_invalid(
        &put(base(
            json!({ "schedule_id": schedule, "closed_kind": "queue" }),
        ))
        .await,
        "closed_ref",
    );
    assert_invalid(
        &put(base(json!({ "schedule_id": schedule, "closed_ref": "1" }))).await,
        "closed_kind",
    );
    assert_invalid(
        &put(base(
            json!({ "schedule_id": schedule, "closed_kind": "queue", "closed_ref": "999" }),
        ))
        .await,
        "closed_ref",
    );
    assert_invalid(
        &put(base(
            json!({ "schedule_id": schedule, "closed_kind": "user", "closed_ref": "7777" }),
        ))
        .await,
        "closed_ref",
    );
    assert_invalid(
        &put(base(
            json!({ "closed_kind": "message", "closed_ref": "closed" }),
        ))
        .await,
        "schedule_id",
    );
    assert_invalid(
        &api.call(
            "POST",
            "/api/v1/numbers",
            Some(json!({ "number": "+4764000001", "target_kind": "user", "target_ref": "1001", "schedule_id": 999 })),
        )
        .await,
        "schedule_id",
    );
    assert!(api.changes().is_empty());
    assert_eq!(
        api.call("GET", uri, None).await.1["closed_ref"],
        "closed",
        "refusals changed nothing"
    );

    // What a number uses cannot be deleted; a closed target counts too.
    assert_error(
        &api.call("DELETE", &format!("/api/v1/schedules/{schedule}"), None)
            .await,
        StatusCode::CONFLICT,
        "in_use",
    );
    let resp = put(base(
        json!({ "schedule_id": schedule, "closed_kind": "menu", "closed_ref": menu.to_string() }),
    ))
    .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    let resp = api
        .call("DELETE", &format!("/api/v1/menus/{menu}"), None)
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "in_use");
    assert!(
        resp.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("closed target")),
        "{}",
        resp.1
    );
    // Clearing the hours frees both.
    let resp = put(base(json!({ "schedule_id": null }))).await;
    assert_eq!(
        (resp.0, &resp.1["schedule_id"]),
        (StatusCode::OK, &Value::Null),
        "{}",
        resp.1
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/menus/{menu}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/schedules/{schedule}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
}

async fn load_for_call_control(db: Db) {
    let api = api_on(db.clone(), None).await;
    let queue = id_of(
        &api.call(
            "POST",
            "/api/v1/queues",
            Some(json!({ "name": "Helse", "members": [{ "user": "1002", "penalty": 1 }] })),
        )
        .await,
    );
    let menu = id_of(
        &api.call("POST", "/api/v1/menus", Some(main_menu(queue)))
            .await,
    );
    let schedule = id_of(
        &api.call(
            "POST",
            "/api/v1/schedules",
            Some(json!({ "name": "Rådhuset", "schedule": office_hours() })),
        )
        .await,
    );
    let resp = api
        .call(
            "PUT",
            &format!("/api/v1/schedules/{schedule}/override"),
            Some(json!({ "route_to": format!("menu:{menu}") })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    let (status, _, _) = api
        .raw(
            "PUT",
            "/api/v1/prompts/welcome",
            Some(("audio/wav", harness::wav(&[1, 2, 3]))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let path = db.load_citizen_path().await.expect("load");
    assert_eq!(path.queues.len(), 1);
    assert_eq!(path.queues[0].id, queue);
    assert_eq!(
        (
            path.queues[0].members[0].user.as_str(),
            path.queues[0].members[0].penalty
        ),
        ("1002", 1)
    );
    assert_eq!(path.menus.len(), 1);
    assert_eq!(
        path.menus[0].config.id,
        u64::try_from(menu).expect("positive")
    );
    assert_eq!(path.menus[0].config.options.len(), 4);
    assert_eq!(path.schedules.len(), 1);
    assert!(matches!(
        &path.schedules[0].emergency_override,
        Some(switchboard_routing::schedule::Override::RouteTo(t)) if *t == format!("menu:{menu}")
    ));
    assert_eq!(path.uploaded_prompts, ["welcome"]);
    assert_eq!(
        db.get_prompt("welcome").await.expect("get"),
        Some(harness::wav(&[1, 2, 3]))
    );

    // The user removal path sees the citizen's references too.
    let resp = api
        .call(
            "PUT",
            &format!("/api/v1/queues/{queue}"),
            Some(json!({ "name": "Helse", "overflow_kind": "user", "overflow_ref": "1005" })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    let err = db.remove_user("1005").await.expect_err("in use");
    assert!(err.to_string().contains("overflow of queue"), "{err}");
    assert_eq!(path.queues[0].overflow_kind, None::<TargetKind>);
}
