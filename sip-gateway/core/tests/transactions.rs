//! RFC 3261 §17 transactions (with the RFC 6026 Accepted state) driven on a simulated clock.
//!
//! Nothing here sleeps: a [`Sim`] holds a fake `now`, fires every timer at exactly the instant
//! [`TransactionLayer::poll_timeout`] names, and records each transmission and event with its offset from
//! the start, so the tests can assert retransmission schedules to the millisecond and count them exactly.
//! Timer values are the RFC defaults: T1 = 500 ms, T2 = 4 s, T4 = 5 s.

use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::transaction::{
    ClientState, RequestDisposition, ServerState, TimerConfig, TransactionLayer, TxEvent, TxKey,
};
use sip_core::{ConnectionId, Peer, TransportKind};
use sip_message::{parse_slice, Limits, Message, Method, Request, Response, SipHeaders};

const UDP: TransportKind = TransportKind::Udp;
const TCP: TransportKind = TransportKind::Tcp;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn peer(transport: TransportKind) -> Peer {
    Peer {
        transport,
        addr: "127.0.0.1:5070".parse().expect("address"),
        connection: transport.is_reliable().then_some(ConnectionId(7)),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Messages

/// A request as a phone would send it. `via` is the whole top Via value; ACK and CANCEL keep `cseq`'s number.
fn request_with(
    method: &str,
    via: &str,
    from_tag: &str,
    to_tag: Option<&str>,
    cseq: u32,
) -> Request {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    let text = format!(
        "{method} sip:bob@pbx.example.org SIP/2.0\r\n\
         Via: {via}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Alice\" <sip:alice@example.org>;tag={from_tag}\r\n\
         To: <sip:bob@pbx.example.org>{to_tag}\r\n\
         Call-ID: 3848276298220188511@127.0.0.1\r\n\
         CSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    );
    match parse_slice(text.as_bytes(), &Limits::default()).expect("test request parses") {
        Message::Request(r) => r,
        Message::Response(_) => unreachable!("a request"),
    }
}

fn via(transport: TransportKind, branch: &str) -> String {
    format!("SIP/2.0/{transport} 127.0.0.1:5070;branch={branch}")
}

fn request(method: &str, transport: TransportKind, branch: &str) -> Request {
    request_with(method, &via(transport, branch), "a73kszlfl", None, 1)
}

/// The response a UAS sends to `req`; every status but 100 carries a To tag.
fn response(req: &Request, status: u16) -> Response {
    let mut resp = Response::for_request(req, status, sip_message::default_reason(status));
    if status != 100 {
        let to = resp
            .to()
            .expect("To")
            .to_owned()
            .expect("owned To")
            .to_string();
        resp.headers
            .set(sip_message::HeaderName::To, format!("{to};tag=uas-1"));
    }
    resp
}

fn bytes_of(resp: &Response) -> Bytes {
    let mut out = Vec::new();
    resp.write_to(&mut out);
    Bytes::from(out)
}

fn parse_request(b: &[u8]) -> Request {
    match parse_slice(b, &Limits::default()).expect("transmitted bytes parse") {
        Message::Request(r) => r,
        Message::Response(r) => panic!("expected a request, got {} {}", r.status, r.reason),
    }
}

// ---------------------------------------------------------------------------------------------------------
// The simulated clock

struct Sim {
    t0: Instant,
    now: Instant,
    tl: TransactionLayer,
    /// Every transmission, with its offset from `t0`.
    sent: Vec<(Duration, Bytes)>,
    events: Vec<(Duration, TxEvent)>,
}

impl Sim {
    fn new() -> Self {
        let t0 = Instant::now();
        Sim {
            t0,
            now: t0,
            tl: TransactionLayer::new(TimerConfig::default()),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    fn drain(&mut self) {
        let at = self.elapsed();
        while let Some(t) = self.tl.poll_transmit() {
            assert_eq!(
                t.peer,
                peer(t.peer.transport),
                "sent to the transaction's peer"
            );
            self.sent.push((at, t.payload));
        }
        while let Some(e) = self.tl.poll_event() {
            self.events.push((at, e));
        }
    }

    /// Fires every timer due up to `t0 + until`, each at its own instant, then sets the clock to `until`.
    fn run_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        assert!(end >= self.now, "the clock only moves forward");
        while let Some(at) = self.tl.poll_timeout() {
            if at > end {
                break;
            }
            assert!(at >= self.now, "poll_timeout named a deadline in the past");
            self.now = at;
            self.tl.handle_timeout(at);
            self.drain();
        }
        self.now = end;
    }

    // Inputs, each at the current simulated time.

    fn incoming(&mut self, req: &Request, transport: TransportKind) -> RequestDisposition {
        let key = TxKey::for_request(req).expect("request has a key");
        let d = self.tl.handle_request(self.now, req, key, peer(transport));
        self.drain();
        d
    }

    fn respond(&mut self, key: &TxKey, resp: &Response) -> bool {
        let ok = self.tl.respond(self.now, key, resp.status, bytes_of(resp));
        self.drain();
        ok
    }

    fn send(&mut self, req: &Request, transport: TransportKind) -> TxKey {
        let key = self
            .tl
            .send_request(self.now, req, peer(transport))
            .expect("client transaction");
        self.drain();
        key
    }

    fn receive(&mut self, resp: &Response) -> bool {
        let matched = self.tl.handle_response(self.now, resp.clone());
        self.drain();
        matched
    }

    // Observations.

    /// Offsets of the transmissions whose bytes equal `payload`.
    fn times_sent(&self, payload: &[u8]) -> Vec<Duration> {
        self.sent
            .iter()
            .filter(|(_, b)| b == payload)
            .map(|(t, _)| *t)
            .collect()
    }

    fn timeouts(&self) -> Vec<(Duration, TxEvent)> {
        self.events
            .iter()
            .filter(|(_, e)| !matches!(e, TxEvent::Response { .. }))
            .cloned()
            .collect()
    }

    fn responses(&self) -> Vec<(Duration, u16)> {
        self.events
            .iter()
            .filter_map(|(t, e)| match e {
                TxEvent::Response { response, .. } => Some((*t, response.status)),
                _ => None,
            })
            .collect()
    }
}

fn new_key(d: RequestDisposition) -> TxKey {
    match d {
        RequestDisposition::New(k) => k,
        other => panic!("expected a new transaction, got {other:?}"),
    }
}

/// Offsets given in milliseconds.
fn at_ms(list: &[u64]) -> Vec<Duration> {
    list.iter().map(|&m| ms(m)).collect()
}

// ---------------------------------------------------------------------------------------------------------
// Non-INVITE server transactions (§17.2.2)

#[test]
fn non_invite_server_udp_trying_proceeding_completed_then_timer_j() {
    let mut sim = Sim::new();
    let req = request("OPTIONS", UDP, "z9hG4bKnis1");
    let key = new_key(sim.incoming(&req, UDP));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Trying));
    assert!(
        sim.sent.is_empty(),
        "the transaction itself answers nothing"
    );

    // Trying: a retransmission is absorbed and there is nothing to send back yet.
    sim.run_until(ms(400));
    assert_eq!(sim.incoming(&req, UDP), RequestDisposition::Retransmission);
    assert!(sim.sent.is_empty());

    // A provisional response moves it to Proceeding; retransmissions get it again.
    let trying = response(&req, 100);
    assert!(sim.respond(&key, &trying));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Proceeding));
    sim.run_until(ms(900));
    assert_eq!(sim.incoming(&req, UDP), RequestDisposition::Retransmission);
    assert_eq!(sim.times_sent(&bytes_of(&trying)), at_ms(&[400, 900]));

    // The final response: Completed, Timer J = 64*T1 = 32 s.
    sim.run_until(secs(1));
    let ok = response(&req, 200);
    assert!(sim.respond(&key, &ok));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Completed));
    assert_eq!(sim.tl.poll_timeout(), Some(sim.t0 + secs(33)));

    // Completed: each retransmitted request gets the final response again; the TU can send nothing more.
    sim.run_until(secs(5));
    assert_eq!(sim.incoming(&req, UDP), RequestDisposition::Retransmission);
    sim.run_until(secs(20));
    assert_eq!(sim.incoming(&req, UDP), RequestDisposition::Retransmission);
    assert!(
        !sim.respond(&key, &response(&req, 500)),
        "no second final response"
    );
    assert_eq!(
        sim.times_sent(&bytes_of(&ok)),
        vec![secs(1), secs(5), secs(20)]
    );
    assert_eq!(
        sim.sent.len(),
        5,
        "non-INVITE servers never retransmit on their own"
    );

    // Timer J: still there just before 33 s, gone at 33 s.
    sim.run_until(secs(33) - ms(1));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Completed));
    sim.run_until(secs(33));
    assert_eq!(sim.tl.server_state(&key), None);
    assert_eq!(sim.tl.server_count(), 0);

    // Afterwards the same request is new again (the TU sees it, as §17.2.2 intends for a late copy).
    sim.run_until(secs(40));
    assert!(matches!(
        sim.incoming(&req, UDP),
        RequestDisposition::New(_)
    ));
    assert!(
        sim.events.is_empty(),
        "server transactions raise no events here"
    );
}

