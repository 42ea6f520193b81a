//! Property tests for the sip-message parser, printer and stream framing.
//!
//! - `generated_message_round_trips`: structurally valid random requests and responses (extension methods,
//!   sip/sips/tel URIs with users, passwords, parameters, escapes and IPv6 hosts, Via lists, quoted display
//!   names with escapes, tags, Contact lists, unknown headers, bodies) print with [`Message::to_bytes`], parse
//!   back to the same [`Message`], and print again byte for byte. The typed accessors read back exactly the
//!   values the generator built.
//! - `hand_rendered_variants_parse_to_the_same_message`: the same messages written the way peers write them
//!   (compact and odd-case header names, space around the colon, folded lines, values on a continuation
//!   line, leading CRLFs) parse to the same message, and the stream framer finds the same end.
//! - `arbitrary_bytes_never_panic` / `mutated_messages_never_panic`: random bytes and mutated real messages
//!   (RFC 4475 corpus plus a few everyday ones: byte flips, truncation, insertions, CRLF→LF, duplicated
//!   lines, splices) never make the parser or the framer panic, whatever parses round-trips, and framer
//!   and parser agree on where a framed message ends.
//! - `stream_framing_recovers_the_messages`: messages concatenated into a stream (with keep-alive pings)
//!   and delivered in random chunks come out of [`next_frame`] exactly as sent.
//!
//! Case counts keep the whole file within a few seconds in a debug build; `PROPTEST_CASES=5000` hunts longer.
//! Failures are not persisted to files: each bug found becomes a named regression test at the end.

use std::net::{Ipv4Addr, Ipv6Addr};

use bytes::Bytes;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::{select, Index};
use proptest::test_runner::FileFailurePersistence;
use sip_message::framing::{next_frame, Frame};
use sip_message::{
    parse_slice, CSeq, Contacts, Header, HeaderName, HeaderValue, Headers, Host, Limits, Message,
    Method, NameAddr, Param, Params, Request, Response, SipHeaders, SipUri, Uri, Version, Via,
};

// ---------------------------------------------------------------------------------------------------------
// Character sets (RFC 3261 §25.1)

const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const TOKEN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~";
const USER: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,;?/";
const PASSWORD: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()&=+$,";
const PARAMCHAR: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/:&+$";
const HNVCHAR: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.!~*'()[]/?:+$";
const CALLID_WORD: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~()<>:\\\"/[]?{}";
const TEL: &str = "0123456789-.()";

fn chars(set: &'static str, len: std::ops::RangeInclusive<usize>) -> BoxedStrategy<String> {
    let v: Vec<char> = set.chars().collect();
    vec(select(v), len)
        .prop_map(|c| c.into_iter().collect())
        .boxed()
}

fn token(max: usize) -> BoxedStrategy<String> {
    chars(TOKEN, 1..=max)
}

/// `%HH`, upper or lower case hex.
fn escape() -> BoxedStrategy<String> {
    (any::<u8>(), any::<bool>())
        .prop_map(|(b, upper)| {
            if upper {
                format!("%{b:02X}")
            } else {
                format!("%{b:02x}")
            }
        })
        .boxed()
}

/// Characters of `set` mixed with `%HH` escapes.
fn escaped_text(
    set: &'static str,
    pieces: std::ops::RangeInclusive<usize>,
) -> BoxedStrategy<String> {
    let v: Vec<char> = set.chars().collect();
    vec(
        prop_oneof![5 => select(v).prop_map(String::from), 1 => escape()],
        pieces,
    )
    .prop_map(|p| p.concat())
    .boxed()
}

/// A quoted-string with quoted-pairs (any byte but CR/LF) and UTF-8 beyond ASCII, quotes included.
fn quoted_string() -> BoxedStrategy<String> {
    let qdtext: Vec<char> = (0x20u8..0x7f)
        .filter(|&b| b != b'"' && b != b'\\')
        .map(char::from)
        .chain(['\t'])
        .collect();
    vec(
        prop_oneof![
            8 => select(qdtext).prop_map(String::from),
            1 => prop::char::range('\u{80}', '\u{10ffff}').prop_map(String::from),
            2 => (0u8..0x80)
                .prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n')
                .prop_map(|b| format!("\\{}", char::from(b))),
        ],
        0..=12,
    )
    .prop_map(|p| format!("\"{}\"", p.concat()))
    .boxed()
}

// ---------------------------------------------------------------------------------------------------------
// URIs

fn domain() -> BoxedStrategy<String> {
    let label = (
        chars(ALNUM, 1..=1),
        chars(concat!("abcdefghijklmnopqrstuvwxyz0123456789", "-_"), 0..=8),
    )
        .prop_map(|(a, b)| a + &b);
    (vec(label, 1..=4), any::<bool>())
        .prop_map(|(labels, dot)| labels.join(".") + if dot { "." } else { "" })
        .boxed()
}

fn ipv6() -> BoxedStrategy<Ipv6Addr> {
    prop_oneof![
        3 => vec(prop_oneof![Just(0u16), Just(1u16), any::<u16>()], 8).prop_map(|s| {
            Ipv6Addr::new(s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7])
        }),
        1 => any::<[u8; 4]>().prop_map(|o| Ipv4Addr::from(o).to_ipv6_mapped()),
    ]
    .boxed()
}

fn host() -> BoxedStrategy<Host> {
    prop_oneof![
        // Host::parse turns an all-digit domain that is an IPv4 address into Host::Ipv4, as a parser would.
        4 => domain().prop_map(|d| Host::parse(d.as_bytes()).expect("generated domain is valid")),
        2 => any::<[u8; 4]>().prop_map(|o| Host::Ipv4(o.into())),
        2 => ipv6().prop_map(Host::Ipv6),
    ]
    .boxed()
}

