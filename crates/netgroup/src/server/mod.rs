//! The rendezvous server: NetConnections, peer introduction and group bootstrap, as Cirrus
//! and MonaServer did for Flash Player (docs/protocol/session.md, "Rendezvous and introduction";
//! docs/protocol/flash.md, "NetConnection sequence", "NetGroup control flow";
//! docs/protocol/netgroup.md, "Joining via the server" to "Server introductions", "Rendezvous
//! server duties"). Policy and limits are described in `docs/rendezvous-server.md`.
//!
//! [`RendezvousServer`] owns one endpoint and implements [`SansIo`]:
//! - NetConnections are accepted by [`NetConnectionServer`] (any application path unless
//!   configured), which also records what clients report with `setPeerInfo`;
//! - an IHello naming a connected client's peer ID (EPD `21 0f <id>`) is forwarded to that
//!   client as an FIHello carrying the initiator's observed address, and answered with a
//!   Redirect listing the client's observed address first, then its reported ones; an unknown
//!   peer ID gets silence, and a "gone" Redirect (`0.0.0.0:0`, origin 0) when the same tag
//!   comes again (MonaServer2/librtmfp convention);
//! - a group join on a `GC` flow registers the member; the server introduces members to it
//!   with `0B <peer ID>` messages following an [`IntroductionPolicy`];
//! - leaving (the `GC` flow ends) or disconnecting removes membership.

mod groups;

use std::collections::{BTreeMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtmfp::{
    AddressOrigin, Config, CryptoProfile, Endpoint, Event, Instant, PeerAddress, Priority, SansIo,
    SessionId, Transmit,
};
use rtmfp_flash::netconnection::{NetConnectionServer, ServerConfig, ServerEvent};
use rtmfp_flash::{FlowSignature, GcMessage};

pub use groups::{Groups, IntroductionPolicy, JoinError, Member};

use crate::id::PeerId;

/// Most undrained [`RendezvousEvent`]s kept.
pub const MAX_EVENTS: usize = 4096;

/// Settings of the rendezvous server.
#[derive(Debug, Clone)]
pub struct RendezvousConfig {
    /// Session-layer settings; `max_sessions` bounds connected clients plus handshakes in
    /// progress, `idle_timeout` drops clients that stop answering.
    pub endpoint: Config,
    /// NetConnection settings: accepted application paths and keepalive periods.
    pub net_connection: ServerConfig,
    /// Most groups held at once. Default 10,000.
    pub max_groups: usize,
    /// Most groups one client may join. Default 64.
    pub max_groups_per_client: usize,
    /// Most members per group. Default 1,000,000.
    pub max_members_per_group: usize,
    /// Whom to introduce to a newcomer.
    pub introductions: IntroductionPolicy,
    /// IHello tags for unknown peers remembered to answer their repetition with "gone".
    /// Default 4096; older tags are forgotten first.
    pub unknown_tag_memory: usize,
}

impl Default for RendezvousConfig {
    fn default() -> Self {
        RendezvousConfig {
            endpoint: Config {
                // Clients ping every 15 s (Set Keepalive Timer); four missed pings drop them.
                idle_timeout: std::time::Duration::from_secs(60),
                recv_buffer: 256 * 1024,
                ..Config::default()
            },
            net_connection: ServerConfig::default(),
            max_groups: 10_000,
            max_groups_per_client: 64,
            max_members_per_group: 1_000_000,
            introductions: IntroductionPolicy::default(),
            unknown_tag_memory: 4096,
        }
    }
}

/// What the server reports (for logs and statistics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RendezvousEvent {
    /// A client connected.
    ClientConnected {
        /// Its peer ID.
        peer_id: PeerId,
        /// Its observed address.
        addr: SocketAddr,
        /// The application path.
        app: String,
    },
    /// A client was refused (unknown application path).
    ClientRejected {
        /// The application path it asked for.
        app: String,
    },
    /// A client disconnected or timed out.
    ClientDisconnected {
        /// Its peer ID.
        peer_id: PeerId,
    },
    /// A client joined a group.
    Joined {
        /// The member.
        peer_id: PeerId,
        /// The group ID.
        group_id: [u8; 32],
        /// Members introduced to it.
        introduced: usize,
    },
    /// A join was refused.
    JoinRefused {
        /// The client.
        peer_id: PeerId,
        /// Why.
        reason: JoinError,
    },
    /// An initiator was introduced to a connected client (forward + redirect).
    PeerIntroduced {
        /// The target.
        target: PeerId,
        /// The initiator's observed address.
        initiator: SocketAddr,
    },
}

