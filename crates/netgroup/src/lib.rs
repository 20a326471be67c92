//! Sans-IO RTMFP Groups (Flash `NetGroup`) engine and rendezvous-server policy.
//!
//! Module map: [`id`] (peer IDs, group addresses, ring distance).
#![warn(missing_docs)]

pub mod id;

pub use id::{Distance, GroupAddress, IdParseError, PeerId};
