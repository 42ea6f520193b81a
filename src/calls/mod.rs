//! Call control's runtime shell: feeds the sans-IO [`CallControl`] core from the SIP side's call
//! events, the relay's events, the admin API's requests and configuration changes and its own
//! timer, and carries out what the core outputs — commands to the SIP core, media commands (a
//! player task resolves prompt names), call-record writes (a writer task), and news for
//! receptionists. Nothing here decides where a call goes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use call_control::{
    CallControl, CallView, CallViewState, MediaInput, Notice, Output, RecordingRefusal, Snapshot,
};
use mobile_api::{CallRequest, ConfigChanged, LiveCall, LiveCallState, LiveEvent, QueueRequest};
use sip_core::b2bua::CallEvent;
use sip_transport::Command;
use switchboard_media_rt::{MediaEvent, MediaRuntime, RelayEvent};
use switchboard_schema::Db;
use tokio::sync::{broadcast, mpsc, watch};

mod cdr;
mod media;
mod prompts;
mod recording;
mod snapshot;
mod trunks;

use media::PlayerOp;
pub use media::{advertised_ip, FinalCounters, RelayControl};
pub use trunks::sync_trunk_sources;

/// How often the configuration version is read, to notice writes the admin API did not announce
/// (the CLI, another node, psql).
const CONFIG_POLL: Duration = Duration::from_secs(2);

/// What call control listens to: the SIP side's call events, the media threads' events and the
/// admin API's questions and change notices.
pub struct Inputs {
    pub events: mpsc::UnboundedReceiver<CallEvent>,
    pub media_events: mpsc::UnboundedReceiver<MediaEvent>,
    pub queue_requests: mpsc::Receiver<QueueRequest>,
    /// The admin API's change notices: the snapshot is reloaded, uploaded prompts read again.
    pub config_changes: broadcast::Receiver<ConfigChanged>,
    /// Where call control publishes news for receptionists (the API's `/events`).
    pub live_events: mobile_api::EventHub,
    /// The admin API's questions about calls in progress and recording commands.
    pub call_requests: mpsc::Receiver<CallRequest>,
    /// Where recordings are written (and nowhere else).
    pub recordings_dir: std::path::PathBuf,
}

/// The shell's hands: where the core's outputs go.
struct Hands {
    sip: mpsc::Sender<Command>,
    player: mpsc::UnboundedSender<PlayerOp>,
    records: mpsc::UnboundedSender<call_control::Record>,
    live: mobile_api::EventHub,
}

impl Hands {
    async fn carry_out(&self, core: &mut CallControl) {
        while let Some(output) = core.poll_output() {
            match output {
                Output::Sip(command) => {
                    let _ = self.sip.send(Command::Call(command)).await;
                }
                Output::Media(command) => {
                    let _ = self.player.send(PlayerOp::Command(command));
                }
                Output::Record(record) => {
                    let _ = self.records.send(*record);
                }
                // Nobody listening is fine.
                Output::Notice(notice) => {
                    self.live.publish(live_event(notice));
                }
            }
        }
    }
}