#[test]
fn non_invite_server_final_response_from_trying() {
    let mut sim = Sim::new();
    let req = request("REGISTER", UDP, "z9hG4bKreg1");
    let key = new_key(sim.incoming(&req, UDP));
    let unauthorized = response(&req, 401);
    assert!(sim.respond(&key, &unauthorized));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Completed));
    assert!(
        !sim.respond(&key, &response(&req, 180)),
        "nothing after a final response"
    );
    sim.run_until(secs(31));
    assert_eq!(sim.incoming(&req, UDP), RequestDisposition::Retransmission);
    sim.run_until(secs(32));
    assert_eq!(sim.tl.server_count(), 0);
    assert_eq!(
        sim.times_sent(&bytes_of(&unauthorized)),
        vec![secs(0), secs(31)]
    );
}

#[test]
fn non_invite_server_reliable_timer_j_is_zero() {
    let mut sim = Sim::new();
    let req = request("OPTIONS", TCP, "z9hG4bKnis2");
    let key = new_key(sim.incoming(&req, TCP));
    sim.run_until(ms(250));
    assert!(sim.respond(&key, &response(&req, 200)));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Completed));
    // J = 0: due at once, gone as soon as the shell runs the timers.
    assert_eq!(sim.tl.poll_timeout(), Some(sim.now));
    sim.run_until(ms(250));
    assert_eq!(sim.tl.server_state(&key), None);
    assert_eq!(sim.sent.len(), 1);
}

