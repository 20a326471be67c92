//! The async NetGroup API: a [`Node`] (one UDP socket, one identity, optionally a
//! NetConnection to a rendezvous server) and the [`NetGroup`]s it joins, each with its own
//! bounded event stream (Flash `NetGroup` and its `NetStatusEvent`s; docs/protocol/netgroup.md,
//! "NetGroup API reference").
//!
//! ```no_run
//! # async fn f() -> Result<(), Box<dyn std::error::Error>> {
//! use rtmfp_netgroup::{GroupEvent, GroupSpecifier};
//! let node = rtmfp_node::Node::connect("rtmfp://127.0.0.1/chat").await?;
//! let mut spec = GroupSpecifier::new("chat")?;
//! spec.set_posting_enabled(true);
//! spec.set_server_channel_enabled(true);
//! let mut group = node.join(&spec).await?;
//! group.post(b"hello").await?;
//! while let Some(e) = group.next_event().await {
//!     if let GroupEvent::PostingNotify { message, .. } = e {
//!         println!("{}", String::from_utf8_lossy(&message));
//!     }
//! }
//! # Ok(()) }
//! ```
//!
//! Backpressure: each group's event stream is bounded ([`NodeConfig::event_capacity`]); while
//! one is full the node stops pulling events from the engine, so keep reading the events of
//! every group you joined. Events that belong to no group (NetConnection statuses after
//! connecting, session events) are dropped when nobody reads [`Node::next_event`] in time.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::RngCore;
use rtmfp::{Config, CryptoProfile, FlashProfile};
use rtmfp_flash::netconnection::{ClientConfig, NetConnectionEvent};
use rtmfp_flash::{codes, FlashNode};
use rtmfp_netgroup::node::NeighborTarget;
use rtmfp_netgroup::{
    GroupAddress, GroupConfig, GroupError, GroupEvent, GroupHandle, GroupNode, GroupSpecifier,
    NetGroupInfo, PeerId, ReceiveMode, SendResult,
};
use tokio::sync::mpsc;

use crate::driver::{spawn_lan_machine, spawn_machine, DriverError, Handle};
use crate::lan::LanOptions;

/// Default UDP port of RTMFP servers.
pub const DEFAULT_PORT: u16 = 1935;

/// Settings of a [`Node`].
#[derive(Debug)]
pub struct NodeConfig {
    /// Local UDP address. Default `0.0.0.0:0`.
    pub bind: SocketAddr,
    /// Timers and bounds of the group engine. Default [`GroupConfig::default`] (Flash's).
    pub group: GroupConfig,
    /// Identity (the DH key behind the peer ID); `None` draws a fresh one.
    pub identity: Option<FlashProfile>,
    /// Bound of each group's event stream and of the node's own stream. Default 1024.
    pub event_capacity: usize,
    /// How long [`Node::connect_with`] waits for `NetConnection.Connect.Success`. Default 15 s.
    pub connect_timeout: Duration,
    /// LAN discovery (`Some` for [`Node::lan`]; also usable next to a server). IPv4 interface
    /// and TTL of the multicast sockets.
    pub lan: Option<LanOptions>,
    /// Addresses reported to the server with `setPeerInfo` (besides the observed one).
    pub report_addresses: Vec<SocketAddr>,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            bind: SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
            group: GroupConfig::default(),
            identity: None,
            event_capacity: 1024,
            connect_timeout: Duration::from_secs(15),
            lan: None,
            report_addresses: Vec::new(),
        }
    }
}

/// Errors of the async NetGroup API.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The URL is not `rtmfp://host[:port]/app`.
    #[error("bad RTMFP URL: {0}")]
    Url(String),
    /// The server host did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The NetConnection failed, was rejected or closed (the status code and description).
    #[error("NetConnection failed: {0}")]
    Connect(String),
    /// No `NetConnection.Connect.Success` within [`NodeConfig::connect_timeout`].
    #[error("NetConnection timed out")]
    ConnectTimeout,
    /// The group engine refused the command.
    #[error(transparent)]
    Group(#[from] GroupError),
    /// The driver task stopped or the socket failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl From<std::io::Error> for NodeError {
    fn from(e: std::io::Error) -> Self {
        NodeError::Driver(DriverError::Io(e))
    }
}

