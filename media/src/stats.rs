//! RTP receive statistics per source (RFC 3550 A.1, A.3, A.8), the sender-side counters an SR carries,
//! LSR/DLSR bookkeeping and round-trip time, and the per-leg snapshot the CDR records.
//!
//! Nothing here reads a clock: arrivals come in as [`Instant`]s and wall-clock time as 64-bit NTP
//! timestamps, so the relay's tests can drive it with simulated time. Updating per packet touches only
//! fixed-size state.

use std::time::{Duration, Instant};

use crate::rtcp::{ReportBlock, SenderInfo};
use crate::rtp::RtpPacket;

const SEQ_MOD: u64 = 1 << 16;
/// A.1's thresholds: a forward gap this large (~1 min of 20 ms packets) is a jump, not loss.
const MAX_DROPOUT: u16 = 3000;
/// Packets more than this far behind the highest are treated as a jump, not reordering.
const MAX_MISORDER: u16 = 100;
/// Sequential packets needed before a new source is believed (A.1).
const MIN_SEQUENTIAL: u8 = 2;
/// Seconds from the NTP era (1900) to the Unix epoch.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// The middle 32 bits of an NTP timestamp, the form LSR and DLSR use (RFC 3550 §6.4.1).
pub fn ntp_middle(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}

/// An NTP timestamp from a wall-clock time since the Unix epoch (e.g. from `SystemTime`, read by the
/// caller).
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    let secs = since_epoch.as_secs().wrapping_add(NTP_UNIX_OFFSET);
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    (secs << 32) | frac
}

/// A duration in the 1/65536 s units of DLSR, saturating at the field's 18 hours.
fn to_units(d: Duration) -> u32 {
    u32::try_from(d.as_nanos() * 65_536 / 1_000_000_000).unwrap_or(u32::MAX)
}

fn from_units(units: u32) -> Duration {
    Duration::from_nanos(u64::from(units) * 1_000_000_000 / 65_536)
}

/// What a packet meant to the sequence tracking of RFC 3550 A.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqOutcome {
    /// Next in sequence, or ahead with a gap (loss) below MAX_DROPOUT.
    InOrder,
    /// Behind the highest sequence number and not seen before.
    Reordered,
    /// Seen before (within the last 128 sequence numbers); not counted as received.
    Duplicate,
    /// The source is not yet believed: fewer than two sequential packets so far.
    Probation,
    /// A jump too large for loss or reordering; ignored unless the next packet follows it.
    Jump,
    /// The packet after a jump followed it: the sender restarted, counting starts afresh here.
    Restarted,
}

impl SeqOutcome {
    /// Whether the packet belongs to the stream (A.1's `update_seq` returning 1), i.e. should be played.
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            SeqOutcome::InOrder | SeqOutcome::Reordered | SeqOutcome::Restarted
        )
    }
}

/// Raw receive counters; `packets`/`octets` count every packet of the source, duplicates and
/// probation included, as the CDR's "in" figures should.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiveCounters {
    pub packets: u64,
    /// Payload octets, as an SR's octet count measures them.
    pub octets: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub restarts: u64,
    pub last_arrival: Option<Instant>,
}

/// Receive statistics for one source (SSRC); the caller keeps one per SSRC it receives.
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: u32,
    clock_rate: u32,
    started: bool,
    max_seq: u16,
    /// Sequence cycles, already shifted: a multiple of 2¹⁶.
    cycles: u64,
    base_seq: u64,
    /// The sequence number that would confirm a jump (A.1); outside 0..2¹⁶ when none is pending.
    bad_seq: u64,
    probation: u8,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Bit i set: `max_seq - i` was received. Catches duplicates, which A.1 alone would count as
    /// received and so hide as much loss as a duplicating path (forking SBC, bonded links) adds.
    seen: u128,
    /// Reference for arrival times in timestamp units; only differences matter (A.8).
    epoch: Option<Instant>,
    transit: Option<u32>,
    /// Interarrival jitter ×16, the integer form of A.8.
    jitter16: u64,
    last_sr: Option<(u32, Instant)>,
    counters: ReceiveCounters,
}

