use std::time::{Duration, Instant};

use sip_message::{AuthHeader, HeaderName, Request, Response, SipHeaders};

use super::digest::{authorization, response, Answer, Challenge};
use super::register::refresh_after;
use super::*;
use crate::auth::{DigestAlgorithm, DigestCredentials, UserSecrets};

fn trunk(id: TrunkId) -> TrunkConfig {
    TrunkConfig {
        id,
        name: format!("t{id}"),
        host: "192.0.2.7".into(),
        port: 5060,
        transport: TransportKind::Udp,
        addr: Some(SocketAddr::from(([192, 0, 2, 7], 5060))),
        registration: None,
        options_interval: None,
        max_cps: 0,
        max_calls: 0,
    }
}

fn registering(id: TrunkId) -> TrunkConfig {
    TrunkConfig {
        registration: Some(RegistrationConfig {
            username: "kommune".into(),
            password: "hemmelig".into(),
            realm: None,
            expires: 600,
        }),
        ..trunk(id)
    }
}

fn core() -> TrunkCore {
    TrunkCore::new(TrunkCoreConfig {
        local: SocketAddr::from(([198, 51, 100, 1], 5060)),
        seed: 7,
        ..Default::default()
    })
}

fn key_of(req: &Request) -> TxKey {
    let branch = req.top_via().and_then(|v| v.branch().map(str::to_string));
    TxKey::client_key(&branch.expect("branch"), &req.method)
}

