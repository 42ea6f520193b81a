//! Routing decisions for Switchboard: the number plan, opening hours, hunt groups and ACD queues.
//!
//! Routing stays free of SIP and IO: call control asks it for decisions and carries them out. ACD
//! queues (issue "The citizen's path") are not built yet.
//!
//! - [`schedule`]: opening hours in Europe/Oslo time, Norwegian public holidays and the receptionist's
//!   emergency override.
//! - [`numbers`]: E.164 numbers, classifying what staff dial (Nkom's plan as a table), outbound
//!   permissions, caller-ID choice and the inbound number table.
//! - [`hunt`]: hunt groups (ring all, sequential, round robin, longest idle) as a sans-IO state machine per
//!   call, with cellular legs and press-1 confirmation.

mod error;
pub use error::RoutingError;

pub mod hunt;
pub mod menu;
pub mod numbers;
pub mod queue;
pub mod schedule;
