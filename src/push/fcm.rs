//! Firebase Cloud Messaging, HTTP v1 API. The node holds a service-account key (the JSON file the
//! Firebase console gives); it signs a JWT with it and exchanges that for an OAuth2 access token
//! (RFC 7523 JWT bearer grant), cached until shortly before it expires, then posts each push to
//! `/v1/projects/{project}/messages:send` as a high-priority data message.

use std::time::{Duration, Instant};

use serde::Deserialize;
use sip_core::push::PushRequest;
use tokio::sync::Mutex;

use super::jwt::Rs256;
use super::{unix_now, Attempt, PushError};

/// The scope a send needs.
const SCOPE: &str = "https://www.googleapis.com/auth/firebase.messaging";
/// A cached access token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// The fields of a service-account key file that matter here.
#[derive(Debug, Clone, Deserialize)]
pub struct ServiceAccount {
    pub project_id: String,
    pub private_key_id: String,
    pub private_key: String,
    pub client_email: String,
    pub token_uri: String,
}

pub struct Fcm {
    account: ServiceAccount,
    key: Rs256,
    /// Where messages are sent (`https://fcm.googleapis.com`).
    base_url: String,
    /// Where the JWT is exchanged (the key file's `token_uri` unless overridden).
    token_url: String,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl Fcm {
    pub fn new(
        key_file_text: &str,
        base_url: &str,
        token_url: Option<&str>,
        http: reqwest::Client,
    ) -> Result<Fcm, PushError> {
        let account: ServiceAccount = serde_json::from_str(key_file_text)
            .map_err(|e| PushError::Key(format!("service account JSON: {e}")))?;
        let key = Rs256::from_pem(&account.private_key)?;
        let token_url = token_url.map_or_else(|| account.token_uri.clone(), str::to_string);
        Ok(Fcm {
            account,
            key,
            base_url: base_url.trim_end_matches('/').to_string(),
            token_url,
            http,
            token: Mutex::new(None),
        })
    }

    /// A valid access token: the cached one, or a new one from the token endpoint.
    async fn access_token(&self) -> Result<String, Attempt> {
        let mut cached = self.token.lock().await;
        if let Some((token, until)) = cached.as_ref() {
            if Instant::now() < *until {
                return Ok(token.clone());
            }
        }
        let now = unix_now();
        let assertion = self
            .key
            .sign(
                &serde_json::json!({
                    "alg": "RS256",
                    "typ": "JWT",
                    "kid": self.account.private_key_id,
                }),
                &serde_json::json!({
                    "iss": self.account.client_email,
                    "scope": SCOPE,
                    "aud": self.token_url,
                    "iat": now,
                    "exp": now + 3600,
                }),
            )
            .map_err(|e| Attempt::Fail(e.to_string()))?;
        let response = self
            .http
            .post(&self.token_url)
            .form(&[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.as_str()),
            ])
            .send()
            .await
            .map_err(|e| Attempt::retry(format!("token endpoint: {e}"), None))?;
        let status = response.status();
        if !status.is_success() {
            let why = format!("token endpoint answered {status}");
            return Err(match status.as_u16() {
                429 | 500..=599 => Attempt::retry(why, super::retry_after(&response)),
                _ => Attempt::Fail(why),
            });
        }
        #[derive(Deserialize)]
        struct TokenResponse {
            access_token: String,
            expires_in: u64,
        }
        let body: TokenResponse = response
            .json()
            .await
            .map_err(|e| Attempt::Fail(format!("token endpoint's answer: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in).saturating_sub(TOKEN_MARGIN);
        *cached = Some((body.access_token.clone(), Instant::now() + lifetime));
        Ok(body.access_token)
    }

    /// One try at sending `request`.
    pub async fn send(&self, request: &PushRequest) -> Attempt {
        let token = match self.access_token().await {
            Ok(t) => t,
            Err(attempt) => return attempt,
        };
        let project = request
            .device
            .param
            .as_deref()
            .unwrap_or(&self.account.project_id);
        let url = format!("{}/v1/projects/{project}/messages:send", self.base_url);
        let ttl = request.time_to_live.as_secs().max(1);
        let body = serde_json::json!({
            "message": {
                "token": request.device.prid,
                "android": { "priority": "high", "ttl": format!("{ttl}s") },
                "data": {
                    "type": "incoming_call",
                    "call_id": request.call_id,
                    "caller": request.caller,
                    "user": request.device.aor,
                },
            }
        });
        let response = match self
            .http
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Attempt::retry(format!("FCM: {e}"), None),
        };
        let status = response.status().as_u16();
        let retry_after = super::retry_after(&response);
        let text = response.text().await.unwrap_or_default();
        match status {
            200..=299 => Attempt::Sent,
            // UNREGISTERED, and a token of another sender: never deliverable. (Other 403s are
            // the service account's permissions, not the device's fault.)
            404 => Attempt::InvalidToken,
            403 if text.contains("SENDER_ID_MISMATCH") => Attempt::InvalidToken,
            400 if text.contains("UNREGISTERED") || text.contains("registration token") => {
                Attempt::InvalidToken
            }
            401 => {
                // The access token was refused: the next try fetches a new one.
                *self.token.lock().await = None;
                Attempt::retry("FCM refused the access token".into(), None)
            }
            429 | 500..=599 => Attempt::retry(format!("FCM answered {status}"), retry_after),
            _ => Attempt::Fail(format!("FCM answered {status}: {}", short(&text))),
        }
    }
}

/// The start of a provider's error body, for the device's last outcome.
fn short(text: &str) -> String {
    text.chars().take(120).collect()
}