// ---------------------------------------------------------------------------------------------------------
// INVITE server transactions (§17.2.1, RFC 6026)

#[test]
fn invite_server_proceeding_resends_the_last_provisional() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKinv1");
    let key = new_key(sim.incoming(&invite, UDP));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Proceeding));
    // No provisional yet: a retransmitted INVITE is absorbed silently.
    sim.run_until(ms(500));
    assert_eq!(
        sim.incoming(&invite, UDP),
        RequestDisposition::Retransmission
    );
    assert!(sim.sent.is_empty());

    let trying = response(&invite, 100);
    assert!(sim.respond(&key, &trying));
    sim.run_until(ms(1500));
    let ringing = response(&invite, 180);
    assert!(sim.respond(&key, &ringing));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Proceeding));
    sim.run_until(ms(3500));
    assert_eq!(
        sim.incoming(&invite, UDP),
        RequestDisposition::Retransmission
    );
    assert_eq!(sim.times_sent(&bytes_of(&trying)), at_ms(&[500]));
    assert_eq!(sim.times_sent(&bytes_of(&ringing)), at_ms(&[1500, 3500]));
    // Provisional responses are never retransmitted by the transaction, however long it rings.
    sim.run_until(secs(300));
    assert_eq!(sim.sent.len(), 3);
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Proceeding));
    // An ACK before any final response is not the transaction's business.
    let ack = request("ACK", UDP, "z9hG4bKinv1");
    assert_eq!(sim.incoming(&ack, UDP), RequestDisposition::AckForTu);
}

#[test]
fn invite_server_failure_timer_g_doubles_to_t2_until_timer_h() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKinv2");
    let key = new_key(sim.incoming(&invite, UDP));
    sim.run_until(secs(10));
    let busy = response(&invite, 486);
    assert!(sim.respond(&key, &busy));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Completed));

    sim.run_until(secs(60));
    // Sent at 10 s, then Timer G: +0.5, +1.5, +3.5, +7.5, then every T2 = 4 s: +11.5 … +31.5; H at +32 s.
    let expected: Vec<Duration> = [
        0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500,
    ]
    .iter()
    .map(|&m| secs(10) + ms(m))
    .collect();
    assert_eq!(sim.times_sent(&bytes_of(&busy)), expected);
    assert_eq!(sim.sent.len(), 11);
    assert_eq!(
        sim.timeouts(),
        vec![(secs(42), TxEvent::AckTimeout { key: key.clone() })]
    );
    assert_eq!(sim.tl.server_state(&key), None);
}

