//! The simulated-time harness of the B2BUA tests: the endpoint with a recording fake of the media
//! relay, a carrier at 192.0.2.50 and phones registered as 1002.
#![allow(dead_code, unused_imports)]

pub use std::net::SocketAddr;
pub use std::sync::{Arc, Mutex};
pub use std::time::{Duration, Instant};

pub use bytes::Bytes;
pub use sip_core::auth::{DigestAlgorithm, DigestCredentials, UserSecrets};
pub use sip_core::b2bua::{CallEvent, CallsConfig, CodecRef, HangupSide, MediaOp, MediaRelay};
pub use sip_core::{
    Binding, Endpoint, EndpointConfig, LocationStore, MemoryLocation, Peer, TransportKind,
};
pub use sip_message::{
    parse_slice, HeaderName, Limits, Message, Method, Request, Response, SipHeaders,
};
pub use switchboard_media::relay::{LegId, RemoteMedia};

#[derive(Default)]
pub struct MediaLog {
    pub next: u64,
    pub allocated: Vec<LegId>,
    pub remotes: Vec<(LegId, RemoteMedia)>,
    pub bridged: Vec<(LegId, LegId)>,
    pub released: Vec<LegId>,
    pub transcodes: Vec<(LegId, Option<(CodecRef, CodecRef)>)>,
    pub webrtc: Vec<(LegId, switchboard_media::relay::webrtc::WebRtcParams)>,
    /// The relay has no port pair (or descriptor) left: reservations fail.
    pub exhausted: bool,
}

#[derive(Clone, Default)]
pub struct FakeMedia(pub Arc<Mutex<MediaLog>>);

/// The relay as the shell drives it: legs reserved for the endpoint's pool, numbered in order
/// (leg n answers on port 20000 + 2n), and every operation logged.
impl MediaRelay for FakeMedia {
    fn reserve(&mut self) -> Result<(LegId, SocketAddr), sip_core::b2bua::MediaUnavailable> {
        let mut log = self
            .0
            .lock()
            .map_err(|_| sip_core::b2bua::MediaUnavailable::Relay("poisoned".into()))?;
        if log.exhausted {
            return Err(sip_core::b2bua::MediaUnavailable::NoPorts);
        }
        log.next += 1;
        let leg = LegId(log.next);
        Ok((
            leg,
            SocketAddr::from(([127, 0, 0, 1], 20000 + 2 * log.next as u16)),
        ))
    }

    fn apply(&mut self, op: MediaOp) {
        let Ok(mut log) = self.0.lock() else {
            return;
        };
        match op {
            MediaOp::Open { leg, .. } => log.allocated.push(leg),
            MediaOp::SetRemote { leg, remote } => log.remotes.push((leg, remote)),
            MediaOp::Bridge { a, b } => log.bridged.push((a, b)),
            MediaOp::Transcode { leg, spec } => log.transcodes.push((leg, spec)),
            MediaOp::Release { leg } => log.released.push(leg),
            MediaOp::WebRtc { leg, params } => log.webrtc.push((leg, *params)),
        }
    }
}

impl FakeMedia {
    /// What a shell does after each step: carry out the endpoint's media operations, then top up
    /// its pool.
    pub fn pump<L: LocationStore>(&mut self, ep: &mut Endpoint<L>) {
        while let Some(op) = ep.poll_media_op() {
            self.apply(op);
        }
        for _ in 0..ep.media_legs_wanted() {
            match self.reserve() {
                Ok(leg) => ep.add_media_leg(leg),
                Err(_) => break,
            }
        }
    }
}

pub const CARRIER: &str = "192.0.2.50:5060";
/// 1002's SIP password (realm `switchboard`).
pub const PASSWORD_1002: &str = "secret-1002";
pub const PHONE_A: &str = "198.51.100.10:5060";
pub const PHONE_B: &str = "198.51.100.11:5062";

pub fn udp(addr: &str) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr: addr.parse().expect("addr"),
        connection: None,
    }
}

pub fn binding(contact: &str, source: &str) -> Binding {
    Binding {
        aor: "1002".into(),
        contact_uri: contact.into(),
        contact_value: format!("<{contact}>"),
        expires_at_unix: i64::MAX / 2,
        q_milli: 1000,
        call_id: "reg".into(),
        cseq: 1,
        transport: "udp".into(),
        source: source.into(),
        user_agent: None,
    }
}

