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

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use rtmfp::{Config, CryptoProfile, FlashProfile};
use rtmfp_flash::netconnection::{ClientConfig, NetConnectionEvent};
use rtmfp_flash::{codes, FlashNode};
use rtmfp_netgroup::{
    GroupAddress, GroupConfig, GroupEvent, GroupHandle, GroupNode, GroupSpecifier, JoinError,
    PeerId,
};
use tokio::sync::mpsc;

use crate::driver::{spawn_lan_machine, spawn_machine, DriverError, Handle};
use crate::error::NodeError;
use crate::lan::LanOptions;
use crate::netgroup::NetGroup;
use crate::routes::{event_group, lock, Routes};

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
