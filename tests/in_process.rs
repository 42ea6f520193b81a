//! A whole node in this test's process through `switchboard::serve::run`: bound on ports the test
//! chose, answering SIP and HTTP, and stopped by the test's own shutdown future (the binary's is
//! SIGINT/SIGTERM), after which every socket is free again.

mod common;

use std::net::UdpSocket;
use std::time::Duration;

use switchboard::config::Config;
use switchboard::serve::{run, Bound, ServeOptions};
use switchboard_schema::Db;

#[test]
fn a_node_runs_in_process_and_stops_when_told() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("switchboard.toml");
    std::fs::write(
        &config,
        "[sip]\nlisten = \"127.0.0.1:0\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .expect("config");
    let cfg = Config::load(Some(&config)).expect("config loads");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let db = runtime
        .block_on(Db::connect(&cfg.database.url))
        .expect("database");
    let bound = runtime.block_on(Bound::bind(&cfg)).expect("bind");
    let (sip, http) = (bound.sip_addr, bound.http_addr);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let options = ServeOptions {
        demo: true,
        demo_open: true,
        ready_file: None,
    };
    let node = runtime.spawn(run(bound, db, cfg, options, async {
        let _ = stopped.await;
    }));

    // HTTP: healthy once the SIP node and call control answer.
    common::wait_until("a healthy node", Duration::from_secs(10), || {
        common::http_get(http, "/healthz").0 == 200
    });
    // SIP: an OPTIONS over UDP is answered 200 by the node's endpoint.
    let phone = UdpSocket::bind("127.0.0.1:0").expect("phone socket");
    phone
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let me = phone.local_addr().expect("addr");
    let options = format!(
        "OPTIONS sip:{sip} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-in-process-1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{me}>;tag=1\r\nTo: <sip:{sip}>\r\n\
         Call-ID: in-process-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    );
    phone.send_to(options.as_bytes(), sip).expect("send");
    let mut buf = [0u8; 4096];
    let (n, from) = phone.recv_from(&mut buf).expect("an answer");
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert_eq!(from, sip);
    assert!(answer.starts_with("SIP/2.0 200 "), "{answer}");
    // The node counts what it was sent.
    let (_, metrics) = common::http_get(http, "/metrics");
    assert!(
        metrics.contains("switchboard_sip_requests_total 1"),
        "{metrics}"
    );

    // Told to stop, the node stops on its own, cleanly, and lets go of its sockets.
    stop.send(()).expect("the node listens for its shutdown");
    let result = runtime
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), node).await })
        .expect("the node stops within 20 s")
        .expect("the node's task ends without a panic");
    assert!(result.is_ok(), "{result:?}");
    UdpSocket::bind(sip).expect("the SIP port is free again");
    std::net::TcpListener::bind(http).expect("the HTTP port is free again");
}
