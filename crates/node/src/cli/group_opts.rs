//! The options every group subcommand shares (`--group`, `--server` or `--lan`, interface,
//! bind address, identity, timer scale) and how they become a joined [`NetGroup`].

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgGroup, Args};
use rtmfp_netgroup::{GroupConfig, GroupSpecifier};
use rtmfp_node::{LanOptions, NetGroup, Node, NodeConfig};

/// How to reach a group.
#[derive(Args, Clone)]
#[command(group(ArgGroup::new("how").required(true).args(["server", "lan"])))]
pub struct GroupOpts {
    /// The groupspec (`G:...`, see `rtmfp groupspec`).
    #[arg(long = "group")]
    pub groupspec: String,
    /// Bootstrap through this rendezvous server (`rtmfp://host[:port]/app`).
    #[arg(long)]
    pub server: Option<String>,
    /// No server: find members by LAN discovery (the groupspec needs `--ip-multicast`).
    #[arg(long)]
    pub lan: bool,
    /// IPv4 interface for LAN discovery (e.g. 127.0.0.1 for one machine).
    #[arg(long, default_value = "0.0.0.0")]
    pub interface: Ipv4Addr,
    /// Local UDP address.
    #[arg(long, default_value = "0.0.0.0:0")]
    pub bind: SocketAddr,
    /// Identity file (peer ID kept across runs). Default: a fresh identity.
    #[arg(long)]
    pub identity: Option<PathBuf>,
    /// Divide the group engine's maintenance timers by this factor (faster convergence for
    /// small test groups).
    #[arg(long, default_value_t = 1)]
    pub timer_scale: u32,
}

impl GroupOpts {
    /// Starts a node as the options say (with `group` as the engine settings, `None`: the
    /// scaled defaults) and joins the group. Prints the node's identity to stderr.
    ///
    /// Errors: a bad groupspec, `--lan` without an IP multicast address in the groupspec,
    /// identity file, connection or join failures.
    pub async fn join(
        &self,
        group: Option<GroupConfig>,
    ) -> Result<(Node, NetGroup), Box<dyn std::error::Error>> {
        let spec: GroupSpecifier = self.groupspec.parse()?;
        if self.lan && spec.ip_multicast_addresses().is_empty() {
            return Err("--lan needs a groupspec with an IP multicast address (rtmfp groupspec --ip-multicast 224.0.0.254:30000)".into());
        }
        let config = NodeConfig {
            bind: self.bind,
            group: group.unwrap_or_else(|| GroupConfig::scaled(self.timer_scale)),
            identity: match &self.identity {
                Some(p) => Some(rtmfp_node::identity::load_or_create(Some(p))?),
                None => None,
            },
            lan: (self.lan || spec.ip_multicast_member_updates_enabled()).then_some(LanOptions {
                interface: self.interface,
                ..LanOptions::default()
            }),
            ..NodeConfig::default()
        };
        let node = match &self.server {
            Some(url) => Node::connect_with(url, config).await?,
            None => Node::lan_with(config).await?,
        };
        eprintln!("peer-id {}", node.peer_id());
        eprintln!("local-address {}", node.local_addr());
        let group = node.join(&spec).await?;
        eprintln!("group-id {}", hex::encode(group.id().0));
        Ok((node, group))
    }
}

/// Waits until `group` has at least `want` neighbours or `limit` passes; returns the count.
pub async fn wait_neighbors(
    group: &NetGroup,
    want: usize,
    limit: Duration,
) -> Result<usize, Box<dyn std::error::Error>> {
    let end = tokio::time::Instant::now() + limit;
    loop {
        let n = group.neighbor_count().await?;
        if n >= want || tokio::time::Instant::now() >= end {
            return Ok(n);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
