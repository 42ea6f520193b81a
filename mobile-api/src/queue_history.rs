//! `/queues/{id}/history`: a queue's statistics over a period, from the call records.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use switchboard_schema::QueueHistory;

use crate::cdrs::parse_time;
use crate::json::{invalid, path_id};
use crate::{ApiError, AppState, ErrorBody};

/// A queue's calls over a period: offered, answered, abandoned (and after how long), sent on,
/// callbacks, answered within the service-level target, waits, talk time, and per agent.
#[utoipa::path(get, operation_id = "get_queue_history", path = "/queues/{id}/history", tag = "queues",
    params(
        ("id" = i64, Path, description = "The queue's id"),
        ("from" = Option<String>, Query, description = "Calls that started at or after: unix milliseconds, RFC 3339 or a date (midnight UTC). Default: today's midnight in Europe/Oslo"),
        ("to" = Option<String>, Query, description = "Calls that started before; same forms. Default: now. At most 366 days after `from`"),
    ),
    responses((status = 200, description = "The statistics", body = QueueHistory),
              (status = 400, description = "A parameter is wrong or unknown (named in `field`)", body = ErrorBody),
              (status = 404, description = "No such queue", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn history(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Result<Json<QueueHistory>, ApiError> {
    let id = path_id(&id)?;
    let Query(params) = query.map_err(|e| invalid("query", e.body_text()))?;
    let now = unix_ms();
    let (mut from, mut to) = (None, None);
    for (key, value) in &params {
        match key.as_str() {
            "from" => from = Some(parse_time("from", value)?),
            "to" => to = Some(parse_time("to", value)?),
            other => return Err(invalid(other, "unknown parameter (from, to)")),
        }
    }
    let from = match from {
        Some(f) => f,
        None => switchboard_routing::schedule::oslo_day_start_ms(now)
            .ok_or_else(|| invalid("from", "today cannot be computed"))?,
    };
    let to = to.unwrap_or(now + 1);
    Ok(Json(state.db.queue_history(id, from, to).await?))
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
