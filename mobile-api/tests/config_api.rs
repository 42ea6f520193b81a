//! The call-routing admin endpoints: main number, call settings, public numbers, hunt groups,
//! trunks; happy paths, validation bodies, 404, 409 and the change notices.

mod common;

use axum::http::StatusCode;
use common::{api, assert_error, assert_invalid};
use mobile_api::ConfigChanged;
use serde_json::json;

#[tokio::test]
async fn main_number() {
    let mut api = api().await;
    let resp = api.call("GET", "/api/v1/settings/main-number", None).await;
    assert_eq!(resp, (StatusCode::OK, json!({ "main_number": null })));

    let body = json!({ "main_number": "+4764000000" });
    let resp = api
        .call("PUT", "/api/v1/settings/main-number", Some(body.clone()))
        .await;
    assert_eq!(resp, (StatusCode::OK, body.clone()));
    assert_eq!(
        api.call("GET", "/api/v1/settings/main-number", None)
            .await
            .1,
        body
    );
    assert_eq!(api.changes(), [ConfigChanged::Settings]);

    for bad in [
        json!({ "main_number": "64000000" }),
        json!({ "main_number": null }),
        json!({}),
        json!({ "main_number": 4764000000_i64 }),
    ] {
        let resp = api
            .call("PUT", "/api/v1/settings/main-number", Some(bad.clone()))
            .await;
        assert_invalid(&resp, "main_number");
    }
    let resp = api
        .call(
            "PUT",
            "/api/v1/settings/main-number",
            Some(json!({ "main_number": "+4764000000", "x": 1 })),
        )
        .await;
    assert_invalid(&resp, "x");
    assert!(api.changes().is_empty(), "refused writes announce nothing");
    assert_eq!(
        api.db.main_number().await.unwrap().as_deref(),
        Some("+4764000000")
    );
}

