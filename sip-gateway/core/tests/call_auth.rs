//! Calls from phones must prove who places them (digest, answered to a 407), in simulated time:
//! forged INVITEs from a registered phone's own address, replayed credentials, wrong passwords and
//! the ban they lead to, trust for a connection the phone registered over, an SBC vouching for its
//! phones, and in-dialog requests from an address that is not the dialog's.

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::Caller;
use sip_core::ConnectionId;

/// An INVITE from phone A (registered as 1002) to `to`, Call-ID `call_id`, From tag `tag`.
fn invite_from_phone(call_id: &str, tag: &str, to: &str) -> String {
    invite(call_id)
        .replace("192.0.2.50:5060;branch", "198.51.100.10:5060;branch")
        .replace(
            "sip:1002@192.0.2.1 SIP/2.0",
            &format!("sip:{to}@192.0.2.1 SIP/2.0"),
        )
        .replace("tag=carrier1", &format!("tag={tag}"))
        .replace(
            "From: <sip:+4791234567@192.0.2.50>",
            "From: <sip:1002@192.0.2.1>",
        )
}

fn parse_request(text: &str) -> Request {
    match parse_slice(text.as_bytes(), &Limits::default()) {
        Ok(Message::Request(r)) => r,
        other => panic!("a request: {other:?}"),
    }
}

fn statuses(out: &[Out]) -> Vec<u16> {
    responses(out).iter().map(|r| r.status).collect()
}

fn incoming_callers(h: &mut Harness) -> Vec<Caller> {
    h.events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Incoming { caller, .. } => Some(caller),
            _ => None,
        })
        .collect()
}

/// Sends `invite` from `from` and answers the 407 with `password`; returns the challenge, the
/// credentials sent and what the second INVITE brought.
fn answer_challenge(
    h: &mut Harness,
    from: &str,
    invite: &str,
    password: &str,
) -> (String, Vec<Out>) {
    let out = h.input(from, invite.to_string());
    let challenge = responses(&out)
        .into_iter()
        .find(|r| r.status == 407)
        .unwrap_or_else(|| panic!("407: {out:?}"));
    let req = parse_request(invite);
    h.input(from, ack_for(&req, &challenge));
    let authorization = proxy_authorization(&req, &challenge, "1002", password, 1);
    let out = h.input(from, with_credentials(invite, &authorization));
    (authorization, out)
}

#[test]
fn a_forged_invite_from_the_phones_own_address_is_challenged_and_never_routed() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    for (call_id, to) in [("f1", "22334455"), ("f2", "112")] {
        let out = h.input(PHONE_A, invite_from_phone(call_id, "forged", to));
        assert_eq!(statuses(&out), vec![407], "{to}");
        let challenge = &responses(&out)[0];
        let value = challenge
            .headers
            .get(&HeaderName::ProxyAuthenticate)
            .expect("Proxy-Authenticate");
        let value = String::from_utf8_lossy(value);
        assert!(value.contains("realm=\"switchboard\""), "{value}");
        assert!(value.contains("qop=\"auth\""), "{value}");
    }
    assert!(incoming_callers(&mut h).is_empty(), "nothing is routed");
    assert!(h.media.0.lock().expect("log").allocated.is_empty());
    assert_eq!(h.ep.registrar().stats().request_challenges, 2);
    // Nothing was placed, so nothing rings out.
    assert!(requests(&h.advance(Duration::from_secs(40)), Method::Invite).is_empty());
}

#[test]
fn captured_credentials_are_worthless_for_another_call_and_for_the_same_one() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let first = invite_from_phone("call-1", "t1", "22334455");
    let (captured, out) = answer_challenge(&mut h, PHONE_A, &first, PASSWORD_1002);
    assert!(statuses(&out).contains(&100), "{out:?}");
    assert_eq!(incoming_callers(&mut h), vec![Caller::User("1002".into())]);

    // The same Proxy-Authorization on a new call (another Call-ID): its nonce was bound to call-1.
    let replay = with_credentials(&invite_from_phone("call-2", "t2", "22334455"), &captured);
    let out = h.input("203.0.113.66:5060", replay);
    assert_eq!(statuses(&out), vec![407]);
    // And within call-1's Call-ID again (a new transaction, same nonce count).
    let again = with_credentials(&invite_from_phone("call-1", "t3", "112"), &captured)
        .replace("branch=z9hG4bKauth", "branch=z9hG4bKreplay");
    let out = h.input("203.0.113.66:5060", again);
    assert_eq!(statuses(&out), vec![407]);
    assert!(incoming_callers(&mut h).is_empty(), "no replay is routed");
    assert_eq!(h.ep.registrar().stats().replays_refused, 1);
    assert_eq!(
        h.ep.registrar().stats().auth_failures,
        0,
        "a replay is refused by a new challenge, not counted as a wrong password"
    );
}

