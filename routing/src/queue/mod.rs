//! ACD call queues: who of the waiting citizens is offered to which agent, and when.
//!
//! # Model
//! One [`Acd`] holds every queue of a node, every waiting caller and every agent. It is a sans-IO state
//! machine in the quinn-proto style: call control feeds it `handle_*` inputs with the current
//! [`Instant`](std::time::Instant), drains [`Acd::poll_action`] after each, and calls
//! [`Acd::handle_timeout`] at [`Acd::poll_timeout`]. No clock, no IO; randomness comes from the seed given
//! to [`Acd::new`]. A day of queue traffic runs in milliseconds in tests.
//!
//! One machine for all queues, rather than one per queue, because an agent (a user, by username) may be a
//! member of several queues and has one global [`AgentState`]: an agent ringing for queue A must not be
//! offered a caller from queue B, and a missed offer in A counts towards their auto-pause everywhere.
//!
//! Queues come from [`QueueConfig`] (serde, validated by [`QueueConfig::validate`]) through
//! [`Acd::upsert_queue`]. A user becomes an agent the first time any input or configuration names them.
//!
//! # Callers
//! A caller joins with a priority ([`Acd::handle_join`]); higher priorities are served first, equal ones in
//! join order. The caller at the head is always considered first. Without ring-all a caller is offered to at
//! most one agent at a time: the first caller with no offer out takes the best free agent, the next caller
//! the next best, and so on. A caller leaves by being answered ([`QueueAction::Connect`]), hanging up
//! ([`Acd::handle_abandon`]) or overflowing ([`QueueAction::Overflow`], at [`QueueConfig::max_wait`], when
//! the queue is removed, or when the last member logs out and [`QueueConfig::leave_empty`] is set). A caller
//! may be refused at the door ([`JoinRefused`]): full, or nobody logged in without
//! [`QueueConfig::join_empty`].
//!
//! ## Callbacks
//! With [`QueueConfig::callback`] a caller who has waited `offer_after` gets [`QueueAction::OfferCallback`]
//! once. If they accept ([`Acd::handle_callback_request`]) they keep their place (same priority and join
//! order), hang up, and stop hearing announcements and counting towards max wait and leave-empty. When
//! their turn comes the agent gets [`QueueAction::StartCallback`] instead of an offer; answered and failed
//! are reported as for any offer, and on answer call control dials the citizen.
//!
//! # Agents
//! [`AgentState`]: logged out, available, ringing for one caller, in a queue call, in wrap-up, paused (with
//! a reason) or do-not-disturb. Separately an agent may be *busy* in a call that is not a queue call
//! ([`Acd::handle_agent_busy`]); a busy agent gets no offers. *Free* = available and not busy; *present* =
//! logged in and neither paused nor do-not-disturb; a present agent who is not free is *busy for tiers*
//! (ringing, in a call, in wrap-up, busy elsewhere).
//!
//! Nothing waits forever on call control: an offer ends at [`QueueConfig::ring_timeout`] (the core sends
//! [`QueueAction::CancelOffer`] and counts a miss), wrap-up ends at its deadline. An offer that fails
//! ([`Acd::handle_offer_failed`]) is a miss too; an offer cancelled by the core because the caller left, the
//! agent paused or became busy, or another agent answered is not. After
//! [`QueueConfig::auto_pause_after`] misses in a row the agent is paused with [`AUTO_PAUSE_REASON`] and
//! [`QueueAction::AgentAutoPaused`] tells the receptionist. [`Acd::reconcile`] repairs disagreement with
//! the legs call control really has; [`Acd::force_reset`] is the administrator's hammer.
//!
//! # Tiers
//! Each member has a penalty; the penalties of present members form tiers, lowest first. A caller may be
//! offered to free agents of the lowest tier that has a free agent: every tier below it is entirely busy,
//! which is what lets a call reach a higher tier. With [`QueueConfig::tier_wait`], each full `tier_wait`
//! the caller has waited opens one more tier above that, even though a lower tier is not all busy; this
//! is how a caller stuck on an agent who keeps missing reaches the next tier. Among eligible agents the
//! lowest penalty still wins.
//!
//! # Strategies
//! Within the chosen tier, the agents this caller has not yet been offered to in the current round come
//! first (so a missed offer moves on to the next agent; once all were tried a new round starts).
//! - [`Strategy::RingAll`]: every eligible agent of the caller's best tier rings at once; the first answer
//!   wins and the others get `CancelOffer`. Agents ringing for this caller do not count as busy for their
//!   own tier, so ringing tier 0 does not at once open tier 1 for the same caller; later callers do see
//!   them as busy and may ring the next tier.
//! - [`Strategy::Linear`]: member order.
//! - [`Strategy::RoundRobin`]: member order starting after the agent this queue offered last (remembered
//!   on offer, not on answer, so an absent agent does not take the first ring of every call).
//! - [`Strategy::LongestIdle`]: longest since their last queue call ended or they logged in.
//! - [`Strategy::FewestCalls`]: fewest calls answered from this queue.
//! - [`Strategy::Random`]: uniform, from the seed.
//!
//! Ties go to member order. When an agent becomes free in several queues, the queue whose head caller has
//! the strongest claim (priority, then join time) chooses first.
//!
//! # Announcements and the expected wait
//! With [`QueueConfig::announce_every`], a holding caller gets [`QueueAction::Announce`] after
//! [`QueueConfig::first_announce_after`] and then every `announce_every`, with their position (1 = next)
//! at that moment. An announcement due while an agent rings for the caller is skipped. The expected wait
//! is `position × mean handle time / present members`, the mean over the talk plus wrap-up of the last
//! [`RECENT_CALLS`] calls ended in the queue (see `QueueTally::expected_wait` in `stats.rs`).
//!
//! # Performance
//! Deciding whom to offer costs one pass over the queue's members plus an ordered-map lookup of the first
//! caller without an offer; waiting callers are never scanned. Timers live in a binary heap and are
//! checked against the state when they come due, so ending an offer or a caller never searches the heap.

mod acd;
mod admin;
mod config;
mod dispatch;
mod rng;
mod stats;
mod types;

#[cfg(test)]
mod tests;

pub use acd::Acd;
pub use config::{
    CallbackConfig, QueueConfig, QueueMember, Strategy, DEFAULT_FIRST_ANNOUNCE_AFTER,
    DEFAULT_RING_TIMEOUT, DEFAULT_SERVICE_LEVEL, DEFAULT_WRAP_UP,
};
pub use stats::{
    AgentSnapshot, AgentStats, AgentStatus, QueueSnapshot, QueueStats, WaitingCaller, RECENT_CALLS,
};
pub use types::{
    AgentState, CallId, JoinRefused, Joined, LiveLeg, OverflowReason, QueueAction, RefuseReason,
    AUTO_PAUSE_REASON,
};
