//! Tokio driver for the sans-IO machines of the workspace (the RTMFP [`rtmfp::Endpoint`], the
//! Flash node, the rendezvous server): a UDP socket, a timer and a task that runs the drive
//! loop, with async handles for commands and bounded event streams.
//!
//! The driver is the only place that reads the clock, draws OS randomness and touches sockets.

mod driver;
mod endpoint;
pub mod identity;

pub use driver::{spawn_machine, DriverError, Events, Handle};
pub use endpoint::{spawn, EndpointHandle};
