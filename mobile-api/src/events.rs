//! `/events`: what happens, as it happens — calls starting, answered and ending, callers queueing and
//! leaving, agents paused, presence changing, callbacks booked — as server-sent events
//! (`text/event-stream`), so the console and the staff app (or `curl -N`) see it without polling.
//!
//! Call control publishes into an [`EventHub`] ([`AppState::events`]), which numbers every event and
//! keeps the last [`HISTORY`] of them: each SSE event carries its number as `id`, and a client that
//! reconnects with `Last-Event-ID` (browsers' EventSource does it by itself) or `?since=` first gets
//! what it missed, then the live feed, without a gap or a repeat. Each client sees what its role may:
//! admins and receptionists everything; staff presence changes, their own calls and agent state, and
//! the callers of their own queues.

use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::Extension;
use futures_util::stream::{self, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use switchboard_schema::QueueOutcome;
use tokio::sync::broadcast;

use crate::auth::{Principal, Role};
use crate::json::invalid;
use crate::{ApiError, AppState, ErrorBody};

/// How many past events the hub keeps for clients that reconnect.
pub const HISTORY: usize = 1000;

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
    /// A call began: a citizen's from the trunk, or a staff member's.
    CallStarted { call: u64, from: String, to: String },
    /// Someone answered the call (again after a transfer).
    CallAnswered { call: u64, by: String },
    /// The call ended.
    CallEnded {
        call: u64,
        from: String,
        to: String,
        answered_by: Option<String>,
    },
    /// An agent's state was changed (by them or a receptionist): `available`, `paused`, `logged_out`,
    /// `dnd` or `reset`.
    AgentStateChanged {
        user: String,
        state: String,
        reason: Option<String>,
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
            LiveEvent::CallStarted { .. } => "call_started",
            LiveEvent::CallAnswered { .. } => "call_answered",
            LiveEvent::CallEnded { .. } => "call_ended",
            LiveEvent::AgentStateChanged { .. } => "agent_state_changed",
            LiveEvent::TollBlocked { .. } => "toll_blocked",
            LiveEvent::PresenceChanged { .. } => "presence_changed",
            LiveEvent::Lagged { .. } => "lagged",
        }
    }

    fn to_sse(&self, seq: Option<u64>) -> Event {
        let data = serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned());
        let event = Event::default().event(self.name()).data(data);
        match seq {
            Some(seq) => event.id(seq.to_string()),
            None => event,
        }
    }
}

/// What one client may see.
#[derive(Debug, Clone)]
enum Audience {
    /// Admins and receptionists.
    Everything,
    /// A staff member: their username and the queues they are a member of.
    Staff { user: String, queues: HashSet<i64> },
}

impl Audience {
    fn sees(&self, event: &LiveEvent) -> bool {
        let Audience::Staff { user, queues } = self else {
            return true;
        };
        match event {
            LiveEvent::PresenceChanged { .. } | LiveEvent::Lagged { .. } => true,
            LiveEvent::CallerQueued { queue, .. }
            | LiveEvent::CallerLeft { queue, .. }
            | LiveEvent::CallbackRequested { queue, .. } => queues.contains(queue),
            LiveEvent::AgentAutoPaused { user: u, .. }
            | LiveEvent::AgentStateChanged { user: u, .. }
            | LiveEvent::TollBlocked { user: u, .. } => u == user,
            LiveEvent::CallStarted { from, to, .. } => from == user || to == user,
            LiveEvent::CallAnswered { by, .. } => by == user,
            LiveEvent::CallEnded {
                from,
                to,
                answered_by,
                ..
            } => from == user || to == user || answered_by.as_deref() == Some(user.as_str()),
        }
    }
}

struct HubState {
    /// The last [`HISTORY`] events with their numbers, oldest first.
    history: VecDeque<(u64, LiveEvent)>,
    next_seq: u64,
}

/// Numbers events, keeps the recent ones, and hands them to every connected client.
#[derive(Clone)]
pub struct EventHub {
    state: Arc<Mutex<HubState>>,
    live: broadcast::Sender<(u64, LiveEvent)>,
}

impl Default for EventHub {
    fn default() -> Self {
        EventHub::new()
    }
}

impl EventHub {
    pub fn new() -> EventHub {
        EventHub {
            state: Arc::new(Mutex::new(HubState {
                history: VecDeque::with_capacity(HISTORY),
                next_seq: 1,
            })),
            live: broadcast::channel(1024).0,
        }
    }

