//! What the API asks of the SIP node: its own request type, which the binary carries to the SIP
//! transport, so this crate knows the SIP core's data types but not the transport.

use sip_core::auth::UserSecrets;
use sip_core::trunk::TrunkStatus;
use sip_core::{Binding, NodeSnapshot};
use tokio::sync::oneshot;

/// One request to the SIP node.
pub enum SipRequest {
    /// Install or replace a user's digest secrets.
    SetUser {
        username: String,
        secrets: UserSecrets,
    },
    /// Remove a user and its registrations.
    RemoveUser { username: String },
    /// Counters and live counts, for `/metrics`.
    Snapshot(oneshot::Sender<NodeSnapshot>),
    /// The live bindings of one AOR (all when `None`).
    Bindings {
        aor: Option<String>,
        reply: oneshot::Sender<Vec<Binding>>,
    },
    /// Registration, probe and call-count state of every trunk.
    TrunkStatus(oneshot::Sender<Vec<TrunkStatus>>),
    /// Sources banned now.
    Bans(oneshot::Sender<Vec<sip_core::shield::Ban>>),
    /// Lift the bans on an address; whether there was one.
    LiftBan {
        ip: std::net::IpAddr,
        reply: oneshot::Sender<bool>,
    },
}
