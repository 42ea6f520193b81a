//! The endpoint core with simulated time: registrations, challenges, expiry, bans and the UAS checks run
//! in microseconds, deterministically.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use sip_core::auth::{DigestAlgorithm, DigestCredentials, UserSecrets};
use sip_core::guard::GuardConfig;
use sip_core::{
    BindingChange, Endpoint, EndpointConfig, LocationStore, MemoryLocation, Peer, RegistrarConfig,
    TransportKind,
};
use sip_message::{parse_slice, HeaderName, Limits, Message, Response, SipHeaders};

const REALM: &str = "switchboard";

struct Harness {
    ep: Endpoint<MemoryLocation>,
    now: Instant,
}

fn udp(addr: &str) -> Peer {
    Peer {
        transport: TransportKind::Udp,
        addr: addr.parse().expect("addr"),
        connection: None,
    }
}

impl Harness {
    fn new(registrar: RegistrarConfig) -> Harness {
        let now = Instant::now();
        let cfg = EndpointConfig {
            registrar,
            seed: 7,
            nonce_secret: [9; 32],
            ..EndpointConfig::default()
        };
        let mut ep = Endpoint::new(cfg, MemoryLocation::default(), now, 1_800_000_000_000);
        ep.registrar_mut().set_user(
            "1001",
            UserSecrets::from_password("1001", REALM, "demo-1001"),
        );
        Harness { ep, now }
    }

    fn default() -> Harness {
        Harness::new(RegistrarConfig::default())
    }

    fn advance(&mut self, d: Duration) {
        let target = self.now + d;
        // Fire every deadline on the way, as the shell would.
        while let Some(t) = self.ep.poll_timeout() {
            if t > target {
                break;
            }
            self.now = t.max(self.now);
            self.ep.handle_timeout(self.now);
        }
        self.now = target;
        self.ep.handle_timeout(self.now);
    }

    fn send(&mut self, peer: Peer, text: &str) -> Vec<(SocketAddr, Response)> {
        self.ep
            .handle_input(self.now, peer, Bytes::from(text.replace('\n', "\r\n")));
        self.drain()
    }

    fn drain(&mut self) -> Vec<(SocketAddr, Response)> {
        let mut out = Vec::new();
        while let Some(t) = self.ep.poll_transmit() {
            match parse_slice(&t.payload, &Limits::default()).expect("we send parseable messages") {
                Message::Response(r) => out.push((t.peer.addr, r)),
                Message::Request(r) => panic!("unexpected request {r:?}"),
            }
        }
        out
    }

    fn one(&mut self, peer: Peer, text: &str) -> (SocketAddr, Response) {
        let mut v = self.send(peer, text);
        assert_eq!(v.len(), 1, "expected exactly one response, got {v:?}");
        v.remove(0)
    }
}

fn register(
    user: &str,
    cseq: u32,
    branch: &str,
    contact: &str,
    expires: Option<u32>,
    auth: Option<&str>,
) -> String {
    let mut m = format!(
        "REGISTER sip:switchboard.test SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.50:5062;branch=z9hG4bK{branch};rport\n\
         Max-Forwards: 70\nFrom: <sip:{user}@switchboard.test>;tag=f1\nTo: <sip:{user}@switchboard.test>\n\
         Call-ID: reg-{user}@test\nCSeq: {cseq} REGISTER\nContact: {contact}\n"
    );
    if let Some(e) = expires {
        m.push_str(&format!("Expires: {e}\n"));
    }
    if let Some(a) = auth {
        m.push_str(&format!("Authorization: {a}\n"));
    }
    m.push_str("Content-Length: 0\n\n");
    m
}

