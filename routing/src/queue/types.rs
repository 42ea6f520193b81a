//! What goes in and out of the [`Acd`](super::Acd): call ids, agent states, actions, join results.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::numbers::Target;

/// Call control's id for a citizen's call (for a callback: the id it had when the caller was holding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CallId(pub u64);

/// The reason an agent paused automatically after missing offers.
pub const AUTO_PAUSE_REASON: &str = "no answer";

/// An agent's one global state, shared by every queue they are a member of.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AgentState {
    LoggedOut,
    /// Logged in and waiting for an offer (unless [busy](super::Acd::handle_agent_busy) in another call).
    Available,
    /// Being offered this caller; ends at the queue's ring timeout at the latest.
    Ringing {
        call: CallId,
    },
    /// In a queue call.
    InCall {
        call: CallId,
    },
    /// After a queue call; offers resume at `until`.
    WrapUp {
        until: Instant,
    },
    /// Logged in but taking no offers; [`AUTO_PAUSE_REASON`] when paused by the core.
    Paused {
        reason: String,
    },
    DoNotDisturb,
}

impl AgentState {
    /// Logged in and not paused or on do-not-disturb: counts when deciding which tier is eligible.
    pub fn is_present(&self) -> bool {
        !matches!(
            self,
            AgentState::LoggedOut | AgentState::Paused { .. } | AgentState::DoNotDisturb
        )
    }
}

/// Why a caller left the queue for its overflow target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OverflowReason {
    /// Waited [`QueueConfig::max_wait`](super::QueueConfig::max_wait).
    MaxWait,
    /// The queue was full (only in [`JoinRefused`]).
    Full,
    /// No member is logged in (refused to join, or `leave_empty` after the last one logged out).
    NoAgents,
    /// The queue was removed from the configuration while the caller waited.
    QueueRemoved,
}

/// What call control should do next. Drain [`Acd::poll_action`](super::Acd::poll_action) after every input;
/// actions come in the order they must be carried out.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum QueueAction {
    /// Ring `user` for this waiting caller. The core times the offer out itself after `ring_timeout` (it
    /// then sends `CancelOffer`), so call control's own leg timer should not be shorter.
    Offer {
        call: CallId,
        user: String,
        ring_timeout: Duration,
    },
    /// A callback's turn: ring `user` first; when they answer (reported with
    /// [`Acd::handle_offer_answered`](super::Acd::handle_offer_answered)) dial the citizen on `number`.
    StartCallback {
        call: CallId,
        user: String,
        number: String,
        ring_timeout: Duration,
    },
    /// Stop ringing `user` for this caller (ring timeout, another agent answered, the caller left), or end a
    /// leg that answered too late: CANCEL while ringing, BYE once answered.
    CancelOffer { call: CallId, user: String },
    /// The answer is accepted: bridge the caller to `user` (or, for a callback, dial `callback` now). The
    /// caller has left the queue; the agent is in a queue call until
    /// [`Acd::handle_queue_call_ended`](super::Acd::handle_queue_call_ended).
    Connect {
        call: CallId,
        user: String,
        callback: Option<String>,
    },
    /// Tell the caller their place (1 = next) and, when it can be estimated, the expected wait.
    Announce {
        call: CallId,
        position: u32,
        expected_wait: Option<Duration>,
    },
    /// Play "press 2 to be called back"; the answer comes as
    /// [`Acd::handle_callback_request`](super::Acd::handle_callback_request).
    OfferCallback { call: CallId },
    /// The caller has left the queue: send them to `target`, or play a message and hang up when `None`. For
    /// a caller waiting for a callback there is no leg: record the lost callback.
    Overflow {
        call: CallId,
        target: Option<Target>,
        reason: OverflowReason,
    },
    /// The agent missed `missed` offers in a row and is now paused with [`AUTO_PAUSE_REASON`]; tell the
    /// receptionist.
    AgentAutoPaused {
        user: String,
        queue: u64,
        missed: u32,
    },
}

/// The caller is in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Joined {
    /// 1 = next in line.
    pub position: u32,
}

/// Why a caller could not join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RefuseReason {
    /// [`QueueConfig::max_callers`](super::QueueConfig::max_callers) are waiting.
    Full,
    /// No member is logged in and the queue does not let callers join an empty queue.
    NoAgents,
    /// No queue has this id (call control's configuration is out of step).
    UnknownQueue,
    /// This call id is already waiting in a queue.
    AlreadyQueued,
}

/// The caller did not join; send them to `overflow`, or play a message and hang up when `None`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct JoinRefused {
    pub reason: RefuseReason,
    pub overflow: Option<Target>,
}

/// One queue-related leg call control actually has, for [`Acd::reconcile`](super::Acd::reconcile).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum LiveLeg {
    /// A caller holding in a queue (callback requests have no leg and are not listed).
    Caller(CallId),
    /// An offer ringing `user` for `call`.
    Offer { call: CallId, user: String },
    /// `user` is connected in a queue call (or a callback) with `call`.
    Connected { call: CallId, user: String },
    /// `user` is in a call that is not a queue call.
    Busy { user: String },
}
