//! The staff app's own routes: my presence, my queues and my agent state, and the directory of
//! colleagues with their presence and whether they are on a call. The live parts come from call
//! control over [`AppState::queues`]; without it these answer 503 `queues_unavailable`.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use call_control::{Presence, PresenceStatus, StaffStatus, MAX_NOTE_CHARS};
use serde::{Deserialize, Serialize};

use crate::auth::Principal;
use crate::json::{invalid, ApiJson};
use crate::queues::{ask, AgentStateBody, AgentStateName, LiveError, QueueRequest};
use crate::{ApiError, AppState, ErrorBody};

/// Longest a presence may be set ahead ("until"): a week.
const MAX_UNTIL_AHEAD_MS: i64 = 7 * 24 * 3600 * 1000;

/// A presence status as the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PresenceName {
    Available,
    Busy,
    Away,
    /// Do not disturb: hunt groups skip the person and queues offer them nothing.
    Dnd,
}

impl From<PresenceStatus> for PresenceName {
    fn from(s: PresenceStatus) -> Self {
        match s {
            PresenceStatus::Available => PresenceName::Available,
            PresenceStatus::Busy => PresenceName::Busy,
            PresenceStatus::Away => PresenceName::Away,
            PresenceStatus::DoNotDisturb => PresenceName::Dnd,
        }
    }
}

impl From<PresenceName> for PresenceStatus {
    fn from(s: PresenceName) -> Self {
        match s {
            PresenceName::Available => PresenceStatus::Available,
            PresenceName::Busy => PresenceStatus::Busy,
            PresenceName::Away => PresenceStatus::Away,
            PresenceName::Dnd => PresenceStatus::DoNotDisturb,
        }
    }
}

/// A presence, read or set.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PresenceBody {
    status: PresenceName,
    /// Shown to colleagues, at most 100 characters ("I møte til 14").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    /// When it returns to available by itself, unix milliseconds (in the future, at most a week on).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    until_ms: Option<i64>,
}

impl From<&Presence> for PresenceBody {
    fn from(p: &Presence) -> Self {
        PresenceBody {
            status: p.status.into(),
            note: p.note.clone(),
            until_ms: p.until_ms,
        }
    }
}

impl PresenceBody {
    fn into_presence(self, now_ms: i64) -> Result<Presence, ApiError> {
        if let Some(note) = &self.note {
            if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
                return Err(invalid(
                    "note",
                    format!("must be at most {MAX_NOTE_CHARS} characters, no control characters"),
                ));
            }
        }
        if let Some(until) = self.until_ms {
            if until <= now_ms || until > now_ms + MAX_UNTIL_AHEAD_MS {
                return Err(invalid(
                    "until_ms",
                    "must be in the future and at most a week ahead (unix milliseconds)",
                ));
            }
        }
        Ok(Presence {
            status: self.status.into(),
            note: self.note.filter(|n| !n.is_empty()),
            until_ms: self.until_ms,
        })
    }
}

async fn status_of(state: &AppState, user: &str) -> Result<StaffStatus, LiveError> {
    let users = vec![user.to_owned()];
    let mut all = ask(state, |reply| QueueRequest::Staff { users, reply }).await?;
    all.pop().ok_or(LiveError::Unavailable)
}

/// My presence.
#[utoipa::path(get, operation_id = "get_my_presence", path = "/me/presence", tag = "me",
    responses((status = 200, description = "My presence", body = PresenceBody),
              (status = 503, description = "Call control is not running (`queues_unavailable`)", body = ErrorBody)))]
pub(crate) async fn get_presence(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<PresenceBody>, LiveError> {
    let me = principal.user()?;
    let status = status_of(&state, &me.username).await?;
    Ok(Json(PresenceBody::from(&status.presence)))
}

/// Sets my presence. Do-not-disturb takes me out of hunt groups and queue offers at once (an offer
/// ringing me is withdrawn); `until_ms` ends it by itself.
#[utoipa::path(put, operation_id = "put_my_presence", path = "/me/presence", tag = "me",
    request_body = PresenceBody,
    responses((status = 200, description = "My presence now", body = PresenceBody),
              (status = 400, description = "A bad note or end", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody),
              (status = 503, description = "Call control is not running (`queues_unavailable`)", body = ErrorBody)))]
pub(crate) async fn put_presence(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<PresenceBody>,
) -> Result<Json<PresenceBody>, LiveError> {
    let me = principal.user()?;
    let presence = body.into_presence(crate::auth::unix_ms())?;
    let user = me.username.clone();
    ask(&state, |reply| QueueRequest::SetPresence {
        user,
        presence,
        reply,
    })
    .await?;
    get_presence(State(state), Extension(principal)).await
}

/// A queue I answer for.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyQueue {
    id: i64,
    name: String,
    /// My penalty there (lower is offered first).
    penalty: i64,
}

