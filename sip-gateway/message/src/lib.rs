//! SIP messages for Switchboard: types, a parser and a printer (RFC 3261), with stream framing.
//!
//! # Model
//! [`parse`] turns one datagram (or one framed stream message, see [`framing`]) into a [`Message`]. It is
//! pure: bytes in, typed message or [`ParseError`] out — no IO, no clock, never a panic. Header values stay
//! as received (unfolded and trimmed) and are zero-copy slices of the input when they were not folded, so
//! parsing a REGISTER costs a handful of small allocations. Unknown headers are kept verbatim, including
//! bytes that are not UTF-8.
//!
//! # Why validate at parse time
//! The headers a SIP core acts on (Via, From, To, Contact, Call-ID, CSeq, Max-Forwards, Expires,
//! Content-Length) are checked against their grammar and numeric ranges while parsing. A message that parses
//! can therefore be trusted by the typed accessors of [`SipHeaders`], and a malformed one is answered with
//! `400` before any state is touched — the RFC 4475 torture messages hold the parser to this.
//!
//! # Bounds
//! [`Limits`] caps the message size, the number of headers and the length of a line; lists inside headers
//! (Via entries, Contacts, parameters) are capped too.

pub mod error;
pub mod framing;
pub mod header;
pub mod limits;
pub mod message;
pub mod method;
pub mod params;
mod scan;
pub mod typed;
pub mod uri;

pub use error::ParseError;
pub use header::{Header, HeaderName, HeaderValue, Headers};
pub use limits::Limits;
pub use message::{default_reason, parse, Message, Request, Response, SipHeaders, Version};
pub use method::Method;
pub use params::{Param, Params, ParamsRef};
pub use scan::unescape;
pub use typed::{AuthHeader, CSeq, Contacts, NameAddr, NameAddrRef, Via, ViaRef};
pub use uri::{Host, SipUri, SipUriRef, Uri, UriRef};

/// Parses from a borrowed slice (copies it once into a shared buffer).
pub fn parse_slice(buf: &[u8], limits: &Limits) -> Result<Message, ParseError> {
    parse(bytes::Bytes::copy_from_slice(buf), limits)
}
