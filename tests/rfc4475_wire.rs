//! Every RFC 4475 torture message goes over UDP to the running binary, and its answer is held to the
//! `server_reply` column of the manifest. The messages name hosts of the local LAN, so the server and the
//! sender run in a private network namespace with only loopback.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{in_private_netns, Server, ServerOptions};

fn corpus() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("sip-gateway/message/tests/rfc4475")
}

/// The Call-ID header value of a raw message (long or compact form), to match answers to requests:
/// retransmitted answers to earlier INVITEs (Timer G, nobody ACKs them here) keep arriving meanwhile.
fn call_id(raw: &[u8]) -> Option<String> {
    String::from_utf8_lossy(raw).lines().find_map(|l| {
        let (name, value) = l.split_once(':')?;
        let name = name.trim();
        (name.eq_ignore_ascii_case("call-id") || name.eq_ignore_ascii_case("i"))
            .then(|| value.trim().to_string())
    })
}

/// Waits for a datagram with `want` as Call-ID on any of `socks`; returns its first line.
fn receive(socks: &[&UdpSocket], want: &str, within: Duration) -> Option<String> {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 65536];
    while Instant::now() < deadline {
        for s in socks {
            if let Ok((n, _)) = s.recv_from(&mut buf) {
                if call_id(&buf[..n]).as_deref() == Some(want) {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    return Some(text.lines().next().unwrap_or("").to_string());
                }
            }
        }
    }
    None
}

fn status_of(line: &str) -> Option<u16> {
    line.strip_prefix("SIP/2.0 ")?.get(..3)?.parse().ok()
}

fn meets(expect: &str, reply: Option<u16>) -> bool {
    expect.split('|').any(|alt| match (alt, reply) {
        ("any", _) => true,
        ("drop", None) => true,
        ("drop", Some(_)) => false,
        (_, None) => false,
        ("not-400", Some(c)) => c != 400,
        (code, Some(c)) => code.parse::<u16>().ok() == Some(c),
    })
}

fn options_ping(sock: &UdpSocket, server: std::net::SocketAddr, n: usize) -> bool {
    let port = sock.local_addr().map(|a| a.port()).unwrap_or(0);
    let msg = format!(
        "OPTIONS sip:{server} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKalive{n};rport\r\n\
         From: <sip:alive@127.0.0.1>;tag=a{n}\r\nTo: <sip:{server}>\r\nCall-ID: alive-{n}\r\nCSeq: 1 OPTIONS\r\n\
         Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    );
    let _ = sock.send_to(msg.as_bytes(), server);
    receive(&[sock], &format!("alive-{n}"), Duration::from_secs(2)).and_then(|l| status_of(&l))
        == Some(200)
}

#[test]
fn rfc4475_server_replies_over_udp() {
    if !in_private_netns("rfc4475_server_replies_over_udp", "true") {
        return;
    }
    let server = Server::start(ServerOptions {
        sip: "127.0.0.1:5070",
        ..Default::default()
    });
    // Replies go to the Via port (5060 unless given; quotbal names 5050) at the received address.
    let s5060 = UdpSocket::bind("127.0.0.1:5060").expect("bind 5060");
    let s5050 = UdpSocket::bind("127.0.0.1:5050").expect("bind 5050");
    let alive = UdpSocket::bind("127.0.0.1:0").expect("bind");
    for s in [&s5060, &s5050, &alive] {
        s.set_read_timeout(Some(Duration::from_millis(20)))
            .expect("timeout");
    }
    let manifest = std::fs::read_to_string(corpus().join("MANIFEST.tsv")).expect("manifest");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in manifest
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let (file, expect) = (cols[0], cols[4]);
        let bytes = std::fs::read(corpus().join(file)).expect("corpus file");
        s5060.send_to(&bytes, server.sip).expect("send");
        // "drop" needs a quiet interval to be believed; answers come within milliseconds.
        let id = call_id(&bytes).unwrap_or_default();
        let reply = receive(&[&s5060, &s5050], &id, Duration::from_millis(400));
        let code = reply.as_deref().and_then(status_of);
        if !meets(expect, code) {
            failures.push(format!("{file}: expected {expect}, got {reply:?}"));
        }
        if !options_ping(&alive, server.sip, count) {
            failures.push(format!(
                "{file}: server stopped answering OPTIONS afterwards"
            ));
        }
        count += 1;
    }
    assert_eq!(count, 49);
    assert!(
        failures.is_empty(),
        "{}\n\nserver log:\n{}",
        failures.join("\n"),
        server.log_text()
    );
}