/// My queues and where I stand in them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyQueues {
    queues: Vec<MyQueue>,
    /// `available`, `ringing`, `in_call`, `wrap_up`, `paused`, `dnd` or `logged_out` (for all my queues).
    agent_state: String,
    /// Why I paused, when paused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pause_reason: Option<String>,
}

/// The queues I am a member of, and my agent state.
#[utoipa::path(get, path = "/me/queues", tag = "me",
    responses((status = 200, description = "My queues", body = MyQueues),
              (status = 503, description = "Call control is not running (`queues_unavailable`)", body = ErrorBody)))]
pub(crate) async fn my_queues(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<MyQueues>, LiveError> {
    let me = principal.user()?;
    let queues = state
        .db
        .list_queues()
        .await?
        .into_iter()
        .filter_map(|q| {
            let member = q.members.iter().find(|m| m.user == me.username)?;
            Some(MyQueue {
                id: q.id,
                name: q.name.clone(),
                penalty: member.penalty,
            })
        })
        .collect();
    let status = status_of(&state, &me.username).await?;
    Ok(Json(MyQueues {
        queues,
        agent_state: status.agent_state.to_owned(),
        pause_reason: status.pause_reason,
    }))
}

/// The states I may put myself in.
#[derive(Debug, Clone, Copy, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MyAgentState {
    Available,
    Paused,
    LoggedOut,
    Dnd,
}

/// The body of `PUT /me/agent-state`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyAgentStateBody {
    state: MyAgentState,
    /// Only with `paused`: why, for the receptionists (at most 100 characters).
    #[serde(default)]
    #[schema(max_length = 100)]
    reason: Option<String>,
}

/// Logs me in or out of my queues, pauses me with a reason, or resumes me (`available`).
#[utoipa::path(put, path = "/me/agent-state", tag = "me",
    request_body = MyAgentStateBody,
    responses((status = 204, description = "Done"),
              (status = 400, description = "Unknown state, or a reason with a state other than paused", body = ErrorBody),
              (status = 409, description = "Call control refused (the message says why)", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody),
              (status = 503, description = "Call control is not running (`queues_unavailable`)", body = ErrorBody)))]
pub(crate) async fn set_my_agent_state(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<MyAgentStateBody>,
) -> Result<StatusCode, LiveError> {
    let me = principal.user()?;
    let name = match body.state {
        MyAgentState::Available => AgentStateName::Available,
        MyAgentState::Paused => AgentStateName::Paused,
        MyAgentState::LoggedOut => AgentStateName::LoggedOut,
        MyAgentState::Dnd => AgentStateName::Dnd,
    };
    let change = AgentStateBody::new(name, body.reason).into_change()?;
    let user = me.username.clone();
    ask(&state, |reply| QueueRequest::SetAgentState {
        user,
        state: change,
        reply,
    })
    .await?
    .map_err(|why| LiveError::Api(ApiError::Conflict(why)))?;
    Ok(StatusCode::NO_CONTENT)
}

/// What to look for in the directory.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DirectoryQuery {
    /// Part of a name, an extension or a mobile number (case-insensitive); everyone without it.
    q: Option<String>,
}

/// A colleague.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Colleague {
    username: String,
    display_name: String,
    mobile: Option<String>,
    presence: PresenceBody,
    /// On a call now.
    in_call: bool,
}

/// The directory.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Directory {
    colleagues: Vec<Colleague>,
}

/// Colleagues by name, extension or number, with their presence and whether they are on a call.
#[utoipa::path(get, path = "/directory", tag = "me",
    params(DirectoryQuery),
    responses((status = 200, description = "Matching colleagues, by extension", body = Directory),
              (status = 400, description = "A bad parameter", body = ErrorBody),
              (status = 503, description = "Call control is not running (`queues_unavailable`)", body = ErrorBody)))]
pub(crate) async fn directory(
    State(state): State<AppState>,
    query: Result<Query<DirectoryQuery>, QueryRejection>,
) -> Result<Json<Directory>, LiveError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let needle = query.q.unwrap_or_default().to_lowercase();
    if needle.chars().count() > 100 {
        return Err(invalid("q", "must be at most 100 characters").into());
    }
    let users: Vec<_> = state
        .db
        .list_users()
        .await?
        .into_iter()
        .filter(|u| {
            needle.is_empty()
                || u.display_name.to_lowercase().contains(&needle)
                || u.username.to_lowercase().contains(&needle)
                || u.mobile.as_deref().is_some_and(|m| m.contains(&needle))
        })
        .collect();
    let names: Vec<String> = users.iter().map(|u| u.username.clone()).collect();
    let statuses = ask(&state, |reply| QueueRequest::Staff {
        users: names,
        reply,
    })
    .await?;
    let colleagues = users
        .into_iter()
        .zip(statuses)
        .map(|(u, s)| Colleague {
            username: u.username,
            display_name: u.display_name,
            mobile: u.mobile,
            presence: PresenceBody::from(&s.presence),
            in_call: s.in_call,
        })
        .collect();
    Ok(Json(Directory { colleagues }))
}
