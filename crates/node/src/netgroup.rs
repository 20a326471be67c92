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
use rtmfp_flash::netconnection::{ClientConfig, NetConnectionError, NetConnectionEvent};
use rtmfp_flash::{codes, FlashNode};
use rtmfp_netgroup::NeighborTarget;
use rtmfp_netgroup::{
    GroupAddress, GroupConfig, GroupEvent, GroupHandle, GroupMut, GroupNode, GroupRef,
    GroupSpecifier, JoinError, PeerId, PlayError, PostError, PublishError, ReplicationError,
    RouteError, SendResult, StreamError,
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
    /// `join` of a group this node is already a member of.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// The group was left: no call can be made on it any more.
    #[error("not a member of this group (it was left)")]
    NotJoined,
    /// `post` was refused.
    #[error(transparent)]
    Post(#[from] PostError),
    /// A routed send was refused.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// An object replication call was refused.
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    /// A multicast `publish` was refused.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A call on one of our multicast streams was refused.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A multicast `play` was refused.
    #[error(transparent)]
    Play(#[from] PlayError),
    /// The NetConnection refused to start (a bad URL).
    #[error(transparent)]
    NetConnection(#[from] NetConnectionError),
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
    /// Errors: [`NodeError::Join`] ([`JoinError::AlreadyJoined`]), [`NodeError::Driver`].
    pub async fn join(&self, spec: &GroupSpecifier) -> Result<NetGroup, NodeError> {
        let group = GroupHandle(spec.group_id());
        let (tx, rx) = mpsc::channel(self.event_capacity);
        {
            let mut routes = lock(&self.routes);
            if routes.contains_key(&group) {
                return Err(JoinError::AlreadyJoined.into());
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

    /// Runs `f` on this group in the driver task, at the driver's current time, and returns
    /// its result: every Flash `NetGroup` call is a method of [`GroupMut`] (`post`,
    /// `send_to_nearest`, `add_neighbor`, `set_receive_mode`, `replication()`,
    /// `multicast()`...), each with its own error type, which comes back inside `R`:
    ///
    /// ```no_run
    /// # async fn f(group: &rtmfp_node::NetGroup) -> Result<(), rtmfp_node::NodeError> {
    /// group.with(|mut g| g.replication().add_have_objects(0, 99)).await??;
    /// let key = group.with(|mut g| g.multicast().publish("live")).await??;
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: [`NodeError::NotJoined`] (the group was left), [`NodeError::Driver`].
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(GroupMut<'_>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        self.handle
            .call(move |n, now| n.group_mut(now, g).map(f))
            .await?
            .ok_or(NodeError::NotJoined)
    }

    /// Reads this group's state with `f` in the driver task: [`GroupRef`] has Flash's
    /// `neighborCount`, `estimatedMemberCount`, `info`, `receiveMode`, the replication sets,
    /// the streams and every counter.
    ///
    /// ```no_run
    /// # async fn f(group: &rtmfp_node::NetGroup) -> Result<(), rtmfp_node::NodeError> {
    /// let (neighbors, members) = group
    ///     .read(|g| (g.neighbor_count(), g.estimated_member_count()))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: [`NodeError::NotJoined`] (the group was left), [`NodeError::Driver`].
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(GroupRef<'_>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        self.handle
            .call(move |n, _| n.group(g).map(f))
            .await?
            .ok_or(NodeError::NotJoined)
    }

    // The calls that carry a message: they copy the borrowed bytes into the driver task.

    /// Flash `post(message)`: floods the message; returns its message ID (SHA-256).
    /// Errors: [`NodeError::Post`] (as [`GroupMut::post`]), [`NodeError::NotJoined`],
    /// [`NodeError::Driver`].
    pub async fn post(&self, message: &[u8]) -> Result<[u8; 32], NodeError> {
        let m = message.to_vec();
        Ok(self.with(move |mut g| g.post(&m)).await??)
    }

    /// Flash `sendToNearest(message, groupAddress)`. Errors: [`NodeError::Route`] (as
    /// [`GroupMut::send_to_nearest`]), [`NodeError::NotJoined`], [`NodeError::Driver`].
    pub async fn send_to_nearest(
        &self,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_nearest(&m, address))
            .await??)
    }

    /// Passes a [`rtmfp_netgroup::SendToNotify`] of this group that did not end here on toward
    /// its destination (the library helper for Flash's per-hop recursion). Errors: as
    /// [`Self::send_to_nearest`].
    pub async fn forward_to_nearest(
        &self,
        notify: rtmfp_netgroup::SendToNotify,
    ) -> Result<SendResult, NodeError> {
        Ok(self
            .with(move |mut g| g.forward_to_nearest(&notify))
            .await??)
    }

    /// Flash `sendToNeighbor(message, NEXT_INCREASING | NEXT_DECREASING | address)`.
    /// Errors: as [`Self::send_to_nearest`].
    pub async fn send_to_neighbor(
        &self,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_neighbor(&m, target))
            .await??)
    }

    /// Flash `sendToAllNeighbors(message)`. Errors: as [`Self::send_to_nearest`].
    pub async fn send_to_all_neighbors(&self, message: &[u8]) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_all_neighbors(&m))
            .await??)
    }

    /// Flash `NetGroup.close()`: leaves the group and stops routing its events here.
    /// Errors: [`NodeError::NotJoined`] (left already), [`NodeError::Driver`].
    pub async fn close(self) -> Result<(), NodeError> {
        lock(&self.routes).remove(&self.group);
        self.with(|g| g.leave()).await
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
