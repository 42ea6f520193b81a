//! Call detail records, on every backend.

#[macro_use]
mod common;

use switchboard_schema::{
    CallDirection, CdrAnswer, CdrClose, CdrFilter, CdrOpen, Db, HangupSide, SchemaError, TargetKind,
};

const T0: i64 = 1_700_000_000_000;

fn open(call_id: &str, direction: CallDirection, from: &str, to: &str, at: i64) -> CdrOpen {
    CdrOpen {
        call_id: call_id.to_owned(),
        direction,
        from_number: from.to_owned(),
        to_number: to.to_owned(),
        target_kind: Some(TargetKind::HuntGroup),
        target_ref: Some("1".to_owned()),
        started_at_ms: at,
    }
}

fn answer(at: i64, by: &str) -> CdrAnswer {
    CdrAnswer {
        answered_at_ms: at,
        answered_by: by.to_owned(),
        ring_time_ms: 4_000,
        queue_id: None,
        queue_wait_ms: None,
    }
}

fn close(at: i64) -> CdrClose {
    CdrClose {
        queue_outcome: None,
        queue_announcements: None,
        ended_at_ms: at,
        hangup_cause: "BYE".to_owned(),
        hangup_side: HangupSide::Caller,
        ring_time_ms: None,
        queue_id: None,
        queue_wait_ms: None,
        legs_json: r#"[{"to":"1003","outcome":"answered"}]"#.to_owned(),
        media_json: r#"{"1003":{"rx":500,"lost":0}}"#.to_owned(),
    }
}

fn field(err: &SchemaError) -> &str {
    match err {
        SchemaError::Invalid { field, .. } => field,
        other => panic!("expected SchemaError::Invalid, got {other:?}"),
    }
}

on_every_backend!(lifecycle, refused_updates, filters_and_paging);

