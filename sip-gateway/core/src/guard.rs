//! Brute-force protection: a source address that fails authentication too often is answered 403 once and
//! then ignored for a while.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failures within `window` that trigger a ban.
    pub max_failures: u32,
    pub window: Duration,
    pub ban: Duration,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failures: 10,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Record {
    window_start: Instant,
    failures: u32,
    banned_until: Option<Instant>,
}

/// What to do with a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureVerdict {
    /// Keep answering normally.
    Tolerated,
    /// This failure crossed the limit: answer 403 now, ignore the source from here on.
    Banned,
}

#[derive(Debug, Default)]
pub struct AuthGuard {
    config: GuardConfig,
    sources: HashMap<IpAddr, Record>,
}

impl AuthGuard {
    pub fn new(config: GuardConfig) -> Self {
        AuthGuard {
            config,
            sources: HashMap::new(),
        }
    }

    pub fn is_banned(&self, now: Instant, ip: IpAddr) -> bool {
        self.sources
            .get(&ip)
            .and_then(|r| r.banned_until)
            .is_some_and(|until| now < until)
    }

    pub fn record_failure(&mut self, now: Instant, ip: IpAddr) -> FailureVerdict {
        let cfg = self.config;
        let r = self.sources.entry(ip).or_insert(Record {
            window_start: now,
            failures: 0,
            banned_until: None,
        });
        if now.duration_since(r.window_start) > cfg.window {
            r.window_start = now;
            r.failures = 0;
        }
        r.failures += 1;
        if r.failures >= cfg.max_failures {
            r.banned_until = Some(now + cfg.ban);
            r.failures = 0;
            r.window_start = now;
            FailureVerdict::Banned
        } else {
            FailureVerdict::Tolerated
        }
    }

    /// Forgets sources whose window and ban are over, so a scan from many addresses does not grow memory.
    pub fn sweep(&mut self, now: Instant) {
        let cfg = self.config;
        self.sources.retain(|_, r| {
            r.banned_until.is_some_and(|u| now < u)
                || now.duration_since(r.window_start) <= cfg.window
        });
    }

    /// Sources banned now, with the time their ban has left.
    pub fn bans(&self, now: Instant) -> Vec<(IpAddr, Duration)> {
        self.sources
            .iter()
            .filter_map(|(ip, r)| {
                r.banned_until
                    .filter(|until| now < *until)
                    .map(|until| (*ip, until - now))
            })
            .collect()
    }

    /// Lifts a ban (and forgets the failures counted); whether there was one.
    pub fn lift(&mut self, now: Instant, ip: IpAddr) -> bool {
        self.sources
            .remove(&ip)
            .is_some_and(|r| r.banned_until.is_some_and(|until| now < until))
    }

    pub fn tracked_sources(&self) -> usize {
        self.sources.len()
    }
}
