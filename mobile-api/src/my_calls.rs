//! The staff member's own calls and call settings: `/me/calls` (history: placed, answered, missed)
//! and `/me/call-settings` (the preferences that are theirs to choose; permissions stay an admin's).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use switchboard_schema::{
    CallDirection, CallerIdDefault, Cdr, CdrFilter, ConfigChanged, Involving,
    MAX_CELLULAR_DELAY_SECS,
};

use crate::auth::Principal;
use crate::cdrs::parse_time;
use crate::json::{invalid, ApiJson};
use crate::{ApiError, AppState, ErrorBody};

/// What a call was to me.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MyCallKind {
    /// I placed it.
    Outgoing,
    /// I answered it.
    Answered,
    /// It rang me (directly, in a hunt group or as a queue offer) and I did not answer.
    Missed,
}

/// One of my calls.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyCall {
    /// The call record's id (`/cdrs/{id}` for receptionists and admins).
    id: i64,
    kind: MyCallKind,
    from: String,
    to: String,
    started_at_ms: i64,
    answered_at_ms: Option<i64>,
    ended_at_ms: Option<i64>,
    /// Who answered, when someone did (a colleague, for a call I missed).
    answered_by: Option<String>,
    /// The queue it came through, if any.
    queue_id: Option<i64>,
}

/// A page of my calls, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyCalls {
    calls: Vec<MyCall>,
    total: i64,
}

/// Which of my calls.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MyCallsQuery {
    /// Started at or after: unix milliseconds, RFC 3339 or a date.
    from: Option<String>,
    /// Started before; same forms.
    to: Option<String>,
    /// At most this many (default 50, at most 100).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Skip this many, newest first.
    #[param(minimum = 0, maximum = 1000000)]
    offset: Option<i64>,
}

fn kind_of(cdr: &Cdr, me: &str) -> MyCallKind {
    if cdr.answered_by.as_deref() == Some(me) {
        MyCallKind::Answered
    } else if cdr.direction != CallDirection::Inbound && cdr.from_number == me {
        MyCallKind::Outgoing
    } else {
        MyCallKind::Missed
    }
}

/// My calls, newest first: placed, answered, and missed (rung but answered elsewhere or not at all).
#[utoipa::path(get, path = "/me/calls", tag = "me",
    params(MyCallsQuery),
    responses((status = 200, description = "My calls", body = MyCalls),
              (status = 400, description = "A bad parameter", body = ErrorBody)))]
pub(crate) async fn my_calls(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<MyCallsQuery>, QueryRejection>,
) -> Result<Json<MyCalls>, ApiError> {
    let me = principal.user()?;
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=100).contains(&limit) {
        return Err(invalid("limit", "must be 1 to 100"));
    }
    if query.offset.is_some_and(|o| !(0..=1_000_000).contains(&o)) {
        return Err(invalid("offset", "must be 0 to 1000000"));
    }
    let direct_number = state
        .db
        .user_call_settings(&me.username)
        .await?
        .and_then(|s| s.direct_number);
    let filter = CdrFilter {
        from_ms: query
            .from
            .as_deref()
            .map(|t| parse_time("from", t))
            .transpose()?,
        to_ms: query
            .to
            .as_deref()
            .map(|t| parse_time("to", t))
            .transpose()?,
        involving: Some(Involving {
            username: me.username.clone(),
            direct_number,
        }),
        limit,
        offset: query.offset.unwrap_or(0),
        ..CdrFilter::default()
    };
    let page = state.db.list_cdrs(&filter).await?;
    Ok(Json(MyCalls {
        calls: page
            .cdrs
            .into_iter()
            .map(|c| MyCall {
                id: c.id,
                kind: kind_of(&c, &me.username),
                from: c.from_number,
                to: c.to_number,
                started_at_ms: c.started_at_ms,
                answered_at_ms: c.answered_at_ms,
                ended_at_ms: c.ended_at_ms,
                answered_by: c.answered_by,
                queue_id: c.queue_id,
            })
            .collect(),
        total: page.total,
    }))
}

/// The call settings that are mine to choose. What I may call and my direct number are an admin's
/// (`/users/{username}/call-settings`) and shown here only.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MyCallSettings {
    /// The number my calls show: `main` or `direct`.
    caller_id_default: CallerIdDefault,
    /// Also ring my mobile over the carrier.
    ring_cellular: bool,
    /// Seconds before my mobile rings, 0 to 300.
    cellular_delay_secs: i64,
    /// Ask me to press a key on the mobile before the call is put through.
    confirm_cellular: bool,
    /// My direct number (an admin's to set).
    direct_number: Option<String>,
    /// My mobile (an admin's to set).
    mobile: Option<String>,
}

/// The body of `PUT /me/call-settings`: what is mine to choose.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MyCallSettingsBody {
    /// The number my calls show: `main` or `direct` (needs a direct number).
    caller_id_default: CallerIdDefault,
    /// Also ring my mobile over the carrier.
    ring_cellular: bool,
    /// Seconds before my mobile rings, 0 to 300.
    #[schema(minimum = 0, maximum = 300)]
    cellular_delay_secs: i64,
    /// Ask me to press a key on the mobile before the call is put through.
    confirm_cellular: bool,
}

