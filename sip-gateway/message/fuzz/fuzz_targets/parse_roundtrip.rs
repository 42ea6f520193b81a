//! Parse arbitrary bytes; whatever parses must print, parse back to the same message and print the same
//! bytes again. The stream framer runs on the same input: a frame it finds must lie inside the input, and a
//! framed message must parse as the parser reads the whole input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_message::framing::{next_frame, Frame};
use sip_message::{parse_slice, Limits, ParseError};

fuzz_target!(|data: &[u8]| {
    round_trip(data);
    framing(data);
});

fn round_trip(data: &[u8]) {
    let limits = Limits::default();
    if let Ok(msg) = parse_slice(data, &limits) {
        let printed = msg.to_bytes();
        let again = match parse_slice(&printed, &limits) {
            Ok(m) => m,
            // Printing writes long header names (`Session-Expires` for `x`) and `: `, so a message right at
            // the size or line limits can outgrow them; that is not a round-trip failure.
            Err(ParseError::TooLarge(_) | ParseError::LineTooLong(_)) => return,
            Err(e) => panic!(
                "printed message does not parse: {e}\ninput:   {:?}\nprinted: {:?}",
                String::from_utf8_lossy(data),
                String::from_utf8_lossy(&printed)
            ),
        };
        assert_eq!(
            msg,
            again,
            "round trip changed the message; printed: {:?}",
            String::from_utf8_lossy(&printed)
        );
        assert_eq!(again.to_bytes(), printed, "second print differs");
    }
}

fn framing(data: &[u8]) {
    let limits = Limits::default();
    match next_frame(data, &limits) {
        Ok(Frame::Message(n)) => {
            assert!(
                n > 0 && n <= data.len(),
                "frame of {n} bytes in {} bytes of input",
                data.len()
            );
            // The framer and the parser agree on where the message ends: what parses as the framed
            // message is what the parser makes of the whole input (it ignores bytes past Content-Length).
            if let Ok(framed) = parse_slice(&data[..n], &limits) {
                assert_eq!(
                    parse_slice(data, &limits),
                    Ok(framed),
                    "framer and parser disagree"
                );
            }
        }
        Ok(Frame::Ping(n) | Frame::Skip(n)) => assert!(n > 0 && n <= data.len()),
        Ok(Frame::NeedMore) | Err(_) => {}
    }
}
