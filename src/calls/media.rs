//! The B2BUA's hands on the media runtime, and the final counters of released legs for CDRs.

use std::collections::HashMap;
use std::net::{IpAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sip_core::b2bua::{MediaOp, MediaRelay, MediaUnavailable, ReservedLeg};
use switchboard_media_rt::LegCounters;
use switchboard_media_rt::{LegId, MediaRtError, MediaRuntime, Playlist};
use switchboard_schema::Db;
use tokio::sync::{mpsc, oneshot};

use call_control::{codec_spec, MediaCommand};

use super::prompts::Prompts;

type CountersReply = oneshot::Receiver<Option<LegCounters>>;

/// Final counters of released relay legs, for the CDR: the media thread answers a release with
/// them a moment after the call ends; the replies wait here until call control writes the record.
#[derive(Clone, Default)]
pub struct FinalCounters(Arc<Mutex<HashMap<LegId, CountersReply>>>);

impl FinalCounters {
    fn remove(&self, leg: LegId) -> Option<CountersReply> {
        self.0.lock().ok().and_then(|mut m| m.remove(&leg))
    }

    /// Each leg's final counters, waiting at most half a second for the media thread.
    pub(super) async fn take(&self, legs: &[LegId]) -> Vec<(LegId, Option<LegCounters>)> {
        let mut out = Vec::with_capacity(legs.len());
        for &leg in legs {
            let counters = match self.remove(leg) {
                Some(reply) => tokio::time::timeout(Duration::from_millis(500), reply)
                    .await
                    .ok()
                    .and_then(Result::ok)
                    .flatten(),
                None => None,
            };
            out.push((leg, counters));
        }
        out
    }

    /// Drops the replies of legs whose call has no record to write.
    pub(super) fn forget(&self, legs: &[LegId]) {
        for &leg in legs {
            self.remove(leg);
        }
    }
}

/// The B2BUA's hands on the media runtime, in the SIP task: reserves legs for the endpoint's pool
/// and carries out its media operations. The SIP loop must never wait, so every operation is
/// fire-and-forget; reserving only binds sockets.
pub struct RelayControl {
    pub runtime: Arc<MediaRuntime>,
    pub finals: FinalCounters,
}

impl MediaRelay for RelayControl {
    fn reserve(&mut self) -> Result<ReservedLeg, MediaUnavailable> {
        self.runtime
            .reserve_leg()
            .map(|leg| (leg.id, leg.rtp))
            .map_err(|e| match e {
                MediaRtError::PortsExhausted => MediaUnavailable::NoPorts,
                other => MediaUnavailable::Relay(other.to_string()),
            })
    }

    fn apply(&mut self, op: MediaOp) {
        let done = match op {
            MediaOp::Open { leg, near } => self.runtime.activate_leg(leg, near),
            MediaOp::SetRemote { leg, remote } => self.runtime.set_remote(leg, remote),
            MediaOp::Bridge { a, b } => self.runtime.bridge_now(a, b),
            MediaOp::Transcode { leg, spec } => {
                let spec = spec.and_then(|(from, to)| Some((codec_spec(&from)?, codec_spec(&to)?)));
                self.runtime.set_transcode(leg, spec)
            }
            MediaOp::WebRtc { leg, params } => self.runtime.set_webrtc(leg, *params),
            MediaOp::Release { leg } => self.runtime.release(leg).map(|reply| {
                if let Ok(mut pending) = self.finals.0.lock() {
                    pending.insert(leg, reply);
                }
            }),
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "media operation failed");
        }
    }
}

/// What the media player task is told, in order.
pub(super) enum PlayerOp {
    Command(MediaCommand),
    /// An uploaded prompt changed (`None`: any of them): read it again next time.
    Forget(Option<String>),
}

/// Carries out call control's media commands in the order given. Prompts are named in the
/// commands: an uploaded one is read from the database and decoded once, here, so call control's
/// loop never waits on a query or a WAV decoder.
pub(super) async fn play_commands(
    db: Db,
    media: Arc<MediaRuntime>,
    mut ops: mpsc::UnboundedReceiver<PlayerOp>,
) {
    let mut prompts = Prompts::new();
    while let Some(op) = ops.recv().await {
        let command = match op {
            PlayerOp::Command(c) => c,
            PlayerOp::Forget(Some(name)) => {
                prompts.forget(&name);
                continue;
            }
            PlayerOp::Forget(None) => {
                prompts.forget_all();
                continue;
            }
        };
        match command {
            MediaCommand::Play {
                leg,
                prompts: names,
                mode,
                interruptible,
                codec,
            } => {
                let mut list = Vec::with_capacity(names.len());
                for name in &names {
                    if let Some(p) = prompts.get(&db, name).await {
                        list.push(p);
                    }
                }
                if list.is_empty() {
                    continue;
                }
                if let Err(e) = media.play(leg, Playlist::new(list), mode, interruptible, codec) {
                    tracing::warn!(error = %e, "prompt not played");
                }
            }
            MediaCommand::StopPlayback { leg } => {
                let _ = media.stop_playback(leg);
            }
            MediaCommand::SetDtmf {
                leg,
                forward,
                inband,
            } => {
                let _ = media.set_dtmf(leg, forward, inband);
            }
            MediaCommand::StopRecording { id, leg } => {
                let _ = media.stop_recording(id, leg);
            }
        }
    }
}

/// The address other hosts reach this node at: configured, the listen address, or the source address
/// the kernel picks for the default route (found by connecting a UDP socket; nothing is sent).
pub fn advertised_ip(configured: Option<IpAddr>, listen: IpAddr) -> IpAddr {
    if let Some(ip) = configured {
        return ip;
    }
    if !listen.is_unspecified() {
        return listen;
    }
    UdpSocket::bind("0.0.0.0:0")
        .and_then(|s| {
            s.connect("192.0.2.1:9")?;
            s.local_addr()
        })
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}