fn uri_params() -> BoxedStrategy<Params> {
    vec(
        prop_oneof![
            2 => (
                select(vec!["transport", "user", "method", "ttl", "maddr", "lr"]).prop_map(String::from),
                option::of(escaped_text(PARAMCHAR, 1..=8)),
            ),
            3 => (escaped_text(PARAMCHAR, 1..=8), option::of(escaped_text(PARAMCHAR, 1..=8))),
        ]
        .prop_map(|(name, value)| Param { name, value }),
        0..=3,
    )
    .prop_map(Params)
    .boxed()
}

fn sip_uri() -> BoxedStrategy<SipUri> {
    let userinfo = option::of((
        escaped_text(USER, 1..=10),
        option::of(escaped_text(PASSWORD, 0..=6)),
    ));
    let headers = option::of(
        vec(
            (escaped_text(HNVCHAR, 1..=6), escaped_text(HNVCHAR, 0..=6)),
            1..=3,
        )
        .prop_map(|hs| {
            hs.into_iter()
                .map(|(n, v)| format!("{n}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
    );
    (
        any::<bool>(),
        userinfo,
        host(),
        option::of(any::<u16>()),
        uri_params(),
        headers,
    )
        .prop_map(|(secure, userinfo, host, port, params, headers)| {
            let (user, password) = match userinfo {
                Some((u, p)) => (Some(u), p),
                None => (None, None),
            };
            SipUri {
                secure,
                user,
                password,
                host,
                port,
                params,
                headers,
            }
        })
        .boxed()
}

fn other_uri() -> BoxedStrategy<Uri> {
    prop_oneof![
        // tel: global or local numbers with parameters (RFC 3966).
        (
            any::<bool>(),
            chars(TEL, 1..=12),
            vec(
                (
                    chars("abcdefghijklmnopqrstuvwxyz-", 1..=8),
                    chars(TOKEN, 1..=8)
                ),
                0..=2
            )
        )
            .prop_map(|(global, digits, params)| {
                let mut opaque = format!("{}{}", if global { "+" } else { "" }, digits);
                for (n, v) in params {
                    opaque.push_str(&format!(";{n}={v}"));
                }
                Uri::Other {
                    scheme: "tel".into(),
                    opaque,
                }
            }),
        (
            select(vec!["urn", "http", "mailto", "im", "x-custom+v.1"]),
            chars(PARAMCHAR, 1..=16)
        )
            .prop_map(|(scheme, opaque)| Uri::Other {
                scheme: scheme.into(),
                opaque,
            }),
    ]
    .boxed()
}

fn uri() -> BoxedStrategy<Uri> {
    prop_oneof![4 => sip_uri().prop_map(Uri::Sip), 1 => other_uri()].boxed()
}

// ---------------------------------------------------------------------------------------------------------
// Header parameters, name-addr, Via

fn gen_value() -> BoxedStrategy<String> {
    prop_oneof![
        4 => token(10),
        2 => quoted_string(),
        1 => ipv6().prop_map(|a| format!("[{a}]")),
        1 => ipv6().prop_map(|a| a.to_string()),
    ]
    .boxed()
}

fn header_params(max: usize) -> BoxedStrategy<Params> {
    vec(
        (token(8), option::of(gen_value())).prop_map(|(name, value)| Param { name, value }),
        0..=max,
    )
    .prop_map(Params)
    .boxed()
}

/// Header parameters as written, with or without whitespace around `;` and `=` (SEMI and EQUAL allow SWS).
fn render_params(p: &Params, spaced: bool) -> String {
    let mut s = String::new();
    for prm in &p.0 {
        s.push_str(if spaced { " ; " } else { ";" });
        s.push_str(&prm.name);
        if let Some(v) = &prm.value {
            s.push_str(if spaced { " = " } else { "=" });
            s.push_str(v);
        }
    }
    s
}

fn display_name() -> BoxedStrategy<Option<String>> {
    prop_oneof![
        2 => Just(None),
        3 => quoted_string().prop_map(Some),
        1 => vec(token(8), 1..=3).prop_map(|w| Some(w.join(" "))),
    ]
    .boxed()
}

/// A name-addr or addr-spec with header parameters, and how it is written.
fn name_addr(extra: BoxedStrategy<Params>) -> BoxedStrategy<(NameAddr, String)> {
    (
        display_name(),
        uri(),
        extra,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(display_name, uri, params, addr_spec, spaced, tight)| {
            let uri_text = uri.to_string();
            // RFC 3261 §20: the addr-spec form only when the URI has no comma, semicolon or question mark.
            let text = if display_name.is_none() && addr_spec && !uri_text.contains([';', ',', '?'])
            {
                format!("{uri_text}{}", render_params(&params, spaced))
            } else {
                let d = match &display_name {
                    Some(d) if tight && d.starts_with('"') => d.clone(),
                    Some(d) => format!("{d} "),
                    None => String::new(),
                };
                format!("{d}<{uri_text}>{}", render_params(&params, spaced))
            };
            (
                NameAddr {
                    display_name,
                    uri,
                    params,
                },
                text,
            )
        })
        .boxed()
}

fn tagged_params() -> BoxedStrategy<Params> {
    (token(12), header_params(2))
        .prop_map(|(tag, mut p)| {
            p.0.insert(
                0,
                Param {
                    name: "tag".into(),
                    value: Some(tag),
                },
            );
            p
        })
        .boxed()
}

fn contact_params() -> BoxedStrategy<Params> {
    vec(
        prop_oneof![
            (0u32..100_000).prop_map(|e| Param {
                name: "expires".into(),
                value: Some(e.to_string())
            }),
            (0u32..=1000).prop_map(|q| Param {
                name: "q".into(),
                value: Some(format!("{}.{:03}", q / 1000, q % 1000))
            }),
            any::<u128>().prop_map(|u| Param {
                name: "+sip.instance".into(),
                value: Some(format!("\"<urn:uuid:{u:032x}>\""))
            }),
            (token(8), option::of(gen_value())).prop_map(|(name, value)| Param { name, value }),
        ],
        0..=3,
    )
    .prop_map(Params)
    .boxed()
}

fn via() -> BoxedStrategy<(Via, String)> {
    let transport = prop_oneof![
        select(vec![
            "UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "udp", "tcp", "Tls"
        ])
        .prop_map(String::from),
        token(6),
    ];
    let param = prop_oneof![
        3 => token(16).prop_map(|b| ("branch".to_string(), Some(format!("z9hG4bK{b}")))),
        1 => any::<[u8; 4]>().prop_map(|o| ("received".to_string(), Some(Ipv4Addr::from(o).to_string()))),
        1 => ipv6().prop_map(|a| ("received".to_string(), Some(a.to_string()))),
        1 => option::of(any::<u16>()).prop_map(|p| ("rport".to_string(), p.map(|p| p.to_string()))),
        1 => host().prop_map(|h| ("maddr".to_string(), Some(h.to_string()))),
        1 => any::<u8>().prop_map(|t| ("ttl".to_string(), Some(t.to_string()))),
        1 => (token(8), option::of(gen_value())),
    ]
    .prop_map(|(name, value)| Param { name, value });
    (
        transport,
        host(),
        option::of(any::<u16>()),
        vec(param, 0..=4),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(transport, host, port, params, spaced_proto, spaced_params)| {
                let params = Params(params);
                let s = if spaced_proto { " " } else { "" };
                let mut text = format!("SIP{s}/{s}2.0{s}/{s}{transport} {host}");
                if let Some(p) = port {
                    text.push_str(&format!("{s}:{s}{p}"));
                }
                text.push_str(&render_params(&params, spaced_params));
                let via = Via {
                    protocol: "SIP/2.0".into(),
                    transport: transport.to_ascii_uppercase(),
                    host,
                    port,
                    params,
                };
                (via, text)
            },
        )
        .boxed()
}

fn list_sep() -> BoxedStrategy<&'static str> {
    select(vec![",", ", ", " , ", " ,\t"]).boxed()
}

// ---------------------------------------------------------------------------------------------------------
// Headers and messages

/// What a generated header must read back as through its typed parser.
#[derive(Debug, Clone)]
enum Typed {
    Opaque,
    Via(Vec<Via>),
    NameAddr(NameAddr),
    Contacts(Contacts),
    CSeq(CSeq),
    CallId(String),
    Number(u64),
}

#[derive(Debug, Clone)]
struct GenHeader {
    name: HeaderName,
    /// The compact form (RFC 3261 §7.3.3), if the name has one.
    compact: Option<&'static str>,
    /// The value as the parser must store it (one line, trimmed).
    value: String,
    typed: Typed,
}

impl GenHeader {
    fn new(name: HeaderName, compact: Option<&'static str>, value: String, typed: Typed) -> Self {
        GenHeader {
            name,
            compact,
            value,
            typed,
        }
    }
}

#[derive(Debug, Clone)]
struct GenMessage {
    msg: Message,
    headers: Vec<GenHeader>,
}

fn via_header() -> BoxedStrategy<GenHeader> {
    (vec(via(), 1..=3), list_sep())
        .prop_map(|(vias, sep)| {
            let text = vias
                .iter()
                .map(|(_, t)| t.as_str())
                .collect::<Vec<_>>()
                .join(sep);
            let vias = vias.into_iter().map(|(v, _)| v).collect();
            GenHeader::new(HeaderName::Via, Some("v"), text, Typed::Via(vias))
        })
        .boxed()
}

fn contact_header() -> BoxedStrategy<GenHeader> {
    prop_oneof![
        1 => Just(GenHeader::new(HeaderName::Contact, Some("m"), "*".into(), Typed::Contacts(Contacts::Star))),
        6 => (vec(name_addr(contact_params()), 1..=3), list_sep()).prop_map(|(list, sep)| {
            let text = list.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(sep);
            let list = list.into_iter().map(|(na, _)| na).collect();
            GenHeader::new(HeaderName::Contact, Some("m"), text, Typed::Contacts(Contacts::List(list)))
        }),
    ]
    .boxed()
}

fn method() -> BoxedStrategy<Method> {
    prop_oneof![
        3 => select(vec![
            "INVITE", "ACK", "BYE", "CANCEL", "REGISTER", "OPTIONS", "INFO", "UPDATE", "PRACK", "SUBSCRIBE",
            "NOTIFY", "REFER", "MESSAGE", "PUBLISH",
        ])
        .prop_map(|m| Method::from_bytes(m.as_bytes()).expect("known method")),
        2 => token(20).prop_map(|m| Method::from_bytes(m.as_bytes()).expect("token is a method")),
    ]
    .boxed()
}

/// Free text for unknown headers: printable ASCII, tabs and UTF-8, no CR/LF, trimmed.
fn free_text() -> BoxedStrategy<String> {
    let printable: Vec<char> = (0x20u8..0x7f).map(char::from).chain(['\t']).collect();
    vec(
        prop_oneof![
            10 => select(printable).prop_map(String::from),
            1 => prop::char::range('\u{80}', '\u{10ffff}').prop_map(String::from),
        ],
        0..=30,
    )
    .prop_map(|p| p.concat().trim_matches([' ', '\t']).to_string())
    .boxed()
}

fn other_header() -> BoxedStrategy<GenHeader> {
    prop_oneof![
        3 => (token(12), free_text()).prop_map(|(n, v)| {
            GenHeader::new(HeaderName::Other(format!("X-{n}").into()), None, v, Typed::Opaque)
        }),
        1 => free_text().prop_map(|v| GenHeader::new(HeaderName::Subject, Some("s"), v, Typed::Opaque)),
        1 => free_text().prop_map(|v| GenHeader::new(HeaderName::UserAgent, None, v, Typed::Opaque)),
        1 => vec(token(10), 1..=4).prop_map(|t| {
            GenHeader::new(HeaderName::Supported, Some("k"), t.join(", "), Typed::Opaque)
        }),
        1 => (vec(name_addr(header_params(2)), 1..=2), list_sep()).prop_map(|(l, sep)| {
            let text = l.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(sep);
            GenHeader::new(HeaderName::RecordRoute, None, text, Typed::Opaque)
        }),
    ]
    .boxed()
}

/// The headers every message carries, in random order, and the body with or without Content-Length.
fn headers_and_body(
    cseq_method: BoxedStrategy<Method>,
    force_length: bool,
) -> BoxedStrategy<(Vec<GenHeader>, Bytes)> {
    let call_id = (
        chars(CALLID_WORD, 1..=16),
        option::of(chars(CALLID_WORD, 1..=12)),
    )
        .prop_map(|(a, b)| match b {
            Some(b) => format!("{a}@{b}"),
            None => a,
        })
        .prop_map(|c| GenHeader::new(HeaderName::CallId, Some("i"), c.clone(), Typed::CallId(c)));
    let cseq = (0u32..(1 << 31), cseq_method).prop_map(|(seq, method)| {
        let c = CSeq { seq, method };
        GenHeader::new(HeaderName::CSeq, None, c.to_string(), Typed::CSeq(c))
    });
    let from = name_addr(tagged_params())
        .prop_map(|(na, t)| GenHeader::new(HeaderName::From, Some("f"), t, Typed::NameAddr(na)));
    let to = name_addr(prop_oneof![tagged_params(), header_params(1)].boxed())
        .prop_map(|(na, t)| GenHeader::new(HeaderName::To, Some("t"), t, Typed::NameAddr(na)));
    let numbers = vec(
        prop_oneof![
            (0u64..=255).prop_map(|n| GenHeader::new(
                HeaderName::MaxForwards,
                None,
                n.to_string(),
                Typed::Number(n)
            )),
            (0u64..=u32::MAX as u64).prop_map(|n| GenHeader::new(
                HeaderName::Expires,
                None,
                n.to_string(),
                Typed::Number(n)
            )),
        ],
        0..=2,
    );
    let body = vec(any::<u8>(), 0..=96);
    (
        vec(via_header(), 1..=3),
        (from, to, call_id, cseq),
        numbers,
        vec(contact_header(), 0..=2),
        vec(other_header(), 0..=4),
        body,
        any::<bool>(),
        any::<Index>(),
    )
        .prop_flat_map(
            move |(
                vias,
                (from, to, call_id, cseq),
                numbers,
                contacts,
                others,
                body,
                with_len,
                at,
            )| {
                let mut hs = vec![from, to, call_id, cseq];
                hs.extend(numbers);
                hs.extend(contacts);
                hs.extend(others);
                let body = Bytes::from(body);
                if force_length || with_len || !body.is_empty() {
                    let n = body.len() as u64;
                    hs.insert(
                        at.index(hs.len() + 1),
                        GenHeader::new(
                            HeaderName::ContentLength,
                            Some("l"),
                            n.to_string(),
                            Typed::Number(n),
                        ),
                    );
                }
                // Via order matters (it is a list); everything else may come in any order around it.
                (
                    Just(vias),
                    Just(hs).prop_shuffle(),
                    Just(body),
                    any::<Index>(),
                )
            },
        )
        .prop_map(|(vias, mut hs, body, at)| {
            let at = at.index(hs.len() + 1);
            for (i, v) in vias.into_iter().enumerate() {
                hs.insert(at + i, v);
            }
            (hs, body)
        })
        .boxed()
}

fn to_headers(hs: &[GenHeader]) -> Headers {
    Headers::from(
        hs.iter()
            .map(|h| Header {
                name: h.name.clone(),
                value: HeaderValue::from(h.value.clone()),
            })
            .collect::<Vec<_>>(),
    )
}

fn version() -> BoxedStrategy<Version> {
    prop_oneof![
        9 => Just(Version::SIP_2_0),
        1 => (any::<u8>(), any::<u8>()).prop_map(|(major, minor)| Version { major, minor }),
    ]
    .boxed()
}

fn request(force_length: bool) -> BoxedStrategy<GenMessage> {
    (method(), uri(), version())
        .prop_flat_map(move |(m, uri, version)| {
            let cseq_method = prop_oneof![3 => Just(m.clone()), 1 => method()].boxed();
            (
                Just(m),
                Just(uri),
                Just(version),
                headers_and_body(cseq_method, force_length),
            )
        })
        .prop_map(|(method, uri, version, (hs, body))| GenMessage {
            msg: Message::Request(Request {
                method,
                uri,
                version,
                headers: to_headers(&hs),
                body,
            }),
            headers: hs,
        })
        .boxed()
}

fn reason() -> BoxedStrategy<String> {
    let chars: Vec<char> = (0x20u8..0x7f).map(char::from).chain(['\t']).collect();
    prop_oneof![
        3 => (100u16..=699).prop_map(|s| sip_message::default_reason(s).to_string()),
        2 => vec(
            prop_oneof![
                10 => select(chars).prop_map(String::from),
                1 => prop::char::range('\u{80}', '\u{10ffff}').prop_map(String::from),
            ],
            0..=24
        )
        .prop_map(|p| p.concat()),
    ]
    .boxed()
}

fn response(force_length: bool) -> BoxedStrategy<GenMessage> {
    (
        100u16..=699,
        reason(),
        version(),
        headers_and_body(method(), force_length),
    )
        .prop_map(|(status, reason, version, (hs, body))| GenMessage {
            msg: Message::Response(Response {
                version,
                status,
                reason,
                headers: to_headers(&hs),
                body,
            }),
            headers: hs,
        })
        .boxed()
}

fn message(force_length: bool) -> BoxedStrategy<GenMessage> {
    prop_oneof![request(force_length), response(force_length)].boxed()
}

// ---------------------------------------------------------------------------------------------------------
// Checks

/// Parses `bytes`; if that works, printing and parsing again must give the same message, and printing that
/// must give the same bytes.
fn assert_round_trip(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(msg) = parse_slice(bytes, &Limits::default()) {
        let printed = msg.to_bytes();
        let again = parse_slice(&printed, &Limits::default());
        prop_assert!(
            again.is_ok(),
            "printed message fails to parse: {:?}\ninput: {:?}\nprinted: {:?}",
            again,
            String::from_utf8_lossy(bytes),
            String::from_utf8_lossy(&printed)
        );
        let again = again.unwrap();
        prop_assert_eq!(
            &msg,
            &again,
            "printed: {:?}",
            String::from_utf8_lossy(&printed)
        );
        prop_assert_eq!(again.to_bytes(), printed);
    }
    Ok(())
}

fn check_typed(msg: &Message, hs: &[GenHeader]) -> Result<(), TestCaseError> {
    for h in hs {
        let v = h.value.as_bytes();
        match &h.typed {
            Typed::Opaque => {}
            Typed::Via(vias) => {
                prop_assert_eq!(&Via::parse_list(v).expect("Via parses"), vias);
                // The typed printer (used when a core builds a Via, e.g. for an ACK) round-trips too.
                for via in vias {
                    prop_assert_eq!(
                        &Via::parse_list(via.to_string().as_bytes()).expect("printed Via"),
                        std::slice::from_ref(via)
                    );
                }
            }
            Typed::NameAddr(na) => {
                prop_assert_eq!(&NameAddr::parse(v, "To").expect("name-addr parses"), na);
                prop_assert_eq!(
                    &NameAddr::parse(na.to_string().as_bytes(), "To").expect("printed name-addr"),
                    na
                );
            }
            Typed::Contacts(c) => {
                prop_assert_eq!(&Contacts::parse(v).expect("Contact parses"), c);
                if let Contacts::List(l) = c {
                    for na in l {
                        let printed = na.to_string();
                        prop_assert_eq!(
                            &NameAddr::parse(printed.as_bytes(), "Contact")
                                .expect("printed Contact"),
                            na
                        );
                    }
                }
            }
            Typed::CSeq(c) => {
                prop_assert_eq!(&CSeq::parse(v).expect("CSeq parses"), c);
                prop_assert_eq!(
                    &CSeq::parse(c.to_string().as_bytes()).expect("printed CSeq"),
                    c
                );
            }
            Typed::CallId(c) => prop_assert_eq!(msg.call_id(), Some(c.as_str())),
            Typed::Number(n) => prop_assert_eq!(h.value.parse::<u64>().ok(), Some(*n)),
        }
    }
    // The accessors see the first of each header and all Contacts.
    let first = |name: HeaderName| hs.iter().find(|h| h.name == name).map(|h| h.typed.clone());
    match first(HeaderName::Via) {
        Some(Typed::Via(v)) => {
            prop_assert_eq!(msg.top_via().map(|r| r.to_owned()), v.first().cloned())
        }
        _ => prop_assert!(false, "no Via generated"),
    }
    match first(HeaderName::From) {
        Some(Typed::NameAddr(na)) => {
            prop_assert_eq!(msg.from().and_then(|r| r.to_owned().ok()), Some(na))
        }
        _ => prop_assert!(false, "no From generated"),
    }
    match first(HeaderName::To) {
        Some(Typed::NameAddr(na)) => {
            prop_assert_eq!(msg.to().and_then(|r| r.to_owned().ok()), Some(na))
        }
        _ => prop_assert!(false, "no To generated"),
    }
    match first(HeaderName::CSeq) {
        Some(Typed::CSeq(c)) => prop_assert_eq!(msg.cseq(), Some(c)),
        _ => prop_assert!(false, "no CSeq generated"),
    }
    if let Some(Typed::Number(n)) = first(HeaderName::MaxForwards) {
        prop_assert_eq!(msg.max_forwards().map(u64::from), Some(n));
    }
    if let Some(Typed::Number(n)) = first(HeaderName::Expires) {
        prop_assert_eq!(msg.expires().map(u64::from), Some(n));
    }
    let mut star = false;
    let mut all = Vec::new();
    for h in hs.iter().filter(|h| h.name == HeaderName::Contact) {
        match &h.typed {
            Typed::Contacts(Contacts::Star) => star = true,
            Typed::Contacts(Contacts::List(l)) => all.extend(l.iter().cloned()),
            _ => {}
        }
    }
    let expected = if star {
        Contacts::Star
    } else {
        Contacts::List(all)
    };
    prop_assert_eq!(msg.contacts().expect("Contacts parse"), expected);
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    // PROPTEST_CASES=n overrides every count, for a longer hunt.
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(cases);
    ProptestConfig {
        cases,
        // Failures found here become named regression tests below instead of files beside the sources.
        failure_persistence: Some(Box::new(FileFailurePersistence::Off)),
        ..ProptestConfig::default()
    }
}

/// How a peer might write a header name: long form in any case, or the compact form.
#[derive(Debug, Clone, Copy)]
enum NameStyle {
    Canonical,
    Lower,
    Upper,
    Compact,
}

#[derive(Debug, Clone)]
struct Presentation {
    leading_crlfs: usize,
    names: Vec<NameStyle>,
    /// Whitespace before and after each colon.
    colons: Vec<(bool, bool)>,
    /// For each header, the space (chosen by index among the foldable ones) to fold at, if any.
    folds: Vec<Option<Index>>,
    /// For each header, whether the value starts on a continuation line (`Name:` CRLF WSP value).
    value_on_next_line: Vec<bool>,
    fold_ws: &'static str,
    scheme_upper: bool,
}

fn presentation() -> BoxedStrategy<Presentation> {
    let style = select(vec![
        NameStyle::Canonical,
        NameStyle::Lower,
        NameStyle::Upper,
        NameStyle::Compact,
    ]);
    (
        0usize..=2,
        vec(style, 40),
        vec(any::<(bool, bool)>(), 40),
        vec(
            prop_oneof![3 => Just(None), 1 => any::<Index>().prop_map(Some)],
            40,
        ),
        vec(prop::bool::weighted(0.1), 40),
        select(vec![" ", "\t", "   ", " \t"]),
        any::<bool>(),
    )
        .prop_map(
            |(leading_crlfs, names, colons, folds, value_on_next_line, fold_ws, scheme_upper)| {
                Presentation {
                    leading_crlfs,
                    names,
                    colons,
                    folds,
                    value_on_next_line,
                    fold_ws,
                    scheme_upper,
                }
            },
        )
        .boxed()
}

/// Writes the message by hand with `p`'s liberties; it must parse to `g.msg` all the same.
fn render(g: &GenMessage, p: &Presentation) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..p.leading_crlfs {
        out.extend_from_slice(b"\r\n");
    }
    match &g.msg {
        Message::Request(r) => {
            let mut uri = r.uri.to_string();
            if p.scheme_upper && matches!(r.uri, Uri::Sip(_)) {
                let colon = uri.find(':').expect("scheme");
                uri = uri[..colon].to_ascii_uppercase() + &uri[colon..];
            }
            out.extend_from_slice(
                format!(
                    "{} {} SIP/{}.{}\r\n",
                    r.method, uri, r.version.major, r.version.minor
                )
                .as_bytes(),
            );
        }
        Message::Response(r) => out.extend_from_slice(
            format!(
                "SIP/{}.{} {} {}\r\n",
                r.version.major, r.version.minor, r.status, r.reason
            )
            .as_bytes(),
        ),
    }
    for (i, h) in g.headers.iter().enumerate() {
        let name = match (p.names[i % p.names.len()], &h.name, h.compact) {
            (_, HeaderName::Other(n), _) => n.to_string(),
            (NameStyle::Canonical, n, _) => n.as_str().to_string(),
            (NameStyle::Lower, n, _) => n.as_str().to_ascii_lowercase(),
            (NameStyle::Upper, n, _) => n.as_str().to_ascii_uppercase(),
            (NameStyle::Compact, n, None) => n.as_str().to_string(),
            (NameStyle::Compact, _, Some(c)) => c.to_string(),
        };
        let (before, after) = p.colons[i % p.colons.len()];
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(if before { b" :" } else { b":" });
        if after {
            out.push(b' ');
        }
        if p.value_on_next_line[i % p.value_on_next_line.len()] && !h.value.is_empty() {
            out.extend_from_slice(b"\r\n");
            out.extend_from_slice(p.fold_ws.as_bytes());
        }
        // Fold at a single space between two non-blank characters: unfolding gives back exactly one space.
        let v = h.value.as_bytes();
        let foldable: Vec<usize> = (1..v.len().saturating_sub(1))
            .filter(|&j| {
                v[j] == b' '
                    && !matches!(v[j - 1], b' ' | b'\t')
                    && !matches!(v[j + 1], b' ' | b'\t')
            })
            .collect();
        match p.folds[i % p.folds.len()] {
            Some(ix) if !foldable.is_empty() => {
                let j = foldable[ix.index(foldable.len())];
                out.extend_from_slice(&v[..j]);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(p.fold_ws.as_bytes());
                out.extend_from_slice(&v[j + 1..]);
            }
            _ => out.extend_from_slice(v),
        }
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(g.msg.body());
    out
}

// ---------------------------------------------------------------------------------------------------------
// Seeds for mutation

fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(|| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .expect("RFC 4475 corpus")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "dat"))
            .collect();
        files.sort();
        let mut seeds: Vec<Vec<u8>> = files.iter().map(|p| std::fs::read(p).expect("corpus file")).collect();
        seeds.push(
            b"REGISTER sip:pbx.example.org SIP/2.0\r\n\
Via: SIP/2.0/UDP [2001:db8::7]:5062;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: \"Desk 12\" <sip:1012@pbx.example.org>\r\n\
From: \"Desk 12\" <sip:1012@pbx.example.org>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@desk12\r\n\
CSeq: 314159 REGISTER\r\n\
Contact: <sip:1012@[2001:db8::7]:5062;transport=udp>;expires=3600;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"\r\n\
Authorization: Digest username=\"1012\", realm=\"pbx\", nonce=\"abc\", uri=\"sip:pbx.example.org\", response=\"0123\"\r\n\
Content-Length: 0\r\n\r\n"
                .to_vec(),
        );
        seeds.push(
            b"SIP/2.0 180 Ringing\r\n\
v: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bKnashds8;received=192.0.2.3, SIP/2.0/UDP proxy.example.com\r\n\
f: Alice <sip:alice@example.com>;tag=88sja8x\r\n\
t: <tel:+1-555-0100;phone-context=example.com>;tag=a6c85cf\r\n\
i: 987asjd97y7atg\r\n\
CSeq: 986759 INVITE\r\n\
m: <sips:bob@192.0.2.4?subject=hi%20there>\r\n\
l: 4\r\n\r\nbody"
                .to_vec(),
        );
        seeds
    })
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Set(Index, u8),
    Insert(Index, &'static [u8]),
    InsertByte(Index, u8),
    Delete(Index, usize),
    Truncate(Index),
    CrlfToLf,
    CrlfToLfOnce(Index),
    DuplicateLine(Index),
    Splice(Index, Index, usize),
}

