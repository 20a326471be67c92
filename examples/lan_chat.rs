//! Serverless LAN chat: members of an `rtmfp:` group find each other by IP multicast
//! announcements (`ipMulticastMemberUpdatesEnabled` + `addIPMulticastAddress`), open direct
//! sessions, and post to each other. No rendezvous server anywhere.
//!
//! Run it on two or more machines of one LAN (or twice on one machine):
//!
//! ```text
//! cargo run --release --example lan_chat            # default interface
//! cargo run --release --example lan_chat 127.0.0.1  # one machine: loopback multicast
//! ```

#[path = "support/chat_loop.rs"]
mod chat_loop;

use std::net::Ipv4Addr;

use rtmfp_netgroup::GroupSpecifier;
use rtmfp_node::{LanOptions, Node, NodeConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let interface: Ipv4Addr = match std::env::args().nth(1) {
        Some(a) => a.parse()?,
        None => Ipv4Addr::UNSPECIFIED,
    };
    let bind = if interface.is_loopback() {
        "127.0.0.1:0"
    } else {
        "0.0.0.0:0"
    };
    let node = Node::lan_with(NodeConfig {
        bind: bind.parse()?,
        lan: Some(LanOptions {
            interface,
            ..LanOptions::default()
        }),
        ..NodeConfig::default()
    })
    .await?;
    let mut spec = GroupSpecifier::new("lan chat example")?;
    spec.set_posting_enabled(true);
    spec.set_ip_multicast_member_updates_enabled(true);
    spec.add_ip_multicast_address("224.0.0.254:30000", None, None)?;
    let group = node.join(&spec).await?;
    println!(
        "{} on {}; type a line to post it",
        node.peer_id(),
        node.local_addr()
    );
    chat_loop::chat(group).await
}
