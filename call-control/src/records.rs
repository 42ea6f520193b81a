//! What call control writes down (call records, recordings' ends) and announces (news for
//! receptionists). Both leave as outputs: the writer and the feed live in the runtime shell.

use sip_core::b2bua::{CallRef, CallReport};
use switchboard_schema::{CdrAnswer, CdrOpen, QueueOutcome};

use crate::citizen::QueueRecord;

/// A write to the call records, in the order call control made it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A call started (its row is keyed by `call` until it is closed).
    Open {
        call: CallRef,
        open: CdrOpen,
    },
    Answered {
        call: CallRef,
        answer: CdrAnswer,
    },
    /// The call ended at `ended_at_ms`; the writer adds the relay's final counters of
    /// `report.media_legs`.
    Closed {
        call: CallRef,
        report: CallReport,
        /// The caller's stay in a queue, if there was one.
        queue: Option<QueueRecord>,
        ended_at_ms: i64,
    },
    /// A recording's file is complete (`bytes` 0: it could not be written).
    RecordingFinished {
        id: i64,
        ended_at_ms: i64,
        bytes: u64,
    },
}

/// News for receptionists (the API's `/events`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A caller joined a queue.
    CallerQueued {
        queue: i64,
        call: u64,
        caller: String,
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
    /// abroad and to premium numbers are refused until an admin lifts the block.
    TollBlocked { user: String, reason: &'static str },
    /// `user`'s presence changed (`available`, `busy`, `away`, `dnd`), by them, a receptionist, or
    /// its end coming.
    PresenceChanged { user: String, status: &'static str },
    /// A call began (`from` is the caller's number or the staff member's username).
    CallStarted { call: u64, from: String, to: String },
    /// Someone answered the call (again after a transfer): a username, or `username/cellular`.
    CallAnswered { call: u64, by: String },
    /// The call ended.
    CallEnded {
        call: u64,
        from: String,
        to: String,
        answered_by: Option<String>,
    },
    /// An agent's state was changed through the API (`available`, `paused`, `logged_out`, `dnd`,
    /// `reset`).
    AgentStateChanged {
        user: String,
        state: &'static str,
        reason: Option<String>,
    },
}
