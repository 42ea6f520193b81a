//! A queue's configuration as the admin API stores it, and its validation.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::numbers::Target;
use crate::RoutingError;

/// How long one offer rings an agent unless the queue says otherwise.
pub const DEFAULT_RING_TIMEOUT: Duration = Duration::from_secs(20);
/// Wrap-up after a queue call unless the queue says otherwise.
pub const DEFAULT_WRAP_UP: Duration = Duration::from_secs(10);
/// A call answered within this wait counts towards the service level unless the queue says otherwise.
pub const DEFAULT_SERVICE_LEVEL: Duration = Duration::from_secs(20);
/// The first position announcement comes after this wait unless the queue says otherwise.
pub const DEFAULT_FIRST_ANNOUNCE_AFTER: Duration = Duration::from_secs(30);

/// Whom a waiting caller is offered to among the eligible agents of the best tier. See the
/// [module documentation](super#strategies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Every eligible agent at once; the first to answer wins.
    RingAll,
    /// The first eligible agent in member order.
    Linear,
    /// The eligible agent after the one this queue offered last, in member order.
    RoundRobin,
    /// The agent whose last queue call ended (or who logged in) longest ago. The default: it spreads work
    /// evenly without any agent having to answer a burst.
    #[default]
    LongestIdle,
    /// The agent who has answered the fewest calls from this queue.
    FewestCalls,
    /// A uniformly random eligible agent, from the [`Acd`](super::Acd)'s seed.
    Random,
}

/// A user who takes calls from a queue.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueMember {
    /// The username.
    pub user: String,
    /// Lower is offered first; see the module documentation on tiers.
    #[serde(default)]
    pub penalty: u32,
}

impl QueueMember {
    pub fn new(user: impl Into<String>, penalty: u32) -> Self {
        QueueMember {
            user: user.into(),
            penalty,
        }
    }
}

/// Offering waiting callers to be called back instead of holding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CallbackConfig {
    /// After this wait the caller hears "press 2 to be called back" (once).
    #[serde(with = "secs")]
    pub offer_after: Duration,
}

/// One ACD queue. Durations are seconds in JSON (fractions allowed).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    pub id: u64,
    pub name: String,
    #[serde(default)]
    pub strategy: Strategy,
    /// Member order matters for [`Strategy::Linear`] and [`Strategy::RoundRobin`] and breaks ties
    /// elsewhere; users must be unique.
    pub members: Vec<QueueMember>,
    /// How long one offer rings before it counts as missed.
    #[serde(default = "default_ring_timeout", with = "secs")]
    pub ring_timeout: Duration,
    /// After a queue call ends the agent gets no offers for this long. Zero means none.
    #[serde(default = "default_wrap_up", with = "secs")]
    pub wrap_up: Duration,
    /// Callers beyond this many (callbacks included) are refused with [`RefuseReason::Full`](super::RefuseReason).
    #[serde(default)]
    pub max_callers: Option<u32>,
    /// A caller still waiting after this long leaves to `overflow`, even while being offered.
    #[serde(default, with = "opt_secs")]
    pub max_wait: Option<Duration>,
    /// Where callers leave to (full, waited too long, no agents); `None`: call control plays a message and
    /// hangs up.
    #[serde(default, with = "opt_target")]
    pub overflow: Option<Target>,
    /// Each time a caller has waited another `tier_wait`, one more penalty tier becomes eligible for them.
    #[serde(default, with = "opt_secs")]
    pub tier_wait: Option<Duration>,
    /// This many missed offers in a row pause the agent with reason [`AUTO_PAUSE_REASON`](super::AUTO_PAUSE_REASON).
    #[serde(default)]
    pub auto_pause_after: Option<u32>,
    /// Position and expected-wait announcements at this interval; `None`: no announcements.
    #[serde(default, with = "opt_secs")]
    pub announce_every: Option<Duration>,
    /// The first announcement comes after this wait.
    #[serde(default = "default_first_announce", with = "secs")]
    pub first_announce_after: Duration,
    /// Answered within this wait counts as answered within the service level.
    #[serde(default = "default_service_level", with = "secs")]
    pub service_level: Duration,
    /// Callers may join while no member is logged in.
    #[serde(default)]
    pub join_empty: bool,
    /// Waiting callers leave to `overflow` when the last member logs out.
    #[serde(default)]
    pub leave_empty: bool,
    #[serde(default)]
    pub callback: Option<CallbackConfig>,
}

