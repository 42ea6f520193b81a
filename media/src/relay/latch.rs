//! Symmetric RTP latching: where to send a leg's media is learned from where its packets really come
//! from, because a phone behind NAT announces an address in its SDP that nobody can reach.
//!
//! Before the first latch any source is accepted and forwarded (the SDP may be wrong in every way), and
//! a source that sends `probation` packets in a row with one SSRC becomes the latched address. After that
//! the latch moves only to an *expected* source — the latched IP on another port (a NAT rebinding) or the
//! IP the SDP signalled — and only after the same probation; packets from anyone else are dropped, so a
//! stranger who guesses the port cannot take over the call.

use std::net::SocketAddr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Probation {
        addr: SocketAddr,
        ssrc: u32,
        count: u8,
    },
    Latched {
        addr: SocketAddr,
    },
    /// Latched to `current` while `candidate` proves itself.
    Moving {
        current: SocketAddr,
        candidate: SocketAddr,
        ssrc: u32,
        count: u8,
    },
}

/// What the latch made of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Take the packet; the latch did not change.
    Accept,
    /// Take the packet; the leg is now latched to this source (first latch or a move).
    Latched(SocketAddr),
    /// Drop it: a source the latch does not trust (yet).
    Refuse,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latch {
    state: State,
    signalled: Option<SocketAddr>,
    probation: u8,
}

impl Latch {
    /// `signalled` is the address from the far end's SDP (None for 0.0.0.0 or not yet known).
    pub fn new(signalled: Option<SocketAddr>, probation: u8) -> Self {
        Latch {
            state: State::Open,
            signalled,
            probation: probation.max(1),
        }
    }

    /// A new SDP from the far end (re-INVITE). The same address keeps the latch — the path is not
    /// dropped for a re-INVITE that only changes direction or codecs; a new address starts over.
    pub fn resignal(&mut self, signalled: Option<SocketAddr>) {
        if signalled != self.signalled {
            self.signalled = signalled;
            self.state = State::Open;
        }
    }

    pub fn signalled(&self) -> Option<SocketAddr> {
        self.signalled
    }

    pub fn latched(&self) -> Option<SocketAddr> {
        match self.state {
            State::Latched { addr } => Some(addr),
            State::Moving { current, .. } => Some(current),
            _ => None,
        }
    }

    /// Where packets for this leg go: the latched source, else the signalled address, else the source
    /// on probation (an SDP without a usable address still gets symmetric RTP).
    pub fn destination(&self) -> Option<SocketAddr> {
        match self.state {
            State::Latched { addr } | State::Moving { current: addr, .. } => Some(addr),
            State::Probation { addr, .. } => self.signalled.or(Some(addr)),
            State::Open => self.signalled,
        }
    }

    fn expected(&self, latched: SocketAddr, src: SocketAddr) -> bool {
        src.ip() == latched.ip() || self.signalled.is_some_and(|s| s.ip() == src.ip())
    }

    /// Feeds one valid packet from `src` carrying `ssrc`.
    pub fn on_packet(&mut self, src: SocketAddr, ssrc: u32) -> Verdict {
        match self.state {
            State::Latched { addr } if addr == src => Verdict::Accept,
            State::Open => self.start_probation(src, ssrc),
            State::Probation {
                addr,
                ssrc: s,
                count,
            } => {
                if addr == src && s == ssrc {
                    let count = count.saturating_add(1);
                    if count >= self.probation {
                        self.state = State::Latched { addr };
                        return Verdict::Latched(addr);
                    }
                    self.state = State::Probation { addr, ssrc, count };
                    Verdict::Accept
                } else {
                    self.start_probation(src, ssrc)
                }
            }
            State::Latched { addr } => {
                if !self.expected(addr, src) {
                    return Verdict::Refuse;
                }
                self.state = State::Moving {
                    current: addr,
                    candidate: src,
                    ssrc,
                    count: 1,
                };
                self.finish_move_if_proven()
            }
            State::Moving {
                current,
                candidate,
                ssrc: s,
                count,
            } => {
                if src == current {
                    // The old source is still alive: the candidate was a stray, forget it.
                    self.state = State::Latched { addr: current };
                    return Verdict::Accept;
                }
                if !self.expected(current, src) {
                    return Verdict::Refuse;
                }
                let count = if src == candidate && s == ssrc {
                    count.saturating_add(1)
                } else {
                    1
                };
                self.state = State::Moving {
                    current,
                    candidate: src,
                    ssrc,
                    count,
                };
                self.finish_move_if_proven()
            }
        }
    }

