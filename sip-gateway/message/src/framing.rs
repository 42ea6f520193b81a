//! Finding message boundaries in a byte stream (TCP, TLS): RFC 3261 §18.3 requires Content-Length there.

use std::borrow::Cow;

use crate::error::ParseError;
use crate::limits::Limits;
use crate::message::find_header_end;
use crate::scan::{is_wsp, trim_wsp};

/// What the front of a stream buffer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame {
    /// Not enough bytes yet.
    NeedMore,
    /// RFC 5626 keep-alive: a double CRLF ping (answer with a single CRLF pong) of this many bytes.
    Ping(usize),
    /// A lone CRLF (a pong, or stray line ending) of this many bytes: skip it.
    Skip(usize),
    /// A whole message of this many bytes is at the front.
    Message(usize),
}

/// Whether the header section of the message at the front of `buf` ends somewhere at or after `from`
/// (a byte offset already known to hold no end). Lets a stream reader that receives a message in small
/// pieces look only at the new bytes instead of rescanning the buffer on every read.
pub fn header_end_after(buf: &[u8], from: usize) -> bool {
    let start = from.saturating_sub(3).min(buf.len());
    find_header_end(&buf[start..]).is_some()
}

/// Looks at the front of `buf` and says how much of it forms the next frame.
pub fn next_frame(buf: &[u8], limits: &Limits) -> Result<Frame, ParseError> {
    if buf.starts_with(b"\r\n\r\n") {
        return Ok(Frame::Ping(4));
    }
    if buf.starts_with(b"\r\n") {
        // Could be the start of a ping still arriving.
        return Ok(if buf.len() < 4 && b"\r\n\r\n".starts_with(buf) {
            Frame::NeedMore
        } else {
            Frame::Skip(2)
        });
    }
    if buf.first() == Some(&b'\n') {
        return Ok(Frame::Skip(1));
    }
    let head_end = match find_header_end(buf) {
        Some(e) => e,
        None if buf.len() > limits.max_message_bytes => {
            return Err(ParseError::TooLarge(limits.max_message_bytes))
        }
        None => return Ok(Frame::NeedMore),
    };
    let head = &buf[..head_end];
    let mut length = None;
    // Header lines as `parse` reads them: the start line holds none, and a line starting with SP/HTAB
    // continues the header above it (a folded value, e.g. `Content-Length:` CRLF SP `150`).
    let mut lines = head.split(|&b| b == b'\n').skip(1).peekable();
    while let Some(line) = lines.next() {
        let line = strip_cr(line);
        let length_colon = memchr::memchr(b':', line).filter(|&colon| {
            let name = trim_wsp(&line[..colon]);
            name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")
        });
        let mut value = Cow::Borrowed(length_colon.map_or(&[][..], |colon| &line[colon + 1..]));
        while let Some(more) = lines.next_if(|l| l.first().copied().is_some_and(is_wsp)) {
            if length_colon.is_some() {
                let v = value.to_mut();
                v.push(b' ');
                v.extend_from_slice(strip_cr(more));
            }
        }
        if length_colon.is_none() {
            continue;
        }
        let n =
            crate::typed::parse_number(&value, "Content-Length", limits.max_message_bytes as u64)?;
        if length.is_some_and(|l| l != n) {
            return Err(ParseError::Header {
                header: "Content-Length",
                reason: "conflicting values",
            });
        }
        length = Some(n);
    }
    let length = length.ok_or(ParseError::MissingContentLength)? as usize;
    let total = head_end + length;
    if total > limits.max_message_bytes {
        return Err(ParseError::TooLarge(limits.max_message_bytes));
    }
    Ok(if buf.len() >= total {
        Frame::Message(total)
    } else {
        Frame::NeedMore
    })
}

fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

#[cfg(test)]
mod tests {
    use super::header_end_after;

    #[test]
    fn resumed_search_finds_an_end_that_straddles_the_resume_point() {
        let msg = b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n\r\n";
        // Every split point: the part before held no end, the whole does.
        for cut in 0..msg.len() {
            assert!(header_end_after(msg, cut), "cut at {cut}");
        }
        assert!(!header_end_after(b"OPTIONS sip:a SIP/2.0\r\nl: 0\r\n", 0));
        assert!(header_end_after(b"A\n\n", 2), "bare LF");
        assert!(!header_end_after(b"", 10), "resume point past the end");
    }
}