fn default_ring_timeout() -> Duration {
    DEFAULT_RING_TIMEOUT
}
fn default_wrap_up() -> Duration {
    DEFAULT_WRAP_UP
}
fn default_first_announce() -> Duration {
    DEFAULT_FIRST_ANNOUNCE_AFTER
}
fn default_service_level() -> Duration {
    DEFAULT_SERVICE_LEVEL
}

impl QueueConfig {
    /// A queue with the defaults: no limits, no overflow target, no tiers by time, no auto-pause, no
    /// announcements, no callbacks, callers may not join an empty queue and stay when it empties.
    pub fn new(
        id: u64,
        name: impl Into<String>,
        strategy: Strategy,
        members: Vec<QueueMember>,
    ) -> Self {
        QueueConfig {
            id,
            name: name.into(),
            strategy,
            members,
            ring_timeout: DEFAULT_RING_TIMEOUT,
            wrap_up: DEFAULT_WRAP_UP,
            max_callers: None,
            max_wait: None,
            overflow: None,
            tier_wait: None,
            auto_pause_after: None,
            announce_every: None,
            first_announce_after: DEFAULT_FIRST_ANNOUNCE_AFTER,
            service_level: DEFAULT_SERVICE_LEVEL,
            join_empty: false,
            leave_empty: false,
            callback: None,
        }
    }

    /// Checks what the [`Acd`](super::Acd) relies on.
    pub fn validate(&self) -> Result<(), RoutingError> {
        let invalid = |reason| RoutingError::InvalidQueue {
            queue: self.id,
            reason,
        };
        if self.ring_timeout.is_zero() {
            return Err(invalid("ring timeout is zero"));
        }
        if self.service_level.is_zero() {
            return Err(invalid("service level is zero"));
        }
        if self.max_callers == Some(0) {
            return Err(invalid("max callers is zero"));
        }
        if self.auto_pause_after == Some(0) {
            return Err(invalid("auto-pause after zero missed offers"));
        }
        // Zero would mean an escalation or announcement on every instant: a busy loop.
        if self.tier_wait.is_some_and(|d| d.is_zero()) {
            return Err(invalid("tier wait is zero"));
        }
        if self.announce_every.is_some_and(|d| d.is_zero()) {
            return Err(invalid("announcement interval is zero"));
        }
        if self.max_wait.is_some_and(|d| d.is_zero()) {
            return Err(invalid("max wait is zero"));
        }
        for (i, member) in self.members.iter().enumerate() {
            if member.user.is_empty() {
                return Err(invalid("a member has an empty user name"));
            }
            if self.members[..i].iter().any(|m| m.user == member.user) {
                return Err(RoutingError::DuplicateQueueMember {
                    queue: self.id,
                    member: member.user.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Durations as seconds: whole numbers stay integers in JSON, fractions are allowed.
pub(super) mod secs {
    use super::*;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        if d.subsec_nanos() == 0 {
            s.serialize_u64(d.as_secs())
        } else {
            s.serialize_f64(d.as_secs_f64())
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let secs = f64::deserialize(d)?;
        Duration::try_from_secs_f64(secs).map_err(serde::de::Error::custom)
    }
}

pub(super) mod opt_secs {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Secs(#[serde(with = "super::secs")] Duration);

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        d.map(Secs).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(Option::<Secs>::deserialize(d)?.map(|s| s.0))
    }
}

/// [`Target`] has no serde derive of its own; this mirrors it as `{"queue": 7}`, `{"message": "closed"}`.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Target", rename_all = "snake_case")]
enum TargetDef {
    User(String),
    HuntGroup(u64),
    Queue(u64),
    Menu(u64),
    Trunk(u64),
    Message(String),
}

mod opt_target {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Wrap(#[serde(with = "TargetDef")] Target);

    pub fn serialize<S: Serializer>(t: &Option<Target>, s: S) -> Result<S::Ok, S::Error> {
        t.clone().map(Wrap).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Target>, D::Error> {
        Ok(Option::<Wrap>::deserialize(d)?.map(|w| w.0))
    }
}

/// Serializes a duration as fractional seconds, for statistics and snapshots.
pub(super) fn secs_f64<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}
