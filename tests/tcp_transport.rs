//! The TCP side of the transport shell over a real socket: RFC 5626 CRLF keep-alives are answered, a
//! message that arrives a few bytes at a time is framed once complete, and two messages in one segment are
//! both answered. (SIPp and baresip send whole messages; this is the part they cannot exercise.)

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, ServerOptions};

fn options(n: u32) -> String {
    format!(
        "OPTIONS sip:switchboard SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKtcp{n}\r\n\
         From: <sip:probe@127.0.0.1>;tag=t{n}\r\nTo: <sip:switchboard>\r\nCall-ID: tcp-{n}\r\n\
         CSeq: {n} OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )
}

fn read_until(stream: &mut TcpStream, needle: &str, count: usize) -> String {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got).matches(needle).count() < count {
        let n = stream
            .read(&mut buf)
            .expect("read (timeout means no answer)");
        assert!(n > 0, "server closed the connection");
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn keepalive_trickle_and_pipelining_over_tcp() {
    let server = Server::start(ServerOptions::default());
    let mut s = TcpStream::connect(server.sip).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.set_nodelay(true).expect("nodelay");

    s.write_all(b"\r\n\r\n").expect("ping");
    let mut pong = [0u8; 2];
    s.read_exact(&mut pong).expect("pong");
    assert_eq!(&pong, b"\r\n");

    for chunk in options(1).as_bytes().chunks(3) {
        s.write_all(chunk).expect("trickle");
        std::thread::sleep(Duration::from_millis(1));
    }
    let answer = read_until(&mut s, "\r\n\r\n", 1);
    assert!(answer.starts_with("SIP/2.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("Call-ID: tcp-1"), "{answer}");

    s.write_all(format!("{}{}", options(2), options(3)).as_bytes())
        .expect("two at once");
    let answers = read_until(&mut s, "SIP/2.0 200 OK", 2);
    assert!(
        answers.contains("Call-ID: tcp-2") && answers.contains("Call-ID: tcp-3"),
        "{answers}"
    );
}
