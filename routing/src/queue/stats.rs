//! Statistics, snapshots for the receptionist console, and the expected-wait estimate.

use std::collections::VecDeque;
use std::time::Duration;

use serde::Serialize;

use super::config::secs_f64;
use super::types::CallId;

/// How many recent calls the expected-wait estimate averages over.
pub const RECENT_CALLS: usize = 20;

/// A queue's counters since the [`Acd`](super::Acd) started (or the queue was added). Durations serialize
/// as fractional seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct QueueStats {
    /// Callers who joined.
    pub joined: u64,
    /// Callers refused at the door (full, no agents).
    pub refused: u64,
    /// Offers made to agents (a ring-all offer counts once per agent).
    pub offered: u64,
    pub answered: u64,
    /// Answered after waiting at most [`QueueConfig::service_level`](super::QueueConfig::service_level).
    pub answered_within_service_level: u64,
    /// Callers who hung up while waiting (callbacks cancelled included).
    pub abandoned: u64,
    /// Callers who left to the overflow target.
    pub overflowed: u64,
    pub callbacks_requested: u64,
    /// Offers that timed out or failed.
    pub missed_offers: u64,
    /// Of answered callers.
    #[serde(serialize_with = "secs_f64")]
    pub average_wait: Duration,
    #[serde(serialize_with = "secs_f64")]
    pub longest_wait: Duration,
    /// How long abandoning callers waited before hanging up.
    #[serde(serialize_with = "secs_f64")]
    pub average_abandon_wait: Duration,
    #[serde(serialize_with = "secs_f64")]
    pub longest_abandon_wait: Duration,
    /// Sum over ended queue calls.
    #[serde(serialize_with = "secs_f64")]
    pub talk_time: Duration,
    #[serde(serialize_with = "secs_f64")]
    pub average_talk_time: Duration,
}

/// An agent's counters across all their queues.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AgentStats {
    pub offered: u64,
    pub answered: u64,
    pub missed_offers: u64,
    #[serde(serialize_with = "secs_f64")]
    pub talk_time: Duration,
}

/// The raw sums behind [`QueueStats`]; averages are computed when read.
#[derive(Debug, Clone, Default)]
pub(super) struct QueueTally {
    pub stats: QueueStats,
    pub total_wait: Duration,
    pub total_abandon_wait: Duration,
    pub talk_calls: u64,
    /// Talk plus wrap-up of recent calls, for the expected wait.
    pub recent_handle: Recent,
    /// Waits of recently answered callers, when no handle time is known yet.
    pub recent_wait: Recent,
}

impl QueueTally {
    pub fn answered(&mut self, wait: Duration, service_level: Duration) {
        let s = &mut self.stats;
        s.answered += 1;
        if wait <= service_level {
            s.answered_within_service_level += 1;
        }
        s.longest_wait = s.longest_wait.max(wait);
        self.total_wait = self.total_wait.saturating_add(wait);
        self.recent_wait.push(wait);
    }

    pub fn abandoned(&mut self, wait: Duration) {
        let s = &mut self.stats;
        s.abandoned += 1;
        s.longest_abandon_wait = s.longest_abandon_wait.max(wait);
        self.total_abandon_wait = self.total_abandon_wait.saturating_add(wait);
    }

    pub fn call_ended(&mut self, talk: Duration, wrap_up: Duration) {
        self.stats.talk_time = self.stats.talk_time.saturating_add(talk);
        self.talk_calls += 1;
        self.recent_handle.push(talk.saturating_add(wrap_up));
    }

    pub fn snapshot(&self) -> QueueStats {
        let mut s = self.stats.clone();
        s.average_wait = average(self.total_wait, s.answered);
        s.average_abandon_wait = average(self.total_abandon_wait, s.abandoned);
        s.average_talk_time = average(s.talk_time, self.talk_calls);
        s
    }

    /// The expected wait of the caller at `position` (1 = next) with `agents` members present.
    ///
    /// Present agents finish a call on average every `handle / agents`, where `handle` is the mean talk plus
    /// wrap-up time of the last [`RECENT_CALLS`] ended calls; the caller at position `p` waits for `p` such
    /// departures: `p × handle / agents`. Until a call has ended the mean wait of recently answered callers
    /// stands in, scaled the same way by position. `None` with nobody present or nothing to go on, so that
    /// call control says nothing rather than a guess.
    pub fn expected_wait(&self, position: u32, agents: usize) -> Option<Duration> {
        if agents == 0 {
            return None;
        }
        let agents = u32::try_from(agents).unwrap_or(u32::MAX);
        if let Some(handle) = self.recent_handle.mean() {
            return Some(handle.saturating_mul(position) / agents);
        }
        self.recent_wait.mean().map(|w| w.saturating_mul(position))
    }
}

fn average(total: Duration, count: u64) -> Duration {
    match u32::try_from(count) {
        Ok(0) => Duration::ZERO,
        Ok(n) => total / n,
        Err(_) => Duration::from_secs_f64(total.as_secs_f64() / count as f64),
    }
}

/// The last [`RECENT_CALLS`] durations.
#[derive(Debug, Clone, Default)]
pub(super) struct Recent(VecDeque<Duration>);

impl Recent {
    pub fn push(&mut self, d: Duration) {
        if self.0.len() == RECENT_CALLS {
            self.0.pop_front();
        }
        self.0.push_back(d);
    }

    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.0.len()).ok().filter(|&n| n > 0)?;
        let sum = self
            .0
            .iter()
            .fold(Duration::ZERO, |acc, d| acc.saturating_add(*d));
        Some(sum / n)
    }
}

/// An agent's state as the console shows it; like [`AgentState`](super::AgentState) with the wrap-up
/// deadline turned into time left.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AgentStatus {
    LoggedOut,
    Available,
    Ringing {
        call: CallId,
    },
    InCall {
        call: CallId,
    },
    WrapUp {
        #[serde(serialize_with = "secs_f64")]
        remaining: Duration,
    },
    Paused {
        reason: String,
    },
    DoNotDisturb,
}

/// One member of a queue in a [`QueueSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgentSnapshot {
    pub user: String,
    pub penalty: u32,
    pub status: AgentStatus,
    /// In a call that is not a queue call.
    pub busy_elsewhere: bool,
    /// The queue call they are in, also when they paused or logged out during it.
    pub current_call: Option<CallId>,
    /// Missed offers since their last answer, login or unpause.
    pub missed_in_row: u32,
    pub stats: AgentStats,
}

/// One waiting caller in a [`QueueSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingCaller {
    pub call: CallId,
    /// 1 = next in line.
    pub position: u32,
    #[serde(serialize_with = "secs_f64")]
    pub waited: Duration,
    pub priority: u8,
    /// Hung up and waits to be called back.
    pub callback: bool,
    /// Agents ringing for this caller now.
    pub offered_to: Vec<String>,
}

/// A queue as the receptionist console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QueueSnapshot {
    pub id: u64,
    pub name: String,
    /// In the order they will be served.
    pub waiting: Vec<WaitingCaller>,
    /// In member order.
    pub agents: Vec<AgentSnapshot>,
    pub stats: QueueStats,
}
