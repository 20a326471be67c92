//! Tokio driver for the sans-IO machines of the workspace (the RTMFP [`rtmfp::Endpoint`], the
//! Flash node, the group engine, the rendezvous server): a UDP socket, a timer and a task that
//! runs the drive loop, with async handles for commands and bounded event streams.
//!
//! - [`Node`] / [`NetGroup`]: the async NetGroup API (`Node::connect("rtmfp://host/app")`,
//!   `Node::lan()`, `node.join(&spec)`), in [`netgroup`];
//! - multicast streams on [`NetGroup`] (`publish`, `play`...), in [`stream`];
//! - [`spawn_machine`] / [`spawn_lan_machine`]: the generic driver; [`lan`]: IP multicast
//!   sockets for LAN discovery; [`identity`]: identity files.
//!
//! The driver is the only place that reads the clock, draws OS randomness and touches sockets.

mod driver;
mod endpoint;
pub mod identity;
pub mod lan;
pub mod netgroup;
mod server;
pub mod stream;

pub use driver::{spawn_lan_machine, spawn_machine, DriverError, Events, Handle};
pub use endpoint::{spawn, EndpointHandle};
pub use lan::LanOptions;
pub use netgroup::{resolve_url, url_authority, NetGroup, Node, NodeConfig, NodeError};
pub use server::{spawn_embedded_server, spawn_rendezvous_server};
