//! `rtmfp demo`, the main job: an embedded rendezvous server and a swarm of NetGroup nodes
//! (default 16) as tasks over real loopback UDP with Flash crypto. They join one group, post,
//! route to the nearest member of random addresses, replicate a generated 16 MB file to every
//! member ([`replicate`]) and stream one minute at 500 kbit/s through the swarm ([`stream`]);
//! the demo prints a short report: join time, neighbour counts, delivery of every post to
//! every member, routing success and hops, replication time, stream continuity and lag.

mod replicate;
mod stream;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use clap::Args;
use rand::{Rng, RngCore, SeedableRng};
use rtmfp::{Config, FlashProfile};
use rtmfp_flash::netconnection::ClientConfig;
use rtmfp_flash::FlashNode;
use rtmfp_netgroup::{
    GroupAddress, GroupConfig, GroupEvent, GroupHandle, GroupMut, GroupNode, GroupSpecifier,
    PeerId, ReceiveMode, SendResult,
};
use tokio::sync::mpsc;

/// Options of `rtmfp demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Nodes in the swarm.
    #[arg(long, default_value_t = 16)]
    nodes: usize,
    /// Posts, each from a random node.
    #[arg(long, default_value_t = 8)]
    posts: usize,
    /// `sendToNearest` messages to random addresses, each from a random node.
    #[arg(long, default_value_t = 16)]
    routes: usize,
    /// Give up waiting for any phase after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    /// Megabytes (10^6 bytes) replicated from one member to all others (0: skip).
    #[arg(long, default_value_t = 16)]
    replicate_mb: usize,
    /// Seconds of the 500 kbit/s multicast stream (0: skip).
    #[arg(long, default_value_t = 60)]
    stream_secs: u64,
    /// Bit rate of the stream, kbit/s.
    #[arg(long, default_value_t = 500)]
    stream_kbps: u64,
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            nodes: 16,
            posts: 8,
            routes: 16,
            timeout: 60,
            replicate_mb: 16,
            stream_secs: 60,
            stream_kbps: 500,
        }
    }
}

type Handle = rtmfp_node::Handle<GroupNode>;
/// Every node's events, tagged with the node's index.
type Rx = mpsc::Receiver<(usize, GroupEvent)>;

/// The error of a call on a group a member is no longer in (the demo never leaves one).
const LEFT: &str = "a demo member left the group";

/// Runs `f` on joined group `group` of the member behind `h`.
async fn on_group<R: Send + 'static>(
    h: &Handle,
    group: GroupHandle,
    f: impl FnOnce(GroupMut<'_>) -> R + Send + 'static,
) -> Result<R, Box<dyn std::error::Error>> {
    let r = h.call(move |g, now| g.group_mut(now, group).map(f)).await?;
    Ok(r.ok_or(LEFT)?)
}

fn seed(rng: &mut impl RngCore) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

