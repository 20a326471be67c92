//! The async NetGroup API over real UDP on loopback (issue 4): 16 nodes through an embedded
//! rendezvous server, 8 nodes through LAN discovery with no server, the posting password, a
//! member leaving.

use std::collections::{BTreeMap, HashMap};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use rand::{Rng, RngCore};
use rtmfp_netgroup::{GroupAddress, GroupEvent, GroupSpecifier, PeerId, PostError, SendResult};
use rtmfp_node::{LanOptions, NetGroup, Node, NodeConfig, NodeError};
use support::{node_config, server};
use tokio::time::Instant;

mod support;

fn spec(name: &str) -> GroupSpecifier {
    let mut s = GroupSpecifier::new(name).unwrap();
    s.set_posting_enabled(true);
    s.set_routing_enabled(true);
    s.set_server_channel_enabled(true);
    s.make_unique(&mut rand::thread_rng());
    s
}

/// Every event seen so far, per node.
type Log = Vec<Vec<GroupEvent>>;

/// Drains every group's events for `wait` (keeps the streams flowing).
async fn pump(groups: &mut [NetGroup], log: &mut Log, wait: Duration) {
    let end = Instant::now() + wait;
    loop {
        for (i, g) in groups.iter_mut().enumerate() {
            while let Some(e) = g.try_next_event() {
                log[i].push(e);
            }
        }
        if Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Pumps until `done` holds for the neighbour counts, or `limit` passes.
async fn converge(groups: &mut [NetGroup], log: &mut Log, want: usize, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let mut ok = true;
        for g in groups.iter() {
            if g.read(|g| g.neighbor_count()).await.unwrap() < want {
                ok = false;
            }
        }
        if ok {
            return true;
        }
        pump(groups, log, Duration::from_millis(100)).await;
    }
    false
}

fn post_count(log: &[GroupEvent], id: &[u8; 32]) -> usize {
    log.iter()
        .filter(|e| matches!(e, GroupEvent::PostingNotify { message_id, .. } if message_id == id))
        .count()
}

/// Waits until every node but `from` got post `id`, then a little longer to catch duplicates.
async fn deliver_post(groups: &mut [NetGroup], log: &mut Log, from: usize, id: &[u8; 32]) {
    let end = Instant::now() + Duration::from_secs(10);
    while Instant::now() < end
        && !(0..groups.len()).all(|i| i == from || post_count(&log[i], id) > 0)
    {
        pump(groups, log, Duration::from_millis(50)).await;
    }
    pump(groups, log, Duration::from_millis(300)).await;
    for (i, l) in log.iter().enumerate() {
        assert_eq!(
            post_count(l, id),
            usize::from(i != from),
            "node {i} delivered the post a wrong number of times"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_nodes_via_server_converge_post_route_and_replace_a_leaver() {
    let url = server().await;
    let n = 16;
    let spec = spec("sixteen");
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..n {
        let node = Node::connect_with(&url, node_config()).await.unwrap();
        groups.push(node.join(&spec).await.unwrap());
        nodes.push(node);
    }
    let mut log: Log = vec![Vec::new(); n];
    // 16 members: the target neighbour count (log2 N + 13) exceeds the group, so everyone
    // ends up connected to everyone.
    assert!(
        converge(&mut groups, &mut log, n - 1, Duration::from_secs(30)).await,
        "16 nodes did not converge"
    );
    for l in &log {
        assert!(matches!(l.first(), Some(GroupEvent::ConnectSuccess { .. })));
    }
    // Flash's estimator reads 4 ring gaps around each member: single values scatter, and even
    // the median over one random 16-member group misses ±30 % about 17 % of the time (the
    // unit tests check the 30 % bound over many groups). Here: the median is sane.
    let mut est = Vec::new();
    for g in &groups {
        est.push(g.read(|g| g.estimated_member_count()).await.unwrap());
    }
    est.sort_by(f64::total_cmp);
    let median = est[n / 2];
    assert!(
        (0.5 * n as f64..=2.5 * n as f64).contains(&median),
        "median estimate {median}: {est:?}"
    );

    // Posting: every member but the sender gets it exactly once.
    let id = groups[3].post(b"hello sixteen").await.unwrap();
    deliver_post(&mut groups, &mut log, 3, &id).await;
    // An identical message is filtered (Flash: identical posts are not sent twice).
    assert!(matches!(
        groups[4].post(b"hello sixteen").await,
        Err(NodeError::Post(PostError::Duplicate { .. }))
    ));

    // sendToNearest: the member nearest the address takes the message.
    let addresses: Vec<GroupAddress> = nodes.iter().map(|n| n.group_address()).collect();
    let mut rng = rand::thread_rng();
    for k in 0..8 {
        let mut a = [0u8; 32];
        rng.fill_bytes(&mut a);
        let dest = GroupAddress(a);
        let nearest = (0..n)
            .min_by_key(|&i| addresses[i].distance(&dest))
            .unwrap();
        let from = rng.gen_range(0..n);
        let msg = format!("lookup {k}");
        let r = groups[from]
            .send_to_nearest(msg.as_bytes(), dest)
            .await
            .unwrap();
        if r == SendResult::Local {
            assert_eq!(from, nearest, "a non-nearest node kept the message");
            continue;
        }
        let end = Instant::now() + Duration::from_secs(5);
        let got = loop {
            pump(&mut groups, &mut log, Duration::from_millis(50)).await;
            let hit = log.iter().position(|l| {
                l.iter().any(|e| {
                    matches!(e, GroupEvent::SendToNotify(s)
                    if s.at_destination && s.message.as_ref() == msg.as_bytes())
                })
            });
            if hit.is_some() || Instant::now() > end {
                break hit;
            }
        };
        assert_eq!(
            got,
            Some(nearest),
            "lookup {k} did not end at the nearest member"
        );
    }

    // A member leaves: its neighbours see it go and drop it from their best lists.
    let leaver = nodes[5].peer_id();
    let g5 = groups.remove(5);
    log.remove(5);
    g5.close().await.unwrap();
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        pump(&mut groups, &mut log, Duration::from_millis(100)).await;
        let mut gone = true;
        for g in &groups {
            let best = g.read(|g| g.best_list()).await.unwrap();
            let neighbors = g.read(|g| g.neighbors()).await.unwrap();
            if best.contains(&leaver) || neighbors.iter().any(|(_, p)| *p == leaver) {
                gone = false;
            }
        }
        if gone {
            break;
        }
        assert!(Instant::now() < end, "the leaver stayed in best lists");
    }
    for l in &log {
        assert!(l.iter().any(|e| matches!(e,
            GroupEvent::NeighborDisconnect { peer_id, .. } if *peer_id == leaver)));
    }
    for g in &groups {
        assert_eq!(g.read(|g| g.neighbor_count()).await.unwrap(), n - 2);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_without_the_posting_password_cannot_post() {
    let url = server().await;
    let mut full = spec("guarded");
    full.set_posting_password(Some("s3cret"), Some("salt"));
    let holder = GroupSpecifier::parse(&full.groupspec_with_authorizations()).unwrap();
    let outsider = GroupSpecifier::parse(&full.groupspec_without_authorizations()).unwrap();
    assert_eq!(holder.group_id(), outsider.group_id());
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for s in [&holder, &holder, &outsider] {
        let node = Node::connect_with(&url, node_config()).await.unwrap();
        groups.push(node.join(s).await.unwrap());
        nodes.push(node);
    }
    let mut log: Log = vec![Vec::new(); 3];
    assert!(converge(&mut groups, &mut log, 2, Duration::from_secs(20)).await);
    assert!(matches!(
        groups[2].post(b"let me in").await,
        Err(NodeError::Post(PostError::NotAuthorized))
    ));
    let id = groups[0].post(b"authorized").await.unwrap();
    deliver_post(&mut groups, &mut log, 0, &id).await;
    assert!(log.iter().flatten().all(|e| !matches!(e,
        GroupEvent::PostingNotify { message, .. } if message.as_ref() == b"let me in")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_nodes_find_each_other_on_the_lan_without_a_server() {
    let port = rand::thread_rng().gen_range(30_000..60_000);
    let group: SocketAddr = format!("224.0.0.254:{port}").parse().unwrap();
    if let Err(e) =
        rtmfp_node::lan::probe_multicast(group, Ipv4Addr::LOCALHOST, Duration::from_secs(2)).await
    {
        eprintln!("SKIPPED: the kernel refuses IP multicast on loopback ({e})");
        return;
    }
    let mut s = GroupSpecifier::new("lan chat").unwrap();
    s.set_posting_enabled(true);
    s.set_routing_enabled(true);
    s.set_ip_multicast_member_updates_enabled(true);
    s.add_ip_multicast_address(&group.to_string(), None, None)
        .unwrap();
    s.make_unique(&mut rand::thread_rng());
    let n = 8;
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..n {
        let node = Node::lan_with(NodeConfig {
            lan: Some(LanOptions {
                interface: Ipv4Addr::LOCALHOST,
                ..LanOptions::default()
            }),
            ..node_config()
        })
        .await
        .unwrap();
        groups.push(node.join(&s).await.unwrap());
        nodes.push(node);
    }
    let mut log: Log = vec![Vec::new(); n];
    assert!(
        converge(&mut groups, &mut log, n - 1, Duration::from_secs(30)).await,
        "the LAN swarm did not converge"
    );
    let peers: HashMap<PeerId, usize> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.peer_id(), i))
        .collect();
    for g in &groups {
        for (_, p) in g.read(|g| g.neighbors()).await.unwrap() {
            assert!(
                peers.contains_key(&p),
                "a neighbour that is not one of ours"
            );
        }
    }
    let id = groups[6].post(b"hello LAN").await.unwrap();
    deliver_post(&mut groups, &mut log, 6, &id).await;
    let mut counts: BTreeMap<usize, usize> = BTreeMap::new();
    for g in &groups {
        *counts
            .entry(g.read(|g| g.neighbor_count()).await.unwrap())
            .or_default() += 1;
    }
    assert_eq!(counts.get(&(n - 1)), Some(&n));
}

fn object(index: u64) -> bytes::Bytes {
    let mut v = vec![0u8; 64 * 1024];
    for (i, b) in v.iter_mut().enumerate() {
        *b = (index as usize * 31 + i * 7) as u8;
    }
    bytes::Bytes::from(v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_replicate_over_loopback_through_the_async_api() {
    let url = server().await;
    let mut s = spec("objects");
    s.set_object_replication_enabled(true);
    let n = 4;
    let objects = 16u64;
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..n {
        let node = Node::connect_with(&url, node_config()).await.unwrap();
        groups.push(node.join(&s).await.unwrap());
        nodes.push(node);
    }
    let mut log: Log = vec![Vec::new(); n];
    assert!(converge(&mut groups, &mut log, n - 1, Duration::from_secs(20)).await);
    groups[0]
        .with(move |mut g| g.replication().add_have_objects(0, objects - 1))
        .await
        .unwrap()
        .unwrap();
    for g in &groups[1..] {
        g.with(move |mut g| g.replication().add_want_objects(0, objects - 1))
            .await
            .unwrap()
            .unwrap();
    }
    let mut got: Vec<BTreeMap<u64, bytes::Bytes>> = vec![BTreeMap::new(); n];
    let end = Instant::now() + Duration::from_secs(20);
    while got[1..].iter().any(|m| m.len() < objects as usize) && Instant::now() < end {
        for i in 0..n {
            while let Some(e) = groups[i].try_next_event() {
                match e {
                    // Every member serves what it has (as Flash applications do).
                    GroupEvent::ReplicationRequest {
                        index, request_id, ..
                    } => {
                        let o = object(index);
                        groups[i]
                            .with(move |mut g| {
                                g.replication().write_requested_object(request_id, o)
                            })
                            .await
                            .unwrap()
                            .unwrap()
                    }
                    GroupEvent::ReplicationFetchResult { index, object, .. } => {
                        groups[i]
                            .with(move |mut g| g.replication().add_have_objects(index, index))
                            .await
                            .unwrap()
                            .unwrap();
                        assert!(got[i].insert(index, object).is_none(), "twice");
                    }
                    _ => {}
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for (i, m) in got.iter().enumerate().skip(1) {
        assert_eq!(
            m.len(),
            objects as usize,
            "node {i} has {} objects",
            m.len()
        );
        for (index, bytes) in m {
            assert_eq!(*bytes, object(*index), "node {i} object {index} corrupted");
        }
    }
}
