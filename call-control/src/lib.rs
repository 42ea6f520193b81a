//! Call control as a sans-IO core: where each call goes and what happens to it — hunt groups,
//! queues, menus, messages, transfers, callbacks, trunk failover, the press-1 question on cellular
//! legs, call records and the live view of calls.
//!
//! Like the SIP [`sip_core::Endpoint`] it is a plain state machine: the B2BUA's events
//! ([`CallControl::handle_call_event`]), the relay's ([`CallControl::handle_media_event`]), the
//! admin API's questions and orders, a configuration [`Snapshot`]
//! ([`CallControl::handle_config`]) and the time go in, each with the `now` it happens at; out come
//! [`Output`]s — typed commands for the SIP core and the media relay, call-record writes and news
//! for receptionists — and the next deadline ([`CallControl::poll_timeout`]). No sockets, clocks,
//! tasks or queries: a test drives a whole queued call in simulated time.
//!
//! Each call's state lives in one [`Call`] value (its hunt, queue stay, menu, offers, trunk
//! failover list, confirmations, live view and recording), so ending a call is removing one entry.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sip_core::b2bua::{BranchLabel, BranchLeg, CallCommand, CallRef, LegId, RingTarget};
use switchboard_media::playback::PlayMode;
use switchboard_media::relay::{InbandLaw, RecordingId};
use switchboard_media::transcode::{Codec, CodecSpec};
use switchboard_routing::hunt::HuntCall;
use switchboard_routing::queue::{Acd, CallId};

mod citizen;
mod click;
mod events;
mod hunt;
mod live;
mod local;
mod presence;
mod records;
mod routes;
mod snapshot;
mod store;
mod toll;

pub use citizen::QueueRecord;
pub use click::ClickRefusal;
pub use live::{AgentStateChange, CallView, CallViewState, RecordingRefusal};
pub use presence::{Presence, PresenceStatus, StaffStatus, MAX_NOTE_CHARS};
pub use records::{Notice, Record};
pub use routes::{transport_of, Route};
pub use snapshot::{Snapshot, UserEntry};
pub use store::{InProcess, LiveStore, QueueEngine};
pub use toll::{TollBlock, TollExceeded, TollLimits, TollStats};
use toll::{TollGuard, TollVerdict};

use citizen::{Callback, Local, Todo};

/// How long a user's phones ring before the caller hears "not available".
const USER_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// How long a transfer target rings before the transferor hears it failed.
const TRANSFER_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// How often the queues' agent and caller states are checked against the calls in progress.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// What the relay tells call control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaInput {
    /// A key (RFC 4733 or in-band) on a leg.
    Dtmf { leg: LegId, digit: char },
    /// A prompt on `leg` ended: played out, stopped, or cut short by a key.
    PlaybackFinished {
        leg: LegId,
        interrupted_by: Option<char>,
    },
    /// Nothing arrived on `leg` for the relay's media timeout.
    MediaTimeout { leg: LegId },
    /// A recording's file is complete (`bytes` 0: it could not be written).
    RecordingFinished { id: RecordingId, bytes: u64 },
}

/// What call control asks of the media relay.
#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    /// Play prompts by name (an uploaded prompt wins over the built-in one) to `leg`'s far end.
    Play {
        leg: LegId,
        prompts: Vec<String>,
        mode: PlayMode,
        interruptible: bool,
        codec: CodecSpec,
    },
    StopPlayback {
        leg: LegId,
    },
    /// Forward RFC 4733 keys across the bridge, and listen for in-band keys in `inband`.
    SetDtmf {
        leg: LegId,
        forward: bool,
        inband: Option<InbandLaw>,
    },
    StopRecording {
        id: RecordingId,
        leg: LegId,
    },
}

/// What call control asks of the rest of the node.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// A command for the SIP core, taken as it is by `Endpoint::handle_call_command`.
    Sip(CallCommand),
    Media(MediaCommand),
    /// A write to the call records (and recordings); the writer does it in the order given.
    /// Boxed: a closing record carries the whole call report.
    Record(Box<Record>),
    /// News for receptionists (the API's event feed).
    Notice(Notice),
}

/// A hunt in progress for one call.
struct ActiveHunt {
    group_id: i64,
    hunt: HuntCall,
    /// Members' mobile numbers, for their cellular legs.
    mobiles: HashMap<String, String>,
}

