//! People's logins, in-process: every route admits exactly the roles it declares, sessions end when
//! they should, two-factor where required, login throttling and the audit log.

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::{api, as_user, assert_error, login_token, make_login, Api, TOKEN};
use http_body_util::BodyExt;
use mobile_api::auth::totp;
use serde_json::{json, Value};
use tower::ServiceExt;

const PASSWORD: &str = common::LOGIN_PASSWORD;

async fn login(api: &Api, user: &str, password: &str, code: Option<&str>) -> (StatusCode, Value) {
    let mut body = json!({ "username": user, "password": password });
    if let Some(code) = code {
        body["code"] = json!(code);
    }
    api.raw(
        "POST",
        "/api/v1/auth/login",
        None,
        Some(("application/json", body.to_string())),
    )
    .await
}

/// Every `/api/v1` operation with the roles it declares (`x-roles`); open ones have none.
fn declared_roles(doc: &Value) -> Vec<(String, String, Option<Vec<String>>)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.starts_with("/api/v1/") {
            continue;
        }
        for (method, op) in item.as_object().expect("item") {
            let roles = op.get("x-roles").map(|r| {
                r.as_array()
                    .expect("x-roles is a list")
                    .iter()
                    .map(|v| v.as_str().expect("role").to_owned())
                    .collect()
            });
            out.push((method.to_uppercase(), path.clone(), roles));
        }
    }
    out
}

/// A URI for a route template naming nothing that exists, so an admitted call changes nothing.
fn harmless(path: &str) -> String {
    path.replace("{username}", "nobody")
        .replace("{user}", "nobody")
        .replace("{number}", "+4799999999")
        .replace("{name}", "no-such-prompt")
        .replace("{ip}", "192.0.2.200")
        .replace("{id}", "999999")
}