    /// Publishes an event; answers its number. Never waits: a slow client lags and is told so.
    pub fn publish(&self, event: LiveEvent) -> u64 {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let seq = s.next_seq;
        s.next_seq += 1;
        if s.history.len() == HISTORY {
            s.history.pop_front();
        }
        s.history.push_back((seq, event.clone()));
        // Sent under the lock, so a subscriber sees each event either in its history or live.
        let _ = self.live.send((seq, event));
        seq
    }

    /// Events after `since` still kept, and the live feed from there on; `missed` counts those
    /// after `since` that are no longer kept.
    fn subscribe(&self, since: Option<u64>) -> Subscription {
        let s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let rx = self.live.subscribe();
        let Some(since) = since else {
            return Subscription {
                replay: Vec::new(),
                missed: 0,
                live: rx,
            };
        };
        let oldest = s.history.front().map_or(s.next_seq, |(seq, _)| *seq);
        let missed = oldest.saturating_sub(since.saturating_add(1));
        let replay = s
            .history
            .iter()
            .filter(|(seq, _)| *seq > since)
            .cloned()
            .collect();
        Subscription {
            replay,
            missed,
            live: rx,
        }
    }
}

/// A client's start: the kept events it missed, how many it missed beyond those, and the live feed.
struct Subscription {
    replay: Vec<(u64, LiveEvent)>,
    missed: u64,
    live: broadcast::Receiver<(u64, LiveEvent)>,
}

/// Where to resume.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Replay the kept events after this number first (as the `Last-Event-ID` header does).
    #[param(minimum = 0)]
    since: Option<i64>,
}

/// The live event feed (server-sent events; each event's `id` is its number, its data a `LiveEvent`).
#[utoipa::path(get, operation_id = "get_events", path = "/events", tag = "queues",
    params(EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, pattern = r"^[0-9]{1,19}$", description = "Resume after this event number (EventSource sends it on reconnect)")),
    responses((status = 200, description = "An endless `text/event-stream` of LiveEvent, filtered by the caller's role", body = LiveEvent, content_type = "text/event-stream"),
              (status = 400, description = "A bad `since` or `Last-Event-ID`", body = ErrorBody),
              (status = 503, description = "Call control does not publish events (`events_unavailable`)", body = ErrorBody)))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    query: Result<Query<EventsQuery>, QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|e| invalid("query", e.body_text()))?;
    let since = query
        .since
        .map(|s| u64::try_from(s).map_err(|_| invalid("since", "must not be negative")))
        .transpose()?;
    let Some(hub) = &state.events else {
        return Err(ApiError::EventsUnavailable);
    };
    let header = match headers.get("last-event-id") {
        Some(v) => Some(
            v.to_str()
                .ok()
                .and_then(|t| t.trim().parse::<u64>().ok())
                .ok_or_else(|| invalid("Last-Event-ID", "must be an event number"))?,
        ),
        None => None,
    };
    let audience = if principal.has(Role::Admin) || principal.has(Role::Receptionist) {
        Audience::Everything
    } else {
        let user = principal.user()?.username.clone();
        let queues = state
            .db
            .list_queues()
            .await?
            .into_iter()
            .filter(|q| q.members.iter().any(|m| m.user == user))
            .map(|q| q.id)
            .collect();
        Audience::Staff { user, queues }
    };
    let Subscription {
        replay,
        missed,
        live: rx,
    } = hub.subscribe(header.or(since));
    let last_replayed = replay.last().map_or(0, |(seq, _)| *seq);
    let lagged = (missed > 0).then(|| Ok(LiveEvent::Lagged { missed }.to_sse(None)));
    let past = replay
        .into_iter()
        .filter(|(_, e)| audience.sees(e))
        .map(|(seq, e)| Ok(e.to_sse(Some(seq))))
        .collect::<Vec<_>>();
    let live = stream::unfold((rx, audience), move |(mut rx, audience)| async move {
        loop {
            let event = match rx.recv().await {
                Ok((seq, _)) if seq <= last_replayed => continue,
                Ok((seq, event)) if audience.sees(&event) => event.to_sse(Some(seq)),
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    LiveEvent::Lagged { missed }.to_sse(None)
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            return Some((Ok(event), (rx, audience)));
        }
    });
    let feed = stream::iter(lagged.into_iter().chain(past)).chain(live);
    Ok(Sse::new(feed).keep_alive(KeepAlive::default()))
}
