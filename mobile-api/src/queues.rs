//! `/queues`: ACD queues and their agents (stored), and the live state of queues and agents, which lives
//! in call control and is asked for over [`AppState::queues`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use switchboard_schema::{ConfigChanged, Queue, QueueMember, QueueMemberSpec, QueueSpec};
use tokio::sync::oneshot;

use crate::json::{invalid, path_id, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// Longest pause reason.
const MAX_REASON_CHARS: usize = 100;

/// A question or command for the queue engine in call control, sent over [`AppState::queues`]. Each
/// carries the channel for its answer; dropping it unanswered makes the API answer 503.
#[derive(Debug)]
pub enum QueueRequest {
    /// The live state of one queue (agents, waiting callers, counters), as JSON; `None` when call
    /// control does not run that queue.
    Snapshot {
        queue: i64,
        reply: oneshot::Sender<Option<serde_json::Value>>,
    },
    /// Statistics of every queue and agent, as JSON.
    Stats {
        reply: oneshot::Sender<serde_json::Value>,
    },
    /// A receptionist or the agent changes an agent's state. `Err` carries why call control refused.
    SetAgentState {
        user: String,
        state: AgentStateChange,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// How these staff members stand now (presence, in a call, agent state), in the order asked.
    Staff {
        users: Vec<String>,
        reply: oneshot::Sender<Vec<call_control::StaffStatus>>,
    },
    /// A staff member's presence changes.
    SetPresence {
        user: String,
        presence: call_control::Presence,
        reply: oneshot::Sender<()>,
    },
}

/// The agent states an admin can set (call control's own type).
pub use call_control::AgentStateChange;

/// The states of `PUT /agents/{user}/state`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStateName {
    Available,
    Paused,
    LoggedOut,
    Dnd,
    Reset,
}

/// The body of `PUT /agents/{user}/state`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentStateBody {
    state: AgentStateName,
    /// Only with `paused`: why, for the receptionist's console (at most 100 characters).
    #[serde(default)]
    reason: Option<String>,
}

impl AgentStateBody {
    pub(crate) fn new(state: AgentStateName, reason: Option<String>) -> AgentStateBody {
        AgentStateBody { state, reason }
    }

    pub(crate) fn into_change(self) -> Result<AgentStateChange, ApiError> {
        if let Some(reason) = &self.reason {
            if !matches!(self.state, AgentStateName::Paused) {
                return Err(invalid("reason", "only goes with the state paused"));
            }
            if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
                return Err(invalid(
                    "reason",
                    format!("must be at most {MAX_REASON_CHARS} characters, no control characters"),
                ));
            }
        }
        Ok(match self.state {
            AgentStateName::Available => AgentStateChange::Available,
            AgentStateName::Paused => AgentStateChange::Paused {
                reason: self.reason,
            },
            AgentStateName::LoggedOut => AgentStateChange::LoggedOut,
            AgentStateName::Dnd => AgentStateChange::Dnd,
            AgentStateName::Reset => AgentStateChange::Reset,
        })
    }
}

/// A queue's member list: the body of `PUT /queues/{id}/members` and the answer of both member routes.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct Members {
    /// Members in order; an empty list empties the queue.
    members: Vec<QueueMemberSpec>,
}

/// The stored members of a queue.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct MemberList {
    /// Members in order.
    members: Vec<QueueMember>,
}

/// Answers of the live routes that can fail because call control's queue engine is not there.
pub(crate) enum LiveError {
    Api(ApiError),
    Unavailable,
}

impl From<ApiError> for LiveError {
    fn from(e: ApiError) -> Self {
        LiveError::Api(e)
    }
}

impl From<switchboard_schema::SchemaError> for LiveError {
    fn from(e: switchboard_schema::SchemaError) -> Self {
        LiveError::Api(e.into())
    }
}

impl IntoResponse for LiveError {
    fn into_response(self) -> Response {
        match self {
            LiveError::Api(e) => e.into_response(),
            LiveError::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(ErrorBody {
                    error: "queues_unavailable".to_owned(),
                    message: "the queue engine of call control is not running; live queue state \
                              and agent states are unavailable (stored queues are not affected)"
                        .to_owned(),
                    field: None,
                }),
            )
                .into_response(),
        }
    }
}

/// Asks call control's queue engine; 503 `queues_unavailable` without an answer.
pub(crate) async fn ask<T>(
    state: &AppState,
    make: impl FnOnce(oneshot::Sender<T>) -> QueueRequest,
) -> Result<T, LiveError> {
    crate::call_control::ask(state.queues.as_ref(), make)
        .await
        .ok_or(LiveError::Unavailable)
}