/// Answers a challenge the way a client would.
fn answer(
    challenge: &Response,
    user: &str,
    password: &str,
    alg: DigestAlgorithm,
    nc: u32,
) -> String {
    let www = challenge
        .authorization(&HeaderName::WwwAuthenticate)
        .into_iter()
        .find(|h| h.param("algorithm") == Some(alg.name()))
        .expect("challenge for the algorithm");
    let nonce = www.param("nonce").expect("nonce").to_string();
    let creds = DigestCredentials {
        username: user.into(),
        realm: REALM.into(),
        nonce: nonce.clone(),
        uri: "sip:switchboard.test".into(),
        response: String::new(),
        algorithm: alg,
        qop: Some("auth".into()),
        nc: Some(format!("{nc:08x}")),
        cnonce: Some("c0ffee".into()),
    };
    let ha1 = sip_core::auth::ha1(alg, user, REALM, password);
    let response = creds.expected_response(&ha1, "REGISTER").expect("response");
    format!(
        "Digest username=\"{user}\", realm=\"{REALM}\", nonce=\"{nonce}\", uri=\"sip:switchboard.test\", \
         response=\"{response}\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"c0ffee\"",
        alg.name()
    )
}

fn contacts_of(r: &Response) -> Vec<String> {
    r.headers
        .get_all(&HeaderName::Contact)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect()
}

const PHONE: &str = "192.0.2.50:40000";

#[test]
fn register_with_digest_then_expire() {
    let mut h = Harness::default();
    let c = "<sip:1001@192.0.2.50:5062>";
    let (dest, r) = h.one(udp(PHONE), &register("1001", 1, "a1", c, Some(60), None));
    assert_eq!(r.status, 401);
    // rport: the answer goes to the source port, and the Via says where the request came from.
    assert_eq!(dest, PHONE.parse().expect("addr"));
    let via = r.top_via().expect("via");
    assert_eq!(via.received(), Some("192.0.2.50"));
    assert_eq!(via.params.get_value("rport"), Some("40000"));
    assert!(
        r.to().and_then(|t| t.tag().map(str::to_string)).is_some(),
        "401 needs a To tag"
    );

    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Md5, 1);
    let (_, ok) = h.one(
        udp(PHONE),
        &register("1001", 2, "a2", c, Some(60), Some(&auth)),
    );
    assert_eq!(ok.status, 200);
    assert_eq!(
        contacts_of(&ok),
        vec!["<sip:1001@192.0.2.50:5062>;expires=60".to_string()]
    );
    let changes = h.ep.drain_binding_changes();
    assert!(
        matches!(&changes[..], [BindingChange::Upsert(b)] if b.aor == "1001" && b.source == PHONE)
    );

    h.advance(Duration::from_secs(59));
    assert_eq!(h.ep.registrar().location().binding_count(), 1);
    h.advance(Duration::from_secs(2));
    assert_eq!(
        h.ep.registrar().location().binding_count(),
        0,
        "binding expired"
    );
    let changes = h.ep.drain_binding_changes();
    assert!(matches!(&changes[..], [BindingChange::Remove { aor, .. }] if aor == "1001"));
}

#[test]
fn retransmitted_register_is_answered_from_the_transaction() {
    let mut h = Harness::default();
    let msg = register("1001", 1, "rt", "<sip:1001@192.0.2.50>", None, None);
    let (_, first) = h.one(udp(PHONE), &msg);
    h.advance(Duration::from_millis(500));
    let (_, again) = h.one(udp(PHONE), &msg);
    assert_eq!(first, again, "same response bytes, not a new challenge");
    assert_eq!(h.ep.stats().retransmissions_absorbed, 1);
    assert_eq!(h.ep.registrar().stats().challenges, 1);
    // Timer J (64*T1 on UDP) forgets the transaction.
    h.advance(Duration::from_secs(33));
    assert_eq!(h.ep.transactions().server_count(), 0);
}