async fn read_settings(state: &AppState, me: &str) -> Result<MyCallSettings, ApiError> {
    let settings = state
        .db
        .user_call_settings(me)
        .await?
        .ok_or_else(|| ApiError::NotFound("the user was removed".into()))?;
    let user = state.db.get_user(me).await?;
    Ok(MyCallSettings {
        caller_id_default: settings.caller_id_default,
        ring_cellular: settings.ring_cellular,
        cellular_delay_secs: settings.cellular_delay_secs,
        confirm_cellular: settings.confirm_cellular,
        direct_number: settings.direct_number,
        mobile: user.and_then(|u| u.mobile),
    })
}

/// My call settings.
#[utoipa::path(get, operation_id = "get_my_call_settings", path = "/me/call-settings", tag = "me",
    responses((status = 200, description = "My call settings", body = MyCallSettings)))]
pub(crate) async fn get_settings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
) -> Result<Json<MyCallSettings>, ApiError> {
    let me = principal.user()?;
    Ok(Json(read_settings(&state, &me.username).await?))
}

/// Sets my caller ID and how my mobile rings; in force for the next call.
#[utoipa::path(put, operation_id = "put_my_call_settings", path = "/me/call-settings", tag = "me",
    request_body = MyCallSettingsBody,
    responses((status = 200, description = "Stored", body = MyCallSettings),
              (status = 400, description = "A field is wrong (named in `field`)", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody)))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<MyCallSettingsBody>,
) -> Result<Json<MyCallSettings>, ApiError> {
    let me = principal.user()?;
    if !(0..=MAX_CELLULAR_DELAY_SECS).contains(&body.cellular_delay_secs) {
        return Err(invalid("cellular_delay_secs", "must be 0 to 300"));
    }
    let mut settings = state
        .db
        .user_call_settings(&me.username)
        .await?
        .ok_or_else(|| ApiError::NotFound("the user was removed".into()))?;
    settings.caller_id_default = body.caller_id_default;
    settings.ring_cellular = body.ring_cellular;
    settings.cellular_delay_secs = body.cellular_delay_secs;
    settings.confirm_cellular = body.confirm_cellular;
    state
        .db
        .set_user_call_settings(&me.username, &settings)
        .await?;
    state.notify(ConfigChanged::UserCallSettings(me.username.clone()));
    Ok(Json(read_settings(&state, &me.username).await?))
}

/// The body of `POST /me/calls`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClickToCallBody {
    /// What to call: a number as I would dial it (`91234567`, `+4791234567`, `0046…`) or a
    /// colleague's extension.
    #[schema(pattern = r"^[^\s@:\x00-\x1f\x7f]{1,32}$")]
    to: String,
    /// The number to show: `main`, `direct`, or one of the numbers I may present; my default
    /// without.
    #[serde(default)]
    #[schema(pattern = r"^[^\s@:\x00-\x1f\x7f]{1,32}$")]
    caller_id: Option<String>,
}

/// A click-to-call placed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClickToCallPlaced {
    /// The call's number in the live events: `call_started` follows once my phone rings (or
    /// `call_ended` at once with this number when I have no phone registered).
    id: u64,
}

/// Click-to-call: rings my phone first (showing the number), then, when I answer, the number.
#[utoipa::path(post, path = "/me/calls", tag = "me",
    request_body = ClickToCallBody,
    responses((status = 202, description = "My phone is being rung", body = ClickToCallPlaced),
              (status = 400, description = "An empty or overlong number", body = ErrorBody),
              (status = 403, description = "I may not call that number (`forbidden`)", body = ErrorBody),
              (status = 409, description = "Not a number or a colleague (a group, queue or menu)", body = ErrorBody),
              (status = 415, description = "Not JSON", body = ErrorBody),
              (status = 503, description = "Call control is not running (`calls_unavailable`)", body = ErrorBody)))]
pub(crate) async fn click_to_call(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    ApiJson(body): ApiJson<ClickToCallBody>,
) -> Result<(axum::http::StatusCode, Json<ClickToCallPlaced>), ApiError> {
    use call_control::ClickRefusal;
    let me = principal.user()?;
    let plain = |text: &str| {
        (1..=32).contains(&text.chars().count())
            && !text
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '@' || c == ':')
    };
    let to = body.to;
    if !plain(&to) {
        return Err(invalid(
            "to",
            "must be a number or an extension, at most 32 characters",
        ));
    }
    if body.caller_id.as_deref().is_some_and(|c| !plain(c)) {
        return Err(invalid("caller_id", "must be main, direct or a number"));
    }
    let user = me.username.clone();
    let caller_id = body.caller_id;
    let placed = crate::calls::ask(&state, |reply| crate::CallRequest::ClickToCall {
        user,
        to: to.clone(),
        caller_id,
        reply,
    })
    .await?;
    match placed {
        Ok(id) => Ok((
            axum::http::StatusCode::ACCEPTED,
            Json(ClickToCallPlaced { id }),
        )),
        Err(ClickRefusal::UnknownUser) => Err(ApiError::NotFound("the user was removed".into())),
        Err(ClickRefusal::NotPermitted(status)) => Err(ApiError::Forbidden(format!(
            "you may not call {to} (a call would be refused with {status})"
        ))),
        Err(ClickRefusal::NotCallable) => Err(ApiError::Conflict(format!(
            "{to} is a group, queue or menu: call a number or a colleague"
        ))),
    }
}

