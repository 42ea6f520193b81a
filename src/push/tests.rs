//! What the push sender does with the providers' answers, against a local APNs-like server that
//! answers from a script: 503 and 429 are retried (after the provider's Retry-After when it gives
//! one), a refused provider token is made again, 410 means the token is invalid, a retry that would
//! outlive the push's time to live gives up.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use sip_core::push::{PushDevice, PushOutcome, PushProvider, PushRequest};

use super::{apns::Apns, Pushers};

/// The answers to give, in order (status, reason, Retry-After), and the provider tokens seen.
#[derive(Default)]
struct Script {
    answers: Vec<(u16, &'static str, Option<&'static str>)>,
    tokens: Vec<String>,
}

async fn answer(State(script): State<Arc<Mutex<Script>>>, headers: HeaderMap) -> impl IntoResponse {
    let mut script = script.lock().expect("script");
    let token = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("")
        .to_string();
    script.tokens.push(token);
    let (status, reason, retry_after) = if script.answers.is_empty() {
        (200, "", None)
    } else {
        script.answers.remove(0)
    };
    let mut headers = HeaderMap::new();
    if let Some(after) = retry_after {
        headers.insert("retry-after", after.parse().expect("header"));
    }
    (
        StatusCode::from_u16(status).expect("status"),
        headers,
        format!("{{\"reason\":\"{reason}\"}}"),
    )
}

async fn provider(
    answers: Vec<(u16, &'static str, Option<&'static str>)>,
) -> (Pushers, Arc<Mutex<Script>>) {
    let script = Arc::new(Mutex::new(Script {
        answers,
        tokens: Vec::new(),
    }));
    let router = Router::new()
        .route("/3/device/{token}", post(answer))
        .with_state(script.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, router).await });
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(pkcs8.as_ref())
    );
    let http = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .expect("client");
    let apns = Apns::new(
        &pem,
        "KEY1234567",
        "TEAM123456",
        Some("no.kommune.app.voip"),
        &format!("http://{addr}"),
        http,
    )
    .expect("apns");
    (
        Pushers {
            fcm: None,
            apns: Some(apns),
        },
        script,
    )
}

fn request(time_to_live: Duration) -> PushRequest {
    PushRequest {
        id: 1,
        device: PushDevice {
            aor: "1001".into(),
            provider: PushProvider::Apns,
            prid: "ab".repeat(32),
            param: None,
            registered_unix: 0,
        },
        call_id: "c1".into(),
        caller: "+4791234567".into(),
        time_to_live,
    }
}

#[tokio::test]
async fn busy_providers_are_retried_until_they_take_the_push() {
    let (pushers, script) = provider(vec![
        (503, "ServiceUnavailable", None),
        (429, "TooManyRequests", Some("1")),
    ])
    .await;
    let outcome = pushers.deliver(&request(Duration::from_secs(10))).await;
    assert_eq!(outcome, PushOutcome::Sent);
    assert_eq!(script.lock().expect("script").tokens.len(), 3);
}

#[tokio::test]
async fn a_refused_provider_token_is_made_again_and_an_unregistered_device_is_invalid() {
    let (pushers, script) = provider(vec![(403, "ExpiredProviderToken", None)]).await;
    assert_eq!(
        pushers.deliver(&request(Duration::from_secs(10))).await,
        PushOutcome::Sent
    );
    let tokens = script.lock().expect("script").tokens.clone();
    assert_eq!(tokens.len(), 2);
    assert!(
        tokens.iter().all(|t| t.starts_with("bearer ")),
        "{tokens:?}"
    );

    let (pushers, _) = provider(vec![(410, "Unregistered", None)]).await;
    assert_eq!(
        pushers.deliver(&request(Duration::from_secs(10))).await,
        PushOutcome::InvalidToken
    );
    let (pushers, _) = provider(vec![(400, "BadDeviceToken", None)]).await;
    assert_eq!(
        pushers.deliver(&request(Duration::from_secs(10))).await,
        PushOutcome::InvalidToken
    );
}

#[tokio::test]
async fn a_retry_past_the_time_to_live_gives_up() {
    let (pushers, script) = provider(vec![(429, "TooManyRequests", Some("30"))]).await;
    let outcome = pushers.deliver(&request(Duration::from_secs(5))).await;
    assert!(
        matches!(&outcome, PushOutcome::Failed(why) if why.contains("gave up after 1 tries")),
        "{outcome:?}"
    );
    assert_eq!(script.lock().expect("script").tokens.len(), 1);

    let (pushers, _) = provider(vec![(400, "PayloadTooLarge", None)]).await;
    assert!(matches!(
        pushers.deliver(&request(Duration::from_secs(5))).await,
        PushOutcome::Failed(_)
    ));
}

#[tokio::test]
async fn a_provider_without_keys_fails_the_push() {
    let pushers = Pushers {
        fcm: None,
        apns: None,
    };
    assert!(matches!(
        pushers.deliver(&request(Duration::from_secs(5))).await,
        PushOutcome::Failed(why) if why.contains("no APNs key")
    ));
}