#[test]
fn expired_nonce_with_right_password_is_stale() {
    let mut h = Harness::default();
    let c = "<sip:1001@192.0.2.50>";
    let (_, r) = h.one(udp(PHONE), &register("1001", 1, "s1", c, None, None));
    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Md5, 1);
    h.advance(Duration::from_secs(301));
    let (_, r) = h.one(udp(PHONE), &register("1001", 2, "s2", c, None, Some(&auth)));
    assert_eq!(r.status, 401);
    let www = r.authorization(&HeaderName::WwwAuthenticate);
    assert_eq!(www[0].param("stale"), Some("true"));
    // A wrong password with an expired nonce is a failure, not stale.
    let bad = answer(&r, "1001", "nope", DigestAlgorithm::Md5, 1);
    h.advance(Duration::from_secs(301));
    let (_, r) = h.one(udp(PHONE), &register("1001", 3, "s3", c, None, Some(&bad)));
    assert_eq!(r.status, 403);
}

#[test]
fn sha256_when_offered() {
    let mut h = Harness::new(RegistrarConfig {
        algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
        ..RegistrarConfig::default()
    });
    let c = "<sip:1001@192.0.2.50>";
    let (_, r) = h.one(udp(PHONE), &register("1001", 1, "h1", c, None, None));
    let algs: Vec<String> = r
        .authorization(&HeaderName::WwwAuthenticate)
        .iter()
        .filter_map(|h| h.param("algorithm").map(str::to_string))
        .collect();
    assert_eq!(algs, ["SHA-256", "MD5"]);
    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Sha256, 1);
    let (_, ok) = h.one(udp(PHONE), &register("1001", 2, "h2", c, None, Some(&auth)));
    assert_eq!(ok.status, 200);
    assert_eq!(
        contacts_of(&ok),
        vec!["<sip:1001@192.0.2.50>;expires=3600".to_string()]
    );
}

fn authed(h: &mut Harness, cseq: u32, contact: &str, expires: Option<u32>) -> Response {
    let (_, r) = h.one(
        udp(PHONE),
        &register("1001", cseq, &format!("c{cseq}"), contact, expires, None),
    );
    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Md5, 1);
    h.one(
        udp(PHONE),
        &register(
            "1001",
            cseq + 1,
            &format!("d{cseq}"),
            contact,
            expires,
            Some(&auth),
        ),
    )
    .1
}

#[test]
fn contact_rules_min_expires_star_and_q() {
    let mut h = Harness::default();
    let r = authed(&mut h, 1, "<sip:1001@192.0.2.50>", Some(10));
    assert_eq!(r.status, 423);
    assert_eq!(
        r.headers
            .get(&HeaderName::MinExpires)
            .and_then(|v| std::str::from_utf8(v).ok()),
        Some("60")
    );

    let r = authed(
        &mut h,
        10,
        "<sip:1001@192.0.2.50;transport=tcp>;q=0.7;+sip.instance=\"<urn:uuid:1>\", <sip:1001@198.51.100.9>;expires=120",
        Some(600),
    );
    assert_eq!(r.status, 200);
    let mut got = contacts_of(&r);
    got.sort();
    assert_eq!(
        got,
        vec![
            "<sip:1001@192.0.2.50;transport=tcp>;expires=600",
            "<sip:1001@198.51.100.9>;expires=120"
        ]
    );
    let bindings = h.ep.registrar().location().bindings("1001").to_vec();
    let app = bindings
        .iter()
        .find(|b| b.contact_uri.contains("tcp"))
        .expect("binding");
    assert_eq!(app.q_milli, 700);
    assert!(
        app.contact_value.contains("+sip.instance=\"<urn:uuid:1>\""),
        "{}",
        app.contact_value
    );

    // `*` needs Expires: 0.
    let r = authed(&mut h, 20, "*", Some(30));
    assert_eq!(r.status, 400);
    let r = authed(&mut h, 30, "*", Some(0));
    assert_eq!(r.status, 200);
    assert!(contacts_of(&r).is_empty());
    assert_eq!(h.ep.registrar().location().binding_count(), 0);
}

#[test]
fn older_cseq_for_the_same_call_id_is_refused() {
    let mut h = Harness::default();
    assert_eq!(
        authed(&mut h, 10, "<sip:1001@192.0.2.50>", None).status,
        200
    );
    // CSeq 6 < 11 with the same Call-ID: out of order, the binding stays.
    assert_eq!(
        authed(&mut h, 5, "<sip:1001@192.0.2.50>", Some(0)).status,
        500
    );
    assert_eq!(h.ep.registrar().location().binding_count(), 1);
}