pub struct Harness {
    pub ep: Endpoint<MemoryLocation>,
    pub media: FakeMedia,
    pub now: Instant,
    /// The carrier's call that [`Harness::call_1002_with`] routed last.
    pub carrier_call: Option<sip_core::b2bua::CallRef>,
}

#[derive(Debug)]
pub enum Out {
    Req(SocketAddr, Request),
    Resp(Response),
}

pub const OFFER: &str = "v=0\r\no=carrier 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\nm=audio 30000 RTP/AVP 8 0 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n";

pub fn answer_sdp(port: u16) -> String {
    format!("v=0\r\no=phone 5 5 IN IP4 198.51.100.10\r\ns=-\r\nc=IN IP4 198.51.100.10\r\nt=0 0\r\nm=audio {port} RTP/AVP 8 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n")
}

impl Harness {
    pub fn new(contacts: &[(&str, &str)]) -> Harness {
        Harness::with_config(contacts, |_| {})
    }

    /// Like [`Harness::new`], with the endpoint's configuration changed by `tweak` first.
    pub fn with_config(
        contacts: &[(&str, &str)],
        tweak: impl FnOnce(&mut EndpointConfig),
    ) -> Harness {
        let now = Instant::now();
        let mut location = MemoryLocation::default();
        location.replace(
            "1002",
            contacts.iter().map(|(c, s)| binding(c, s)).collect(),
        );
        let cfg = EndpointConfig {
            seed: 3,
            calls: CallsConfig {
                local: "192.0.2.1:5060".parse().expect("addr"),
                ..CallsConfig::default()
            },
            ..EndpointConfig::default()
        };
        let mut cfg = cfg;
        tweak(&mut cfg);
        let mut ep = Endpoint::new(cfg, location, now, 1_800_000_000_000);
        ep.registrar_mut().set_user(
            "1002",
            UserSecrets::from_password("1002", "switchboard", PASSWORD_1002),
        );
        let mut media = FakeMedia::default();
        ep.enable_media();
        media.pump(&mut ep);
        ep.set_call_sources(vec![("192.0.2.50".parse().expect("ip"), 32)]);
        Harness {
            ep,
            media,
            now,
            carrier_call: None,
        }
    }

    pub fn input(&mut self, from: &str, text: String) -> Vec<Out> {
        self.ep.handle_input(self.now, udp(from), Bytes::from(text));
        self.drain()
    }

    pub fn drain(&mut self) -> Vec<Out> {
        self.media.pump(&mut self.ep);
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            match parse_slice(&t.payload, &Limits::default()).expect("we send parseable messages") {
                Message::Request(r) => out.push(Out::Req(t.peer.addr, r)),
                Message::Response(r) => out.push(Out::Resp(r)),
            }
        }
        out
    }

    pub fn advance(&mut self, d: Duration) -> Vec<Out> {
        let target = self.now + d;
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_timeout() {
            if t > target {
                break;
            }
            self.now = t.max(self.now);
            self.ep.handle_timeout(self.now);
            out.extend(self.drain());
        }
        self.now = target;
        self.ep.handle_timeout(self.now);
        out.extend(self.drain());
        out
    }

    /// Sends `request` from `from` the way a phone must: the first try is challenged (407), the
    /// phone ACKs that (for an INVITE) and sends the request again — new branch, next CSeq —
    /// with `Proxy-Authorization` as 1002. Returns what the second try brought.
    pub fn input_as_1002(&mut self, from: &str, request: String) -> Vec<Out> {
        let out = self.input(from, request.clone());
        let challenge = responses(&out)
            .into_iter()
            .find(|r| r.status == 407)
            .unwrap_or_else(|| panic!("a 407 challenge: {out:?}"));
        let parsed = match parse_slice(request.as_bytes(), &Limits::default()) {
            Ok(Message::Request(r)) => r,
            other => panic!("a request: {other:?}"),
        };
        if parsed.method == Method::Invite {
            self.input(from, ack_for(&parsed, &challenge));
        }
        let authorization = proxy_authorization(&parsed, &challenge, "1002", PASSWORD_1002, 1);
        self.input(from, with_credentials(&request, &authorization))
    }

    pub fn events(&mut self) -> Vec<CallEvent> {
        std::iter::from_fn(|| self.ep.poll_call_event()).collect()
    }

    /// The carrier's INVITE to 1002, answered with 100; returns the call after routing to 1002.
    pub fn call_1002(&mut self) -> sip_core::b2bua::CallRef {
        self.call_1002_with(invite("c1"))
    }

    /// Like [`Harness::call_1002`] with the carrier's INVITE given.
    pub fn call_1002_with(&mut self, invite: String) -> sip_core::b2bua::CallRef {
        let out = self.input(CARRIER, invite);
        assert!(
            matches!(&out[..], [Out::Resp(r)] if r.status == 100),
            "{out:?}"
        );
        let call = match &self.events()[..] {
            [CallEvent::Incoming {
                call,
                to_user,
                from_user,
                caller,
                ..
            }] => {
                assert_eq!(
                    (to_user.as_str(), from_user.as_str()),
                    ("1002", "+4791234567")
                );
                assert_eq!(*caller, sip_core::b2bua::Caller::Trunk);
                *call
            }
            other => panic!("{other:?}"),
        };
        let targets = self
            .ep
            .targets_for_user("1002", Some(Duration::from_secs(20)));
        self.ep.ring(self.now, call, targets);
        self.carrier_call = Some(call);
        call
    }
}

