//! Keys sent as SIP INFO (RFC 6086 with `application/dtmf-relay` or `application/dtmf`), in
//! simulated time: reported as DTMF on the leg of the dialog they came on, answered 200; other
//! bodies 415, other dialogs 481.

mod b2bua_harness;
use b2bua_harness::*;

fn with_body(request: String, content_type: &str, body: &str) -> String {
    request.replace(
        "Content-Length: 0\r\n\r\n",
        &format!(
            "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    )
}

fn status_of(out: &[Out]) -> Vec<u16> {
    responses(out).iter().map(|r| r.status).collect()
}

fn digits(h: &mut Harness) -> Vec<(LegId, char)> {
    h.events()
        .into_iter()
        .filter_map(|e| match e {
            CallEvent::Dtmf { leg, digit, .. } => Some((leg, digit)),
            _ => None,
        })
        .collect()
}

#[test]
fn keys_in_sip_info_are_reported_on_the_senders_leg() {
    let mut h = Harness::new(&[("sip:1002@198.51.100.10:5060", PHONE_A)]);
    let (inv, tag) = connected_call(&mut h);
    let (caller_leg, callee_leg) = {
        let log = h.media.0.lock().expect("log");
        *log.bridged.last().expect("the call's legs are bridged")
    };

    // The carrier's caller presses 5 (dtmf-relay, as Cisco and most phones send it).
    let info = with_body(
        carrier_request("INFO", Some(&tag), "info1", 2),
        "application/dtmf-relay",
        "Signal=5\r\nDuration=160\r\n",
    );
    let out = h.input(CARRIER, info);
    assert_eq!(status_of(&out), vec![200]);
    assert_eq!(digits(&mut h), vec![(caller_leg, '5')]);

    // The phone that answered presses # (application/dtmf).
    let info = from_phone_a(&inv, "INFO", 2, "", "").replace(
        "Content-Length: 0\r\n\r\n",
        "Content-Type: application/dtmf\r\nContent-Length: 1\r\n\r\n#",
    );
    let out = h.input(PHONE_A, info);
    assert_eq!(status_of(&out), vec![200]);
    assert_eq!(digits(&mut h), vec![(callee_leg, '#')]);

    // An empty INFO is a probe: 200 and nothing pressed. Another package is not ours to read.
    let out = h.input(CARRIER, carrier_request("INFO", Some(&tag), "info2", 3));
    assert_eq!(status_of(&out), vec![200]);
    let other = with_body(
        carrier_request("INFO", Some(&tag), "info3", 4),
        "application/x-private",
        "hello",
    );
    let out = h.input(CARRIER, other);
    assert_eq!(status_of(&out), vec![415]);
    let broken = with_body(
        carrier_request("INFO", Some(&tag), "info4", 5),
        "application/dtmf-relay",
        "Duration=160\r\n",
    );
    assert_eq!(status_of(&h.input(CARRIER, broken)), vec![400]);
    assert!(digits(&mut h).is_empty());

    // Outside any call's dialog.
    let stray = with_body(
        carrier_request("INFO", Some("not-our-tag"), "info5", 6)
            .replace("Call-ID: c1", "Call-ID: c9"),
        "application/dtmf-relay",
        "Signal=1\r\n",
    );
    assert_eq!(status_of(&h.input(CARRIER, stray)), vec![481]);
}