/// Counters of the server.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RendezvousStats {
    /// Connected clients.
    pub clients: usize,
    /// Groups with members.
    pub groups: usize,
    /// Memberships over all groups.
    pub memberships: usize,
    /// Completed handshakes (sessions opened by clients).
    pub handshakes: u64,
    /// Peer introductions (FIHello + Redirect pairs).
    pub peer_introductions: u64,
    /// `0B` group introductions sent.
    pub group_introductions: u64,
    /// "Peer gone" redirects sent.
    pub gone_redirects: u64,
    /// IHellos for unknown peers left unanswered.
    pub unknown_peer_ihellos: u64,
    /// Malformed or refused `GC` messages.
    pub bad_group_messages: u64,
    /// Joins refused by a limit.
    pub refused_joins: u64,
}

/// A `GC` flow of a client: its flow ID, our answering flow, and the group it joined.
#[derive(Debug, Clone, Copy)]
struct GcFlow {
    ours: Option<u64>,
    group: Option<[u8; 32]>,
}

/// The rendezvous server (see the module documentation).
#[derive(Debug)]
pub struct RendezvousServer {
    ep: Endpoint,
    nc: NetConnectionServer,
    config: RendezvousConfig,
    peers: BTreeMap<PeerId, SessionId>,
    groups: Groups,
    gc_flows: BTreeMap<(SessionId, u64), GcFlow>,
    unknown_tags: BTreeMap<Vec<u8>, u64>,
    unknown_order: VecDeque<(u64, Vec<u8>)>,
    unknown_seq: u64,
    rng: ChaCha8Rng,
    stats: RendezvousStats,
    events: VecDeque<RendezvousEvent>,
}

impl RendezvousServer {
    /// A server with identity `crypto` (a Flash server profile for Flash-era clients).
    /// `seed` drives all its randomness.
    pub fn new(config: RendezvousConfig, crypto: Box<dyn CryptoProfile>, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha8Rng::from_seed(seed);
        let mut ep_seed = [0u8; 32];
        rand_chacha::rand_core::RngCore::fill_bytes(&mut rng, &mut ep_seed);
        RendezvousServer {
            ep: Endpoint::new(config.endpoint.clone(), crypto, ep_seed),
            nc: NetConnectionServer::new(config.net_connection.clone()),
            groups: Groups::new(
                config.max_groups,
                config.max_groups_per_client,
                config.max_members_per_group,
            ),
            config,
            peers: BTreeMap::new(),
            gc_flows: BTreeMap::new(),
            unknown_tags: BTreeMap::new(),
            unknown_order: VecDeque::new(),
            unknown_seq: 0,
            rng,
            stats: RendezvousStats::default(),
            events: VecDeque::new(),
        }
    }

    /// The server's peer ID (fingerprint of its certificate).
    pub fn peer_id(&self) -> PeerId {
        PeerId(self.ep.fingerprint())
    }

    /// The endpoint (session details, counters).
    pub fn endpoint(&self) -> &Endpoint {
        &self.ep
    }

    /// The NetConnection bookkeeping (connected clients).
    pub fn net_connections(&self) -> &NetConnectionServer {
        &self.nc
    }

    /// The groups.
    pub fn groups(&self) -> &Groups {
        &self.groups
    }

    /// Current counters.
    pub fn stats(&self) -> RendezvousStats {
        RendezvousStats {
            clients: self.nc.client_count(),
            groups: self.groups.len(),
            memberships: self.groups.membership_count(),
            handshakes: self.ep.stats().opened_as_responder,
            ..self.stats
        }
    }

    /// Queues an event for the application; beyond [`MAX_EVENTS`] undrained events the newest
    /// are dropped (the counters still count).
    fn emit(&mut self, e: RendezvousEvent) {
        if self.events.len() < MAX_EVENTS {
            self.events.push_back(e);
        }
    }