#[tokio::test]
async fn call_settings() {
    let mut api = api().await;
    let resp = api
        .call("GET", "/api/v1/users/1003/call-settings", None)
        .await;
    assert_eq!(resp.0, StatusCode::OK);
    assert_eq!(
        resp.1,
        json!({
            "direct_number": null, "caller_id_default": "main", "ring_cellular": false,
            "cellular_delay_secs": 0, "confirm_cellular": true, "allow_internal": true,
            "allow_national": true, "allow_mobile": true, "allow_international": false,
            "allow_premium": false, "srtp": "preferred"
        })
    );
    assert_error(
        &api.call("GET", "/api/v1/users/7777/call-settings", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let body = json!({
        "direct_number": "+4764000301", "caller_id_default": "direct", "ring_cellular": true,
        "cellular_delay_secs": 5, "allow_international": true
    });
    let resp = api
        .call("PUT", "/api/v1/users/1003/call-settings", Some(body))
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(resp.1["caller_id_default"], "direct");
    assert_eq!(resp.1["allow_mobile"], true, "left out: default");
    assert_eq!(
        api.call("GET", "/api/v1/users/1003/call-settings", None)
            .await
            .1,
        resp.1
    );
    assert_eq!(
        api.changes(),
        [ConfigChanged::UserCallSettings("1003".into())]
    );

    let put = |user: &'static str, body: serde_json::Value| {
        let api = &api;
        async move {
            api.call(
                "PUT",
                &format!("/api/v1/users/{user}/call-settings"),
                Some(body),
            )
            .await
        }
    };
    assert_invalid(
        &put("1004", json!({ "caller_id_default": "direct" })).await,
        "caller_id_default",
    );
    assert_invalid(
        &put("1004", json!({ "caller_id_default": "mobile" })).await,
        "caller_id_default",
    );
    assert_invalid(
        &put("1004", json!({ "direct_number": "0047640003" })).await,
        "direct_number",
    );
    assert_invalid(
        &put("1004", json!({ "cellular_delay_secs": 301 })).await,
        "cellular_delay_secs",
    );
    assert_invalid(
        &put("1004", json!({ "ring_cellular": "yes" })).await,
        "ring_cellular",
    );
    assert_invalid(
        &put("1004", json!({ "ring_celular": true })).await,
        "ring_celular",
    );
    assert_invalid(
        &put("9001", json!({ "ring_cellular": true })).await,
        "ring_cellular",
    );
    assert_error(
        &put("1004", json!({ "direct_number": "+4764000301" })).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_error(
        &put("7777", json!({})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert!(api.changes().is_empty());
}

#[tokio::test]
async fn numbers() {
    let mut api = api().await;
    let group = api
        .call(
            "POST",
            "/api/v1/hunt-groups",
            Some(json!({ "name": "Sentralbord", "strategy": "ring_all" })),
        )
        .await;
    let gid = group.1["id"].as_i64().expect("id").to_string();
    api.changes();

    let resp = api
        .call(
            "POST",
            "/api/v1/numbers",
            Some(json!({ "number": "+4764000000", "label": "Sentralbord", "target_kind": "hunt_group", "target_ref": gid })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.1);
    assert_eq!(resp.1["number"], "+4764000000");
    assert_eq!(resp.1["target_kind"], "hunt_group");
    assert!(resp.1["created_at"].as_i64().is_some());
    assert_eq!(api.changes(), [ConfigChanged::Numbers]);

    let listed = api.call("GET", "/api/v1/numbers", None).await;
    assert_eq!(listed.0, StatusCode::OK);
    assert_eq!(listed.1.as_array().map(Vec::len), Some(1));
    // '+' in a path is literal; %2B works too.
    for uri in [
        "/api/v1/numbers/+4764000000",
        "/api/v1/numbers/%2B4764000000",
    ] {
        let resp = api.call("GET", uri, None).await;
        assert_eq!(
            (resp.0, &resp.1["label"]),
            (StatusCode::OK, &json!("Sentralbord")),
            "{uri}"
        );
    }

    let post = |body: serde_json::Value| {
        let api = &api;
        async move { api.call("POST", "/api/v1/numbers", Some(body)).await }
    };
    assert_error(
        &post(json!({ "number": "+4764000000", "target_kind": "user", "target_ref": "1001" }))
            .await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_invalid(
        &post(json!({ "number": "64000001", "target_kind": "user", "target_ref": "1001" })).await,
        "number",
    );
    assert_invalid(
        &post(json!({ "number": "+4764000001", "target_kind": "fax", "target_ref": "1" })).await,
        "target_kind",
    );
    assert_invalid(
        &post(json!({ "number": "+4764000001", "target_kind": "hunt_group", "target_ref": "999" }))
            .await,
        "target_ref",
    );
    assert_invalid(
        &post(json!({ "number": "+4764000001", "target_kind": "user", "target_ref": "7777" }))
            .await,
        "target_ref",
    );
    assert_invalid(
        &post(json!({ "number": "+4764000001", "target_kind": "message", "target_ref": "../x" }))
            .await,
        "target_ref",
    );
    assert_invalid(
        &post(json!({ "number": "+4764000001", "target_kind": "user" })).await,
        "target_ref",
    );
    assert_invalid(&post(json!({ "number": "+4764000001", "target_kind": "user", "target_ref": "1001", "label": "x\n" })).await, "label");
    let resp = api
        .raw(
            "POST",
            "/api/v1/numbers",
            Some(common::TOKEN),
            Some(("application/json", "{\"number\": ".into())),
        )
        .await;
    assert_invalid(&resp, "body");
    let resp = api
        .raw(
            "POST",
            "/api/v1/numbers",
            Some(common::TOKEN),
            Some(("text/plain", "{}".into())),
        )
        .await;
    assert_error(
        &resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    );
    assert!(api.changes().is_empty());

    let resp = api
        .call(
            "PUT",
            "/api/v1/numbers/+4764000000",
            Some(json!({ "target_kind": "message", "target_ref": "closed" })),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(
        (&resp.1["target_kind"], &resp.1["label"]),
        (&json!("message"), &json!(""))
    );
    assert_eq!(api.changes(), [ConfigChanged::Numbers]);
    // The number is the path's; the body may not carry one.
    let resp = api
        .call(
            "PUT",
            "/api/v1/numbers/+4764000000",
            Some(json!({ "number": "+1", "target_kind": "user", "target_ref": "1001" })),
        )
        .await;
    assert_invalid(&resp, "number");
    assert_error(
        &api.call(
            "PUT",
            "/api/v1/numbers/+4799999999",
            Some(json!({ "target_kind": "user", "target_ref": "1001" })),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    assert_eq!(
        api.call("DELETE", "/api/v1/numbers/+4764000000", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.changes(), [ConfigChanged::Numbers]);
    assert_error(
        &api.call("DELETE", "/api/v1/numbers/+4764000000", None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_error(
        &api.call("GET", "/api/v1/numbers/+4764000000", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn hunt_groups() {
    let mut api = api().await;
    let body = json!({
        "name": "Helse", "strategy": "sequential",
        "members": [{ "username": "1003" }, { "username": "1004", "ring_time_secs": 20 }, { "username": "1005" }]
    });
    let resp = api.call("POST", "/api/v1/hunt-groups", Some(body)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.1);
    let helse = resp.1;
    let id = helse["id"].as_i64().expect("id");
    assert_eq!(helse["ring_time_secs"], 15);
    assert_eq!(helse["timeout_secs"], 60);
    assert_eq!(helse["busy_policy"], "skip");
    assert_eq!(
        helse["members"][1],
        json!({ "username": "1004", "position": 1, "ring_time_secs": 20 })
    );
    assert_eq!(api.changes(), [ConfigChanged::HuntGroups]);
    assert_eq!(
        api.call("GET", &format!("/api/v1/hunt-groups/{id}"), None)
            .await
            .1,
        helse
    );
    assert_eq!(
        api.call("GET", "/api/v1/hunt-groups", None).await.1,
        json!([helse])
    );

    let post = |body: serde_json::Value| {
        let api = &api;
        async move { api.call("POST", "/api/v1/hunt-groups", Some(body)).await }
    };
    assert_error(
        &post(json!({ "name": "Helse", "strategy": "ring_all" })).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_invalid(
        &post(json!({ "name": "X", "strategy": "random" })).await,
        "strategy",
    );
    assert_invalid(&post(json!({ "name": "X" })).await, "strategy");
    assert_invalid(
        &post(json!({ "name": "", "strategy": "ring_all" })).await,
        "name",
    );
    assert_invalid(
        &post(json!({ "name": "X", "strategy": "ring_all", "ring_time_secs": 0 })).await,
        "ring_time_secs",
    );
    assert_invalid(
        &post(json!({ "name": "X", "strategy": "ring_all", "busy_policy": "hang_up" })).await,
        "busy_policy",
    );
    assert_invalid(&post(json!({ "name": "X", "strategy": "ring_all", "members": [{ "username": "1001" }, { "username": "7777" }] })).await, "members[1].username");
    assert_invalid(
        &post(json!({ "name": "X", "strategy": "ring_all", "members": [{ "user": "1001" }] }))
            .await,
        "members[0].user",
    );
    assert_invalid(&post(json!({ "name": "X", "strategy": "ring_all", "no_answer_kind": "hunt_group", "no_answer_ref": "999" })).await, "no_answer_ref");
    assert_invalid(
        &post(json!({ "name": "X", "strategy": "ring_all", "no_answer_kind": "user" })).await,
        "no_answer_ref",
    );
    assert!(api.changes().is_empty());

    // Replace the members; then update the settings, keeping them.
    let members = json!({ "members": [{ "username": "1005" }, { "username": "1003" }] });
    let resp = api
        .call(
            "PUT",
            &format!("/api/v1/hunt-groups/{id}/members"),
            Some(members),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(resp.1["members"].as_array().map(Vec::len), Some(2));
    assert_eq!(resp.1["members"][0]["username"], "1005");
    assert_eq!(api.changes(), [ConfigChanged::HuntGroups]);
    let resp = api
        .call(
            "PUT",
            &format!("/api/v1/hunt-groups/{id}/members"),
            Some(json!({ "members": [{ "username": "1001" }, { "username": "1001" }] })),
        )
        .await;
    assert_invalid(&resp, "members[1].username");
    assert_error(
        &api.call(
            "PUT",
            "/api/v1/hunt-groups/999/members",
            Some(json!({ "members": [] })),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    let update = json!({ "name": "Helse og omsorg", "strategy": "longest_idle", "timeout_secs": 90,
                         "no_answer_kind": "message", "no_answer_ref": "helse-closed" });
    let resp = api
        .call(
            "PUT",
            &format!("/api/v1/hunt-groups/{id}"),
            Some(update.clone()),
        )
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(resp.1["members"][0]["username"], "1005", "members kept");
    assert_eq!(resp.1["no_answer_ref"], "helse-closed");
    assert_eq!(api.changes(), [ConfigChanged::HuntGroups]);
    let own = json!({ "name": "Helse og omsorg", "strategy": "ring_all", "no_answer_kind": "hunt_group", "no_answer_ref": id.to_string() });
    assert_invalid(
        &api.call("PUT", &format!("/api/v1/hunt-groups/{id}"), Some(own))
            .await,
        "no_answer_ref",
    );
    assert_error(
        &api.call("PUT", "/api/v1/hunt-groups/999", Some(update))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_invalid(
        &api.call("GET", "/api/v1/hunt-groups/abc", None).await,
        "id",
    );
    assert_error(
        &api.call("GET", "/api/v1/hunt-groups/999", None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // A number routes to the group: deleting it is refused with 409 until the number goes.
    let number = json!({ "number": "+4764000100", "target_kind": "hunt_group", "target_ref": id.to_string() });
    assert_eq!(
        api.call("POST", "/api/v1/numbers", Some(number)).await.0,
        StatusCode::CREATED
    );
    api.changes();
    let resp = api
        .call("DELETE", &format!("/api/v1/hunt-groups/{id}"), None)
        .await;
    assert_error(&resp, StatusCode::CONFLICT, "in_use");
    assert!(
        resp.1["message"]
            .as_str()
            .is_some_and(|m| m.contains("+4764000100")),
        "{}",
        resp.1
    );
    assert!(api.changes().is_empty());
    assert_eq!(
        api.call("DELETE", "/api/v1/numbers/+4764000100", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/hunt-groups/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.changes(),
        [ConfigChanged::Numbers, ConfigChanged::HuntGroups]
    );
    assert_error(
        &api.call("DELETE", &format!("/api/v1/hunt-groups/{id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
}

#[tokio::test]
async fn trunks() {
    let mut api = api().await;
    let body = json!({
        "name": "carrier", "host": "127.0.0.1", "port": 5090,
        "inbound_sources": ["127.0.0.1"], "inbound_numbers": ["+4764"]
    });
    let resp = api.call("POST", "/api/v1/trunks", Some(body)).await;
    assert_eq!(resp.0, StatusCode::CREATED, "{}", resp.1);
    let id = resp.1["id"].as_i64().expect("id");
    assert_eq!(resp.1["inbound_sources"], json!(["127.0.0.1/32"]));
    assert_eq!(
        (
            &resp.1["transport"],
            &resp.1["register"],
            &resp.1["enabled"]
        ),
        (&json!("udp"), &json!(false), &json!(true))
    );
    assert_eq!(api.changes(), [ConfigChanged::Trunks]);
    assert_eq!(
        api.call("GET", &format!("/api/v1/trunks/{id}"), None)
            .await
            .1,
        resp.1
    );
    assert_eq!(
        api.call("GET", "/api/v1/trunks", None).await.1,
        json!([resp.1])
    );

    let post = |body: serde_json::Value| {
        let api = &api;
        async move { api.call("POST", "/api/v1/trunks", Some(body)).await }
    };
    assert_error(
        &post(json!({ "name": "carrier", "host": "10.0.0.1" })).await,
        StatusCode::CONFLICT,
        "conflict",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "bad host" })).await,
        "host",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "port": 0 })).await,
        "port",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "transport": "sctp" })).await,
        "transport",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "register": true, "username": "u" })).await,
        "password_secret",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "password_secret": "/etc/shadow" })).await,
        "password_secret",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "password": "hunter2" })).await,
        "password",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "inbound_sources": ["10.0.0.0/8", "300.1.1.1"] }))
            .await,
        "inbound_sources[1]",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "inbound_numbers": ["47"] })).await,
        "inbound_numbers[0]",
    );
    assert_invalid(
        &post(json!({ "name": "b", "host": "h", "max_cps": -1 })).await,
        "max_cps",
    );
    assert!(api.changes().is_empty());

    let update = json!({ "name": "carrier", "host": "sip.carrier.no", "transport": "tls", "port": 5061,
                         "register": true, "username": "kommune", "password_secret": "carrier.password",
                         "enabled": false });
    let resp = api
        .call("PUT", &format!("/api/v1/trunks/{id}"), Some(update.clone()))
        .await;
    assert_eq!(resp.0, StatusCode::OK, "{}", resp.1);
    assert_eq!(
        resp.1["inbound_sources"],
        json!([]),
        "PUT replaces: left out is the default"
    );
    assert_eq!(resp.1["password_secret"], "carrier.password");
    assert_eq!(api.changes(), [ConfigChanged::Trunks]);
    assert_error(
        &api.call("PUT", "/api/v1/trunks/999", Some(update)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_eq!(
        api.call("DELETE", &format!("/api/v1/trunks/{id}"), None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.changes(), [ConfigChanged::Trunks]);
    assert_error(
        &api.call("DELETE", &format!("/api/v1/trunks/{id}"), None)
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    );
    assert_invalid(&api.call("DELETE", "/api/v1/trunks/0", None).await, "id");
}

#[tokio::test]
async fn users_in_use_and_notices() {
    let mut api = api().await;
    let number = json!({ "number": "+4764000001", "target_kind": "user", "target_ref": "1001" });
    assert_eq!(
        api.call("POST", "/api/v1/numbers", Some(number)).await.0,
        StatusCode::CREATED
    );
    api.changes();
    let resp = api.call("DELETE", "/api/v1/users/1001", None).await;
    assert_error(&resp, StatusCode::CONFLICT, "in_use");
    assert!(api
        .call("GET", "/api/v1/users/1001", None)
        .await
        .0
        .is_success());
    assert!(api.changes().is_empty());

    // A user without references goes, and takes memberships along: both are announced.
    let group = json!({ "name": "G", "strategy": "ring_all", "members": [{ "username": "1002" }] });
    let gid = api.call("POST", "/api/v1/hunt-groups", Some(group)).await.1["id"]
        .as_i64()
        .expect("id");
    api.changes();
    assert_eq!(
        api.call("DELETE", "/api/v1/users/1002", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        api.changes(),
        [
            ConfigChanged::HuntGroups,
            ConfigChanged::UserCallSettings("1002".into())
        ]
    );
    let g = api
        .call("GET", &format!("/api/v1/hunt-groups/{gid}"), None)
        .await
        .1;
    assert_eq!(g["members"], json!([]));

    let user = json!({ "username": "2001", "display_name": "Nora", "password": "long-enough-1" });
    assert_eq!(
        api.call("POST", "/api/v1/users", Some(user)).await.0,
        StatusCode::CREATED
    );
    assert_eq!(
        api.changes(),
        [ConfigChanged::UserCallSettings("2001".into())]
    );
}