/// A citizen who waited in one of my queues and was not answered.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MissedQueueCall {
    /// The call record's id.
    id: i64,
    queue_id: i64,
    /// The citizen's number.
    from: String,
    started_at_ms: i64,
    queue_wait_ms: Option<i64>,
    /// How their wait ended: `abandoned`, `overflow` or `callback`.
    queue_outcome: Option<switchboard_schema::QueueOutcome>,
    /// Someone reached the number afterwards (an answered call out to it, a click-to-call or a
    /// booked callback, by anyone).
    called_back: bool,
    /// Who, and when, the first time.
    #[serde(skip_serializing_if = "Option::is_none")]
    called_back_by: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    called_back_at_ms: Option<i64>,
}

/// Missed calls of my queues.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MissedQueueCalls {
    calls: Vec<MissedQueueCall>,
}

/// Which missed calls.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct MissedQuery {
    /// Started at or after (default: 7 days ago): unix milliseconds, RFC 3339 or a date.
    from: Option<String>,
}

/// A number as the carrier or a person writes it, in E.164, so `91234567`, `+4791234567` and
/// `004791234567` are one citizen.
fn canonical(number: &str) -> String {
    use switchboard_routing::numbers::{E164, NORWAY};
    E164::from_carrier(number, &NORWAY)
        .map_or_else(|_| number.to_owned(), |n| n.as_str().to_owned())
}

/// Citizens who waited in my queues and hung up, overflowed or booked a callback, newest first,
/// each marked `called_back` once anyone reached their number afterwards.
#[utoipa::path(get, path = "/me/missed-queue-calls", tag = "me",
    params(MissedQuery),
    responses((status = 200, description = "Newest first, at most 500", body = MissedQueueCalls),
              (status = 400, description = "A bad parameter", body = ErrorBody)))]
pub(crate) async fn missed_queue_calls(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    query: Result<Query<MissedQuery>, QueryRejection>,
) -> Result<Json<MissedQueueCalls>, ApiError> {
    let me = principal.user()?;
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let from_ms = match query.from.as_deref() {
        Some(t) => parse_time("from", t)?,
        None => crate::auth::unix_ms() - 7 * 24 * 3600 * 1000,
    };
    let my_queues: Vec<i64> = state
        .db
        .list_queues()
        .await?
        .into_iter()
        .filter(|q| q.members.iter().any(|m| m.user == me.username))
        .map(|q| q.id)
        .collect();
    let unanswered = state
        .db
        .list_cdrs(&CdrFilter {
            from_ms: Some(from_ms),
            direction: Some(CallDirection::Inbound),
            answered: Some(false),
            limit: switchboard_schema::MAX_CDR_PAGE,
            ..CdrFilter::default()
        })
        .await?;
    let missed: Vec<Cdr> = unanswered
        .cdrs
        .into_iter()
        .filter(|c| c.queue_id.is_some_and(|q| my_queues.contains(&q)) && c.ended_at_ms.is_some())
        .collect();
    // Answered calls out since the oldest of them, oldest first, to find the first call back.
    let mut out = match missed.iter().map(|c| c.started_at_ms).min() {
        Some(since) => {
            state
                .db
                .list_cdrs(&CdrFilter {
                    from_ms: Some(since),
                    direction: Some(CallDirection::Outbound),
                    answered: Some(true),
                    limit: switchboard_schema::MAX_CDR_PAGE,
                    ..CdrFilter::default()
                })
                .await?
                .cdrs
        }
        None => Vec::new(),
    };
    out.reverse();
    let out: Vec<(String, &Cdr)> = out.iter().map(|c| (canonical(&c.to_number), c)).collect();
    let calls = missed
        .into_iter()
        .map(|c| {
            let number = canonical(&c.from_number);
            let back = out
                .iter()
                .find(|(to, o)| *to == number && o.started_at_ms >= c.started_at_ms)
                .map(|(_, o)| *o);
            MissedQueueCall {
                id: c.id,
                queue_id: c.queue_id.unwrap_or_default(),
                from: c.from_number,
                started_at_ms: c.started_at_ms,
                queue_wait_ms: c.queue_wait_ms,
                queue_outcome: c.queue_outcome,
                called_back: back.is_some(),
                called_back_by: back.map(|o| o.from_number.clone()),
                called_back_at_ms: back.map(|o| o.started_at_ms),
            }
        })
        .collect();
    Ok(Json(MissedQueueCalls { calls }))
}
