//! Answering what does not parse. RFC 4475 expects `400` for malformed requests, so the few headers a
//! response needs (Via, From, To, Call-ID, CSeq) are lifted from the raw lines, without trusting their syntax.

use std::net::SocketAddr;

use bytes::Bytes;

/// A minimal `400 Bad Request` for a datagram that failed to parse, and the port it should go to, or
/// `None` if it is a response (never answered) or lacks a Via.
pub fn bad_request_reply(
    data: &[u8],
    source: SocketAddr,
    reason: &str,
) -> Option<(Bytes, SocketAddr)> {
    let text = data.get(..data.len().min(16 * 1024))?;
    if text.starts_with(b"SIP/") {
        return None;
    }
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"SIP/2.0 400 ");
    out.extend_from_slice(reason.replace(['\r', '\n'], " ").as_bytes());
    out.extend_from_slice(b"\r\n");
    let mut via_port = None;
    let mut rport = false;
    let mut have_via = false;
    for line in text.split(|&b| b == b'\n').skip(1).take(200) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            break;
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        let value = line[colon + 1..].trim_ascii();
        let canonical = match name.to_ascii_lowercase().as_slice() {
            b"via" | b"v" => "Via",
            b"from" | b"f" => "From",
            b"to" | b"t" => "To",
            b"call-id" | b"i" => "Call-ID",
            b"cseq" => "CSeq",
            _ => continue,
        };
        if canonical == "Via" && !have_via {
            have_via = true;
            let first = value.split(|&b| b == b',').next().unwrap_or(&[]);
            rport = first
                .split(|&b| b == b';')
                .skip(1)
                .any(|p| p.trim_ascii().eq_ignore_ascii_case(b"rport"));
            let sent_by = first.split(|&b| b == b';').next().unwrap_or(&[]);
            via_port = sent_by
                .rsplit(|&b| b == b':')
                .next()
                .filter(|_| sent_by.iter().filter(|&&b| b == b':').count() == 1)
                .and_then(|p| std::str::from_utf8(p.trim_ascii()).ok())
                .and_then(|p| p.parse::<u16>().ok());
        }
        out.extend_from_slice(canonical.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    if !have_via {
        return None;
    }
    out.extend_from_slice(b"Content-Length: 0\r\n\r\n");
    let port = if rport {
        source.port()
    } else {
        via_port.unwrap_or(5060)
    };
    Some((Bytes::from(out), SocketAddr::new(source.ip(), port)))
}
