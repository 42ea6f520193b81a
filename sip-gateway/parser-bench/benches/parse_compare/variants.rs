//! The code the benchmark times: one function per parser. Each takes the message as it came off the wire,
//! parses it with the parser's own entry point for incoming messages, then *reads* what a SIP stack needs
//! for transaction and dialog matching — top Via branch, From tag, To (and its tag), Call-ID, CSeq number
//! and method, body length — and hands those to `sink`. A parser that defers header parsing until a
//! header is read (rsip and rsipstack keep headers as strings) therefore pays for that work here.
//!
//! The parsed message and the typed headers are dropped inside the function, so freeing them is timed
//! too. This file is shared by the benchmark (`mod variants;` in `parse_compare.rs`) and by the unit
//! tests in `src/lib.rs`, which check every message with every variant.

use rsipstack::sip::prelude::{HeadersExt as _, ToTypedHeader as _};
use sip_message::{Limits, SipHeaders as _};

/// What a variant read from one message. Borrowed from the parser's own structures, so building it
/// costs nothing beyond what the parser's accessors cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Read<'a> {
    pub top_via_branch: &'a str,
    pub from_tag: &'a str,
    pub to_tag: Option<&'a str>,
    pub call_id: &'a str,
    pub cseq: u32,
    pub cseq_method: &'a str,
    pub body_len: usize,
}

