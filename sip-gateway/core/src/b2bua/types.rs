//! What the B2BUA core hands to and takes from its caller: call handles, ring targets, the events
//! call control reacts to, and the messages the endpoint must send.

use std::time::{Duration, Instant};

use sip_message::{Request, Response, Uri};
use switchboard_media::relay::LegId;

use crate::transaction::TxKey;
use crate::transport::Peer;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallRef(pub u64);

/// Who a branch rings, as call control named it: events and reports carry it back as it was given,
/// so call control never parses a name. Shown (in records and the API) as `1005` or
/// `1005/cellular`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct BranchLabel {
    /// A username, a trunk's name, or a number.
    pub name: String,
    pub leg: BranchLeg,
}

/// Which way a branch reaches the one it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum BranchLeg {
    /// Their registered phones or app, or the trunk or number itself.
    #[default]
    Direct,
    /// A staff member's own cellular number, through a trunk.
    Cellular,
}

impl BranchLabel {
    pub fn direct(name: impl Into<String>) -> BranchLabel {
        BranchLabel {
            name: name.into(),
            leg: BranchLeg::Direct,
        }
    }

    pub fn cellular(name: impl Into<String>) -> BranchLabel {
        BranchLabel {
            name: name.into(),
            leg: BranchLeg::Cellular,
        }
    }
}

impl std::fmt::Display for BranchLabel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.leg {
            BranchLeg::Direct => f.write_str(&self.name),
            BranchLeg::Cellular => write!(f, "{}/cellular", self.name),
        }
    }
}

/// Equal to the text it is shown as (`label == "1001"`, `label == "1001/cellular"`).
impl PartialEq<str> for BranchLabel {
    fn eq(&self, shown: &str) -> bool {
        match self.leg {
            BranchLeg::Direct => self.name == shown,
            BranchLeg::Cellular => shown.strip_suffix("/cellular") == Some(self.name.as_str()),
        }
    }
}

impl PartialEq<&str> for BranchLabel {
    fn eq(&self, name: &&str) -> bool {
        *self == **name
    }
}

/// The label a record shows as this text (`"1001"`, `"1001/cellular"`): the inverse of `Display`,
/// for labels written as text (tests, records read back). Call control never parses: it gets its
/// labels back as it gave them.
impl From<&str> for BranchLabel {
    fn from(shown: &str) -> BranchLabel {
        match shown.strip_suffix("/cellular") {
            Some(member) => BranchLabel::cellular(member),
            None => BranchLabel::direct(shown),
        }
    }
}

/// Somewhere to ring: one registered contact of a user, or a number through a trunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingTarget {
    pub uri: Uri,
    /// Where the INVITE goes (the registration's source address, or the trunk).
    pub peer: Peer,
    /// Who this is, for events and the CDR.
    pub label: BranchLabel,
    /// Give up on this branch after this long (CANCEL).
    pub ring_timeout: Option<Duration>,
    /// Answering is not enough: the callee must confirm (a cellular leg whose voicemail must never
    /// take the call). Its 200 gives [`CallEvent::Confirming`]; [`Calls::confirm_branch`] connects.
    pub confirm: bool,
    /// The number presented to this callee (From and P-Asserted-Identity user part); `None`: the
    /// caller's own. Call control decides it — a staff member's call out shows the municipality's
    /// main number or the member's direct number, never what the phone put in its From.
    pub caller_id: Option<String>,
    /// The callee's SRTP policy (trunks: `Off`, plain RTP to the carrier).
    pub srtp: switchboard_media::srtp::SrtpPolicy,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HangupSide {
    Caller,
    Callee,
    System,
}

/// What became of each branch, for the CDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BranchReport {
    pub label: BranchLabel,
    /// Final status (200 for the one answered; 487 for a cancelled one; 408 for no answer).
    pub status: u16,
}

/// A finished call, for the CDR.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReport {
    pub call_id: String,
    pub from: String,
    pub to: String,
    pub started: Instant,
    pub ringing: Option<Instant>,
    pub answered: Option<Instant>,
    pub ended: Instant,
    pub answered_by: Option<BranchLabel>,
    /// The SIP status the caller got, or "BYE" for an answered call.
    pub cause: String,
    pub side: HangupSide,
    pub branches: Vec<BranchReport>,
    pub media_legs: Vec<LegId>,
}