fn header(req: &Request, name: HeaderName) -> Option<String> {
    req.headers
        .get(&name)
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Answers `req` with `status` and extra headers; returns whether the core took the event.
fn answer(
    core: &mut TrunkCore,
    now: Instant,
    req: &Request,
    status: u16,
    extra: &[(HeaderName, &str)],
) -> bool {
    let mut resp = Response::for_request(req, status, "X");
    for (n, v) in extra {
        resp.headers.push(n.clone(), v.to_string());
    }
    let ev = TxEvent::Response {
        key: key_of(req),
        response: resp,
    };
    core.handle_event(now, &ev)
}

fn time_out(core: &mut TrunkCore, now: Instant, req: &Request) {
    assert!(core.handle_event(now, &TxEvent::ClientTimeout { key: key_of(req) }));
}

fn reg_state(core: &TrunkCore, id: TrunkId) -> Option<RegistrationState> {
    core.status()
        .into_iter()
        .find(|s| s.id == id)
        .and_then(|s| s.registration)
}

const CHALLENGE: &str = "Digest realm=\"carrier\", nonce=\"n0nce\", algorithm=MD5, qop=\"auth\"";

#[test]
fn digest_answer_matches_rfc_2617_and_7616() {
    let md5 = Challenge {
        realm: "testrealm@host.com".into(),
        nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093".into(),
        opaque: None,
        algorithm: DigestAlgorithm::Md5,
        qop_auth: true,
        stale: false,
    };
    let a = Answer {
        username: "Mufasa",
        password: "Circle Of Life",
        realm: None,
        method: "GET",
        uri: "/dir/index.html",
        cnonce: "0a4f113b",
        nc: 1,
    };
    assert_eq!(response(&md5, &a), "6629fae49393a05397450978507c4ef1");
    let sha = Challenge {
        realm: "http-auth@example.org".into(),
        nonce: "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v".into(),
        algorithm: DigestAlgorithm::Sha256,
        ..md5
    };
    let a = Answer {
        password: "Circle of Life",
        cnonce: "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
        ..a
    };
    assert_eq!(
        response(&sha, &a),
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    // The header parses back into credentials the server side accepts.
    let h = AuthHeader::parse(authorization(&sha, &a).as_bytes()).unwrap();
    let creds = DigestCredentials::from_header(&h).unwrap();
    let secrets = UserSecrets::from_password("Mufasa", "http-auth@example.org", "Circle of Life");
    assert!(creds.verify(&secrets, "GET"));
}

#[test]
fn challenges_prefer_sha256_and_skip_what_cannot_be_answered() {
    let md5 = b"Digest realm=\"r\", nonce=\"a\", qop=\"auth,auth-int\"".as_slice();
    let sha = b"Digest realm=\"r\", nonce=\"b\", algorithm=SHA-256, qop=\"auth\"".as_slice();
    let sess = b"Digest realm=\"r\", nonce=\"c\", algorithm=MD5-sess".as_slice();
    let best = Challenge::best([md5, sess, sha].into_iter()).unwrap();
    assert_eq!(best.algorithm, DigestAlgorithm::Sha256);
    assert!(Challenge::parse(sess).is_none());
    assert!(Challenge::parse(b"Digest realm=\"r\", nonce=\"d\", qop=\"auth-int\"").is_none());
    assert!(Challenge::parse(b"Basic realm=\"r\"").is_none());
    let legacy = Challenge::parse(b"Digest realm=\"r\", nonce=\"e\", stale=TRUE").unwrap();
    assert!(!legacy.qop_auth && legacy.stale);
}

#[test]
fn registers_answers_the_challenge_and_refreshes() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(t0, vec![registering(1)]);
    let (first, peer) = c.poll_request().expect("REGISTER");
    assert_eq!(peer.addr, SocketAddr::from(([192, 0, 2, 7], 5060)));
    assert_eq!(first.uri.to_string(), "sip:192.0.2.7:5060");
    assert!(header(&first, HeaderName::To)
        .unwrap()
        .contains("sip:kommune@192.0.2.7"));
    assert_eq!(
        header(&first, HeaderName::Contact).unwrap(),
        "<sip:kommune@198.51.100.1:5060>"
    );
    assert_eq!(header(&first, HeaderName::Expires).unwrap(), "600");
    assert!(header(&first, HeaderName::Authorization).is_none());
    assert_eq!(reg_state(&c, 1), Some(RegistrationState::Registering));

    assert!(answer(&mut c, t0, &first, 100, &[]));
    assert!(answer(
        &mut c,
        t0,
        &first,
        401,
        &[(HeaderName::WwwAuthenticate, CHALLENGE)]
    ));
    let (second, _) = c.poll_request().expect("REGISTER with credentials");
    assert_eq!(second.call_id(), first.call_id());
    assert_eq!(second.cseq().unwrap().seq, first.cseq().unwrap().seq + 1);
    let auth = header(&second, HeaderName::Authorization).expect("Authorization");
    let creds = DigestCredentials::from_header(&AuthHeader::parse(auth.as_bytes()).unwrap())
        .expect("digest credentials");
    assert_eq!(creds.uri, "sip:192.0.2.7:5060");
    assert_eq!(creds.nc.as_deref(), Some("00000001"));
    assert!(creds.verify(
        &UserSecrets::from_password("kommune", "carrier", "hemmelig"),
        "REGISTER"
    ));

    // The carrier grants 300 s on our Contact: refresh at 240 s.
    let t1 = t0 + Duration::from_millis(40);
    assert!(answer(
        &mut c,
        t1,
        &second,
        200,
        &[(
            HeaderName::Contact,
            "<sip:kommune@198.51.100.1:5060>;expires=300"
        )]
    ));
    assert_eq!(
        reg_state(&c, 1),
        Some(RegistrationState::Registered {
            until: t1 + Duration::from_secs(300)
        })
    );
    assert_eq!(c.poll_timeout(), Some(t1 + Duration::from_secs(240)));
    c.handle_timeout(t1 + Duration::from_secs(239));
    assert!(c.poll_request().is_none());
    c.handle_timeout(t1 + Duration::from_secs(240));
    let (refresh, _) = c.poll_request().expect("refresh");
    assert_eq!(refresh.call_id(), first.call_id());
    // Still registered while the refresh is on its way.
    assert!(matches!(
        reg_state(&c, 1),
        Some(RegistrationState::Registered { .. })
    ));
    // A stray event for someone else's transaction is not ours.
    let other = TxEvent::ClientTimeout {
        key: TxKey::client_key("z9hG4bKother", &Method::Invite),
    };
    assert!(!c.handle_event(t1, &other));
}

#[test]
fn refresh_timing_keeps_a_margin() {
    assert_eq!(refresh_after(600), Duration::from_secs(480));
    assert_eq!(refresh_after(3600), Duration::from_secs(2880));
    assert_eq!(refresh_after(60), Duration::from_secs(30));
    assert_eq!(refresh_after(1), Duration::from_secs(1));
}

#[test]
fn wrong_password_and_timeouts_back_off_up_to_ten_minutes() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(t0, vec![registering(1)]);
    let (r, _) = c.poll_request().unwrap();
    answer(
        &mut c,
        t0,
        &r,
        401,
        &[(HeaderName::WwwAuthenticate, CHALLENGE)],
    );
    let (r, _) = c.poll_request().unwrap();
    // Challenged again although we answered: the password is wrong.
    answer(
        &mut c,
        t0,
        &r,
        401,
        &[(HeaderName::WwwAuthenticate, CHALLENGE)],
    );
    assert!(c.poll_request().is_none());
    assert_eq!(
        reg_state(&c, 1),
        Some(RegistrationState::Failed {
            status: 401,
            retry_at: t0 + Duration::from_secs(30)
        })
    );
    let mut now = t0 + Duration::from_secs(30);
    let mut expected = vec![60, 120, 240, 480, 600, 600].into_iter();
    loop {
        c.handle_timeout(now);
        let (r, _) = c.poll_request().expect("retry");
        time_out(&mut c, now, &r);
        let Some(delay) = expected.next() else {
            break;
        };
        let retry_at = now + Duration::from_secs(delay);
        assert_eq!(
            reg_state(&c, 1),
            Some(RegistrationState::Failed {
                status: 408,
                retry_at
            })
        );
        assert_eq!(c.poll_timeout(), Some(retry_at));
        now = retry_at;
    }
    // A success resets the backoff.
    c.handle_timeout(now + Duration::from_secs(600));
    let (r, _) = c.poll_request().unwrap();
    answer(&mut c, now, &r, 200, &[(HeaderName::Expires, "120")]);
    assert_eq!(
        reg_state(&c, 1),
        Some(RegistrationState::Registered {
            until: now + Duration::from_secs(120)
        })
    );
}