#[test]
fn invite_server_ack_confirms_then_timer_i() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKinv3");
    let key = new_key(sim.incoming(&invite, UDP));
    let busy = response(&invite, 486);
    assert!(sim.respond(&key, &busy));

    // A retransmitted INVITE in Completed gets the final response again, besides Timer G.
    sim.run_until(ms(1000));
    assert_eq!(
        sim.incoming(&invite, UDP),
        RequestDisposition::Retransmission
    );
    sim.run_until(ms(2000));
    // §17.1.1.3: the ACK for a non-2xx has the INVITE's branch and the response's To tag.
    let ack = request_with(
        "ACK",
        &via(UDP, "z9hG4bKinv3"),
        "a73kszlfl",
        Some("uas-1"),
        1,
    );
    assert_eq!(
        TxKey::for_request(&ack),
        Some(key.clone()),
        "ACK matches its INVITE"
    );
    assert_eq!(sim.incoming(&ack, UDP), RequestDisposition::AckAbsorbed);
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Confirmed));
    assert_eq!(
        sim.times_sent(&bytes_of(&busy)),
        at_ms(&[0, 500, 1000, 1500])
    );

    // Confirmed: ACK copies and INVITE copies are absorbed, nothing is sent, Timer G and H are off.
    sim.run_until(ms(3000));
    assert_eq!(sim.incoming(&ack, UDP), RequestDisposition::AckAbsorbed);
    assert_eq!(
        sim.incoming(&invite, UDP),
        RequestDisposition::Retransmission
    );
    assert!(!sim.respond(&key, &response(&invite, 500)));

    // Timer I = T4 = 5 s after the ACK.
    sim.run_until(ms(7000) - ms(1));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Confirmed));
    sim.run_until(ms(7000));
    assert_eq!(sim.tl.server_state(&key), None);
    sim.run_until(secs(60));
    assert_eq!(sim.sent.len(), 4);
    assert!(sim.timeouts().is_empty(), "no Timer H once the ACK came");
}

#[test]
fn invite_server_2xx_accepted_then_timer_l() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKinv4");
    let key = new_key(sim.incoming(&invite, UDP));
    assert!(sim.respond(&key, &response(&invite, 180)));
    sim.run_until(secs(3));
    let ok = response(&invite, 200);
    assert!(sim.respond(&key, &ok));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Accepted));

    // RFC 6026 §8.5: the transaction does not retransmit the 2xx itself and absorbs INVITE copies...
    sim.run_until(secs(4));
    assert_eq!(
        sim.incoming(&invite, UDP),
        RequestDisposition::Retransmission
    );
    assert_eq!(sim.times_sent(&bytes_of(&ok)), vec![secs(3)]);
    // ...but passes the TU's own 2xx retransmissions (§13.3.1.4) to the transport.
    sim.run_until(secs(5));
    assert!(
        sim.respond(&key, &ok),
        "a 2xx retransmission from the TU is sent in Accepted"
    );
    assert_eq!(sim.times_sent(&bytes_of(&ok)), vec![secs(3), secs(5)]);
    assert!(
        !sim.respond(&key, &response(&invite, 486)),
        "no non-2xx after a 2xx"
    );
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Accepted));

    // The ACK for a 2xx belongs to the dialog: it goes to the TU, every copy of it.
    let ack = request_with(
        "ACK",
        &via(UDP, "z9hG4bKack4"),
        "a73kszlfl",
        Some("uas-1"),
        1,
    );
    assert_eq!(sim.incoming(&ack, UDP), RequestDisposition::AckForTu);
    let same_branch_ack = request_with(
        "ACK",
        &via(UDP, "z9hG4bKinv4"),
        "a73kszlfl",
        Some("uas-1"),
        1,
    );
    assert_eq!(
        sim.incoming(&same_branch_ack, UDP),
        RequestDisposition::AckForTu
    );
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Accepted));

    // Timer L = 64*T1 after the 2xx.
    sim.run_until(secs(35) - ms(1));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Accepted));
    sim.run_until(secs(35));
    assert_eq!(sim.tl.server_state(&key), None);
    assert!(sim.timeouts().is_empty());
}

#[test]
fn invite_server_2xx_over_tcp_still_lingers_for_timer_l() {
    let mut sim = Sim::new();
    let invite = request("INVITE", TCP, "z9hG4bKinv5");
    let key = new_key(sim.incoming(&invite, TCP));
    assert!(sim.respond(&key, &response(&invite, 200)));
    sim.run_until(secs(32) - ms(1));
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Accepted));
    sim.run_until(secs(32));
    assert_eq!(sim.tl.server_state(&key), None);
    assert_eq!(sim.sent.len(), 1);
}

