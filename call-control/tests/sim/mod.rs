//! A simulated-time harness for call control: the test plays the B2BUA and the relay, feeding
//! their events in at a clock it advances itself, and reads what call control outputs. Whole calls
//! with minutes of ringing and waiting run in microseconds.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use call_control::{
    CallControl, MediaCommand, MediaInput, Notice, Output, Record, Snapshot, UserEntry,
};
use sip_core::b2bua::{
    BranchLabel, CallCommand, CallEvent, CallRef, CallReport, Caller, HangupSide, LegId,
};
use sip_core::{Peer, TransportKind};
use switchboard_schema::{
    BusyPolicy, HoldMusic, HuntGroup, HuntGroupMember, HuntStrategy, Menu, PublicNumber, Queue,
    QueueMember, QueueStrategy, TargetKind, Trunk, TrunkTransport, User, UserCallSettings,
};

/// Monday 7 December 2026, 10:00 in Oslo (09:00 UTC): within office hours.
pub const MONDAY_10_OSLO_MS: i64 = 1_796_634_000_000;

pub const MAIN: &str = "+4764000000";
pub const CITIZEN: &str = "+4791234567";

pub struct Sim {
    pub cc: CallControl,
    pub now: Instant,
    start: Instant,
}

impl Sim {
    pub fn new(config: Snapshot) -> Sim {
        Sim::at(config, MONDAY_10_OSLO_MS)
    }

    pub fn at(config: Snapshot, unix_ms: i64) -> Sim {
        let now = Instant::now();
        Sim {
            cc: CallControl::new(Arc::new(config), now, unix_ms, 7),
            now,
            start: now,
        }
    }

    /// Like [`Sim::new`], with the live state kept by `live` (what other nodes share).
    pub fn with_live_store(config: Snapshot, live: Box<dyn call_control::LiveStore>) -> Sim {
        let now = Instant::now();
        Sim {
            cc: CallControl::with_stores(
                Arc::new(config),
                now,
                MONDAY_10_OSLO_MS,
                live,
                Box::new(switchboard_routing::queue::Acd::new(7)),
            ),
            now,
            start: now,
        }
    }

    /// Simulated time since the start.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn event(&mut self, e: CallEvent) -> Vec<Output> {
        self.cc.handle_call_event(self.now, e);
        self.drain()
    }

    pub fn media(&mut self, m: MediaInput) -> Vec<Output> {
        self.cc.handle_media_event(self.now, m);
        self.drain()
    }

    pub fn key(&mut self, leg: u64, digit: char) -> Vec<Output> {
        self.media(MediaInput::Dtmf {
            leg: LegId(leg),
            digit,
        })
    }

    pub fn played(&mut self, leg: u64) -> Vec<Output> {
        self.media(MediaInput::PlaybackFinished {
            leg: LegId(leg),
            interrupted_by: None,
        })
    }

    /// Moves the clock on by `d`, running every timer that falls due on the way, at its time.
    pub fn advance(&mut self, d: Duration) -> Vec<Output> {
        let until = self.now + d;
        let mut out = Vec::new();
        while let Some(at) = self.cc.poll_timeout().filter(|&t| t <= until) {
            self.now = self.now.max(at);
            self.cc.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = until;
        out
    }

    pub fn drain(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.cc.poll_output()).collect()
    }

    pub fn incoming_from_trunk(&mut self, call: u64, to: &str) -> Vec<Output> {
        self.incoming(call, Caller::Trunk, CITIZEN, to)
    }

    pub fn incoming(&mut self, call: u64, caller: Caller, from: &str, to: &str) -> Vec<Output> {
        self.event(CallEvent::Incoming {
            call: CallRef(call),
            call_id: format!("call-{call}"),
            caller,
            from_user: from.to_string(),
            to_user: to.to_string(),
            source: Peer {
                transport: TransportKind::Udp,
                addr: "127.0.0.1:5060".parse().expect("address"),
                connection: None,
            },
            caller_id_request: None,
        })
    }

    pub fn answered_locally(&mut self, call: u64, leg: u64) -> Vec<Output> {
        self.event(CallEvent::AnsweredLocally {
            call: CallRef(call),
            leg: LegId(leg),
            codec: ("PCMA".to_string(), 8),
        })
    }

    pub fn answered(&mut self, call: u64, by: &str) -> Vec<Output> {
        self.event(CallEvent::Answered {
            call: CallRef(call),
            by: by.into(),
        })
    }

    pub fn failed(&mut self, call: u64, label: &str, status: u16, last: bool) -> Vec<Output> {
        self.event(CallEvent::BranchFailed {
            call: CallRef(call),
            label: label.into(),
            status,
            last,
        })
    }

    /// A call from the trunk to `to`, answered by `by` (a branch as records show it), talked for
    /// `talk` and hung up by the caller.
    pub fn talk(&mut self, call: u64, to: &str, by: &str, talk: Duration) {
        self.incoming_from_trunk(call, to);
        self.answered(call, by);
        self.advance(talk);
        self.ended(call, Some(by));
    }

    pub fn ended(&mut self, call: u64, answered_by: Option<&str>) -> Vec<Output> {
        let report = CallReport {
            call_id: format!("call-{call}"),
            from: CITIZEN.to_string(),
            to: MAIN.to_string(),
            started: self.start,
            ringing: None,
            answered: None,
            ended: self.now,
            answered_by: answered_by.map(BranchLabel::from),
            cause: "BYE".to_string(),
            side: HangupSide::Caller,
            branches: Vec::new(),
            media_legs: Vec::new(),
        };
        self.event(CallEvent::Ended {
            call: CallRef(call),
            report,
        })
    }
}

