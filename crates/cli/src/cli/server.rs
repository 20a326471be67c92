//! `rtmfp server`: the rendezvous server over UDP, with a periodic stats line.

use std::net::SocketAddr;
use std::time::Duration;

use clap::Args;
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousEvent};

/// Options of `rtmfp server`.
#[derive(Args)]
pub struct ServerArgs {
    /// UDP address to listen on.
    #[arg(long, default_value_t = crate::default_bind())]
    bind: SocketAddr,
    /// Accept only these application paths (repeatable); default: any.
    #[arg(long = "app")]
    apps: Vec<String>,
    /// Most sessions (clients plus handshakes in progress).
    #[arg(long, default_value_t = 10_000)]
    max_sessions: usize,
    /// Most groups.
    #[arg(long, default_value_t = 10_000)]
    max_groups: usize,
    /// Seconds between stats lines (0: none).
    #[arg(long, default_value_t = 10)]
    stats_interval: u64,
}

pub async fn run(args: ServerArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut config = RendezvousConfig::default();
    config.endpoint.max_sessions = args.max_sessions;
    config.max_groups = args.max_groups;
    if !args.apps.is_empty() {
        config.net_connection.applications = Some(args.apps.clone());
    }
    let (handle, mut events) = rtmfp_node::spawn_rendezvous_server(args.bind, config, 4096).await?;
    let peer_id = handle.call(|s, _| s.peer_id()).await?;
    // Machine-readable first line: tests and scripts read the bound address from it.
    println!("listening {} peer-id {}", handle.local_addr(), peer_id);
    tracing::info!(addr = %handle.local_addr(), %peer_id, "rendezvous server listening");
    let mut tick = tokio::time::interval(Duration::from_secs(args.stats_interval.max(1)));
    tick.tick().await;
    let mut last_handshakes = 0u64;
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(RendezvousEvent::PeerIntroduced { target, initiator }) => {
                    tracing::info!(%target, %initiator, "introduced");
                }
                Some(RendezvousEvent::Joined { peer_id, group_id, introduced }) => {
                    tracing::info!(peer = %peer_id, group = %hex::encode(&group_id[..8]), introduced, "joined group");
                }
                Some(RendezvousEvent::JoinRefused { peer_id, reason }) => {
                    tracing::warn!(peer = %peer_id, %reason, "join refused");
                }
                Some(RendezvousEvent::ClientRejected { app }) => {
                    tracing::info!(%app, "connect rejected");
                }
                Some(_) => {}
                None => return Ok(()),
            },
            _ = tick.tick(), if args.stats_interval > 0 => {
                let s = handle.call(|srv, _| (srv.stats(), srv.endpoint().session_count())).await?;
                let (stats, sessions) = s;
                let rate = (stats.handshakes - last_handshakes) as f64 / args.stats_interval as f64;
                last_handshakes = stats.handshakes;
                tracing::info!(
                    sessions,
                    clients = stats.clients,
                    groups = stats.groups,
                    memberships = stats.memberships,
                    handshakes_per_s = format!("{rate:.1}"),
                    introductions = stats.peer_introductions,
                    group_introductions = stats.group_introductions,
                    "stats"
                );
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