/// Switchboard's `sip-message`, from a borrowed slice: `sip_message::parse_slice`, which copies the
/// datagram once into a `Bytes` and then parses it (start line, every header line, validation of Via,
/// From, To, Contact, CSeq, Call-ID, Max-Forwards, Expires and Content-Length against their grammar,
/// body sliced by Content-Length). Then the `SipHeaders` accessors `top_via()`, `from()`, `to()`,
/// `call_id()`, `cseq()` — which parse those values again into typed structs (they are not cached).
pub fn ours_slice<R>(buf: &[u8], sink: impl FnOnce(Read<'_>) -> R) -> R {
    let msg = sip_message::parse_slice(buf, &Limits::default()).expect("sip-message parses");
    ours_read(&msg, sink)
}

/// The same, from a `Bytes` the transport already owns (`sip_message::parse`, zero-copy: header values
/// are slices of the datagram). This is how Switchboard's endpoint calls it.
pub fn ours_bytes<R>(buf: bytes::Bytes, sink: impl FnOnce(Read<'_>) -> R) -> R {
    let msg = sip_message::parse(buf, &Limits::default()).expect("sip-message parses");
    ours_read(&msg, sink)
}

fn ours_read<R>(msg: &sip_message::Message, sink: impl FnOnce(Read<'_>) -> R) -> R {
    let via = msg.top_via().expect("Via");
    let from = msg.from().expect("From");
    let to = msg.to().expect("To");
    let call_id = msg.call_id().expect("Call-ID");
    let cseq = msg.cseq().expect("CSeq");
    sink(Read {
        top_via_branch: via.branch().expect("branch"),
        from_tag: from.tag().expect("From tag"),
        to_tag: to.tag(),
        call_id,
        cseq: cseq.seq,
        cseq_method: cseq.method.as_str(),
        body_len: msg.body().len(),
    })
}

/// `rsip` 0.4: `rsip::SipMessage::try_from(&[u8])` (a nom tokenizer over the whole message; the
/// Request-URI / status line is typed, every header becomes an untyped `String` in an enum, body
/// copied into a `Vec`). Then the typed accessors: `via_header()?.typed()`, `from_header()?.typed()`,
/// `to_header()?.typed()`, `cseq_header()?.typed()` (each clones the header string and runs the
/// header's tokenizer) and `call_id_header()?.value()` (Call-ID has no typed form).
pub fn rsip<R>(buf: &[u8], sink: impl FnOnce(Read<'_>) -> R) -> R {
    use rsip::prelude::*;
    let msg = rsip::SipMessage::try_from(buf).expect("rsip parses");
    let via = msg.via_header().expect("Via").typed().expect("typed Via");
    let from = msg
        .from_header()
        .expect("From")
        .typed()
        .expect("typed From");
    let to = msg.to_header().expect("To").typed().expect("typed To");
    let call_id = msg.call_id_header().expect("Call-ID");
    let cseq = msg
        .cseq_header()
        .expect("CSeq")
        .typed()
        .expect("typed CSeq");
    sink(Read {
        top_via_branch: via.branch().expect("branch").value(),
        from_tag: from.tag().expect("From tag").value(),
        to_tag: to.tag().map(|t| t.value()),
        call_id: call_id.value(),
        cseq: cseq.seq,
        cseq_method: rsip_method(cseq.method),
        body_len: msg.body().len(),
    })
}

/// `rsipstack` 0.7: `rsipstack::sip::SipMessage::try_from(&[u8])`, which is what its UDP, TCP/TLS
/// stream and WebSocket transports call on incoming bytes (`sip::parser::parse_message`: a memchr line
/// splitter; the start line and Request-URI are typed, every header is an owned `String` in an enum,
/// body copied into a `Vec`). rsipstack carries its own fork of rsip's types. Then its typed accessors:
/// `top_via_header()?.typed()` (first comma-separated entry of the first Via), `from_header()?.typed()`,
/// `to_header()?.typed()`, `cseq_header()?.typed()` and `call_id_header()?.value()`.
pub fn rsipstack<R>(buf: &[u8], sink: impl FnOnce(Read<'_>) -> R) -> R {
    let msg = rsipstack::sip::SipMessage::try_from(buf).expect("rsipstack parses");
    let via = msg
        .top_via_header()
        .expect("Via")
        .typed()
        .expect("typed Via");
    let from = msg
        .from_header()
        .expect("From")
        .typed()
        .expect("typed From");
    let to = msg.to_header().expect("To").typed().expect("typed To");
    let call_id = msg.call_id_header().expect("Call-ID");
    let cseq = msg
        .cseq_header()
        .expect("CSeq")
        .typed()
        .expect("typed CSeq");
    let body_len = match &msg {
        rsipstack::sip::SipMessage::Request(r) => r.body.len(),
        rsipstack::sip::SipMessage::Response(r) => r.body.len(),
    };
    sink(Read {
        top_via_branch: via.branch().expect("branch").value(),
        from_tag: from.tag().expect("From tag").value(),
        to_tag: to.tag().map(|t| t.value()),
        call_id: call_id.value(),
        cseq: cseq.seq,
        cseq_method: rsipstack_method(cseq.method),
        body_len,
    })
}

fn rsip_method(m: rsip::Method) -> &'static str {
    use rsip::Method as M;
    match m {
        M::Ack => "ACK",
        M::Bye => "BYE",
        M::Cancel => "CANCEL",
        M::Info => "INFO",
        M::Invite => "INVITE",
        M::Message => "MESSAGE",
        M::Notify => "NOTIFY",
        M::Options => "OPTIONS",
        M::PRack => "PRACK",
        M::Publish => "PUBLISH",
        M::Refer => "REFER",
        M::Register => "REGISTER",
        M::Subscribe => "SUBSCRIBE",
        M::Update => "UPDATE",
    }
}

fn rsipstack_method(m: rsipstack::sip::Method) -> &'static str {
    use rsipstack::sip::Method as M;
    match m {
        M::Ack => "ACK",
        M::Bye => "BYE",
        M::Cancel => "CANCEL",
        M::Info => "INFO",
        M::Invite => "INVITE",
        M::Message => "MESSAGE",
        M::Notify => "NOTIFY",
        M::Options => "OPTIONS",
        M::PRack => "PRACK",
        M::Publish => "PUBLISH",
        M::Refer => "REFER",
        M::Register => "REGISTER",
        M::Subscribe => "SUBSCRIBE",
        M::Update => "UPDATE",
    }
}

/// Parse only, nothing read afterwards: `sip_message::parse_slice`. For the breakdown in `all_four`;
/// the message is returned so the caller drops it (inside the timed loop).
pub fn ours_slice_parse_only(buf: &[u8]) -> sip_message::Message {
    sip_message::parse_slice(buf, &Limits::default()).expect("sip-message parses")
}

/// Parse only: `rsip::SipMessage::try_from(&[u8])` (headers stay untyped strings).
pub fn rsip_parse_only(buf: &[u8]) -> rsip::SipMessage {
    rsip::SipMessage::try_from(buf).expect("rsip parses")
}

/// Parse only: `rsipstack::sip::SipMessage::try_from(&[u8])` (headers stay untyped strings).
pub fn rsipstack_parse_only(buf: &[u8]) -> rsipstack::sip::SipMessage {
    rsipstack::sip::SipMessage::try_from(buf).expect("rsipstack parses")
}
