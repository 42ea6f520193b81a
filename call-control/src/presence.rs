//! Staff presence: available, busy, away or do-not-disturb, with an optional note and an optional
//! end ("until") after which it returns to available by itself. Routing obeys it: do-not-disturb is
//! skipped by hunt groups and gets no queue offers; busy counts as in a call for a hunt group's busy
//! policy; away is shown to colleagues and changes nothing else.
//!
//! Presence lives in the [`LiveStore`](crate::store::LiveStore) (shared by nodes later); the ends are
//! call control's timers like any other, so an expiring presence is tested with simulated time.

use std::time::Instant;

use crate::records::Notice;
use crate::CallControl;

/// Longest presence note.
pub const MAX_NOTE_CHARS: usize = 100;

/// What a staff member said about being reachable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PresenceStatus {
    #[default]
    Available,
    Busy,
    Away,
    DoNotDisturb,
}

impl PresenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PresenceStatus::Available => "available",
            PresenceStatus::Busy => "busy",
            PresenceStatus::Away => "away",
            PresenceStatus::DoNotDisturb => "dnd",
        }
    }
}

/// A staff member's presence.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Presence {
    pub status: PresenceStatus,
    /// "I møte til 14", at most [`MAX_NOTE_CHARS`] characters.
    pub note: Option<String>,
    /// When it ends by itself (back to available), unix milliseconds.
    pub until_ms: Option<i64>,
}

impl Presence {
    fn is_plain_available(&self) -> bool {
        self.status == PresenceStatus::Available && self.note.is_none() && self.until_ms.is_none()
    }
}

impl CallControl {
    /// A user's presence (available when none was set).
    pub fn presence(&self, user: &str) -> Presence {
        self.live.presence(user).unwrap_or_default()
    }

    /// Everyone whose presence is other than plain available, by username.
    pub fn presences(&self) -> Vec<(String, Presence)> {
        let mut all = self.live.presences();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Sets a user's presence and applies it to the queues at once (an offer ringing a user who
    /// turns on do-not-disturb is withdrawn).
    pub fn set_presence(&mut self, now: Instant, user: &str, presence: Presence) {
        let was_dnd = self.on_dnd(user);
        let dnd = presence.status == PresenceStatus::DoNotDisturb;
        tracing::info!(%user, status = presence.status.as_str(), until_ms = ?presence.until_ms, "presence set");
        let status = presence.status;
        if presence.is_plain_available() {
            self.live.set_presence(user, None);
        } else {
            self.live.set_presence(user, Some(presence));
        }
        if was_dnd != dnd {
            self.acd.handle_dnd(now, user, dnd);
            self.carry_out_acd(now);
        }
        self.notice(Notice::PresenceChanged {
            user: user.to_owned(),
            status: status.as_str(),
        });
        self.run_todo(now);
    }

    /// Whether a hunt group or a queue should leave `user` out.
    pub(crate) fn on_dnd(&self, user: &str) -> bool {
        self.live.presence_status(user) == PresenceStatus::DoNotDisturb
    }

    /// Whether `user` said they are busy.
    pub(crate) fn says_busy(&self, user: &str) -> bool {
        self.live.presence_status(user) == PresenceStatus::Busy
    }

    /// When the next presence ends by itself.
    pub(crate) fn next_presence_end(&self) -> Option<Instant> {
        self.live
            .next_presence_end()
            .map(|ms| self.clock.instant_at(ms))
    }

    /// Presences whose end has come return to available.
    pub(crate) fn end_presences(&mut self, now: Instant) {
        let now_ms = self.unix_ms(now);
        if self.live.next_presence_end().is_none_or(|end| end > now_ms) {
            return;
        }
        let ended: Vec<String> = self
            .live
            .presences()
            .into_iter()
            .filter(|(_, p)| p.until_ms.is_some_and(|u| u <= now_ms))
            .map(|(user, _)| user)
            .collect();
        for user in ended {
            tracing::info!(%user, "presence ended by itself");
            self.set_presence(now, &user, Presence::default());
        }
    }
}

/// A staff member as colleagues and receptionists see them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaffStatus {
    pub user: String,
    pub presence: Presence,
    /// Talking in a call now.
    pub in_call: bool,
    /// For the queues: `available`, `ringing`, `in_call`, `wrap_up`, `paused`, `dnd` or `logged_out`.
    pub agent_state: &'static str,
    /// Why paused, when paused.
    pub pause_reason: Option<String>,
}

impl CallControl {
    /// How `users` stand now, in the order given.
    pub fn staff_status(&self, users: &[String]) -> Vec<StaffStatus> {
        use switchboard_routing::queue::AgentState;
        users
            .iter()
            .map(|user| {
                let (agent_state, pause_reason) = match self.acd.agent_state(user) {
                    // Never seen by a queue: logged in by the first queue call unless they logged out.
                    None if self.live.logged_out(user) => ("logged_out", None),
                    None if self.on_dnd(user) => ("dnd", None),
                    None => ("available", None),
                    Some(AgentState::LoggedOut) => ("logged_out", None),
                    Some(AgentState::Available) => ("available", None),
                    Some(AgentState::Ringing { .. }) => ("ringing", None),
                    Some(AgentState::InCall { .. }) => ("in_call", None),
                    Some(AgentState::WrapUp { .. }) => ("wrap_up", None),
                    Some(AgentState::Paused { reason }) => ("paused", Some(reason.clone())),
                    Some(AgentState::DoNotDisturb) => ("dnd", None),
                };
                StaffStatus {
                    user: user.clone(),
                    presence: self.presence(user),
                    in_call: self.live.in_call(user),
                    agent_state,
                    pause_reason,
                }
            })
            .collect()
    }
}
