//! Finding message boundaries in a byte stream (TCP, TLS): RFC 3261 §18.3 requires Content-Length there.

use crate::error::ParseError;
use crate::limits::Limits;
use crate::message::find_header_end;
use crate::scan::trim_wsp;

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
    for line in head.split(|&b| b == b'\n') {
        let Some(colon) = memchr::memchr(b':', line) else { continue };
        let name = trim_wsp(&line[..colon]);
        if name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l") {
            let value = line[colon + 1..].strip_suffix(b"\r").unwrap_or(&line[colon + 1..]);
            let n = crate::typed::parse_number(value, "Content-Length", limits.max_message_bytes as u64)?;
            if length.is_some_and(|l| l != n) {
                return Err(ParseError::Header {
                    header: "Content-Length",
                    reason: "conflicting values",
                });
            }
            length = Some(n);
        }
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