#[test]
fn credentials_for_another_user_are_refused() {
    let mut h = Harness::default();
    h.ep.registrar_mut().set_user(
        "1002",
        UserSecrets::from_password("1002", REALM, "demo-1002"),
    );
    let (_, r) = h.one(
        udp(PHONE),
        &register("1001", 1, "x1", "<sip:1001@192.0.2.50>", None, None),
    );
    let auth = answer(&r, "1002", "demo-1002", DigestAlgorithm::Md5, 1);
    let (_, r) = h.one(
        udp(PHONE),
        &register("1001", 2, "x2", "<sip:1001@192.0.2.50>", None, Some(&auth)),
    );
    assert_eq!(r.status, 403);
}

#[test]
fn failing_source_is_banned_then_forgiven() {
    let mut h = Harness::new(RegistrarConfig {
        guard: GuardConfig {
            max_failures: 3,
            window: Duration::from_secs(60),
            ban: Duration::from_secs(300),
        },
        ..RegistrarConfig::default()
    });
    let c = "<sip:1001@192.0.2.50>";
    for i in 0..3 {
        let (_, r) = h.one(
            udp(PHONE),
            &register("1001", i * 2 + 1, &format!("b{i}"), c, None, None),
        );
        let bad = answer(&r, "1001", "guess", DigestAlgorithm::Md5, 1);
        let (_, r) = h.one(
            udp(PHONE),
            &register("1001", i * 2 + 2, &format!("bb{i}"), c, None, Some(&bad)),
        );
        assert_eq!(r.status, 403);
    }
    assert!(
        h.send(udp(PHONE), &register("1001", 9, "b9", c, None, None))
            .is_empty(),
        "banned: silence"
    );
    // Another source is unaffected.
    assert_eq!(
        h.one(
            udp("192.0.2.51:40000"),
            &register("1001", 9, "o9", c, None, None)
        )
        .1
        .status,
        401
    );
    h.advance(Duration::from_secs(301));
    assert_eq!(
        h.one(udp(PHONE), &register("1001", 11, "b11", c, None, None))
            .1
            .status,
        401
    );
}

#[test]
fn uas_checks_in_rfc_order() {
    let mut h = Harness::default();
    let mut n = 0;
    let mut req = |method: &str, cseq_method: &str, uri: &str, extra: &str| {
        n += 1;
        format!(
            "{method} {uri} SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.50:5062;branch=z9hG4bKuas{n}\n\
             From: <sip:x@y>;tag=1\nTo: <sip:1001@switchboard.test>\nCall-ID: uas-{n}\nCSeq: 1 {cseq_method}\n\
             {extra}Content-Length: 0\n\n"
        )
    };
    let mut status = |m: String| h.one(udp(PHONE), &m).1.status;
    assert_eq!(
        status(req("OPTIONS", "OPTIONS", "sip:switchboard.test", "")),
        200
    );
    assert_eq!(
        status(req(
            "OPTIONS",
            "OPTIONS",
            "sip:switchboard.test",
            "Max-Forwards: 0\n"
        )),
        200
    );
    assert_eq!(status(req("OPTIONS", "OPTIONS", "mailto:a@b", "")), 416);
    assert_eq!(
        status(req(
            "OPTIONS",
            "OPTIONS",
            "sip:switchboard.test",
            "Require: foo-ext\n"
        )),
        420
    );
    assert_eq!(
        status(req("OPTIONS", "INVITE", "sip:switchboard.test", "")),
        400
    );
    assert_eq!(
        status(req(
            "OPTIONS",
            "OPTIONS",
            "sip:a@b",
            "Max-Forwards: 1\nMax-Forwards: 2\n"
        )),
        400
    );
    assert_eq!(
        status(req(
            "INVITE",
            "INVITE",
            "sip:1001@switchboard.test",
            "Max-Forwards: 0\n"
        )),
        483
    );
    assert_eq!(
        status(req("INVITE", "INVITE", "sip:9999@switchboard.test", "")),
        404
    );
    assert_eq!(
        status(req(
            "SUBSCRIBE",
            "SUBSCRIBE",
            "sip:1001@switchboard.test",
            ""
        )),
        405
    );
    assert_eq!(
        status(req(
            "FROBNICATE",
            "FROBNICATE",
            "sip:1001@switchboard.test",
            ""
        )),
        501
    );
    assert_eq!(
        status(req("BYE", "BYE", "sip:1001@switchboard.test", "")),
        481
    );
    let v3 =
        req("OPTIONS", "OPTIONS", "sip:switchboard.test", "").replace(" SIP/2.0\n", " SIP/3.0\n");
    assert_eq!(status(v3), 505);
    let with_body = req(
        "INVITE",
        "INVITE",
        "sip:1001@switchboard.test",
        "Content-Type: text/x-unknown\n",
    )
    .replace("Content-Length: 0\n\n", "Content-Length: 5\n\nhello");
    assert_eq!(status(with_body), 415);
}

