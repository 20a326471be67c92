//! How a command-line node reaches a group (shared by `rtmfp join`, `share` and `fetch`):
//! through a rendezvous server or by LAN discovery, with a local address, an optional
//! identity file and a timer scale.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use clap::{ArgGroup, Args};
use rtmfp_netgroup::{GroupConfig, GroupSpecifier};
use rtmfp_node::{LanOptions, Node, NodeConfig};

/// Options that start the node of a group member.
#[derive(Args)]
#[command(group(ArgGroup::new("how").required(true).args(["server", "lan"])))]
pub struct MemberArgs {
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

impl MemberArgs {
    /// The group engine settings these options imply (timers scaled by `--timer-scale`).
    pub fn group_config(&self) -> GroupConfig {
        GroupConfig::scaled(self.timer_scale)
    }

    /// The flags that reach the same group from another command line (`--server <url>` or
    /// `--lan [--interface <ip>]`).
    pub fn how(&self) -> String {
        match &self.server {
            Some(url) => format!("--server {url}"),
            None if self.interface.is_unspecified() => "--lan".to_string(),
            None => format!("--lan --interface {}", self.interface),
        }
    }

    /// Starts the node for a member of `spec`'s group with `group` settings: connected to
    /// the server, or on the LAN.
    ///
    /// Errors: bad options (`--lan` without an IP multicast address in the groupspec), the
    /// identity file, the connection.
    pub async fn start(
        &self,
        spec: &GroupSpecifier,
        group: GroupConfig,
    ) -> Result<Node, Box<dyn std::error::Error>> {
        if self.lan && spec.ip_multicast_addresses().is_empty() {
            return Err("--lan needs a groupspec with an IP multicast address (rtmfp groupspec --ip-multicast 224.0.0.254:30000)".into());
        }
        let config = NodeConfig {
            bind: self.bind,
            group,
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
        Ok(match &self.server {
            Some(url) => Node::connect_with(url, config).await?,
            None => Node::lan_with(config).await?,
        })
    }
}