#[test]
fn forbidden_waits_an_hour_and_423_raises_the_expiry() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(t0, vec![registering(1), registering(2)]);
    let (a, _) = c.poll_request().unwrap();
    let (b, _) = c.poll_request().unwrap();
    answer(&mut c, t0, &a, 403, &[]);
    assert_eq!(
        reg_state(&c, 1),
        Some(RegistrationState::Failed {
            status: 403,
            retry_at: t0 + Duration::from_secs(3600)
        })
    );
    answer(&mut c, t0, &b, 423, &[(HeaderName::MinExpires, "1800")]);
    let (b2, _) = c.poll_request().expect("REGISTER with the longer expiry");
    assert_eq!(header(&b2, HeaderName::Expires).unwrap(), "1800");
}

#[test]
fn removing_a_trunk_unregisters_it() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(t0, vec![registering(1), trunk(2)]);
    let (r, _) = c.poll_request().unwrap();
    answer(&mut c, t0, &r, 200, &[]);
    // Unchanged: nothing happens.
    c.set_trunks(t0, vec![registering(1), trunk(2)]);
    assert!(c.poll_request().is_none());
    c.set_trunks(t0, vec![trunk(2)]);
    let (bye, _) = c.poll_request().expect("REGISTER Expires: 0");
    assert_eq!(header(&bye, HeaderName::Expires).unwrap(), "0");
    assert_eq!(bye.call_id(), r.call_id());
    assert_eq!(c.status().len(), 1);
    // The carrier challenges the removal too: answered once, then done.
    answer(
        &mut c,
        t0,
        &bye,
        401,
        &[(HeaderName::WwwAuthenticate, CHALLENGE)],
    );
    let (bye2, _) = c.poll_request().expect("answered removal");
    assert!(header(&bye2, HeaderName::Authorization).is_some());
    assert_eq!(header(&bye2, HeaderName::Expires).unwrap(), "0");
    answer(&mut c, t0, &bye2, 200, &[]);
    assert!(c.poll_request().is_none());
    assert!(c.retiring.is_empty() && c.pending.is_empty());
    // A registration still on its way may bind: it is taken down too.
    c.set_trunks(t0, vec![registering(3)]);
    let _ = c.poll_request().unwrap();
    c.set_trunks(t0, vec![]);
    let (bye3, _) = c
        .poll_request()
        .expect("in-flight registration is taken down");
    assert_eq!(header(&bye3, HeaderName::Expires).unwrap(), "0");
}