#[test]
fn garbage_gets_400_at_the_via_port_and_responses_are_never_answered() {
    let mut h = Harness::default();
    let bad = "INVITE sip:a@b SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.9:5099;;,;\nCall-ID: g1\nCSeq: 1 INVITE\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>\nContent-Length: 0\n\n";
    // The malformed Via is echoed as received, so the answer is checked as bytes.
    h.ep.handle_input(h.now, udp(PHONE), Bytes::from(bad.replace('\n', "\r\n")));
    let t = h.ep.poll_transmit().expect("a 400");
    assert!(t.payload.starts_with(b"SIP/2.0 400 "), "{:?}", t.payload);
    assert_eq!(
        t.peer.addr,
        "192.0.2.50:5099".parse().expect("addr"),
        "source address, Via port"
    );
    let stray = "SIP/2.0 200 OK\nVia: SIP/2.0/UDP 192.0.2.9;branch=z9hG4bKx\nCall-ID: s\nCSeq: 1 INVITE\nFrom: <sip:a@b>;tag=1\nTo: <sip:c@d>;tag=2\nContent-Length: 0\n\n";
    assert!(h.send(udp(PHONE), stray).is_empty());
    assert!(h.send(udp(PHONE), "SIP/2.0 99999 broken\n\n").is_empty());
    assert!(
        h.send(udp(PHONE), "\u{0}\u{1}binary junk").is_empty(),
        "no Via, no answer"
    );
}

#[test]
fn crlf_ping_on_a_stream_gets_a_pong() {
    let mut h = Harness::default();
    let peer = Peer {
        transport: TransportKind::Tcp,
        addr: PHONE.parse().expect("addr"),
        connection: Some(sip_core::ConnectionId(4)),
    };
    h.ep.handle_ping(peer);
    let t = h.ep.poll_transmit().expect("pong");
    assert_eq!(&t.payload[..], b"\r\n");
    assert_eq!(t.peer, peer);
}

#[test]
fn trusted_source_registers_without_digest() {
    let mut h = Harness::new(RegistrarConfig {
        trusted_sources: vec![("192.0.2.0".parse().expect("ip"), 24)],
        ..RegistrarConfig::default()
    });
    let (_, r) = h.one(
        udp(PHONE),
        &register("1001", 1, "t1", "<sip:1001@192.0.2.50>", None, None),
    );
    assert_eq!(r.status, 200);
    let (_, r) = h.one(
        udp(PHONE),
        &register("7777", 1, "t2", "<sip:7777@192.0.2.50>", None, None),
    );
    assert_eq!(r.status, 404, "unknown users are still refused");
    let (_, r) = h.one(
        udp("198.51.100.1:5060"),
        &register("1001", 1, "t3", "<sip:1001@x>", None, None),
    );
    assert_eq!(
        r.status, 401,
        "outside the trusted network the challenge stays"
    );
    assert!(sip_core::registrar::in_network(
        "2001:db8::1".parse().expect("ip"),
        "2001:db8::".parse().expect("ip"),
        32
    ));
    assert!(!sip_core::registrar::in_network(
        "10.0.0.1".parse().expect("ip"),
        "2001:db8::".parse().expect("ip"),
        0
    ));
}

