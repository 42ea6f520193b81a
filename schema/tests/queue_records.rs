//! Priority numbers, opening hours on queues and menus, queue outcomes in call records and the
//! historical queue statistics computed from them, on every backend.

#[macro_use]
mod common;

use common::fixtures::{field, to, users};
use serde_json::json;
use switchboard_schema::{
    CallDirection, CdrAnswer, CdrClose, CdrOpen, Db, HangupSide, PublicNumberSpec, QueueOutcome,
    QueueSpec, ScheduleEntrySpec, SchemaError, TargetKind,
};

const T0: i64 = 1_800_000_000_000;

fn queue_spec(body: serde_json::Value) -> QueueSpec {
    serde_json::from_value(body).expect("queue spec")
}

async fn schedule(db: &Db, name: &str) -> i64 {
    let spec: ScheduleEntrySpec =
        serde_json::from_value(json!({"name": name, "schedule": {"weekly": {}}})).expect("spec");
    db.create_schedule(&spec).await.expect("schedule").id
}

on_every_backend!(
    priority_numbers,
    queue_and_menu_hours,
    history_from_records,
    history_refusals
);

async fn priority_numbers(db: Db) {
    users(&db, &["1001"]).await;
    let spec = PublicNumberSpec {
        priority: 5,
        ..to(TargetKind::User, "1001")
    };
    let n = db.create_public_number("+4764000902", &spec).await.unwrap();
    assert_eq!(n.priority, 5);
    let read = db.get_public_number("+4764000902").await.unwrap().unwrap();
    assert_eq!(read.priority, 5);
    let normal = db
        .update_public_number("+4764000902", &to(TargetKind::User, "1001"))
        .await
        .unwrap();
    assert_eq!(normal.priority, 0, "an update without a priority sets 0");
    for bad in [-1, 10] {
        let spec = PublicNumberSpec {
            priority: bad,
            ..to(TargetKind::User, "1001")
        };
        let err = db
            .create_public_number("+4764000903", &spec)
            .await
            .unwrap_err();
        assert_eq!(field(&err), "priority", "{bad}");
    }
}

async fn queue_and_menu_hours(db: Db) {
    users(&db, &["1001"]).await;
    let hours = schedule(&db, "Rådhuset").await;
    // A schedule that does not exist, and a closed target without a schedule, are refused.
    let err = db
        .create_queue(&queue_spec(
            json!({"name": "A", "schedule_id": hours + 100}),
        ))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "schedule_id");
    let err = db
        .create_queue(&queue_spec(
            json!({"name": "A", "closed_kind": "message", "closed_ref": "closed"}),
        ))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "schedule_id");
    let err = db
        .create_queue(&queue_spec(
            json!({"name": "A", "schedule_id": hours, "closed_kind": "user", "closed_ref": "nobody"}),
        ))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "closed_ref");
    let q = db
        .create_queue(&queue_spec(json!({
            "name": "A", "schedule_id": hours, "closed_kind": "user", "closed_ref": "1001",
        })))
        .await
        .unwrap();
    assert_eq!(q.schedule_id, Some(hours));
    assert_eq!(q.closed_kind, Some(TargetKind::User));
    assert_eq!(q.closed_ref.as_deref(), Some("1001"));
    let read = db.get_queue(q.id).await.unwrap().unwrap();
    assert_eq!(read, q);
    // A menu's schedule must exist too; it lives in the menu's JSON.
    let err = db
        .create_menu(&json!({"name": "M", "prompt": "main_menu",
                             "options": {"1": format!("queue:{}", q.id)},
                             "schedule_id": hours + 100}))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "schedule_id");
    let menu = db
        .create_menu(&json!({"name": "M", "prompt": "main_menu",
                             "options": {"1": format!("queue:{}", q.id)},
                             "schedule_id": hours, "closed": "message:closed"}))
        .await
        .unwrap();
    assert_eq!(menu.config.schedule_id, Some(hours as u64));
    // In use by the queue and the menu: the schedule stays, and the refusal names both.
    match db.delete_schedule(hours).await {
        Err(SchemaError::InUse(why)) => {
            assert!(
                why.contains("queue \"A\"") && why.contains("menu \"M\""),
                "{why}"
            )
        }
        other => panic!("expected InUse, got {other:?}"),
    }
    // A queue's closed target is a reference like an overflow: the user cannot go while it points there.
    assert!(matches!(
        db.remove_user("1001").await,
        Err(SchemaError::InUse(_))
    ));
    db.delete_menu(menu.id).await.unwrap();
    db.update_queue(q.id, &queue_spec(json!({"name": "A"})))
        .await
        .unwrap();
    assert!(db.delete_schedule(hours).await.unwrap());
}