/// Runs call control until the SIP side closes or the node stops.
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
    close_unfinished_recordings(&db).await;
    let (records_tx, records_rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(cdr::write_records(db.clone(), finals, records_rx));
    let (player_tx, player_rx) = mpsc::unbounded_channel();
    let player = tokio::spawn(media::play_commands(db.clone(), media.clone(), player_rx));
    let hands = Hands {
        sip: sip.clone(),
        player: player_tx,
        records: records_tx,
        live: live_events,
    };
    let recorder = recording::Recorder {
        db: db.clone(),
        sip,
        media,
        dir: recordings_dir,
    };
    let (started_tx, mut started_rx) = mpsc::unbounded_channel();

    let mut version = db.config_version().await.unwrap_or(0);
    let config = match snapshot::load(&db).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "call routing configuration not loaded: every call is refused until it is");
            Snapshot::default()
        }
    };
    let _ = hands
        .sip
        .send(Command::SetSrtpPolicies(snapshot::srtp_policies(&config)))
        .await;
    let (now, now_unix_ms) = sip_transport::now_pair();
    let mut core = CallControl::new(
        Arc::new(config),
        now,
        i64::try_from(now_unix_ms).unwrap_or(i64::MAX),
        rand::random(),
    );
    let mut config_open = true;
    let (written_tx, mut written_elsewhere) = mpsc::channel(1);
    let watcher = tokio::spawn(watch_config_version(
        db.clone(),
        version,
        written_tx,
        stop.clone(),
    ));
    loop {
        let deadline = core.poll_timeout();
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        let stopped = async {
            let _ = stop.wait_for(|s| *s).await;
        };
        // Configuration first: a change the API confirmed is in force for the next call.
        tokio::select! {
            biased;
            _ = stopped => break,
            change = config_changes.recv(), if config_open => {
                let reload = match change {
                    Ok(ConfigChanged::Prompt(name)) => {
                        let _ = hands.player.send(PlayerOp::Forget(Some(name)));
                        false
                    }
                    Ok(_) => true,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = hands.player.send(PlayerOp::Forget(None));
                        true
                    }
                    // The API is gone (shutdown): nothing more will change through it.
                    Err(broadcast::error::RecvError::Closed) => {
                        config_open = false;
                        false
                    }
                };
                if reload {
                    reload_config(&db, &mut core, &mut version, &hands.sip).await;
                }
            }
            Some(v) = written_elsewhere.recv() => {
                if v != version {
                    // Uploaded prompts may have changed too.
                    let _ = hands.player.send(PlayerOp::Forget(None));
                    reload_config(&db, &mut core, &mut version, &hands.sip).await;
                }
            }
            e = events.recv() => match e {
                Some(event) => core.handle_call_event(Instant::now(), event),
                None => break,
            },
            Some(m) = media_events.recv() => {
                if let Some(input) = media_input(m) {
                    core.handle_media_event(Instant::now(), input);
                }
            }
            Some(request) = queue_requests.recv() => answer_queue_request(&mut core, request),
            Some(request) = call_requests.recv() => {
                answer_call_request(&mut core, &recorder, &started_tx, request);
            }
            Some(started) = started_rx.recv() => {
                let recording::Started { call, result, reply } = started;
                let answer = match result {
                    Ok((rec, leg)) => {
                        core.recording_started(call, rec.id, leg);
                        Ok(rec)
                    }
                    Err(refusal) => {
                        if let RecordingRefusal::Failed(why) = &refusal {
                            tracing::warn!(call, %why, "recording not started");
                        }
                        core.recording_not_started(call);
                        Err(refusal)
                    }
                };
                let _ = reply.send(answer);
            }
            _ = timer => core.handle_timeout(Instant::now()),
        }
        hands.carry_out(&mut core).await;
    }
    // Records still being written are finished: the writer ends when its sender goes.
    drop(core);
    drop(hands);
    let _ = watcher.await;
    let _ = player.await;
    let _ = writer.await;
}

/// Tells call control when the configuration version moved away from what it loaded last (the
/// reader is off the loop, so a slow database never holds up a call).
async fn watch_config_version(
    db: Db,
    mut seen: i64,
    changed: mpsc::Sender<i64>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CONFIG_POLL) => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        if let Ok(v) = db.config_version().await {
            if v != seen && changed.send(v).await.is_ok() {
                seen = v;
            }
        }
    }
}

/// Reads the configuration again and hands it to the core; the version read first, so a write
/// that lands during the load is noticed by the next poll.
async fn reload_config(
    db: &Db,
    core: &mut CallControl,
    version: &mut i64,
    sip: &mpsc::Sender<Command>,
) {
    let seen = db.config_version().await.unwrap_or(*version);
    match snapshot::load(db).await {
        Ok(s) => {
            let _ = sip
                .send(Command::SetSrtpPolicies(snapshot::srtp_policies(&s)))
                .await;
            core.handle_config(Arc::new(s));
            *version = seen;
        }
        Err(e) => {
            tracing::warn!(error = %e, "call routing configuration not reloaded: the last one stays")
        }
    }
}

/// Recordings the database still shows as running were cut short when the node last stopped:
/// they are closed now, so they can be fetched and deleted.
async fn close_unfinished_recordings(db: &Db) {
    let (_, now_unix_ms) = sip_transport::now_pair();
    match db
        .close_unfinished_recordings(i64::try_from(now_unix_ms).unwrap_or(i64::MAX))
        .await
    {
        Ok(0) => {}
        Ok(n) => tracing::warn!(
            recordings = n,
            "recordings cut short by the last stop closed"
        ),
        Err(e) => tracing::warn!(error = %e, "unfinished recordings not closed"),
    }
}

fn media_input(event: MediaEvent) -> Option<MediaInput> {
    Some(match event {
        MediaEvent::Relay(RelayEvent::Dtmf { leg, digit, .. }) => MediaInput::Dtmf { leg, digit },
        MediaEvent::Relay(RelayEvent::PlaybackFinished {
            leg,
            interrupted_by,
        }) => MediaInput::PlaybackFinished {
            leg,
            interrupted_by,
        },
        MediaEvent::Relay(RelayEvent::MediaTimeout { leg }) => MediaInput::MediaTimeout { leg },
        MediaEvent::RecordingFinished { id, bytes, .. } => {
            MediaInput::RecordingFinished { id, bytes }
        }
        MediaEvent::Relay(other) => {
            tracing::debug!(event = ?other, "media");
            return None;
        }
    })
}