/// A cellular leg that answered and must press 1.
struct Confirmation {
    label: BranchLabel,
    deadline: Instant,
}

/// A queue offer's mobile leg waiting for the member's cellular delay.
struct DelayedMobile {
    at: Instant,
    user: String,
    target: RingTarget,
}

/// Everything call control holds about one call.
#[derive(Default)]
struct Call {
    /// Who placed it: a number or a user (a callback goes back to this number).
    caller: String,
    hunt: Option<ActiveHunt>,
    /// Staff in this call: a hunt group skips (or rings anyway, as configured) a member who is
    /// already talking.
    talking: Vec<String>,
    /// Trunks still to try for a call out, in priority order (`Some` for calls out).
    failover: Option<VecDeque<RingTarget>>,
    /// Queue offers still ringing, by member, and how many of their legs (app, mobile) ring: the
    /// queue hears of a failed offer only when all have failed.
    offer_legs: HashMap<String, u8>,
    /// Queue offers' mobile legs waiting for the member's cellular delay.
    delayed: Vec<DelayedMobile>,
    /// Cellular legs asked to press 1, by their relay leg.
    confirmations: HashMap<LegId, Confirmation>,
    /// The call as the admin API shows it (`None` for a callback we placed).
    view: Option<live::Entry>,
    /// Answered by us: a menu, a queue, a message.
    local: Option<Local>,
    /// A callback we placed: the agent first, then the citizen.
    callback: Option<Callback>,
    /// A click-to-call: the staff member first, then the number they asked for.
    click: Option<click::ClickToCall>,
}

/// Wall-clock time as derived from the `Instant`s passed in: one reading taken at the start.
#[derive(Debug, Clone, Copy)]
struct Clock {
    at: Instant,
    unix_ms: i64,
}

impl Clock {
    fn unix_ms(&self, now: Instant) -> i64 {
        let since = now.saturating_duration_since(self.at).as_millis();
        self.unix_ms + i64::try_from(since).unwrap_or(i64::MAX / 2)
    }

    /// The `Instant` of a wall-clock time (the start, for a time before it).
    fn instant_at(&self, unix_ms: i64) -> Instant {
        let ahead = u64::try_from(unix_ms.saturating_sub(self.unix_ms)).unwrap_or(0);
        // Far-off ends are capped at a year: an Instant that far is as good as never.
        self.at + Duration::from_millis(ahead.min(365 * 24 * 3600 * 1000))
    }
}

/// The call-control state machine. See the crate documentation.
pub struct CallControl {
    config: Arc<Snapshot>,
    calls: HashMap<CallRef, Call>,
    /// Which call a relay leg belongs to (answered-by-us callers, confirming mobiles).
    by_leg: HashMap<LegId, CallRef>,
    /// Who is in a call, hunt groups' memory, agents logged out: shared by calls (and nodes).
    live: Box<dyn LiveStore>,
    /// The queues.
    acd: Box<dyn QueueEngine>,
    /// The number each booked callback goes to.
    callback_numbers: HashMap<CallId, String>,
    /// Callbacks whose call to the agent is being placed: the agent, by the callback's id (the
    /// command's tag).
    originating: HashMap<u64, String>,
    /// Click-to-calls whose call to the staff member is being placed, by tag.
    clicks: HashMap<u64, click::ClickToCall>,
    next_click: u64,
    /// What the citizen's path asked for, carried out before control returns.
    todo: Vec<Todo>,
    out: VecDeque<Output>,
    clock: Clock,
    next_reconcile: Instant,
    /// Toll-fraud limits on staff calls abroad and to premium numbers.
    toll: TollGuard,
}

impl CallControl {
    /// Starts with `config`; `now_unix_ms` is the wall-clock time at `now` (call records and opening
    /// hours are derived from it); `seed` drives the queues' random choices.
    pub fn new(config: Arc<Snapshot>, now: Instant, now_unix_ms: i64, seed: u64) -> CallControl {
        CallControl::with_stores(
            config,
            now,
            now_unix_ms,
            Box::new(InProcess::default()),
            Box::new(Acd::new(seed)),
        )
    }

