//! `rtmfp`: the command-line front end: rendezvous server, NetConnection client, peer IDs and
//! the demo.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "rtmfp", about = "RTMFP Groups node, server and tools")]
struct Cli {
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Subcommand)]
enum Cmd {
    /// The main job: an embedded rendezvous server and a NetGroup swarm over loopback UDP;
    /// join, post, route; prints a report.
    Demo(cli::demo::DemoArgs),
    /// Two endpoints on 127.0.0.1 with Flash crypto: handshake, then a bulk transfer.
    Transfer {
        /// Megabytes to transfer.
        #[arg(long, default_value_t = 32)]
        megabytes: usize,
    },
    /// Run a rendezvous server: NetConnections, peer introduction, group bootstrap.
    Server(cli::server::ServerArgs),
    /// Print this node's peer ID (from its identity file, created if missing).
    PeerId {
        /// Identity file (the DH key behind the peer ID).
        #[arg(long, default_value = "rtmfp-identity.key")]
        identity: PathBuf,
    },
    /// Connect to a server (`rtmfp://host[:port]/app`), print statuses and identities, and stay
    /// until Ctrl-C; with `--peer`, open a peer-to-peer session and exchange a message.
    Connect(cli::connect::ConnectArgs),
    /// Build a GroupSpecifier string from flags (or describe one with `--parse`).
    Groupspec(cli::groupspec::GroupspecArgs),
    /// Join a group through a server (`--server rtmfp://host/app`) or the LAN (`--lan`), print
    /// its events and chat: stdin lines are posted, `/nearest <address> <text>` routes.
    Join(cli::join::JoinArgs),
    /// Publish a multicast stream into a group from a file (FLV at its timestamps, anything
    /// else at `--rate` kbit/s).
    Publish(cli::publish::PublishArgs),
    /// Play a multicast stream of a group into a file; prints continuity and lag.
    Play(cli::play::PlayArgs),
    /// Share a file in a group (object replication): print its manifest ID and serve it.
    Share(cli::share::ShareArgs),
    /// Fetch a shared file by manifest ID (or manifest file), with a progress bar; exit 0
    /// only when its SHA-256 matches.
    Fetch(cli::fetch::FetchArgs),
}

/// Default UDP port of RTMFP servers.
pub const DEFAULT_PORT: u16 = rtmfp_node::DEFAULT_PORT;

/// Default bind address of the server.
pub fn default_bind() -> SocketAddr {
    SocketAddr::from(([0, 0, 0, 0], DEFAULT_PORT))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    // The server logs at info by default; the other commands print their own report.
    let default_level = match cli.command {
        Some(Cmd::Server(_)) => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli
        .command
        .unwrap_or(Cmd::Demo(cli::demo::DemoArgs::default()))
    {
        Cmd::Demo(args) => cli::demo::run(args).await,
        Cmd::Transfer { megabytes } => cli::transfer::run(megabytes).await,
        Cmd::Server(args) => cli::server::run(args).await,
        Cmd::PeerId { identity } => {
            let profile = rtmfp_node::identity::load_or_create(Some(&identity))?;
            println!(
                "{}",
                hex::encode(rtmfp::CryptoProfile::fingerprint(&profile))
            );
            Ok(())
        }
        Cmd::Connect(args) => cli::connect::run(args).await,
        Cmd::Groupspec(args) => cli::groupspec::run(args),
        Cmd::Join(args) => cli::join::run(args).await,
        Cmd::Publish(args) => cli::publish::run(args).await,
        Cmd::Play(args) => cli::play::run(args).await,
        Cmd::Share(args) => cli::share::run(args).await,
        Cmd::Fetch(args) => cli::fetch::run(args).await,
    }
}