const INTERESTING: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r",
    b" ",
    b"\t",
    b":",
    b";",
    b",",
    b"\"",
    b"\\",
    b"<",
    b">",
    b"[",
    b"]",
    b"%",
    b"%4",
    b"@",
    b"=",
    b"?",
    b"\r\n ",
    b"\r\n\t",
    b"\r\n\r\n",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b"Content-Length: 99999\r\n",
    b"l: 0\r\n",
    b"l:\r\n 3\r\n",
    b"Via: SIP/2.0/UDP [::1\r\n",
    b"SIP/2.0",
    b"z9hG4bK",
    b"4294967296",
    b"99999999999999999999999",
    b"-1",
    b"sip:",
    b"sips:[",
    b"tel:",
    b"*",
];

fn mutation() -> BoxedStrategy<Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, 1 << b)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        3 => (any::<Index>(), select(INTERESTING)).prop_map(|(i, s)| Mutation::Insert(i, s)),
        1 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::InsertByte(i, b)),
        2 => (any::<Index>(), 1usize..16).prop_map(|(i, n)| Mutation::Delete(i, n)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
        1 => Just(Mutation::CrlfToLf),
        1 => any::<Index>().prop_map(Mutation::CrlfToLfOnce),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => (any::<Index>(), any::<Index>(), 1usize..40).prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
    .boxed()
}

