//! [`FlashNode`]: one endpoint with an optional NetConnection to a server and peer-to-peer
//! sessions, as a Flash Player instance has (docs/protocol/session.md, "Rendezvous and
//! introduction"; docs/protocol/flash.md). Sans-IO: it implements [`SansIo`].

use std::collections::VecDeque;
use std::net::SocketAddr;

use rand_core::RngCore;
use rtmfp::crypto::cert::epd_for_peer_id;
use rtmfp::{
    Config, ConnectError, CryptoProfile, Endpoint, Event, Instant, SansIo, SessionId, Transmit,
};

use crate::netconnection::{ClientConfig, NetConnection, NetConnectionError, NetConnectionEvent};

/// What a [`FlashNode`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeEvent {
    /// From the NetConnection to the server.
    NetConnection(NetConnectionEvent),
    /// A session-layer event the NetConnection did not consume: peer-to-peer sessions and
    /// their flows, and flows on the server session other than the NetConnection's (`GC`).
    Session(Event),
}

/// An endpoint plus a client NetConnection (see the module documentation).
#[derive(Debug)]
pub struct FlashNode {
    ep: Endpoint,
    nc: NetConnection,
    events: VecDeque<NodeEvent>,
}

impl FlashNode {
    /// A node on a new endpoint. `seed` drives the endpoint's randomness (tags, cookies,
    /// ephemeral keys); the driver draws it from the OS, the simulator from the run seed.
    pub fn new(
        config: Config,
        crypto: Box<dyn CryptoProfile>,
        seed: [u8; 32],
        client: ClientConfig,
    ) -> Self {
        FlashNode {
            ep: Endpoint::new(config, crypto, seed),
            nc: NetConnection::new(client),
            events: VecDeque::new(),
        }
    }

    /// A node with a fresh Flash client identity drawn from `rng` and default settings.
    pub fn with_flash_identity(rng: &mut dyn RngCore, seed: [u8; 32]) -> Self {
        Self::new(
            Config::default(),
            Box::new(rtmfp::FlashProfile::client(rng)),
            seed,
            ClientConfig::default(),
        )
    }

    /// Flash `nearID`: our peer ID (SHA-256 of our certificate).
    pub fn peer_id(&self) -> [u8; 32] {
        self.ep.fingerprint()
    }

    /// The endpoint, for flows and session details.
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// The endpoint, mutably: open flows, write, close sessions.
    pub fn endpoint_mut(&mut self) -> &mut Endpoint {
        &mut self.ep
    }

    /// The NetConnection to the server.
    pub fn net_connection(&self) -> &NetConnection {
        &self.nc
    }

    /// Both halves at once, for NetConnection commands.
    pub fn parts_mut(&mut self) -> (&mut Endpoint, &mut NetConnection) {
        (&mut self.ep, &mut self.nc)
    }

    /// Connects the NetConnection to `url` at `server_addrs` ([`NetConnection::connect`]).
    pub fn connect(
        &mut self,
        now: Instant,
        url: &str,
        server_addrs: &[SocketAddr],
    ) -> Result<(), NetConnectionError> {
        self.nc.connect(&mut self.ep, now, url, server_addrs)
    }

    /// Opens a peer-to-peer session to `peer_id` (docs/protocol/session.md, "Rendezvous and
    /// introduction"): IHellos go to the server, which introduces us, and to `known_addrs`.
    /// Completion arrives as `NodeEvent::Session(Event::SessionOpened)` (or `ConnectFailed`) with
    /// the returned handle. Errors: [`ConnectError::NoAddress`] without server or known address,
    /// [`ConnectError::TooManySessions`].
    pub fn connect_peer(
        &mut self,
        now: Instant,
        peer_id: &[u8; 32],
        known_addrs: &[SocketAddr],
    ) -> Result<SessionId, ConnectError> {
        if let Some(s) = self.ep.session_by_fingerprint(peer_id) {
            return Ok(s);
        }
        let mut addrs = known_addrs.to_vec();
        if self.nc.is_connected() {
            for a in self.nc.server_addrs() {
                if !addrs.contains(a) {
                    addrs.push(*a);
                }
            }
        }
        self.ep.connect(now, epd_for_peer_id(peer_id), &addrs)
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.ep.poll_event() {
            if !self.nc.handle_event(&mut self.ep, now, &ev) {
                self.events.push_back(NodeEvent::Session(ev));
            }
            while let Some(e) = self.nc.poll_event() {
                self.events.push_back(NodeEvent::NetConnection(e));
            }
        }
        while let Some(e) = self.nc.poll_event() {
            self.events.push_back(NodeEvent::NetConnection(e));
        }
    }

    /// The time of the last input, for routing events pulled lazily in `poll_event`.
    fn now_hint(&self) -> Instant {
        self.ep.now_hint()
    }
}

impl SansIo for FlashNode {
    type Event = NodeEvent;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.ep.handle_datagram(now, from, datagram);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.nc.handle_timeout(&mut self.ep, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.ep.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<NodeEvent> {
        if self.events.is_empty() {
            let now = self.now_hint();
            self.pump(now);
        }
        rtmfp_collections::pop_front_lean(&mut self.events)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.ep.poll_timeout(), self.nc.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