/// The ACK a UAC sends for a non-2xx final response to `invite` (RFC 3261 §17.1.1.3).
pub fn ack_for(invite: &Request, resp: &Response) -> String {
    let h = |n: HeaderName| -> String {
        invite
            .headers
            .get(&n)
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .unwrap_or_default()
    };
    let to = resp
        .headers
        .get(&HeaderName::To)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default();
    let seq = invite.cseq().map_or(1, |c| c.seq);
    format!(
        "ACK {} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\nFrom: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {seq} ACK\r\nContent-Length: 0\r\n\r\n",
        invite.uri,
        h(HeaderName::Via),
        h(HeaderName::From),
        h(HeaderName::CallId),
    )
}

/// A `Proxy-Authorization` value answering `challenge` (its first `Proxy-Authenticate`) for
/// `request`, with nonce count `nc` (MD5, qop=auth).
pub fn proxy_authorization(
    request: &Request,
    challenge: &Response,
    user: &str,
    password: &str,
    nc: u32,
) -> String {
    proxy_authorization_with(request, challenge, user, password, nc, DigestAlgorithm::Md5)
}

/// [`proxy_authorization`] answering the challenge for `algorithm`.
pub fn proxy_authorization_with(
    request: &Request,
    challenge: &Response,
    user: &str,
    password: &str,
    nc: u32,
    algorithm: DigestAlgorithm,
) -> String {
    digest_answer(
        request,
        challenge,
        &HeaderName::ProxyAuthenticate,
        (user, password),
        nc,
        algorithm,
    )
}

/// The credentials (an `Authorization`/`Proxy-Authorization` value) a client sends for `request`
/// after `challenge`, answering its `header` (WWW- or Proxy-Authenticate) for `algorithm`.
pub fn digest_answer(
    request: &Request,
    challenge: &Response,
    header: &HeaderName,
    (user, password): (&str, &str),
    nc: u32,
    algorithm: DigestAlgorithm,
) -> String {
    let header = challenge
        .authorization(header)
        .into_iter()
        .find(|h| {
            h.param("algorithm")
                .and_then(DigestAlgorithm::parse)
                .unwrap_or(DigestAlgorithm::Md5)
                == algorithm
        })
        .expect("a challenge for the algorithm");
    let realm = header.param("realm").expect("realm").to_string();
    let nonce = header.param("nonce").expect("nonce").to_string();
    let creds = DigestCredentials {
        username: user.into(),
        realm: realm.clone(),
        nonce: nonce.clone(),
        uri: request.uri.to_string(),
        response: String::new(),
        algorithm,
        qop: Some("auth".into()),
        nc: Some(format!("{nc:08x}")),
        cnonce: Some("0a4f113b".into()),
    };
    let secrets = UserSecrets::from_password(user, &realm, password);
    let ha1 = secrets.ha1(algorithm);
    let response = creds
        .expected_response(ha1, request.method.as_str())
        .expect("response");
    format!(
        "Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{}\", response=\"{response}\", algorithm={}, qop=auth, nc={:08x}, cnonce=\"0a4f113b\"",
        creds.uri,
        algorithm.name(),
        nc
    )
}

