//! B2BUA call control, sans-IO: every call is an inbound leg (the INVITE we answer) and outbound
//! branches (INVITEs we send, forked), each its own dialog, with media anchored in the relay.
//!
//! The caller's SDP offer is answered with the relay's address; the callees get an offer from the
//! relay's other leg with the caller's codecs under the caller's payload numbers, so whatever a callee
//! picks the caller can play without transcoding or renumbering. Where a call goes is not decided
//! here: [`CallEvent::Incoming`] asks, and [`Calls::ring`] / [`Calls::reject`] answer.
//!
//! Inputs are requests and responses the transaction layer has matched, and `Instant`s; outputs are
//! [`CallAction`]s for the endpoint to carry out and [`CallEvent`]s for whoever orchestrates calls.

mod answer;
mod caller_transfer;
mod cancel;
mod info;
mod local;
use answer::{accepts_sdp, remote_media, tag_to};
use cancel::cancel_for;
pub mod dialog;
mod lingering;
mod media_plan;
mod originate;
mod outbound;
mod provisional;
mod push_hold;
mod reinvite;
mod session_refresh;
mod session_timer;
mod srtp;
mod transfer;
mod types;
mod webrtc;
pub use answer::CallMedia;
pub use media_plan::{MediaOp, MediaPlan, MediaRelay, ReservedLeg, MEDIA_POOL_TARGET};
use session_timer::SessionTimer;
pub use session_timer::MIN_SE;
pub use srtp::srtp_allows;
pub use switchboard_media::srtp::SrtpPolicy;
use transfer::Transfer;
pub use types::*;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::{rngs::StdRng, Rng, SeedableRng};
use sip_message::{HeaderName, Method, Request, Response, SipHeaders, Uri};
pub use switchboard_media::relay::LegId;
use switchboard_media::relay::RemoteMedia;
use switchboard_media::sdp::{self, SessionDescription, SessionOrigin};

use crate::transaction::TxKey;
use crate::transport::{Peer, TransportKind};
use dialog::Dialog;

/// What the B2BUA needs from the media relay, answered at once. The endpoint's is a
/// [`MediaPlan`]: legs from a pool, the rest queued as [`MediaOp`]s for the shell; no IO.
pub trait MediaControl {
    /// A relay leg on the same media thread as `near` (if given); its id and the address for SDP.
    fn allocate(&mut self, near: Option<LegId>) -> Result<(LegId, SocketAddr), MediaUnavailable>;
    fn set_remote(&mut self, leg: LegId, remote: RemoteMedia);
    fn bridge(&mut self, a: LegId, b: LegId);
    fn release(&mut self, leg: LegId);
    /// Transcodes what `leg`'s far end sends — `(encoding, payload type)` as it arrives — into the
    /// bridged leg's codec; `None` stops transcoding. False when the relay cannot (then the call keeps
    /// its codec and the new offer is refused).
    fn transcode(&mut self, _leg: LegId, _spec: Option<(CodecRef, CodecRef)>) -> bool {
        false
    }
    /// Makes `leg` a WebRTC leg (ICE-lite, DTLS-SRTP) with what the two descriptions settled; before
    /// the leg's `set_remote`.
    fn webrtc(&mut self, _leg: LegId, _params: switchboard_media::relay::webrtc::WebRtcParams) {}
}

/// Why the relay gave no leg (the call is refused or the branch fails; nothing else breaks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaUnavailable {
    /// Every port pair of the configured range is in use.
    #[error("no free RTP port pair")]
    NoPorts,
    /// The relay has stopped or failed; the text says how.
    #[error("media relay: {0}")]
    Relay(String),
}

/// A codec as the relay knows it on one leg: encoding name and payload type.
pub type CodecRef = (String, u8);

