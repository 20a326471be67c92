//! Sans-IO RTMFP session layer: RFC 7016 with Adobe's Flash profile (RFC 7425).
//!
//! An [`Endpoint`] owns one UDP socket's worth of sessions. It never reads a clock, draws OS
//! randomness or touches a socket: the driver (the tokio driver in `rtmfp-node`, or the
//! simulator) passes time and datagrams in and takes transmits, events and timers out:
//!
//! ```text
//! loop {
//!     endpoint.handle_datagram(now, from, &datagram);   // or handle_timeout(now)
//!     while let Some(t) = endpoint.poll_transmit() { socket.send_to(&t.payload, t.dst) }
//!     while let Some(e) = endpoint.poll_event() { application(e) }
//!     sleep_until(endpoint.poll_timeout());
//! }
//! ```
//!
//! Layout: [`wire`] (codecs), [`crypto`] (Flash and plain profiles), [`handshake`] (cookies,
//! opening sessions), `session` (open sessions), [`flow`] (send and receive flows),
//! [`congestion`] (RFC 7016 Appendix A), [`rtt`], [`endpoint`] and the rendezvous hooks.
#![warn(missing_docs)]

pub mod congestion;
pub mod crypto;
pub mod endpoint;
pub mod flow;
pub mod handshake;
pub mod id_hash;
mod machine;
pub mod queue;
mod rendezvous;
pub mod rtt;
mod scratch;
mod session;
pub mod sorted_map;
pub mod time;
mod types;
pub mod wire;

pub use crypto::{flash::FlashProfile, plain::PlainProfile, CryptoProfile};
pub use endpoint::{
    CloseReason, Config, ConnectError, DropReason, Endpoint, EndpointError, EndpointStats, Event,
    SessionId, SessionInfo, Transmit,
};
pub use flow::Priority;
pub use id_hash::{IdHashMap, IdHasher};
pub use machine::SansIo;
pub use queue::pop_front_lean;
pub use sorted_map::SortedMap;
pub use time::Instant;
pub use types::{Role, SessionStats};
pub use wire::{AddressOrigin, PeerAddress};