#[test]
fn invite_server_reliable_no_timer_g_and_timer_i_is_zero() {
    // Without an ACK: one transmission, then Timer H (it runs on every transport).
    let mut sim = Sim::new();
    let invite = request("INVITE", TCP, "z9hG4bKinv6");
    let key = new_key(sim.incoming(&invite, TCP));
    assert!(sim.respond(&key, &response(&invite, 603)));
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 1, "no Timer G over TCP");
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::AckTimeout { key: key.clone() })]
    );
    assert_eq!(sim.tl.server_count(), 0);

    // With an ACK: Confirmed, and Timer I = 0 ends it at once.
    let mut sim = Sim::new();
    let key = new_key(sim.incoming(&invite, TCP));
    assert!(sim.respond(&key, &response(&invite, 603)));
    sim.run_until(secs(1));
    let ack = request_with(
        "ACK",
        &via(TCP, "z9hG4bKinv6"),
        "a73kszlfl",
        Some("uas-1"),
        1,
    );
    assert_eq!(sim.incoming(&ack, TCP), RequestDisposition::AckAbsorbed);
    assert_eq!(sim.tl.server_state(&key), Some(ServerState::Confirmed));
    assert_eq!(sim.tl.poll_timeout(), Some(sim.now));
    sim.run_until(secs(1));
    assert_eq!(sim.tl.server_state(&key), None);
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 1);
    assert!(sim.timeouts().is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// Non-INVITE client transactions (§17.1.2)

#[test]
fn non_invite_client_timer_e_doubles_to_t2_until_timer_f() {
    let mut sim = Sim::new();
    let req = request("OPTIONS", UDP, "z9hG4bKnic1");
    let key = sim.send(&req, UDP);
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Trying));
    sim.run_until(secs(100));
    let payload = sim.sent[0].1.clone();
    assert_eq!(parse_request(&payload), req, "the request is sent as it is");
    assert_eq!(
        sim.times_sent(&payload),
        at_ms(&[0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500])
    );
    assert_eq!(sim.sent.len(), 11);
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::ClientTimeout { key: key.clone() })]
    );
    assert_eq!(sim.tl.client_state(&key), None);
    // A response after Timer F matches nothing.
    assert!(!sim.receive(&response(&req, 200)));
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2() {
    let mut sim = Sim::new();
    let req = request("REGISTER", UDP, "z9hG4bKnic2");
    let key = sim.send(&req, UDP);
    sim.run_until(ms(700));
    assert!(sim.receive(&response(&req, 100)));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Proceeding));
    sim.run_until(secs(100));
    // Timer E was armed for 1.5 s before the 100; from then on it is T2.
    assert_eq!(
        sim.times_sent(&sim.sent[0].1.clone()),
        at_ms(&[0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500])
    );
    assert_eq!(sim.responses(), vec![(ms(700), 100)]);
    // Timer F runs in Proceeding too.
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::ClientTimeout { key })]
    );
}

#[test]
fn non_invite_client_completed_absorbs_copies_until_timer_k() {
    let mut sim = Sim::new();
    let req = request("OPTIONS", UDP, "z9hG4bKnic3");
    let key = sim.send(&req, UDP);
    sim.run_until(ms(2000));
    let ok = response(&req, 200);
    assert!(sim.receive(&ok));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    // Copies of the final response are absorbed: matched, no event, nothing sent.
    sim.run_until(ms(3000));
    assert!(sim.receive(&ok));
    assert!(sim.receive(&response(&req, 100)));
    // Timer K = T4 = 5 s after the final response.
    sim.run_until(ms(7000) - ms(1));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    sim.run_until(ms(7000));
    assert_eq!(sim.tl.client_state(&key), None);
    assert!(!sim.receive(&ok), "after Timer K a copy is a stray");

    sim.run_until(secs(100));
    assert_eq!(
        sim.times_sent(&sim.sent[0].1.clone()),
        at_ms(&[0, 500, 1500])
    );
    assert_eq!(sim.sent.len(), 3);
    assert_eq!(sim.responses(), vec![(ms(2000), 200)]);
    assert!(
        sim.timeouts().is_empty(),
        "no Timer F after a final response"
    );
}

