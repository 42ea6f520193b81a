//! Push wake-up (RFC 8599) in simulated time: an app that registered with push parameters and whose
//! connection closed is woken by a push when a call rings its user; the branch is held (the caller
//! hears ringback) and the INVITE goes to the app once it registers again, for what is left of the
//! ring time. A push that fails, a token the provider refuses and an app that never registers let
//! call control move on (480).

mod b2bua_harness;
use b2bua_harness::*;

use sip_core::b2bua::{BranchLabel, CallCommand, CallRef};
use sip_core::push::{PushOutcome, PushProvider, PushRequest};
use sip_core::ConnectionId;

const APP: &str = "198.51.100.20:40000";
const APP_AGAIN: &str = "198.51.100.20:40002";
const TOKEN: &str = "fcm-token-1";

fn harness() -> Harness {
    // No live binding for 1002: it is reached only through its app.
    Harness::with_config(&[], |cfg| {
        // The app's REGISTERs need no digest here (the registrar's digest is tested elsewhere).
        cfg.registrar.trusted_sources = vec![("198.51.100.20".parse().expect("ip"), 32)];
        cfg.push_wait = Duration::from_secs(15);
    })
}

fn tcp(addr: &str, connection: u64) -> Peer {
    Peer {
        transport: TransportKind::Tcp,
        addr: addr.parse().expect("addr"),
        connection: Some(ConnectionId(connection)),
    }
}

/// The app registers 1002 over TCP connection `connection` with its push parameters.
fn register_app(h: &mut Harness, addr: &str, connection: u64, cseq: u32) -> Vec<Out> {
    let register = format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP {addr};branch=z9hG4bKreg{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=app\r\nTo: <sip:1002@192.0.2.1>\r\n\
         Call-ID: app-reg\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:1002@{addr};transport=tcp;pn-provider=fcm;pn-prid={TOKEN};pn-param=muni-app>\r\n\
         Expires: 3600\r\nContent-Length: 0\r\n\r\n"
    );
    h.ep.handle_input(h.now, tcp(addr, connection), Bytes::from(register));
    h.drain()
}

/// The app registered, then its connection closed (the phone suspended it).
fn app_asleep(h: &mut Harness) {
    let out = register_app(h, APP, 1, 1);
    assert!(responses(&out).iter().any(|r| r.status == 200), "{out:?}");
    assert_eq!(h.ep.registrar().location().bindings("1002").len(), 1);
    h.ep.handle_connection_closed(ConnectionId(1));
    assert!(h.ep.registrar().location().bindings("1002").is_empty());
    let devices = h.ep.registrar().push_devices().devices("1002").to_vec();
    assert_eq!(devices.len(), 1, "the device outlives its binding");
    assert_eq!(devices[0].provider, PushProvider::Fcm);
    assert_eq!(devices[0].param.as_deref(), Some("muni-app"));
}

/// The carrier's INVITE, and call control ringing user 1002 for it (`RingMember`).
fn citizen_rings_1002(h: &mut Harness, ring_timeout: Option<Duration>) -> CallRef {
    let out = h.input(CARRIER, invite("c1"));
    assert!(matches!(&out[..], [Out::Resp(r)] if r.status == 100));
    let call = match &h.events()[..] {
        [CallEvent::Incoming { call, .. }] => *call,
        other => panic!("{other:?}"),
    };
    h.ep.handle_call_command(
        h.now,
        CallCommand::RingMember {
            call,
            user: "1002".into(),
            ring_timeout,
        },
    );
    call
}

/// A citizen's call to 1002 routed to the user (as a hunt group rings a member): the push to send.
fn call_rings_sleeping_app(h: &mut Harness) -> (CallRef, PushRequest) {
    let call = citizen_rings_1002(h, Some(Duration::from_secs(25)));
    let out = h.drain();
    assert!(
        requests(&out, Method::Invite).is_empty(),
        "nothing to INVITE yet"
    );
    assert!(
        responses(&out).iter().any(|r| r.status == 180),
        "the caller hears ringback while the app wakes: {out:?}"
    );
    assert!(h.events().is_empty(), "no failure while the push is out");
    let push = h.ep.poll_push().expect("a push to send");
    assert_eq!(push.device.prid, TOKEN);
    assert_eq!(push.call_id, "c1");
    assert_eq!(push.caller, "+4791234567");
    assert_eq!(
        push.time_to_live,
        Duration::from_secs(15),
        "bounded by the push wait"
    );
    (call, push)
}

