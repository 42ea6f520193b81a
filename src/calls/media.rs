//! The B2BUA's hands on the media runtime, and the final counters of released legs for CDRs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::time::Duration;

use std::sync::Mutex;

use sip_core::b2bua::MediaControl;
use switchboard_media_rt::LegCounters;
use switchboard_media_rt::{LegId, MediaRuntime, RemoteMedia};

/// Final counters of released relay legs, for the CDR (they arrive from the media thread a moment
/// after the call ends).
#[derive(Clone, Default)]
pub struct FinalCounters(Arc<Mutex<HashMap<LegId, LegCounters>>>);

impl FinalCounters {
    /// Waits up to half a second for each leg's counters and takes them out.
    pub(super) async fn take(&self, legs: &[LegId]) -> Vec<(LegId, Option<LegCounters>)> {
        let mut out = Vec::with_capacity(legs.len());
        for &leg in legs {
            let mut found = None;
            for _ in 0..25 {
                found = self.0.lock().ok().and_then(|mut m| m.remove(&leg));
                if found.is_some() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            out.push((leg, found));
        }
        out
    }
}

/// The B2BUA's handle on the media runtime. The SIP loop must never wait, so every command is
/// fire-and-forget; allocation only binds sockets.
pub struct RelayControl {
    pub runtime: Arc<MediaRuntime>,
    pub finals: FinalCounters,
}

impl MediaControl for RelayControl {
    fn allocate(&mut self, near: Option<LegId>) -> Result<(LegId, SocketAddr), String> {
        let leg = match near {
            Some(n) => self.runtime.allocate_leg_near(n),
            None => self.runtime.allocate_leg(),
        }
        .map_err(|e| e.to_string())?;
        Ok((leg.id, leg.rtp))
    }

    fn set_remote(&mut self, leg: LegId, remote: RemoteMedia) {
        if let Err(e) = self.runtime.set_remote(leg, remote) {
            tracing::warn!(leg = leg.0, error = %e, "media: set_remote failed");
        }
    }

    fn bridge(&mut self, a: LegId, b: LegId) {
        if let Err(e) = self.runtime.bridge_now(a, b) {
            tracing::warn!(error = %e, "media: bridge failed");
        }
    }

    fn release(&mut self, leg: LegId) {
        let Ok(rx) = self.runtime.release(leg) else {
            return;
        };
        let finals = self.finals.0.clone();
        // Runs inside the SIP task's runtime; the counters come back within a wake-up of the media
        // thread.
        tokio::spawn(async move {
            if let Ok(Some(c)) = rx.await {
                if let Ok(mut m) = finals.lock() {
                    m.insert(leg, c);
                }
            }
        });
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