async fn lifecycle(db: Db) {
    let id = db
        .cdr_open(&open(
            "abc@192.0.2.1",
            CallDirection::Inbound,
            "+4791234567",
            "+4764000100",
            T0,
        ))
        .await
        .unwrap();
    let fresh = db.get_cdr(id).await.unwrap().unwrap();
    assert_eq!(fresh.call_id, "abc@192.0.2.1");
    assert_eq!(fresh.direction, CallDirection::Inbound);
    assert_eq!(
        (fresh.target_kind, fresh.target_ref.as_deref()),
        (Some(TargetKind::HuntGroup), Some("1"))
    );
    assert_eq!(
        (fresh.ringing_at_ms, fresh.answered_at_ms, fresh.ended_at_ms),
        (None, None, None)
    );
    assert_eq!(
        (
            fresh.ring_time_ms,
            fresh.legs_json.as_str(),
            fresh.media_json.as_str()
        ),
        (0, "[]", "{}")
    );
    assert_eq!((fresh.hangup_cause, fresh.hangup_side), (None, None));

    db.cdr_ringing(id, T0 + 200).await.unwrap();
    // The first ringing time stays.
    db.cdr_ringing(id, T0 + 900).await.unwrap();
    let mut ans = answer(T0 + 4_200, "1003");
    ans.queue_id = Some(4);
    ans.queue_wait_ms = Some(1_500);
    db.cdr_answered(id, &ans).await.unwrap();
    let mut closing = close(T0 + 60_000);
    closing.queue_announcements = Some(3);
    db.cdr_closed(id, &closing).await.unwrap();

    let done = db.get_cdr(id).await.unwrap().unwrap();
    assert_eq!(done.ringing_at_ms, Some(T0 + 200));
    assert_eq!(done.answered_at_ms, Some(T0 + 4_200));
    assert_eq!(done.answered_by.as_deref(), Some("1003"));
    assert_eq!(
        (done.queue_id, done.queue_wait_ms),
        (Some(4), Some(1_500)),
        "kept at close"
    );
    assert_eq!(done.ring_time_ms, 4_000, "kept at close");
    assert_eq!(done.queue_announcements, Some(3));
    assert_eq!(done.ended_at_ms, Some(T0 + 60_000));
    assert_eq!(done.hangup_cause.as_deref(), Some("BYE"));
    assert_eq!(done.hangup_side, Some(HangupSide::Caller));
    assert_eq!(done.legs_json, r#"[{"to":"1003","outcome":"answered"}]"#);
    assert_eq!(done.media_json, r#"{"1003":{"rx":500,"lost":0}}"#);
    assert_eq!(db.get_cdr(id + 1000).await.unwrap(), None);

    // An unanswered, abandoned queue call: ring time and queue wait set at close.
    let mut unrouted = open(
        "def",
        CallDirection::Inbound,
        "anonymous",
        "+4764000000",
        T0,
    );
    unrouted.target_kind = None;
    unrouted.target_ref = None;
    let id2 = db.cdr_open(&unrouted).await.unwrap();
    let mut abandoned = close(T0 + 30_000);
    abandoned.ring_time_ms = Some(30_000);
    abandoned.queue_id = Some(2);
    abandoned.queue_wait_ms = Some(30_000);
    abandoned.hangup_cause = "487 Request Terminated".to_owned();
    abandoned.legs_json = "[]".to_owned();
    db.cdr_closed(id2, &abandoned).await.unwrap();
    let c = db.get_cdr(id2).await.unwrap().unwrap();
    assert_eq!((c.answered_at_ms, c.target_kind), (None, None));
    assert_eq!(
        (c.ring_time_ms, c.queue_id, c.queue_wait_ms),
        (30_000, Some(2), Some(30_000))
    );
}

async fn refused_updates(db: Db) {
    let id = db
        .cdr_open(&open("c1", CallDirection::Internal, "1001", "1002", T0))
        .await
        .unwrap();
    let err = db
        .cdr_answered(id + 1000, &answer(T0 + 1, "1002"))
        .await
        .unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
    let err = db.cdr_closed(id + 1000, &close(T0 + 1)).await.unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");
    let err = db.cdr_ringing(id + 1000, T0 + 1).await.unwrap_err();
    assert!(matches!(err, SchemaError::NotFound(_)), "{err:?}");

    let err = db
        .cdr_answered(id, &answer(T0 - 1, "1002"))
        .await
        .unwrap_err();
    assert_eq!(field(&err), "answered_at_ms");
    let err = db.cdr_closed(id, &close(T0 - 1)).await.unwrap_err();
    assert_eq!(field(&err), "ended_at_ms");
    let mut bad_json = close(T0 + 1);
    bad_json.media_json = "{rx: 1".to_owned();
    assert_eq!(
        field(&db.cdr_closed(id, &bad_json).await.unwrap_err()),
        "media_json"
    );
    let mut negative = answer(T0 + 1, "1002");
    negative.ring_time_ms = -1;
    assert_eq!(
        field(&db.cdr_answered(id, &negative).await.unwrap_err()),
        "ring_time_ms"
    );
    // None of the refused updates changed the record.
    let c = db.get_cdr(id).await.unwrap().unwrap();
    assert_eq!((c.answered_at_ms, c.ended_at_ms), (None, None));

    db.cdr_answered(id, &answer(T0 + 1, "1002")).await.unwrap();
    let err = db
        .cdr_answered(id, &answer(T0 + 2, "1003"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, SchemaError::Conflict(ref m) if m.contains("answered")),
        "{err:?}"
    );
    db.cdr_closed(id, &close(T0 + 5)).await.unwrap();
    let err = db.cdr_closed(id, &close(T0 + 6)).await.unwrap_err();
    assert!(
        matches!(err, SchemaError::Conflict(ref m) if m.contains("closed")),
        "{err:?}"
    );
    let err = db.cdr_ringing(id, T0 + 7).await.unwrap_err();
    assert!(matches!(err, SchemaError::Conflict(_)), "{err:?}");
    assert_eq!(
        db.get_cdr(id)
            .await
            .unwrap()
            .unwrap()
            .answered_by
            .as_deref(),
        Some("1002")
    );

    let mut half = open("c2", CallDirection::Inbound, "a", "b", T0);
    half.target_ref = None;
    assert_eq!(field(&db.cdr_open(&half).await.unwrap_err()), "target_ref");
    let empty = open("", CallDirection::Inbound, "a", "b", T0);
    assert_eq!(field(&db.cdr_open(&empty).await.unwrap_err()), "call_id");
}

async fn filters_and_paging(db: Db) {
    // Ten calls, one second apart: even ones inbound to the main number and answered,
    // odd ones outbound from 1001 and unanswered; call 7 from a citizen's mobile.
    let mut ids = Vec::new();
    for i in 0..10_i64 {
        let at = T0 + i * 1_000;
        let (dir, from, to) = match (i % 2, i) {
            (_, 7) => (CallDirection::Inbound, "+4791111111", "+4764000100"),
            (0, _) => (CallDirection::Inbound, "+4790000000", "+4764000000"),
            _ => (CallDirection::Outbound, "1001", "+4722222222"),
        };
        let id = db
            .cdr_open(&open(&format!("call-{i}"), dir, from, to, at))
            .await
            .unwrap();
        if i % 2 == 0 {
            db.cdr_answered(id, &answer(at + 500, "1002"))
                .await
                .unwrap();
        }
        ids.push(id);
    }
    let list = |filter: CdrFilter| {
        let db = db.clone();
        async move {
            let page = db.list_cdrs(&filter).await.unwrap();
            let calls: Vec<String> = page.cdrs.into_iter().map(|c| c.call_id).collect();
            (calls, page.total)
        }
    };

    let (all, total) = list(CdrFilter::default()).await;
    assert_eq!(total, 10);
    assert_eq!(
        all.first().map(String::as_str),
        Some("call-9"),
        "newest first"
    );
    assert_eq!(all.last().map(String::as_str), Some("call-0"));

    let (page, total) = list(CdrFilter {
        limit: 3,
        offset: 3,
        ..CdrFilter::default()
    })
    .await;
    assert_eq!(
        (page, total),
        (vec!["call-6".into(), "call-5".into(), "call-4".into()], 10)
    );
    let (page, _) = list(CdrFilter {
        limit: 3,
        offset: 9,
        ..CdrFilter::default()
    })
    .await;
    assert_eq!(page, ["call-0"]);
    let (page, total) = list(CdrFilter {
        offset: 20,
        ..CdrFilter::default()
    })
    .await;
    assert_eq!((page.len(), total), (0, 10));

    // [T0 + 2 s, T0 + 5 s): calls 2, 3, 4.
    let range = CdrFilter {
        from_ms: Some(T0 + 2_000),
        to_ms: Some(T0 + 5_000),
        ..CdrFilter::default()
    };
    assert_eq!(
        list(range).await,
        (vec!["call-4".into(), "call-3".into(), "call-2".into()], 3)
    );

    let answered = CdrFilter {
        answered: Some(true),
        ..CdrFilter::default()
    };
    assert_eq!(list(answered).await.1, 5);
    let unanswered = CdrFilter {
        answered: Some(false),
        direction: Some(CallDirection::Inbound),
        ..CdrFilter::default()
    };
    assert_eq!(list(unanswered).await, (vec!["call-7".into()], 1));
    let outbound = CdrFilter {
        direction: Some(CallDirection::Outbound),
        ..CdrFilter::default()
    };
    assert_eq!(list(outbound).await.1, 4);
    assert_eq!(
        list(CdrFilter {
            direction: Some(CallDirection::Internal),
            ..CdrFilter::default()
        })
        .await
        .1,
        0
    );

    // Number matches caller, callee or who answered.
    let by_caller = CdrFilter {
        number: Some("+4791111111".into()),
        ..CdrFilter::default()
    };
    assert_eq!(list(by_caller).await, (vec!["call-7".into()], 1));
    let by_callee = CdrFilter {
        number: Some("+4764000000".into()),
        limit: 2,
        ..CdrFilter::default()
    };
    assert_eq!(
        list(by_callee).await,
        (vec!["call-8".into(), "call-6".into()], 5)
    );
    let by_answerer = CdrFilter {
        number: Some("1002".into()),
        from_ms: Some(T0 + 8_000),
        ..CdrFilter::default()
    };
    assert_eq!(list(by_answerer).await, (vec!["call-8".into()], 1));
    let by_user = CdrFilter {
        number: Some("1001".into()),
        answered: Some(true),
        ..CdrFilter::default()
    };
    assert_eq!(list(by_user).await.1, 0);

    for (filter, name) in [
        (
            CdrFilter {
                limit: 0,
                ..CdrFilter::default()
            },
            "limit",
        ),
        (
            CdrFilter {
                limit: 1001,
                ..CdrFilter::default()
            },
            "limit",
        ),
        (
            CdrFilter {
                offset: -1,
                ..CdrFilter::default()
            },
            "offset",
        ),
        (
            CdrFilter {
                from_ms: Some(T0),
                to_ms: Some(T0 - 1),
                ..CdrFilter::default()
            },
            "to",
        ),
    ] {
        assert_eq!(field(&db.list_cdrs(&filter).await.unwrap_err()), name);
    }
}
