//! `rtmfp groupspec`: build a GroupSpecifier string (docs/protocol/netgroup.md, "GroupSpecifier")
//! from flags, or describe an existing one.

use std::net::SocketAddr;

use clap::Args;
use rtmfp_netgroup::{GroupSpecifier, PeerId};

/// Options of `rtmfp groupspec`.
#[derive(Args)]
pub struct GroupspecArgs {
    /// Group name.
    #[arg(long, default_value = "chat")]
    name: String,
    /// `postingEnabled`.
    #[arg(long)]
    posting: bool,
    /// `routingEnabled` (directed routing, `sendToNearest`).
    #[arg(long)]
    routing: bool,
    /// `objectReplicationEnabled`.
    #[arg(long)]
    replication: bool,
    /// `multicastEnabled` (NetStream multicast).
    #[arg(long)]
    multicast: bool,
    /// `serverChannelEnabled`: bootstrap through the rendezvous server.
    #[arg(long)]
    server_channel: bool,
    /// `ipMulticastMemberUpdatesEnabled` with this LAN discovery address (repeatable), e.g.
    /// `224.0.0.254:30000`.
    #[arg(long = "ip-multicast")]
    ip_multicast: Vec<SocketAddr>,
    /// `addBootstrapPeer` (repeatable).
    #[arg(long = "bootstrap-peer")]
    bootstrap: Vec<String>,
    /// `setPostingPassword`.
    #[arg(long)]
    posting_password: Option<String>,
    /// `setPublishPassword`.
    #[arg(long)]
    publish_password: Option<String>,
    /// `makeUnique`: add a random tag so the group is new.
    #[arg(long)]
    unique: bool,
    /// Describe this groupspec instead of building one.
    #[arg(long)]
    parse: Option<String>,
}

pub fn run(a: GroupspecArgs) -> Result<(), Box<dyn std::error::Error>> {
    if let Some(text) = &a.parse {
        let spec: GroupSpecifier = text.parse()?;
        println!("name {}", spec.name().unwrap_or_default());
        println!("group-id {}", hex::encode(spec.group_id()));
        println!("version {}", spec.min_groupspec_version());
        println!(
            "posting {} routing {} replication {} multicast {} server-channel {} lan {}",
            spec.posting_enabled(),
            spec.routing_enabled(),
            spec.object_replication_enabled(),
            spec.multicast_enabled(),
            spec.server_channel_enabled(),
            spec.ip_multicast_member_updates_enabled()
        );
        for m in spec.ip_multicast_addresses() {
            println!("ip-multicast {}", m.group);
        }
        for p in spec.bootstrap_peers() {
            println!("bootstrap-peer {p}");
        }
        return Ok(());
    }
    let mut spec = GroupSpecifier::new(&a.name)?;
    spec.set_posting_enabled(a.posting);
    spec.set_routing_enabled(a.routing);
    spec.set_object_replication_enabled(a.replication);
    spec.set_multicast_enabled(a.multicast);
    spec.set_server_channel_enabled(a.server_channel);
    if !a.ip_multicast.is_empty() {
        spec.set_ip_multicast_member_updates_enabled(true);
        for m in &a.ip_multicast {
            spec.add_ip_multicast_address(&m.ip().to_string(), Some(m.port()), None)?;
        }
    }
    for p in &a.bootstrap {
        spec.add_bootstrap_peer(&p.parse::<PeerId>()?);
    }
    if a.posting_password.is_some() {
        spec.set_posting_password(a.posting_password.as_deref(), None);
    }
    if a.publish_password.is_some() {
        spec.set_publish_password(a.publish_password.as_deref(), None);
    }
    if a.unique {
        spec.make_unique(&mut rand::thread_rng());
    }
    println!("{}", spec.groupspec_with_authorizations());
    Ok(())
}