#[derive(Debug, Clone)]
pub struct CallsConfig {
    /// Our SIP address, for Via and Contact of the requests we send.
    pub local: SocketAddr,
    /// Our SIP-over-TLS address, if we listen on one: the Contact we give a peer reached over TLS,
    /// so its in-dialog requests come back over TLS rather than in clear to `local`.
    pub tls_local: Option<SocketAddr>,
    /// How long a branch may ring when the orchestrator gives no limit.
    pub default_ring_timeout: Duration,
    /// T1 of RFC 3261 (2xx retransmission starts there).
    pub t1: Duration,
    pub t2: Duration,
    pub seed: u64,
    /// Seeds the generator of SRTP master keys (a CSPRNG; the shell gives 32 random bytes, tests a
    /// fixed value). Kept apart from `seed`, whose tokens are visible on the wire.
    pub media_key_seed: [u8; 32],
    /// The relay's DTLS certificate fingerprint (`sha-256 AB:…`): browsers' WebRTC offers are
    /// answered only when it is known.
    pub dtls_fingerprint: Option<String>,
}

/// See [`Calls::contact`]; a free function for places that hold a borrow of a call.
fn contact_uri(cfg: &CallsConfig, transport: TransportKind) -> String {
    match (transport, cfg.tls_local) {
        (TransportKind::Tls, Some(tls)) => format!("<sip:switchboard@{tls};transport=tls>"),
        (TransportKind::Tcp, _) => format!("<sip:switchboard@{};transport=tcp>", cfg.local),
        _ => format!("<sip:switchboard@{}>", cfg.local),
    }
}

impl Default for CallsConfig {
    fn default() -> Self {
        CallsConfig {
            local: SocketAddr::from(([127, 0, 0, 1], 5060)),
            tls_local: None,
            default_ring_timeout: Duration::from_secs(60),
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            seed: 0,
            media_key_seed: [0; 32],
            dtls_fingerprint: None,
        }
    }
}

