//! The sans-IO contract shared by every protocol state machine of the workspace
//! (ARCHITECTURE.md, "The sans-IO contract"): the tokio driver and the simulator drive any
//! [`SansIo`] the same way.

use std::net::SocketAddr;

use crate::{Instant, Transmit};

/// A protocol state machine driven from outside: datagrams and time in; transmits, events and
/// the next timer out. After any input or command, a driver drains
/// [`SansIo::poll_transmit`], then [`SansIo::poll_event`], then reads [`SansIo::poll_timeout`].
pub trait SansIo {
    /// What the machine reports to its application.
    type Event;

    /// Handles one received UDP datagram; never fails (bad input is counted and dropped).
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);

    /// Handles the passage of time; spurious calls are no-ops.
    fn handle_timeout(&mut self, now: Instant);

    /// Next datagram to send; drain until `None`.
    fn poll_transmit(&mut self) -> Option<Transmit>;

    /// Next event; drain until `None`.
    fn poll_event(&mut self) -> Option<Self::Event>;

    /// When `handle_timeout` should next be called, if ever.
    fn poll_timeout(&self) -> Option<Instant>;
}

impl SansIo for crate::Endpoint {
    type Event = crate::Event;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        crate::Endpoint::handle_datagram(self, now, from, datagram)
    }

    fn handle_timeout(&mut self, now: Instant) {
        crate::Endpoint::handle_timeout(self, now)
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        crate::Endpoint::poll_transmit(self)
    }

    fn poll_event(&mut self) -> Option<Self::Event> {
        crate::Endpoint::poll_event(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        crate::Endpoint::poll_timeout(self)
    }
}
