//! Session timers where we refresh (RFC 4028 with `refresher=uas`, or a caller without timer
//! support), through the endpoint in simulated time: UPDATE or re-INVITE to the caller at half the
//! interval, and the call's end when a refresh fails or goes unanswered.

mod b2bua_harness;
use b2bua_harness::*;

const ALLOW_UPDATE: &str = "Allow: INVITE, ACK, BYE, CANCEL, UPDATE\r\n";

fn invite_with(extra: &str) -> String {
    invite("c1").replace(
        "Content-Type: application/sdp",
        &format!("{extra}Content-Type: application/sdp"),
    )
}

fn header(headers: &sip_message::Headers, name: HeaderName) -> String {
    headers
        .get(&name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .unwrap_or_default()
}

/// The carrier's call with `extra` headers, answered by 1002 and ACKed: our 200 to the carrier.
fn answered(h: &mut Harness, extra: &str) -> Response {
    h.call_1002_with(invite_with(extra));
    let inv = requests(&h.drain(), Method::Invite)[0].1.clone();
    let out = h.input(PHONE_A, reply(&inv, 200, "phone1", &answer_sdp(40000)));
    let ok = responses(&out)
        .into_iter()
        .find(|r| r.status == 200)
        .expect("200 to the caller");
    let tag = to_tag(&ok);
    h.input(CARRIER, carrier_request("ACK", Some(&tag), "ack1", 1));
    h.events();
    ok
}

/// Our requests to the carrier in `out`, of any method.
fn to_carrier(out: &[Out]) -> Vec<Request> {
    out.iter()
        .filter_map(|o| match o {
            Out::Req(a, r) if a.to_string() == CARRIER => Some(r.clone()),
            _ => None,
        })
        .collect()
}

fn byes_to(out: &[Out]) -> Vec<String> {
    let mut to: Vec<String> = requests(out, Method::Bye)
        .iter()
        .map(|(a, _)| a.to_string())
        .collect();
    to.sort();
    to
}

fn ended_cause(h: &mut Harness) -> String {
    match &h.events()[..] {
        [CallEvent::Ended { report, .. }] => report.cause.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_caller_asking_us_to_refresh_gets_an_update_at_half_the_interval() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let ok = answered(
        &mut h,
        &format!("Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n{ALLOW_UPDATE}"),
    );
    assert_eq!(
        header(&ok.headers, HeaderName::SessionExpires),
        "120;refresher=uas"
    );
    assert_eq!(header(&ok.headers, HeaderName::Require), "timer");
    let ours = to_tag(&ok);
    for round in 0..3 {
        let out = h.advance(Duration::from_secs(59));
        assert!(to_carrier(&out).is_empty(), "round {round}: {out:?}");
        let out = h.advance(Duration::from_secs(1));
        let sent = to_carrier(&out);
        assert_eq!(sent.len(), 1, "round {round}: {out:?}");
        let update = &sent[0];
        assert_eq!(update.method, Method::Update);
        assert_eq!(update.call_id(), Some("c1"), "in the caller's dialog");
        assert!(header(&update.headers, HeaderName::From).contains(&format!("tag={ours}")));
        assert!(header(&update.headers, HeaderName::To).contains("tag=carrier1"));
        assert_eq!(update.cseq().map(|c| c.seq), Some(round + 1));
        assert_eq!(
            header(&update.headers, HeaderName::SessionExpires),
            "120;refresher=uac",
            "we refresh: in our own request we are the refresher"
        );
        assert!(update.body.is_empty(), "a refresh changes no media");
        let out = h.input(CARRIER, reply(update, 200, "carrier1", ""));
        assert!(to_carrier(&out).is_empty(), "{out:?}");
        assert!(requests(&out, Method::Bye).is_empty());
    }
    assert!(h.events().is_empty(), "the call goes on");
}

#[test]
fn without_update_we_refresh_by_reinvite_offering_the_same_sdp_and_ack_it() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let ok = answered(
        &mut h,
        "Supported: timer\r\nSession-Expires: 90;refresher=uas\r\n",
    );
    let out = h.advance(Duration::from_secs(45));
    let sent = to_carrier(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    let reinvite = &sent[0];
    assert_eq!(reinvite.method, Method::Invite);
    assert_eq!(reinvite.call_id(), Some("c1"));
    assert_eq!(
        reinvite.body, ok.body,
        "the SDP we answered with, same version: nothing changes"
    );
    let answer = OFFER.replace("m=audio 30000", "m=audio 30010");
    let out = h.input(CARRIER, reply(reinvite, 200, "carrier1", &answer));
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "{out:?}");
    assert_eq!(acks[0].0.to_string(), CARRIER);
    assert_eq!(
        acks[0].1.cseq().map(|c| c.seq),
        reinvite.cseq().map(|c| c.seq)
    );
    {
        let log = h.media.0.lock().expect("log");
        let last = log.remotes.iter().rev().find(|(l, _)| *l == LegId(1));
        assert_eq!(
            last.and_then(|(_, r)| r.rtp).map(|a| a.port()),
            Some(30010),
            "the caller's new media address is taken"
        );
    }
    // A retransmitted 2xx is ACKed again.
    let out = h.input(CARRIER, reply(reinvite, 200, "carrier1", &answer));
    assert_eq!(requests(&out, Method::Ack).len(), 1, "{out:?}");
    // The next refresh comes 45 s after this one.
    let out = h.advance(Duration::from_secs(44));
    assert!(to_carrier(&out).is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(to_carrier(&out).len(), 1);
}

#[test]
fn a_refresh_answered_481_or_408_ends_the_call() {
    for status in [481, 408] {
        let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
        answered(
            &mut h,
            &format!("Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n{ALLOW_UPDATE}"),
        );
        let out = h.advance(Duration::from_secs(60));
        let update = to_carrier(&out).remove(0);
        let out = h.input(CARRIER, reply(&update, status, "carrier1", ""));
        assert_eq!(
            byes_to(&out),
            vec![CARRIER.to_string(), PHONE_A.to_string()]
        );
        assert_eq!(ended_cause(&mut h), "session refresh failed");
    }
}

#[test]
fn a_refresh_without_any_answer_ends_the_call() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    answered(
        &mut h,
        &format!("Supported: timer\r\nSession-Expires: 1800;refresher=uas\r\n{ALLOW_UPDATE}"),
    );
    let out = h.advance(Duration::from_secs(900));
    assert_eq!(to_carrier(&out).len(), 1, "the refresh");
    // The carrier is silent: the UPDATE is retransmitted, then its transaction times out (64·T1).
    let out = h.advance(Duration::from_secs(31));
    assert!(requests(&out, Method::Bye).is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&out),
        vec![CARRIER.to_string(), PHONE_A.to_string()]
    );
    assert_eq!(ended_cause(&mut h), "session refresh failed");
}

