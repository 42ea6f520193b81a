//! Hunt groups: ringing a group's members for one incoming call until one answers.
//!
//! # Model
//! A [`HuntGroup`] is configuration; a [`GroupState`] is what the group remembers between calls (round-robin
//! position, when each member last finished a call), stored by the caller; a [`HuntCall`] is one call's
//! hunt, a sans-IO state machine in the quinn-proto style. Call control feeds it `handle_*` inputs with the
//! current [`Instant`], then drains [`HuntCall::poll_action`] and arms a timer at [`HuntCall::poll_timeout`].
//! A whole hunt with minutes of ringing runs in microseconds in tests.
//!
//! Each member has up to two *legs*: [`Leg::App`] (all their app and browser registrations, forked by call
//! control) and [`Leg::Cellular`] (their ordinary mobile number through the trunk). The cellular leg starts
//! [`CellularConfig::delay`] after the app leg, so the app gets the first chance, or at once when the member
//! has no registration or the app leg has ended. With [`CellularConfig::confirm`] (the default), call control
//! asks the person who picks up to press 1, so a cellular voicemail cannot take the call: it reports
//! [`HuntCall::handle_confirming`] when the leg is picked up, then [`HuntCall::handle_answered`] once 1 was
//! pressed, or [`HuntCall::handle_failed`] with [`FailReason::Declined`].
//!
//! # Strategies
//! - [`Strategy::RingAll`]: every eligible member at once, until someone answers or the group timeout. A
//!   member whose legs all end without refusing (no answer, unreachable) is rung again at once; a member
//!   who becomes eligible during the hunt joins it. Per-member ring times do not apply.
//! - [`Strategy::Sequential`]: one member at a time in the configured order, each for their ring time, then
//!   the next. After the last member the hunt goes round again, until the group timeout.
//! - [`Strategy::RoundRobin`]: sequential, starting after the member [`GroupState::last_rung`].
//! - [`Strategy::LongestIdle`]: sequential, ordered by [`GroupState::last_call_end`], longest idle first;
//!   members with no recorded call end come first; ties keep the configured order.
//!
//! ## Round-robin memory
//! The memory is updated when a member is rung, not when one answers, and only by [`HuntCall::start`]: the
//! first member rung by a call becomes `last_rung`, so each call starts one member further on.
//! - Updating on answer would leave the memory unchanged after an unanswered call, so an absent member at
//!   the head of the rotation would take the first ring, and cost every caller a ring time, until someone
//!   answered.
//! - Updating at start only means the caller needs `&mut GroupState` once, synchronously, and two calls that
//!   arrive together start at different members instead of both ringing the same one first.
//!
//! # Who is rung, and when a member is done
//! A member is eligible when logged in to the group and at least one leg can ring: the app leg when
//! registered, the cellular leg when configured and [`MemberPresence::cellular`]. A busy member (in another
//! call) is left out under [`BusyPolicy::Skip`], rung normally under [`BusyPolicy::RingAnyway`], and rung
//! with `call_waiting: true` under [`BusyPolicy::CallWaiting`]. When no member is left who could be rung,
//! the hunt ends with `Exhausted` at once rather than waiting out the group timeout: a hunt group is not a
//! queue, and the no-answer target (often a queue) serves the caller better than silence.
//!
//! What a failed leg means for the rest of this call:
//! - [`FailReason::Busy`], [`FailReason::Rejected`]: the member is not available; both legs end and the
//!   member is not rung again in this call.
//! - [`FailReason::Unreachable`], [`FailReason::Declined`]: that leg is not rung again in this call (a phone
//!   that is off stays off; a voicemail that took the call would take it again).
//! - [`FailReason::NoAnswer`]: the leg may be rung again on a later round.
//!
//! # What call control must know
//! - Actions come in order. `Cancel` means "end this leg in whatever state it reached": CANCEL while
//!   ringing, BYE once answered (a leg in confirmation, or an answer that raced a cancel).
//! - Inputs about legs that are not ringing (a 487 after our cancel, a duplicate answer) are expected and
//!   ignored; an answer from a leg that is not ringing gets a `Cancel`, because a dialog now exists that
//!   nobody will use.
//! - The hunt ends with exactly one of `Connect`, `Exhausted`, or (after the caller hung up) nothing; see
//!   [`HuntCall::outcome`]. After it ends, `poll_timeout` is `None` and every leg it rang has been connected,
//!   cancelled or reported failed.

mod call;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::numbers::Target;
use crate::RoutingError;

pub use call::HuntCall;

/// How long each member rings in the sequential strategies unless the member says otherwise.
pub const DEFAULT_RING_TIME: Duration = Duration::from_secs(15);

/// How long a hunt lasts before it gives up.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// In which order members are rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    #[default]
    RingAll,
    Sequential,
    RoundRobin,
    LongestIdle,
}

/// What to do with a member who is in another call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BusyPolicy {
    #[default]
    Skip,
    RingAnyway,
    CallWaiting,
}

/// A member's second leg: their ordinary mobile number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CellularConfig {
    /// How long after the app leg starts ringing the cellular leg starts.
    pub delay: Duration,
    /// Whether the person who answers must press 1 before the call is theirs.
    pub confirm: bool,
}

impl CellularConfig {
    /// A cellular leg after `delay`, with confirmation.
    pub fn after(delay: Duration) -> Self {
        CellularConfig {
            delay,
            confirm: true,
        }
    }
}

