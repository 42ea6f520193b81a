//! Apple Push Notification service: VoIP pushes over HTTP/2 with token-based authentication. The
//! node holds the team's signing key (`.p8`, P-256) and presents a provider token (an ES256 JWT
//! naming the key and team) renewed every 50 minutes (Apple refuses tokens older than an hour and
//! renewals more often than every 20 minutes).

use std::time::{Duration, Instant};

use sip_core::push::PushRequest;
use tokio::sync::Mutex;

use super::jwt::Es256;
use super::{unix_now, Attempt, PushError};

const TOKEN_LIFETIME: Duration = Duration::from_secs(50 * 60);

pub struct Apns {
    key: Es256,
    key_id: String,
    team_id: String,
    /// The topic when a device's `pn-param` names none: the app's bundle ID + `.voip`.
    default_topic: Option<String>,
    base_url: String,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

impl Apns {
    pub fn new(
        key_pem: &str,
        key_id: &str,
        team_id: &str,
        default_topic: Option<&str>,
        base_url: &str,
        http: reqwest::Client,
    ) -> Result<Apns, PushError> {
        if key_id.is_empty() || team_id.is_empty() {
            return Err(PushError::Key(
                "APNs needs apns_key_id and apns_team_id".into(),
            ));
        }
        Ok(Apns {
            key: Es256::from_pem(key_pem)?,
            key_id: key_id.to_string(),
            team_id: team_id.to_string(),
            default_topic: default_topic.map(str::to_string),
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
            token: Mutex::new(None),
        })
    }

    async fn provider_token(&self) -> Result<String, Attempt> {
        let mut cached = self.token.lock().await;
        if let Some((token, made)) = cached.as_ref() {
            if made.elapsed() < TOKEN_LIFETIME {
                return Ok(token.clone());
            }
        }
        let token = self
            .key
            .sign(
                &serde_json::json!({ "alg": "ES256", "kid": self.key_id }),
                &serde_json::json!({ "iss": self.team_id, "iat": unix_now() }),
            )
            .map_err(|e| Attempt::Fail(e.to_string()))?;
        *cached = Some((token.clone(), Instant::now()));
        Ok(token)
    }

    /// The topic of a device: RFC 8599 §11 has `pn-param` = team ID `.` topic
    /// (`ABCDE12345.no.kommune.switchboard.voip`); without it, the configured one.
    fn topic(&self, request: &PushRequest) -> Option<String> {
        match request.device.param.as_deref() {
            Some(param) => param.split_once('.').map(|(_, topic)| topic.to_string()),
            None => self.default_topic.clone(),
        }
    }

    /// One try at sending `request`.
    pub async fn send(&self, request: &PushRequest) -> Attempt {
        let Some(topic) = self.topic(request) else {
            return Attempt::Fail("no APNs topic: pn-param or apns_topic".into());
        };
        if !topic.ends_with(".voip") {
            return Attempt::Fail(format!("APNs topic {topic:?} is not a VoIP topic"));
        }
        let token = match self.provider_token().await {
            Ok(t) => t,
            Err(attempt) => return attempt,
        };
        // The device token is hex: anything else would change the path.
        let prid = &request.device.prid;
        if !prid.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Attempt::InvalidToken;
        }
        let url = format!("{}/3/device/{prid}", self.base_url);
        let expiration = unix_now() + request.time_to_live.as_secs() as i64;
        let body = serde_json::json!({
            "aps": {},
            "type": "incoming_call",
            "call_id": request.call_id,
            "caller": request.caller,
            "user": request.device.aor,
        });
        let response = match self
            .http
            .post(&url)
            .header("authorization", format!("bearer {token}"))
            .header("apns-topic", topic)
            .header("apns-push-type", "voip")
            .header("apns-priority", "10")
            .header("apns-expiration", expiration.to_string())
            .json(&body)
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return Attempt::retry(format!("APNs: {e}"), None),
        };
        let status = response.status().as_u16();
        let retry_after = super::retry_after(&response);
        let reason = response
            .json::<serde_json::Value>()
            .await
            .ok()
            .and_then(|v| v["reason"].as_str().map(str::to_string))
            .unwrap_or_default();
        match (status, reason.as_str()) {
            (200, _) => Attempt::Sent,
            (410, _) | (400, "BadDeviceToken" | "DeviceTokenNotForTopic") => Attempt::InvalidToken,
            (403, "ExpiredProviderToken" | "InvalidProviderToken") => {
                *self.token.lock().await = None;
                Attempt::retry(format!("APNs: {reason}"), None)
            }
            (429 | 500 | 503, _) => {
                Attempt::retry(format!("APNs answered {status} {reason}"), retry_after)
            }
            _ => Attempt::Fail(format!("APNs answered {status} {reason}")),
        }
    }
}
