//! A call whose callee's app must first be woken by a push (see [`crate::push`]): nothing rings
//! yet, but the caller hears ringback while the app starts and registers.

use std::time::Instant;

use sip_message::SipHeaders;

use super::{BranchLabel, BranchState, CallRef, CallState, Calls, MediaControl};

impl Calls {
    /// What a push for `call` tells the app: the caller's Call-ID and the number shown. `None`
    /// for a call that is gone or no longer rings anyone.
    pub fn push_context(&self, call: CallRef) -> Option<(String, String)> {
        let c = self.calls.get(&call)?;
        let ringing = matches!(c.state, CallState::Routing | CallState::Ringing)
            || c.waiting_locally()
            || c.transfer.is_some();
        let call_id = c.inbound.invite.call_id()?;
        ringing.then(|| (call_id.to_string(), c.from_user.clone()))
    }

    /// Puts `call` in the ringing state with no branch yet (a push is on its way): the caller
    /// hears ringback (180), unless we answered it ourselves (a queue plays its own music).
    pub fn hold_for_push(&mut self, now: Instant, call: CallRef, media: &mut dyn MediaControl) {
        self.ring(now, call, Vec::new(), media);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        if c.state == CallState::Ringing && !c.inbound.sent_180 {
            c.inbound.sent_180 = true;
            c.ringing.get_or_insert(now);
            self.send_provisional(now, call, 180, None);
        }
    }

    /// Whether a branch labelled `label` still rings for `call`.
    pub fn label_ringing(&self, call: CallRef, label: &BranchLabel) -> bool {
        self.calls.get(&call).is_some_and(|c| {
            c.branches.iter().any(|b| {
                &b.label == label && matches!(b.state, BranchState::Trying | BranchState::Ringing)
            })
        })
    }
}
