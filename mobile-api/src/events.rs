//! `/events`: what receptionists are told as it happens — callers queueing and leaving, agents paused
//! for missed calls, callbacks booked — as server-sent events (`text/event-stream`), so the console
//! (or `curl -N`) sees it without polling. Call control publishes on [`AppState::events`].

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::stream::{self, Stream};
use serde::Serialize;
use switchboard_schema::QueueOutcome;
use tokio::sync::broadcast;

use crate::{ApiError, AppState, ErrorBody};

/// One piece of news for receptionists. The SSE event name is `type`; the data is this, as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveEvent {
    /// A caller joined a queue.
    CallerQueued {
        queue: i64,
        /// Call control's number for the call (the same in `caller_left`).
        call: u64,
        caller: String,
        /// Higher is served first.
        priority: u8,
        /// 1 = next in line.
        position: u32,
    },
    /// A caller's stay in a queue ended.
    CallerLeft {
        queue: i64,
        call: u64,
        outcome: QueueOutcome,
        wait_ms: i64,
    },
    /// An agent missed `missed` offers in a row and was paused in every queue.
    AgentAutoPaused {
        user: String,
        queue: i64,
        missed: u32,
    },
    /// A caller asked to be called back on `number` and hung up; the queue keeps their place.
    CallbackRequested {
        queue: i64,
        call: u64,
        number: String,
    },
    /// `user` passed a toll-fraud limit (`concurrent_calls` or `minutes_per_hour`): their calls
    /// abroad and to premium numbers are refused until an admin lifts the block
    /// (`DELETE /api/v1/toll-blocks/{user}`).
    TollBlocked { user: String, reason: String },
    /// `user`'s presence changed: `available`, `busy`, `away` or `dnd`.
    PresenceChanged { user: String, status: String },
    /// The receptionist's feed fell behind and `missed` events were dropped: reload the live state.
    Lagged { missed: u64 },
}

impl LiveEvent {
    fn name(&self) -> &'static str {
        match self {
            LiveEvent::CallerQueued { .. } => "caller_queued",
            LiveEvent::CallerLeft { .. } => "caller_left",
            LiveEvent::AgentAutoPaused { .. } => "agent_auto_paused",
            LiveEvent::CallbackRequested { .. } => "callback_requested",
            LiveEvent::TollBlocked { .. } => "toll_blocked",
            LiveEvent::PresenceChanged { .. } => "presence_changed",
            LiveEvent::Lagged { .. } => "lagged",
        }
    }

    fn to_sse(&self) -> Event {
        let data = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        Event::default().event(self.name()).data(data)
    }
}

/// The live event feed for receptionists (server-sent events; each event's data is a `LiveEvent`).
#[utoipa::path(get, operation_id = "get_events", path = "/events", tag = "queues",
    responses((status = 200, description = "An endless `text/event-stream` of LiveEvent", body = LiveEvent, content_type = "text/event-stream"),
              (status = 503, description = "Call control does not publish events (`events_unavailable`)", body = ErrorBody),
              (status = 401, description = "Missing or wrong token", body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Some(tx) = &state.events else {
        return Err(ApiError::EventsUnavailable);
    };
    let feed = stream::unfold(tx.subscribe(), |mut rx| async move {
        let event = match rx.recv().await {
            Ok(event) => event,
            Err(broadcast::error::RecvError::Lagged(missed)) => LiveEvent::Lagged { missed },
            Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(event.to_sse()), rx))
    });
    Ok(Sse::new(feed).keep_alive(KeepAlive::default()))
}
