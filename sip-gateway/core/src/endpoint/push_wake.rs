//! The endpoint's side of push wake-up (RFC 8599): which of a user's apps need a push when a call
//! rings them, the branches held meanwhile, and the INVITE to the app once it registered again.

use std::time::{Duration, Instant};

use sip_message::{Request, SipHeaders};

use super::Endpoint;
use crate::b2bua::{BranchLabel, CallRef};
use crate::location::LocationStore;
use crate::push::{push_params, PushDevice, PushOutcome, PushRequest, PushStats};

impl<L: LocationStore> Endpoint<L> {
    /// Sends a push to each of `user`'s apps that has no live binding, holding branch `user` of
    /// `call` until one registers (within its ring time). Whether any push was asked for.
    pub(super) fn wake_sleeping_apps(
        &mut self,
        now: Instant,
        call: CallRef,
        user: &str,
        ring_timeout: Option<Duration>,
    ) -> bool {
        let sleeping = self.sleeping_devices(user);
        if sleeping.is_empty() {
            return false;
        }
        let Some((call_id, caller)) = self.calls.push_context(call) else {
            return false;
        };
        let label = BranchLabel::direct(user);
        let ring_for = ring_timeout
            .unwrap_or(self.cfg.calls.default_ring_timeout)
            .min(self.cfg.push_wait);
        for device in &sleeping {
            tracing::info!(%user, provider = device.provider.as_str(), "waking the app by push");
            self.push.wait_for(
                now,
                (call, label.clone()),
                device,
                now + ring_for,
                (&call_id, &caller),
            );
        }
        true
    }

    /// `user`'s push-capable apps that no live binding reaches.
    fn sleeping_devices(&self, user: &str) -> Vec<PushDevice> {
        let live: Vec<String> = self
            .registrar
            .location()
            .bindings(user)
            .iter()
            .filter_map(|b| push_params(&b.contact_uri).map(|(_, prid, _)| prid))
            .collect();
        self.registrar
            .push_devices()
            .devices(user)
            .iter()
            .filter(|d| !live.contains(&d.prid))
            .cloned()
            .collect()
    }

    /// A REGISTER was accepted: branches waiting for one of its apps ring it now, for what is
    /// left of their ring time.
    pub(super) fn ring_woken_apps(&mut self, now: Instant, req: &Request) {
        if self.push.is_empty() {
            return;
        }
        let Some(aor) = req
            .to()
            .and_then(|to| to.uri().ok())
            .and_then(|uri| uri.as_sip().and_then(|s| s.user_unescaped()))
            .map(|u| String::from_utf8_lossy(&u).into_owned())
        else {
            return;
        };
        let bindings = self.registrar.location().bindings(&aor).to_vec();
        for binding in bindings {
            let Some((_, prid, _)) = push_params(&binding.contact_uri) else {
                continue;
            };
            for waiting in self.push.woken(&aor, &prid) {
                let left = waiting.ring_time_left(now);
                let target = self
                    .targets_for_user(&aor, Some(left))
                    .into_iter()
                    .find(|t| t.uri.to_string() == binding.contact_uri);
                match target {
                    Some(mut target) if !left.is_zero() => {
                        tracing::info!(user = %aor, "the app woke: ringing it");
                        target.label = waiting.label.clone();
                        self.ring(now, waiting.call, vec![target]);
                    }
                    _ => self.push_branch_failed(now, waiting.call, &waiting.label),
                }
            }
        }
    }

    /// A held branch will not be woken: unless something else still rings or waits under its
    /// label, call control hears that it failed (480), so a hunt moves on.
    pub(super) fn push_branch_failed(&mut self, now: Instant, call: CallRef, label: &BranchLabel) {
        if self.push.is_waiting(call, label) || self.calls.label_ringing(call, label) {
            return;
        }
        if let Some(media) = self.media.as_mut() {
            self.calls.report_unreachable(now, call, label, 480, media);
        }
        self.drain_calls(now);
    }

    /// The next push the shell must send.
    pub fn poll_push(&mut self) -> Option<PushRequest> {
        self.push.poll_request()
    }

    /// What became of a push the shell sent: a token the provider calls invalid is forgotten,
    /// and branches a failed push was to wake give up.
    pub fn handle_push_outcome(
        &mut self,
        now: Instant,
        request: &PushRequest,
        outcome: PushOutcome,
    ) {
        if outcome == PushOutcome::InvalidToken {
            tracing::info!(user = %request.device.aor, "push token invalid: device forgotten");
            self.registrar
                .push_devices_mut()
                .forget(&request.device.aor, &request.device.prid);
        }
        for waiting in self.push.handle_outcome(request.id, &outcome) {
            self.push_branch_failed(now, waiting.call, &waiting.label);
        }
    }

    /// Push counters for `/metrics`.
    pub fn push_stats(&self) -> PushStats {
        self.push.stats()
    }

    /// Push devices changed since the last call, for the persistence writer.
    pub fn drain_device_changes(&mut self) -> Vec<crate::push::DeviceChange> {
        self.registrar.push_devices_mut().drain_changes()
    }
}