pub async fn run(args: DemoArgs) -> Result<(), Box<dyn std::error::Error>> {
    let n = args.nodes.max(2);
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    let loopback: SocketAddr = "127.0.0.1:0".parse()?;
    let (url, server_handle) = rtmfp_node::spawn_embedded_server(loopback, "demo").await?;
    let server_addr = server_handle.local_addr();
    let mut spec = GroupSpecifier::new("demo")?;
    spec.set_posting_enabled(true);
    spec.set_routing_enabled(true);
    spec.set_server_channel_enabled(true);
    spec.set_object_replication_enabled(true);
    spec.set_multicast_enabled(true);
    spec.make_unique(&mut rng);
    println!(
        "rendezvous server {server_addr}, group {}",
        hex::encode(&spec.group_id()[..8])
    );

    // Maintenance timers ten times faster than Flash's, so the demo converges in seconds.
    let config = GroupConfig {
        auto_forward: true,
        ..GroupConfig::scaled(10)
    };
    let (tx, mut rx) = mpsc::channel::<(usize, GroupEvent)>(4096);
    let mut nodes: Vec<(Handle, PeerId, GroupAddress)> = Vec::new();
    let t0 = Instant::now();
    for i in 0..n {
        let flash = FlashNode::new(
            Config::default(),
            Box::new(FlashProfile::client(&mut rng)),
            seed(&mut rng),
            ClientConfig::default(),
        );
        let node = GroupNode::new(flash, config.clone(), seed(&mut rng));
        let (peer_id, address) = (node.peer_id(), node.group_address());
        let (handle, mut events) = rtmfp_node::spawn_machine(loopback, node, 1024).await?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while let Some(e) = events.recv().await {
                if tx.send((i, e)).await.is_err() {
                    break;
                }
            }
        });
        nodes.push((handle, peer_id, address));
    }
    drop(tx);
    let mut group: Option<GroupHandle> = None;
    for (h, ..) in &nodes {
        let (url, addr, spec) = (url.clone(), server_addr, spec.clone());
        let g = h
            .call(move |g, now| -> Result<GroupHandle, String> {
                g.connect(now, &url, &[addr]).map_err(|e| e.to_string())?;
                let group = g.join(now, &spec).map_err(|e| e.to_string())?;
                // Key routing: the member nearest an address takes messages sent to it.
                if let Some(mut v) = g.group_mut(now, group) {
                    v.set_receive_mode(ReceiveMode::Nearest);
                }
                Ok(group)
            })
            .await??;
        group = Some(g);
    }
    // `n` is at least 2, so every run has joined a group here; say so rather than panic.
    let group = group.ok_or("the demo needs at least two nodes")?;
    let deadline = Duration::from_secs(args.timeout);

    // Phase 1: everyone has a neighbour, then neighbour counts settle.
    let mut first_neighbor: BTreeMap<usize, Duration> = BTreeMap::new();
    let mut delivered: BTreeMap<[u8; 32], BTreeMap<usize, u32>> = BTreeMap::new();
    let mut routed: Vec<(usize, GroupAddress, u8)> = Vec::new();
    let wanted = (n - 1).min(6);
    loop {
        let counts = neighbor_counts(&nodes, group).await?;
        if counts.iter().all(|c| *c >= wanted) {
            break;
        }
        if t0.elapsed() > deadline {
            return Err(format!("swarm did not converge: neighbour counts {counts:?}").into());
        }
        drain(&mut rx, Duration::from_millis(100), |i, e| {
            note(i, e, t0, &mut first_neighbor, &mut delivered, &mut routed)
        })
        .await;
    }
    let joined = t0.elapsed();
    let counts = neighbor_counts(&nodes, group).await?;
    let estimates: Vec<f64> = {
        let mut v = Vec::new();
        for (h, ..) in &nodes {
            v.push(
                h.call(move |g, _| g.group(group).map_or(0.0, |v| v.estimated_member_count()))
                    .await?,
            );
        }
        v
    };

    // Phase 2: posts from random nodes reach every other member exactly once.
    let mut ids = Vec::new();
    for k in 0..args.posts {
        let from = rng.gen_range(0..n);
        let text = format!("post {k} from node {from}");
        let id = nodes[from]
            .0
            .call(move |g, now| g.group_mut(now, group).map(|mut v| v.post(text.as_bytes())))
            .await?
            .ok_or(LEFT)??;
        ids.push((id, from));
    }
    let t_post = Instant::now();
    while !all_delivered(&ids, &delivered, n) && t_post.elapsed() < deadline {
        drain(&mut rx, Duration::from_millis(50), |i, e| {
            note(i, e, t0, &mut first_neighbor, &mut delivered, &mut routed)
        })
        .await;
    }
    let post_time = t_post.elapsed();

    // Phase 3: sendToNearest to random addresses; the member that receives must be the nearest.
    let mut targets = Vec::new();
    for _ in 0..args.routes {
        let from = rng.gen_range(0..n);
        let mut a = [0u8; 32];
        rng.fill_bytes(&mut a);
        let address = GroupAddress(a);
        targets.push(address);
        let r = nodes[from]
            .0
            .call(move |g, now| {
                g.group_mut(now, group)
                    .map(|mut v| v.send_to_nearest(b"lookup", address))
            })
            .await?
            .ok_or(LEFT)??;
        if r == SendResult::Local {
            // This node is itself the nearest: Flash delivers it locally.
            routed.push((from, address, 0));
        }
    }
    let t_route = Instant::now();
    while routed.len() < targets.len() && t_route.elapsed() < Duration::from_secs(10) {
        drain(&mut rx, Duration::from_millis(50), |i, e| {
            note(i, e, t0, &mut first_neighbor, &mut delivered, &mut routed)
        })
        .await;
    }
    let addresses: Vec<GroupAddress> = nodes.iter().map(|(_, _, a)| *a).collect();
    let mut correct = 0;
    let mut hops = Vec::new();
    for (i, dest, h) in &routed {
        let nearest = addresses
            .iter()
            .enumerate()
            .min_by_key(|(_, a)| a.distance(dest))
            .map(|(j, _)| j);
        if nearest == Some(*i) {
            correct += 1;
        }
        hops.push(*h);
    }

    // Report.
    let exactly_once = ids.iter().all(|(id, from)| {
        delivered.get(id).is_some_and(|by| {
            (0..n).filter(|j| j != from).all(|j| by.get(&j) == Some(&1)) && !by.contains_key(from)
        })
    });
    let duplicates: u32 = delivered
        .values()
        .flat_map(|by| by.values())
        .map(|c| c.saturating_sub(1))
        .sum();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let first: Vec<f64> = first_neighbor.values().map(|d| d.as_secs_f64()).collect();
    println!("nodes {n}");
    println!(
        "join: first neighbour after {:.2} s on average, all nodes with ≥{wanted} neighbours after {:.2} s",
        mean(&first),
        joined.as_secs_f64()
    );
    println!(
        "neighbours per node: min {} mean {:.1} max {}; estimatedMemberCount mean {:.1} (truth {n})",
        counts.iter().min().unwrap_or(&0),
        mean(&counts.iter().map(|c| *c as f64).collect::<Vec<_>>()),
        counts.iter().max().unwrap_or(&0),
        mean(&estimates)
    );
    println!(
        "posting: {} posts, every member got each exactly once: {exactly_once}; duplicates {duplicates}; all delivered in {:.0} ms",
        ids.len(),
        post_time.as_secs_f64() * 1e3
    );
    let mean_hops = mean(&hops.iter().map(|h| *h as f64).collect::<Vec<_>>());
    println!(
        "routing: {}/{} sendToNearest delivered, {correct} at the truly nearest member, mean hops {mean_hops:.2}, max {}",
        routed.len(),
        targets.len(),
        hops.iter().max().unwrap_or(&0)
    );
    if !exactly_once || correct != targets.len() {
        return Err("demo checks failed".into());
    }
    let handles: Vec<Handle> = nodes.iter().map(|(h, ..)| h.clone()).collect();
    if args.replicate_mb > 0 {
        replicate::run(&handles, group, &mut rx, args.replicate_mb, deadline).await?;
    }
    if args.stream_secs > 0 {
        stream::run(&handles, group, &mut rx, args.stream_secs, args.stream_kbps).await?;
    }
    Ok(())
}