impl ReceiveStats {
    pub fn new(ssrc: u32, clock_rate: u32) -> ReceiveStats {
        ReceiveStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            started: false,
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            seen: 0,
            epoch: None,
            transit: None,
            jitter16: 0,
            last_sr: None,
            counters: ReceiveCounters::default(),
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn clock_rate(&self) -> u32 {
        self.clock_rate
    }

    /// Records an RTP packet of this source (the caller demultiplexes by SSRC).
    pub fn on_packet(&mut self, packet: &RtpPacket<'_>, arrival: Instant) -> SeqOutcome {
        self.on_rtp(
            packet.sequence,
            packet.timestamp,
            packet.payload.len(),
            arrival,
        )
    }

    /// Records a packet by its header fields and payload length.
    pub fn on_rtp(
        &mut self,
        seq: u16,
        timestamp: u32,
        octets: usize,
        arrival: Instant,
    ) -> SeqOutcome {
        self.counters.packets += 1;
        self.counters.octets += octets as u64;
        self.counters.last_arrival = Some(arrival);
        let outcome = self.update_seq(seq);
        match outcome {
            SeqOutcome::Duplicate => self.counters.duplicates += 1,
            SeqOutcome::Reordered => self.counters.out_of_order += 1,
            SeqOutcome::Restarted => {
                self.counters.restarts += 1;
                // The new stream's timestamps have no relation to the old one's transit.
                self.transit = None;
            }
            _ => {}
        }
        if outcome.is_valid() {
            self.update_jitter(timestamp, arrival);
        }
        outcome
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u64::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
        self.seen = 1;
    }

    /// RFC 3550 A.1 `update_seq`, plus duplicate and reordering detection.
    fn update_seq(&mut self, seq: u16) -> SeqOutcome {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqOutcome::InOrder;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqOutcome::Probation;
        }
        if udelta == 0 {
            return SeqOutcome::Duplicate;
        }
        let outcome = if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += SEQ_MOD;
            }
            self.max_seq = seq;
            self.seen = self.seen.checked_shl(u32::from(udelta)).unwrap_or(0) | 1;
            SeqOutcome::InOrder
        } else if udelta <= u16::MAX - MAX_MISORDER + 1 {
            if u64::from(seq) != self.bad_seq {
                self.bad_seq = u64::from(seq.wrapping_add(1));
                return SeqOutcome::Jump;
            }
            self.init_seq(seq);
            SeqOutcome::Restarted
        } else {
            // Within MAX_MISORDER behind the highest, so within the 128 bits of `seen`.
            let behind = self.max_seq.wrapping_sub(seq);
            let bit = 1u128.checked_shl(u32::from(behind)).unwrap_or(0);
            if self.seen & bit != 0 {
                return SeqOutcome::Duplicate;
            }
            self.seen |= bit;
            SeqOutcome::Reordered
        };
        self.received += 1;
        outcome
    }

    /// RFC 3550 A.8, with the arrival converted to timestamp units at the source's clock rate.
    fn update_jitter(&mut self, timestamp: u32, arrival: Instant) {
        let epoch = *self.epoch.get_or_insert(arrival);
        let nanos = arrival.saturating_duration_since(epoch).as_nanos();
        // Truncating to 32 bits is the wrap-around RTP timestamps have too; only differences are used.
        let arrival_units = (nanos * u128::from(self.clock_rate) / 1_000_000_000) as u32;
        let transit = arrival_units.wrapping_sub(timestamp);
        if let Some(prev) = self.transit {
            let d = u64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            self.jitter16 = (self.jitter16 + d).saturating_sub((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
    }

    /// Records the arrival of an SR from this source, for LSR/DLSR in our next report block.
    pub fn on_sender_report(&mut self, ntp: u64, arrival: Instant) {
        self.last_sr = Some((ntp_middle(ntp), arrival));
    }

    /// Whether the source is out of probation (A.1).
    pub fn is_valid(&self) -> bool {
        self.started && self.probation == 0
    }

    /// Extended highest sequence number received: cycles in the high bits.
    pub fn extended_max_seq(&self) -> u64 {
        self.cycles + u64::from(self.max_seq)
    }

    /// Packets expected since the source became valid (A.3).
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        (self.extended_max_seq() + 1).saturating_sub(self.base_seq)
    }

    /// Packets counted as received (A.3; duplicates excluded).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Cumulative packets lost (A.3); negative only if the sender restarted its numbering oddly.
    pub fn lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Interarrival jitter in timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        u32::try_from(self.jitter16 >> 4).unwrap_or(u32::MAX)
    }

    pub fn jitter_ms(&self) -> f64 {
        f64::from(self.jitter()) * 1000.0 / f64::from(self.clock_rate)
    }

    pub fn counters(&self) -> &ReceiveCounters {
        &self.counters
    }

    /// The report block about this source for the report we send at `now`; it starts a new interval
    /// for the fraction lost (A.3), so call it once per report sent. `None` while in probation.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        if !self.is_valid() {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval as u64) << 8)
                .checked_div(expected_interval)
                .map_or(0, |f| f.min(255) as u8)
        };
        let (lsr, dlsr) = self.last_sr.map_or((0, 0), |(lsr, at)| {
            (lsr, to_units(now.saturating_duration_since(at)))
        });
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.lost().clamp(-0x80_0000, 0x7f_ffff) as i32,
            // The field is 32 bits; after 2¹⁶ cycles it wraps, as every receiver's does.
            highest_seq: self.extended_max_seq() as u32,
            jitter: self.jitter(),
            lsr,
            dlsr,
        })
    }
}