/// `request` sent again with credentials: a new branch, the next CSeq, `Proxy-Authorization`.
pub fn with_credentials(request: &str, authorization: &str) -> String {
    let (head, body) = request.split_once("\r\n\r\n").expect("head and body");
    let mut lines: Vec<String> = head.split("\r\n").map(str::to_string).collect();
    for line in lines.iter_mut() {
        if line.starts_with("Via:") {
            *line = line.replacen("branch=z9hG4bK", "branch=z9hG4bKauth", 1);
        } else if let Some(rest) = line.strip_prefix("CSeq: ") {
            let (n, method) = rest.split_once(' ').expect("CSeq");
            let n: u32 = n.parse().expect("CSeq number");
            *line = format!("CSeq: {} {method}", n + 1);
        }
    }
    lines.insert(1, format!("Proxy-Authorization: {authorization}"));
    format!("{}\r\n\r\n{body}", lines.join("\r\n"))
}

pub fn invite(call_id: &str) -> String {
    format!(
        "INVITE sip:1002@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK{call_id}\r\nMax-Forwards: 70\r\nFrom: <sip:+4791234567@192.0.2.50>;tag=carrier1\r\nTo: <sip:1002@192.0.2.1>\r\nCall-ID: {call_id}\r\nCSeq: 1 INVITE\r\nContact: <sip:+4791234567@192.0.2.50:5060>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
}

/// A response from a callee to our INVITE (or other request), echoing what §8.2.6 wants.
pub fn reply(req: &Request, status: u16, to_tag: &str, body: &str) -> String {
    let h = |n: HeaderName| -> String {
        req.headers
            .get_all(&n)
            .map(|v| format!("{}: {}\r\n", n.as_str(), String::from_utf8_lossy(v)))
            .collect()
    };
    let to = String::from_utf8_lossy(req.headers.get(&HeaderName::To).expect("To")).into_owned();
    let to = if to.contains("tag=") {
        to
    } else {
        format!("{to};tag={to_tag}")
    };
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "SIP/2.0 {status} {}\r\n{}{}To: {to}\r\n{}{}Contact: <sip:1002@{PHONE_A}>\r\n{ctype}Content-Length: {}\r\n\r\n{body}",
        sip_message::default_reason(status),
        h(HeaderName::Via),
        h(HeaderName::From),
        h(HeaderName::CallId),
        h(HeaderName::CSeq),
        body.len()
    )
}

/// A request from the callee of our INVITE `inv` (it answered with tag `tag`), from `addr`.
pub fn from_callee(inv: &Request, addr: &str, tag: &str, method: &str, cseq: u32) -> String {
    let ours = String::from_utf8_lossy(inv.headers.get(&HeaderName::From).expect("From"));
    let theirs = String::from_utf8_lossy(inv.headers.get(&HeaderName::To).expect("To"));
    let call_id = inv.call_id().expect("Call-ID");
    format!(
        "{method} sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {addr};branch=z9hG4bKcallee{method}{cseq}\r\nMax-Forwards: 70\r\nFrom: {theirs};tag={tag}\r\nTo: {ours}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n"
    )
}

/// A request from the carrier within the inbound dialog (ACK, BYE) or CANCEL.
pub fn carrier_request(method: &str, to_tag: Option<&str>, branch: &str, cseq: u32) -> String {
    let to = match to_tag {
        Some(t) => format!("<sip:1002@192.0.2.1>;tag={t}"),
        None => "<sip:1002@192.0.2.1>".into(),
    };
    format!("{method} sip:1002@192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:+4791234567@192.0.2.50>;tag=carrier1\r\nTo: {to}\r\nCall-ID: c1\r\nCSeq: {cseq} {method}\r\nContent-Length: 0\r\n\r\n")
}

pub fn requests(out: &[Out], method: Method) -> Vec<(SocketAddr, Request)> {
    out.iter()
        .filter_map(|o| match o {
            Out::Req(a, r) if r.method == method => Some((*a, r.clone())),
            _ => None,
        })
        .collect()
}