    fn start_probation(&mut self, src: SocketAddr, ssrc: u32) -> Verdict {
        if self.probation <= 1 {
            self.state = State::Latched { addr: src };
            return Verdict::Latched(src);
        }
        self.state = State::Probation {
            addr: src,
            ssrc,
            count: 1,
        };
        Verdict::Accept
    }

    fn finish_move_if_proven(&mut self) -> Verdict {
        if let State::Moving {
            candidate, count, ..
        } = self.state
        {
            if count >= self.probation {
                self.state = State::Latched { addr: candidate };
                return Verdict::Latched(candidate);
            }
        }
        Verdict::Refuse
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn latches_after_probation_and_forwards_meanwhile() {
        let mut l = Latch::new(Some(addr("10.0.0.5:4000")), 2);
        assert_eq!(l.destination(), Some(addr("10.0.0.5:4000")));
        let nat = addr("203.0.113.9:31000");
        assert_eq!(l.on_packet(nat, 7), Verdict::Accept);
        assert_eq!(l.on_packet(nat, 7), Verdict::Latched(nat));
        assert_eq!(l.destination(), Some(nat));
        assert_eq!(l.on_packet(nat, 7), Verdict::Accept);
    }

    #[test]
    fn a_stranger_cannot_take_over_a_latched_leg() {
        let mut l = Latch::new(Some(addr("10.0.0.5:4000")), 2);
        let phone = addr("203.0.113.9:31000");
        l.on_packet(phone, 1);
        l.on_packet(phone, 1);
        let stranger = addr("198.51.100.66:5000");
        for _ in 0..10 {
            assert_eq!(l.on_packet(stranger, 99), Verdict::Refuse);
        }
        assert_eq!(l.destination(), Some(phone));
    }

    #[test]
    fn nat_rebinding_moves_the_latch_after_probation() {
        let mut l = Latch::new(None, 2);
        let before = addr("203.0.113.9:31000");
        l.on_packet(before, 1);
        l.on_packet(before, 1);
        let after = addr("203.0.113.9:31044");
        assert_eq!(l.on_packet(after, 1), Verdict::Refuse);
        assert_eq!(l.destination(), Some(before));
        assert_eq!(l.on_packet(after, 1), Verdict::Latched(after));
        assert_eq!(l.destination(), Some(after));
    }

    #[test]
    fn a_stray_packet_from_an_expected_port_does_not_move_the_latch() {
        let mut l = Latch::new(None, 3);
        let phone = addr("203.0.113.9:31000");
        for _ in 0..3 {
            l.on_packet(phone, 1);
        }
        assert_eq!(l.on_packet(addr("203.0.113.9:9"), 1), Verdict::Refuse);
        assert_eq!(l.on_packet(phone, 1), Verdict::Accept);
        assert_eq!(l.latched(), Some(phone));
    }

    #[test]
    fn the_signalled_ip_may_take_over() {
        let mut l = Latch::new(Some(addr("192.0.2.10:20000")), 2);
        let first = addr("198.51.100.1:7000");
        l.on_packet(first, 1);
        l.on_packet(first, 1);
        let gateway = addr("192.0.2.10:20002");
        assert_eq!(l.on_packet(gateway, 5), Verdict::Refuse);
        assert_eq!(l.on_packet(gateway, 5), Verdict::Latched(gateway));
    }

    #[test]
    fn probation_restarts_when_the_source_changes() {
        let mut l = Latch::new(None, 2);
        let a = addr("10.1.1.1:1000");
        let b = addr("10.1.1.2:1000");
        assert_eq!(l.on_packet(a, 1), Verdict::Accept);
        assert_eq!(l.on_packet(b, 1), Verdict::Accept);
        assert_eq!(l.latched(), None);
        assert_eq!(l.on_packet(b, 1), Verdict::Latched(b));
        // A different SSRC from the same address also restarts probation.
        let mut l = Latch::new(None, 2);
        l.on_packet(a, 1);
        assert_eq!(l.on_packet(a, 2), Verdict::Accept);
        assert_eq!(l.on_packet(a, 2), Verdict::Latched(a));
    }

    #[test]
    fn resignal_keeps_the_latch_for_the_same_address_and_resets_for_a_new_one() {
        let sdp = addr("10.0.0.5:4000");
        let mut l = Latch::new(Some(sdp), 2);
        let phone = addr("203.0.113.9:31000");
        l.on_packet(phone, 1);
        l.on_packet(phone, 1);
        l.resignal(Some(sdp));
        assert_eq!(l.latched(), Some(phone));
        let moved = addr("10.0.0.77:4100");
        l.resignal(Some(moved));
        assert_eq!(l.latched(), None);
        assert_eq!(l.destination(), Some(moved));
    }
}