#[test]
fn probes_take_a_trunk_down_after_two_failures_and_up_after_one_success() {
    let t0 = Instant::now();
    let mut c = core();
    let probed = TrunkConfig {
        options_interval: Some(Duration::from_secs(10)),
        ..trunk(1)
    };
    c.set_trunks(t0, vec![probed]);
    assert!(c.poll_request().is_none(), "first probe after one interval");
    assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    let probe_state = |c: &TrunkCore| c.status()[0].probe.unwrap();
    assert_eq!(probe_state(&c).state, ProbeState::Up);

    let t1 = t0 + Duration::from_secs(10);
    c.handle_timeout(t1);
    let (p, _) = c.poll_request().expect("OPTIONS");
    assert_eq!(p.method, Method::Options);
    assert_eq!(p.uri.to_string(), "sip:192.0.2.7:5060");
    assert_eq!(
        c.poll_timeout(),
        None,
        "nothing else while the probe is out"
    );
    answer(&mut c, t1, &p, 503, &[]);
    assert_eq!(probe_state(&c).state, ProbeState::Up);
    assert_eq!(probe_state(&c).failures, 1);

    let t2 = t1 + Duration::from_secs(10);
    c.handle_timeout(t2);
    let (p, _) = c.poll_request().unwrap();
    time_out(&mut c, t2 + Duration::from_secs(32), &p);
    assert_eq!(probe_state(&c).state, ProbeState::Down);
    assert_eq!(probe_state(&c).last_status, Some(408));
    assert_eq!(c.try_acquire(t2, 1, 9), Err(Refusal::Down));

    // The timed-out probe took longer than the interval: the next one goes at once.
    let t3 = t2 + Duration::from_secs(32);
    c.handle_timeout(t3);
    let (p, _) = c.poll_request().unwrap();
    answer(&mut c, t3, &p, 404, &[]);
    assert_eq!(probe_state(&c).state, ProbeState::Up);
    assert_eq!(c.try_acquire(t3, 1, 9), Ok(()));
}

#[test]
fn concurrency_cap_counts_calls_until_released() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(
        t0,
        vec![
            TrunkConfig {
                max_calls: 2,
                ..trunk(1)
            },
            trunk(2),
        ],
    );
    assert_eq!(c.id_of("t1"), Some(1));
    assert_eq!(c.try_acquire(t0, 1, 100), Ok(()));
    assert_eq!(c.try_acquire(t0, 1, 100), Ok(()), "the same call again");
    assert_eq!(c.try_acquire(t0, 1, 101), Ok(()));
    assert_eq!(c.try_acquire(t0, 1, 102), Err(Refusal::MaxCalls));
    assert_eq!(c.status()[0].calls, 2);
    c.release(100);
    assert_eq!(c.try_acquire(t0, 1, 102), Ok(()));
    // Failover: call 101 moves to trunk 2 and frees its slot on trunk 1.
    assert_eq!(c.try_acquire(t0, 2, 101), Ok(()));
    assert_eq!(c.status()[0].calls, 1);
    assert_eq!(c.status()[1].calls, 1);
    assert_eq!(c.try_acquire(t0, 9, 1), Err(Refusal::Unknown));
}

#[test]
fn calls_per_second_bucket_allows_a_burst_then_refills() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(
        t0,
        vec![TrunkConfig {
            max_cps: 2,
            ..trunk(1)
        }],
    );
    assert_eq!(c.try_acquire(t0, 1, 1), Ok(()));
    assert_eq!(c.try_acquire(t0, 1, 2), Ok(()));
    assert_eq!(c.try_acquire(t0, 1, 3), Err(Refusal::MaxCps));
    let half = t0 + Duration::from_millis(500);
    assert_eq!(c.try_acquire(half, 1, 3), Ok(()));
    assert_eq!(c.try_acquire(half, 1, 4), Err(Refusal::MaxCps));
    // Releasing does not give tokens back: the cap is on new calls.
    c.release(1);
    assert_eq!(c.try_acquire(half, 1, 4), Err(Refusal::MaxCps));
    assert_eq!(c.try_acquire(t0 + Duration::from_secs(5), 1, 4), Ok(()));
    assert_eq!(c.try_acquire(t0 + Duration::from_secs(5), 1, 5), Ok(()));
    assert_eq!(
        c.try_acquire(t0 + Duration::from_secs(5), 1, 6),
        Err(Refusal::MaxCps)
    );
}

#[test]
fn unresolved_trunks_are_neither_registered_nor_probed() {
    let t0 = Instant::now();
    let mut c = core();
    c.set_trunks(
        t0,
        vec![TrunkConfig {
            addr: None,
            options_interval: Some(Duration::from_secs(5)),
            ..registering(1)
        }],
    );
    assert!(c.poll_request().is_none());
    assert_eq!(c.poll_timeout(), None);
    let s = &c.status()[0];
    assert!(s.registration.is_none() && s.probe.is_none());
}