/// A queue call's record: waited `wait_ms`, ended `outcome`; answered ones talk `talk_ms`.
async fn record(
    db: &Db,
    queue: i64,
    start: i64,
    wait_ms: i64,
    outcome: QueueOutcome,
    answered_by: Option<&str>,
    talk_ms: i64,
) {
    let id = db
        .cdr_open(&CdrOpen {
            call_id: format!("{start}@carrier"),
            direction: CallDirection::Inbound,
            from_number: "+4791234567".to_owned(),
            to_number: "+4764000901".to_owned(),
            target_kind: Some(TargetKind::Queue),
            target_ref: Some(queue.to_string()),
            started_at_ms: start,
        })
        .await
        .unwrap();
    let mut end = start + wait_ms;
    if let Some(by) = answered_by {
        db.cdr_answered(
            id,
            &CdrAnswer {
                answered_at_ms: start + wait_ms,
                answered_by: by.to_owned(),
                ring_time_ms: 0,
                queue_id: Some(queue),
                queue_wait_ms: Some(wait_ms),
            },
        )
        .await
        .unwrap();
        end += talk_ms;
    }
    db.cdr_closed(
        id,
        &CdrClose {
            ended_at_ms: end,
            hangup_cause: "BYE".to_owned(),
            hangup_side: HangupSide::Caller,
            ring_time_ms: None,
            queue_id: Some(queue),
            queue_wait_ms: Some(wait_ms),
            queue_outcome: Some(outcome),
            queue_announcements: None,
            legs_json: "[]".to_owned(),
            media_json: "[]".to_owned(),
        },
    )
    .await
    .unwrap();
}

async fn history_from_records(db: Db) {
    users(&db, &["1002", "1003"]).await;
    let q = db
        .create_queue(&queue_spec(
            json!({"name": "Helse", "service_level_secs": 20}),
        ))
        .await
        .unwrap()
        .id;
    let other = db
        .create_queue(&queue_spec(json!({"name": "Skole"})))
        .await
        .unwrap()
        .id;
    use QueueOutcome::*;
    record(&db, q, T0, 5_000, Answered, Some("1002"), 60_000).await;
    record(
        &db,
        q,
        T0 + 1_000,
        30_000,
        Answered,
        Some("1003/cellular"),
        120_000,
    )
    .await;
    record(&db, q, T0 + 2_000, 10_000, Answered, Some("1002"), 30_000).await;
    record(&db, q, T0 + 3_000, 40_000, Abandoned, None, 0).await;
    record(&db, q, T0 + 4_000, 0, Overflow, None, 0).await;
    record(&db, q, T0 + 5_000, 90_000, Callback, None, 0).await;
    // Another queue's call, and one of this queue's outside the period: not counted.
    record(&db, other, T0 + 6_000, 1_000, Answered, Some("1002"), 1_000).await;
    record(&db, q, T0 + 3_600_000, 1_000, Abandoned, None, 0).await;
    let h = db.queue_history(q, T0, T0 + 3_600_000).await.unwrap();
    assert_eq!(
        (
            h.offered,
            h.answered,
            h.abandoned,
            h.overflowed,
            h.callbacks
        ),
        (6, 3, 1, 1, 1)
    );
    assert_eq!(h.service_level_secs, 20);
    assert_eq!(h.answered_within_service_level, 2, "5 s and 10 s, not 30 s");
    // 2 of the 5 calls that wanted an answer now (the callback is not one of them).
    assert_eq!(h.service_level_basis_points, Some(4_000));
    assert_eq!(h.average_answer_wait_ms, Some(15_000));
    assert_eq!(h.longest_wait_ms, Some(90_000));
    assert_eq!(h.average_abandon_wait_ms, Some(40_000));
    assert_eq!(h.average_talk_ms, Some(70_000));
    let agents: Vec<(&str, i64, i64)> = h
        .agents
        .iter()
        .map(|a| (a.user.as_str(), a.answered, a.talk_ms))
        .collect();
    assert_eq!(agents, [("1002", 2, 90_000), ("1003", 1, 120_000)]);
    // An empty period has no averages.
    let empty = db.queue_history(q, T0 - 10_000, T0).await.unwrap();
    assert_eq!(empty.offered, 0);
    assert_eq!(empty.service_level_basis_points, None);
    assert_eq!(empty.average_answer_wait_ms, None);
}

async fn history_refusals(db: Db) {
    let q = db
        .create_queue(&queue_spec(json!({"name": "Helse"})))
        .await
        .unwrap()
        .id;
    assert!(matches!(
        db.queue_history(q + 1, T0, T0 + 1).await,
        Err(SchemaError::NotFound(_))
    ));
    for (from, to) in [(T0, T0), (T0, T0 - 1), (T0, T0 + 367 * 24 * 3_600_000)] {
        let err = db.queue_history(q, from, to).await.unwrap_err();
        assert_eq!(field(&err), "to", "{from}..{to}");
    }
}
