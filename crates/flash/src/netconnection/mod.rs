//! NetConnection over RTMFP: the client ([`client::NetConnection`]) and the server side
//! ([`server::NetConnectionServer`]) state machines (RFC 7425 §5.3; docs/protocol/flash.md,
//! "NetConnection sequence").

pub mod client;
pub mod server;

pub use client::{ClientConfig, NetConnection, NetConnectionError, NetConnectionEvent};
pub use server::{ClientInfo, NetConnectionServer, ServerConfig, ServerCounters, ServerEvent};