#[test]
fn a_sleeping_app_is_woken_and_gets_the_call_once_it_registers() {
    let mut h = harness();
    app_asleep(&mut h);
    let (_call, push) = call_rings_sleeping_app(&mut h);
    h.ep.handle_push_outcome(h.now, &push, PushOutcome::Sent);
    let out = h.advance(Duration::from_secs(4));
    assert!(requests(&out, Method::Invite).is_empty());

    // The app wakes and registers from a new connection: the 200 first, then the INVITE there.
    let out = register_app(&mut h, APP_AGAIN, 2, 2);
    match &out[..] {
        [Out::Resp(r), Out::Req(to, inv)] => {
            assert_eq!(r.status, 200);
            assert_eq!(to.to_string(), APP_AGAIN);
            assert_eq!(inv.method, Method::Invite);
            assert!(inv.uri.to_string().contains(TOKEN), "{}", inv.uri);
        }
        other => panic!("the 200, then the INVITE to the woken app: {other:?}"),
    }
    assert_eq!(h.ep.push_stats().delivered_after_push, 1);
    assert_eq!(h.ep.push_stats().sent, 1);

    // The ring time left is what the wait did not use: 11 s of 15 (not 25 from now).
    let out = h.advance(Duration::from_secs(10));
    assert!(responses(&out).iter().all(|r| r.status != 487));
    let out = h.advance(Duration::from_millis(1_500));
    assert!(
        requests(&out, Method::Cancel).len() == 1,
        "the woken branch is cancelled when its ring time is up: {out:?}"
    );
    assert!(h.ep.poll_push().is_none(), "one push per wait");
}

#[test]
fn an_app_that_never_registers_lets_the_hunt_move_on_when_the_wait_is_over() {
    let mut h = harness();
    app_asleep(&mut h);
    let (call, push) = call_rings_sleeping_app(&mut h);
    h.ep.handle_push_outcome(h.now, &push, PushOutcome::Sent);
    h.advance(Duration::from_secs(14));
    assert!(h.events().is_empty());
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.events(),
        vec![CallEvent::BranchFailed {
            call,
            label: BranchLabel::direct("1002"),
            status: 480,
            last: true
        }]
    );
    assert_eq!(h.ep.push_stats().unanswered, 1);
    // The device stays: the next call pushes again.
    assert_eq!(h.ep.registrar().push_devices().devices("1002").len(), 1);
}

#[test]
fn a_token_the_provider_refuses_is_forgotten_and_the_branch_fails_at_once() {
    let mut h = harness();
    app_asleep(&mut h);
    let (call, push) = call_rings_sleeping_app(&mut h);
    h.ep.handle_push_outcome(h.now, &push, PushOutcome::InvalidToken);
    assert!(matches!(
        &h.events()[..],
        [CallEvent::BranchFailed { call: c, status: 480, .. }] if *c == call
    ));
    assert!(h.ep.registrar().push_devices().devices("1002").is_empty());
    let changes = h.ep.drain_device_changes();
    assert!(
        matches!(changes.last(), Some(sip_core::push::DeviceChange::Remove { prid, .. }) if prid == TOKEN),
        "{changes:?}"
    );
}

#[test]
fn a_withdrawn_branch_stops_waiting_for_its_app() {
    let mut h = harness();
    app_asleep(&mut h);
    let (call, _push) = call_rings_sleeping_app(&mut h);
    h.ep.handle_call_command(
        h.now,
        CallCommand::CancelBranch {
            call,
            label: BranchLabel::direct("1002"),
        },
    );
    let out = register_app(&mut h, APP_AGAIN, 2, 2);
    assert!(
        requests(&out, Method::Invite).is_empty(),
        "the app registering later is not rung: {out:?}"
    );
}

#[test]
fn an_app_still_connected_is_rung_without_a_push_and_unregistering_forgets_it() {
    let mut h = harness();
    register_app(&mut h, APP, 1, 1);
    citizen_rings_1002(&mut h, None);
    assert_eq!(requests(&h.drain(), Method::Invite).len(), 1);
    assert!(h.ep.poll_push().is_none());

    let unregister = format!(
        "REGISTER sip:192.0.2.1 SIP/2.0\r\nVia: SIP/2.0/TCP {APP};branch=z9hG4bKunreg\r\n\
         Max-Forwards: 70\r\nFrom: <sip:1002@192.0.2.1>;tag=app\r\nTo: <sip:1002@192.0.2.1>\r\n\
         Call-ID: app-reg\r\nCSeq: 9 REGISTER\r\n\
         Contact: <sip:1002@{APP};transport=tcp;pn-provider=fcm;pn-prid={TOKEN};pn-param=muni-app>\r\n\
         Expires: 0\r\nContent-Length: 0\r\n\r\n"
    );
    h.ep.handle_input(h.now, tcp(APP, 1), Bytes::from(unregister));
    h.drain();
    assert!(
        h.ep.registrar().push_devices().devices("1002").is_empty(),
        "an app that unregisters itself is not woken"
    );
}
