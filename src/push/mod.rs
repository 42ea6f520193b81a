//! Sends the pushes the SIP core asks for (RFC 8599 wake-ups of staff apps) through Firebase Cloud
//! Messaging or APNs, retries what the providers say to retry, and reports each outcome back to the
//! core (a refused token makes it forget the device) and to the database (the admin API shows a
//! device's last push). The decisions — whom to wake, how long to hold the call — are the core's.

mod apns;
mod fcm;
mod jwt;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_core::push::{PushOutcome, PushProvider, PushRequest};
use sip_transport::Command;
use switchboard_schema::Db;
use tokio::sync::mpsc;

use crate::config::PushSettings;

/// Errors setting up the push providers.
#[derive(Debug, thiserror::Error)]
pub enum PushError {
    #[error("push key: {0}")]
    Key(String),
    #[error("cannot read {path}: {source}")]
    Read {
        path: std::path::PathBuf,
        source: std::io::Error,
    },
    #[error("HTTP client: {0}")]
    Http(#[from] reqwest::Error),
}

/// What one try at sending a push came to.
#[derive(Debug)]
pub(crate) enum Attempt {
    Sent,
    InvalidToken,
    /// Worth another try (429, 5xx, a network error), after `after` when the provider said.
    Retry {
        why: String,
        after: Option<Duration>,
    },
    Fail(String),
}

impl Attempt {
    fn retry(why: String, after: Option<Duration>) -> Attempt {
        Attempt::Retry { why, after }
    }
}

/// A provider's `Retry-After` in seconds (the form FCM and APNs use).
fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The first wait between tries; doubled each time up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(4);
/// How long one HTTP exchange may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The configured providers.
pub struct Pushers {
    fcm: Option<fcm::Fcm>,
    apns: Option<apns::Apns>,
}

impl Pushers {
    /// Reads the keys named in `[push]` (relative paths from `base_dir`). A node without keys
    /// still runs: pushes to its devices fail (and are shown so).
    pub fn from_settings(
        settings: &PushSettings,
        base_dir: &std::path::Path,
    ) -> Result<Pushers, PushError> {
        let read = |path: &std::path::PathBuf| {
            let path = base_dir.join(path);
            std::fs::read_to_string(&path).map_err(|source| PushError::Read { path, source })
        };
        let http1 = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()?;
        let fcm = match &settings.fcm_service_account {
            Some(path) => Some(fcm::Fcm::new(
                &read(path)?,
                &settings.fcm_url,
                settings.fcm_token_url.as_deref(),
                http1,
            )?),
            None => None,
        };
        let apns = match &settings.apns_key {
            Some(path) => {
                // APNs speaks only HTTP/2.
                let http2 = reqwest::Client::builder()
                    .timeout(REQUEST_TIMEOUT)
                    .http2_prior_knowledge()
                    .build()?;
                Some(apns::Apns::new(
                    &read(path)?,
                    &settings.apns_key_id,
                    &settings.apns_team_id,
                    settings.apns_topic.as_deref(),
                    &settings.apns_url,
                    http2,
                )?)
            }
            None => None,
        };
        Ok(Pushers { fcm, apns })
    }

    async fn attempt(&self, request: &PushRequest) -> Attempt {
        match request.device.provider {
            PushProvider::Fcm => match &self.fcm {
                Some(fcm) => fcm.send(request).await,
                None => Attempt::Fail("no FCM service account configured".into()),
            },
            PushProvider::Apns => match &self.apns {
                Some(apns) => apns.send(request).await,
                None => Attempt::Fail("no APNs key configured".into()),
            },
        }
    }

    /// Sends `request`, retrying with backoff while its time to live lasts.
    async fn deliver(&self, request: &PushRequest) -> PushOutcome {
        let deadline = Instant::now() + request.time_to_live;
        let mut backoff = FIRST_BACKOFF;
        let mut tries = 0u32;
        loop {
            tries += 1;
            match self.attempt(request).await {
                Attempt::Sent => return PushOutcome::Sent,
                Attempt::InvalidToken => return PushOutcome::InvalidToken,
                Attempt::Fail(why) => return PushOutcome::Failed(why),
                Attempt::Retry { why, after } => {
                    let wait = after.unwrap_or(backoff);
                    if Instant::now() + wait >= deadline {
                        return PushOutcome::Failed(format!("{why} (gave up after {tries} tries)"));
                    }
                    tracing::info!(%why, ?wait, "push retried");
                    tokio::time::sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

fn outcome_text(outcome: &PushOutcome) -> String {
    match outcome {
        PushOutcome::Sent => "sent".into(),
        PushOutcome::InvalidToken => "invalid_token".into(),
        PushOutcome::Failed(why) => format!("failed: {why}"),
    }
}

/// Sends every push the SIP core asks for, each in its own task, until the core's side closes.
pub async fn run(
    pushers: Arc<Pushers>,
    db: Db,
    sip: mpsc::Sender<Command>,
    mut requests: mpsc::UnboundedReceiver<PushRequest>,
) {
    while let Some(request) = requests.recv().await {
        let (pushers, db, sip) = (pushers.clone(), db.clone(), sip.clone());
        let span =
            tracing::info_span!("push", call_id = %request.call_id, user = %request.device.aor);
        let task = async move {
            let outcome = pushers.deliver(&request).await;
            tracing::info!(
                provider = request.device.provider.as_str(),
                outcome = %outcome_text(&outcome),
                "push done"
            );
            let device = &request.device;
            if let Err(e) = db
                .record_push(
                    &device.aor,
                    &device.prid,
                    unix_now(),
                    &outcome_text(&outcome),
                )
                .await
            {
                tracing::warn!(error = %e, "push outcome not stored");
            }
            let _ = sip.send(Command::PushOutcome { request, outcome }).await;
        };
        tokio::spawn(tracing::Instrument::instrument(task, span));
    }
}