#[test]
fn non_invite_client_reliable_sends_once_and_k_is_zero() {
    let mut sim = Sim::new();
    let req = request("OPTIONS", TCP, "z9hG4bKnic4");
    let key = sim.send(&req, TCP);
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 1, "no Timer E over TCP");
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::ClientTimeout { key })]
    );

    let mut sim = Sim::new();
    let key = sim.send(&req, TCP);
    sim.run_until(secs(3));
    assert!(sim.receive(&response(&req, 404)));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    assert_eq!(sim.tl.poll_timeout(), Some(sim.now), "Timer K = 0");
    sim.run_until(secs(3));
    assert_eq!(sim.tl.client_state(&key), None);
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 1);
    assert!(sim.timeouts().is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// INVITE client transactions (§17.1.1)

#[test]
fn invite_client_timer_a_doubles_until_timer_b() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKic1");
    let key = sim.send(&invite, UDP);
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Calling));
    sim.run_until(secs(100));
    // Timer A doubles without a cap: 0.5, 1, 2, 4, 8, 16 s; Timer B at 64*T1 = 32 s.
    assert_eq!(
        sim.times_sent(&sim.sent[0].1.clone()),
        at_ms(&[0, 500, 1500, 3500, 7500, 15500, 31500])
    );
    assert_eq!(sim.sent.len(), 7);
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::ClientTimeout { key: key.clone() })]
    );
    assert_eq!(sim.tl.client_state(&key), None);
}

#[test]
fn invite_client_provisional_stops_timer_a_and_b() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKic2");
    let key = sim.send(&invite, UDP);
    sim.run_until(ms(1000));
    assert!(sim.receive(&response(&invite, 100)));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Proceeding));
    sim.run_until(ms(4000));
    assert!(sim.receive(&response(&invite, 180)));
    // A phone may ring far longer than 64*T1: Timer B only guards Calling (§17.1.1.2), so nothing fires.
    sim.run_until(secs(120));
    assert_eq!(sim.sent.len(), 2, "sent at 0 and 0.5 s only");
    assert!(sim.timeouts().is_empty(), "no timeout while Proceeding");
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Proceeding));

    // The answer after two minutes of ringing still reaches the TU, and a 2xx ends the transaction.
    let ok = response(&invite, 200);
    assert!(sim.receive(&ok));
    assert_eq!(
        sim.responses(),
        vec![(ms(1000), 100), (ms(4000), 180), (secs(120), 200)]
    );
    assert_eq!(sim.tl.client_state(&key), None);
    assert_eq!(
        sim.sent.len(),
        2,
        "the ACK for a 2xx is the TU's (dialog's) job"
    );
    // Copies of the 2xx are strays for the transaction layer: the dialog answers them with its ACK.
    assert!(!sim.receive(&ok));
    assert_eq!(sim.tl.client_count(), 0);
}

#[test]
fn invite_client_failure_acks_and_timer_d_absorbs_copies() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKic3");
    let key = sim.send(&invite, UDP);
    sim.run_until(ms(2000));
    let busy = response(&invite, 486);
    assert!(sim.receive(&busy));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    assert_eq!(sim.responses(), vec![(ms(2000), 486)]);

    // §17.1.1.3: the ACK reuses the INVITE's Request-URI, top Via, From, Call-ID and CSeq number, and takes
    // the To (with tag) of the response.
    let invite_bytes = sim.sent[0].1.clone();
    let ack_bytes = sim.sent.last().expect("ACK").1.clone();
    let ack = parse_request(&ack_bytes);
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, invite.uri);
    assert_eq!(ack.top_via(), invite.top_via());
    assert_eq!(ack.from(), invite.from());
    assert_eq!(ack.call_id(), invite.call_id());
    assert_eq!(ack.to(), busy.to());
    assert_eq!(
        ack.to()
            .and_then(|t| t.tag().map(str::to_string))
            .as_deref(),
        Some("uas-1")
    );
    let cseq = ack.cseq().expect("CSeq");
    assert_eq!((cseq.seq, cseq.method), (1, Method::Ack));
    assert_eq!(ack.max_forwards(), Some(70));
    assert!(ack.body.is_empty());

    // Timer D (32 s over UDP): every copy of the final response gets the ACK again and no new event.
    sim.run_until(ms(2600));
    assert!(sim.receive(&busy));
    sim.run_until(secs(20));
    assert!(sim.receive(&busy));
    sim.run_until(secs(34) - ms(1));
    assert!(sim.receive(&busy));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    sim.run_until(secs(34));
    assert_eq!(sim.tl.client_state(&key), None);
    assert!(!sim.receive(&busy), "after Timer D a copy is a stray");

    sim.run_until(secs(100));
    assert_eq!(
        sim.times_sent(&invite_bytes),
        at_ms(&[0, 500, 1500]),
        "Timer A stops at the final response"
    );
    assert_eq!(
        sim.times_sent(&ack_bytes),
        vec![ms(2000), ms(2600), secs(20), secs(34) - ms(1)]
    );
    assert_eq!(sim.sent.len(), 7);
    assert_eq!(sim.responses(), vec![(ms(2000), 486)]);
    assert!(
        sim.timeouts().is_empty(),
        "no Timer B after a final response"
    );
}

