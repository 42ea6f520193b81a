//! Packet captures with tcpdump (Debian `tcpdump`), read back as UDP datagrams: what really crossed
//! the wire, for tests that must show media is encrypted. Runs inside a test's private namespace.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::baresip::KillOnDrop;
use super::wait_until;

pub struct Capture {
    child: KillOnDrop,
    file: PathBuf,
}

/// One captured IPv4 UDP datagram.
#[derive(Debug, Clone)]
pub struct Datagram {
    pub src_port: u16,
    pub dst_port: u16,
    pub payload: Vec<u8>,
}

impl Capture {
    /// Captures UDP on `interface` matching `filter` (a pcap expression) into `dir`, and waits until
    /// tcpdump has opened its file (it writes the pcap header once capturing).
    pub fn start(dir: &Path, interface: &str, filter: &str) -> Capture {
        let file = dir.join("capture.pcap");
        let child = Command::new("tcpdump")
            .args(["-i", interface, "-U", "-n", "-s", "2048", "-w"])
            .arg(&file)
            .arg(filter)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tcpdump runs (apt-get install tcpdump)");
        wait_until("tcpdump capturing", Duration::from_secs(10), || {
            std::fs::metadata(&file).is_ok_and(|m| m.len() >= 24)
        });
        Capture {
            child: KillOnDrop(child),
            file,
        }
    }

    /// Stops the capture (SIGINT: tcpdump writes out what it holds) and reads its datagrams.
    pub fn finish(mut self) -> Vec<Datagram> {
        let pid = self.child.0.id().to_string();
        let _ = Command::new("kill").args(["-INT", &pid]).status();
        let _ = self.child.0.wait();
        let bytes = std::fs::read(&self.file).expect("capture file");
        parse_pcap(&bytes)
    }
}

/// Reads a classic pcap file (microsecond or nanosecond, native little-endian as tcpdump writes it
/// here) of Ethernet (loopback on Linux) or raw IP frames; keeps IPv4 UDP.
fn parse_pcap(bytes: &[u8]) -> Vec<Datagram> {
    let u32le = |at: usize| -> Option<u32> {
        Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let Some(linktype) = u32le(20) else {
        return Vec::new();
    };
    let link_header = match linktype {
        1 => 14,   // Ethernet
        101 => 0,  // raw IP
        113 => 16, // Linux cooked
        _ => return Vec::new(),
    };
    let mut out = Vec::new();
    let mut at = 24;
    while let (Some(caplen), true) = (u32le(at + 8), at + 16 <= bytes.len()) {
        let start = at + 16;
        let end = start + caplen as usize;
        let Some(frame) = bytes.get(start..end) else {
            break;
        };
        if let Some(d) = udp_of(frame.get(link_header..).unwrap_or(&[])) {
            out.push(d);
        }
        at = end;
    }
    out
}

fn udp_of(ip: &[u8]) -> Option<Datagram> {
    let first = *ip.first()?;
    if first >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(first & 0x0f) * 4;
    let udp = ip.get(ihl..)?;
    let port = |at: usize| Some(u16::from_be_bytes([*udp.get(at)?, *udp.get(at + 1)?]));
    let len = usize::from(port(4)?);
    Some(Datagram {
        src_port: port(0)?,
        dst_port: port(2)?,
        payload: udp.get(8..len.max(8).min(udp.len()))?.to_vec(),
    })
}
