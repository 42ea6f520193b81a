//! A minimal client of rtpengine's ng control protocol (bencoded dictionaries over UDP, each message
//! prefixed by a cookie), enough to set up and delete relayed calls for a side-by-side benchmark.

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bencode {
    Bytes(Vec<u8>),
    Int(i64),
    List(Vec<Bencode>),
    Dict(BTreeMap<Vec<u8>, Bencode>),
}

impl Bencode {
    pub fn str(s: &str) -> Bencode {
        Bencode::Bytes(s.as_bytes().to_vec())
    }

    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Bencode::Bytes(b) => {
                out.extend_from_slice(b.len().to_string().as_bytes());
                out.push(b':');
                out.extend_from_slice(b);
            }
            Bencode::Int(i) => {
                out.push(b'i');
                out.extend_from_slice(i.to_string().as_bytes());
                out.push(b'e');
            }
            Bencode::List(l) => {
                out.push(b'l');
                for v in l {
                    v.encode(out);
                }
                out.push(b'e');
            }
            Bencode::Dict(d) => {
                out.push(b'd');
                for (k, v) in d {
                    Bencode::Bytes(k.clone()).encode(out);
                    v.encode(out);
                }
                out.push(b'e');
            }
        }
    }

    /// Decodes one value from the front of `input`; returns it and the rest.
    pub fn decode(input: &[u8]) -> Option<(Bencode, &[u8])> {
        Self::decode_depth(input, 0)
    }

    fn decode_depth(input: &[u8], depth: usize) -> Option<(Bencode, &[u8])> {
        if depth > 32 {
            return None;
        }
        match *input.first()? {
            b'i' => {
                let end = input.iter().position(|&b| b == b'e')?;
                let n = std::str::from_utf8(input.get(1..end)?).ok()?.parse().ok()?;
                Some((Bencode::Int(n), input.get(end + 1..)?))
            }
            b'l' => {
                let mut rest = input.get(1..)?;
                let mut items = Vec::new();
                while *rest.first()? != b'e' {
                    let (v, r) = Self::decode_depth(rest, depth + 1)?;
                    items.push(v);
                    rest = r;
                }
                Some((Bencode::List(items), rest.get(1..)?))
            }
            b'd' => {
                let mut rest = input.get(1..)?;
                let mut map = BTreeMap::new();
                while *rest.first()? != b'e' {
                    let (Bencode::Bytes(k), r) = Self::decode_depth(rest, depth + 1)? else {
                        return None;
                    };
                    let (v, r) = Self::decode_depth(r, depth + 1)?;
                    map.insert(k, v);
                    rest = r;
                }
                Some((Bencode::Dict(map), rest.get(1..)?))
            }
            b'0'..=b'9' => {
                let colon = input.iter().position(|&b| b == b':')?;
                let len: usize = std::str::from_utf8(input.get(..colon)?)
                    .ok()?
                    .parse()
                    .ok()?;
                let body = input.get(colon + 1..colon + 1 + len)?;
                Some((Bencode::Bytes(body.to_vec()), input.get(colon + 1 + len..)?))
            }
            _ => None,
        }
    }

    pub fn get(&self, key: &str) -> Option<&Bencode> {
        match self {
            Bencode::Dict(d) => d.get(key.as_bytes()),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Bencode::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
}

pub struct NgClient {
    socket: UdpSocket,
    server: SocketAddr,
    cookie: u64,
}

impl NgClient {
    pub fn new(server: SocketAddr) -> std::io::Result<NgClient> {
        let socket = UdpSocket::bind("127.0.0.1:0")?;
        socket.set_read_timeout(Some(Duration::from_secs(2)))?;
        Ok(NgClient {
            socket,
            server,
            cookie: 0,
        })
    }

    /// Sends a command dictionary and returns the reply dictionary (an error if rtpengine refused).
    pub fn call(&mut self, pairs: &[(&str, Bencode)]) -> Result<Bencode, String> {
        self.cookie += 1;
        let cookie = format!("c{}", self.cookie);
        let dict = Bencode::Dict(
            pairs
                .iter()
                .map(|(k, v)| (k.as_bytes().to_vec(), v.clone()))
                .collect(),
        );
        let mut msg = format!("{cookie} ").into_bytes();
        dict.encode(&mut msg);
        let mut buf = vec![0u8; 65536];
        for _attempt in 0..3 {
            self.socket
                .send_to(&msg, self.server)
                .map_err(|e| e.to_string())?;
            while let Ok(n) = self.socket.recv(&mut buf) {
                let reply = &buf[..n];
                let Some(space) = reply.iter().position(|&b| b == b' ') else {
                    continue;
                };
                if &reply[..space] != cookie.as_bytes() {
                    continue;
                }
                let (value, _) = Bencode::decode(&reply[space + 1..]).ok_or("bad bencode reply")?;
                return match value.get("result").and_then(Bencode::as_str) {
                    Some("ok") => Ok(value),
                    _ => Err(format!(
                        "rtpengine refused: {:?}",
                        value.get("error-reason").and_then(Bencode::as_str)
                    )),
                };
            }
        }
        Err("no reply from rtpengine".into())
    }
}

/// The audio port of the first m= line of an SDP.
pub fn sdp_audio_port(sdp: &str) -> Option<u16> {
    sdp.lines()
        .find_map(|l| l.strip_prefix("m=audio "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|p| p.parse().ok())
}

/// The payload type an SDP maps to `encoding` (case-insensitive), from its rtpmap lines.
pub fn sdp_payload_type(sdp: &str, encoding: &str) -> Option<u8> {
    sdp.lines().find_map(|l| {
        let rest = l.strip_prefix("a=rtpmap:")?;
        let (pt, map) = rest.split_once(' ')?;
        let name = map.split('/').next()?;
        name.eq_ignore_ascii_case(encoding)
            .then(|| pt.trim().parse().ok())
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bencode_round_trip() {
        let v = Bencode::Dict(
            [
                (b"command".to_vec(), Bencode::str("offer")),
                (b"n".to_vec(), Bencode::Int(-3)),
                (
                    b"flags".to_vec(),
                    Bencode::List(vec![Bencode::str("trust-address")]),
                ),
            ]
            .into_iter()
            .collect(),
        );
        let mut out = Vec::new();
        v.encode(&mut out);
        assert_eq!(
            out,
            b"d7:command5:offer5:flagsl13:trust-addresse1:ni-3ee".to_vec()
        );
        assert_eq!(Bencode::decode(&out), Some((v, &b""[..])));
        assert_eq!(Bencode::decode(b"d3:key"), None);
        assert_eq!(Bencode::decode(b"99999999999:x"), None);
    }

    #[test]
    fn finds_the_audio_port() {
        let sdp = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 30010 RTP/AVP 0\r\n";
        assert_eq!(sdp_audio_port(sdp), Some(30010));
    }
}