fn apply(buf: &mut Vec<u8>, m: &Mutation) {
    let len = buf.len();
    let pos = |i: &Index| if len == 0 { 0 } else { i.index(len) };
    let gap = |i: &Index| i.index(len + 1);
    match m {
        Mutation::Flip(i, mask) if len > 0 => buf[pos(i)] ^= *mask,
        Mutation::Set(i, b) if len > 0 => buf[pos(i)] = *b,
        Mutation::Insert(i, s) => {
            let at = gap(i);
            buf.splice(at..at, s.iter().copied());
        }
        Mutation::InsertByte(i, b) => buf.insert(gap(i), *b),
        Mutation::Delete(i, n) if len > 0 => {
            let at = pos(i);
            buf.drain(at..(at + n).min(len));
        }
        Mutation::Truncate(i) => buf.truncate(gap(i)),
        Mutation::CrlfToLf => buf.retain({
            let copy = buf.clone();
            let mut k = 0;
            move |&b| {
                k += 1;
                !(b == b'\r' && copy.get(k) == Some(&b'\n'))
            }
        }),
        Mutation::CrlfToLfOnce(i) => {
            let crlfs: Vec<usize> = buf
                .windows(2)
                .enumerate()
                .filter(|(_, w)| w == b"\r\n")
                .map(|(k, _)| k)
                .collect();
            if !crlfs.is_empty() {
                buf.remove(crlfs[i.index(crlfs.len())]);
            }
        }
        Mutation::DuplicateLine(i) if len > 0 => {
            let at = pos(i);
            let start = buf[..at]
                .iter()
                .rposition(|&b| b == b'\n')
                .map_or(0, |p| p + 1);
            let end = buf[at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(len, |p| at + p + 1);
            let line = buf[start..end].to_vec();
            buf.splice(end..end, line);
        }
        Mutation::Splice(from, to, n) if len > 0 => {
            let a = pos(from);
            let piece = buf[a..(a + n).min(len)].to_vec();
            let at = gap(to);
            buf.splice(at..at, piece);
        }
        _ => {}
    }
}

/// Runs the parser and the framer on `bytes` with default and with tight limits; none may panic.
fn exercise(bytes: &[u8], tight: &Limits) -> Result<(), TestCaseError> {
    let _ = parse_slice(bytes, tight);
    let _ = next_frame(bytes, tight);
    if let Ok(Frame::Message(n)) = next_frame(bytes, &Limits::default()) {
        prop_assert!(n <= bytes.len());
        // The framer and the parser agree on where the message ends: what parses as the framed message is
        // what the parser makes of the whole input (it ignores bytes past Content-Length).
        if let Ok(framed) = parse_slice(&bytes[..n], &Limits::default()) {
            prop_assert_eq!(parse_slice(bytes, &Limits::default()), Ok(framed));
        }
    }
    assert_round_trip(bytes)
}

fn tight_limits() -> BoxedStrategy<Limits> {
    (0usize..2048, 0usize..24, 0usize..256)
        .prop_map(|(max_message_bytes, max_headers, max_line_bytes)| Limits {
            max_message_bytes,
            max_headers,
            max_line_bytes,
        })
        .boxed()
}

// ---------------------------------------------------------------------------------------------------------
// Properties

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn generated_message_round_trips(g in message(false)) {
        let printed = g.msg.to_bytes();
        let parsed = parse_slice(&printed, &Limits::default());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, String::from_utf8_lossy(&printed));
        let parsed = parsed.unwrap();
        prop_assert_eq!(&parsed, &g.msg, "printed: {}", String::from_utf8_lossy(&printed));
        prop_assert_eq!(parsed.to_bytes(), printed);
        check_typed(&parsed, &g.headers)?;
    }

    #[test]
    fn hand_rendered_variants_parse_to_the_same_message(g in message(false), p in presentation()) {
        let text = render(&g, &p);
        let parsed = parse_slice(&text, &Limits::default());
        prop_assert!(parsed.is_ok(), "{:?}\n{}", parsed, String::from_utf8_lossy(&text));
        prop_assert_eq!(parsed.unwrap(), g.msg, "text: {}", String::from_utf8_lossy(&text));
        // On a stream the framer must find the same message, folded lines and compact names included.
        if g.headers.iter().any(|h| h.name == HeaderName::ContentLength) {
            let start = 2 * p.leading_crlfs;
            let framed = next_frame(&text[start..], &Limits::default());
            prop_assert_eq!(framed, Ok(Frame::Message(text.len() - start)), "text: {}", String::from_utf8_lossy(&text));
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn arbitrary_bytes_never_panic(
        bytes in prop_oneof![
            vec(any::<u8>(), 0..512),
            // Bytes from the SIP alphabet, so lines, colons and start lines form by chance.
            vec(select(b"SIP/2.0 INVITE sip: @;,<>\"\\[]%=?:\r\n\t0123456789abclmvfti".to_vec()), 0..512),
        ],
        tight in tight_limits(),
    ) {
        exercise(&bytes, &tight)?;
    }

    #[test]
    fn mutated_messages_never_panic(
        seed in any::<Index>(),
        mutations in vec(mutation(), 1..6),
        tight in tight_limits(),
    ) {
        let seeds = seeds();
        let mut buf = seeds[seed.index(seeds.len())].clone();
        for m in &mutations {
            apply(&mut buf, m);
        }
        exercise(&buf, &tight)?;
    }
}

proptest! {
    #![proptest_config(config(96))]

    #[test]
    fn stream_framing_recovers_the_messages(
        msgs in vec(message(true), 1..=4),
        pings in vec(any::<bool>(), 5),
        cuts in vec(any::<Index>(), 0..8),
    ) {
        // The stream: each message, optionally followed by an RFC 5626 double-CRLF keep-alive.
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (i, g) in msgs.iter().enumerate() {
            let bytes = g.msg.to_bytes();
            stream.extend_from_slice(&bytes);
            expected.push(Frame::Message(bytes.len()));
            if pings[i] {
                stream.extend_from_slice(b"\r\n\r\n");
                expected.push(Frame::Ping(4));
            }
        }
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.push(stream.len());
        cuts.sort_unstable();

        let limits = Limits::default();
        let mut buf: Vec<u8> = Vec::new();
        let mut frames = Vec::new();
        let mut parsed = Vec::new();
        let mut from = 0;
        for cut in cuts {
            buf.extend_from_slice(&stream[from..cut]);
            from = cut;
            loop {
                let f = next_frame(&buf, &limits);
                prop_assert!(f.is_ok(), "{:?} on {:?}", f, String::from_utf8_lossy(&buf));
                match f.unwrap() {
                    Frame::NeedMore => break,
                    Frame::Message(n) => {
                        prop_assert!(n <= buf.len());
                        parsed.push(parse_slice(&buf[..n], &limits).expect("framed message parses"));
                        frames.push(Frame::Message(n));
                        buf.drain(..n);
                    }
                    f @ (Frame::Ping(n) | Frame::Skip(n)) => {
                        frames.push(f);
                        buf.drain(..n);
                    }
                }
            }
        }
        prop_assert!(buf.is_empty(), "left over: {:?}", String::from_utf8_lossy(&buf));
        prop_assert_eq!(frames, expected);
        let originals: Vec<Message> = msgs.into_iter().map(|g| g.msg).collect();
        prop_assert_eq!(parsed, originals);
    }
}

// ---------------------------------------------------------------------------------------------------------
// Regressions found by the properties above

/// `Content-Length:` CRLF SP `4` is legal folding (RFC 3261 §7.3.1); the framer used to read the empty first
/// line as the value and reject the stream message that `parse` accepts.
#[test]
fn framing_reads_a_folded_content_length() {
    let msg: &[u8] = b"OPTIONS sip:pbx.example.org SIP/2.0\r\n\
Via: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bKfold\r\n\
Call-ID: fold@127.0.0.1\r\n\
l:\r\n\
\x20\t4\r\n\
\r\n\
bodyNEXT";
    let n = msg.len() - "NEXT".len();
    assert_eq!(next_frame(msg, &Limits::default()), Ok(Frame::Message(n)));
    let parsed = parse_slice(&msg[..n], &Limits::default()).expect("parses");
    assert_eq!(&parsed.body()[..], b"body");
    assert_eq!(parse_slice(msg, &Limits::default()), Ok(parsed));
}

/// A continuation line of another header is part of that header's value, not a header of its own: the
/// framer used to take ` l: 99` inside a folded Subject for a second, conflicting Content-Length.
#[test]
fn framing_ignores_continuation_lines_of_other_headers() {
    let msg: &[u8] = b"OPTIONS sip:pbx.example.org SIP/2.0\r\n\
Subject: monthly totals\r\n\
\x20l: 99\r\n\
Content-Length: 0\r\n\
\r\n";
    assert_eq!(
        next_frame(msg, &Limits::default()),
        Ok(Frame::Message(msg.len()))
    );
    let parsed = parse_slice(msg, &Limits::default()).expect("parses");
    assert_eq!(
        parsed.headers().get(&HeaderName::Subject),
        Some(&b"monthly totals l: 99"[..])
    );
    assert!(parsed.body().is_empty());
}
