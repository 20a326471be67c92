//! A tiny distributed hash table over directed routing (Flash `sendToNearest` with receive
//! mode NEAREST): the member whose group address is nearest `SHA-256(key)` stores the key.
//! Self-contained: an embedded rendezvous server and 12 members over loopback UDP; it stores
//! 50 keys from random members, reads them back from other random members and reports where
//! each key lives.
//!
//! ```text
//! cargo run --release --example dht
//! ```

use std::collections::HashMap;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rtmfp_netgroup::{GroupAddress, GroupConfig, GroupEvent, GroupSpecifier, ReceiveMode};
use rtmfp_node::{NetGroup, Node, NodeConfig};
use sha2::{Digest, Sha256};
use tokio::sync::{mpsc, oneshot};

const MEMBERS: usize = 12;
const KEYS: usize = 50;

fn key_address(key: &str) -> GroupAddress {
    GroupAddress(Sha256::digest(key.as_bytes()).into())
}

enum Cmd {
    Put(String, String),
    Get(String, oneshot::Sender<Option<String>>),
}

/// One member: serves its share of the table and runs the commands of `main`.
async fn member(
    index: usize,
    me: GroupAddress,
    mut group: NetGroup,
    mut cmds: mpsc::Receiver<Cmd>,
) {
    let mut table: HashMap<String, String> = HashMap::new();
    let mut waiting: HashMap<String, oneshot::Sender<Option<String>>> = HashMap::new();
    loop {
        tokio::select! {
            cmd = cmds.recv() => match cmd {
                Some(Cmd::Put(k, v)) => {
                    let msg = format!("PUT {k}\n{v}");
                    let _ = group.send_to_nearest(msg.as_bytes(), key_address(&k)).await;
                }
                Some(Cmd::Get(k, reply)) => {
                    let msg = format!("GET {k}\n{}", hex::encode(me.0));
                    waiting.insert(k.clone(), reply);
                    let _ = group.send_to_nearest(msg.as_bytes(), key_address(&k)).await;
                }
                None => return,
            },
            ev = group.next_event() => {
                let Some(GroupEvent::SendToNotify(n)) = ev else {
                    if ev.is_none() { return; }
                    continue;
                };
                if !n.at_destination {
                    continue;
                }
                let text = String::from_utf8_lossy(&n.message).to_string();
                let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
                if let Some(k) = head.strip_prefix("PUT ") {
                    table.insert(k.to_string(), body.to_string());
                    println!("  member {index:2} stores {k:?} ({} hops)", n.hops);
                } else if let Some(k) = head.strip_prefix("GET ") {
                    let answer = match table.get(k) {
                        Some(v) => format!("VAL {k}\n{v}"),
                        None => format!("NONE {k}\n"),
                    };
                    if let Ok(Ok(addr)) = hex::decode(body).map(<[u8; 32]>::try_from) {
                        let _ = group.send_to_nearest(answer.as_bytes(), GroupAddress(addr)).await;
                    }
                } else if let Some(k) = head.strip_prefix("VAL ") {
                    if let Some(r) = waiting.remove(k) {
                        let _ = r.send(Some(body.to_string()));
                    }
                } else if let Some(k) = head.strip_prefix("NONE ") {
                    if let Some(r) = waiting.remove(k) {
                        let _ = r.send(None);
                    }
                }
            }
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut rng = rand_chacha::ChaCha20Rng::from_entropy();
    let (url, _server) = rtmfp_node::spawn_embedded_server("127.0.0.1:0".parse()?, "dht").await?;

    let mut spec = GroupSpecifier::new("dht example")?;
    spec.set_routing_enabled(true);
    spec.set_server_channel_enabled(true);
    spec.make_unique(&mut rng);
    let mut nodes = Vec::new();
    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let node = Node::connect_with(
            &url,
            NodeConfig {
                bind: "127.0.0.1:0".parse()?,
                group: GroupConfig {
                    receive_mode: ReceiveMode::Nearest,
                    auto_forward: true,
                    ..GroupConfig::scaled(10)
                },
                ..NodeConfig::default()
            },
        )
        .await?;
        let group = node.join(&spec).await?;
        let (tx, rx) = mpsc::channel(16);
        // Wait for convergence before handing the group to its task.
        members.push((tx, node.group_address()));
        nodes.push((node, Some((group, rx))));
        println!("member {i:2} at {}", members[i].1);
    }
    // Let the mesh form: with 12 members everyone becomes everyone's neighbour.
    for (_, g) in &nodes {
        let (group, _) = g.as_ref().expect("not yet moved");
        for _ in 0..100 {
            if group.read(|g| g.neighbor_count()).await? >= MEMBERS - 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    for (i, (node, g)) in nodes.iter_mut().enumerate() {
        let (group, rx) = g.take().expect("once");
        tokio::spawn(member(i, node.group_address(), group, rx));
    }

    println!("storing {KEYS} keys");
    for k in 0..KEYS {
        let from = rng.gen_range(0..MEMBERS);
        members[from]
            .0
            .send(Cmd::Put(format!("key-{k}"), format!("value {k}")))
            .await?;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut found = 0;
    for k in 0..KEYS {
        let from = rng.gen_range(0..MEMBERS);
        let (tx, rx) = oneshot::channel();
        members[from]
            .0
            .send(Cmd::Get(format!("key-{k}"), tx))
            .await?;
        match tokio::time::timeout(Duration::from_secs(5), rx).await {
            Ok(Ok(Some(v))) if v == format!("value {k}") => found += 1,
            other => println!("key-{k}: {other:?}"),
        }
    }
    println!("read back {found}/{KEYS} keys from random members");
    if found != KEYS {
        return Err("some keys were not found".into());
    }
    Ok(())
}