/// `host:port` of an RTMFP URL (`rtmfp://host[:port]/app`, port [`DEFAULT_PORT`] when
/// absent). Errors: [`NodeError::Url`].
pub fn url_authority(url: &str) -> Result<String, NodeError> {
    let rest = url
        .strip_prefix("rtmfp://")
        .ok_or_else(|| NodeError::Url(format!("not an rtmfp:// URL: {url}")))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() {
        return Err(NodeError::Url(format!("no host in {url}")));
    }
    let has_port = host
        .rsplit_once(':')
        .is_some_and(|(h, p)| !h.ends_with(']') || p.parse::<u16>().is_ok())
        && !host.ends_with(']');
    Ok(if has_port {
        host.to_string()
    } else {
        format!("{host}:{DEFAULT_PORT}")
    })
}

/// Resolves the server of an RTMFP URL. Errors: [`NodeError::Url`], [`NodeError::Resolve`].
pub async fn resolve_url(url: &str) -> Result<Vec<SocketAddr>, NodeError> {
    let host = url_authority(url)?;
    let r = tokio::net::lookup_host(host.clone()).await;
    match r {
        Ok(a) => Ok(a.collect()),
        Err(source) => Err(NodeError::Resolve { host, source }),
    }
}

type Routes = Arc<Mutex<HashMap<GroupHandle, mpsc::Sender<GroupEvent>>>>;

/// A NetGroup node: one UDP socket and identity running a [`GroupNode`] in a driver task.
/// The driver stops once the node and every [`NetGroup`] it returned are dropped.
#[derive(Debug)]
pub struct Node {
    handle: Handle<GroupNode>,
    routes: Routes,
    own: mpsc::Receiver<GroupEvent>,
    peer_id: PeerId,
    event_capacity: usize,
}

impl Node {
    /// Flash `NetConnection.connect("rtmfp://host/app")` with the defaults: binds, connects
    /// to the rendezvous server and waits for `NetConnection.Connect.Success`.
    ///
    /// Errors: [`NodeError`].
    pub async fn connect(url: &str) -> Result<Node, NodeError> {
        Self::connect_with(url, NodeConfig::default()).await
    }

    /// [`Node::connect`] with `config`.
    pub async fn connect_with(url: &str, config: NodeConfig) -> Result<Node, NodeError> {
        let addrs = resolve_url(url).await?;
        let timeout = config.connect_timeout;
        let mut node = Self::start(config).await?;
        let url = url.to_string();
        node.handle
            .call(move |g, now| g.connect(now, &url, &addrs))
            .await??;
        let wait = async {
            while let Some(e) = node.own.recv().await {
                if let GroupEvent::NetConnection(NetConnectionEvent::Status(s)) = e {
                    if s.code == codes::CONNECT_SUCCESS {
                        return Ok(());
                    }
                    if s.level == "error" || s.code.starts_with("NetConnection.Connect.") {
                        return Err(NodeError::Connect(format!("{}: {}", s.code, s.description)));
                    }
                }
            }
            Err(NodeError::Driver(DriverError::Stopped))
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(r) => r.map(|()| node),
            Err(_) => Err(NodeError::ConnectTimeout),
        }
    }

    /// A serverless node for `rtmfp:` groups: LAN discovery over IP multicast with the
    /// defaults (kernel-chosen interface, TTL 1). Join groups whose spec enables
    /// `ipMulticastMemberUpdatesEnabled` and names an `addIPMulticastAddress`.
    ///
    /// Errors: [`NodeError::Driver`] (socket).
    pub async fn lan() -> Result<Node, NodeError> {
        Self::lan_with(NodeConfig {
            lan: Some(LanOptions::default()),
            ..NodeConfig::default()
        })
        .await
    }

    /// [`Node::lan`] with `config` (LAN options default when `config.lan` is `None`).
    pub async fn lan_with(mut config: NodeConfig) -> Result<Node, NodeError> {
        config.lan.get_or_insert_with(LanOptions::default);
        Self::start(config).await
    }

