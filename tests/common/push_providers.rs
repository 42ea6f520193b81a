//! Stand-ins for Firebase Cloud Messaging and APNs that check what the real services check: the
//! OAuth2 JWT-bearer exchange (the assertion's RS256 signature against the service account's public
//! key, its issuer, audience, scope and lifetime), the bearer token on each send, the FCM v1 path and
//! body; for APNs, HTTP/2, the ES256 provider token against the team key's public key, its key ID and
//! team, the device path, the VoIP push type and topic. Each runs on 127.0.0.1 in its own thread;
//! what arrived is recorded for the test to assert on.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, Version};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use ring::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING, RSA_PKCS1_2048_8192_SHA256,
};
use serde_json::{json, Value};

/// One push a stand-in accepted.
#[derive(Debug, Clone)]
pub struct Received {
    /// The device token it was for.
    pub token: String,
    /// The JSON body.
    pub body: Value,
    /// The headers (APNs: topic, push type, priority).
    pub headers: HeaderMap,
}

#[derive(Default)]
struct Log {
    /// Access tokens handed out (FCM).
    issued: Vec<String>,
    /// Token exchanges refused, and why.
    refused: Vec<String>,
    pushes: Vec<Received>,
}

/// A running stand-in and what it saw.
pub struct Provider {
    pub addr: SocketAddr,
    log: Arc<Mutex<Log>>,
}

struct Shared {
    public_key: Vec<u8>,
    /// FCM: the service account's e-mail; APNs: the team ID.
    issuer: String,
    /// FCM: the private key's ID; APNs: the key ID.
    key_id: String,
    /// Tokens the provider calls unregistered.
    invalid: HashSet<String>,
    log: Arc<Mutex<Log>>,
}

impl Provider {
    pub fn pushes(&self) -> Vec<Received> {
        self.log.lock().expect("log").pushes.clone()
    }

    pub fn access_tokens_issued(&self) -> usize {
        self.log.lock().expect("log").issued.len()
    }

    pub fn refusals(&self) -> Vec<String> {
        self.log.lock().expect("log").refused.clone()
    }
}

fn serve(router: Router, log: Arc<Mutex<Log>>) -> Provider {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("addr");
            // HTTP/1.1 and HTTP/2 (prior knowledge), as hyper's auto server detects.
            axum::serve(listener, router).await.expect("serve");
        });
    });
    let addr = rx.recv().expect("the stand-in listens");
    Provider { addr, log }
}

/// The claims of a compact JWT whose signature verifies with `verify`; `Err` says what is wrong.
fn checked_claims(
    jwt: &str,
    alg: &str,
    key_id: &str,
    verify: impl Fn(&[u8], &[u8]) -> bool,
) -> Result<Value, String> {
    let parts: Vec<&str> = jwt.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err("not three parts".into());
    };
    let decode = |part: &str| URL_SAFE_NO_PAD.decode(part).map_err(|e| e.to_string());
    let header: Value = serde_json::from_slice(&decode(header)?).map_err(|e| e.to_string())?;
    if header["alg"] != alg || header["kid"] != key_id {
        return Err(format!("header {header}"));
    }
    let signed = &jwt[..jwt.rfind('.').unwrap_or(0)];
    if !verify(signed.as_bytes(), &decode(signature)?) {
        return Err("signature does not verify".into());
    }
    serde_json::from_slice(&decode(claims)?).map_err(|e| e.to_string())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Firebase service account: an RSA key made by `openssl` in `dir`, written with the stand-in's
/// token endpoint as `token_uri` to `dir/service-account.json`, and the FCM stand-in that accepts
/// it. The project is `muni-app`.
pub fn fcm(dir: &Path) -> (Provider, std::path::PathBuf) {
    let key = dir.join("fcm-key.pem");
    let public = dir.join("fcm-public.der");
    let run = |args: &[&str]| {
        let out = std::process::Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl runs (apt-get install openssl)");
        assert!(out.status.success(), "openssl {args:?}: {out:?}");
    };
    let key_s = key.to_string_lossy().to_string();
    let public_s = public.to_string_lossy().to_string();
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        &key_s,
    ]);
    run(&[
        "rsa",
        "-in",
        &key_s,
        "-RSAPublicKey_out",
        "-outform",
        "DER",
        "-out",
        &public_s,
    ]);
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = Arc::new(Shared {
        public_key: std::fs::read(&public).expect("public key"),
        issuer: "switchboard@muni-app.iam.gserviceaccount.com".into(),
        key_id: "key-1".into(),
        invalid: HashSet::from(["unregistered-token".to_string()]),
        log: log.clone(),
    });
    let router = Router::new()
        .route("/token", post(fcm_token))
        .route("/v1/projects/{project}/messages:send", post(fcm_send))
        .with_state(shared.clone());
    let provider = serve(router, log);
    let account = json!({
        "type": "service_account",
        "project_id": "muni-app",
        "private_key_id": shared.key_id,
        "private_key": std::fs::read_to_string(&key).expect("key"),
        "client_email": shared.issuer,
        "token_uri": format!("http://{}/token", provider.addr),
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, account.to_string()).expect("service account");
    (provider, path)
}

