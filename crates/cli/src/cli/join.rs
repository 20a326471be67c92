//! `rtmfp join <groupspec> --server rtmfp://host/app | --lan`: joins a group and chats:
//! stdin lines are posted (`/nearest <address> <text>` routes, `/neighbors`, `/info`, `/quit`),
//! group events are printed one per line; `--post` / `--send-nearest` send once the node has
//! neighbours (scripting).

use std::time::Duration;

use clap::{Args, ValueEnum};
use rtmfp_netgroup::{GroupAddress, GroupConfig, GroupEvent, GroupSpecifier, ReceiveMode};
use rtmfp_node::NetGroup;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::member::MemberArgs;

/// Receive mode of `sendToNearest` messages (Flash `NetGroupReceiveMode`).
#[derive(Clone, Copy, ValueEnum)]
enum Mode {
    /// Take messages addressed to exactly our group address.
    Exact,
    /// Take messages for which we are the nearest member.
    Nearest,
}

/// Options of `rtmfp join`.
#[derive(Args)]
pub struct JoinArgs {
    /// The groupspec (`G:...`, see `rtmfp groupspec`).
    groupspec: String,
    #[command(flatten)]
    member: MemberArgs,
    /// Post this message once the node has neighbours (repeatable).
    #[arg(long)]
    post: Vec<String>,
    /// `sendToNearest`: `<64-hex group address>=<message>`, once the node has neighbours
    /// (repeatable).
    #[arg(long = "send-nearest")]
    send_nearest: Vec<String>,
    /// Neighbours to wait for before `--post` / `--send-nearest`.
    #[arg(long, default_value_t = 1)]
    wait_neighbors: usize,
    /// Receive mode.
    #[arg(long, value_enum, default_value_t = Mode::Nearest)]
    receive_mode: Mode,
    /// Exit after this many seconds (default: run until Ctrl-C or `/quit`).
    #[arg(long)]
    exit_after: Option<u64>,
}

fn parse_address(s: &str) -> Result<GroupAddress, String> {
    let bytes = hex::decode(s.trim()).map_err(|e| format!("bad group address {s}: {e}"))?;
    let a: [u8; 32] = bytes
        .try_into()
        .map_err(|_| format!("a group address is 64 hex characters: {s}"))?;
    Ok(GroupAddress(a))
}

fn print_event(e: &GroupEvent) {
    match e {
        GroupEvent::ConnectSuccess { .. } => println!("NetGroup.Connect.Success"),
        GroupEvent::ConnectRejected { reason, .. } => {
            println!("NetGroup.Connect.Rejected {reason}")
        }
        GroupEvent::ConnectFailed { reason, .. } => println!("NetGroup.Connect.Failed {reason}"),
        GroupEvent::NeighborConnect { peer_id, .. } => {
            println!("NetGroup.Neighbor.Connect {peer_id}")
        }
        GroupEvent::NeighborDisconnect { peer_id, .. } => {
            println!("NetGroup.Neighbor.Disconnect {peer_id}")
        }
        GroupEvent::PostingNotify { message, .. } => {
            println!("post {}", String::from_utf8_lossy(message))
        }
        GroupEvent::SendToNotify(s) if s.at_destination => println!(
            "sendto from {} hops {} local {}: {}",
            s.from,
            s.hops,
            s.from_local,
            String::from_utf8_lossy(&s.message)
        ),
        _ => {}
    }
}

async fn send_scripted(group: &NetGroup, a: &JoinArgs) -> Result<(), Box<dyn std::error::Error>> {
    for m in &a.post {
        let id = group.post(m.as_bytes()).await?;
        println!("posted {}", hex::encode(id));
    }
    for s in &a.send_nearest {
        let (addr, msg) = s
            .split_once('=')
            .ok_or_else(|| format!("--send-nearest wants <address>=<message>: {s}"))?;
        let r = group
            .send_to_nearest(msg.as_bytes(), parse_address(addr)?)
            .await?;
        println!("send-nearest {r:?}");
    }
    Ok(())
}

/// One stdin command; returns `false` on `/quit`.
async fn command(group: &NetGroup, line: &str) -> Result<bool, Box<dyn std::error::Error>> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(true);
    }
    if line == "/quit" {
        return Ok(false);
    }
    if line == "/neighbors" {
        for (a, p) in group.read(|g| g.neighbors()).await? {
            println!("neighbor {p} address {a}");
        }
    } else if line == "/info" {
        println!(
            "neighborCount {} estimatedMemberCount {:.1} receiveMode {:?}",
            group.read(|g| g.neighbor_count()).await?,
            group.read(|g| g.estimated_member_count()).await?,
            group.read(|g| g.receive_mode()).await?
        );
    } else if let Some(rest) = line.strip_prefix("/nearest ") {
        let (addr, msg) = rest.split_once(' ').unwrap_or((rest, ""));
        let r = group
            .send_to_nearest(msg.as_bytes(), parse_address(addr)?)
            .await?;
        println!("send-nearest {r:?}");
    } else {
        let id = group.post(line.as_bytes()).await?;
        println!("posted {}", hex::encode(id));
    }
    Ok(true)
}

pub async fn run(a: JoinArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec: GroupSpecifier = a.groupspec.parse()?;
    let group = GroupConfig {
        auto_forward: true,
        receive_mode: match a.receive_mode {
            Mode::Exact => ReceiveMode::Exact,
            Mode::Nearest => ReceiveMode::Nearest,
        },
        ..a.member.group_config()
    };
    let node = a.member.start(&spec, group).await?;
    println!("peer-id {}", node.peer_id());
    println!("group-address {}", node.group_address());
    println!("local-address {}", node.local_addr());
    let mut group = node.join(&spec).await?;
    println!("group-id {}", hex::encode(group.id().0));

    let deadline = a
        .exit_after
        .map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
    let sleep = async {
        match deadline {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(sleep);
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    let mut stdin_open = true;
    let mut scripted = a.post.is_empty() && a.send_nearest.is_empty();
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            e = group.next_event() => match e {
                Some(e) => print_event(&e),
                None => return Err("node stopped".into()),
            },
            line = stdin.next_line(), if stdin_open => match line {
                Ok(Some(l)) => {
                    if !command(&group, &l).await.unwrap_or_else(|e| {
                        eprintln!("error: {e}");
                        true
                    }) {
                        break;
                    }
                }
                // Input closed (e.g. a pipe): keep serving the group.
                _ => stdin_open = false,
            },
            _ = tick.tick(), if !scripted => {
                if group.read(|g| g.neighbor_count()).await? >= a.wait_neighbors {
                    scripted = true;
                    send_scripted(&group, &a).await?;
                }
            }
            _ = &mut sleep => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    group.close().await?;
    Ok(())
}
