//! Logging in with the municipality's identity provider (OpenID Connect; Microsoft Entra ID is the
//! reference): the authorization code flow with PKCE for the pages.
//!
//! `GET /auth/oidc/login?return_to=/console` remembers a state, a nonce and a PKCE verifier and sends
//! the browser to the provider; `GET /auth/oidc/callback` swaps the code for tokens at the provider's
//! token endpoint, checks the ID token ([`jwt`]: signature against the JWKS, issuer, audience,
//! expiry, nonce), finds the Switchboard user named by the configured claim, takes their roles from
//! the roles claim, opens a session and sends the browser back to `return_to` with the tokens in the
//! fragment (never sent to a server). Two-factor is the provider's job here. The discovery document
//! and the JWKS are cached; an ID token signed with a key id the JWKS lacks fetches it again (at most
//! once a minute), so key rotation needs no restart.

pub mod jwt;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use switchboard_schema::ROLES;
use tokio::sync::Mutex as AsyncMutex;

use crate::auth::handlers::{audit, open_session};
use crate::auth::{unix_now, ClientIp, SCOPE_FULL};
use crate::json::invalid;
use crate::{ApiError, AppState};

use jwt::{Expected, Jwks, TokenError};

/// How long a browser may take at the provider.
const PENDING_TTL: Duration = Duration::from_secs(600);
/// Logins in progress kept at most (each is a few hundred bytes).
const MAX_PENDING: usize = 10_000;
/// The JWKS is fetched again for an unknown key at most this often.
const JWKS_REFETCH: Duration = Duration::from_secs(60);
/// Discovery and JWKS are fetched again after this long anyway.
const CACHE_TTL: Duration = Duration::from_secs(3600);

/// The identity provider and how its claims map to Switchboard (node settings, `[oidc]`).
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer URL; `{issuer}/.well-known/openid-configuration` is its discovery document.
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the browser back: this node's `/api/v1/auth/oidc/callback`, as the
    /// browser reaches it (registered at the provider).
    pub redirect_uri: String,
    /// The claim holding the Switchboard username (`preferred_username`, `upn`, or a custom one).
    pub username_claim: String,
    /// The claim listing the user's roles (Entra ID app roles: `roles`); empty: roles stay as stored.
    pub roles_claim: String,
    /// Provider role names → Switchboard roles (`Switchboard.Receptionist` → `receptionist`); a name
    /// missing here counts only when it is a Switchboard role itself.
    pub role_map: HashMap<String, String>,
}

#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

struct Pending {
    nonce: String,
    verifier: String,
    return_to: String,
    created: Instant,
}

struct Cached {
    discovery: Option<(Discovery, Instant)>,
    jwks: Option<(Jwks, Instant)>,
    /// When an unknown key id last made us fetch the JWKS early.
    forced: Option<Instant>,
}

/// The OpenID Connect client of this node.
pub struct OidcClient {
    settings: OidcSettings,
    http: reqwest::Client,
    pending: Mutex<HashMap<String, Pending>>,
    cache: AsyncMutex<Cached>,
}

fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn form_encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_encode(k), url_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn url_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Why an OpenID Connect login failed, for the log and the page the browser lands on.
fn failed(why: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %why, "OpenID Connect login failed");
    ApiError::Forbidden(format!("OpenID Connect login failed: {why}"))
}

