//! Toll-fraud limits on staff calls to international and premium-rate numbers, beyond what each
//! user's permissions allow: at most `max_concurrent` such calls per user at once and
//! `max_minutes_per_hour` of them in any hour. A user who goes past either is blocked from toll
//! calls (an alert goes to receptionists) until an admin lifts the block: a stolen SIP password
//! used to pump calls abroad stops at the limit, not at the end of the month's bill. Emergency and
//! national calls are never affected.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use sip_core::b2bua::CallRef;

/// The limits (switch-wide settings; per user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TollLimits {
    pub max_concurrent: u32,
    pub max_minutes_per_hour: u32,
}

impl Default for TollLimits {
    fn default() -> Self {
        TollLimits {
            max_concurrent: 2,
            max_minutes_per_hour: 120,
        }
    }
}

/// Why a user was blocked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TollExceeded {
    Concurrent,
    MinutesPerHour,
}

impl TollExceeded {
    pub fn as_str(self) -> &'static str {
        match self {
            TollExceeded::Concurrent => "concurrent_calls",
            TollExceeded::MinutesPerHour => "minutes_per_hour",
        }
    }
}

/// A blocked user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TollBlock {
    pub user: String,
    pub reason: TollExceeded,
    /// When it was blocked, unix milliseconds.
    pub since_unix_ms: i64,
}

#[derive(Debug, Default)]
struct UserToll {
    /// Toll calls in progress and when each started.
    active: HashMap<CallRef, Instant>,
    /// Toll calls that ended, (ended, lasted), the last hour's only.
    recent: VecDeque<(Instant, Duration)>,
    blocked: Option<(TollExceeded, i64)>,
}

const HOUR: Duration = Duration::from_secs(3600);

impl UserToll {
    fn minutes_last_hour(&mut self, now: Instant) -> f64 {
        while self
            .recent
            .front()
            .is_some_and(|(ended, _)| now.saturating_duration_since(*ended) > HOUR)
        {
            self.recent.pop_front();
        }
        let ended: Duration = self.recent.iter().map(|(_, lasted)| *lasted).sum();
        let running: Duration = self
            .active
            .values()
            .map(|started| now.saturating_duration_since(*started).min(HOUR))
            .sum();
        (ended + running).as_secs_f64() / 60.0
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TollStats {
    /// Users blocked (each time a limit was passed).
    pub blocks: u64,
    /// Toll calls refused (blocked users, limits reached).
    pub refused: u64,
}

#[derive(Debug, Default)]
pub struct TollGuard {
    users: HashMap<String, UserToll>,
    stats: TollStats,
}

/// What [`TollGuard::admit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TollVerdict {
    Allowed,
    /// Refused: the user was blocked before.
    Blocked,
    /// Refused, and the user is blocked from now on (alert).
    NewlyBlocked(TollExceeded),
}

impl TollGuard {
    /// A toll call `call` by `user` is about to go out.
    pub fn admit(
        &mut self,
        now: Instant,
        now_unix_ms: i64,
        user: &str,
        call: CallRef,
        limits: TollLimits,
    ) -> TollVerdict {
        let entry = self.users.entry(user.to_owned()).or_default();
        if entry.blocked.is_some() {
            self.stats.refused += 1;
            return TollVerdict::Blocked;
        }
        let exceeded = if entry.active.len() as u32 >= limits.max_concurrent {
            Some(TollExceeded::Concurrent)
        } else if entry.minutes_last_hour(now) >= f64::from(limits.max_minutes_per_hour) {
            Some(TollExceeded::MinutesPerHour)
        } else {
            None
        };
        match exceeded {
            Some(reason) => {
                entry.blocked = Some((reason, now_unix_ms));
                self.stats.blocks += 1;
                self.stats.refused += 1;
                TollVerdict::NewlyBlocked(reason)
            }
            None => {
                entry.active.insert(call, now);
                TollVerdict::Allowed
            }
        }
    }

    /// A call ended (toll or not: only toll calls are known here).
    pub fn ended(&mut self, now: Instant, call: CallRef) {
        for entry in self.users.values_mut() {
            if let Some(started) = entry.active.remove(&call) {
                entry
                    .recent
                    .push_back((now, now.saturating_duration_since(started)));
            }
        }
        for entry in self.users.values_mut() {
            while entry
                .recent
                .front()
                .is_some_and(|(ended, _)| now.saturating_duration_since(*ended) > HOUR)
            {
                entry.recent.pop_front();
            }
        }
        self.users
            .retain(|_, u| !u.active.is_empty() || !u.recent.is_empty() || u.blocked.is_some());
    }

