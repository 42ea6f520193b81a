//! The endpoint's side of the media relay, with no IO: relay legs are taken from a pool the shell
//! keeps filled (port pairs bound ahead, so an SDP can name one at once), and everything else the
//! B2BUA asks of the relay leaves as [`MediaOp`]s that the shell carries out in order.

use std::collections::VecDeque;
use std::net::SocketAddr;

use switchboard_media::relay::webrtc::WebRtcParams;
use switchboard_media::relay::{LegId, RemoteMedia};
use switchboard_media::transcode::Codec;

use super::{CodecRef, MediaControl, MediaUnavailable};

/// Legs the shell keeps ready: more than one step can take (a call rung on many phones at once
/// takes one leg per phone), few enough that idle port pairs stay a small share of the range.
pub const MEDIA_POOL_TARGET: usize = 64;

/// What the B2BUA asks of the media relay, in the order it must happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOp {
    /// Put a leg taken from the pool to work on a media thread: beside `near` (the call's other
    /// leg, so the two are bridged on one thread) when given.
    Open {
        leg: LegId,
        near: Option<LegId>,
    },
    /// The far end's SDP (first answer or offer, or a re-INVITE).
    SetRemote {
        leg: LegId,
        remote: RemoteMedia,
    },
    Bridge {
        a: LegId,
        b: LegId,
    },
    /// Transcode what `leg`'s far end sends (`(encoding, payload type)` as it arrives) into the
    /// bridged leg's codec; `None` stops transcoding.
    Transcode {
        leg: LegId,
        spec: Option<(CodecRef, CodecRef)>,
    },
    /// The leg is done with; its ports go back to the range.
    Release {
        leg: LegId,
    },
    /// The leg faces a browser: ICE, DTLS and SRTP as the descriptions settled.
    WebRtc {
        leg: LegId,
        params: Box<WebRtcParams>,
    },
}

/// A leg reserved by the shell: its id and the address written into SDP.
pub type ReservedLeg = (LegId, SocketAddr);

/// The pool and the operations waiting for the shell.
#[derive(Debug, Default)]
pub struct MediaPlan {
    pool: VecDeque<ReservedLeg>,
    ops: VecDeque<MediaOp>,
}

impl MediaPlan {
    /// How many legs the shell should reserve to bring the pool back to its target.
    pub fn wanted(&self) -> usize {
        MEDIA_POOL_TARGET.saturating_sub(self.pool.len())
    }

    /// A leg the shell reserved; taken in the order given.
    pub fn add(&mut self, leg: ReservedLeg) {
        self.pool.push_back(leg);
    }

    pub fn poll_op(&mut self) -> Option<MediaOp> {
        self.ops.pop_front()
    }
}

impl MediaControl for MediaPlan {
    /// An empty pool means the shell could not bind more port pairs: the range is used up.
    fn allocate(&mut self, near: Option<LegId>) -> Result<(LegId, SocketAddr), MediaUnavailable> {
        let (leg, addr) = self.pool.pop_front().ok_or(MediaUnavailable::NoPorts)?;
        self.ops.push_back(MediaOp::Open { leg, near });
        Ok((leg, addr))
    }

    fn set_remote(&mut self, leg: LegId, remote: RemoteMedia) {
        self.ops.push_back(MediaOp::SetRemote { leg, remote });
    }

    fn bridge(&mut self, a: LegId, b: LegId) {
        self.ops.push_back(MediaOp::Bridge { a, b });
    }

    fn release(&mut self, leg: LegId) {
        self.ops.push_back(MediaOp::Release { leg });
    }

    fn webrtc(&mut self, leg: LegId, params: WebRtcParams) {
        self.ops.push_back(MediaOp::WebRtc {
            leg,
            params: Box::new(params),
        });
    }

    /// The relay transcodes between the codecs it has (G.711 and Opus); any other pair keeps
    /// the call in its codec.
    fn transcode(&mut self, leg: LegId, spec: Option<(CodecRef, CodecRef)>) -> bool {
        if let Some((from, to)) = &spec {
            if Codec::from_name(&from.0).is_none() || Codec::from_name(&to.0).is_none() {
                return false;
            }
        }
        self.ops.push_back(MediaOp::Transcode { leg, spec });
        true
    }
}

/// The shell's hands on the media relay: reserve legs for the pool, carry out operations. The
/// runtime implements it with sockets and media threads; tests with a log.
pub trait MediaRelay {
    fn reserve(&mut self) -> Result<ReservedLeg, MediaUnavailable>;
    fn apply(&mut self, op: MediaOp);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn legs_come_from_the_pool_in_order_and_each_is_opened_where_asked() {
        let mut plan = MediaPlan::default();
        assert_eq!(plan.wanted(), MEDIA_POOL_TARGET);
        plan.add((LegId(1), addr(20000)));
        plan.add((LegId(2), addr(20002)));
        assert_eq!(plan.allocate(None), Ok((LegId(1), addr(20000))));
        assert_eq!(plan.allocate(Some(LegId(1))), Ok((LegId(2), addr(20002))));
        assert_eq!(plan.allocate(None), Err(MediaUnavailable::NoPorts));
        plan.bridge(LegId(1), LegId(2));
        plan.release(LegId(2));
        let ops: Vec<_> = std::iter::from_fn(|| plan.poll_op()).collect();
        assert_eq!(
            ops,
            vec![
                MediaOp::Open {
                    leg: LegId(1),
                    near: None
                },
                MediaOp::Open {
                    leg: LegId(2),
                    near: Some(LegId(1))
                },
                MediaOp::Bridge {
                    a: LegId(1),
                    b: LegId(2)
                },
                MediaOp::Release { leg: LegId(2) },
            ]
        );
        assert_eq!(plan.wanted(), MEDIA_POOL_TARGET);
    }

    #[test]
    fn only_codecs_the_relay_has_are_transcoded() {
        let mut plan = MediaPlan::default();
        let pcma = ("PCMA".to_string(), 8);
        let opus = ("opus".to_string(), 111);
        let gsm = ("GSM".to_string(), 3);
        assert!(plan.transcode(LegId(1), Some((opus.clone(), pcma.clone()))));
        assert!(!plan.transcode(LegId(1), Some((gsm, pcma))));
        assert!(plan.transcode(LegId(1), None));
        assert_eq!(
            std::iter::from_fn(|| plan.poll_op()).count(),
            2,
            "the refused one asked nothing"
        );
    }
}