pub fn responses(out: &[Out]) -> Vec<Response> {
    out.iter()
        .filter_map(|o| match o {
            Out::Resp(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

pub fn to_tag(r: &Response) -> String {
    r.to()
        .and_then(|t| t.tag().map(str::to_string))
        .expect("To tag")
}

/// A request from phone A inside the dialog of our INVITE `inv` to it (A answered with tag phone1).
pub fn from_phone_a(inv: &Request, method: &str, cseq: u32, extra: &str, body: &str) -> String {
    let our_from =
        String::from_utf8_lossy(inv.headers.get(&HeaderName::From).expect("From")).into_owned();
    let call_id = inv.call_id().expect("Call-ID");
    let ctype = if body.is_empty() {
        ""
    } else {
        "Content-Type: application/sdp\r\n"
    };
    format!(
        "{method} sip:switchboard@192.0.2.1:5060 SIP/2.0\r\nVia: SIP/2.0/UDP {PHONE_A};branch=z9hG4bKa{method}{cseq}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@10.0.0.5>;tag=phone1\r\nTo: {our_from}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\nContact: <sip:1002@{PHONE_A}>\r\n{extra}{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A call from the carrier answered by 1002 and ACKed; returns the callee's INVITE and our To tag
/// towards the caller.
pub fn connected_call(h: &mut Harness) -> (Request, String) {
    h.call_1002();
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the caller");
    let tag = to_tag(&ok);
    h.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    h.events();
    (inv, tag)
}

pub fn caller_reinvite(tag: &str, branch: &str, cseq: u32, direction: &str) -> String {
    let sdp = OFFER.replace("o=carrier 1 1", &format!("o=carrier 1 {cseq}"))
        + &format!("a={direction}\r\n");
    carrier_request("INVITE", Some(tag), branch, cseq).replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
            sdp.len()
        ),
    )
}

/// Phone B (1003) as a ring target: where the transfer tests send the transferred call.
pub fn phone_b_target() -> sip_core::b2bua::RingTarget {
    sip_core::b2bua::RingTarget {
        uri: sip_message::Uri::parse(b"sip:1003@10.0.0.6:5062").expect("uri"),
        peer: udp(PHONE_B),
        label: "1003".into(),
        ring_timeout: Some(Duration::from_secs(20)),
        confirm: false,
        caller_id: None,
        srtp: Default::default(),
    }
}

/// The sipfrag bodies of the NOTIFYs in `out`, each checked to go to the transferor (phone A) with
/// `Event: refer`, in the dialog `call_id` when given.
pub fn notify_bodies_in(out: &[Out], call_id: Option<&str>) -> Vec<String> {
    requests(out, sip_message::Method::Notify)
        .iter()
        .map(|(to, r)| {
            assert_eq!(to.to_string(), PHONE_A, "NOTIFY goes to the transferor");
            assert_eq!(
                r.headers.get(&sip_message::HeaderName::Event),
                Some(&b"refer"[..])
            );
            if let Some(id) = call_id {
                assert_eq!(r.call_id(), Some(id), "in the transferor's own dialog");
            }
            String::from_utf8_lossy(&r.body).trim().to_string()
        })
        .collect()
}

/// What phone A's blind REFER to 1003 must give: 202, NOTIFY 100, and the request for call control
/// with `hold_leg` (the party kept) to play music to.
pub fn assert_blind_transfer_accepted(
    h: &mut Harness,
    out: &[Out],
    call_id: Option<&str>,
    hold: sip_core::b2bua::LegId,
) {
    let statuses: Vec<u16> = responses(out).iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![202], "{out:?}");
    assert_eq!(notify_bodies_in(out, call_id), vec!["SIP/2.0 100 Trying"]);
    match &h.events()[..] {
        [CallEvent::TransferRequested {
            by,
            target,
            hold_leg,
            codec,
            ..
        }] => {
            assert_eq!((by.to_string().as_str(), target.as_str()), ("1002", "1003"));
            assert_eq!(*hold_leg, hold, "the kept party's leg waits with music");
            assert_eq!(codec, &("PCMA".to_string(), 8));
        }
        other => panic!("{other:?}"),
    }
}
