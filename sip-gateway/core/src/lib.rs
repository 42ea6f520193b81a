//! The sans-IO SIP core of Switchboard.
//!
//! # Model
//! Everything here is a state machine driven from outside, in the style of quinn-proto: inputs arrive
//! through `handle_*` methods together with the current [`std::time::Instant`]; outputs leave through
//! `poll_transmit`, `poll_timeout` and change queues. No socket, clock, task or sleep lives in this crate, so
//! a test can run a registration with retransmissions and expiries in microseconds of real time.
//!
//! - [`transaction`]: RFC 3261 §17 client and server transactions with timers A–K (and L, RFC 6026).
//! - [`registrar`]: REGISTER handling with digest authentication ([`auth`]) and brute-force protection
//!   ([`guard`]), over a [`location::LocationStore`]; it also decides who sent a call, a transfer or a
//!   stray in-dialog request from a phone (`Registrar::authorize_request`: 407 challenge, a connection
//!   the phone registered over, or an SBC in `trusted_sources`) — a UDP source address proves nothing.
//! - [`endpoint`]: the whole UAS: parsing, Via stamping (received/rport), the §8.2 checks ([`validate`]),
//!   answering what does not parse ([`salvage`]), method dispatch.
//!
//! Randomness (To tags) comes from a seeded generator in [`endpoint::EndpointConfig`] so runs replay.

pub mod auth;
pub mod b2bua;
pub mod endpoint;
pub mod guard;
pub mod location;
pub mod push;
pub mod registrar;
pub mod salvage;
pub mod shield;
pub mod transaction;
pub mod transport;
pub mod trunk;
pub mod validate;

pub use endpoint::{Endpoint, EndpointConfig, EndpointStats, NodeSnapshot};
pub use location::{Binding, BindingChange, LocationStore, MemoryLocation};
pub use registrar::{Registrar, RegistrarConfig};
pub use transport::{ConnectionId, Peer, Transmit, TransportKind};