/// Who placed a call, as the endpoint established it before accepting the INVITE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// From a trunk's address (the carrier): a citizen calling a public number.
    Trunk,
    /// From the address a user is registered from: staff dialling out or internally.
    User(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallEvent {
    /// A new call: decide where it goes ([`Calls::ring`] or [`Calls::reject`]).
    Incoming {
        call: CallRef,
        call_id: String,
        caller: Caller,
        from_user: String,
        to_user: String,
        source: Peer,
        /// The phone's `X-Caller-ID` header (`main`, `direct` or a number): which of the caller's own
        /// numbers to present on a call out. Call control decides whether it is allowed.
        caller_id_request: Option<String>,
    },
    /// A branch ended without answering; the call goes on while others ring or more are added.
    BranchFailed {
        call: CallRef,
        label: BranchLabel,
        status: u16,
        /// No branch is left ringing.
        last: bool,
    },
    Answered {
        call: CallRef,
        by: BranchLabel,
    },
    /// A branch that must confirm has answered: relay leg `leg`, its own, reaches it (play the
    /// question, listen for the digit), in `codec` (encoding name, payload type).
    Confirming {
        call: CallRef,
        label: BranchLabel,
        leg: LegId,
        codec: (String, u8),
    },
    Ended {
        call: CallRef,
        report: CallReport,
    },
    /// We answered the caller ourselves ([`Calls::answer_locally`]): play to `leg` in `codec`, listen
    /// for its keys, and ring staff with [`Calls::ring`] when it is their turn.
    AnsweredLocally {
        call: CallRef,
        leg: LegId,
        codec: (String, u8),
    },
    /// One party put the other on hold: `leg` reaches the held party (play music on hold there),
    /// in `codec`.
    Held {
        call: CallRef,
        leg: LegId,
        codec: (String, u8),
    },
    /// A key pressed on one of the call's phones and sent as SIP INFO: taken like a digit the relay
    /// found in `leg`'s media (RFC 4733 or in-band).
    Dtmf {
        call: CallRef,
        leg: LegId,
        digit: char,
    },
    /// The hold is over: stop the music on `leg`.
    Resumed {
        call: CallRef,
        leg: LegId,
    },
    /// The callee who answered asked to transfer the caller to `target` (REFER, blind): ring it with
    /// [`Calls::ring`] (the new branches replace the transferor when one answers) or refuse with
    /// [`Calls::reject`]. The caller waits on `hold_leg` (play music on hold there) in `codec`.
    TransferRequested {
        call: CallRef,
        by: BranchLabel,
        target: String,
        hold_leg: LegId,
        codec: (String, u8),
    },
    /// A transfer completed: the caller now talks with `to` instead of `from`.
    Transferred {
        call: CallRef,
        from: BranchLabel,
        to: BranchLabel,
        hold_leg: LegId,
    },
    /// The answer to [`CallCommand::Originate`] `tag`: the new call, or `None` when the user has no
    /// registration (or no media port was free).
    Originated {
        tag: u64,
        call: Option<CallRef>,
    },
    /// A transfer failed with `status`; the caller is back with the transferor, or hung up if the
    /// transferor had already left.
    TransferFailed {
        call: CallRef,
        status: u16,
        hold_leg: LegId,
    },
}

/// What call control tells the B2BUA to do, one variant per operation; the endpoint takes it as it
/// is ([`crate::Endpoint::handle_call_command`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallCommand {
    /// Ring explicit targets (a contact, a mobile through the trunk) for a call.
    Ring {
        call: CallRef,
        targets: Vec<RingTarget>,
    },
    /// Ring the first of `targets` whose trunk (named by the target's label) takes the call: up
    /// and under its caps, a call slot is now held for `call`; the ones before it are skipped. A
    /// trunk the core does not know yet (added less than a sync ago) is taken as it is. When none
    /// takes it, the branch fails at once with 503, labelled as the last target.
    RingTrunk {
        call: CallRef,
        targets: Vec<RingTarget>,
    },
    /// Ring every registration of one user; a user with none is reported as a failed branch (480),
    /// so call control decides what happens next.
    RingMember {
        call: CallRef,
        user: String,
        ring_timeout: Option<Duration>,
    },
    /// End an unanswered call with a status.
    Reject { call: CallRef, status: u16 },
    /// Stop ringing the branches labelled `label`.
    CancelBranch { call: CallRef, label: BranchLabel },
    /// What staff phones show the call came through, on every INVITE sent for it from now on:
    /// `name` (a queue, hunt group or public number's label) as the From display name, and the
    /// number the citizen dialled as P-Called-Party-ID (RFC 3455).
    ShowVia {
        call: CallRef,
        name: String,
        number: String,
    },
    /// A confirming branch pressed 1: connect it to the caller.
    Confirm { call: CallRef, label: BranchLabel },
    /// A confirming branch did not confirm: release it.
    Decline { call: CallRef, label: BranchLabel },
    /// Place a call to `user` (their first registration) presenting `from`. Answered by
    /// [`CallEvent::Originated`] with the same `tag`, before any event of the new call.
    Originate {
        tag: u64,
        user: String,
        from: String,
        ring_timeout: Option<Duration>,
    },
    /// A blind transfer to a menu, queue or group: Switchboard takes the caller back.
    TransferToUs { call: CallRef },
    /// Answer the caller ourselves (a menu or a queue takes the call).
    AnswerLocally { call: CallRef },
    /// End an answered call from our side (BYE to everyone in it).
    HangUp { call: CallRef, cause: String },
    /// The relay heard nothing on `leg` for its media timeout: hang up the call using it.
    MediaTimeout { leg: LegId },
    /// The call ended: give back its trunk slot.
    TrunkRelease { call: CallRef },
}

/// The request header with which our app picks the number a call out presents.
pub const CALLER_ID_HEADER: &str = "X-Caller-ID";

/// What the endpoint must do.
#[derive(Debug, Clone)]
pub enum CallAction {
    /// Answer the server transaction `key`.
    Respond { key: TxKey, response: Response },
    /// Send a request in a new client transaction.
    Request { request: Request, peer: Peer },
    /// Send an ACK for a 2xx: no transaction of its own (§13.2.2.4).
    Ack { request: Request, peer: Peer },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_is_shown_and_compared_as_records_show_it() {
        let app = BranchLabel::direct("1005");
        let mobile = BranchLabel::cellular("1005");
        assert_eq!(app.to_string(), "1005");
        assert_eq!(mobile.to_string(), "1005/cellular");
        assert!(app == "1005" && app != "1005/cellular");
        assert!(mobile == "1005/cellular" && mobile != "1005");
        assert_ne!(app, mobile, "one member, two branches");
        assert_eq!(BranchLabel::from("carrier"), BranchLabel::direct("carrier"));
        assert_eq!(BranchLabel::from("1005/cellular"), mobile);
    }
}
