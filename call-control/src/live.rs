//! The calls in progress as the admin API shows them, recordings' state, and the API's questions
//! and orders about live queues and agents.
//!
//! A recording is started in two steps: call control checks the call may be recorded and marks it
//! ([`CallControl::begin_recording`]); the runtime shell asks the SIP core for the call's relay
//! legs, stores the recording's row and starts the media thread's writer, then reports back
//! ([`CallControl::recording_started`] or [`CallControl::recording_not_started`]).

use std::time::Instant;

use sip_core::b2bua::{CallRef, LegId};
use switchboard_media::relay::RecordingId;
use switchboard_routing::queue::AgentState;

use crate::{CallControl, MediaCommand, Record};

/// Where a call in progress stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallViewState {
    /// Being routed, or ringing staff.
    Ringing,
    /// Answered by Switchboard itself: the caller is in a menu or a queue, or hears a message.
    Local,
    /// Two parties talk.
    Answered,
}

/// A call in progress, as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    /// Call control's id of the call; valid while the call lasts.
    pub id: u64,
    /// SIP Call-ID of the inbound leg, as in the call's record.
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub state: CallViewState,
    /// Who answered (username, or `username/cellular`), once answered.
    pub answered_by: Option<String>,
    pub started_at_ms: i64,
    pub answered_at_ms: Option<i64>,
    pub recording: bool,
    pub recording_id: Option<i64>,
    /// The caller hears music on hold: held by the staff member, or waiting while they transfer.
    pub on_hold: bool,
}

/// A call's recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Recording {
    Off,
    /// Allowed and being set up by the shell.
    Starting,
    /// Running: its row, and a leg of it (the media runtime finds its thread by a leg).
    On {
        id: i64,
        leg: LegId,
    },
}

pub(crate) struct Entry {
    pub(crate) view: CallView,
    pub(crate) recording: Recording,
}

/// Why call control did not start or stop a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordingRefusal {
    /// No call in progress has this id.
    UnknownCall,
    /// Ringing, or answered by Switchboard itself (a menu, a queue): nobody to record yet.
    NotAnswered,
    AlreadyRecording,
    NotRecording,
    /// Media or disk trouble; the text says what.
    Failed(String),
}

/// The agent states an admin can set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStateChange {
    /// Logged in and ready for calls (also logs the agent in).
    Available,
    /// Logged in but taking no calls, with an optional reason ("lunsj").
    Paused { reason: Option<String> },
    /// Logged out of every queue.
    LoggedOut,
    /// Do not disturb.
    Dnd,
    /// The administrator's reset: clears a stuck ringing or in-call state.
    Reset,
}

impl CallControl {
    /// Every call in progress that the API shows (callbacks being placed are not listed).
    pub fn calls_in_progress(&self) -> Vec<CallView> {
        let mut views: Vec<CallView> = self
            .calls
            .values()
            .filter_map(|c| c.view.as_ref().map(|e| e.view.clone()))
            .collect();
        views.sort_by_key(|v| v.id);
        views
    }

    pub(crate) fn view_mut(&mut self, call: CallRef) -> Option<&mut Entry> {
        self.calls.get_mut(&call).and_then(|c| c.view.as_mut())
    }

    /// Staff answered (`by` as the CDR names them), or a transfer brought someone new.
    pub(crate) fn view_answered(&mut self, now: Instant, call: CallRef, by: &str) {
        let at = self.unix_ms(now);
        let mut shown = false;
        if let Some(e) = self.view_mut(call) {
            e.view.state = CallViewState::Answered;
            e.view.answered_by = Some(by.to_owned());
            e.view.answered_at_ms.get_or_insert(at);
            shown = true;
        }
        if shown {
            self.notice(crate::Notice::CallAnswered {
                call: call.0,
                by: by.to_owned(),
            });
        }
    }

    /// The caller was put on hold (`true`) or is back (`false`).
    pub(crate) fn view_held(&mut self, call: CallRef, held: bool) {
        if let Some(e) = self.view_mut(call) {
            e.view.on_hold = held;
        }
    }

    /// Checks that `call` may be recorded now and marks it as starting; the answer is the call's
    /// SIP Call-ID (the recording's file is named after it).
    pub fn begin_recording(&mut self, call: u64) -> Result<String, RecordingRefusal> {
        let entry = self
            .view_mut(CallRef(call))
            .ok_or(RecordingRefusal::UnknownCall)?;
        if entry.view.state != CallViewState::Answered {
            return Err(RecordingRefusal::NotAnswered);
        }
        if entry.recording != Recording::Off {
            return Err(RecordingRefusal::AlreadyRecording);
        }
        entry.recording = Recording::Starting;
        Ok(entry.view.call_id.clone())
    }

    /// The recording `id` of `call` runs on relay leg `leg`. A call that ended meanwhile has the
    /// recording stopped at once.
    pub fn recording_started(&mut self, call: u64, id: i64, leg: LegId) {
        match self.view_mut(CallRef(call)) {
            Some(e) if e.recording == Recording::Starting => {
                e.recording = Recording::On { id, leg };
                e.view.recording = true;
                e.view.recording_id = Some(id);
            }
            _ => self.media(MediaCommand::StopRecording {
                id: RecordingId(id as u64),
                leg,
            }),
        }
    }