/// The SIP commands among `out`.
pub fn sip(out: &[Output]) -> Vec<CallCommand> {
    out.iter()
        .filter_map(|o| match o {
            Output::Sip(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

pub fn media(out: &[Output]) -> Vec<MediaCommand> {
    out.iter()
        .filter_map(|o| match o {
            Output::Media(c) => Some(c.clone()),
            _ => None,
        })
        .collect()
}

pub fn records(out: &[Output]) -> Vec<Record> {
    out.iter()
        .filter_map(|o| match o {
            Output::Record(r) => Some((**r).clone()),
            _ => None,
        })
        .collect()
}

/// The news for receptionists, without the calls' own lifecycle ([`call_notices`] has those).
pub fn notices(out: &[Output]) -> Vec<Notice> {
    all_notices(out)
        .into_iter()
        .filter(|n| !is_call_lifecycle(n))
        .collect()
}

/// Calls started, answered and ended.
pub fn call_notices(out: &[Output]) -> Vec<Notice> {
    all_notices(out)
        .into_iter()
        .filter(is_call_lifecycle)
        .collect()
}

fn is_call_lifecycle(n: &Notice) -> bool {
    matches!(
        n,
        Notice::CallStarted { .. }
            | Notice::CallAnswered { .. }
            | Notice::CallEnded { .. }
            | Notice::AgentStateChanged { .. }
    )
}

fn all_notices(out: &[Output]) -> Vec<Notice> {
    out.iter()
        .filter_map(|o| match o {
            Output::Notice(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// The prompt names played, in order.
pub fn prompts(out: &[Output]) -> Vec<String> {
    media(out)
        .into_iter()
        .flat_map(|m| match m {
            MediaCommand::Play { prompts, .. } => prompts,
            _ => Vec::new(),
        })
        .collect()
}

/// Users rung (`RingMember`) by `out`.
pub fn rung(out: &[Output]) -> Vec<String> {
    sip(out)
        .into_iter()
        .filter_map(|c| match c {
            CallCommand::RingMember { user, .. } => Some(user),
            _ => None,
        })
        .collect()
}

/// Labels of explicit targets rung (`Ring`, `RingTrunk`).
pub fn rung_targets(out: &[Output]) -> Vec<String> {
    sip(out)
        .into_iter()
        .flat_map(|c| match c {
            CallCommand::Ring { targets, .. } | CallCommand::RingTrunk { targets, .. } => {
                targets.into_iter().map(|t| t.label.to_string()).collect()
            }
            _ => Vec::new(),
        })
        .collect()
}

// --- configuration builders -------------------------------------------------------------------

pub fn user(name: &str) -> (User, UserCallSettings) {
    (
        User {
            id: 0,
            username: name.to_string(),
            display_name: name.to_string(),
            mobile: None,
            created_at: 0,
        },
        UserCallSettings::default(),
    )
}

/// A user whose mobile rings too, after `delay_secs`.
pub fn cellular_user(name: &str, mobile: &str, delay_secs: i64) -> (User, UserCallSettings) {
    let (mut u, mut s) = user(name);
    u.mobile = Some(mobile.to_string());
    s.ring_cellular = true;
    s.cellular_delay_secs = delay_secs;
    s.confirm_cellular = true;
    (u, s)
}

pub fn number(number: &str, kind: TargetKind, target: &str) -> PublicNumber {
    PublicNumber {
        number: number.to_string(),
        label: "nummer".to_string(),
        target_kind: kind,
        target_ref: target.to_string(),
        priority: 0,
        schedule_id: None,
        closed_kind: None,
        closed_ref: None,
        created_at: 0,
    }
}

pub fn group(id: i64, strategy: HuntStrategy, members: &[&str]) -> HuntGroup {
    HuntGroup {
        id,
        name: format!("group {id}"),
        strategy,
        ring_time_secs: 10,
        timeout_secs: 60,
        busy_policy: BusyPolicy::Skip,
        confirm_cellular: true,
        no_answer_kind: None,
        no_answer_ref: None,
        created_at: 0,
        members: members
            .iter()
            .enumerate()
            .map(|(i, m)| HuntGroupMember {
                username: m.to_string(),
                position: i as i64,
                ring_time_secs: None,
            })
            .collect(),
    }
}

pub fn queue(id: i64, members: &[&str]) -> Queue {
    Queue {
        id,
        name: format!("queue {id}"),
        strategy: QueueStrategy::Linear,
        ring_timeout_secs: 20,
        wrap_up_secs: 0,
        max_callers: None,
        max_wait_secs: None,
        overflow_kind: None,
        overflow_ref: None,
        tier_wait_secs: None,
        auto_pause_after: None,
        announce_every_secs: None,
        first_announce_after_secs: 0,
        service_level_secs: 20,
        join_empty: true,
        leave_empty: false,
        callback_after_secs: None,
        hold_music: HoldMusic::Moh,
        greeting_prompt: None,
        schedule_id: None,
        closed_kind: None,
        closed_ref: None,
        created_at: 0,
        members: members
            .iter()
            .enumerate()
            .map(|(i, m)| QueueMember {
                user: m.to_string(),
                penalty: 0,
                position: i as i64,
            })
            .collect(),
    }
}

pub fn menu(id: i64, json: serde_json::Value) -> Menu {
    Menu {
        id,
        name: format!("menu {id}"),
        config: serde_json::from_value(json).expect("menu"),
        created_at: 0,
    }
}

pub fn trunk(name: &str, priority: i64, port: i64) -> Trunk {
    Trunk {
        id: priority,
        name: name.to_string(),
        host: "127.0.0.1".to_string(),
        port,
        transport: TrunkTransport::Udp,
        priority,
        register: false,
        username: None,
        password_secret: None,
        realm: None,
        inbound_sources: Vec::new(),
        inbound_numbers: Vec::new(),
        max_cps: 0,
        max_calls: 0,
        options_interval_secs: 0,
        enabled: true,
        created_at: 0,
    }
}

/// A configuration with these parts and the main number set.
pub fn config(
    users: Vec<(User, UserCallSettings)>,
    numbers: Vec<PublicNumber>,
    groups: Vec<HuntGroup>,
    queues: Vec<Queue>,
    menus: Vec<Menu>,
    trunks: Vec<Trunk>,
) -> Snapshot {
    let mut s = Snapshot::from_rows(
        numbers,
        Vec::new(),
        Vec::new(),
        groups,
        queues,
        menus,
        Vec::new(),
        trunks,
        Some(MAIN.to_string()),
    );
    for (u, settings) in users {
        s.users.insert(
            u.username,
            UserEntry {
                mobile: u.mobile,
                settings,
            },
        );
    }
    s
}