#[test]
fn a_short_session_whose_refresh_goes_unanswered_ends_at_its_expiry() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    answered(
        &mut h,
        &format!("Supported: timer\r\nSession-Expires: 90;refresher=uas\r\n{ALLOW_UPDATE}"),
    );
    let out = h.advance(Duration::from_secs(45));
    assert_eq!(to_carrier(&out).len(), 1);
    // 90 s − 30 s after the answer, before the UPDATE's own timeout.
    let out = h.advance(Duration::from_secs(14));
    assert!(requests(&out, Method::Bye).is_empty());
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&out),
        vec![CARRIER.to_string(), PHONE_A.to_string()]
    );
    assert_eq!(ended_cause(&mut h), "session expired");
}

#[test]
fn a_refused_update_falls_back_to_reinvite_and_a_busy_caller_is_asked_again() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    answered(
        &mut h,
        &format!("Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n{ALLOW_UPDATE}"),
    );
    let out = h.advance(Duration::from_secs(60));
    let update = to_carrier(&out).remove(0);
    let out = h.input(CARRIER, reply(&update, 405, "carrier1", ""));
    let sent = to_carrier(&out);
    assert_eq!(sent.len(), 1, "{out:?}");
    assert_eq!(sent[0].method, Method::Invite, "at once, by re-INVITE");
    // 491: the caller was busy with its own re-INVITE; ours is tried again a little later.
    let out = h.input(CARRIER, reply(&sent[0], 491, "carrier1", ""));
    assert!(
        to_carrier(&out).iter().all(|r| r.method == Method::Ack),
        "{out:?}"
    );
    let out = h.advance(Duration::from_secs(4));
    let retry: Vec<Request> = to_carrier(&out)
        .into_iter()
        .filter(|r| r.method == Method::Invite)
        .collect();
    assert_eq!(retry.len(), 1, "{out:?}");
    h.input(CARRIER, reply(&retry[0], 200, "carrier1", OFFER));
    let out = h.advance(Duration::from_secs(59));
    assert!(requests(&out, Method::Bye).is_empty());
    assert!(h.events().is_empty());
}

