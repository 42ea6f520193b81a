//! REFER from the caller's side of a call: a staff member who called out — to a citizen through the
//! trunk, or to a colleague — transfers the far end.
//!
//! The call's sides are swapped first: the party who stays (the far end) becomes the call's caller,
//! with its relay leg, and the transferor becomes the call's answered branch, with the other leg.
//! From then on the call is one whose callee asked to transfer, and the callee-side machinery
//! ([`super::transfer`]) carries it out unchanged — music on hold to the kept party, the target rung
//! as new branches and bridged to the kept party, NOTIFY and BYE to the transferor, or the call
//! given back when the target fails; attended transfers join the consulted colleague the same way.
//! A failed transfer leaves the sides swapped, which changes nothing for either party.

use super::provisional::ReliableProvisionals;
use super::{inbound_key, Branch, BranchLabel, BranchState, CallRef, CallState, Calls, Inbound};

/// Why a caller's REFER cannot be carried out: the status to answer it with.
pub(super) type Refused = (u16, &'static str);

impl Calls {
    /// Whether the caller of `call` may transfer the party it talks to now.
    pub(super) fn caller_may_transfer(&self, call: CallRef) -> Result<(), Refused> {
        let Some(c) = self.calls.get(&call) else {
            return Err((481, "Call/Transaction Does Not Exist"));
        };
        if c.caller_user.is_none() {
            // A carrier's side (a citizen) or a call we placed: nobody may send our callee onward
            // from there (it would be a free call through our trunk).
            return Err((403, "Forbidden"));
        }
        let answered = matches!(c.state, CallState::Answered { .. });
        if !answered || c.answered_branch.is_none() || c.callee_leg.is_none() {
            return Err((481, "Call/Transaction Does Not Exist"));
        }
        if c.transfer.is_some() {
            return Err((491, "Request Pending"));
        }
        Ok(())
    }

    /// Swaps the caller of `call` (the transferor) with the answered callee (the party kept): returns
    /// the transferor's index as a branch. Only for a call [`Calls::caller_may_transfer`] allows.
    pub(super) fn caller_becomes_branch(&mut self, call: CallRef) -> Option<usize> {
        let t1 = self.cfg.t1;
        let c = self.calls.get_mut(&call)?;
        let kept = c.answered_branch?;
        let (callee_leg, callee_addr) = (c.callee_leg?, c.callee_addr?);
        let label = BranchLabel::direct(c.caller_user.clone()?);
        let b = c.branches.get(kept)?;
        let kept_call_id = b.dialog.call_id.clone();
        let kept_key = inbound_key(&kept_call_id, b.dialog.remote_tag.as_deref().unwrap_or(""));
        // The kept party's dialog, our SDP towards it and its relay leg become the call's caller
        // side. The offer the callees are offered from stays the original one (its numbering is
        // the call's codec's on both sides).
        let kept_side = Inbound {
            key: b.key.clone(),
            invite: b.invite.clone(),
            dialog: b.dialog.clone(),
            offer: c.inbound.offer.clone(),
            origin: b.origin.clone(),
            leg: callee_leg,
            leg_addr: callee_addr,
            sent_180: true,
            last_2xx: None,
            retransmit_interval: t1,
            retransmit_deadline: None,
            reliable: ReliableProvisionals::default(),
            crypto: b.crypto,
            webrtc: b.webrtc.clone(),
        };
        // The kept branch stays in the list as answered (the call record keeps its leg), but no
        // longer reaches anyone: its dialog is the caller's now.
        let old = std::mem::replace(&mut c.inbound, kept_side);
        let caller_key = inbound_key(
            &old.dialog.call_id,
            old.dialog.remote_tag.as_deref().unwrap_or(""),
        );
        let caller_call_id = old.dialog.call_id.clone();
        let index = c.branches.len();
        c.branches.push(Branch {
            label,
            key: old.key,
            invite: old.invite,
            dialog: old.dialog,
            offer: old.offer,
            origin: old.origin,
            state: BranchState::Answered,
            ack: None,
            confirm: false,
            answer: None,
            reoffer_pending: false,
            last_rseq: None,
            own_leg: None,
            crypto: old.crypto,
            webrtc: old.webrtc,
        });
        c.callee_leg = Some(old.leg);
        c.callee_addr = Some(old.leg_addr);
        c.answered_branch = Some(index);
        c.holding.swap(0, 1);
        c.side_codecs.swap(0, 1);
        // The session timer governed the transferor's dialog, which is about to end.
        c.session_timer = None;
        if self.by_inbound.get(&caller_key) == Some(&call) {
            self.by_inbound.remove(&caller_key);
        }
        self.by_inbound.insert(kept_key, call);
        if self.by_branch_call_id.get(&kept_call_id) == Some(&(call, kept)) {
            self.by_branch_call_id.remove(&kept_call_id);
        }
        self.by_branch_call_id.insert(caller_call_id, (call, index));
        Some(index)
    }
}
