//! RTMFP Groups: an open implementation of RTMFP (RFC 7016) with Adobe's Flash profile
//! (RFC 7425), and of the Flash `NetGroup` peer-to-peer mesh built on it. This facade crate
//! re-exports every layer under one name; each layer is also a crate of its own.
//!
//! A short tour, from the bottom up (docs/ARCHITECTURE.md has the whole map):
//! - [`session`] (`rtmfp`): the sans-IO session layer. An [`Endpoint`] owns one UDP socket's
//!   worth of sessions and flows; the driver passes time and datagrams in and takes transmits,
//!   events and timers out through [`SansIo`].
//! - [`flash`] (`rtmfp-flash`): the sans-IO Flash layer: flow signatures, AMF0, `TC` messages,
//!   the NetConnection client and server, and [`FlashNode`] (an endpoint with a NetConnection
//!   and peer-to-peer sessions).
//! - [`netgroup`] (`rtmfp-netgroup`): the sans-IO group engine [`GroupNode`] (membership,
//!   posting, `sendToNearest` routing, object replication, multicast streams, LAN discovery)
//!   joined by a [`GroupSpecifier`], and the rendezvous server.
//! - [`node`] (`rtmfp-node`): the tokio driver and the async API: [`Node`] joins a group and
//!   returns a [`NetGroup`] handle with `post`, `send_to_nearest`, replication and stream
//!   calls and a bounded event stream.
//! - [`share`] (`rtmfp-share`): file sharing over object replication (manifests, seeding,
//!   resumable fetches).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use rtmfp_groups::{GroupSpecifier, Node};
//!
//! let node = Node::connect("rtmfp://127.0.0.1/chat").await?;
//! let mut spec = GroupSpecifier::new("chat")?;
//! spec.set_posting_enabled(true);
//! spec.set_server_channel_enabled(true);
//! let group = node.join(&spec).await?;
//! group.post(b"hello").await?;
//! # Ok(())
//! # }
//! ```
//!
//! The `rtmfp` command-line tool (`crates/cli`) and the simulator (`sim/`) are binaries built
//! on these crates.

pub use rtmfp as session;
pub use rtmfp_flash as flash;
pub use rtmfp_netgroup as netgroup;
pub use rtmfp_node as node;
pub use rtmfp_share as share;

pub use rtmfp::{Endpoint, SansIo};
pub use rtmfp_flash::FlashNode;
pub use rtmfp_netgroup::{GroupEvent, GroupNode, GroupSpecifier, PeerId};
pub use rtmfp_node::{NetGroup, Node};