impl OidcClient {
    pub fn new(settings: OidcSettings) -> Result<OidcClient, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("HTTP client: {e}"))?;
        Ok(OidcClient {
            settings,
            http,
            pending: Mutex::new(HashMap::new()),
            cache: AsyncMutex::new(Cached {
                discovery: None,
                jwks: None,
                forced: None,
            }),
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<T, ApiError> {
        let resp = self.http.get(url).send().await.map_err(failed)?;
        if !resp.status().is_success() {
            return Err(failed(format!("{url} answered {}", resp.status())));
        }
        let bytes = resp.bytes().await.map_err(failed)?;
        if bytes.len() > 1024 * 1024 {
            return Err(failed(format!("{url} answered more than 1 MiB")));
        }
        serde_json::from_slice(&bytes).map_err(|e| failed(format!("{url}: {e}")))
    }

    async fn discovery(&self) -> Result<Discovery, ApiError> {
        let mut cache = self.cache.lock().await;
        if let Some((d, at)) = &cache.discovery {
            if at.elapsed() < CACHE_TTL {
                return Ok(d.clone());
            }
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            self.settings.issuer.trim_end_matches('/')
        );
        let d: Discovery = self.get_json(&url).await?;
        if d.issuer != self.settings.issuer {
            return Err(failed(format!(
                "the discovery document names the issuer {:?}, not {:?}",
                d.issuer, self.settings.issuer
            )));
        }
        cache.discovery = Some((d.clone(), Instant::now()));
        Ok(d)
    }

    /// The JWKS; `refresh` (a token named a key it lacks) fetches it again, unless an unknown key
    /// did so within [`JWKS_REFETCH`]: made-up key ids cannot make us hammer the provider.
    async fn jwks(&self, jwks_uri: &str, refresh: bool) -> Result<Jwks, ApiError> {
        let mut cache = self.cache.lock().await;
        if let Some((keys, at)) = &cache.jwks {
            let expired = at.elapsed() >= CACHE_TTL;
            let may_force = refresh && cache.forced.is_none_or(|f| f.elapsed() >= JWKS_REFETCH);
            if !expired && !may_force {
                return Ok(keys.clone());
            }
        }
        if refresh {
            cache.forced = Some(Instant::now());
        }
        let keys: Jwks = self.get_json(jwks_uri).await?;
        cache.jwks = Some((keys.clone(), Instant::now()));
        Ok(keys)
    }

    fn remember(&self, state: String, pending: Pending) {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, p| p.created.elapsed() < PENDING_TTL);
        if map.len() >= MAX_PENDING {
            // Under a flood of unfinished logins the oldest go first.
            if let Some(oldest) = map
                .iter()
                .min_by_key(|(_, p)| p.created)
                .map(|(k, _)| k.clone())
            {
                map.remove(&oldest);
            }
        }
        map.insert(state, pending);
    }

    fn take(&self, state: &str) -> Option<Pending> {
        let mut map = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(state)
            .filter(|p| p.created.elapsed() < PENDING_TTL)
    }

    /// Swaps the code for the provider's tokens; answers the ID token.
    async fn redeem(&self, d: &Discovery, code: &str, verifier: &str) -> Result<String, ApiError> {
        let body = form_encode(&[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.settings.redirect_uri),
            ("code_verifier", verifier),
            ("client_id", &self.settings.client_id),
        ]);
        let resp = self
            .http
            .post(&d.token_endpoint)
            .basic_auth(
                url_encode(&self.settings.client_id),
                Some(url_encode(&self.settings.client_secret)),
            )
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(failed)?;
        let status = resp.status();
        let answer: serde_json::Value = resp.json().await.map_err(failed)?;
        if !status.is_success() {
            return Err(failed(format!(
                "the token endpoint answered {status}: {}",
                answer["error"].as_str().unwrap_or("no error code")
            )));
        }
        answer["id_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| failed("the token endpoint sent no ID token"))
    }

    /// The Switchboard roles the claims grant, or `None` when roles are not taken from the provider.
    fn roles_from(&self, claims: &serde_json::Value) -> Option<Vec<String>> {
        if self.settings.roles_claim.is_empty() {
            return None;
        }
        let listed = match &claims[&self.settings.roles_claim] {
            serde_json::Value::Array(items) => {
                items.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>()
            }
            serde_json::Value::String(one) => vec![one.as_str()],
            _ => Vec::new(),
        };
        let mut roles: Vec<String> = listed
            .into_iter()
            .filter_map(|name| match self.settings.role_map.get(name) {
                Some(mapped) => Some(mapped.clone()),
                None => ROLES.contains(&name).then(|| name.to_owned()),
            })
            .filter(|r| ROLES.contains(&r.as_str()))
            .collect();
        roles.sort();
        roles.dedup();
        Some(roles)
    }
}

/// Where to go after logging in.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LoginQuery {
    /// A path on this node (`/console`); the tokens follow in its fragment. Default `/`.
    return_to: Option<String>,
}

/// A path on this node, not another site (`//evil.example` is a host, not a path).
fn safe_return_to(path: Option<String>) -> Result<String, ApiError> {
    let path = path.unwrap_or_else(|| "/".to_owned());
    let ok = path.starts_with('/')
        && !path.starts_with("//")
        && !path.contains('\\')
        && !path.contains('#')
        && path.len() <= 512
        && !path.chars().any(char::is_control);
    if ok {
        Ok(path)
    } else {
        Err(invalid("return_to", "must be a path on this node"))
    }
}

fn oidc_of(state: &AppState) -> Result<&Arc<OidcClient>, ApiError> {
    state
        .oidc
        .as_ref()
        .ok_or_else(|| ApiError::NotFound("OpenID Connect is not configured on this node".into()))
}

