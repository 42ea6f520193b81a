//! Call orchestration for the running node: where a new call goes, what happens when everyone it
//! rang failed, and the media relay behind the B2BUA. The SIP core asks through call events; this task
//! answers with transport commands, so database lookups never block the SIP loop.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mobile_api::{CallRequest, ConfigChanged, QueueRequest};
use sip_core::b2bua::{CallEvent, CallRef, Caller, RingTarget};
use sip_transport::Command;
use switchboard_media_rt::{LegId, MediaRuntime};
use switchboard_media_rt::{MediaEvent, PlayMode, Playlist, RelayEvent};
use switchboard_routing::hunt::{GroupState, HuntCall, Leg};
use switchboard_schema::Db;
use switchboard_schema::TargetKind;
use switchboard_schema::{CallDirection, CdrAnswer, CdrOpen};
use tokio::sync::{broadcast, mpsc, watch};

mod cdr;
mod citizen;
mod hunt;
mod local;
mod media;
mod prompts;
mod recording;
mod routes;

use cdr::CdrOp;
use citizen::{Citizen, Start};
use hunt::fail_reason;
pub use media::{advertised_ip, codec_spec, FinalCounters, RelayControl};
pub use routes::sync_trunk_sources;
use routes::{route, route_from_user, take_trunk, Route};

/// How long a user's phones ring before the caller hears "not available".
const USER_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// A hunt in progress for one call.
struct ActiveHunt {
    group_id: i64,
    hunt: HuntCall,
    /// Members' mobile numbers, for their cellular legs.
    mobiles: HashMap<String, String>,
}

/// A cellular leg that answered and must press 1.
struct Confirmation {
    call: CallRef,
    label: String,
    deadline: Instant,
}

/// Branch labels name the member and, for a mobile, the leg: `1005` or `1005/cellular`.
const CELLULAR: &str = "/cellular";

fn parse_label(label: &str) -> (String, Leg) {
    match label.strip_suffix(CELLULAR) {
        Some(member) => (member.to_string(), Leg::Cellular),
        None => (label.to_string(), Leg::App),
    }
}

/// How often the queues' agent and caller states are checked against the calls in progress.
const RECONCILE_EVERY: Duration = Duration::from_secs(30);

/// How long a transfer target rings before the transferor hears it failed.
const TRANSFER_RING_TIMEOUT: Duration = Duration::from_secs(30);

/// Music on hold: the prompt set's (an upload of the same name replaces it).
const MUSIC_ON_HOLD: &str = switchboard_media::prompts::MUSIC_ON_HOLD;

/// Call control's own state: hunts in progress, what each group remembers between calls, and
/// the CDR row of every call in progress.
struct Orchestrator {
    hunts: HashMap<CallRef, ActiveHunt>,
    groups: HashMap<i64, GroupState>,
    /// Call records, written by their own task.
    cdr: mpsc::UnboundedSender<CdrOp>,
    media: Arc<MediaRuntime>,
    confirmations: HashMap<LegId, Confirmation>,
    /// Staff in a call, and through which calls: a hunt group skips (or rings anyway, as it is
    /// configured) a member who is already talking.
    talking: HashMap<CallRef, Vec<String>>,
    /// Trunks still to try for calls out, in priority order.
    failover: HashMap<CallRef, VecDeque<RingTarget>>,
    /// Menus, queues and messages: calls we answer ourselves.
    citizen: Citizen,
    /// Who placed each call in progress (a callback goes back to this number).
    callers: HashMap<CallRef, String>,
    /// Legs still ringing for a queue offer (the member's app and, if they chose so, mobile): the
    /// queue hears of a failed offer only when all have failed.
    offer_legs: HashMap<(CallRef, String), u8>,
    /// Queue offers' mobile legs waiting for the member's cellular delay.
    delayed_mobiles: Vec<local::DelayedMobile>,
    /// Calls in progress for the admin API, and their recordings.
    live: recording::LiveCalls,
}

impl Orchestrator {
    fn is_talking(&self, user: &str) -> bool {
        self.talking.values().flatten().any(|u| u == user)
    }
}

/// What call control listens to: the SIP side's call events, the media threads' events and the
/// admin API's questions about live queues.
pub struct Inputs {
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    pub queue_requests: mpsc::Receiver<QueueRequest>,
    /// The admin API's change notices (uploaded prompts are cached here).
    pub config_changes: broadcast::Receiver<ConfigChanged>,
    /// Where call control publishes news for receptionists (the API's `/events`).
    pub live_events: broadcast::Sender<mobile_api::LiveEvent>,
    /// The admin API's questions about calls in progress and recording commands.
    pub call_requests: mpsc::Receiver<CallRequest>,
    /// Where recordings are written (and nowhere else).
    pub recordings_dir: std::path::PathBuf,
}