fn answer_queue_request(core: &mut CallControl, request: QueueRequest) {
    let now = Instant::now();
    match request {
        QueueRequest::Snapshot { queue, reply } => {
            let _ = reply.send(core.queue_snapshot(now, queue));
        }
        QueueRequest::Stats { reply } => {
            let mut stats = core.queue_stats();
            let toll = core.toll_stats();
            stats["toll"] = serde_json::json!({
                "blocked_users": core.toll_blocks().len(),
                "blocks": toll.blocks,
                "refused": toll.refused,
            });
            let _ = reply.send(stats);
        }
        QueueRequest::SetAgentState { user, state, reply } => {
            core.set_agent_state(now, &user, state);
            let _ = reply.send(Ok(()));
        }
        QueueRequest::Staff { users, reply } => {
            let _ = reply.send(core.staff_status(&users));
        }
        QueueRequest::SetPresence {
            user,
            presence,
            reply,
        } => {
            core.set_presence(now, &user, presence);
            let _ = reply.send(());
        }
    }
}

fn answer_call_request(
    core: &mut CallControl,
    recorder: &recording::Recorder,
    started: &mpsc::UnboundedSender<recording::Started>,
    request: CallRequest,
) {
    match request {
        CallRequest::TollBlocks { reply } => {
            let _ = reply.send(core.toll_blocks());
        }
        CallRequest::ClickToCall {
            user,
            to,
            caller_id,
            reply,
        } => {
            let placed = core.click_to_call(Instant::now(), &user, &to, caller_id.as_deref());
            let _ = reply.send(placed);
        }
        CallRequest::LiftTollBlock { user, reply } => {
            let _ = reply.send(core.lift_toll_block(&user));
        }
        CallRequest::List { reply } => {
            let _ = reply.send(
                core.calls_in_progress()
                    .into_iter()
                    .map(live_call)
                    .collect(),
            );
        }
        CallRequest::StartRecording {
            call,
            layout,
            reply,
        } => match core.begin_recording(call) {
            Err(refusal) => {
                let _ = reply.send(Err(refusal));
            }
            Ok(call_id) => {
                let (_, now_unix_ms) = sip_transport::now_pair();
                let unix_ms = i64::try_from(now_unix_ms).unwrap_or(i64::MAX);
                tokio::spawn(recorder.clone().start(
                    call,
                    call_id,
                    layout,
                    unix_ms,
                    reply,
                    started.clone(),
                ));
            }
        },
        CallRequest::StopRecording { call, reply } => match core.stop_recording(call) {
            Err(refusal) => {
                let _ = reply.send(Err(refusal));
            }
            Ok(id) => {
                let db = recorder.db.clone();
                tokio::spawn(async move {
                    let _ = reply.send(recording::stopped(&db, id).await);
                });
            }
        },
    }
}

fn live_call(v: CallView) -> LiveCall {
    LiveCall {
        id: v.id,
        call_id: v.call_id,
        from: v.from,
        to: v.to,
        state: match v.state {
            CallViewState::Ringing => LiveCallState::Ringing,
            CallViewState::Local => LiveCallState::Local,
            CallViewState::Answered => LiveCallState::Answered,
        },
        answered_by: v.answered_by,
        started_at_ms: v.started_at_ms,
        answered_at_ms: v.answered_at_ms,
        recording: v.recording,
        recording_id: v.recording_id,
        on_hold: v.on_hold,
    }
}

fn live_event(n: Notice) -> LiveEvent {
    match n {
        Notice::CallerQueued {
            queue,
            call,
            caller,
            priority,
            position,
        } => LiveEvent::CallerQueued {
            queue,
            call,
            caller,
            priority,
            position,
        },
        Notice::CallerLeft {
            queue,
            call,
            outcome,
            wait_ms,
        } => LiveEvent::CallerLeft {
            queue,
            call,
            outcome,
            wait_ms,
        },
        Notice::AgentAutoPaused {
            user,
            queue,
            missed,
        } => LiveEvent::AgentAutoPaused {
            user,
            queue,
            missed,
        },
        Notice::CallbackRequested {
            queue,
            call,
            number,
        } => LiveEvent::CallbackRequested {
            queue,
            call,
            number,
        },
        Notice::TollBlocked { user, reason } => LiveEvent::TollBlocked {
            user,
            reason: reason.to_owned(),
        },
        Notice::PresenceChanged { user, status } => LiveEvent::PresenceChanged {
            user,
            status: status.to_owned(),
        },
        Notice::CallStarted { call, from, to } => LiveEvent::CallStarted { call, from, to },
        Notice::CallAnswered { call, by } => LiveEvent::CallAnswered { call, by },
        Notice::CallEnded {
            call,
            from,
            to,
            answered_by,
        } => LiveEvent::CallEnded {
            call,
            from,
            to,
            answered_by,
        },
        Notice::AgentStateChanged {
            user,
            state,
            reason,
        } => LiveEvent::AgentStateChanged {
            user,
            state: state.to_owned(),
            reason,
        },
    }
}