    /// Disconnects the client with `peer_id` (closes its session; it leaves its groups).
    /// Returns whether such a client was connected.
    pub fn disconnect(&mut self, now: Instant, peer_id: &PeerId) -> bool {
        let Some(session) = self.peers.get(peer_id).copied() else {
            return false;
        };
        self.nc.disconnect(&mut self.ep, now, session);
        self.drain_nc();
        true
    }

    fn pump(&mut self, now: Instant) {
        while let Some(ev) = self.ep.poll_event() {
            let consumed = self.nc.handle_event(&mut self.ep, now, &ev);
            self.drain_nc();
            if !consumed {
                self.on_event(now, ev);
            }
        }
        self.drain_nc();
    }

    fn drain_nc(&mut self) {
        while let Some(e) = self.nc.poll_event() {
            match e {
                ServerEvent::Connected(c) => {
                    let peer_id = PeerId(c.peer_id);
                    // A reconnecting client replaces its previous session in the index.
                    self.peers.insert(peer_id, c.session);
                    tracing::info!(peer = %peer_id, addr = %c.observed, app = %c.app, "client connected");
                    self.emit(RendezvousEvent::ClientConnected {
                        peer_id,
                        addr: c.observed,
                        app: c.app,
                    });
                }
                ServerEvent::Rejected { app, .. } => {
                    self.emit(RendezvousEvent::ClientRejected { app });
                }
                ServerEvent::Disconnected { session, peer_id } => {
                    let peer_id = PeerId(peer_id);
                    if self.peers.get(&peer_id) == Some(&session) {
                        self.peers.remove(&peer_id);
                    }
                    self.groups.leave_all(session);
                    self.gc_flows.retain(|(s, _), _| *s != session);
                    tracing::info!(peer = %peer_id, "client disconnected");
                    self.emit(RendezvousEvent::ClientDisconnected { peer_id });
                }
                ServerEvent::PeerInfo { .. } | ServerEvent::Command { .. } => {}
            }
        }
    }