    /// The recording begun for `call` could not be started.
    pub fn recording_not_started(&mut self, call: u64) {
        if let Some(e) = self.view_mut(CallRef(call)) {
            if e.recording == Recording::Starting {
                e.recording = Recording::Off;
            }
        }
    }

    /// Stops the call's recording; the answer is the recording's id (its row is complete once the
    /// media thread reports the file done).
    pub fn stop_recording(&mut self, call: u64) -> Result<i64, RecordingRefusal> {
        let entry = self
            .view_mut(CallRef(call))
            .ok_or(RecordingRefusal::UnknownCall)?;
        let Recording::On { id, leg } = entry.recording else {
            return Err(RecordingRefusal::NotRecording);
        };
        entry.recording = Recording::Off;
        entry.view.recording = false;
        entry.view.recording_id = None;
        // Already finished by the media thread (a leg went) is fine: its report is on the way.
        self.media(MediaCommand::StopRecording {
            id: RecordingId(id as u64),
            leg,
        });
        Ok(id)
    }

    /// The media runtime finished a recording's file.
    pub(crate) fn recording_finished(&mut self, now: Instant, id: RecordingId, bytes: u64) {
        let id = id.0 as i64;
        for e in self.calls.values_mut().filter_map(|c| c.view.as_mut()) {
            if matches!(e.recording, Recording::On { id: r, .. } if r == id) {
                e.recording = Recording::Off;
                e.view.recording = false;
                e.view.recording_id = None;
            }
        }
        let ended_at_ms = self.unix_ms(now);
        self.record(Record::RecordingFinished {
            id,
            ended_at_ms,
            bytes,
        });
    }

    /// The live state of one queue (agents, waiting callers, counters) as JSON; `None` when no call
    /// has used that queue since the node started.
    pub fn queue_snapshot(&self, now: Instant, queue: i64) -> Option<serde_json::Value> {
        self.acd
            .snapshot(now, queue as u64)
            .and_then(|s| serde_json::to_value(s).ok())
    }

    /// Statistics of every queue and agent, as JSON.
    pub fn queue_stats(&self) -> serde_json::Value {
        let queues: Vec<serde_json::Value> = self
            .acd
            .queue_ids()
            .into_iter()
            .filter_map(|id| {
                let stats = self.acd.queue_stats(id)?;
                let waiting = self.acd.waiting_count(id).unwrap_or(0);
                Some(serde_json::json!({ "queue": id, "waiting": waiting, "stats": stats }))
            })
            .collect();
        serde_json::json!({ "queues": queues })
    }

    /// A receptionist or the agent changes an agent's state.
    pub fn set_agent_state(&mut self, now: Instant, user: &str, state: AgentStateChange) {
        tracing::info!(%user, ?state, "agent state set through the API");
        let (name, reason) = match &state {
            AgentStateChange::Available => ("available", None),
            AgentStateChange::Paused { reason } => ("paused", reason.clone()),
            AgentStateChange::LoggedOut => ("logged_out", None),
            AgentStateChange::Dnd => ("dnd", None),
            AgentStateChange::Reset => ("reset", None),
        };
        self.notice(crate::Notice::AgentStateChanged {
            user: user.to_owned(),
            state: name,
            reason,
        });
        match state {
            AgentStateChange::Available => {
                self.live.set_logged_out(user, false);
                match self.acd.agent_state(user) {
                    None | Some(AgentState::LoggedOut) => self.acd.handle_login(now, user),
                    Some(AgentState::Paused { .. }) => self.acd.handle_unpause(now, user),
                    Some(AgentState::DoNotDisturb) => self.acd.handle_dnd(now, user, false),
                    Some(_) => {}
                }
                // Available for the queues is available for the hunt groups too.
                if self.on_dnd(user) {
                    self.live.set_presence(user, None);
                    self.notice(crate::Notice::PresenceChanged {
                        user: user.to_owned(),
                        status: crate::PresenceStatus::Available.as_str(),
                    });
                }
            }
            AgentStateChange::Paused { reason } => {
                let reason = reason.unwrap_or_else(|| "paused".to_string());
                // An agent no queue call has logged in yet is logged in first, or the pause would
                // be lost and the first queue call would log them in as available.
                if self.acd.agent_state(user).is_none() && !self.live.logged_out(user) {
                    self.acd.handle_login(now, user);
                }
                self.acd.handle_pause(now, user, &reason);
            }
            AgentStateChange::LoggedOut => {
                self.live.set_logged_out(user, true);
                self.acd.handle_logout(now, user);
            }
            AgentStateChange::Dnd => {
                // Do-not-disturb is the user's presence: hunt groups skip them as well.
                let presence = crate::Presence {
                    status: crate::PresenceStatus::DoNotDisturb,
                    ..self.presence(user)
                };
                self.set_presence(now, user, presence);
            }
            AgentStateChange::Reset => {
                self.acd.force_reset(now, user);
            }
        }
        self.carry_out_acd(now);
        self.run_todo(now);
    }
}
