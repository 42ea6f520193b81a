//! OPTIONS probes of one trunk: up/down from consecutive results.

use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use sip_message::{HeaderName, Method, Request};

use super::{
    build_request, token, Outgoing, ProbeState, ProbeStatus, TrunkConfig, TrunkCoreConfig,
};
use crate::transaction::TxKey;

pub(super) struct Probe {
    interval: Duration,
    next_at: Instant,
    pub(super) in_flight: Option<TxKey>,
    state: ProbeState,
    failures: u32,
    last_status: Option<u16>,
}

impl Probe {
    /// `None` when the trunk is not probed or has no address. The first probe goes out one
    /// interval from now (the trunk counts as Up until then).
    pub(super) fn for_trunk(now: Instant, trunk: &TrunkConfig) -> Option<Probe> {
        let interval = trunk.options_interval.filter(|i| !i.is_zero())?;
        trunk.addr?;
        Some(Probe {
            interval,
            next_at: now + interval,
            in_flight: None,
            state: ProbeState::Up,
            failures: 0,
            last_status: None,
        })
    }

    /// Carries over what an earlier probe of the same carrier learnt.
    pub(super) fn restore(&mut self, s: ProbeStatus) {
        self.state = s.state;
        self.failures = s.failures;
        self.last_status = s.last_status;
    }

    pub(super) fn status(&self) -> ProbeStatus {
        ProbeStatus {
            state: self.state,
            last_status: self.last_status,
            failures: self.failures,
        }
    }

    pub(super) fn due(&self, now: Instant) -> bool {
        self.in_flight.is_none() && self.next_at <= now
    }

    pub(super) fn deadline(&self) -> Option<Instant> {
        self.in_flight.is_none().then_some(self.next_at)
    }

    /// The next OPTIONS; it is now in flight.
    pub(super) fn request(
        &mut self,
        now: Instant,
        trunk: &TrunkConfig,
        core: &TrunkCoreConfig,
        rng: &mut StdRng,
    ) -> Option<(Request, TxKey)> {
        self.next_at = now + self.interval;
        let uri = trunk.server_uri();
        let call_id = format!("{}@switchboard", token(rng));
        let from_tag = token(rng);
        let (req, key) = build_request(
            core,
            rng,
            Outgoing {
                method: Method::Options,
                uri: &uri,
                from: format!("<sip:switchboard@{}>;tag={from_tag}", core.local),
                to: format!("<{uri}>"),
                call_id: &call_id,
                cseq: 1,
                transport: trunk.transport,
                extra: vec![(HeaderName::Accept, "application/sdp".to_string())],
            },
        )?;
        self.in_flight = Some(key.clone());
        Some((req, key))
    }

    /// The probe's outcome: a final status, or `None` for no answer.
    pub(super) fn on_result(&mut self, status: Option<u16>, failures_to_down: u32) {
        self.in_flight = None;
        self.last_status = Some(status.unwrap_or(408));
        let ok = status.is_some_and(|s| !(500..600).contains(&s));
        if ok {
            if self.state == ProbeState::Down {
                tracing::info!("trunk up: OPTIONS answered");
            }
            self.failures = 0;
            self.state = ProbeState::Up;
        } else {
            self.failures = self.failures.saturating_add(1);
            if self.failures >= failures_to_down.max(1) && self.state == ProbeState::Up {
                tracing::warn!(status = ?status, "trunk down: OPTIONS failed");
                self.state = ProbeState::Down;
            }
        }
    }
}
