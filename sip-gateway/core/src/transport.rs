use std::fmt;
use std::net::SocketAddr;

use bytes::Bytes;

/// The transports a message can arrive or leave on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    Udp,
    Tcp,
    Tls,
    Ws,
    Wss,
}

impl TransportKind {
    /// Reliable transports need no retransmissions and no lingering Completed states (RFC 3261 §17).
    pub fn is_reliable(self) -> bool {
        !matches!(self, TransportKind::Udp)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
            TransportKind::Ws => "WS",
            TransportKind::Wss => "WSS",
        }
    }

    pub fn from_via(s: &str) -> Option<TransportKind> {
        Some(match s {
            s if s.eq_ignore_ascii_case("UDP") => TransportKind::Udp,
            s if s.eq_ignore_ascii_case("TCP") => TransportKind::Tcp,
            s if s.eq_ignore_ascii_case("TLS") => TransportKind::Tls,
            s if s.eq_ignore_ascii_case("WS") => TransportKind::Ws,
            s if s.eq_ignore_ascii_case("WSS") => TransportKind::Wss,
            _ => return None,
        })
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one stream connection in the transport shell, so a response can go back over it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConnectionId(pub u64);

/// The far end of a message: where it came from, or where to send it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Peer {
    pub transport: TransportKind,
    pub addr: SocketAddr,
    /// Set for stream transports: the connection the request arrived on.
    pub connection: Option<ConnectionId>,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}",
            self.transport.as_str().to_ascii_lowercase(),
            self.addr
        )
    }
}

/// Bytes the shell must send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    pub peer: Peer,
    pub payload: Bytes,
}