/// Answers call events until the SIP side closes or the node stops.
pub async fn orchestrate(
    db: Db,
    sip: mpsc::Sender<Command>,
    inputs: Inputs,
    media: Arc<MediaRuntime>,
    finals: FinalCounters,
    mut stop: watch::Receiver<bool>,
) {
    let Inputs {
        mut events,
        mut media_events,
        mut queue_requests,
        mut config_changes,
        live_events,
        mut call_requests,
        recordings_dir,
    } = inputs;
    let (cdr_tx, cdr_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(cdr::write_records(db.clone(), finals, cdr_rx));
    let mut o = Orchestrator {
        hunts: HashMap::new(),
        groups: HashMap::new(),
        cdr: cdr_tx,
        media,
        confirmations: HashMap::new(),
        talking: HashMap::new(),
        failover: HashMap::new(),
        citizen: Citizen::new(rand::random(), live_events),
        callers: HashMap::new(),
        offer_legs: HashMap::new(),
        delayed_mobiles: Vec::new(),
        live: recording::LiveCalls::new(&db, recordings_dir).await,
    };
    let mut next_reconcile = Instant::now() + RECONCILE_EVERY;
    let mut config_open = true;
    loop {
        let next_timer = o
            .hunts
            .values()
            .filter_map(|h| h.hunt.poll_timeout())
            .chain(o.confirmations.values().map(|c| c.deadline))
            .chain(o.citizen.poll_timeout())
            .chain(o.delayed_mobiles.iter().map(|d| d.at))
            .chain(std::iter::once(next_reconcile))
            .min();
        let timer = async {
            match next_timer {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let stopped = async {
            let _ = stop.wait_for(|s| *s).await;
        };
        tokio::select! {
            _ = stopped => break,
            _ = timer => {
                let now = Instant::now();
                let due: Vec<CallRef> = o
                    .hunts
                    .iter()
                    .filter(|(_, h)| h.hunt.poll_timeout().is_some_and(|t| t <= now))
                    .map(|(c, _)| *c)
                    .collect();
                for call in due {
                    if let Some(h) = o.hunts.get_mut(&call) {
                        h.hunt.handle_timeout(now);
                    }
                    o.carry_out(&db, &sip, call).await;
                }
                let expired: Vec<LegId> = o
                    .confirmations
                    .iter()
                    .filter(|(_, c)| c.deadline <= now)
                    .map(|(l, _)| *l)
                    .collect();
                for leg in expired {
                    tracing::info!(leg = leg.0, "no key pressed: cellular leg released");
                    o.end_confirmation(&sip, leg, false).await;
                }
                o.ring_delayed_mobiles(&sip, now).await;
                let media = o.media.clone();
                o.citizen.handle_timeout(&db, &media, now).await;
                if now >= next_reconcile {
                    next_reconcile = now + RECONCILE_EVERY;
                    o.reconcile_queues(&db, &media).await;
                }
                o.citizen_todo(&db, &sip).await;
            }
            m = media_events.recv() => {
                let media = o.media.clone();
                if let Some(MediaEvent::Relay(RelayEvent::Dtmf { leg, digit, .. })) = m {
                    if o.confirmations.contains_key(&leg) {
                        tracing::info!(leg = leg.0, %digit, "confirmation key");
                        o.end_confirmation(&sip, leg, digit == '1').await;
                    } else if o.citizen.owns_leg(leg) {
                        o.citizen.digit(&db, &media, leg, digit).await;
                        o.citizen_todo(&db, &sip).await;
                    }
                } else if let Some(MediaEvent::Relay(RelayEvent::PlaybackFinished { leg, interrupted_by })) = m {
                    if o.citizen.owns_leg(leg) {
                        o.citizen.playback_done(&db, &media, leg, interrupted_by).await;
                        o.citizen_todo(&db, &sip).await;
                    }
                } else if let Some(MediaEvent::Relay(RelayEvent::MediaTimeout { leg })) = m {
                    tracing::info!(leg = leg.0, "no media from a leg");
                    let _ = sip.send(Command::MediaTimeout { leg }).await;
                } else if let Some(MediaEvent::RecordingFinished { id, bytes, .. }) = m {
                    o.live.finished(&db, id, bytes).await;
                } else if let Some(e) = m {
                    tracing::debug!(event = ?e, "media");
                }
            }
            e = events.recv() => match e {
                Some(event) => o.handle(&db, &sip, event).await,
                None => break,
            },
            change = config_changes.recv(), if config_open => match change {
                Ok(ConfigChanged::Prompt(name)) => o.citizen.prompts_changed(Some(&name)),
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => o.citizen.prompts_changed(None),
                // The API is gone (shutdown): nothing more will change.
                Err(broadcast::error::RecvError::Closed) => config_open = false,
            },
            Some(request) = queue_requests.recv() => {
                let media = o.media.clone();
                o.citizen.handle_request(&db, &media, request).await;
                o.citizen_todo(&db, &sip).await;
            }
            Some(request) = call_requests.recv() => {
                let media = o.media.clone();
                o.live.handle(&db, &sip, &media, request).await;
            }
        }
    }
    // Records still being written are finished: the writer ends when call control's sender goes.
    drop(o);
    let _ = writer.await;
}

impl Orchestrator {
    async fn handle(&mut self, db: &Db, sip: &mpsc::Sender<Command>, event: CallEvent) {
        match event {
            CallEvent::Incoming {
                call,
                call_id,
                caller,
                from_user,
                to_user,
                source,
                caller_id_request,
            } => {
                tracing::info!(%call_id, ?caller, from = %from_user, to = %to_user, %source, "incoming call");
                self.callers.insert(call, from_user.clone());
                let shown = match &caller {
                    Caller::User(user) => user.as_str(),
                    Caller::Trunk => from_user.as_str(),
                };
                self.live.incoming(call, &call_id, shown, &to_user);
                let route = match &caller {
                    Caller::Trunk => route(db, &to_user).await,
                    Caller::User(user) => {
                        self.talking.entry(call).or_default().push(user.clone());
                        route_from_user(db, user, &to_user, caller_id_request.as_deref()).await
                    }
                };
                self.open_cdr(call, &call_id, &caller, &from_user, &to_user, &route);
                match route {
                    Route::Trunk { number, trunks } => {
                        let mut trunks: VecDeque<RingTarget> = trunks.into();
                        if let Some(first) = take_trunk(sip, call, &mut trunks).await {
                            tracing::info!(%call_id, %number, trunk = %first.label, "call out through the trunk");
                            let _ = sip
                                .send(Command::Ring {
                                    call,
                                    targets: vec![first],
                                })
                                .await;
                        } else {
                            tracing::info!(%call_id, %number, "no trunk can take the call");
                            let _ = sip.send(Command::Reject { call, status: 503 }).await;
                        }
                        if !trunks.is_empty() {
                            self.failover.insert(call, trunks);
                        }
                    }
                    Route::User(user) => {
                        tracing::info!(%call_id, %user, "call to a user");
                        let _ = sip
                            .send(Command::RingMember {
                                call,
                                user,
                                ring_timeout: Some(USER_RING_TIMEOUT),
                            })
                            .await;
                    }
                    Route::Group(group) => {
                        tracing::info!(%call_id, group = %group.name, "call to a hunt group");
                        self.start_hunt(db, sip, call, &group).await;
                    }
                    Route::Queue(q, p) => self.answer_locally(sip, call, Start::Queue(q, p)).await,
                    Route::Menu(m, p) => self.answer_locally(sip, call, Start::Menu(m, p)).await,
                    Route::Message(p) => self.answer_locally(sip, call, Start::Message(p)).await,
                    Route::Reject(status) => {
                        tracing::info!(%call_id, status, "call not routed");
                        let _ = sip.send(Command::Reject { call, status }).await;
                    }
                }
            }
            CallEvent::AnsweredLocally { call, leg, codec } => {
                self.live.answered_locally(call);
                let media = self.media.clone();
                if self.citizen.is_callback(call) {
                    self.citizen.callback_agent_answered(db, &media, call).await;
                } else {
                    self.citizen.answered(db, &media, call, leg, codec).await;
                }
                self.citizen_todo(db, sip).await;
            }
            CallEvent::BranchFailed {
                call,
                label,
                status,
                last,
            } => {
                let trunk_trouble = status == 408 || (500..600).contains(&status);
                let next = match self.failover.get_mut(&call).filter(|_| trunk_trouble) {
                    Some(queue) => take_trunk(sip, call, queue).await,
                    None => None,
                };
                if let Some(next) = next {
                    tracing::info!(failed = %label, status, next = %next.label, "trunk failover");
                    let _ = sip
                        .send(Command::Ring {
                            call,
                            targets: vec![next],
                        })
                        .await;
                    return;
                }
                let media = self.media.clone();
                if let Some(h) = self.hunts.get_mut(&call) {
                    let (member, leg) = parse_label(&label);
                    h.hunt
                        .handle_failed(&member, leg, fail_reason(status), Instant::now());
                    self.carry_out(db, sip, call).await;
                } else if self.queue_leg_failed(call, &label) {
                    // The member's other leg (app or mobile) still rings for this offer.
                } else if self
                    .citizen
                    .ring_failed(db, &media, call, &parse_label(&label).0)
                    .await
                {
                    self.citizen_todo(db, sip).await;
                } else if last {
                    // Busy everywhere is busy; anything else (no answer, declined) is unavailable.
                    let status = if status == 486 || status == 600 {
                        486
                    } else {
                        480
                    };
                    let _ = sip.send(Command::Reject { call, status }).await;
                }
            }
            CallEvent::Answered { call, by } => {
                tracing::info!(%by, "call answered");
                self.live.answered(call, &by);
                let (member, _) = parse_label(&by);
                self.talking.entry(call).or_default().push(member.clone());
                let queued = self.citizen.queue_of(call);
                self.offer_legs.retain(|(c, _), _| *c != call);
                if self.citizen.is_callback(call) {
                    tracing::info!(
                        call = call.0,
                        "callback connected: agent and citizen bridged"
                    );
                } else if self.citizen.is_local(call) {
                    let media = self.media.clone();
                    self.citizen.answered_by(db, &media, call, &member).await;
                    self.citizen_todo(db, sip).await;
                } else {
                    self.citizen.agent_busy(&member, true);
                }
                let answer = CdrAnswer {
                    answered_at_ms: unix_ms(),
                    answered_by: by.clone(),
                    ring_time_ms: 0,
                    queue_id: queued.map(|(q, _)| q as i64),
                    queue_wait_ms: queued.map(|(_, at)| at.elapsed().as_millis() as i64),
                };
                let _ = self.cdr.send(CdrOp::Answered { call, answer });
                if let Some(h) = self.hunts.get_mut(&call) {
                    let (member, leg) = parse_label(&by);
                    h.hunt.handle_answered(&member, leg, Instant::now());
                    self.carry_out(db, sip, call).await;
                }
            }
            CallEvent::Confirming {
                call,
                label,
                leg,
                codec,
            } => self.start_confirmation(db, call, label, leg, codec).await,
            CallEvent::Held { call, leg, codec } => {
                tracing::info!(call = call.0, "on hold: music on hold");
                self.play_music_on_hold(db, leg, &codec).await;
            }
            CallEvent::Resumed { call, leg } => {
                tracing::info!(call = call.0, "resumed");
                let _ = self.media.stop_playback(leg);
            }
            CallEvent::TransferRequested {
                call,
                by,
                target,
                hold_leg,
                codec,
            } => {
                self.play_music_on_hold(db, hold_leg, &codec).await;
                let (transferor, _) = parse_label(&by);
                tracing::info!(%transferor, %target, "transfer requested");
                self.ring_transfer_target(db, sip, call, &transferor, &target)
                    .await;
            }
            CallEvent::Transferred {
                call,
                from,
                to,
                hold_leg,
            } => {
                let _ = self.media.stop_playback(hold_leg);
                let (from, _) = parse_label(&from);
                let (to, _) = parse_label(&to);
                tracing::info!(%from, %to, "call transferred");
                self.live.answered(call, &to);
                if let Some(members) = self.talking.get_mut(&call) {
                    members.retain(|m| *m != from);
                    members.push(to);
                }
            }
            CallEvent::TransferFailed {
                call: _,
                status,
                hold_leg,
            } => {
                let _ = self.media.stop_playback(hold_leg);
                tracing::info!(status, "transfer failed");
            }
            CallEvent::Ended { call, report } => {
                let _ = sip.send(Command::TrunkRelease { call }).await;
                self.confirmations.retain(|_, c| c.call != call);
                let media = self.media.clone();
                self.live.ended(&media, call);
                let answered_by = report.answered_by.as_deref().map(|l| parse_label(l).0);
                self.callers.remove(&call);
                self.offer_legs.retain(|(c, _), _| *c != call);
                let mut queue = None;
                if self.citizen.is_local(call) || self.citizen.is_callback(call) {
                    queue = self
                        .citizen
                        .ended(db, &media, call, answered_by.as_deref())
                        .await;
                    self.citizen_todo(db, sip).await;
                } else {
                    for member in self.talking.get(&call).into_iter().flatten() {
                        self.citizen.agent_busy(member, false);
                    }
                }
                self.talking.remove(&call);
                self.failover.remove(&call);
                let _ = self.cdr.send(CdrOp::Closed {
                    call,
                    report: report.clone(),
                    queue,
                });
                if let Some(h) = self.hunts.remove(&call) {
                    if let (Some(by), Some(state)) = (
                        report.answered_by.as_ref(),
                        self.groups.get_mut(&h.group_id),
                    ) {
                        state.record_call_end(by, Instant::now());
                    }
                }
                tracing::info!(
                    call_id = %report.call_id,
                    from = %report.from,
                    to = %report.to,
                    answered_by = report.answered_by.as_deref().unwrap_or("-"),
                    cause = %report.cause,
                    side = ?report.side,
                    "call ended"
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn open_cdr(
        &mut self,
        call: CallRef,
        call_id: &str,
        caller: &Caller,
        from: &str,
        to: &str,
        route: &Route,
    ) {
        let direction = match (caller, route) {
            (Caller::Trunk, _) => CallDirection::Inbound,
            (Caller::User(_), Route::Trunk { .. }) => CallDirection::Outbound,
            (Caller::User(_), _) => CallDirection::Internal,
        };
        let (target_kind, target_ref) = match route {
            Route::User(u) => (Some(TargetKind::User), Some(u.clone())),
            Route::Group(g) => (Some(TargetKind::HuntGroup), Some(g.id.to_string())),
            Route::Queue(q, _) => (Some(TargetKind::Queue), Some(q.id.to_string())),
            Route::Menu(m, _) => (Some(TargetKind::Menu), Some(m.id.to_string())),
            Route::Message(p) => (Some(TargetKind::Message), Some(p.clone())),
            Route::Trunk { .. } | Route::Reject(_) => (None, None),
        };
        let from = match caller {
            Caller::User(u) => u.clone(),
            Caller::Trunk => from.to_string(),
        };
        let open = CdrOpen {
            call_id: call_id.to_string(),
            direction,
            from_number: from,
            to_number: to.to_string(),
            target_kind,
            target_ref,
            started_at_ms: unix_ms(),
        };
        let _ = self.cdr.send(CdrOp::Open { call, open });
    }

    /// Loops music on hold to `leg`'s far end (a held or transferred caller).
    async fn play_music_on_hold(&mut self, db: &Db, leg: LegId, codec: &(String, u8)) {
        let music = self.citizen.prompt(db, MUSIC_ON_HOLD).await;
        if let (Some(music), Some(spec)) = (music, codec_spec(codec)) {
            if let Err(e) =
                self.media
                    .play(leg, Playlist::new([music]), PlayMode::Loop, false, spec)
            {
                tracing::warn!(error = %e, "music on hold not played");
            }
        }
    }

    /// Rings where a transferor sent its caller: an extension or a number, dialled as the transferor
    /// would (its permissions apply). Anything else fails the transfer.
    async fn ring_transfer_target(
        &mut self,
        db: &Db,
        sip: &mpsc::Sender<Command>,
        call: CallRef,
        transferor: &str,
        target: &str,
    ) {
        let cmd = match route_from_user(db, transferor, target, None).await {
            Route::User(user) => Command::RingMember {
                call,
                user,
                ring_timeout: Some(TRANSFER_RING_TIMEOUT),
            },
            Route::Trunk { trunks, .. } => {
                let mut trunks: VecDeque<RingTarget> = trunks.into();
                match take_trunk(sip, call, &mut trunks).await {
                    Some(first) => Command::Ring {
                        call,
                        targets: vec![first],
                    },
                    None => Command::Reject { call, status: 503 },
                }
            }
            // A hunt group reached by a transfer would need the hunt to report to the transfer,
            // not to a ringing call; not supported yet.
            // A menu, queue or group: Switchboard takes the caller back and carries on as if the
            // caller had dialled it.
            Route::Group(group) => {
                self.take_back(sip, call, Start::Handed, transferor).await;
                return self.start_hunt(db, sip, call, &group).await;
            }
            Route::Queue(q, p) => {
                return self
                    .take_back(sip, call, Start::Queue(q, p), transferor)
                    .await;
            }
            Route::Menu(m, p) => {
                return self
                    .take_back(sip, call, Start::Menu(m, p), transferor)
                    .await
            }
            Route::Message(p) => {
                return self
                    .take_back(sip, call, Start::Message(p), transferor)
                    .await;
            }
            Route::Reject(status) => Command::Reject { call, status },
        };
        let _ = sip.send(cmd).await;
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
