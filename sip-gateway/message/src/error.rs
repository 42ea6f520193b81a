use thiserror::Error;

/// Why a byte sequence is not a SIP message we accept.
///
/// Every parser entry point returns this instead of panicking; the variants are coarse on purpose: a server
/// answers them all with `400 Bad Request` (or drops the datagram), and logs the text.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The input ended before the blank line that closes the header section.
    #[error("incomplete message: no end of headers")]
    Incomplete,
    /// The message is larger than [`crate::Limits::max_message_bytes`].
    #[error("message larger than {0} bytes")]
    TooLarge(usize),
    /// More header lines than [`crate::Limits::max_headers`].
    #[error("more than {0} header fields")]
    TooManyHeaders(usize),
    /// A single (unfolded) header line is longer than [`crate::Limits::max_line_bytes`].
    #[error("header line longer than {0} bytes")]
    LineTooLong(usize),
    /// The request line or status line does not follow the grammar.
    #[error("malformed start line: {0}")]
    StartLine(&'static str),
    /// A header line has no colon or an invalid name.
    #[error("malformed header name")]
    HeaderName,
    /// A header we must understand has a value outside its grammar or range.
    #[error("malformed {header} header: {reason}")]
    Header {
        header: &'static str,
        reason: &'static str,
    },
    /// A URI does not follow its grammar.
    #[error("malformed URI: {0}")]
    Uri(&'static str),
    /// Content-Length promises more body than the datagram or frame carries.
    #[error("Content-Length {declared} exceeds the {available} bytes of body present")]
    BodyTooShort { declared: usize, available: usize },
    /// A stream (TCP/TLS) message without Content-Length cannot be framed.
    #[error("stream message without Content-Length")]
    MissingContentLength,
}
