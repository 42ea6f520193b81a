//! Switchboard's node as a library: the binary (`src/main.rs`) parses the command line and owns the
//! process's signals; [`serve::run`] wires database, SIP core, call control, media and HTTP
//! together on listeners it is given, until a shutdown future completes, so a test can run a
//! whole node in-process.

pub mod calls;
pub mod config;
pub mod demo;
mod persist;
pub mod push;
pub mod serve;

use std::net::SocketAddr;

/// Errors that end the process with a message.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] config::ConfigError),
    #[error("database: {0}")]
    Schema(#[from] switchboard_schema::SchemaError),
    #[error("SIP transport: {0}")]
    Transport(#[from] sip_transport::TransportError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    Usage(String),
    #[error("media relay: {0}")]
    Media(std::io::Error),
    #[error(transparent)]
    Push(#[from] push::PushError),
}
