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
