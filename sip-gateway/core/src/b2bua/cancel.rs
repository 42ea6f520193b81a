//! Stopping branches that ring: CANCEL for those still ringing (§9.1), BYE for those answered but
//! not connected (a cellular leg asked to press 1).

use bytes::Bytes;
use sip_message::{HeaderName, Method, Request, SipHeaders};

use super::{BranchState, CallAction, CallRef, Calls, DialogSide};

impl Calls {
    pub(super) fn branch_timed_out(&mut self, call: CallRef, index: usize) {
        let ringing = self
            .calls
            .get(&call)
            .and_then(|c| c.branches.get(index))
            .is_some_and(|b| matches!(b.state, BranchState::Trying | BranchState::Ringing));
        if ringing {
            self.cancel_branches(call, Some(index));
        }
    }

    /// Sends a CANCEL for one ringing branch (`Some(i)`) or all of them (`None`).
    pub(super) fn cancel_branches(&mut self, call: CallRef, only: Option<usize>) {
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let mut cancels = Vec::new();
        let mut byes = Vec::new();
        for (i, b) in c.branches.iter_mut().enumerate() {
            if only.is_some_and(|o| o != i) {
                continue;
            }
            if b.state == BranchState::Confirming {
                // Answered but not yet connected: its dialog exists, so it ends with a BYE.
                b.state = BranchState::Failed(487);
                byes.push(i);
                continue;
            }
            if !matches!(b.state, BranchState::Trying | BranchState::Ringing) {
                continue;
            }
            b.state = BranchState::Cancelling;
            cancels.push((cancel_for(&b.invite), b.dialog.peer));
        }
        for (request, peer) in cancels {
            self.actions
                .push_back(CallAction::Request { request, peer });
        }
        for i in byes {
            self.send_bye(call, DialogSide::Branch(i));
        }
    }
}

/// The CANCEL of an INVITE we sent. §9.1: same Request-URI, Call-ID, From, To (no tag), CSeq number
/// and top Via.
pub(crate) fn cancel_for(invite: &Request) -> Request {
    let mut cancel = invite.clone();
    cancel.method = Method::Cancel;
    let seq = cancel.cseq().map(|c| c.seq).unwrap_or(1);
    cancel.headers.set(
        HeaderName::CSeq,
        sip_message::CSeq {
            seq,
            method: Method::Cancel,
        }
        .to_string(),
    );
    cancel.headers.remove_all(&HeaderName::Contact);
    cancel.headers.remove_all(&HeaderName::ContentType);
    cancel.headers.set(HeaderName::ContentLength, "0");
    cancel.body = Bytes::new();
    cancel
}
