//! `GET /api/v1/cdrs` and `GET /api/v1/cdrs/{id}`.

mod common;

use axum::http::StatusCode;
use common::{api, assert_error, assert_invalid, Api};
use serde_json::json;
use switchboard_schema::{CallDirection, CdrAnswer, CdrClose, CdrOpen, HangupSide, TargetKind};

/// 2023-11-14T22:13:20Z.
const T0: i64 = 1_700_000_000_000;

/// Six calls a minute apart: even ones inbound and answered by 1003, odd ones outbound from 1001,
/// unanswered. The first one is closed with legs and media statistics.
async fn calls(api: &Api) -> Vec<i64> {
    let mut ids = Vec::new();
    for i in 0..6_i64 {
        let at = T0 + i * 60_000;
        let inbound = i % 2 == 0;
        let id = api
            .db
            .cdr_open(&CdrOpen {
                call_id: format!("call-{i}@192.0.2.1"),
                direction: if inbound {
                    CallDirection::Inbound
                } else {
                    CallDirection::Outbound
                },
                from_number: if inbound {
                    "+4791234567".into()
                } else {
                    "1001".into()
                },
                to_number: if inbound {
                    "+4764000100".into()
                } else {
                    "+4722334455".into()
                },
                target_kind: inbound.then_some(TargetKind::HuntGroup),
                target_ref: inbound.then(|| "2".to_owned()),
                started_at_ms: at,
            })
            .await
            .expect("open");
        if inbound {
            api.db
                .cdr_answered(
                    id,
                    &CdrAnswer {
                        answered_at_ms: at + 3_000,
                        answered_by: "1003".into(),
                        ring_time_ms: 3_000,
                        queue_id: None,
                        queue_wait_ms: None,
                    },
                )
                .await
                .expect("answer");
        }
        ids.push(id);
    }
    api.db
        .cdr_closed(
            ids[0],
            &CdrClose {
                queue_outcome: None,
                queue_announcements: None,
                ended_at_ms: T0 + 45_000,
                hangup_cause: "BYE".into(),
                hangup_side: HangupSide::Callee,
                ring_time_ms: None,
                queue_id: None,
                queue_wait_ms: None,
                legs_json: r#"[{"to":"1003","outcome":"answered"}]"#.into(),
                media_json: r#"{"1003":{"rx_packets":2250}}"#.into(),
            },
        )
        .await
        .expect("close");
    ids
}

fn call_ids(body: &serde_json::Value) -> Vec<String> {
    body["cdrs"]
        .as_array()
        .expect("cdrs array")
        .iter()
        .map(|c| {
            c["call_id"]
                .as_str()
                .unwrap_or("")
                .trim_end_matches("@192.0.2.1")
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn one_record() {
    let api = api().await;
    let ids = calls(&api).await;
    let resp = api
        .call("GET", &format!("/api/v1/cdrs/{}", ids[0]), None)
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    let c = resp.1;
    assert_eq!(c["direction"], "inbound");
    assert_eq!(c["answered_by"], "1003");
    assert_eq!(c["hangup_side"], "callee");
    assert_eq!(c["ended_at_ms"], T0 + 45_000);
    // The JSON columns come out as JSON.
    assert_eq!(c["legs"], json!([{ "to": "1003", "outcome": "answered" }]));
    assert_eq!(c["media"]["1003"]["rx_packets"], 2250);
    let open = api
        .call("GET", &format!("/api/v1/cdrs/{}", ids[1]), None)
        .await
        .1;
    assert_eq!(
        (&open["ended_at_ms"], &open["legs"]),
        (&json!(null), &json!([]))
    );

    assert_error(
        &api.call("GET", "/api/v1/cdrs/999999", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_invalid(&api.call("GET", "/api/v1/cdrs/first", None).await, "id");
}

#[tokio::test]
async fn search_and_paging() {
    let api = api().await;
    calls(&api).await;
    let get = |query: &str| {
        let api = &api;
        let uri = format!("/api/v1/cdrs{query}");
        async move {
            let resp = api.call("GET", &uri, None).await;
            assert_eq!(resp.0, StatusCode::OK, "{uri}: {}", resp.1);
            resp.1
        }
    };

    let all = get("").await;
    assert_eq!(
        call_ids(&all),
        ["call-5", "call-4", "call-3", "call-2", "call-1", "call-0"]
    );
    assert_eq!(
        (&all["total"], &all["limit"], &all["offset"]),
        (&json!(6), &json!(50), &json!(0))
    );

    let page = get("?limit=2&offset=2").await;
    assert_eq!(
        (call_ids(&page), &page["total"]),
        (vec!["call-3".into(), "call-2".into()], &json!(6))
    );

    // [T0 + 1 min, T0 + 3 min) in three spellings.
    for query in [
        format!("?from={}&to={}", T0 + 60_000, T0 + 180_000),
        "?from=2023-11-14T22:14:20Z&to=2023-11-14T22:16:20Z".to_owned(),
        "?from=2023-11-14T23:14:20%2B01:00&to=2023-11-14T22:16:20.000Z".to_owned(),
    ] {
        assert_eq!(
            call_ids(&get(&query).await),
            ["call-2", "call-1"],
            "{query}"
        );
    }
    assert_eq!(get("?from=2023-11-15").await["total"], 0);

    assert_eq!(
        call_ids(&get("?answered=false").await),
        ["call-5", "call-3", "call-1"]
    );
    assert_eq!(get("?answered=true&direction=inbound").await["total"], 3);
    assert_eq!(get("?direction=internal").await["total"], 0);
    assert_eq!(get("?number=%2B4791234567").await["total"], 3);
    assert_eq!(
        get("?number=1003&limit=1").await["total"],
        3,
        "who answered"
    );
    assert_eq!(call_ids(&get("?number=1001&offset=2").await), ["call-1"]);
}

#[tokio::test]
async fn bad_queries_name_the_parameter() {
    let api = api().await;
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=1001", "limit"),
        ("?limit=ten", "limit"),
        ("?offset=-5", "offset"),
        ("?answered=maybe", "answered"),
        ("?direction=north", "direction"),
        ("?from=yesterday", "from"),
        ("?to=2023-02-30", "to"),
        ("?from=2000&to=1000", "to"),
        ("?number=", "number"),
        ("?anwsered=false", "anwsered"),
        ("?limit=5&limit=6", "limit"),
    ] {
        let resp = api.call("GET", &format!("/api/v1/cdrs{query}"), None).await;
        assert_invalid(&resp, field);
    }
}