impl Default for CellularConfig {
    /// Confirmation is on because an unconfirmed cellular leg answered by voicemail would win the hunt and
    /// swallow the citizen's call.
    fn default() -> Self {
        CellularConfig::after(Duration::ZERO)
    }
}

/// One member of a hunt group.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Member {
    /// The user's id (username); names the member in actions and inputs.
    pub id: String,
    /// Overrides the group's ring time for this member.
    pub ring_time: Option<Duration>,
    /// Also ring the member's cellular number.
    pub cellular: Option<CellularConfig>,
}

impl Member {
    pub fn new(id: impl Into<String>) -> Self {
        Member {
            id: id.into(),
            ring_time: None,
            cellular: None,
        }
    }

    pub fn with_ring_time(mut self, ring_time: Duration) -> Self {
        self.ring_time = Some(ring_time);
        self
    }

    pub fn with_cellular(mut self, cellular: CellularConfig) -> Self {
        self.cellular = Some(cellular);
        self
    }
}

/// A hunt group's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HuntGroup {
    pub id: u64,
    pub strategy: Strategy,
    /// In ring order; ids must be unique.
    pub members: Vec<Member>,
    /// Per-member ring time in the sequential strategies.
    pub ring_time: Duration,
    /// How long the whole hunt may last.
    pub timeout: Duration,
    /// Where an unanswered call goes; `None` means call control plays a message and hangs up.
    pub no_answer: Option<Target>,
    pub busy: BusyPolicy,
}

impl HuntGroup {
    /// A group with the default ring time and timeout, skipping busy members, no no-answer target.
    pub fn new(id: u64, strategy: Strategy, members: Vec<Member>) -> Self {
        HuntGroup {
            id,
            strategy,
            members,
            ring_time: DEFAULT_RING_TIME,
            timeout: DEFAULT_TIMEOUT,
            no_answer: None,
            busy: BusyPolicy::Skip,
        }
    }

    /// Checks what [`HuntCall::start`] relies on.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let invalid = |reason| RoutingError::InvalidHuntGroup {
            group: self.id,
            reason,
        };
        if self.ring_time.is_zero() {
            return Err(invalid("ring time is zero"));
        }
        if self.timeout.is_zero() {
            return Err(invalid("timeout is zero"));
        }
        for (i, member) in self.members.iter().enumerate() {
            if member.id.is_empty() {
                return Err(invalid("a member has an empty id"));
            }
            if member.ring_time.is_some_and(|t| t.is_zero()) {
                return Err(invalid("a member's ring time is zero"));
            }
            if self.members[..i].iter().any(|m| m.id == member.id) {
                return Err(RoutingError::DuplicateMember {
                    group: self.id,
                    member: member.id.clone(),
                });
            }
        }
        Ok(())
    }
}

/// What call control knows about a member when the hunt starts or later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MemberPresence {
    /// Taking calls from this group (not logged out of it, not on do-not-disturb).
    pub logged_in: bool,
    /// Has at least one app or browser registration, so the app leg can ring.
    pub registered: bool,
    /// In another call.
    pub busy: bool,
    /// Has a cellular number call control can dial.
    pub cellular: bool,
}

impl Default for MemberPresence {
    /// Logged in, registered, idle, cellular known.
    fn default() -> Self {
        MemberPresence {
            logged_in: true,
            registered: true,
            busy: false,
            cellular: true,
        }
    }
}

/// What a group remembers between calls. The caller keeps it (in process now, in Redis later) and lends it
/// to [`HuntCall::start`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupState {
    /// Round robin: the member the previous call rang first.
    pub last_rung: Option<String>,
    /// Longest idle: when each member last finished a call, any call.
    pub last_call_end: BTreeMap<String, Instant>,
}

impl GroupState {
    /// Call control reports here when a member's call ends.
    pub fn record_call_end(&mut self, member: &str, at: Instant) {
        self.last_call_end.insert(member.to_owned(), at);
    }
}

/// One of a member's two ways of being rung.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Leg {
    /// The member's app and browser registrations (call control forks to all of them).
    App,
    /// The member's cellular number, through the trunk.
    Cellular,
}

/// Why a leg ended without being answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailReason {
    /// In another call (486, 600).
    Busy,
    /// The member refused the call (603, or "decline" in the app).
    Rejected,
    /// Could not be reached: no registration answered, phone off, trunk failure (480, 404, 5xx, 408
    /// before ringing).
    Unreachable,
    /// Rang without answer until the leg itself gave up.
    NoAnswer,
    /// Picked up but the confirmation was not given (no 1 pressed, or hung up during the prompt).
    Declined,
}

/// What call control should do next.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HuntAction {
    /// Start ringing a leg. `confirm`: ask for 1 before reporting the answer. `call_waiting`: the member is
    /// in another call, present this one as a waiting call.
    Ring {
        member: String,
        leg: Leg,
        confirm: bool,
        call_waiting: bool,
    },
    /// End a leg, whatever state it reached.
    Cancel { member: String, leg: Leg },
    /// Connect the caller to this leg; the hunt is over.
    Connect { member: String, leg: Leg },
    /// Nobody answered; send the call to `no_answer`, or play a message and hang up when it is `None`.
    Exhausted { no_answer: Option<Target> },
}

/// How a hunt ended.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum HuntOutcome {
    Connected { member: String, leg: Leg },
    Exhausted,
    CallerHungUp,
}
