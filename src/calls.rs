//! Call orchestration for the running node: where a new call goes, what happens when everyone it
//! rang failed, and the media relay behind the B2BUA. The SIP core asks through call events; this task
//! answers with transport commands, so database lookups never block the SIP loop.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use sip_core::b2bua::{CallEvent, MediaControl};
use sip_transport::Command;
use switchboard_media_rt::{LegId, MediaRuntime, RemoteMedia};
use switchboard_schema::Db;
use tokio::sync::{mpsc, watch};

/// How long a user's phones ring before the caller hears "not available".
const USER_RING_TIMEOUT: Duration = Duration::from_secs(60);

/// The B2BUA's handle on the media runtime. The SIP loop must never wait, so every command is
/// fire-and-forget; allocation only binds sockets.
pub struct RelayControl(pub Arc<MediaRuntime>);

impl MediaControl for RelayControl {
    fn allocate(&mut self, near: Option<LegId>) -> Result<(LegId, SocketAddr), String> {
        let leg = match near {
            Some(n) => self.0.allocate_leg_near(n),
            None => self.0.allocate_leg(),
        }
        .map_err(|e| e.to_string())?;
        Ok((leg.id, leg.rtp))
    }

    fn set_remote(&mut self, leg: LegId, remote: RemoteMedia) {
        if let Err(e) = self.0.set_remote(leg, remote) {
            tracing::warn!(leg = leg.0, error = %e, "media: set_remote failed");
        }
    }

    fn bridge(&mut self, a: LegId, b: LegId) {
        if let Err(e) = self.0.bridge_now(a, b) {
            tracing::warn!(error = %e, "media: bridge failed");
        }
    }

    fn release(&mut self, leg: LegId) {
        let _ = self.0.release(leg);
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

/// Answers call events until the SIP side closes or the node stops.
pub async fn orchestrate(
    db: Db,
    sip: mpsc::Sender<Command>,
    mut events: mpsc::UnboundedReceiver<CallEvent>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let event = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            e = events.recv() => match e {
                Some(e) => e,
                None => return,
            },
        };
        match event {
            CallEvent::Incoming {
                call,
                call_id,
                from_user,
                to_user,
                source,
            } => {
                let known = match db.get_user(&to_user).await {
                    Ok(u) => u.is_some(),
                    Err(e) => {
                        tracing::error!(%call_id, error = %e, "user lookup failed");
                        false
                    }
                };
                let cmd = if known {
                    tracing::info!(%call_id, from = %from_user, to = %to_user, %source, "call to a user");
                    Command::RingUsers {
                        call,
                        users: vec![to_user],
                        ring_timeout: Some(USER_RING_TIMEOUT),
                    }
                } else {
                    tracing::info!(%call_id, from = %from_user, to = %to_user, "no such number");
                    Command::Reject { call, status: 404 }
                };
                let _ = sip.send(cmd).await;
            }
            CallEvent::BranchFailed {
                call, status, last, ..
            } => {
                if last {
                    // Busy everywhere is busy; anything else (no answer, declined) is unavailable.
                    let status = if status == 486 || status == 600 {
                        486
                    } else {
                        480
                    };
                    let _ = sip.send(Command::Reject { call, status }).await;
                }
            }
            CallEvent::Answered { by, .. } => tracing::info!(%by, "call answered"),
            CallEvent::Ended { report, .. } => tracing::info!(
                call_id = %report.call_id,
                from = %report.from,
                to = %report.to,
                answered_by = report.answered_by.as_deref().unwrap_or("-"),
                cause = %report.cause,
                side = ?report.side,
                "call ended"
            ),
        }
    }
}
