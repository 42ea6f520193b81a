//! The source shield against a running node: a SIP scanner (SIPp sending what sipvicious sends,
//! `User-Agent: friendly-scanner`) is banned on its first request and gets no answer, nor does
//! anything else from its address; the ban is listed and counted, and an admin lifts it through the
//! API. A source flooding OPTIONS past its rate has the excess dropped unread and is banned, while
//! other addresses are served. Sources on other loopback addresses (127.0.0.2…) stand for strangers:
//! 127.0.0.1 is the demo trunk's address, which is never limited.

mod common;

use common::{http_request, metric, sipp, Server, ServerOptions};
use serde_json::Value;

fn bans(server: &Server) -> Vec<Value> {
    let (status, body) = server.get("/api/v1/bans");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body)
        .expect("bans JSON")
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// One OPTIONS from `source`; whether it was answered (SIPp waits 2 s for the 200).
fn options_answered(server: &Server, scenario: &str, source: &str) -> bool {
    sipp(
        &server.dir,
        scenario,
        server.sip,
        &["-m", "1", "-i", source, "-recv_timeout", "2000"],
    )
    .status
    .success()
}

#[test]
fn a_scanner_is_banned_unanswered_listed_and_lifted_by_an_admin() {
    let server = Server::start(ServerOptions::default());
    assert!(
        !options_answered(&server, "scanner_options.xml", "127.0.0.2"),
        "a scanner gets no answer"
    );
    let listed = bans(&server);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["ip"], "127.0.0.2");
    assert_eq!(listed[0]["reason"], "scanner");
    assert_eq!(
        metric(&server, "switchboard_sip_scanners_banned_total"),
        1.0
    );

    // Anything else from there is dropped unread; other addresses are served.
    assert!(!options_answered(&server, "options.xml", "127.0.0.2"));
    assert!(bans(&server)[0]["dropped"].as_u64().is_some_and(|d| d >= 1));
    assert!(metric(&server, "switchboard_sip_dropped_banned_total") >= 1.0);
    assert!(options_answered(&server, "options.xml", "127.0.0.5"));

    let (status, body) = http_request(server.http, "DELETE", "/api/v1/bans/127.0.0.2", None);
    assert_eq!(status, 204, "{body}");
    let (status, _) = http_request(server.http, "DELETE", "/api/v1/bans/127.0.0.2", None);
    assert_eq!(status, 404, "no ban left to lift");
    let (status, body) = http_request(server.http, "DELETE", "/api/v1/bans/not-an-ip", None);
    assert_eq!(status, 400, "{body}");
    assert!(bans(&server).is_empty());
    assert!(
        options_answered(&server, "options.xml", "127.0.0.2"),
        "served again once lifted"
    );
}

#[test]
fn a_flooding_source_is_banned_and_other_sources_are_still_served() {
    let server = Server::start(ServerOptions {
        config_toml: Some(
            "[shield]\nrate_per_source = 20\nburst_per_source = 40\nflood_drops_per_sec = 100\n",
        ),
        ..Default::default()
    });
    // 2,000 OPTIONS at 2,000/s from one address: far past 20/s.
    let flood = sipp(
        &server.dir,
        "options.xml",
        server.sip,
        &[
            "-m",
            "2000",
            "-r",
            "2000",
            "-l",
            "2000",
            "-i",
            "127.0.0.3",
            "-recv_timeout",
            "1000",
        ],
    );
    assert!(!flood.status.success(), "most of the flood went unanswered");
    let listed = bans(&server);
    assert!(
        listed
            .iter()
            .any(|b| b["ip"] == "127.0.0.3" && b["reason"] == "flood"),
        "{listed:?}"
    );
    assert!(metric(&server, "switchboard_sip_dropped_rate_limited_total") >= 100.0);
    assert_eq!(metric(&server, "switchboard_sip_floods_banned_total"), 1.0);
    assert!(options_answered(&server, "options.xml", "127.0.0.6"));
}

/// A TCP connection to `server`'s SIP port from `source`.
fn connect_from(server: &Server, source: &str) -> std::net::TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stream = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{source}:0").parse().expect("addr"))
            .expect("bind");
        socket.connect(server.sip).await.expect("connect")
    });
    let stream = stream.into_std().expect("std stream");
    stream.set_nonblocking(false).expect("blocking");
    stream
}

/// Whether the node answers an OPTIONS on `stream` (its connection was kept).
fn answers_options(stream: &mut std::net::TcpStream) -> bool {
    use std::io::{Read, Write};
    let local = stream.local_addr().expect("local");
    let options = format!(
        "OPTIONS sip:switchboard SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bKc{port}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=p\r\nTo: <sip:switchboard>\r\n\
         Call-ID: conn-{port}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        port = local.port()
    );
    if stream.write_all(options.as_bytes()).is_err() {
        return false;
    }
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .expect("timeout");
    let mut buf = [0u8; 2048];
    matches!(stream.read(&mut buf), Ok(n) if n > 0 && buf.starts_with(b"SIP/2.0 200"))
}

#[test]
fn one_address_cannot_hold_more_than_its_share_of_connections() {
    let server = Server::start(ServerOptions {
        config_toml: Some("[shield]\nconnections_per_source = 5\n"),
        ..Default::default()
    });
    let mut held: Vec<std::net::TcpStream> =
        (0..8).map(|_| connect_from(&server, "127.0.0.2")).collect();
    common::wait_until(
        "three connections refused",
        std::time::Duration::from_secs(10),
        || {
            metric(
                &server,
                "switchboard_sip_connections_refused_per_source_total",
            ) >= 3.0
        },
    );
    let kept = held
        .iter_mut()
        .map(answers_options)
        .filter(|&ok| ok)
        .count();
    assert_eq!(kept, 5, "five connections served, the rest closed");
    assert_eq!(
        metric(
            &server,
            "switchboard_sip_connections_refused_per_source_total"
        ),
        3.0
    );
    // Another address is served; and the first gets a slot back when one of its connections ends.
    assert!(answers_options(&mut connect_from(&server, "127.0.0.3")));
    held.clear();
    common::wait_until(
        "a slot back for 127.0.0.2",
        std::time::Duration::from_secs(10),
        || answers_options(&mut connect_from(&server, "127.0.0.2")),
    );
}
