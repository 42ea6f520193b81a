//! Per-trunk call caps: a token bucket for calls per second and a set of calls in progress.

use std::collections::BTreeSet;
use std::time::Instant;

use super::Refusal;

pub(super) struct Caps {
    max_cps: u32,
    max_calls: u32,
    /// Tokens left; the bucket holds `max_cps` (the burst) and refills `max_cps` per second.
    tokens: f64,
    refilled: Option<Instant>,
    holders: BTreeSet<u64>,
}

impl Caps {
    pub(super) fn new(max_cps: u32, max_calls: u32) -> Caps {
        Caps {
            max_cps,
            max_calls,
            tokens: f64::from(max_cps),
            refilled: None,
            holders: BTreeSet::new(),
        }
    }

    pub(super) fn set_limits(&mut self, max_cps: u32, max_calls: u32) {
        if max_cps != self.max_cps {
            self.tokens = self.tokens.min(f64::from(max_cps));
            if self.max_cps == 0 {
                self.tokens = f64::from(max_cps);
            }
        }
        self.max_cps = max_cps;
        self.max_calls = max_calls;
    }

    pub(super) fn holds(&self, call: u64) -> bool {
        self.holders.contains(&call)
    }

    pub(super) fn calls(&self) -> u32 {
        u32::try_from(self.holders.len()).unwrap_or(u32::MAX)
    }

    pub(super) fn try_acquire(&mut self, now: Instant, call: u64) -> Result<(), Refusal> {
        if self.max_calls > 0 && self.calls() >= self.max_calls {
            return Err(Refusal::MaxCalls);
        }
        if self.max_cps > 0 {
            let cap = f64::from(self.max_cps);
            if let Some(last) = self.refilled {
                let elapsed = now.saturating_duration_since(last).as_secs_f64();
                self.tokens = (self.tokens + elapsed * cap).min(cap);
            }
            self.refilled = Some(now);
            if self.tokens < 1.0 {
                return Err(Refusal::MaxCps);
            }
            self.tokens -= 1.0;
        }
        self.holders.insert(call);
        Ok(())
    }

    pub(super) fn release(&mut self, call: u64) -> bool {
        self.holders.remove(&call)
    }
}