async fn fcm_token(
    State(s): State<Arc<Shared>>,
    headers: HeaderMap,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> impl IntoResponse {
    let audience = format!(
        "http://{}/token",
        headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    );
    let verdict = (|| {
        if form.get("grant_type").map(String::as_str)
            != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
        {
            return Err(format!("grant_type {:?}", form.get("grant_type")));
        }
        let assertion = form.get("assertion").ok_or("no assertion")?;
        let claims = checked_claims(assertion, "RS256", &s.key_id, |message, signature| {
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, &s.public_key)
                .verify(message, signature)
                .is_ok()
        })?;
        let now = unix_now();
        let ok = claims["iss"] == s.issuer.as_str()
            && claims["aud"] == audience.as_str()
            && claims["scope"] == "https://www.googleapis.com/auth/firebase.messaging"
            && claims["iat"]
                .as_i64()
                .is_some_and(|t| (t - now).abs() < 300)
            && claims["exp"]
                .as_i64()
                .is_some_and(|t| t > now && t <= now + 3600 + 300);
        if ok {
            Ok(())
        } else {
            Err(format!("claims {claims}"))
        }
    })();
    let mut log = s.log.lock().expect("log");
    match verdict {
        Ok(()) => {
            let token = format!("ya29.stand-in-{}", log.issued.len() + 1);
            log.issued.push(token.clone());
            (
                StatusCode::OK,
                Json(json!({"access_token": token, "expires_in": 3599, "token_type": "Bearer"})),
            )
        }
        Err(why) => {
            log.refused.push(why);
            (
                StatusCode::BAD_REQUEST,
                Json(json!({"error": "invalid_grant"})),
            )
        }
    }
}

async fn fcm_send(
    State(s): State<Arc<Shared>>,
    UrlPath(project): UrlPath<String>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let bearer = headers
        .get("authorization")
        .and_then(|h| h.to_str().ok())
        .and_then(|h| h.strip_prefix("Bearer "))
        .unwrap_or("");
    let mut log = s.log.lock().expect("log");
    if !log.issued.iter().any(|t| t == bearer) {
        log.refused.push(format!("send with bearer {bearer:?}"));
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": {"code": 401, "status": "UNAUTHENTICATED"}})),
        );
    }
    let token = body["message"]["token"].as_str().unwrap_or("").to_string();
    if project != "muni-app" || token.is_empty() {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"error": {"code": 400, "status": "INVALID_ARGUMENT"}})),
        );
    }
    if s.invalid.contains(&token) {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({"error": {"code": 404, "status": "NOT_FOUND",
                "details": [{"@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                             "errorCode": "UNREGISTERED"}]}})),
        );
    }
    log.pushes.push(Received {
        token,
        body,
        headers,
    });
    let name = format!("projects/{project}/messages/{}", log.pushes.len());
    (StatusCode::OK, Json(json!({ "name": name })))
}

/// The team's APNs signing key (P-256, made here), written as `dir/apns.p8`, and the APNs stand-in
/// that accepts its tokens: key ID `KEY1234567`, team `TEAM123456`.
pub fn apns(dir: &Path) -> (Provider, std::path::PathBuf) {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 =
        EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("P-256 key");
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
        .expect("key pair");
    let path = dir.join("apns.p8");
    std::fs::write(
        &path,
        format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        ),
    )
    .expect("p8");
    let log = Arc::new(Mutex::new(Log::default()));
    let shared = Arc::new(Shared {
        public_key: pair.public_key().as_ref().to_vec(),
        issuer: "TEAM123456".into(),
        key_id: "KEY1234567".into(),
        invalid: HashSet::new(),
        log: log.clone(),
    });
    let router = Router::new()
        .route("/3/device/{token}", post(apns_send))
        .with_state(shared.clone());
    (serve(router, log), path)
}

async fn apns_send(
    State(s): State<Arc<Shared>>,
    UrlPath(token): UrlPath<String>,
    version: Version,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> impl IntoResponse {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("")
    };
    let jwt = header("authorization")
        .strip_prefix("bearer ")
        .unwrap_or("");
    let claims = checked_claims(jwt, "ES256", &s.key_id, |message, signature| {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &s.public_key)
            .verify(message, signature)
            .is_ok()
    });
    let mut log = s.log.lock().expect("log");
    let fresh = |claims: &Value| {
        claims["iss"] == s.issuer.as_str()
            && claims["iat"]
                .as_i64()
                .is_some_and(|t| (unix_now() - t).abs() < 3600)
    };
    match claims {
        Ok(c) if fresh(&c) => {}
        other => {
            log.refused.push(format!("provider token: {other:?}"));
            return (
                StatusCode::FORBIDDEN,
                Json(json!({"reason": "InvalidProviderToken"})),
            );
        }
    }
    if version != Version::HTTP_2 {
        log.refused.push(format!("{version:?}"));
        return (StatusCode::BAD_REQUEST, Json(json!({"reason": "BadPath"})));
    }
    if header("apns-push-type") != "voip" || !header("apns-topic").ends_with(".voip") {
        log.refused.push(format!("headers {headers:?}"));
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"reason": "InvalidPushType"})),
        );
    }
    if token.len() != 64 || !token.chars().all(|c| c.is_ascii_hexdigit()) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({"reason": "BadDeviceToken"})),
        );
    }
    log.pushes.push(Received {
        token,
        body,
        headers,
    });
    (StatusCode::OK, Json(json!({})))
}