/// All queues with their members, ordered by name.
#[utoipa::path(get, operation_id = "list_queues", path = "/queues", tag = "queues",
    responses((status = 200, description = "The queues", body = Vec<Queue>),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn list(State(state): State<AppState>) -> Result<Json<Vec<Queue>>, ApiError> {
    Ok(Json(state.db.list_queues().await?))
}

/// Creates a queue, with its members if `members` is given.
#[utoipa::path(post, operation_id = "create_queue", path = "/queues", tag = "queues", request_body = QueueSpec,
    responses((status = 201, description = "Created", body = Queue),
              (status = 400, description = "A field is wrong, a member is not a user, or the overflow target does not exist", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn create(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<QueueSpec>,
) -> Result<(StatusCode, Json<Queue>), ApiError> {
    let queue = state.db.create_queue(&body).await?;
    state.notify(ConfigChanged::Queues);
    Ok((StatusCode::CREATED, Json(queue)))
}

/// One queue.
#[utoipa::path(get, operation_id = "get_queue", path = "/queues/{id}", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    responses((status = 200, description = "The queue", body = Queue),
              (status = 400, description = "The id is not a number", body = ErrorBody),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Queue>, ApiError> {
    let id = path_id(&id)?;
    state
        .db
        .get_queue(id)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("no queue {id}")))
}

/// Replaces a queue's settings (left-out fields take their defaults); its members too if `members` is
/// given, else they stay.
#[utoipa::path(put, operation_id = "update_queue", path = "/queues/{id}", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    request_body = QueueSpec,
    responses((status = 200, description = "Changed", body = Queue),
              (status = 400, description = "A field is wrong, a member is not a user, or the overflow target does not exist or is the queue itself", body = ErrorBody),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 409, description = "The name is taken", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn update(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<QueueSpec>,
) -> Result<Json<Queue>, ApiError> {
    let id = path_id(&id)?;
    let queue = state.db.update_queue(id, &body).await?;
    state.notify(ConfigChanged::Queues);
    Ok(Json(queue))
}

/// Deletes a queue (refused while a number, a menu, a closed target or an overflow routes to it).
#[utoipa::path(delete, operation_id = "remove_queue", path = "/queues/{id}", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    responses((status = 204, description = "Deleted"),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 409, description = "Still a target (`in_use`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn remove(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_id(&id)?;
    if !state.db.delete_queue(id).await? {
        return Err(ApiError::NotFound(format!("no queue {id}")));
    }
    state.notify(ConfigChanged::Queues);
    Ok(StatusCode::NO_CONTENT)
}

/// The queue's members, in order.
#[utoipa::path(get, operation_id = "get_queue_members", path = "/queues/{id}/members", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    responses((status = 200, description = "The members", body = MemberList),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn get_members(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<MemberList>, ApiError> {
    let id = path_id(&id)?;
    let queue = state
        .db
        .get_queue(id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no queue {id}")))?;
    Ok(Json(MemberList {
        members: queue.members,
    }))
}

/// Replaces the queue's members (in order, each with a penalty).
#[utoipa::path(put, operation_id = "set_queue_members", path = "/queues/{id}/members", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    request_body = Members,
    responses((status = 200, description = "The new members", body = MemberList),
              (status = 400, description = "A member is not a user, is listed twice or has a bad penalty", body = ErrorBody),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn set_members(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Members>,
) -> Result<Json<MemberList>, ApiError> {
    let id = path_id(&id)?;
    let queue = state.db.set_queue_members(id, &body.members).await?;
    state.notify(ConfigChanged::Queues);
    Ok(Json(MemberList {
        members: queue.members,
    }))
}

/// Live state of one queue from call control: agents, waiting callers, counters.
#[utoipa::path(get, operation_id = "get_queue_live", path = "/queues/{id}/live", tag = "queues",
    params(("id" = i64, Path, description = "The queue's id")),
    responses((status = 200, description = "The queue's live state, as call control reports it", body = Object),
              (status = 404, description = "No such queue, or call control does not run it (yet)", body = ErrorBody),
              (status = 503, description = "Call control's queue engine is not running (`queues_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn live(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, LiveError> {
    let id = path_id(&id)?;
    if state.db.get_queue(id).await?.is_none() {
        return Err(ApiError::NotFound(format!("no queue {id}")).into());
    }
    ask(&state, |reply| QueueRequest::Snapshot { queue: id, reply })
        .await?
        .map(Json)
        .ok_or_else(|| {
            ApiError::NotFound(format!("call control does not run queue {id} (yet)")).into()
        })
}

/// Statistics of every queue and agent, from call control.
#[utoipa::path(get, operation_id = "get_queue_stats", path = "/queues/stats", tag = "queues",
    responses((status = 200, description = "Statistics, as call control reports them", body = Object),
              (status = 503, description = "Call control's queue engine is not running (`queues_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn stats(
    State(state): State<AppState>,
) -> Result<Json<serde_json::Value>, LiveError> {
    Ok(Json(
        ask(&state, |reply| QueueRequest::Stats { reply }).await?,
    ))
}

/// Sets an agent's state in every queue: available, paused (with a reason), logged out, do not
/// disturb, or reset.
#[utoipa::path(put, operation_id = "set_agent_state", path = "/agents/{user}/state", tag = "queues",
    params(("user" = String, Path, description = "The agent's username")),
    request_body = AgentStateBody,
    responses((status = 204, description = "Done"),
              (status = 400, description = "Unknown state, or a reason with a state other than paused", body = ErrorBody),
              (status = 404, description = "No such user", body = ErrorBody),
              (status = 409, description = "Call control refused (the message says why)", body = ErrorBody),
              (status = 503, description = "Call control's queue engine is not running (`queues_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn set_agent_state(
    State(state): State<AppState>,
    Path(user): Path<String>,
    ApiJson(body): ApiJson<AgentStateBody>,
) -> Result<StatusCode, LiveError> {
    let change = body.into_change()?;
    if state.db.get_user(&user).await?.is_none() {
        return Err(ApiError::NotFound(format!("no user {user}")).into());
    }
    let user_for_log = user.clone();
    ask(&state, |reply| QueueRequest::SetAgentState {
        user,
        state: change,
        reply,
    })
    .await?
    .map_err(|why| LiveError::Api(ApiError::Conflict(why)))?;
    tracing::info!(user = %user_for_log, "agent state set");
    Ok(StatusCode::NO_CONTENT)
}