    /// Users whose toll calls in progress have passed the minutes limit: blocked now (their calls
    /// go on; the next is refused). Checked on call control's periodic tick.
    pub fn check_running(
        &mut self,
        now: Instant,
        now_unix_ms: i64,
        limits: TollLimits,
    ) -> Vec<String> {
        let mut newly = Vec::new();
        for (user, entry) in &mut self.users {
            if entry.blocked.is_none()
                && !entry.active.is_empty()
                && entry.minutes_last_hour(now) >= f64::from(limits.max_minutes_per_hour)
            {
                entry.blocked = Some((TollExceeded::MinutesPerHour, now_unix_ms));
                self.stats.blocks += 1;
                newly.push(user.clone());
            }
        }
        newly
    }

    /// Lifts `user`'s block; whether there was one.
    pub fn lift(&mut self, user: &str) -> bool {
        self.users
            .get_mut(user)
            .and_then(|u| u.blocked.take())
            .is_some()
    }

    pub fn blocks(&self) -> Vec<TollBlock> {
        let mut list: Vec<TollBlock> = self
            .users
            .iter()
            .filter_map(|(user, u)| {
                u.blocked.map(|(reason, since)| TollBlock {
                    user: user.clone(),
                    reason,
                    since_unix_ms: since,
                })
            })
            .collect();
        list.sort_by(|a, b| a.user.cmp(&b.user));
        list
    }

    pub fn stats(&self) -> TollStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TollLimits = TollLimits {
        max_concurrent: 2,
        max_minutes_per_hour: 10,
    };

    #[test]
    fn a_third_concurrent_call_blocks_the_user_until_an_admin_lifts_it() {
        let t0 = Instant::now();
        let mut g = TollGuard::default();
        assert_eq!(
            g.admit(t0, 0, "1001", CallRef(1), LIMITS),
            TollVerdict::Allowed
        );
        assert_eq!(
            g.admit(t0, 0, "1001", CallRef(2), LIMITS),
            TollVerdict::Allowed
        );
        assert_eq!(
            g.admit(t0, 5, "1001", CallRef(3), LIMITS),
            TollVerdict::NewlyBlocked(TollExceeded::Concurrent)
        );
        assert_eq!(
            g.admit(t0, 0, "1002", CallRef(4), LIMITS),
            TollVerdict::Allowed
        );
        g.ended(t0, CallRef(1));
        assert_eq!(
            g.admit(t0, 0, "1001", CallRef(5), LIMITS),
            TollVerdict::Blocked,
            "blocked until lifted, even under the limit again"
        );
        assert_eq!(
            g.blocks(),
            vec![TollBlock {
                user: "1001".into(),
                reason: TollExceeded::Concurrent,
                since_unix_ms: 5
            }]
        );
        assert!(g.lift("1001"));
        assert!(!g.lift("1001"));
        assert_eq!(
            g.admit(t0, 0, "1001", CallRef(6), LIMITS),
            TollVerdict::Allowed
        );
        assert_eq!(
            g.stats(),
            TollStats {
                blocks: 1,
                refused: 2
            }
        );
    }

    #[test]
    fn minutes_count_over_the_last_hour_and_a_long_call_blocks_while_it_runs() {
        let t0 = Instant::now();
        let mut g = TollGuard::default();
        let min = |m: u64| Duration::from_secs(60 * m);
        assert_eq!(
            g.admit(t0, 0, "1001", CallRef(1), LIMITS),
            TollVerdict::Allowed
        );
        g.ended(t0 + min(6), CallRef(1));
        assert_eq!(
            g.admit(t0 + min(6), 0, "1001", CallRef(2), LIMITS),
            TollVerdict::Allowed
        );
        assert!(g.check_running(t0 + min(9), 0, LIMITS).is_empty());
        assert_eq!(
            g.check_running(t0 + min(10), 7, LIMITS),
            vec!["1001".to_string()]
        );
        assert_eq!(g.blocks()[0].reason, TollExceeded::MinutesPerHour);
        g.ended(t0 + min(12), CallRef(2));
        g.lift("1001");
        // An hour after the first call ended only the second (6 min) still counts.
        assert_eq!(
            g.admit(t0 + min(67), 0, "1001", CallRef(3), LIMITS),
            TollVerdict::Allowed
        );
        g.ended(t0 + min(67), CallRef(3));
        // Past the hour nothing counts.
        assert_eq!(
            g.admit(t0 + min(140), 0, "1001", CallRef(4), LIMITS),
            TollVerdict::Allowed
        );
    }

    #[test]
    fn users_without_calls_or_blocks_are_forgotten() {
        let t0 = Instant::now();
        let mut g = TollGuard::default();
        g.admit(t0, 0, "1001", CallRef(1), LIMITS);
        g.ended(t0 + HOUR * 2, CallRef(1));
        assert_eq!(g.users.len(), 1, "its call counts for an hour");
        g.ended(t0 + HOUR * 3 + Duration::from_secs(1), CallRef(99));
        assert!(g.users.is_empty());
    }
}
