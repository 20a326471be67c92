//! Tokio driver for the sans-IO RTMFP [`rtmfp::Endpoint`]: a UDP socket, a timer and a task
//! that runs the drive loop, with an async handle for commands and a bounded event stream.
//!
//! The driver is the only place that reads the clock, draws OS randomness and touches sockets.

mod driver;

pub use driver::{spawn, DriverError, EndpointHandle, Events};
