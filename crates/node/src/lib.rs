//! Tokio driver for the sans-IO machines of the workspace (the RTMFP [`rtmfp::Endpoint`], the
//! Flash node, the group engine, the rendezvous server): a UDP socket, a timer and a task that
//! runs the drive loop, with async handles for commands and bounded event streams.
//!
//! - [`Node`] / [`NetGroup`]: the async NetGroup API (`Node::connect("rtmfp://host/app")`,
//!   `Node::lan()`, `node.join(&spec)`); a [`NetGroup`] runs closures on the engine's scoped
//!   group views ([`NetGroup::with`], [`NetGroup::read`]);
//! - multicast streams on [`NetGroup`] (`publish`, `play`...), in [`stream`];
//! - [`spawn_machine`] / [`spawn_lan_machine`]: the generic driver; [`lan`]: IP multicast
//!   sockets for LAN discovery; [`identity`]: identity files.
//!
//! The driver is the only place that reads the clock, draws OS randomness and touches sockets.

mod driver;
mod endpoint;
mod error;
pub mod identity;
pub mod lan;
pub mod netgroup;
mod node;
mod routes;
mod server;
pub mod stream;

pub use driver::{spawn_lan_machine, spawn_machine, DriverError, Events, Handle};
pub use endpoint::{spawn, EndpointHandle};
pub use error::NodeError;
pub use lan::LanOptions;
pub use netgroup::NetGroup;
pub use node::{resolve_url, url_authority, Node, NodeConfig, DEFAULT_PORT};
pub use server::{spawn_embedded_server, spawn_rendezvous_server};