#[test]
fn invite_client_failure_after_provisional() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKic4");
    let key = sim.send(&invite, UDP);
    sim.run_until(ms(100));
    assert!(sim.receive(&response(&invite, 180)));
    sim.run_until(secs(45));
    let declined = response(&invite, 603);
    assert!(sim.receive(&declined));
    assert_eq!(sim.tl.client_state(&key), Some(ClientState::Completed));
    let ack = parse_request(&sim.sent.last().expect("ACK").1);
    assert_eq!(ack.method, Method::Ack);
    sim.run_until(secs(45 + 32));
    assert_eq!(sim.tl.client_state(&key), None);
    assert_eq!(sim.sent.len(), 2, "the INVITE once, then the ACK");
    assert_eq!(sim.responses(), vec![(ms(100), 180), (secs(45), 603)]);
    assert!(sim.timeouts().is_empty());
}

#[test]
fn invite_client_2xx_in_calling_ends_the_transaction() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKic5");
    let key = sim.send(&invite, UDP);
    sim.run_until(ms(800));
    assert!(sim.receive(&response(&invite, 200)));
    assert_eq!(sim.tl.client_state(&key), None);
    sim.run_until(secs(100));
    assert_eq!(
        sim.sent.len(),
        2,
        "INVITE at 0 and 0.5 s, no ACK from the transaction"
    );
    assert!(sim.timeouts().is_empty());
    assert_eq!(sim.responses(), vec![(ms(800), 200)]);
}

#[test]
fn invite_client_reliable_no_timer_a_and_d_is_zero() {
    let mut sim = Sim::new();
    let invite = request("INVITE", TCP, "z9hG4bKic6");
    let key = sim.send(&invite, TCP);
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 1, "no Timer A over TCP");
    assert_eq!(
        sim.timeouts(),
        vec![(secs(32), TxEvent::ClientTimeout { key })]
    );

    let mut sim = Sim::new();
    let key = sim.send(&invite, TCP);
    sim.run_until(secs(2));
    assert!(sim.receive(&response(&invite, 486)));
    assert_eq!(parse_request(&sim.sent[1].1).method, Method::Ack);
    assert_eq!(sim.tl.poll_timeout(), Some(sim.now), "Timer D = 0");
    sim.run_until(secs(2));
    assert_eq!(sim.tl.client_state(&key), None);
    sim.run_until(secs(100));
    assert_eq!(sim.sent.len(), 2);
    assert!(sim.timeouts().is_empty());
}

#[test]
fn client_responses_match_on_branch_and_cseq_method() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKmatch");
    let invite_key = sim.send(&invite, UDP);
    let cancel = request("CANCEL", UDP, "z9hG4bKmatch");
    let cancel_key = sim.send(&cancel, UDP);
    assert_ne!(invite_key, cancel_key, "CANCEL is a transaction of its own");
    assert_eq!(sim.tl.client_count(), 2);

    // 200 to the CANCEL completes the CANCEL transaction only.
    assert!(sim.receive(&response(&cancel, 200)));
    assert_eq!(
        sim.tl.client_state(&cancel_key),
        Some(ClientState::Completed)
    );
    assert_eq!(sim.tl.client_state(&invite_key), Some(ClientState::Calling));
    // A response with another branch is a stray.
    let other = request("INVITE", UDP, "z9hG4bKother");
    assert!(!sim.receive(&response(&other, 180)));
    assert_eq!(sim.tl.client_state(&invite_key), Some(ClientState::Calling));
    // 487 to the INVITE.
    assert!(sim.receive(&response(&invite, 487)));
    assert_eq!(
        sim.tl.client_state(&invite_key),
        Some(ClientState::Completed)
    );
}