    async fn start(config: NodeConfig) -> Result<Node, NodeError> {
        let mut rng = rand::thread_rng();
        let profile = match config.identity {
            Some(p) => p,
            None => FlashProfile::client(&mut rng),
        };
        let mut seed = [0u8; 32];
        rng.fill_bytes(&mut seed);
        let mut group_seed = [0u8; 32];
        rng.fill_bytes(&mut group_seed);
        let peer_id = PeerId(profile.fingerprint());
        let flash = FlashNode::new(
            Config::default(),
            Box::new(profile),
            seed,
            ClientConfig {
                local_addresses: config.report_addresses.clone(),
                ..ClientConfig::default()
            },
        );
        let machine = GroupNode::new(flash, config.group.clone(), group_seed);
        let cap = config.event_capacity.max(1);
        let (handle, mut events) = match config.lan {
            Some(lan) => spawn_lan_machine(config.bind, machine, cap, lan).await?,
            None => spawn_machine(config.bind, machine, cap).await?,
        };
        let routes: Routes = Arc::default();
        let (own_tx, own) = mpsc::channel(cap);
        let r = routes.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                let group = event_group(&e);
                let target = group.and_then(|g| lock(&r).get(&g).cloned().map(|tx| (g, tx)));
                match target {
                    // Waiting here is the backpressure of a slow group reader.
                    Some((g, tx)) => {
                        if tx.send(e).await.is_err() {
                            // The NetGroup was dropped without close(): stop routing to it.
                            lock(&r).remove(&g);
                        }
                    }
                    None => {
                        let _ = own_tx.try_send(e);
                    }
                }
            }
        });
        Ok(Node {
            handle,
            routes,
            own,
            peer_id,
            event_capacity: cap,
        })
    }

    /// Our peer ID (Flash `nearID`).
    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    /// Our group address (`convertPeerIDToGroupAddress(nearID)`, docs/protocol/netgroup.md, "Group
    /// address").
    pub fn group_address(&self) -> GroupAddress {
        self.peer_id.group_address()
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.handle.local_addr()
    }

    /// The driver handle, for anything the API does not cover (counters, raw flows).
    pub fn handle(&self) -> &Handle<GroupNode> {
        &self.handle
    }

    /// Flash `new NetGroup(nc, groupspec)`: joins the group and returns its handle, whose
    /// event stream starts with `NetGroup.Connect.Success` (or `.Rejected` / `.Failed`).
    ///
    /// Errors: [`GroupError::AlreadyJoined`], [`NodeError::Driver`].
    pub async fn join(&self, spec: &GroupSpecifier) -> Result<NetGroup, NodeError> {
        let group = GroupHandle(spec.group_id());
        let (tx, rx) = mpsc::channel(self.event_capacity);
        {
            let mut routes = lock(&self.routes);
            if routes.contains_key(&group) {
                return Err(GroupError::AlreadyJoined.into());
            }
            routes.insert(group, tx);
        }
        let spec = spec.clone();
        let r = self.handle.call(move |g, now| g.join(now, &spec)).await;
        match r {
            Ok(Ok(_)) => Ok(NetGroup {
                handle: self.handle.clone(),
                routes: self.routes.clone(),
                group,
                events: rx,
            }),
            Ok(Err(e)) => {
                lock(&self.routes).remove(&group);
                Err(e.into())
            }
            Err(e) => {
                lock(&self.routes).remove(&group);
                Err(e.into())
            }
        }
    }

    /// Next event that belongs to no group (NetConnection statuses, non-group session
    /// events); `None` once the driver stopped.
    pub async fn next_event(&mut self) -> Option<GroupEvent> {
        self.own.recv().await
    }
}

fn lock(r: &Routes) -> std::sync::MutexGuard<'_, HashMap<GroupHandle, mpsc::Sender<GroupEvent>>> {
    // A panic while holding this lock cannot leave the map inconsistent (single inserts and
    // removes), so a poisoned lock is still usable.
    r.lock().unwrap_or_else(|p| p.into_inner())
}

/// The group an event belongs to.
fn event_group(e: &GroupEvent) -> Option<GroupHandle> {
    match e {
        GroupEvent::ConnectSuccess { group }
        | GroupEvent::ConnectRejected { group, .. }
        | GroupEvent::ConnectFailed { group, .. }
        | GroupEvent::NeighborConnect { group, .. }
        | GroupEvent::NeighborDisconnect { group, .. }
        | GroupEvent::PostingNotify { group, .. }
        | GroupEvent::LocalCoverageNotify { group }
        | GroupEvent::ReplicationRequest { group, .. }
        | GroupEvent::ReplicationFetchSendNotify { group, .. }
        | GroupEvent::ReplicationFetchFailed { group, .. }
        | GroupEvent::ReplicationFetchResult { group, .. }
        | GroupEvent::MulticastPublishNotify { group, .. }
        | GroupEvent::MulticastUnpublishNotify { group, .. }
        | GroupEvent::MulticastMessage { group, .. }
        | GroupEvent::MulticastPlayEnded { group, .. } => Some(*group),
        GroupEvent::SendToNotify(s) => Some(s.group),
        GroupEvent::NetConnection(_) | GroupEvent::Session(_) => None,
    }
}

