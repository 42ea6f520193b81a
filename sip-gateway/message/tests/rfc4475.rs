//! Holds the parser to the `parser` column of the RFC 4475 manifest, byte for byte.

use sip_message::{parse_slice, Limits, Message};

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/rfc4475")
}

fn manifest() -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(corpus_dir().join("MANIFEST.tsv")).expect("MANIFEST.tsv readable");
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            (cols[0].to_string(), cols[3].to_string())
        })
        .collect()
}

#[test]
fn corpus_matches_manifest_parser_column() {
    let entries = manifest();
    assert_eq!(entries.len(), 49, "the corpus has 49 messages");
    let mut failures = Vec::new();
    for (file, expect) in &entries {
        let bytes = std::fs::read(corpus_dir().join(file)).expect("corpus file readable");
        let result = parse_slice(&bytes, &Limits::default());
        let ok = match expect.as_str() {
            "accept" => result.is_ok(),
            "reject" => result.is_err(),
            "either" => true,
            other => panic!("unknown expectation {other}"),
        };
        if !ok {
            failures.push(format!("{file}: expected {expect}, got {result:?}"));
        }
        // Whatever was accepted must print to something that parses to the same message.
        if let Ok(msg) = result {
            let printed = msg.to_bytes();
            let again = parse_slice(&printed, &Limits::default())
                .unwrap_or_else(|e| panic!("{file}: reprinted message fails to parse: {e}"));
            assert_eq!(msg, again, "{file}: round trip changed the message");
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn accepted_messages_keep_their_meaning() {
    let read = |f: &str| std::fs::read(corpus_dir().join(f)).expect("corpus file");
    use sip_message::{Contacts, SipHeaders};
    // wsinv: folded lines, compact forms, odd spacing.
    let Message::Request(r) =
        parse_slice(&read("wsinv.dat"), &Limits::default()).expect("wsinv parses")
    else {
        panic!("wsinv is a request")
    };
    assert_eq!(r.call_id(), Some("wsinv.ndaksdj@192.0.2.1"));
    assert_eq!(r.cseq().map(|c| c.seq), Some(9));
    assert_eq!(r.max_forwards(), Some(68));
    assert_eq!(
        r.to().and_then(|t| t.tag().map(str::to_string)).as_deref(),
        Some("1918181833n")
    );
    assert_eq!(
        r.from()
            .and_then(|t| t.tag().map(str::to_string))
            .as_deref(),
        Some("98asjd8")
    );
    let vias: Vec<_> = r
        .headers
        .get_all(&sip_message::HeaderName::Via)
        .flat_map(|v| sip_message::Via::parse_list(v).expect("via"))
        .collect();
    assert_eq!(vias.len(), 3);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let Contacts::List(c) = r.contacts().expect("contacts") else {
        panic!("list")
    };
    assert_eq!(c[0].params.get_value("q"), Some("0.33"));
    assert_eq!(r.body.len(), 150);
    // dblreq: only Content-Length bytes form the body.
    let Message::Request(r) = parse_slice(&read("dblreq.dat"), &Limits::default()).expect("dblreq")
    else {
        panic!()
    };
    assert_eq!(r.method, sip_message::Method::Register);
    // escnull: escaped NULs survive and decode.
    let Message::Request(r) =
        parse_slice(&read("escnull.dat"), &Limits::default()).expect("escnull")
    else {
        panic!()
    };
    let Contacts::List(c) = r.contacts().expect("contacts") else {
        panic!()
    };
    assert_eq!(c.len(), 2);
    assert_eq!(
        c[1].uri.as_sip().and_then(|u| u.user_unescaped()),
        Some(vec![0, 0])
    );
    // intmeth: the extension header with non-ASCII bytes is kept verbatim.
    let Message::Request(r) =
        parse_slice(&read("intmeth.dat"), &Limits::default()).expect("intmeth")
    else {
        panic!()
    };
    assert_eq!(
        r.method.as_str(),
        "!interesting-Method0123456789_*+`.%indeed'~"
    );
    assert!(r
        .headers
        .iter()
        .any(|(name, _)| name.as_str() == "extensionHeader-!.%*+_`'~"));
}