/// How many of our own SRs to remember for matching the LSR of incoming reports: with reports every
/// few seconds the peer's LSR names one of the last few.
const SENT_SR_MEMORY: usize = 4;

/// What we send on one SSRC: SR counters, and what the peer reported about it.
#[derive(Debug, Clone)]
pub struct SendStats {
    ssrc: u32,
    clock_rate: u32,
    packets: u64,
    octets: u64,
    sent_srs: [Option<u32>; SENT_SR_MEMORY],
    next_sr: usize,
    rtt: Option<Duration>,
    remote: Option<ReportBlock>,
}

impl SendStats {
    pub fn new(ssrc: u32, clock_rate: u32) -> SendStats {
        SendStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            packets: 0,
            octets: 0,
            sent_srs: [None; SENT_SR_MEMORY],
            next_sr: 0,
            rtt: None,
            remote: None,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Records one RTP packet sent with `payload_octets` of payload.
    pub fn on_sent(&mut self, payload_octets: usize) {
        self.packets += 1;
        self.octets += payload_octets as u64;
    }

    pub fn packets(&self) -> u64 {
        self.packets
    }

    pub fn octets(&self) -> u64 {
        self.octets
    }

    /// The sender info for an SR sent at wall-clock `ntp_now`, whose media clock then reads
    /// `rtp_timestamp`; remembers the send time to compute the round trip when the peer reports.
    pub fn sender_info(&mut self, ntp_now: u64, rtp_timestamp: u32) -> SenderInfo {
        if let Some(slot) = self.sent_srs.get_mut(self.next_sr % SENT_SR_MEMORY) {
            *slot = Some(ntp_middle(ntp_now));
        }
        self.next_sr = (self.next_sr + 1) % SENT_SR_MEMORY;
        SenderInfo {
            ntp: ntp_now,
            rtp_timestamp,
            // The SR fields are 32 bits and wrap (RFC 3550 §6.4.1).
            packet_count: self.packets as u32,
            octet_count: self.octets as u32,
        }
    }

    /// Takes a report block the peer sent, received at wall-clock `arrival_ntp`. Blocks about other
    /// sources are ignored. Returns the round-trip time (RFC 3550 §6.4.1: A − LSR − DLSR) when the
    /// block names one of our recent SRs.
    pub fn on_report_block(&mut self, block: &ReportBlock, arrival_ntp: u64) -> Option<Duration> {
        if block.ssrc != self.ssrc {
            return None;
        }
        self.remote = Some(*block);
        // An LSR we never sent is a peer echoing garbage (or one of ours long forgotten): no RTT.
        if block.lsr == 0 || !self.sent_srs.contains(&Some(block.lsr)) {
            return None;
        }
        let elapsed = ntp_middle(arrival_ntp).wrapping_sub(block.lsr);
        let rtt = from_units(elapsed.checked_sub(block.dlsr)?);
        // A wrapped (negative) elapsed time shows up as many hours: our clock stepped back.
        if rtt > Duration::from_secs(60) {
            return None;
        }
        self.rtt = Some(rtt);
        self.rtt
    }

    /// The latest round-trip time measured.
    pub fn rtt(&self) -> Option<Duration> {
        self.rtt
    }

    /// The latest report block the peer sent about our stream.
    pub fn remote_report(&self) -> Option<ReportBlock> {
        self.remote
    }
}

/// The media figures of one call leg for the CDR.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct LegStats {
    pub packets_in: u64,
    pub bytes_in: u64,
    pub packets_out: u64,
    pub bytes_out: u64,
    /// Packets lost on the way to us over the whole leg.
    pub lost: i64,
    /// `lost` over packets expected, 0.0–1.0, over the whole leg (not just the last interval).
    pub fraction_lost: f64,
    pub jitter_ms: f64,
    pub rtt_ms: Option<f64>,
    /// Loss the peer last reported on our stream, 0.0–1.0 over its last interval.
    pub remote_fraction_lost: Option<f64>,
    /// Jitter the peer last reported on our stream.
    pub remote_jitter_ms: Option<f64>,
}

