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
//! What the crate offers:
//! - [`Endpoint`] and its commands (`connect`, `open_flow`, `write`, `close_flow`,
//!   `reject_flow`, `close`, the rendezvous hooks `forward_ihello` and `redirect`), configured
//!   by [`Config`], each command with its own error type ([`ConnectError`], [`OpenFlowError`],
//!   [`WriteError`], [`FlowError`], [`SessionError`], [`ForwardError`]); what comes out:
//!   [`Transmit`], [`Event`] (a failed opening's [`ConnectFailure`]), drop reasons and statistics
//!   ([`EndpointStats`], [`SessionInfo`]);
//! - [`SansIo`]: the drive-loop contract every machine of the workspace implements;
//! - [`CryptoProfile`] with the two profiles, [`FlashProfile`] (RFC 7425: AES-128-CBC, DH,
//!   certificates) and [`PlainProfile`] (no encryption, for simulation and fuzzing), and the
//!   [`crypto`] module for the parts the Flash layer reuses (certificates, endpoint
//!   discriminators);
//! - [`wire`]: the codecs (VLU, options, addresses, chunks, packets), public so that the
//!   layers above and the fuzzers decode with the same code;
//! - [`time`]: [`Instant`], the microsecond clock the driver passes in.
//!
//! Inside (private): `handshake` (stateless cookies, the initiator's state machine),
//! `session` (an open session: timestamps, keepalive, close, mobility, packet assembly),
//! `flow` (send and receive flows: fragmentation, acks, partial reliability), `congestion`
//! (RFC 7016 Appendix A), `rtt` and `endpoint`. docs/ARCHITECTURE.md walks a datagram
//! through them.
#![warn(missing_docs)]

mod congestion;
pub mod crypto;
mod endpoint;
mod errors;
mod flow;
mod handshake;
mod machine;
mod rendezvous;
mod rtt;
mod scratch;
mod session;
pub mod time;
mod types;
pub mod wire;

pub use crypto::{flash::FlashProfile, plain::PlainProfile, CryptoProfile};
pub use endpoint::{
    CloseReason, Config, ConnectError, ConnectFailure, DropReason, Endpoint, EndpointStats, Event,
    FlowError, ForwardError, OpenFlowError, SessionError, SessionId, SessionInfo, Transmit,
    WriteError,
};
pub use flow::Priority;
pub use machine::SansIo;
pub use time::Instant;
pub use types::{Role, SessionStats};
pub use wire::{AddressOrigin, PeerAddress};