    fn on_event(&mut self, now: Instant, ev: Event) {
        match ev {
            Event::UnmatchedIHello { from, epd, tag } => {
                self.on_unmatched_ihello(now, from, &epd, &tag)
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                ..
            } => {
                let is_gc =
                    FlowSignature::decode(&metadata).is_ok_and(|s| s == FlowSignature::GroupClient);
                if is_gc && self.nc.client(session).is_some() {
                    self.gc_flows.insert(
                        (session, flow),
                        GcFlow {
                            ours: None,
                            group: None,
                        },
                    );
                } else if self.nc.client(session).is_some() {
                    // Flows we do not serve (NetStreams to the server, unknown signatures).
                    tracing::debug!(session = session.0, "rejecting unsupported flow");
                    let _ = self.ep.reject_flow(now, session, flow, 0);
                }
            }
            Event::Message {
                session,
                flow,
                data,
            } if self.gc_flows.contains_key(&(session, flow)) => {
                self.on_gc_message(now, session, flow, &data);
            }
            Event::FlowEnded { session, flow } => {
                if let Some(gc) = self.gc_flows.remove(&(session, flow)) {
                    if let Some(g) = gc.group {
                        self.groups.leave(&g, session);
                    }
                    if let Some(ours) = gc.ours {
                        let _ = self.ep.close_flow(now, session, ours);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_gc_message(&mut self, now: Instant, session: SessionId, flow: u64, data: &[u8]) {
        let Some(client) = self.nc.client(session) else {
            return;
        };
        let peer_id = PeerId(client.peer_id);
        let group_id = match GcMessage::decode(data) {
            Ok(GcMessage::Join { group_id, .. }) => group_id,
            Ok(GcMessage::Introduction(_)) | Err(_) => {
                self.stats.bad_group_messages += 1;
                tracing::debug!(peer = %peer_id, len = data.len(), "malformed group message");
                return;
            }
        };
        let gc = self
            .gc_flows
            .get(&(session, flow))
            .copied()
            .unwrap_or(GcFlow {
                ours: None,
                group: None,
            });
        if gc.group.is_some_and(|g| g != group_id) {
            // One group per GC flow, as every client does.
            self.stats.bad_group_messages += 1;
            return;
        }
        let member = Member { peer_id, session };
        let intro =
            match self
                .groups
                .join(group_id, member, &self.config.introductions, &mut self.rng)
            {
                Ok(intro) => intro,
                Err(reason) => {
                    self.stats.refused_joins += 1;
                    tracing::info!(peer = %peer_id, %reason, "group join refused");
                    self.emit(RendezvousEvent::JoinRefused { peer_id, reason });
                    return;
                }
            };
        let ours = match gc.ours {
            Some(f) => Some(f),
            None => self
                .ep
                .open_flow(
                    now,
                    session,
                    &FlowSignature::GroupClient.encode(),
                    Some(flow),
                    Priority::default(),
                )
                .ok(),
        };
        self.gc_flows.insert(
            (session, flow),
            GcFlow {
                ours,
                group: Some(group_id),
            },
        );
        let mut sent = 0;
        if let Some(ours) = ours {
            for m in &intro {
                let msg = GcMessage::Introduction(m.peer_id.0).encode();
                if self
                    .ep
                    .write(now, session, ours, Bytes::from(msg), None)
                    .is_ok()
                {
                    sent += 1;
                }
            }
        }
        self.stats.group_introductions += sent as u64;
        tracing::debug!(peer = %peer_id, group = %hex::encode(&group_id[..8]), introduced = sent, "joined group");
        self.emit(RendezvousEvent::Joined {
            peer_id,
            group_id,
            introduced: sent,
        });
    }

    fn on_unmatched_ihello(&mut self, now: Instant, from: SocketAddr, epd: &[u8], tag: &[u8]) {
        // Only peer-ID EPDs (`21 0f <32 bytes>`) name someone we can introduce.
        if epd.len() != 34 || epd[0] != 0x21 || epd[1] != 0x0f {
            return;
        }
        let Ok(id) = <[u8; 32]>::try_from(&epd[2..]) else {
            return;
        };
        let target = PeerId(id);
        // The target's session and its addresses, observed first then reported
        // (docs/protocol/session.md, "Rendezvous and introduction").
        let found = self
            .peers
            .get(&target)
            .and_then(|s| self.nc.client(*s))
            .map(|c| {
                let reported = c.reported.iter().filter(|a| **a != c.observed);
                let addresses: Vec<PeerAddress> =
                    std::iter::once(PeerAddress::new(c.observed, AddressOrigin::Observed))
                        .chain(reported.map(|a| PeerAddress::new(*a, AddressOrigin::Reported)))
                        .collect();
                (c.session, addresses)
            });
        let Some((session, addresses)) = found else {
            self.on_unknown_peer(now, from, tag);
            return;
        };
        if self
            .ep
            .forward_ihello(now, session, epd, tag, from)
            .is_err()
        {
            return;
        }
        self.ep.redirect(now, from, tag, &addresses);
        self.stats.peer_introductions += 1;
        self.emit(RendezvousEvent::PeerIntroduced {
            target,
            initiator: from,
        });
    }

    fn on_unknown_peer(&mut self, now: Instant, from: SocketAddr, tag: &[u8]) {
        if self.unknown_tags.contains_key(tag) {
            let gone = PeerAddress::new(
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
                AddressOrigin::Unknown,
            );
            self.ep.redirect(now, from, tag, &[gone]);
            self.stats.gone_redirects += 1;
            return;
        }
        self.stats.unknown_peer_ihellos += 1;
        if self.config.unknown_tag_memory == 0 {
            return;
        }
        while self.unknown_tags.len() >= self.config.unknown_tag_memory {
            match self.unknown_order.pop_front() {
                Some((seq, t)) => {
                    if self.unknown_tags.get(&t) == Some(&seq) {
                        self.unknown_tags.remove(&t);
                    }
                }
                None => break,
            }
        }
        self.unknown_seq += 1;
        self.unknown_tags.insert(tag.to_vec(), self.unknown_seq);
        self.unknown_order
            .push_back((self.unknown_seq, tag.to_vec()));
    }
}

impl SansIo for RendezvousServer {
    type Event = RendezvousEvent;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.ep.handle_datagram(now, from, datagram);
        self.pump(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        self.nc.handle_timeout(&mut self.ep, now);
        self.pump(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.ep.poll_transmit() {
            return Some(t);
        }
        // Events pulled lazily from flows may produce answers.
        let now = self.ep.now_hint();
        self.pump(now);
        self.ep.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<RendezvousEvent> {
        self.pump(self.ep.now_hint());
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.ep.poll_timeout(), self.nc.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