fn redirect(to: &str) -> Response {
    (
        StatusCode::FOUND,
        [
            (header::LOCATION, to.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
}

/// Starts a login at the identity provider (a browser navigates here).
#[utoipa::path(get, operation_id = "oidc_login", path = "/auth/oidc/login", tag = "auth", security(()),
    params(LoginQuery),
    responses((status = 302, description = "To the identity provider's authorization endpoint"),
              (status = 400, description = "`return_to` is not a path on this node", body = crate::ErrorBody),
              (status = 403, description = "The identity provider cannot be reached or is misconfigured", body = crate::ErrorBody),
              (status = 404, description = "OpenID Connect is not configured", body = crate::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let client = oidc_of(&state)?;
    let return_to = safe_return_to(query.return_to)?;
    let d = client.discovery().await?;
    let (login_state, nonce, verifier) = (random_b64(24), random_b64(24), random_b64(48));
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let s = &client.settings;
    let url = format!(
        "{}{}{}",
        d.authorization_endpoint,
        if d.authorization_endpoint.contains('?') {
            '&'
        } else {
            '?'
        },
        form_encode(&[
            ("response_type", "code"),
            ("client_id", &s.client_id),
            ("redirect_uri", &s.redirect_uri),
            ("scope", "openid profile"),
            ("state", &login_state),
            ("nonce", &nonce),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ])
    );
    client.remember(
        login_state,
        Pending {
            nonce,
            verifier,
            return_to,
            created: Instant::now(),
        },
    );
    Ok(redirect(&url))
}

/// What the provider sends the browser back with.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    error: Option<String>,
    error_description: Option<String>,
}

/// The provider's answer: opens a session and sends the browser to `return_to` with
/// `#access_token=…&refresh_token=…&expires_in=…&token_type=Bearer`.
#[utoipa::path(get, operation_id = "oidc_callback", path = "/auth/oidc/callback", tag = "auth", security(()),
    params(CallbackQuery),
    responses((status = 302, description = "Logged in: back to `return_to`, the tokens in the fragment"),
              (status = 400, description = "No code or state", body = crate::ErrorBody),
              (status = 403, description = "The login failed: unknown or expired state, a refused token, no such user (the message says which)", body = crate::ErrorBody),
              (status = 404, description = "OpenID Connect is not configured", body = crate::ErrorBody)))]
pub(crate) async fn callback(
    State(state): State<AppState>,
    ClientIp(source): ClientIp,
    query: Result<Query<CallbackQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let client = oidc_of(&state)?.clone();
    if let Some(error) = &query.error {
        return Err(failed(format!(
            "the identity provider refused: {error} {}",
            query.error_description.as_deref().unwrap_or("")
        )));
    }
    let (Some(code), Some(login_state)) = (&query.code, &query.state) else {
        return Err(invalid("code", "the provider sent no code and state"));
    };
    let pending = client
        .take(login_state)
        .ok_or_else(|| failed("unknown or expired login state (start again)"))?;
    let d = client.discovery().await?;
    let id_token = client.redeem(&d, code, &pending.verifier).await?;
    let expected = Expected {
        issuer: &d.issuer,
        client_id: &client.settings.client_id,
        nonce: &pending.nonce,
        now_secs: unix_now(),
    };
    let keys = client.jwks(&d.jwks_uri, false).await?;
    let claims = match jwt::verify(&id_token, &keys, &expected) {
        Err(TokenError::UnknownKey(_)) => {
            let keys = client.jwks(&d.jwks_uri, true).await?;
            jwt::verify(&id_token, &keys, &expected)
        }
        other => other,
    }
    .map_err(failed)?;
    let username = claims[&client.settings.username_claim]
        .as_str()
        .ok_or_else(|| {
            failed(format!(
                "the ID token has no {:?} claim",
                client.settings.username_claim
            ))
        })?
        .to_owned();
    let Some(user) = state.db.get_user(&username).await? else {
        audit(
            &state,
            &username,
            "login_failed",
            "oidc: no such user",
            StatusCode::FORBIDDEN,
            source,
        )
        .await;
        return Err(failed(format!("no Switchboard user {username:?}")));
    };
    if let Some(roles) = client.roles_from(&claims) {
        state.db.set_roles(&username, &roles).await?;
    }
    let roles = state.db.roles(&username).await?.unwrap_or_default();
    let tokens = open_session(
        &state, user.id, &username, roles, SCOPE_FULL, "oidc", source,
    )
    .await?;
    audit(
        &state,
        &username,
        "login",
        "oidc",
        StatusCode::FOUND,
        source,
    )
    .await;
    tracing::info!(%username, "logged in through OpenID Connect");
    let fragment = form_encode(&[
        ("access_token", &tokens.access_token),
        ("refresh_token", &tokens.refresh_token),
        ("expires_in", &tokens.expires_in.to_string()),
        ("token_type", "Bearer"),
    ]);
    Ok(redirect(&format!("{}#{fragment}", pending.return_to)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_to_stays_on_this_node() {
        assert_eq!(safe_return_to(None).unwrap(), "/");
        assert_eq!(
            safe_return_to(Some("/console?q=1".into())).unwrap(),
            "/console?q=1"
        );
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "console",
            "/a\\b",
            "/a#b",
            "/\n",
        ] {
            assert!(safe_return_to(Some(bad.into())).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn roles_come_from_the_claim_through_the_map() {
        let mut settings = OidcSettings {
            issuer: "https://idp".into(),
            client_id: "c".into(),
            client_secret: "s".into(),
            redirect_uri: "http://x/cb".into(),
            username_claim: "preferred_username".into(),
            roles_claim: "roles".into(),
            role_map: HashMap::from([("Switchboard.Reception".into(), "receptionist".into())]),
        };
        let client = OidcClient::new(settings.clone()).unwrap();
        let claims =
            serde_json::json!({"roles": ["Switchboard.Reception", "staff", "Other.Role", "root"]});
        assert_eq!(
            client.roles_from(&claims),
            Some(vec!["receptionist".to_owned(), "staff".to_owned()])
        );
        assert_eq!(client.roles_from(&serde_json::json!({})), Some(vec![]));
        settings.roles_claim.clear();
        assert_eq!(OidcClient::new(settings).unwrap().roles_from(&claims), None);
    }
}