    /// Like [`CallControl::new`], with the live state and the queues kept by `live` and `queues`
    /// (shared with other nodes, say).
    pub fn with_stores(
        config: Arc<Snapshot>,
        now: Instant,
        now_unix_ms: i64,
        live: Box<dyn LiveStore>,
        queues: Box<dyn QueueEngine>,
    ) -> CallControl {
        CallControl {
            config,
            calls: HashMap::new(),
            by_leg: HashMap::new(),
            live,
            acd: queues,
            callback_numbers: HashMap::new(),
            originating: HashMap::new(),
            clicks: HashMap::new(),
            next_click: 0,
            todo: Vec::new(),
            out: VecDeque::new(),
            clock: Clock {
                at: now,
                unix_ms: now_unix_ms,
            },
            next_reconcile: now + RECONCILE_EVERY,
            toll: TollGuard::default(),
        }
    }

    /// A new configuration: calls in progress keep what they started with; every decision from
    /// now on uses this one.
    pub fn handle_config(&mut self, config: Arc<Snapshot>) {
        self.config = config;
    }

    /// Users blocked from calls abroad and to premium numbers (toll-fraud limits).
    pub fn toll_blocks(&self) -> Vec<TollBlock> {
        self.toll.blocks()
    }

    /// Lifts a user's toll block (an admin did); whether there was one.
    pub fn lift_toll_block(&mut self, user: &str) -> bool {
        self.toll.lift(user)
    }

    pub fn toll_stats(&self) -> TollStats {
        self.toll.stats()
    }

    /// `user` passed a toll limit: receptionists are told.
    fn toll_blocked(&mut self, user: &str, reason: TollExceeded) {
        tracing::warn!(%user, reason = reason.as_str(), "toll limit passed: calls abroad and to premium numbers blocked");
        self.out.push_back(Output::Notice(Notice::TollBlocked {
            user: user.to_owned(),
            reason: reason.as_str(),
        }));
    }

    /// Whether `user` may place toll call `call` (a call abroad or to a premium number) now;
    /// `false`: refuse it (and the user may just have been blocked).
    fn toll_admitted(&mut self, now: Instant, user: &str, call: CallRef, dialled: &str) -> bool {
        if !self.config.is_toll(dialled) {
            return true;
        }
        let limits = self.config.toll_limits;
        match self.toll.admit(now, self.unix_ms(now), user, call, limits) {
            TollVerdict::Allowed => true,
            TollVerdict::Blocked => false,
            TollVerdict::NewlyBlocked(reason) => {
                self.toll_blocked(user, reason);
                false
            }
        }
    }

    /// The configuration decisions are made on.
    pub fn config(&self) -> &Snapshot {
        &self.config
    }

    /// The next output, until there is none.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// How many calls call control holds.
    pub fn active_calls(&self) -> usize {
        self.calls.len()
    }