#[test]
fn wrong_passwords_are_refused_and_lead_to_the_ban() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let attacker = "203.0.113.66:5060";
    // The guard's default: the 10th failure within a minute bans the source.
    for i in 0..10 {
        let inv = invite_from_phone(&format!("guess-{i}"), "g", "22334455")
            .replace("198.51.100.10:5060;branch", "203.0.113.66:5060;branch");
        let (_, out) = answer_challenge(&mut h, attacker, &inv, "not-the-password");
        assert_eq!(statuses(&out), vec![403], "guess {i}");
    }
    let inv = invite_from_phone("guess-10", "g", "22334455")
        .replace("198.51.100.10:5060;branch", "203.0.113.66:5060;branch");
    assert!(
        h.input(attacker, inv).is_empty(),
        "a banned source gets no answer"
    );
    assert_eq!(h.ep.registrar().stats().bans, 1);
    assert!(incoming_callers(&mut h).is_empty());
    // The phone itself, from its own address, still calls.
    let (_, out) = answer_challenge(
        &mut h,
        PHONE_A,
        &invite_from_phone("ok", "t", "22334455"),
        PASSWORD_1002,
    );
    assert!(statuses(&out).contains(&100));
    assert_eq!(incoming_callers(&mut h), vec![Caller::User("1002".into())]);
}

fn tcp(addr: &str, connection: u64) -> Peer {
    Peer {
        transport: TransportKind::Tcp,
        addr: addr.parse().expect("addr"),
        connection: Some(ConnectionId(connection)),
    }
}

fn send(h: &mut Harness, peer: Peer, text: String) -> Vec<Out> {
    h.ep.handle_input(h.now, peer, Bytes::from(text));
    h.drain()
}

/// 1002 registers over TCP connection `connection` with digest.
fn register_over_tcp(h: &mut Harness, connection: u64) {
    let addr = "198.51.100.20:40000";
    let register = |branch: &str, cseq: u32, auth: &str| {
        format!("REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP {addr};branch=z9hG4bK{branch}\r\nMax-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=r\r\nTo: <sip:1002@192.0.2.1>\r\nCall-ID: reg-tcp\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:1002@{addr};transport=tcp>\r\n{auth}Expires: 600\r\nContent-Length: 0\r\n\r\n")
    };
    let out = send(h, tcp(addr, connection), register("r1", 1, ""));
    let challenge = responses(&out).pop().expect("401");
    assert_eq!(challenge.status, 401);
    let request = parse_request(&register("r1", 1, ""));
    let auth = format!(
        "Authorization: {}\r\n",
        digest_answer(
            &request,
            &challenge,
            &HeaderName::WwwAuthenticate,
            ("1002", PASSWORD_1002),
            1,
            DigestAlgorithm::Md5,
        )
    );
    let out = send(h, tcp(addr, connection), register("r2", 2, &auth));
    assert_eq!(statuses(&out), vec![200]);
}

#[test]
fn a_phone_registered_over_a_connection_calls_on_it_without_a_challenge_until_it_closes() {
    let mut h = Harness::new(&[]);
    register_over_tcp(&mut h, 7);
    let tcp_invite = |call_id: &str| {
        invite_from_phone(call_id, "tcp", "22334455").replace(
            "SIP/2.0/UDP 198.51.100.10:5060",
            "SIP/2.0/TCP 198.51.100.20:40000",
        )
    };
    let out = send(&mut h, tcp("198.51.100.20:40000", 7), tcp_invite("on-7"));
    assert_eq!(
        statuses(&out),
        vec![100],
        "no challenge on the registered connection"
    );
    assert_eq!(incoming_callers(&mut h), vec![Caller::User("1002".into())]);
    assert_eq!(h.ep.registrar().stats().trusted_connection_requests, 1);

    // Another connection, even from the same address, proves nothing yet.
    let out = send(&mut h, tcp("198.51.100.20:40000", 8), tcp_invite("on-8"));
    assert_eq!(statuses(&out), vec![407]);
    // Once connection 7 closes, what was proved on it is gone.
    h.ep.handle_connection_closed(ConnectionId(7));
    let out = send(
        &mut h,
        tcp("198.51.100.20:40000", 7),
        tcp_invite("on-7-again"),
    );
    assert_eq!(statuses(&out), vec![407]);
    assert!(incoming_callers(&mut h).is_empty());
}