#[tokio::test]
async fn every_route_admits_exactly_the_roles_it_declares() {
    let api = api().await;
    make_login(&api, "1001", &["admin"]).await;
    make_login(&api, "1002", &["receptionist"]).await;
    make_login(&api, "1003", &["staff"]).await;
    let tokens = [
        ("admin", login_token(&api, "1001").await),
        ("receptionist", login_token(&api, "1002").await),
        ("staff", login_token(&api, "1003").await),
    ];
    let doc = serde_json::to_value(mobile_api::openapi()).expect("document");
    let open = [
        "/api/v1/openapi.json",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/oidc/login",
        "/api/v1/auth/oidc/callback",
    ];
    let routes = declared_roles(&doc);
    assert!(routes.len() >= 90, "{}", routes.len());
    let mut forbidden_seen = 0;
    for (method, path, roles) in routes {
        let Some(roles) = roles else {
            assert!(
                open.contains(&path.as_str()),
                "{method} {path} declares no roles"
            );
            continue;
        };
        assert!(!roles.is_empty(), "{method} {path}");
        // The document states the 403 too.
        let op = &doc["paths"][&path][method.to_lowercase()];
        assert!(
            op["responses"]["403"].is_object(),
            "{method} {path}: no 403 documented"
        );
        if path == "/api/v1/auth/logout" {
            continue; // it would end the session the next routes are tried with; tested below
        }
        let uri = harmless(&path);
        let body = matches!(method.as_str(), "POST" | "PUT" | "DELETE").then(|| json!({}));
        for (role, token) in &tokens {
            let resp = as_user(&api, token, &method, &uri, body.clone()).await;
            if roles.iter().any(|r| r == role) {
                assert_ne!(
                    resp.0,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {}",
                    resp.1
                );
                assert_ne!(
                    resp.0,
                    StatusCode::UNAUTHORIZED,
                    "{role} {method} {path}: {}",
                    resp.1
                );
            } else {
                assert_error(&resp, StatusCode::FORBIDDEN, "forbidden");
                forbidden_seen += 1;
            }
        }
    }
    assert!(forbidden_seen > 100, "{forbidden_seen}");
    // The integration token is the admin, and nobody's person.
    assert_eq!(
        as_user(&api, TOKEN, "GET", "/api/v1/numbers", None).await.0,
        StatusCode::OK
    );
    assert_error(
        &as_user(&api, TOKEN, "GET", "/api/v1/me", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn a_staff_member_sees_only_their_own_profile() {
    let api = api().await;
    make_login(&api, "1003", &["staff"]).await;
    let token = login_token(&api, "1003").await;
    let (status, me) = as_user(&api, &token, "GET", "/api/v1/me", None).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["username"], "1003");
    assert_eq!(me["display_name"], "User 1003");
    assert_eq!(me["roles"], json!(["staff"]));
    assert_eq!(me["totp_enabled"], false);
    assert_eq!(me["scope"], "full");
    // Somebody else's data is an admin route.
    assert_error(
        &as_user(&api, &token, "GET", "/api/v1/users/1004", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
}

#[tokio::test]
async fn sessions_end_on_logout_refresh_password_change_role_loss_and_removal() {
    let api = api().await;
    make_login(&api, "1002", &["receptionist"]).await;

    // Refresh: new tokens work, the old pair does not.
    let (_, first) = login(&api, "1002", PASSWORD, None).await;
    let old_access = first["access_token"].as_str().unwrap().to_owned();
    let old_refresh = first["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(first["expires_in"], 900);
    let refresh = |token: String| {
        let api = &api;
        async move {
            api.raw(
                "POST",
                "/api/v1/auth/refresh",
                None,
                Some((
                    "application/json",
                    json!({ "refresh_token": token }).to_string(),
                )),
            )
            .await
        }
    };
    let (status, second) = refresh(old_refresh.clone()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(second["roles"], json!(["receptionist"]));
    let access = second["access_token"].as_str().unwrap().to_owned();
    assert_ne!(access, old_access);
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/queues", None)
            .await
            .0,
        StatusCode::OK
    );
    assert_error(
        &as_user(&api, &old_access, "GET", "/api/v1/queues", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_error(
        &refresh(old_refresh).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // Logout.
    assert_eq!(
        as_user(&api, &access, "POST", "/api/v1/auth/logout", None)
            .await
            .0,
        StatusCode::NO_CONTENT
    );
    assert_error(
        &as_user(&api, &access, "GET", "/api/v1/queues", None).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    let refresh_after_logout = second["refresh_token"].as_str().unwrap().to_owned();
    assert_error(
        &refresh(refresh_after_logout).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );

    // A role taken away counts on the next request.
    let access = login_token(&api, "1002").await;
    api.call(
        "PUT",
        "/api/v1/users/1002/roles",
        Some(json!({ "roles": ["staff"] })),
    )
    .await;
    assert_error(
        &as_user(&api, &access, "GET", "/api/v1/queues", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/me", None).await.0,
        StatusCode::OK
    );

    // Changing one's own password keeps this session and ends the others.
    let other = login_token(&api, "1002").await;
    let (status, body) = as_user(
        &api,
        &access,
        "PUT",
        "/api/v1/me/password",
        Some(json!({ "current_password": "wrong", "new_password": "another long password" })),
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (StatusCode::UNAUTHORIZED, &json!("login_failed"))
    );
    let (status, body) = as_user(
        &api,
        &access,
        "PUT",
        "/api/v1/me/password",
        Some(json!({ "current_password": PASSWORD, "new_password": "another long password" })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/me", None).await.0,
        StatusCode::OK
    );
    assert_eq!(
        as_user(&api, &other, "GET", "/api/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&api, "1002", PASSWORD, None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&api, "1002", "another long password", None).await.0,
        StatusCode::OK
    );

    // An admin setting the password ends every session; so does removing the user.
    api.call(
        "PUT",
        "/api/v1/users/1002/login",
        Some(json!({ "password": PASSWORD })),
    )
    .await;
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let access = login_token(&api, "1002").await;
    let (status, body) = api
        .call("DELETE", "/api/v1/users/1002/sessions", None)
        .await;
    assert_eq!((status, &body["ended"]), (StatusCode::OK, &json!(1)));
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    let access = login_token(&api, "1002").await;
    assert_eq!(
        api.call("DELETE", "/api/v1/users/1002", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        as_user(&api, &access, "GET", "/api/v1/me", None).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login(&api, "1002", PASSWORD, None).await.0,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn new_passwords_are_checked_and_unknown_roles_refused() {
    let api = api().await;
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/users/1001/login",
            Some(json!({ "password": "short" })),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::BAD_REQUEST, &json!("password"))
    );
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/users/1001/roles",
            Some(json!({ "roles": ["staff", "root"] })),
        )
        .await;
    assert_eq!(
        (status, &body["field"]),
        (StatusCode::BAD_REQUEST, &json!("roles[1]"))
    );
    assert_eq!(
        api.call(
            "PUT",
            "/api/v1/users/nobody/login",
            Some(json!({ "password": PASSWORD }))
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    // A user without a local login cannot log in, whatever the password.
    assert_error(
        &login(&api, "1004", "password-1", None).await,
        StatusCode::UNAUTHORIZED,
        "login_failed",
    );
}

/// Sends a login and answers the status and the Retry-After header.
async fn login_with_headers(api: &Api, user: &str, password: &str) -> (StatusCode, Option<String>) {
    let req = Request::builder()
        .method("POST")
        .uri("/api/v1/auth/login")
        .header("content-type", "application/json")
        .body(Body::from(
            json!({ "username": user, "password": password }).to_string(),
        ))
        .expect("request");
    let resp = api.app.clone().oneshot(req).await.expect("infallible");
    let status = resp.status();
    let retry = resp
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().expect("ascii").to_owned());
    let _ = resp.into_body().collect().await;
    (status, retry)
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_user_out_for_a_while() {
    let api = api().await;
    make_login(&api, "1001", &["staff"]).await;
    for _ in 0..5 {
        assert_eq!(
            login_with_headers(&api, "1001", "wrong password!").await,
            (StatusCode::UNAUTHORIZED, None)
        );
    }
    // Now even the right password is refused, with a Retry-After of up to 15 minutes.
    let (status, retry) = login_with_headers(&api, "1001", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let secs: u64 = retry.expect("Retry-After").parse().expect("seconds");
    assert!((1..=900).contains(&secs), "{secs}");
    // Other users are not affected.
    make_login(&api, "1002", &["staff"]).await;
    assert_eq!(login(&api, "1002", PASSWORD, None).await.0, StatusCode::OK);
    // The failures are in the audit log, with the name that was tried.
    let (status, log) = api.call("GET", "/api/v1/audit?actor=1001", None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let actions: Vec<&str> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "login_failed").count(),
        5,
        "{actions:?}"
    );
    assert!(actions.contains(&"login_throttled"), "{actions:?}");
}

fn code_for(secret: &str, step: i64) -> String {
    let secret = totp::base32_decode(secret).expect("base32");
    format!("{:06}", totp::code_at_step(&secret, step))
}

fn now_step() -> i64 {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    totp::step_of(secs)
}

#[tokio::test]
async fn a_role_that_requires_two_factor_enrols_then_logs_in_with_codes() {
    let api = api().await;
    make_login(&api, "1002", &["receptionist"]).await;
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/settings/login",
            Some(json!({ "totp_required_roles": ["receptionist", "admin"] })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["totp_required_roles"],
        json!(["admin", "receptionist"])
    );

    // Without an authenticator the session may only enrol one.
    let (status, session) = login(&api, "1002", PASSWORD, None).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["scope"], "totp_enrolment");
    let token = session["access_token"].as_str().unwrap().to_owned();
    assert_error(
        &as_user(&api, &token, "GET", "/api/v1/queues", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_error(
        &as_user(&api, &token, "GET", "/api/v1/me", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    let (status, enrol) = as_user(&api, &token, "POST", "/api/v1/me/totp", None).await;
    assert_eq!(status, StatusCode::OK, "{enrol}");
    let secret = enrol["secret"].as_str().unwrap().to_owned();
    assert_eq!(totp::base32_decode(&secret).unwrap().len(), 20);
    let uri = enrol["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Switchboard:1002?secret="),
        "{uri}"
    );
    assert!(uri.contains(&secret), "{uri}");

    // A wrong code does not confirm; the right one does and widens the session.
    let step = now_step();
    let wrong = format!(
        "{:06}",
        (code_for(&secret, step).parse::<u32>().unwrap() + 1) % 1_000_000
    );
    let (status, _) = as_user(
        &api,
        &token,
        "POST",
        "/api/v1/me/totp/confirm",
        Some(json!({ "code": wrong })),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let code = code_for(&secret, step);
    let (status, body) = as_user(
        &api,
        &token,
        "POST",
        "/api/v1/me/totp/confirm",
        Some(json!({ "code": code })),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert_eq!(
        as_user(&api, &token, "GET", "/api/v1/queues", None).await.0,
        StatusCode::OK
    );
    let (_, me) = as_user(&api, &token, "GET", "/api/v1/me", None).await;
    assert_eq!(
        (me["totp_enabled"].clone(), me["totp_required"].clone()),
        (json!(true), json!(true))
    );
    // The role requires it: the user cannot remove it.
    let next = code_for(&secret, step + 1);
    let (status, _) = as_user(
        &api,
        &token,
        "DELETE",
        "/api/v1/me/totp",
        Some(json!({ "code": next })),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Logins now need a code; a code already used is refused (replay), the next step's is taken.
    assert_error(
        &login(&api, "1002", PASSWORD, None).await,
        StatusCode::UNAUTHORIZED,
        "totp_required",
    );
    assert_error(
        &login(&api, "1002", PASSWORD, Some(&code)).await,
        StatusCode::UNAUTHORIZED,
        "login_failed",
    );
    let (status, session) = login(&api, "1002", PASSWORD, Some(&next)).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    assert_eq!(session["scope"], "full");
    // A right code with a wrong password is a failure like any other.
    let later = code_for(&secret, step + 1);
    assert_error(
        &login(&api, "1002", "not the password", Some(&later)).await,
        StatusCode::UNAUTHORIZED,
        "login_failed",
    );

    // An admin resets a lost authenticator: the next login enrols again.
    assert_eq!(
        api.call("DELETE", "/api/v1/users/1002/totp", None).await.0,
        StatusCode::NO_CONTENT
    );
    let (_, session) = login(&api, "1002", PASSWORD, None).await;
    assert_eq!(session["scope"], "totp_enrolment");
}

#[tokio::test]
async fn changes_by_admins_and_receptionists_are_audited_and_exported() {
    let api = api().await;
    make_login(&api, "1002", &["receptionist"]).await;
    let token = login_token(&api, "1002").await;
    let (status, body) = as_user(
        &api,
        &token,
        "PUT",
        "/api/v1/agents/1003/state",
        Some(json!({ "state": "paused", "reason": "lunsj" })),
    )
    .await;
    // No queue engine in this harness: 503, still a change attempted and audited.
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    // A staff member's own changes are not audited; logins are.
    make_login(&api, "1003", &["staff"]).await;
    let staff = login_token(&api, "1003").await;
    as_user(&api, &staff, "POST", "/api/v1/auth/logout", None).await;

    let (status, log) = api.call("GET", "/api/v1/audit", None).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    let lines: Vec<(String, String, i64)> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
                e["outcome"].as_i64().unwrap(),
            )
        })
        .collect();
    for want in [
        (
            "admin-token".to_owned(),
            "PUT /api/v1/users/1002/roles".to_owned(),
            200,
        ),
        (
            "admin-token".to_owned(),
            "PUT /api/v1/users/1002/login".to_owned(),
            204,
        ),
        ("1002".to_owned(), "login".to_owned(), 200),
        (
            "1002".to_owned(),
            "PUT /api/v1/agents/1003/state".to_owned(),
            503,
        ),
        ("1003".to_owned(), "login".to_owned(), 200),
        ("1003".to_owned(), "logout".to_owned(), 204),
    ] {
        assert!(lines.contains(&want), "{want:?} not in {lines:?}");
    }
    assert!(
        !lines
            .iter()
            .any(|(actor, action, _)| actor == "1003" && action.starts_with("POST ")),
        "{lines:?}"
    );
    // Oldest first, and a receptionist may not read it.
    let times: Vec<i64> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["at_ms"].as_i64().unwrap())
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
    assert_error(
        &as_user(&api, &token, "GET", "/api/v1/audit", None).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );

    let (status, csv) = api
        .raw("GET", "/api/v1/audit/export?actor=1002", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let csv = csv.as_str().expect("CSV text");
    let mut rows = csv.lines();
    assert_eq!(
        rows.next(),
        Some("at_ms,actor,action,target,outcome,source")
    );
    let rows: Vec<&str> = rows.collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert!(
        rows[1].contains(",1002,PUT /api/v1/agents/1003/state,/api/v1/agents/1003/state,503,"),
        "{csv}"
    );
    assert_error(
        &api.call("GET", "/api/v1/audit?limit=0", None).await,
        StatusCode::BAD_REQUEST,
        "invalid_input",
    );
}
