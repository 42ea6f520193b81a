//! Login throttling: failed attempts are counted per username and per source address in a sliding
//! window; past the limit, further attempts are refused (429 with Retry-After) until the oldest failure
//! leaves the window. A success clears the username's count. Time is passed in, so the rules are
//! tested without waiting.
//!
//! Per node, in memory: with several nodes an attacker gets each node's allowance, which multiplies
//! the limit by a small number and leaves it effective against guessing.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The window failures are counted in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Failures a username may have in the window.
pub const PER_USER: usize = 5;
/// Failures one address may have in the window (a receptionist desk shared by several people, or a
/// municipality's NAT, stays below it).
pub const PER_SOURCE: usize = 30;
/// Usernames and addresses tracked at most; past it the oldest entries are dropped, so a spray of
/// made-up usernames cannot grow memory without bound.
const MAX_KEYS: usize = 100_000;

#[derive(Default)]
struct Failures {
    by_user: HashMap<String, VecDeque<Instant>>,
    by_source: HashMap<IpAddr, VecDeque<Instant>>,
}

/// The login throttle shared by the API's handlers.
#[derive(Clone, Default)]
pub struct LoginThrottle {
    inner: Arc<Mutex<Failures>>,
}

fn prune(times: &mut VecDeque<Instant>, now: Instant) {
    while times
        .front()
        .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
    {
        times.pop_front();
    }
}

/// How long until a list at its limit frees a slot.
fn wait(times: &VecDeque<Instant>, limit: usize, now: Instant) -> Option<Duration> {
    if times.len() < limit {
        return None;
    }
    let oldest = *times.front()?;
    Some(WINDOW.saturating_sub(now.saturating_duration_since(oldest)))
}

fn bounded<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, VecDeque<Instant>>, now: Instant) {
    if map.len() < MAX_KEYS {
        return;
    }
    map.retain(|_, times| {
        prune(times, now);
        !times.is_empty()
    });
    if map.len() >= MAX_KEYS {
        // Still full of live entries: forget the half that failed longest ago.
        let mut by_age: Vec<(K, Instant)> = map
            .iter()
            .filter_map(|(k, t)| t.back().map(|last| (k.clone(), *last)))
            .collect();
        by_age.sort_by_key(|(_, last)| *last);
        for (key, _) in by_age.into_iter().take(MAX_KEYS / 2) {
            map.remove(&key);
        }
    }
}

impl LoginThrottle {
    /// `Some(wait)` when this username or address has failed too often to try now.
    pub fn check(&self, user: &str, source: Option<IpAddr>, now: Instant) -> Option<Duration> {
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let user_wait = f.by_user.get_mut(user).and_then(|t| {
            prune(t, now);
            wait(t, PER_USER, now)
        });
        let source_wait = source.and_then(|ip| {
            f.by_source.get_mut(&ip).and_then(|t| {
                prune(t, now);
                wait(t, PER_SOURCE, now)
            })
        });
        user_wait.max(source_wait)
    }

    /// Counts a failed attempt.
    pub fn failed(&self, user: &str, source: Option<IpAddr>, now: Instant) {
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        bounded(&mut f.by_user, now);
        f.by_user.entry(user.to_owned()).or_default().push_back(now);
        if let Some(ip) = source {
            bounded(&mut f.by_source, now);
            f.by_source.entry(ip).or_default().push_back(now);
        }
    }

    /// A successful login: the username's failures are forgotten (the address's stay counted).
    pub fn succeeded(&self, user: &str) {
        let mut f = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        f.by_user.remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_lock_the_username_until_the_first_leaves_the_window() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        for i in 0..PER_USER {
            assert_eq!(t.check("201", Some(ip), start), None, "attempt {i}");
            t.failed("201", Some(ip), start + Duration::from_secs(i as u64));
        }
        let at = start + Duration::from_secs(60);
        assert_eq!(
            t.check("201", Some(ip), at),
            Some(WINDOW - Duration::from_secs(60))
        );
        // Another username from the same address may still try.
        assert_eq!(t.check("202", Some(ip), at), None);
        // Once the first failure is older than the window, one attempt is allowed again.
        assert_eq!(t.check("201", Some(ip), start + WINDOW), None);
    }

    #[test]
    fn one_address_spraying_usernames_is_stopped() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        let ip: IpAddr = "192.0.2.9".parse().unwrap();
        for i in 0..PER_SOURCE {
            t.failed(&format!("user{i}"), Some(ip), now);
        }
        assert!(t.check("someone-new", Some(ip), now).is_some());
        assert_eq!(
            t.check("someone-new", Some("192.0.2.10".parse().unwrap()), now),
            None
        );
    }

    #[test]
    fn success_clears_the_username() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..PER_USER {
            t.failed("201", None, now);
        }
        assert!(t.check("201", None, now).is_some());
        t.succeeded("201");
        assert_eq!(t.check("201", None, now), None);
    }

    #[test]
    fn memory_stays_bounded_under_a_spray() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for i in 0..(MAX_KEYS + 10) {
            t.failed(&format!("u{i}"), None, now);
        }
        assert!(t.inner.lock().unwrap().by_user.len() <= MAX_KEYS);
    }
}
