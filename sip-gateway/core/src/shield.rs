//! The first thing every datagram and framed message meets: per-source limits and bans, decided
//! before anything is parsed, so a scanner or a flood costs a hash lookup and nothing more.
//!
//! - A token bucket per source address: a source sending faster than `rate` requests per second
//!   (beyond a `burst`) has the excess dropped; one that keeps at it (`flood_drops` dropped within a
//!   second) is banned. Trunks' addresses are exempt (a carrier's traffic is all citizens' calls).
//! - SIP scanners (friendly-scanner, sipvicious, sipcli, …) name themselves in User-Agent: the first
//!   request from one bans its source without an answer.
//! - Bans last `ban` unless an admin lifts them; they are listed with their reason and the
//!   messages dropped since.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShieldConfig {
    /// Requests per second one source may send on average; 0: no limit.
    pub rate: u32,
    /// How many it may send at once above that.
    pub burst: u32,
    /// Messages dropped by the bucket within one second that make a source banned as a flood.
    pub flood_drops: u32,
    pub ban: Duration,
    /// Lower-case User-Agent fragments of SIP scanners.
    pub scanner_agents: Vec<String>,
}

impl Default for ShieldConfig {
    fn default() -> Self {
        ShieldConfig {
            rate: 50,
            burst: 200,
            flood_drops: 500,
            ban: Duration::from_secs(3600),
            scanner_agents: [
                "friendly-scanner",
                "sipvicious",
                "sipcli",
                "sip-scan",
                "sipsak",
                "iwar",
                "sundayddr",
                "pplsip",
                "vaxasip",
            ]
            .into_iter()
            .map(str::to_string)
            .collect(),
        }
    }
}

/// Why a source is banned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BanReason {
    /// It named itself a scanner.
    Scanner,
    /// It kept sending past its rate.
    Flood,
    /// Too many failed digest attempts (the registrar's guard).
    AuthFailures,
}

impl BanReason {
    pub fn as_str(self) -> &'static str {
        match self {
            BanReason::Scanner => "scanner",
            BanReason::Flood => "flood",
            BanReason::AuthFailures => "auth_failures",
        }
    }
}

/// A ban as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub ip: IpAddr,
    pub reason: BanReason,
    /// How long it has left.
    pub remaining: Duration,
    /// Messages from it dropped since it was banned.
    pub dropped: u64,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ShieldStats {
    pub dropped_banned: u64,
    pub dropped_rate: u64,
    pub scanners_banned: u64,
    pub floods_banned: u64,
    pub bans_lifted: u64,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    /// Drops in the current second, and when that second began.
    drops: u32,
    drops_since: Instant,
}

#[derive(Debug, Clone, Copy)]
struct BanEntry {
    reason: BanReason,
    until: Instant,
    dropped: u64,
}

/// How many sources' buckets are kept at most: past this, buckets full again are forgotten first
/// (a spoofed-source flood must not grow memory without bound).
const MAX_BUCKETS: usize = 100_000;

#[derive(Debug, Default)]
pub struct Shield {
    cfg: ShieldConfig,
    buckets: HashMap<IpAddr, Bucket>,
    bans: HashMap<IpAddr, BanEntry>,
    exempt: Vec<(IpAddr, u8)>,
    stats: ShieldStats,
}

impl Shield {
    pub fn new(cfg: ShieldConfig) -> Shield {
        Shield {
            cfg,
            ..Shield::default()
        }
    }

    /// Networks never limited (the trunks' `inbound_sources`).
    pub fn set_exempt(&mut self, networks: Vec<(IpAddr, u8)>) {
        self.exempt = networks;
    }

    fn is_exempt(&self, ip: IpAddr) -> bool {
        self.exempt
            .iter()
            .any(|(net, len)| crate::registrar::in_network(ip, *net, *len))
    }