// ---------------------------------------------------------------------------------------------------------
// Server matching (§17.2.3)

#[test]
fn server_matching_with_the_magic_cookie() {
    let mut sim = Sim::new();
    let invite = request("INVITE", UDP, "z9hG4bKcookie");
    let key = new_key(sim.incoming(&invite, UDP));
    // Same branch, different sent-by: another transaction.
    let elsewhere = request_with(
        "INVITE",
        "SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bKcookie",
        "a73kszlfl",
        None,
        1,
    );
    assert!(matches!(sim.incoming(&elsewhere, UDP), RequestDisposition::New(k) if k != key));
    // Same branch, method CANCEL: a transaction of its own.
    let cancel = request("CANCEL", UDP, "z9hG4bKcookie");
    assert!(matches!(sim.incoming(&cancel, UDP), RequestDisposition::New(k) if k != key));
    // A different branch: new. The same branch with another From tag: the same transaction (§17.2.3
    // compares branch, sent-by and method only).
    assert!(matches!(
        sim.incoming(&request("INVITE", UDP, "z9hG4bKcookie2"), UDP),
        RequestDisposition::New(_)
    ));
    let other_from = request_with("INVITE", &via(UDP, "z9hG4bKcookie"), "other-tag", None, 1);
    assert_eq!(
        sim.incoming(&other_from, UDP),
        RequestDisposition::Retransmission
    );
    // The key also holds CSeq number and Call-ID, so a client that reuses a branch for a new request (as the
    // RFC 4475 messages do) gets a transaction of its own rather than another request's response.
    let reused_branch = request_with("INVITE", &via(UDP, "z9hG4bKcookie"), "a73kszlfl", None, 2);
    assert!(matches!(sim.incoming(&reused_branch, UDP), RequestDisposition::New(k) if k != key));
    assert_eq!(sim.tl.server_count(), 5);
    // An ACK matching no transaction goes to the TU.
    assert_eq!(
        sim.incoming(&request("ACK", UDP, "z9hG4bKnone"), UDP),
        RequestDisposition::AckForTu
    );
    assert_eq!(sim.tl.server_count(), 5);
}

#[test]
fn server_matching_rfc_2543_without_magic_cookie() {
    let mut sim = Sim::new();
    // No branch at all, and a branch without the cookie: Call-ID, From tag, CSeq and sent-by identify them.
    for (n, top_via) in [
        "SIP/2.0/UDP 127.0.0.1:5070",
        "SIP/2.0/UDP 127.0.0.1:5070;branch=1234abcd",
        "SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK",
    ]
    .iter()
    .enumerate()
    {
        let cseq = 10 + n as u32;
        let invite = request_with("INVITE", top_via, "t2543", None, cseq);
        let key = new_key(sim.incoming(&invite, UDP));
        assert!(key.0.starts_with("2543|"), "{top_via}: {key:?}");
        assert_eq!(
            sim.incoming(&invite, UDP),
            RequestDisposition::Retransmission
        );

        // What changes the transaction: CSeq number, From tag, sent-by, method.
        let other_cseq = request_with("INVITE", top_via, "t2543", None, cseq + 100);
        assert!(matches!(sim.incoming(&other_cseq, UDP), RequestDisposition::New(k) if k != key));
        let other_from = request_with("INVITE", top_via, "someone-else", None, cseq);
        assert!(matches!(sim.incoming(&other_from, UDP), RequestDisposition::New(k) if k != key));
        let other_host = request_with(
            "INVITE",
            &top_via.replace("127.0.0.1", "127.0.0.9"),
            "t2543",
            None,
            cseq,
        );
        assert!(matches!(sim.incoming(&other_host, UDP), RequestDisposition::New(k) if k != key));
        let cancel = request_with("CANCEL", top_via, "t2543", None, cseq);
        assert!(matches!(sim.incoming(&cancel, UDP), RequestDisposition::New(k) if k != key));

        // The failure response, then the ACK (with the To tag of the response) matches the INVITE.
        let busy = response(&invite, 486);
        assert!(sim.respond(&key, &busy));
        let ack = request_with("ACK", top_via, "t2543", Some("uas-1"), cseq);
        assert_eq!(TxKey::for_request(&ack), Some(key.clone()));
        assert_eq!(sim.incoming(&ack, UDP), RequestDisposition::AckAbsorbed);
        assert_eq!(sim.tl.server_state(&key), Some(ServerState::Confirmed));
    }
}
