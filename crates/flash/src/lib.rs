//! Sans-IO Flash application layer over RTMFP flows (RFC 7425 §5; docs/protocol/flash.md).
//!
//! - [`metadata`]: flow signatures (`TC 04 <stream>`, `GC`, `GR <kind>`);
//! - [`message`]: the `type | timestamp | payload` framing of `TC` flows;
//! - [`amf`]: AMF0 values via the `amf` crate, behind a guard for untrusted input;
//! - [`command`]: AMF commands (`connect`, `_result`, `setPeerInfo`, `onStatus`, …);
//! - [`user_control`]: Set Keepalive Timer, Stream Begin, Flow Sync;
//! - [`netconnection`]: the NetConnection client and server state machines;
//! - [`FlashNode`]: an endpoint with a NetConnection and peer-to-peer sessions.
#![warn(missing_docs)]

pub mod amf;
pub mod command;
mod error;
pub mod gc;
pub mod message;
pub mod metadata;
pub mod netconnection;
mod node;
mod peer_session;
pub mod user_control;

pub use command::{codes, Command, ConnectParams, Status};
pub use error::FlashError;
pub use gc::GcMessage;
pub use message::TcMessage;
pub use metadata::FlowSignature;
pub use node::{FlashNode, NodeEvent};
pub use user_control::UserControl;