    /// Whether a message from `ip` may be looked at: `false` drops it unread (banned, or over its
    /// rate).
    pub fn admit(&mut self, now: Instant, ip: IpAddr) -> bool {
        if let Some(ban) = self.bans.get_mut(&ip) {
            if now < ban.until {
                ban.dropped += 1;
                self.stats.dropped_banned += 1;
                return false;
            }
            self.bans.remove(&ip);
        }
        if self.is_exempt(ip) || self.cfg.rate == 0 {
            return true;
        }
        if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&ip) {
            self.forget_idle(now);
        }
        let (rate, burst) = (f64::from(self.cfg.rate), f64::from(self.cfg.burst.max(1)));
        let bucket = self.buckets.entry(ip).or_insert(Bucket {
            tokens: burst,
            refilled: now,
            drops: 0,
            drops_since: now,
        });
        let elapsed = now.saturating_duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return true;
        }
        self.stats.dropped_rate += 1;
        if now.saturating_duration_since(bucket.drops_since) >= Duration::from_secs(1) {
            bucket.drops = 0;
            bucket.drops_since = now;
        }
        bucket.drops += 1;
        if bucket.drops >= self.cfg.flood_drops {
            self.buckets.remove(&ip);
            self.stats.floods_banned += 1;
            self.ban(now, ip, BanReason::Flood);
        }
        false
    }

    /// A request arrived with this User-Agent: a scanner's bans its source (`true`: drop it).
    pub fn check_user_agent(&mut self, now: Instant, ip: IpAddr, user_agent: &[u8]) -> bool {
        if self.is_exempt(ip) {
            return false;
        }
        // Per request: compared in place, nothing allocated.
        let scanner = self
            .cfg
            .scanner_agents
            .iter()
            .any(|s| crate::push::contains_ignore_case(user_agent, s.as_bytes()));
        if !scanner {
            return false;
        }
        self.stats.scanners_banned += 1;
        self.ban(now, ip, BanReason::Scanner);
        true
    }

    pub fn ban(&mut self, now: Instant, ip: IpAddr, reason: BanReason) {
        self.bans.insert(
            ip,
            BanEntry {
                reason,
                until: now + self.cfg.ban,
                dropped: 0,
            },
        );
    }

    pub fn is_banned(&self, now: Instant, ip: IpAddr) -> bool {
        self.bans.get(&ip).is_some_and(|b| now < b.until)
    }

    /// Lifts the ban on `ip`; whether there was one.
    pub fn lift(&mut self, ip: IpAddr) -> bool {
        self.buckets.remove(&ip);
        let lifted = self.bans.remove(&ip).is_some();
        if lifted {
            self.stats.bans_lifted += 1;
        }
        lifted
    }

    /// Bans in force, longest-standing first.
    pub fn bans(&self, now: Instant) -> Vec<Ban> {
        let mut list: Vec<Ban> = self
            .bans
            .iter()
            .filter(|(_, b)| now < b.until)
            .map(|(ip, b)| Ban {
                ip: *ip,
                reason: b.reason,
                remaining: b.until - now,
                dropped: b.dropped,
            })
            .collect();
        list.sort_by_key(|b| (b.remaining, b.ip));
        list
    }

    /// Forgets expired bans and buckets that are full again (their sources went quiet).
    pub fn sweep(&mut self, now: Instant) {
        self.bans.retain(|_, b| now < b.until);
        self.forget_idle(now);
    }

    fn forget_idle(&mut self, now: Instant) {
        let (rate, burst) = (f64::from(self.cfg.rate), f64::from(self.cfg.burst.max(1)));
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.refilled).as_secs_f64();
            b.tokens + elapsed * rate < burst
        });
    }

    pub fn stats(&self) -> ShieldStats {
        self.stats
    }

    pub fn active_bans(&self, now: Instant) -> usize {
        self.bans.values().filter(|b| now < b.until).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn shield() -> Shield {
        Shield::new(ShieldConfig {
            rate: 10,
            burst: 20,
            flood_drops: 50,
            ban: Duration::from_secs(60),
            ..ShieldConfig::default()
        })
    }

    #[test]
    fn a_source_within_its_rate_is_admitted_and_the_excess_of_a_burst_dropped() {
        let t0 = Instant::now();
        let mut s = shield();
        let a = ip("198.51.100.1");
        assert_eq!((0..20).filter(|_| s.admit(t0, a)).count(), 20, "the burst");
        assert!(!s.admit(t0, a), "past the burst");
        assert!(
            s.admit(t0, ip("198.51.100.2")),
            "another source is unaffected"
        );
        // A second later ten more tokens.
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!((0..15).filter(|_| s.admit(t1, a)).count(), 10);
        assert_eq!(s.stats().dropped_rate, 6);
        assert!(!s.is_banned(t1, a), "a few drops are no flood");
    }

    #[test]
    fn a_source_that_keeps_flooding_is_banned_and_its_messages_dropped_unread() {
        let t0 = Instant::now();
        let mut s = shield();
        let a = ip("203.0.113.9");
        for _ in 0..(20 + 50) {
            s.admit(t0, a);
        }
        assert!(s.is_banned(t0, a));
        assert_eq!(s.bans(t0)[0].reason, BanReason::Flood);
        assert!(!s.admit(t0 + Duration::from_secs(30), a));
        assert_eq!(s.bans(t0)[0].dropped, 1);
        assert!(s.admit(t0 + Duration::from_secs(61), a), "the ban runs out");
        assert_eq!(s.stats().floods_banned, 1);
    }

    #[test]
    fn a_scanner_is_banned_on_its_first_request_and_an_admin_can_lift_it() {
        let t0 = Instant::now();
        let mut s = shield();
        let a = ip("192.0.2.66");
        assert!(!s.check_user_agent(t0, a, b"Linphone/5.2 (belle-sip/5.2)"));
        assert!(s.check_user_agent(t0, a, b"friendly-scanner"));
        assert!(!s.admit(t0, a));
        let bans = s.bans(t0);
        assert_eq!(bans.len(), 1);
        assert_eq!((bans[0].ip, bans[0].reason), (a, BanReason::Scanner));
        assert!(s.lift(a));
        assert!(!s.lift(a));
        assert!(s.admit(t0, a));
        assert_eq!(s.stats().bans_lifted, 1);
    }

    #[test]
    fn trunks_are_never_limited_nor_banned_as_scanners() {
        let t0 = Instant::now();
        let mut s = shield();
        s.set_exempt(vec![(ip("192.0.2.0"), 24)]);
        let trunk = ip("192.0.2.50");
        assert!((0..1000).all(|_| s.admit(t0, trunk)));
        assert!(!s.check_user_agent(t0, trunk, b"sipcli/v1.8"));
    }

    #[test]
    fn quiet_sources_are_forgotten() {
        let t0 = Instant::now();
        let mut s = shield();
        for i in 0..100u8 {
            s.admit(t0, IpAddr::from([10, 0, 0, i]));
        }
        assert_eq!(s.buckets.len(), 100);
        s.sweep(t0 + Duration::from_secs(5));
        assert_eq!(s.buckets.len(), 0);
    }
}