#[test]
fn a_caller_without_timer_support_is_refreshed_by_us() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    // A proxy inserted Session-Expires (below our minimum, even) but the caller does not support
    // timers: it could not refresh nor understand a 422, so we raise it and refresh (§9).
    let ok = answered(&mut h, "Session-Expires: 60\r\n");
    assert_eq!(
        header(&ok.headers, HeaderName::SessionExpires),
        "90;refresher=uas"
    );
    assert_eq!(
        header(&ok.headers, HeaderName::Require),
        "",
        "it does not support timer"
    );
    let out = h.advance(Duration::from_secs(45));
    let sent = to_carrier(&out);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].method, Method::Invite, "no Allow: UPDATE");
    h.input(CARRIER, reply(&sent[0], 200, "carrier1", OFFER));
    let out = h.advance(Duration::from_secs(44));
    assert!(requests(&out, Method::Bye).is_empty());
}

#[test]
fn a_caller_leaving_the_choice_to_us_refreshes_itself() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    // §9: with no refresher parameter the UAS picks; we leave it to the caller.
    let ok = answered(&mut h, "Supported: timer\r\nSession-Expires: 120\r\n");
    assert_eq!(
        header(&ok.headers, HeaderName::SessionExpires),
        "120;refresher=uac"
    );
    assert_eq!(header(&ok.headers, HeaderName::Require), "timer");
    let out = h.advance(Duration::from_secs(87));
    assert!(to_carrier(&out).is_empty(), "we send no refresh: {out:?}");
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&out),
        vec![CARRIER.to_string(), PHONE_A.to_string()]
    );
    assert_eq!(ended_cause(&mut h), "session expired");
}

#[test]
fn a_caller_that_takes_the_refreshing_back_is_left_to_it() {
    let mut h = Harness::new(&[("sip:1002@10.0.0.5:5060", PHONE_A)]);
    let ok = answered(
        &mut h,
        &format!("Supported: timer\r\nSession-Expires: 120;refresher=uas\r\n{ALLOW_UPDATE}"),
    );
    let tag = to_tag(&ok);
    let out = h.advance(Duration::from_secs(30));
    assert!(to_carrier(&out).is_empty());
    let update = carrier_request("UPDATE", Some(&tag), "upd1", 2).replace(
        "Content-Length: 0",
        "Supported: timer\r\nSession-Expires: 120;refresher=uac\r\nContent-Length: 0",
    );
    let out = h.input(CARRIER, update);
    let r = responses(&out);
    assert_eq!(r.iter().map(|r| r.status).collect::<Vec<_>>(), vec![200]);
    assert_eq!(
        header(&r[0].headers, HeaderName::SessionExpires),
        "120;refresher=uac"
    );
    // No refresh from us any more; the caller's next one is due within 88 s.
    let out = h.advance(Duration::from_secs(87));
    assert!(to_carrier(&out).is_empty(), "{out:?}");
    let out = h.advance(Duration::from_secs(1));
    assert_eq!(
        byes_to(&out),
        vec![CARRIER.to_string(), PHONE_A.to_string()]
    );
}