/// A joined group (Flash `NetGroup`): commands and the group's event stream. Dropping it
/// without [`NetGroup::close`] keeps the membership until the node stops.
#[derive(Debug)]
pub struct NetGroup {
    handle: Handle<GroupNode>,
    routes: Routes,
    group: GroupHandle,
    events: mpsc::Receiver<GroupEvent>,
}

impl NetGroup {
    /// The group handle (its 32-byte group ID).
    pub fn id(&self) -> GroupHandle {
        self.group
    }

    /// Next event of this group (`NetGroup.Connect.*`, `Neighbor.*`, `Posting.Notify`,
    /// `SendTo.Notify`, `LocalCoverage.Notify`); `None` once the driver stopped.
    pub async fn next_event(&mut self) -> Option<GroupEvent> {
        self.events.recv().await
    }

    /// An event if one is queued now.
    pub fn try_next_event(&mut self) -> Option<GroupEvent> {
        self.events.try_recv().ok()
    }

    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut GroupNode, rtmfp::Instant, GroupHandle) -> Result<R, GroupError>
            + Send
            + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        Ok(self.handle.call(move |n, now| f(n, now, g)).await??)
    }

    pub(crate) async fn get<R: Send + 'static>(
        &self,
        f: impl FnOnce(&GroupNode, GroupHandle) -> Option<R> + Send + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        self.handle
            .call(move |n, _| f(n, g))
            .await?
            .ok_or(NodeError::Group(GroupError::UnknownGroup))
    }

    /// Flash `post(message)`: floods the message; returns its message ID (SHA-256).
    /// Errors: as [`GroupNode::post`].
    pub async fn post(&self, message: &[u8]) -> Result<[u8; 32], NodeError> {
        let m = message.to_vec();
        self.run(move |n, now, g| n.post(now, g, &m)).await
    }

    /// Flash `sendToNearest(message, groupAddress)`. Errors: as [`GroupNode::send_to_nearest`].
    pub async fn send_to_nearest(
        &self,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        self.run(move |n, now, g| n.send_to_nearest(now, g, &m, address))
            .await
    }

    /// Passes a [`rtmfp_netgroup::SendToNotify`] that did not end here on toward its
    /// destination (the library helper for Flash's per-hop recursion).
    /// Errors: as [`GroupNode::forward_to_nearest`].
    pub async fn forward_to_nearest(
        &self,
        notify: rtmfp_netgroup::SendToNotify,
    ) -> Result<SendResult, NodeError> {
        self.run(move |n, now, _| n.forward_to_nearest(now, &notify))
            .await
    }

    /// Flash `sendToNeighbor(message, NEXT_INCREASING | NEXT_DECREASING | address)`.
    /// Errors: as [`GroupNode::send_to_neighbor`].
    pub async fn send_to_neighbor(
        &self,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        self.run(move |n, now, g| n.send_to_neighbor(now, g, &m, target))
            .await
    }

    /// Flash `sendToAllNeighbors(message)`.
    /// Errors: as [`GroupNode::send_to_all_neighbors`].
    pub async fn send_to_all_neighbors(&self, message: &[u8]) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        self.run(move |n, now, g| n.send_to_all_neighbors(now, g, &m))
            .await
    }

    /// Flash `receiveMode`. Errors: [`GroupError::UnknownGroup`].
    pub async fn set_receive_mode(&self, mode: ReceiveMode) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.set_receive_mode(now, g, mode))
            .await
    }

    /// Flash `addNeighbor(peerID)` at known `addrs` (may be empty: through the server).
    pub async fn add_neighbor(
        &self,
        peer: PeerId,
        addrs: Vec<SocketAddr>,
    ) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.add_neighbor(now, g, peer, &addrs))
            .await
    }

    /// Flash `addMemberHint(peerID)` at known `addrs`.
    pub async fn add_member_hint(
        &self,
        peer: PeerId,
        addrs: Vec<SocketAddr>,
    ) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.add_member_hint(now, g, peer, &addrs))
            .await
    }

    /// Flash `addHaveObjects(start, end)` (inclusive): objects this node advertises and serves
    /// (docs/protocol/netgroup.md, "Object replication"). Errors: as
    /// [`GroupNode::add_have_objects`].
    pub async fn add_have_objects(&self, start: u64, end: u64) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.add_have_objects(now, g, start, end))
            .await
    }

    /// Flash `removeHaveObjects(start, end)`. Errors: as [`GroupNode::remove_have_objects`].
    pub async fn remove_have_objects(&self, start: u64, end: u64) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.remove_have_objects(now, g, start, end))
            .await
    }

    /// Flash `addWantObjects(start, end)`: fetched from neighbours that have them; each
    /// arrives as a `ReplicationFetchResult` event. Errors: as [`GroupNode::add_want_objects`].
    pub async fn add_want_objects(&self, start: u64, end: u64) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.add_want_objects(now, g, start, end))
            .await
    }

    /// Flash `removeWantObjects(start, end)`. Errors: as [`GroupNode::remove_want_objects`].
    pub async fn remove_want_objects(&self, start: u64, end: u64) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.remove_want_objects(now, g, start, end))
            .await
    }

    /// Flash `writeRequestedObject(requestID, object)`: answers a `ReplicationRequest`.
    /// Errors: as [`GroupNode::write_requested_object`].
    pub async fn write_requested_object(
        &self,
        request_id: u64,
        object: bytes::Bytes,
    ) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.write_requested_object(now, g, request_id, object))
            .await
    }

    /// Flash `denyRequestedObject(requestID)`. Errors: as
    /// [`GroupNode::deny_requested_object`].
    pub async fn deny_requested_object(&self, request_id: u64) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.deny_requested_object(now, g, request_id))
            .await
    }

    /// Flash `replicationStrategy`. Errors: as [`GroupNode::set_replication_strategy`].
    pub async fn set_replication_strategy(
        &self,
        strategy: rtmfp_netgroup::node::ReplicationStrategy,
    ) -> Result<(), NodeError> {
        self.run(move |n, _, g| n.set_replication_strategy(g, strategy))
            .await
    }

    /// The application found object `index` from neighbour `from` bad (hash mismatch): it is
    /// fetched again and `from` avoided. Errors: as [`GroupNode::report_faulty_object`].
    pub async fn report_faulty_object(&self, index: u64, from: PeerId) -> Result<(), NodeError> {
        self.run(move |n, now, g| n.report_faulty_object(now, g, index, from))
            .await
    }

    /// Flash `neighborCount`.
    pub async fn neighbor_count(&self) -> Result<usize, NodeError> {
        self.get(|n, g| n.neighbor_count(g)).await
    }

    /// The connected neighbours: (group address, peer ID).
    pub async fn neighbors(&self) -> Result<Vec<(GroupAddress, PeerId)>, NodeError> {
        self.get(|n, g| n.neighbors(g)).await
    }

    /// Flash `estimatedMemberCount`.
    pub async fn estimated_member_count(&self) -> Result<f64, NodeError> {
        self.get(|n, g| n.estimated_member_count(g)).await
    }

    /// Flash `localCoverageFrom` / `localCoverageTo`.
    pub async fn local_coverage(&self) -> Result<(GroupAddress, GroupAddress), NodeError> {
        self.get(|n, g| n.local_coverage(g)).await
    }

    /// Flash `receiveMode`.
    pub async fn receive_mode(&self) -> Result<ReceiveMode, NodeError> {
        self.get(|n, g| n.receive_mode(g)).await
    }

    /// Flash `info` as cumulative counters ([`NetGroupInfo::rates`] gives bytes per second).
    pub async fn info(&self) -> Result<NetGroupInfo, NodeError> {
        self.get(|n, g| n.info(g)).await
    }

    /// The current best list (peer IDs the node wants as neighbours).
    pub async fn best_list(&self) -> Result<Vec<PeerId>, NodeError> {
        self.get(|n, g| n.best_list(g).map(|b| b.into_iter().collect()))
            .await
    }

    /// Flash `NetGroup.close()`: leaves the group.
    /// Errors: [`GroupError::UnknownGroup`], [`NodeError::Driver`].
    pub async fn close(self) -> Result<(), NodeError> {
        lock(&self.routes).remove(&self.group);
        self.run(|n, now, g| n.leave(now, g)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities() {
        assert_eq!(
            url_authority("rtmfp://127.0.0.1/app").unwrap(),
            "127.0.0.1:1935"
        );
        assert_eq!(url_authority("rtmfp://h:2000/app").unwrap(), "h:2000");
        assert_eq!(url_authority("rtmfp://[::1]/x").unwrap(), "[::1]:1935");
        assert_eq!(url_authority("rtmfp://[::1]:5/x").unwrap(), "[::1]:5");
        assert!(url_authority("http://x").is_err());
        assert!(url_authority("rtmfp:///x").is_err());
    }
}