    /// The earliest moment [`CallControl::handle_timeout`] has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let per_call = self.calls.values().flat_map(|c| {
            c.hunt
                .as_ref()
                .and_then(|h| h.hunt.poll_timeout())
                .into_iter()
                .chain(c.confirmations.values().map(|f| f.deadline))
                .chain(c.delayed.iter().map(|d| d.at))
                .chain(c.local.as_ref().and_then(Local::poll_timeout))
        });
        per_call
            .chain(self.acd.poll_timeout())
            .chain(self.next_presence_end())
            .chain(std::iter::once(self.next_reconcile))
            .min()
    }

    /// Timers: hunts moving on, unanswered press-1 questions, delayed mobiles, menus and keying
    /// callers waiting for a key, the queues' own, and the periodic check of the queues.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallRef> = self
            .calls
            .iter()
            .filter(|(_, c)| {
                c.hunt
                    .as_ref()
                    .and_then(|h| h.hunt.poll_timeout())
                    .is_some_and(|t| t <= now)
            })
            .map(|(r, _)| *r)
            .collect();
        for call in due {
            if let Some(h) = self.calls.get_mut(&call).and_then(|c| c.hunt.as_mut()) {
                h.hunt.handle_timeout(now);
            }
            self.carry_out_hunt(now, call);
        }
        let expired: Vec<LegId> = self
            .calls
            .values()
            .flat_map(|c| c.confirmations.iter())
            .filter(|(_, f)| f.deadline <= now)
            .map(|(l, _)| *l)
            .collect();
        for leg in expired {
            tracing::info!(leg = leg.0, "no key pressed: cellular leg released");
            self.end_confirmation(leg, false);
        }
        self.ring_delayed_mobiles(now);
        self.citizen_timeouts(now);
        self.end_presences(now);
        if now >= self.next_reconcile {
            self.next_reconcile = now + RECONCILE_EVERY;
            self.reconcile_queues(now);
            let limits = self.config.toll_limits;
            for user in self.toll.check_running(now, self.unix_ms(now), limits) {
                self.toll_blocked(&user, TollExceeded::MinutesPerHour);
            }
        }
        self.run_todo(now);
    }

    /// An event from the relay.
    pub fn handle_media_event(&mut self, now: Instant, event: MediaInput) {
        match event {
            MediaInput::Dtmf { leg, digit } => {
                if self.confirming(leg) {
                    tracing::info!(leg = leg.0, %digit, "confirmation key");
                    self.end_confirmation(leg, digit == '1');
                } else if self.by_leg.contains_key(&leg) {
                    self.digit(now, leg, digit);
                }
            }
            MediaInput::PlaybackFinished {
                leg,
                interrupted_by,
            } => {
                if !self.confirming(leg) && self.by_leg.contains_key(&leg) {
                    self.playback_done(now, leg, interrupted_by);
                }
            }
            MediaInput::MediaTimeout { leg } => {
                tracing::info!(leg = leg.0, "no media from a leg");
                self.sip(CallCommand::MediaTimeout { leg });
            }
            MediaInput::RecordingFinished { id, bytes } => self.recording_finished(now, id, bytes),
        }
        self.run_todo(now);
    }

    fn sip(&mut self, command: CallCommand) {
        self.out.push_back(Output::Sip(command));
    }

    fn media(&mut self, command: MediaCommand) {
        self.out.push_back(Output::Media(command));
    }

    fn record(&mut self, record: Record) {
        self.out.push_back(Output::Record(Box::new(record)));
    }

    fn notice(&mut self, notice: Notice) {
        self.out.push_back(Output::Notice(notice));
    }

    fn unix_ms(&self, now: Instant) -> i64 {
        self.clock.unix_ms(now)
    }

    /// The wall-clock time at `now`, for opening hours.
    fn wall(&self, now: Instant) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.unix_ms(now)).unwrap_or_default()
    }

    /// `user` talks in `call` now (answered it, placed it, was transferred in).
    fn join_talk(&mut self, call: CallRef, user: &str) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.talking.push(user.to_owned());
            self.live.set_in_call(user, call, true);
        }
    }

    /// `user` left `call` (transferred it away).
    fn leave_talk(&mut self, call: CallRef, user: &str) {
        if let Some(c) = self.calls.get_mut(&call) {
            c.talking.retain(|u| u != user);
            self.live.set_in_call(user, call, false);
        }
    }

    fn confirming(&self, leg: LegId) -> bool {
        self.by_leg
            .get(&leg)
            .and_then(|call| self.calls.get(call))
            .is_some_and(|c| c.confirmations.contains_key(&leg))
    }

    /// Loops music on hold to `leg`'s far end (a held or transferred caller).
    fn play_music_on_hold(&mut self, leg: LegId, codec: &(String, u8)) {
        if let Some(codec) = codec_spec(codec) {
            self.media(MediaCommand::Play {
                leg,
                prompts: vec![switchboard_media::prompts::MUSIC_ON_HOLD.to_string()],
                mode: PlayMode::Loop,
                interruptible: false,
                codec,
            });
        }
    }
}

/// The hunt machine's name for the way a branch reaches its member.
fn hunt_leg(label: &BranchLabel) -> switchboard_routing::hunt::Leg {
    use switchboard_routing::hunt::Leg;
    match label.leg {
        BranchLeg::Direct => Leg::App,
        BranchLeg::Cellular => Leg::Cellular,
    }
}

/// A codec as call control gets it from the B2BUA (encoding name, payload type), for the relay.
pub fn codec_spec((name, pt): &(String, u8)) -> Option<CodecSpec> {
    Codec::from_name(name).map(|codec| CodecSpec {
        codec,
        payload_type: *pt,
    })
}