/// One of a call's dialogs: the caller's, or a branch's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialogSide {
    Caller,
    Branch(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum TimerKind {
    /// Retransmit our 2xx to the caller until the ACK (§13.3.1.4).
    Retransmit2xx,
    /// A branch has rung long enough.
    BranchTimeout(usize),
    /// The caller's session timer may have run out.
    SessionExpiry,
    /// Resend a reliable provisional response the caller has not PRACKed.
    RetransmitProvisional,
    /// Branches of an ended call can no longer answer (see `lingering`).
    ForgetLingering,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CallState {
    /// A call we placed ([`Calls::originate`]): its first leg rings.
    Originating,
    /// Waiting for the orchestrator.
    Routing,
    /// Branches ringing.
    Ringing,
    /// Answered; `acked` once the caller's ACK came.
    Answered {
        acked: bool,
    },
    Ended,
}

struct Inbound {
    key: TxKey,
    invite: Request,
    dialog: Dialog,
    offer: SessionDescription,
    origin: SessionOrigin,
    leg: LegId,
    leg_addr: SocketAddr,
    sent_180: bool,
    last_2xx: Option<Response>,
    retransmit_interval: Duration,
    retransmit_deadline: Option<Instant>,
    reliable: provisional::ReliableProvisionals,
    /// SDES on the caller's leg (kept for re-INVITE answers).
    crypto: Option<sdp::LocalCrypto>,
    /// ICE and DTLS of the caller's leg when the caller is a browser.
    webrtc: Option<sdp::LocalWebRtc>,
}

pub(crate) struct Branch {
    label: BranchLabel,
    key: TxKey,
    invite: Request,
    dialog: Dialog,
    offer: SessionDescription,
    /// Our o= line towards this callee (re-INVITE answers continue its versions).
    origin: SessionOrigin,
    state: BranchState,
    /// Our ACK for its 2xx, sent again if the 2xx is retransmitted.
    ack: Option<Request>,
    /// Must confirm before connecting.
    confirm: bool,
    /// Its SDP answer, kept while it confirms.
    answer: Option<SessionDescription>,
    /// We re-INVITEd it (joined to another caller by a transfer) and await the answer.
    reoffer_pending: bool,
    /// The RSeq of its last reliable provisional we PRACKed.
    last_rseq: Option<u32>,
    /// Its own relay leg (a branch that must confirm hears its question apart from the others).
    own_leg: Option<(LegId, SocketAddr)>,
    /// SDES on this callee's leg.
    crypto: Option<sdp::LocalCrypto>,
    /// ICE and DTLS of this callee's leg when the callee is a browser.
    webrtc: Option<sdp::LocalWebRtc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BranchState {
    Trying,
    Ringing,
    Answered,
    /// CANCEL sent; waiting for the 487 (or a 200 that crossed it, which we then BYE).
    Cancelling,
    /// Answered, waiting for the callee to confirm (press 1) before the caller is connected.
    Confirming,
    Failed(u16),
}

struct Call {
    state: CallState,
    inbound: Inbound,
    branches: Vec<Branch>,
    /// The relay leg towards the callees (shared by the branches but those that must confirm:
    /// only one wins).
    callee_leg: Option<LegId>,
    callee_addr: Option<SocketAddr>,
    answered_branch: Option<usize>,
    started: Instant,
    ringing: Option<Instant>,
    answered: Option<Instant>,
    from_user: String,
    to_user: String,
    /// Max-Forwards for the outbound INVITEs: the caller's minus one, so two B2BUAs (or a trunk
    /// looping back to us) cannot bounce a call forever (§16.6 step 3, applied across the B2BUA).
    max_forwards: u8,
    /// The codec both legs use once answered (same numbering on both sides).
    codec: Option<sdp::Codec>,
    /// A blind transfer in progress.
    transfer: Option<Transfer>,
    /// Which side holds the other: [caller holds callee, callee holds caller].
    holding: [bool; 2],
    /// Relay legs this call used and gave up (a transferor's side), reported with the call's own.
    retired_legs: Vec<LegId>,
    /// RFC 4028 on the caller's dialog, when the caller asked for it.
    session_timer: Option<SessionTimer>,
    /// The registered user who placed the call (`None`: a trunk, or us); only staff may transfer.
    caller_user: Option<String>,
    /// The caller already hears the callee's network (183 with SDP).
    early_media: bool,
    /// A side that speaks another codec than `codec` and is transcoded to it by the relay
    /// ([caller side, callee side]): a browser talking Opus to a G.711 trunk, or a phone that
    /// switched codec by re-INVITE. `None`: the side speaks `codec`.
    side_codecs: [Option<sdp::Codec>; 2],
    /// What the call came through, for the callees' displays: (name, dialled number).
    via: Option<(String, String)>,
}

impl Calls {
    /// What the call came through, shown to every callee rung from now on (see
    /// [`CallCommand::ShowVia`]).
    pub fn show_via(&mut self, call: CallRef, name: String, number: String) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.via = Some((name, number));
        }
    }
}

/// Seconds a caller refused for want of media capacity is asked to wait: long enough for calls to
/// end and free ports, short enough that a carrier without another route comes back soon.
const OUT_OF_MEDIA_RETRY_AFTER_SECS: u32 = 5;

/// All calls of one node.
pub struct Calls {
    cfg: CallsConfig,
    calls: HashMap<CallRef, Call>,
    /// Inbound dialogs and pending INVITEs by Call-ID + caller's tag.
    by_inbound: HashMap<String, CallRef>,
    /// Outbound INVITE client transactions and branch dialogs by Call-ID.
    by_branch_call_id: HashMap<String, (CallRef, usize)>,
    /// Branches still unanswered when their call ended, by Call-ID, until Timer B's span is over.
    lingering: HashMap<String, (Dialog, Instant)>,
    actions: VecDeque<CallAction>,
    events: VecDeque<CallEvent>,
    timers: BinaryHeap<Reverse<(Instant, CallRef, TimerKind)>>,
    next_id: u64,
    rng: StdRng,
    /// SRTP master keys come from here only.
    key_rng: StdRng,
    /// Users' SRTP policies; users not named have the default.
    srtp_policies: HashMap<String, switchboard_media::srtp::SrtpPolicy>,
}

fn inbound_key(call_id: &str, from_tag: &str) -> String {
    format!("{call_id}\u{1}{from_tag}")
}

fn user_of(uri: &Uri) -> String {
    uri.as_sip()
        .and_then(|u| u.user_unescaped())
        .map(|u| String::from_utf8_lossy(&u).into_owned())
        .unwrap_or_default()
}

impl Calls {
    pub fn new(cfg: CallsConfig) -> Calls {
        let rng = StdRng::seed_from_u64(cfg.seed ^ 0xca11);
        let key_rng = StdRng::from_seed(cfg.media_key_seed);
        Calls {
            cfg,
            calls: HashMap::new(),
            by_inbound: HashMap::new(),
            by_branch_call_id: HashMap::new(),
            lingering: HashMap::new(),
            actions: VecDeque::new(),
            events: VecDeque::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            rng,
            key_rng,
            srtp_policies: HashMap::new(),
        }
    }

    pub fn active(&self) -> usize {
        self.calls.len()
    }

    pub fn has_actions(&self) -> bool {
        !self.actions.is_empty()
    }

    pub fn poll_action(&mut self) -> Option<CallAction> {
        self.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<CallEvent> {
        self.events.pop_front()
    }

    /// How many events wait to be polled (see [`Calls::insert_event`]).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Puts `event` at position `at` of the queue: an answer to a command goes before the events
    /// that carrying the command out produced.
    pub fn insert_event(&mut self, at: usize, event: CallEvent) {
        self.events.insert(at.min(self.events.len()), event);
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|Reverse((at, _, _))| *at)
    }

    fn token_u32(&mut self) -> u32 {
        self.rng.gen::<u32>()
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.gen::<u64>())
    }

    fn via(&mut self, transport: &str) -> String {
        let branch = self.token();
        format!(
            "SIP/2.0/{transport} {};branch=z9hG4bK{branch};rport",
            self.cfg.local
        )
    }

    /// Our Contact towards a peer reached over `transport`: TCP and TLS peers are told to keep to
    /// that transport for the rest of the dialog (RFC 3261 §19.1.1 `transport`).
    fn contact(&self, transport: TransportKind) -> String {
        contact_uri(&self.cfg, transport)
    }

    fn respond(&mut self, key: &TxKey, invite: &Request, status: u16, local_tag: Option<&str>) {
        let mut r = Response::for_request(invite, status, sip_message::default_reason(status));
        if let Some(tag) = local_tag {
            tag_to(&mut r, tag);
        }
        self.actions.push_back(CallAction::Respond {
            key: key.clone(),
            response: r,
        });
    }

    /// 503 with `Retry-After` (RFC 3261 §21.5.4): the relay has no port pair or descriptor left, so
    /// this node can take no call at all for now — a carrier with another route uses it meanwhile,
    /// and nothing here is spent finding out again on every INVITE.
    fn respond_out_of_media(&mut self, key: &TxKey, invite: &Request) {
        let mut r = Response::for_request(invite, 503, "Service Unavailable (no media capacity)");
        r.headers.push(
            HeaderName::RetryAfter,
            OUT_OF_MEDIA_RETRY_AFTER_SECS.to_string(),
        );
        self.actions.push_back(CallAction::Respond {
            key: key.clone(),
            response: r,
        });
    }

    /// A new INVITE (no To tag) that the transaction layer has accepted as key `key`.
    pub fn handle_invite(
        &mut self,
        now: Instant,
        key: TxKey,
        invite: &Request,
        peer: Peer,
        caller: Caller,
        media: &mut dyn MediaControl,
    ) {
        // RFC 2543 peers send no From tag (RFC 4475 inv2543): the Call-ID alone names the call.
        let Some(from_tag) = invite
            .from()
            .map(|f| f.tag().unwrap_or_default().to_string())
        else {
            return self.respond(&key, invite, 400, None);
        };
        // Our answer is SDP: a caller that accepts no SDP cannot be answered (RFC 4475 sdp01).
        if !accepts_sdp(invite) {
            let mut r = Response::for_request(invite, 406, "Not Acceptable");
            r.headers.push(HeaderName::Accept, "application/sdp");
            self.actions
                .push_back(CallAction::Respond { key, response: r });
            return;
        }
        let Some(call_id) = invite.call_id().map(str::to_string) else {
            return self.respond(&key, invite, 400, None);
        };
        let Ok(session_timer) = session_timer::requested(invite) else {
            let response = session_timer::too_small(invite);
            self.actions
                .push_back(CallAction::Respond { key, response });
            return;
        };
        // An offer is required: a B2BUA that anchors media answers the caller with the relay's
        // address, which needs the caller's codecs. (Late offer comes with re-INVITE support.)
        let offer = match SessionDescription::parse(&invite.body) {
            Ok(o) if !invite.body.is_empty() => o,
            _ => return self.respond(&key, invite, 488, None),
        };
        // SRTP: the caller's policy over its transport; an offer that cannot be answered under it
        // (RTP/SAVP over plain signalling, plain RTP from a user who requires SRTP) is refused now.
        let policy = match &caller {
            Caller::User(user) => self.srtp_policy(user),
            Caller::Trunk => switchboard_media::srtp::SrtpPolicy::Preferred,
        };
        let Ok(mode) = srtp::mode_for(policy, peer.transport) else {
            return self.respond(&key, invite, 488, None);
        };
        // A browser's media is keyed by DTLS; SDES does not apply to it.
        let (crypto, webrtc) = if webrtc::offers_webrtc(&offer) {
            match self.local_webrtc() {
                Some(w) => (None, Some(w)),
                None => return self.respond(&key, invite, 488, None),
            }
        } else {
            (self.local_crypto(mode), None)
        };
        if webrtc.is_none() && !srtp::offer_acceptable(&offer, crypto.as_ref()) {
            return self.respond(&key, invite, 488, None);
        }
        let (leg, leg_addr) = match media.allocate(None) {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "no media port for a new call");
                return self.respond_out_of_media(&key, invite);
            }
        };
        let local_tag = self.token();
        let Some(dialog) = Dialog::as_uas(invite, local_tag.clone(), peer) else {
            media.release(leg);
            return self.respond(&key, invite, 400, None);
        };
        self.respond(&key, invite, 100, None);
        let id = CallRef(self.next_id);
        self.next_id += 1;
        let origin = SessionOrigin::new(self.rng.gen::<u32>().into(), leg_addr.ip());
        let from_user = invite
            .from()
            .and_then(|f| f.uri().ok())
            .and_then(|u| u.as_sip().and_then(|s| s.user))
            .unwrap_or_default()
            .to_string();
        let to_user = user_of(&invite.uri);
        self.calls.insert(
            id,
            Call {
                state: CallState::Routing,
                inbound: Inbound {
                    key,
                    invite: invite.clone(),
                    dialog,
                    offer,
                    origin,
                    leg,
                    leg_addr,
                    sent_180: false,
                    last_2xx: None,
                    retransmit_interval: self.cfg.t1,
                    retransmit_deadline: None,
                    reliable: provisional::ReliableProvisionals::for_invite(invite),
                    crypto,
                    webrtc,
                },
                branches: Vec::new(),
                callee_leg: None,
                callee_addr: None,
                answered_branch: None,
                started: now,
                ringing: None,
                answered: None,
                from_user: from_user.clone(),
                max_forwards: invite.max_forwards().unwrap_or(70).saturating_sub(1),
                codec: None,
                to_user: to_user.clone(),
                transfer: None,
                holding: [false; 2],
                retired_legs: Vec::new(),
                session_timer,
                caller_user: match caller {
                    Caller::User(ref u) => Some(u.clone()),
                    Caller::Trunk => None,
                },
                early_media: false,
                side_codecs: [None, None],
                via: None,
            },
        );
        self.by_inbound.insert(inbound_key(&call_id, &from_tag), id);
        let caller_id_request = invite
            .headers
            .iter()
            .find(|(n, _)| n.as_str().eq_ignore_ascii_case(CALLER_ID_HEADER))
            .map(|(_, v)| String::from_utf8_lossy(v).trim().to_string());
        self.events.push_back(CallEvent::Incoming {
            call: id,
            call_id,
            caller,
            from_user,
            to_user,
            source: peer,
            caller_id_request,
        });
    }

    /// Ends a call that has not been answered with `status` (404, 480, 486, 603…), cancelling any
    /// branch still ringing.
    pub fn reject(
        &mut self,
        now: Instant,
        call: CallRef,
        status: u16,
        media: &mut dyn MediaControl,
    ) {
        if self.transfer_open(call) {
            // Call control found nowhere to transfer to: the call itself goes on.
            return self.transfer_failed(now, call, status, media);
        }
        if self.calls.get(&call).is_some_and(|c| c.waiting_locally()) {
            return self.hang_up(now, call, &status.to_string(), media);
        }
        self.cancel_branches(call, None);
        self.finish_unanswered(now, call, status, HangupSide::System, media);
    }

    fn finish_unanswered(
        &mut self,
        now: Instant,
        call: CallRef,
        status: u16,
        side: HangupSide,
        media: &mut dyn MediaControl,
    ) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if !matches!(c.state, CallState::Routing | CallState::Ringing) {
            return;
        }
        let (key, invite, tag) = (
            c.inbound.key.clone(),
            c.inbound.invite.clone(),
            c.inbound.dialog.local_tag.clone(),
        );
        self.respond(&key, &invite, status, Some(&tag));
        self.end(now, call, status.to_string(), side, media);
    }

    /// Removes a call, releases its media and reports it.
    fn end(
        &mut self,
        now: Instant,
        call: CallRef,
        cause: String,
        side: HangupSide,
        media: &mut dyn MediaControl,
    ) {
        let Some(mut c) = self.calls.remove(&call) else {
            return;
        };
        c.state = CallState::Ended;
        self.linger(now, call, &c);
        let mut legs = vec![c.inbound.leg];
        legs.append(&mut c.retired_legs);
        media.release(c.inbound.leg);
        let own_legs = c.branches.iter_mut().filter_map(|b| b.own_leg.take());
        for l in c.callee_leg.into_iter().chain(own_legs.map(|(l, _)| l)) {
            media.release(l);
            legs.push(l);
        }
        // Only this call's own keys: scanning every call's on each hang-up would cost O(calls).
        let remote_tag = c.inbound.dialog.remote_tag.as_deref().unwrap_or_default();
        let key = inbound_key(&c.inbound.dialog.call_id, remote_tag);
        if self.by_inbound.get(&key) == Some(&call) {
            self.by_inbound.remove(&key);
        }
        let call_ids = c.branches.iter().map(|b| &b.dialog.call_id);
        for id in call_ids.chain([&c.inbound.dialog.call_id]) {
            if self
                .by_branch_call_id
                .get(id)
                .is_some_and(|(v, _)| *v == call)
            {
                self.by_branch_call_id.remove(id);
            }
        }
        let answered_by = c
            .answered_branch
            .and_then(|i| c.branches.get(i))
            .map(|b| b.label.clone());
        let branches = c
            .branches
            .iter()
            .map(|b| BranchReport {
                label: b.label.clone(),
                status: match b.state {
                    BranchState::Answered => 200,
                    BranchState::Failed(s) => s,
                    BranchState::Cancelling | BranchState::Confirming => 487,
                    BranchState::Trying | BranchState::Ringing => 408,
                },
            })
            .collect();
        let report = CallReport {
            call_id: c.inbound.dialog.call_id.clone(),
            from: c.from_user,
            to: c.to_user,
            started: c.started,
            ringing: c.ringing,
            answered: c.answered,
            ended: now,
            answered_by,
            cause,
            side,
            branches,
            media_legs: legs,
        };
        self.events.push_back(CallEvent::Ended { call, report });
    }

    /// The caller's ACK for our 2xx (the transaction layer hands it over as not its own).
    pub fn handle_ack(&mut self, req: &Request) {
        let Some(call) = self.find_inbound(req) else {
            return;
        };
        if let Some(c) = self.calls.get_mut(&call) {
            if let CallState::Answered { acked: false } = c.state {
                c.state = CallState::Answered { acked: true };
                c.inbound.retransmit_deadline = None;
            }
        }
    }

    /// Where the far end of the dialog that in-dialog `req` belongs to is (the caller's side, or a
    /// branch we placed); `None` when no call of ours has that dialog.
    pub fn dialog_peer(&self, req: &Request) -> Option<Peer> {
        if let Some(call) = self.find_inbound(req) {
            return self.calls.get(&call).map(|c| c.inbound.dialog.peer);
        }
        let &(call, branch) = self.by_branch_call_id.get(req.call_id()?)?;
        let branch = self.calls.get(&call)?.branches.get(branch)?;
        Some(branch.dialog.peer)
    }

    fn find_inbound(&self, req: &Request) -> Option<CallRef> {
        let call_id = req.call_id()?;
        let tag = req.from()?.tag()?.to_string();
        self.by_inbound.get(&inbound_key(call_id, &tag)).copied()
    }

    /// A CANCEL for a pending INVITE (the endpoint has answered the CANCEL itself).
    pub fn handle_cancel(&mut self, now: Instant, req: &Request, media: &mut dyn MediaControl) {
        let Some(call) = self.find_inbound(req) else {
            return;
        };
        self.cancel_branches(call, None);
        self.finish_unanswered(now, call, 487, HangupSide::Caller, media);
    }

    /// A BYE: returns the status to answer it with (200, or 481 for no such dialog).
    pub fn handle_bye(&mut self, now: Instant, req: &Request, media: &mut dyn MediaControl) -> u16 {
        if let Some(call) = self.find_inbound(req) {
            // The caller hung up: hang up the callee, and a transfer target still ringing.
            self.cancel_branches(call, None);
            self.bye_answered_branch(call);
            self.end(now, call, "BYE".into(), HangupSide::Caller, media);
            return 200;
        }
        let Some(&(call, branch)) = req.call_id().and_then(|id| self.by_branch_call_id.get(id))
        else {
            return 481;
        };
        if self.transferor_left(now, call, branch, media) {
            return 200;
        }
        if self.calls.get(&call).and_then(|c| c.answered_branch) != Some(branch) {
            return 481;
        }
        self.send_bye(call, DialogSide::Caller);
        self.end(now, call, "BYE".into(), HangupSide::Callee, media);
        200
    }

    fn dialog_mut(&mut self, call: CallRef, side: DialogSide) -> Option<&mut Dialog> {
        let c = self.calls.get_mut(&call)?;
        match side {
            DialogSide::Caller => Some(&mut c.inbound.dialog),
            DialogSide::Branch(i) => c.branches.get_mut(i).map(|b| &mut b.dialog),
        }
    }

    /// Ends one of the call's dialogs with a BYE.
    pub(crate) fn send_bye(&mut self, call: CallRef, side: DialogSide) {
        let Some(transport) = self.dialog_mut(call, side).map(|d| d.peer.transport) else {
            return;
        };
        let via = self.via(transport.as_str());
        let contact = self.contact(transport);
        let Some(dialog) = self.dialog_mut(call, side) else {
            return;
        };
        let peer = dialog.peer;
        let request = dialog.request(Method::Bye, &via, &contact, None);
        self.actions
            .push_back(CallAction::Request { request, peer });
    }

    /// Hangs up the callee who answered, if one did.
    fn bye_answered_branch(&mut self, call: CallRef) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        // A transferor that already hung up has no dialog left to end.
        let gone = c.transfer.as_ref().is_some_and(|t| t.transferor.is_none());
        if let (Some(i), false) = (c.answered_branch, gone) {
            self.send_bye(call, DialogSide::Branch(i));
        }
    }

    /// Timers: 2xx retransmission and branch ring timeouts.
    pub fn handle_timeout(&mut self, now: Instant, media: &mut dyn MediaControl) {
        while let Some(&Reverse((at, call, kind))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match kind {
                TimerKind::Retransmit2xx => self.retransmit_2xx(now, call, media),
                TimerKind::BranchTimeout(originate::ORIGIN) => self.origin_timed_out(call),
                TimerKind::BranchTimeout(i) => self.branch_timed_out(call, i),
                TimerKind::SessionExpiry => self.session_expired(now, call, media),
                TimerKind::RetransmitProvisional => self.retransmit_provisional(now, call, media),
                TimerKind::ForgetLingering => self.forget_lingering(now),
            }
        }
    }

    fn retransmit_2xx(&mut self, now: Instant, call: CallRef, media: &mut dyn MediaControl) {
        let (t2, mut resend) = (self.cfg.t2, None);
        let Some(c) = self.calls.get_mut(&call) else {
            return;
        };
        let CallState::Answered { acked: false } = c.state else {
            return;
        };
        let Some(deadline) = c.inbound.retransmit_deadline else {
            return;
        };
        if now >= deadline {
            // §13.3.1.4: no ACK within 64·T1 — the dialog is confirmed and must end with a BYE.
            self.send_bye(call, DialogSide::Caller);
            self.bye_answered_branch(call);
            self.end(now, call, "ACK timeout".into(), HangupSide::System, media);
            return;
        }
        if let Some(r) = &c.inbound.last_2xx {
            resend = Some((c.inbound.key.clone(), r.clone()));
        }
        c.inbound.retransmit_interval = (c.inbound.retransmit_interval * 2).min(t2);
        let next = now + c.inbound.retransmit_interval;
        self.timers
            .push(Reverse((next, call, TimerKind::Retransmit2xx)));
        if let Some((key, response)) = resend {
            self.actions
                .push_back(CallAction::Respond { key, response });
        }
    }
}

#[cfg(test)]
mod contact_tests {
    use super::*;

    #[test]
    fn a_peer_keeps_its_transport_for_the_dialog() {
        let mut cfg = CallsConfig {
            local: "192.0.2.1:5060".parse().expect("addr"),
            ..CallsConfig::default()
        };
        assert_eq!(
            contact_uri(&cfg, TransportKind::Udp),
            "<sip:switchboard@192.0.2.1:5060>"
        );
        assert_eq!(
            contact_uri(&cfg, TransportKind::Tcp),
            "<sip:switchboard@192.0.2.1:5060;transport=tcp>"
        );
        // Without a TLS listener there is no TLS address to give.
        assert_eq!(
            contact_uri(&cfg, TransportKind::Tls),
            "<sip:switchboard@192.0.2.1:5060>"
        );
        cfg.tls_local = Some("192.0.2.1:5061".parse().expect("addr"));
        assert_eq!(
            contact_uri(&cfg, TransportKind::Tls),
            "<sip:switchboard@192.0.2.1:5061;transport=tls>"
        );
    }
}