impl LegStats {
    pub fn new(recv: Option<&ReceiveStats>, send: Option<&SendStats>) -> LegStats {
        let mut leg = LegStats::default();
        if let Some(r) = recv {
            leg.packets_in = r.counters.packets;
            leg.bytes_in = r.counters.octets;
            leg.lost = r.lost();
            let expected = r.expected();
            if expected > 0 {
                leg.fraction_lost = (r.lost().max(0) as f64 / expected as f64).min(1.0);
            }
            leg.jitter_ms = r.jitter_ms();
        }
        if let Some(s) = send {
            leg.packets_out = s.packets;
            leg.bytes_out = s.octets;
            leg.rtt_ms = s.rtt.map(|d| d.as_secs_f64() * 1000.0);
            if let Some(b) = s.remote {
                leg.remote_fraction_lost = Some(f64::from(b.fraction_lost) / 256.0);
                leg.remote_jitter_ms = Some(f64::from(b.jitter) * 1000.0 / f64::from(s.clock_rate));
            }
        }
        leg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS20: Duration = Duration::from_millis(20);

    /// Feeds `seqs` at 20 ms spacing with timestamps 160 apart; returns the outcomes.
    fn feed(s: &mut ReceiveStats, t0: Instant, seqs: &[u16]) -> Vec<SeqOutcome> {
        seqs.iter()
            .map(|&q| {
                let k = u32::from(q.wrapping_sub(seqs[0]));
                s.on_rtp(q, k * 160, 160, t0 + MS20 * k)
            })
            .collect()
    }

    #[test]
    fn sequence_wrap_counts_a_cycle() {
        let mut s = ReceiveStats::new(1, 8000);
        let seqs: Vec<u16> = (0..20u16).map(|i| 65_530u16.wrapping_add(i)).collect();
        let out = feed(&mut s, Instant::now(), &seqs);
        assert_eq!(out[0], SeqOutcome::Probation);
        assert!(out[1..].iter().all(|&o| o == SeqOutcome::InOrder));
        assert_eq!(s.extended_max_seq(), 65_536 + 13);
        // The first packet only opened probation; counting starts at the second.
        assert_eq!((s.expected(), s.received(), s.lost()), (19, 19, 0));
        let block = s.report_block(Instant::now()).expect("valid source");
        assert_eq!(block.highest_seq, 0x1_000d);
    }

    #[test]
    fn every_tenth_packet_lost() {
        let mut s = ReceiveStats::new(7, 8000);
        let t0 = Instant::now();
        for q in (0..1000u16).filter(|q| q % 10 != 9) {
            s.on_rtp(q, u32::from(q) * 160, 160, t0 + MS20 * u32::from(q));
        }
        // Counting starts at 1 and the highest received is 998: 998 expected, 99 of them lost.
        assert_eq!((s.expected(), s.lost()), (998, 99));
        let block = s.report_block(t0).expect("valid");
        assert_eq!(block.cumulative_lost, 99);
        assert_eq!(block.fraction_lost, 25); // (99 << 8) / 998
                                             // The next interval loses only 999, which counts once 1000 shows it missing.
        for q in 1000..1100u16 {
            s.on_rtp(q, u32::from(q) * 160, 160, t0 + MS20 * u32::from(q));
        }
        assert_eq!(s.report_block(t0).expect("valid").fraction_lost, 2); // (1 << 8) / 101
                                                                         // Then an interval with every other packet lost.
        for q in (1100..1200u16).filter(|q| q % 2 == 0) {
            s.on_rtp(q, u32::from(q) * 160, 160, t0 + MS20 * u32::from(q));
        }
        let block = s.report_block(t0).expect("valid");
        // Highest is 1198: 99 expected in the interval, 50 received.
        assert_eq!(block.fraction_lost, 126); // (49 << 8) / 99
        assert_eq!(block.cumulative_lost, 99 + 1 + 49);
        let leg = LegStats::new(Some(&s), None);
        assert!((leg.fraction_lost - 149.0 / 1198.0).abs() < 1e-9, "{leg:?}");
    }

    #[test]
    fn reordering_and_duplicates() {
        let mut s = ReceiveStats::new(1, 8000);
        let out = feed(
            &mut s,
            Instant::now(),
            &[10, 11, 12, 14, 13, 15, 15, 12, 16],
        );
        use SeqOutcome::*;
        assert_eq!(
            out,
            [
                Probation, InOrder, InOrder, InOrder, Reordered, InOrder, Duplicate, Duplicate,
                InOrder
            ]
        );
        let c = s.counters();
        assert_eq!((c.packets, c.duplicates, c.out_of_order), (9, 2, 1));
        assert_eq!((s.expected(), s.received(), s.lost()), (6, 6, 0));
    }

    #[test]
    fn probation_jump_and_restart() {
        use SeqOutcome::*;
        let mut s = ReceiveStats::new(1, 8000);
        // Non-sequential packets keep a new source in probation.
        assert_eq!(feed(&mut s, Instant::now(), &[5, 9, 20]), [Probation; 3]);
        assert_eq!(s.report_block(Instant::now()), None);
        assert_eq!(feed(&mut s, Instant::now(), &[21, 22]), [InOrder; 2]);
        // A lone jump is ignored and does not disturb the counts.
        assert_eq!(feed(&mut s, Instant::now(), &[40_000, 23]), [Jump, InOrder]);
        assert_eq!((s.expected(), s.received()), (3, 3));
        // Two sequential packets after a jump restart the counting there; a jump backwards
        // beyond MAX_MISORDER counts as a jump too.
        assert_eq!(
            feed(&mut s, Instant::now(), &[50_000, 50_001]),
            [Jump, Restarted]
        );
        assert_eq!(
            (s.expected(), s.received(), s.counters().restarts),
            (1, 1, 1)
        );
        assert_eq!(feed(&mut s, Instant::now(), &[49_000]), [Jump]);
    }

    /// Jitter of a 50 pps stream whose network delay is `delay(i)` for packet i.
    fn jitter_with(delay: impl Fn(u32) -> Duration) -> ReceiveStats {
        let mut s = ReceiveStats::new(1, 8000);
        let t0 = Instant::now();
        for i in 0..500u32 {
            s.on_rtp(i as u16, 1000 + i * 160, 160, t0 + MS20 * i + delay(i));
        }
        s
    }

    #[test]
    fn jitter_follows_a8() {
        let constant = jitter_with(|_| Duration::from_millis(40));
        assert_eq!(constant.jitter(), 0);
        // Delay alternating 45/35 ms: every transit difference is 10 ms = 80 units, and the
        // estimator J += (|D| − J)/16 converges to |D|.
        let alternating = jitter_with(|i| Duration::from_millis(if i % 2 == 0 { 45 } else { 35 }));
        assert!(
            (78..=80).contains(&alternating.jitter()),
            "{}",
            alternating.jitter()
        );
        assert!((alternating.jitter_ms() - 10.0).abs() < 0.3);
    }

    #[test]
    fn dlsr_and_round_trip() {
        let t0 = Instant::now();
        let mut r = ReceiveStats::new(9, 8000);
        feed(&mut r, t0, &[1, 2, 3]);
        let sr_ntp = ntp_from_unix(Duration::from_secs(1_700_000_000));
        r.on_sender_report(sr_ntp, t0);
        let block = r
            .report_block(t0 + Duration::from_millis(1500))
            .expect("valid");
        assert_eq!((block.lsr, block.dlsr), (ntp_middle(sr_ntp), 98_304));

        let mut s = SendStats::new(9, 8000);
        s.on_sent(160);
        let sent_at = ntp_from_unix(Duration::from_millis(1_700_000_000_000));
        let info = s.sender_info(sent_at, 1234);
        assert_eq!((info.packet_count, info.octet_count), (1, 160));
        // The peer held our SR 0.5 s; its report arrives 0.6 s after we sent: 100 ms round trip.
        let mut rb = ReportBlock {
            ssrc: 9,
            lsr: ntp_middle(info.ntp),
            dlsr: 32_768,
            ..ReportBlock::default()
        };
        let arrival = ntp_from_unix(Duration::from_millis(1_700_000_000_600));
        let rtt = s.on_report_block(&rb, arrival).expect("rtt");
        assert!(
            rtt.abs_diff(Duration::from_millis(100)) < Duration::from_millis(1),
            "{rtt:?}"
        );
        // An LSR we never sent, or a DLSR longer than the elapsed time, gives no RTT.
        rb.lsr += 1;
        assert_eq!(s.on_report_block(&rb, arrival), None);
        rb.lsr -= 1;
        rb.dlsr = 65_536;
        assert_eq!(s.on_report_block(&rb, arrival), None);
        let leg = LegStats::new(Some(&r), Some(&s));
        assert_eq!(
            (leg.packets_in, leg.packets_out, leg.bytes_out),
            (3, 1, 160)
        );
        assert!(leg.rtt_ms.is_some_and(|ms| (ms - 100.0).abs() < 1.0));
    }

    #[test]
    fn ntp_conversion() {
        // 1970-01-01 is 2208988800 s after the NTP era began; half a second is 2³¹ of fraction.
        assert_eq!(ntp_from_unix(Duration::ZERO), 2_208_988_800 << 32);
        assert_eq!(
            ntp_from_unix(Duration::from_millis(500)) & 0xffff_ffff,
            1 << 31
        );
        assert_eq!(to_units(Duration::from_secs(1)), 65_536);
        assert_eq!(from_units(65_536), Duration::from_secs(1));
    }
}
