//! Branches still ringing when their call ended (the caller hung up, the call was answered
//! elsewhere and then ended): we sent CANCEL, but the phone's 200 may cross it. A 2xx that comes
//! after the call is gone still gets its ACK and a BYE at once, so the phone is not left in a
//! call nobody is on (RFC 3261 §15: the UAC must end the session it did not want). Each branch is
//! remembered for 64·T1, Timer B's span, after which no final response can come.

use std::cmp::Reverse;
use std::time::Instant;

use sip_message::{Method, Response, SipHeaders};

use super::dialog::Dialog;
use super::{BranchState, Call, CallAction, CallRef, Calls, TimerKind};

impl Calls {
    /// Remembers `c`'s branches that had no final answer when it ended.
    pub(super) fn linger(&mut self, now: Instant, call: CallRef, c: &Call) {
        let until = now + 64 * self.cfg.t1;
        let mut any = false;
        for b in &c.branches {
            if matches!(
                b.state,
                BranchState::Trying | BranchState::Ringing | BranchState::Cancelling
            ) {
                self.lingering
                    .insert(b.dialog.call_id.clone(), (b.dialog.clone(), until));
                any = true;
            }
        }
        if any {
            self.timers
                .push(Reverse((until, call, TimerKind::ForgetLingering)));
        }
    }

    /// A response to a lingering branch's INVITE: a 2xx is acknowledged and hung up, any other
    /// final response ends the wait. False when `resp` is not for a lingering branch.
    pub(super) fn lingering_response(&mut self, resp: &Response) -> bool {
        let Some(call_id) = resp.call_id() else {
            return false;
        };
        if !self.lingering.contains_key(call_id) {
            return false;
        }
        let to_invite = resp.cseq().is_some_and(|c| c.method == Method::Invite);
        if !to_invite || resp.status < 200 {
            return true;
        }
        let Some((mut dialog, _)) = self.lingering.remove(call_id) else {
            return true;
        };
        if (200..300).contains(&resp.status) {
            hang_up(self, &mut dialog, resp);
        }
        true
    }

    /// Forgets the lingering branches whose Timer B span is over.
    pub(super) fn forget_lingering(&mut self, now: Instant) {
        self.lingering.retain(|_, (_, until)| *until > now);
    }
}

fn hang_up(calls: &mut Calls, dialog: &mut Dialog, resp: &Response) {
    dialog.confirm_as_uac(resp);
    let transport = dialog.peer.transport;
    let via = calls.via(transport.as_str());
    let contact = calls.contact(transport);
    let peer = dialog.peer;
    let ack = dialog.request(Method::Ack, &via, &contact, Some(1));
    calls
        .actions
        .push_back(CallAction::Ack { request: ack, peer });
    let via = calls.via(transport.as_str());
    let bye = dialog.request(Method::Bye, &via, &contact, None);
    calls
        .actions
        .push_back(CallAction::Request { request: bye, peer });
}