#[test]
fn an_sbc_in_trusted_sources_vouches_for_its_phones() {
    let sbc = "192.0.2.80:5060";
    let mut h = Harness::with_config(&[], |cfg| {
        cfg.registrar.trusted_sources = vec![("192.0.2.80".parse().expect("ip"), 32)];
    });
    let from_sbc = |call_id: &str, from: &str| {
        invite_from_phone(call_id, "sbc", "22334455")
            .replace("198.51.100.10:5060;branch", "192.0.2.80:5060;branch")
            .replace("From: <sip:1002@", &format!("From: <sip:{from}@"))
    };
    let out = h.input(sbc, from_sbc("s1", "1002"));
    assert_eq!(statuses(&out), vec![100]);
    assert_eq!(incoming_callers(&mut h), vec![Caller::User("1002".into())]);
    // An unknown user behind the SBC is not a caller.
    let out = h.input(sbc, from_sbc("s2", "4711"));
    assert_eq!(statuses(&out), vec![404]);
    assert!(incoming_callers(&mut h).is_empty());
}

#[test]
fn in_dialog_requests_from_elsewhere_must_prove_themselves() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _tag) = connected_call(&mut h);
    // A BYE in the phone's dialog, but from another address: challenged, the call goes on.
    let stranger = "203.0.113.66:5060";
    let forged = from_callee(&inv, stranger, "phone1", "BYE", 1);
    let out = h.input(stranger, forged);
    assert_eq!(statuses(&out), vec![407]);
    assert!(
        requests(&out, Method::Bye).is_empty(),
        "the caller is not hung up"
    );
    // From the phone's own address the BYE ends the call.
    let out = h.input(PHONE_A, from_callee(&inv, PHONE_A, "phone1", "BYE", 2));
    assert_eq!(statuses(&out), vec![200]);
    assert_eq!(
        requests(&out, Method::Bye).len(),
        1,
        "the caller is hung up"
    );
}

#[test]
fn a_transfer_from_the_dialogs_own_address_must_prove_itself() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let (inv, _tag) = connected_call(&mut h);
    let refer = from_callee(&inv, PHONE_A, "phone1", "REFER", 2).replace(
        "Content-Length: 0",
        "Refer-To: <sip:+4799999999@192.0.2.1>\r\nContent-Length: 0",
    );
    // Forged or not, a REFER without credentials transfers nothing: a transfer may send the
    // citizen to a paid number.
    let out = h.input(PHONE_A, refer.clone());
    assert_eq!(statuses(&out), vec![407]);
    assert!(h
        .events()
        .iter()
        .all(|e| !matches!(e, CallEvent::TransferRequested { .. })));
    let out = h.input_as_1002(PHONE_A, refer);
    assert_eq!(statuses(&out), vec![202]);
}

#[test]
fn sha256_is_offered_and_accepted_when_the_node_allows_it() {
    let mut h = Harness::with_config(&[("sip:1002@10.0.0.5:5060", PHONE_A)], |cfg| {
        cfg.registrar.algorithms = vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5];
    });
    let invite = invite_from_phone("sha", "s", "22334455");
    let out = h.input(PHONE_A, invite.clone());
    let challenge = responses(&out).pop().expect("407");
    assert_eq!(challenge.status, 407);
    let offered: Vec<String> = challenge
        .authorization(&HeaderName::ProxyAuthenticate)
        .iter()
        .filter_map(|c| c.param("algorithm").map(str::to_string))
        .collect();
    assert_eq!(
        offered,
        vec!["SHA-256", "MD5"],
        "RFC 8760 order: strongest first"
    );
    let req = parse_request(&invite);
    h.input(PHONE_A, ack_for(&req, &challenge));
    let authorization = proxy_authorization_with(
        &req,
        &challenge,
        "1002",
        PASSWORD_1002,
        1,
        DigestAlgorithm::Sha256,
    );
    let out = h.input(PHONE_A, with_credentials(&invite, &authorization));
    assert!(statuses(&out).contains(&100), "{out:?}");
    assert_eq!(incoming_callers(&mut h), vec![Caller::User("1002".into())]);
}