#[test]
fn refreshes_move_expiry_without_growing_the_wakeup_queue() {
    let mut h = Harness::default();
    let c = "<sip:1001@192.0.2.50>";
    let (_, r) = h.one(udp(PHONE), &register("1001", 1, "e0", c, Some(60), None));
    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Md5, 1);
    for i in 0..50u32 {
        let expires = if i == 49 { 300 } else { 60 + i };
        let (_, ok) = h.one(
            udp(PHONE),
            &register(
                "1001",
                i + 2,
                &format!("e{}", i + 1),
                c,
                Some(expires),
                Some(&auth),
            ),
        );
        assert_eq!(ok.status, 200);
    }
    assert_eq!(
        h.ep.registrar().pending_expiries(),
        1,
        "refreshes that extend expiry queue nothing"
    );
    // The first registration's 60 s are long past the refresh: the binding must stay until 300 s.
    h.advance(Duration::from_secs(200));
    assert_eq!(h.ep.registrar().location().binding_count(), 1);
    h.advance(Duration::from_secs(101));
    assert_eq!(h.ep.registrar().location().binding_count(), 0);
    // A refresh that shortens expiry takes effect at the shorter time.
    let (_, r) = h.one(udp(PHONE), &register("1001", 100, "s0", c, Some(600), None));
    let auth = answer(&r, "1001", "demo-1001", DigestAlgorithm::Md5, 1);
    h.one(
        udp(PHONE),
        &register("1001", 101, "s1", c, Some(600), Some(&auth)),
    );
    h.one(
        udp(PHONE),
        &register("1001", 102, "s2", c, Some(60), Some(&auth)),
    );
    h.advance(Duration::from_secs(61));
    assert_eq!(h.ep.registrar().location().binding_count(), 0);
}

/// RFC 7118: a browser is reached only down the WebSocket it registered on, so its bindings end
/// when that connection closes; a TCP phone's stay (we can open a connection to it again).
#[test]
fn websocket_registrations_end_with_their_connection() {
    let mut h = Harness::new(RegistrarConfig {
        trusted_sources: vec![("192.0.2.0".parse().expect("ip"), 24)],
        ..RegistrarConfig::default()
    });
    let on = |transport, id| Peer {
        transport,
        addr: PHONE.parse().expect("addr"),
        connection: Some(sip_core::ConnectionId(id)),
    };
    let browser = "<sip:abc@df7jal23ls0d.invalid;transport=ws>";
    let (_, r) = h.one(
        on(TransportKind::Wss, 7),
        &register("1001", 1, "w1", browser, None, None),
    );
    assert_eq!(r.status, 200);
    let (_, r) = h.one(
        on(TransportKind::Tcp, 8),
        &register(
            "1001",
            2,
            "w2",
            "<sip:1001@192.0.2.50;transport=tcp>",
            None,
            None,
        ),
    );
    assert_eq!(r.status, 200);
    let _ = h.ep.drain_binding_changes();

    h.ep.handle_connection_closed(sip_core::ConnectionId(8));
    assert_eq!(h.ep.registrar().location().bindings("1001").len(), 2);
    h.ep.handle_connection_closed(sip_core::ConnectionId(7));
    let left: Vec<_> = h.ep.registrar().location().bindings("1001").to_vec();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].transport, "tcp");
    let changes = h.ep.drain_binding_changes();
    assert!(
        matches!(&changes[..], [sip_core::BindingChange::Remove { aor, .. }] if aor == "1001"),
        "{changes:?}"
    );
    assert_eq!(h.ep.registrar().stats().flow_bindings_ended, 1);
}