/// Waits up to `wait` for events, then takes every queued one.
async fn drain_all(rx: &mut Rx, wait: Duration) -> Vec<(usize, GroupEvent)> {
    let mut v = Vec::new();
    drain(rx, wait, |i, e| v.push((i, e))).await;
    v
}

async fn neighbor_counts(
    nodes: &[(Handle, PeerId, GroupAddress)],
    group: GroupHandle,
) -> Result<Vec<usize>, rtmfp_node::DriverError> {
    let mut out = Vec::with_capacity(nodes.len());
    for (h, ..) in nodes {
        out.push(
            h.call(move |g, _| g.group(group).map_or(0, |v| v.neighbor_count()))
                .await?,
        );
    }
    Ok(out)
}

async fn drain(rx: &mut Rx, wait: Duration, mut f: impl FnMut(usize, GroupEvent)) {
    if let Ok(Some((i, e))) = tokio::time::timeout(wait, rx.recv()).await {
        f(i, e);
        while let Ok((i, e)) = rx.try_recv() {
            f(i, e);
        }
    }
}

fn note(
    i: usize,
    e: GroupEvent,
    t0: Instant,
    first_neighbor: &mut BTreeMap<usize, Duration>,
    delivered: &mut BTreeMap<[u8; 32], BTreeMap<usize, u32>>,
    routed: &mut Vec<(usize, GroupAddress, u8)>,
) {
    match e {
        GroupEvent::NeighborConnect { .. } => {
            first_neighbor.entry(i).or_insert_with(|| t0.elapsed());
        }
        GroupEvent::PostingNotify { message_id, .. } => {
            *delivered
                .entry(message_id)
                .or_default()
                .entry(i)
                .or_default() += 1;
        }
        GroupEvent::SendToNotify(s) if s.at_destination && !s.from_local => {
            if let Some(d) = s.destination {
                routed.push((i, d, s.hops));
            }
        }
        _ => {}
    }
}

fn all_delivered(
    ids: &[([u8; 32], usize)],
    delivered: &BTreeMap<[u8; 32], BTreeMap<usize, u32>>,
    n: usize,
) -> bool {
    ids.iter().all(|(id, from)| {
        delivered
            .get(id)
            .is_some_and(|by| (0..n).filter(|j| j != from).all(|j| by.contains_key(&j)))
    })
}
