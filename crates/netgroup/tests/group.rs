//! The group engine in the in-memory network with real Flash crypto: a rendezvous server and
//! `GroupNode`s in virtual time with short timers (docs/protocol/netgroup.md, "Identities and the
//! ring" to "Directed routing"; issue 4).

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtmfp::{Instant, Priority};
use rtmfp_flash::{FlashNode, NodeEvent};
use rtmfp_netgroup::posting::{PostingAuth, POST};
use rtmfp_netgroup::wire::{GroupConnect, GroupFlowKind, GroupMessage, GroupReport, ReportMember};
use rtmfp_netgroup::{
    group_connect_key, GroupAddress, GroupConfig, GroupEvent, GroupHandle, GroupNode,
    GroupSpecifier, PeerId, PostError, ReceiveMode, SendResult,
};
use support::members::{join_all, node, node_ref, raw, swarm, Ev, M};
use support::{seed, Net};

fn config() -> GroupConfig {
    GroupConfig {
        receive_mode: ReceiveMode::Nearest,
        auto_forward: true,
        ..GroupConfig::scaled(10)
    }
}

fn spec(name: &str) -> GroupSpecifier {
    let mut g = GroupSpecifier::new(name).unwrap();
    g.set_posting_enabled(true);
    g.set_routing_enabled(true);
    g.set_server_channel_enabled(true);
    g
}

/// Posts member `i` was notified of, in group `g` or in any group.
fn posts_of(net: &Net<M>, i: usize, g: Option<GroupHandle>) -> Vec<[u8; 32]> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            Ev::Group(GroupEvent::PostingNotify {
                group, message_id, ..
            }) if g.is_none_or(|g| g == *group) => Some(*message_id),
            _ => None,
        })
        .collect()
}

fn posts(net: &Net<M>, i: usize) -> Vec<[u8; 32]> {
    posts_of(net, i, None)
}

fn converged(net: &Net<M>, ids: &[usize], g: GroupHandle) -> bool {
    ids.iter()
        .all(|&i| node_ref(net, i).group(g).map(|v| v.neighbor_count()) == Some(ids.len() - 1))
}

#[test]
fn sixteen_members_converge_post_route_and_replace_a_leaver() {
    let n = 16;
    let mut net = swarm(n, 0, 100, config());
    let ids: Vec<usize> = (1..=n).collect();
    let g = join_all(&mut net, &ids, &spec("sixteen"));
    for &i in &ids {
        assert!(net.events[i]
            .iter()
            .any(|e| matches!(e, Ev::Group(GroupEvent::ConnectSuccess { group }) if *group == g)));
    }
    // With 16 members the target (log2 N + 13) exceeds the group: everyone is a neighbour.
    let ok = net.run_until(Duration::from_secs(30), |n| converged(n, &ids, g));
    let counts: Vec<_> = ids
        .iter()
        .map(|&i| node_ref(&net, i).group(g).map(|v| v.neighbor_count()))
        .collect();
    assert!(ok, "not converged: {counts:?}");
    eprintln!(
        "converged at {:?} counts {counts:?} est {:?}",
        net.now,
        node_ref(&net, 3)
            .group(g)
            .map(|v| v.estimated_member_count())
    );
    for &i in &ids {
        let e = node_ref(&net, i)
            .group(g)
            .map(|v| v.estimated_member_count())
            .unwrap();
        assert!((16.0 / 3.0..=48.0).contains(&e), "node {i}: estimate {e}");
        assert_eq!(
            node_ref(&net, i).group(g).map(|v| v.heard_count()),
            Some(15)
        );
        let (from, to) = node_ref(&net, i)
            .group(g)
            .map(|v| v.local_coverage())
            .unwrap();
        assert_ne!(from, to);
    }

    // Posting: three posts from three members reach every other member exactly once.
    let mut ids_posted = Vec::new();
    for (k, &i) in [1usize, 7, 16].iter().enumerate() {
        let now = net.now;
        let id = node(&mut net, i)
            .group_mut(now, g)
            .unwrap()
            .post(format!("hello {k}").as_bytes())
            .unwrap();
        ids_posted.push((i, id));
    }
    let now = net.now;
    assert_eq!(
        node(&mut net, 1)
            .group_mut(now, g)
            .unwrap()
            .post(b"hello 0"),
        Err(PostError::Duplicate {
            message_id: ids_posted[0].1
        })
    );
    net.run_until(Duration::from_secs(2), |_| false);
    for &i in &ids {
        let got = posts(&net, i);
        for (from, id) in &ids_posted {
            let times = got.iter().filter(|x| *x == id).count();
            let want = usize::from(*from != i);
            assert_eq!(times, want, "node {i} got post from {from} {times} times");
        }
    }

    // Routing: sendToNearest from node 1 to random addresses ends at the nearest member.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for k in 0..8u8 {
        let mut a = [0u8; 32];
        rng.fill_bytes(&mut a);
        let target = GroupAddress(a);
        let nearest = *ids
            .iter()
            .min_by_key(|&&i| node_ref(&net, i).group_address().distance(&target))
            .unwrap();
        let now = net.now;
        let r = node(&mut net, 1)
            .group_mut(now, g)
            .unwrap()
            .send_to_nearest(&[k], target)
            .unwrap();
        net.run_until(Duration::from_millis(500), |_| false);
        let at = |n: &Net<M>, i: usize| {
            n.events[i].iter().any(|e| {
                matches!(e, Ev::Group(GroupEvent::SendToNotify(s))
                if s.destination == Some(target) && s.at_destination && s.message[..] == [k])
            })
        };
        if nearest == 1 {
            assert_eq!(r, SendResult::Local);
        } else {
            assert_eq!(r, SendResult::Sent);
        }
        assert!(
            at(&net, nearest),
            "target {k} not delivered at node {nearest}"
        );
        let elsewhere = ids.iter().filter(|&&i| i != nearest && at(&net, i)).count();
        assert_eq!(elsewhere, 0);
    }

    // Node 5 leaves: every other member drops it from its neighbours and best list.
    let leaver = node_ref(&net, 5).peer_id();
    let now = net.now;
    node(&mut net, 5).group_mut(now, g).unwrap().leave();
    let rest: Vec<usize> = ids.iter().copied().filter(|&i| i != 5).collect();
    let ok = net.run_until(Duration::from_secs(10), |n| {
        rest.iter().all(|&i| {
            let x = node_ref(n, i);
            x.group(g).map(|v| v.neighbor_count()) == Some(14)
                && !x.group(g).map(|v| v.best_list()).unwrap().contains(&leaver)
                && x.group(g).map(|v| v.best_list()).unwrap().len() == 14
        })
    });
    assert!(ok, "the leaver was not replaced");
    for &i in &rest {
        assert!(net.events[i].iter().any(|e| matches!(e,
            Ev::Group(GroupEvent::NeighborDisconnect { peer_id, .. }) if *peer_id == leaver)));
    }
}

fn posts_in(net: &Net<M>, i: usize, g: GroupHandle) -> Vec<[u8; 32]> {
    posts_of(net, i, Some(g))
}

/// A member of two groups leaves the first and joins a third, which takes the first's place
/// in the node's tables (its flows are filed by a slot number that is freed on leave): each
/// group's posts still reach the member under that group alone, and none of the group it
/// left reach it under any name.
#[test]
fn a_group_joined_after_leaving_another_gets_its_own_traffic_only() {
    let n = 5;
    let mut net = swarm(n, 0, 140, config());
    let ids: Vec<usize> = (1..=n).collect();
    let a = join_all(&mut net, &ids, &spec("first"));
    let b = join_all(&mut net, &ids, &spec("second"));
    let ok = net.run_until(Duration::from_secs(30), |n| {
        converged(n, &ids, a) && converged(n, &ids, b)
    });
    assert!(ok, "two groups of 5 did not converge");

    let now = net.now;
    node(&mut net, 1).group_mut(now, a).unwrap().leave();
    assert_eq!(node_ref(&net, 1).group(a).map(|v| v.neighbor_count()), None);
    let c = join_all(&mut net, &ids, &spec("third"));
    let ok = net.run_until(Duration::from_secs(30), |n| converged(n, &ids, c));
    assert!(ok, "the third group did not converge");

    let now = net.now;
    let in_a = node(&mut net, 2)
        .group_mut(now, a)
        .unwrap()
        .post(b"to the first")
        .unwrap();
    let in_b = node(&mut net, 3)
        .group_mut(now, b)
        .unwrap()
        .post(b"to the second")
        .unwrap();
    let in_c = node(&mut net, 4)
        .group_mut(now, c)
        .unwrap()
        .post(b"to the third")
        .unwrap();
    net.run_until(Duration::from_secs(2), |_| false);

    assert_eq!(posts_in(&net, 1, b), vec![in_b]);
    assert_eq!(posts_in(&net, 1, c), vec![in_c]);
    assert!(
        !posts(&net, 1).contains(&in_a),
        "a post of the left group arrived"
    );
    // The members still in the first group get its post, and the other posts under their
    // own groups.
    for i in 2..=n {
        let want_a = usize::from(i != 2);
        assert_eq!(posts_in(&net, i, a).len(), want_a, "node {i}, first group");
        assert_eq!(
            posts_in(&net, i, b),
            if i == 3 { vec![] } else { vec![in_b] }
        );
        assert_eq!(
            posts_in(&net, i, c),
            if i == 4 { vec![] } else { vec![in_c] }
        );
    }
}

/// 64 members: more than a best list holds (log2 64 + 13 = 19), so the mesh is sparse:
/// neighbour counts settle near the target, surplus neighbours are asked to close, posts
/// still reach everyone once and `sendToNearest` takes several hops to the nearest member.
#[test]
fn sparse_swarm_of_64_routes_over_several_hops_and_trims_surplus_neighbours() {
    let n = 64;
    let mut net = swarm(n, 0, 900, config());
    let ids: Vec<usize> = (1..=n).collect();
    let g = join_all(&mut net, &ids, &spec("sparse"));
    let target = rtmfp_netgroup::target_neighbor_count(n as f64);
    net.run_until(Duration::from_secs(60), |_| false);
    let counts: Vec<usize> = ids
        .iter()
        .map(|&i| {
            node_ref(&net, i)
                .group(g)
                .map(|v| v.neighbor_count())
                .unwrap()
        })
        .collect();
    let estimates: Vec<f64> = ids
        .iter()
        .map(|&i| {
            node_ref(&net, i)
                .group(g)
                .map(|v| v.estimated_member_count())
                .unwrap()
        })
        .collect();
    let asked: u64 = ids
        .iter()
        .map(|&i| {
            node_ref(&net, i)
                .group(g)
                .map(|v| v.membership_counters())
                .unwrap()
                .ask_close_sent
        })
        .sum();
    eprintln!("target {target} counts {counts:?} estimates {estimates:?} ask-close {asked}");
    // Neighbour counts: sparse (well below the group size), none isolated, around the target
    // (a member keeps the neighbours that chose it, so counts exceed the target somewhat).
    assert!(counts.iter().all(|&c| c >= target / 2), "{counts:?}");
    assert!(counts.iter().all(|&c| c < n - 1), "not sparse: {counts:?}");
    let mean = counts.iter().sum::<usize>() as f64 / n as f64;
    assert!(mean <= 2.0 * target as f64, "mean {mean}");
    // Flash's estimator reads 4 ring gaps, so single estimates scatter; the median holds.
    let mut sorted = estimates.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[n / 2];
    assert!(
        (median / n as f64 - 1.0).abs() <= 0.3,
        "median estimate {median}"
    );
    assert!(asked > 0, "surplus neighbours were never asked to close");

    // Posting over the sparse mesh.
    let now = net.now;
    let id = node(&mut net, 10)
        .group_mut(now, g)
        .unwrap()
        .post(b"sparse hello")
        .unwrap();
    net.run_until(Duration::from_secs(3), |_| false);
    for &i in &ids {
        let got = posts(&net, i).iter().filter(|m| **m == id).count();
        assert_eq!(got, usize::from(i != 10), "node {i}");
    }

    // Routing: 30 lookups from random members end at the nearest member.
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let mut hops = Vec::new();
    for k in 0..30u8 {
        let mut a = [0u8; 32];
        rng.fill_bytes(&mut a);
        let target = GroupAddress(a);
        let from = ids[(rng.next_u32() as usize) % n];
        let nearest = *ids
            .iter()
            .min_by_key(|&&i| node_ref(&net, i).group_address().distance(&target))
            .unwrap();
        let now = net.now;
        node(&mut net, from)
            .group_mut(now, g)
            .unwrap()
            .send_to_nearest(&[k, 0xAA], target)
            .unwrap();
        net.run_until(Duration::from_millis(500), |_| false);
        let got: Vec<(usize, u8)> = ids
            .iter()
            .filter_map(|&i| {
                net.events[i].iter().find_map(|e| match e {
                    Ev::Group(GroupEvent::SendToNotify(s))
                        if s.at_destination && s.message[..] == [k, 0xAA] =>
                    {
                        Some((i, s.hops))
                    }
                    _ => None,
                })
            })
            .collect();
        assert_eq!(got.len(), 1, "lookup {k}: delivered at {got:?}");
        assert_eq!(got[0].0, nearest, "lookup {k} ended away from the nearest");
        hops.push(got[0].1);
    }
    eprintln!("hops {hops:?}");
    assert!(
        hops.iter().any(|&h| h >= 2),
        "no lookup needed more than one hop: {hops:?}"
    );
    assert!(hops.iter().all(|&h| h <= 6), "{hops:?}");

    // A member leaves: the members that had it in their best list and as a neighbour replace
    // it with another member (the list stays full) and drop the connection. (A member whose
    // list named it without a connection, for want of budget, learns of it only when its
    // heard entry times out, as in librtmfp.)
    let leaver = node_ref(&net, 20).peer_id();
    let had: Vec<(usize, usize)> = ids
        .iter()
        .filter(|&&i| i != 20)
        .filter_map(|&i| {
            let x = node_ref(&net, i);
            let best = x.group(g).map(|v| v.best_list()).unwrap();
            let neighbour = x
                .group(g)
                .map(|v| v.neighbors())
                .unwrap()
                .iter()
                .any(|(_, p)| *p == leaver);
            (neighbour && best.contains(&leaver)).then_some((i, best.len()))
        })
        .collect();
    assert!(!had.is_empty());
    let now = net.now;
    node(&mut net, 20).group_mut(now, g).unwrap().leave();
    let ok = net.run_until(Duration::from_secs(10), |net| {
        had.iter().all(|&(i, len)| {
            let x = node_ref(net, i);
            let best = x.group(g).map(|v| v.best_list()).unwrap();
            // Full again: the size the current estimate asks for (it may move by one when the
            // leaver was a ring neighbour whose gap fed the estimate).
            let full = len.min(rtmfp_netgroup::target_neighbor_count(
                x.group(g).map(|v| v.estimated_member_count()).unwrap(),
            ));
            !best.contains(&leaver)
                && best.len() >= full
                && !node_ref(net, i)
                    .group(g)
                    .map(|v| v.neighbors())
                    .unwrap()
                    .iter()
                    .any(|(_, p)| *p == leaver)
        })
    });
    let after: Vec<(usize, usize, f64)> = had
        .iter()
        .map(|&(i, len)| {
            let x = node_ref(&net, i);
            (
                len,
                x.group(g).map(|v| v.best_list()).unwrap().len(),
                x.group(g).map(|v| v.estimated_member_count()).unwrap(),
            )
        })
        .collect();
    assert!(ok, "the leaver was not replaced: {after:?}");
}

fn lan_deliver(m: &mut M, now: Instant, from: SocketAddr, dst: SocketAddr, d: &[u8]) {
    if let M::Node(n) = m {
        if n.lan_multicast_addresses().contains(&dst) {
            n.handle_lan_datagram(now, from, d);
        }
    }
}

/// `n` group nodes with no server at all (the `rtmfp:` case), IP multicast delivered.
fn lan_swarm(n: usize, seed_base: u64) -> Net<M> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed_base);
    let mut nodes = Vec::new();
    let mut addrs = Vec::new();
    for i in 0..n {
        let flash = FlashNode::with_flash_identity(&mut rng, seed(seed_base + 10 + i as u64));
        nodes.push(M::Node(GroupNode::new(
            flash,
            config(),
            seed(seed_base + 1000 + i as u64),
        )));
        addrs.push(SocketAddr::from(([192, 168, 7, 10 + i as u8], 40000)));
    }
    let mut net = Net::new(nodes, addrs, seed_base);
    net.multicast = Some(lan_deliver);
    net
}

fn lan_spec(name: &str) -> GroupSpecifier {
    let mut g = GroupSpecifier::new(name).unwrap();
    g.set_posting_enabled(true);
    g.set_routing_enabled(true);
    g.set_ip_multicast_member_updates_enabled(true);
    g.add_ip_multicast_address("224.0.0.254:30000", None, None)
        .unwrap();
    g
}

#[test]
fn lan_discovery_without_a_server_converges_and_delivers_posts_once() {
    let n = 8;
    let mut net = lan_swarm(n, 700);
    let ids: Vec<usize> = (0..n).collect();
    let spec = lan_spec("lan chat");
    let g = join_all(&mut net, &ids, &spec);
    assert_eq!(
        node_ref(&net, 0).lan_multicast_addresses(),
        vec!["224.0.0.254:30000".parse::<SocketAddr>().unwrap()]
    );
    let ok = net.run_until(Duration::from_secs(30), |n| converged(n, &ids, g));
    let counts: Vec<_> = ids
        .iter()
        .map(|&i| node_ref(&net, i).group(g).map(|v| v.neighbor_count()))
        .collect();
    assert!(ok, "LAN swarm did not converge: {counts:?}");
    eprintln!("LAN swarm converged at {:?}", net.now);
    let lan = node_ref(&net, 3).lan_counters();
    assert!(
        lan.announcements_sent >= 1 && lan.announcements_accepted >= 1,
        "{lan:?}"
    );
    assert!(
        lan.own_heard >= 1,
        "multicast loopback of our own announcement: {lan:?}"
    );
    // Without a server, every neighbour came from a connection started on an announcement.
    let connects: u64 = ids
        .iter()
        .map(|&i| node_ref(&net, i).lan_counters().connects)
        .sum();
    assert!(connects >= n as u64 - 1, "connects from hints: {connects}");

    let now = net.now;
    let id = node(&mut net, 2)
        .group_mut(now, g)
        .unwrap()
        .post(b"hello LAN")
        .unwrap();
    net.run_until(Duration::from_secs(5), |_| false);
    for &i in &ids {
        let got = posts(&net, i).iter().filter(|m| **m == id).count();
        assert_eq!(
            got,
            usize::from(i != 2),
            "node {i} got the post {got} times"
        );
    }

    // Foreign and malformed datagrams on the multicast socket are counted and dropped.
    let before = node_ref(&net, 1).lan_counters();
    let other = lan_spec("another group");
    let foreign = rtmfp_netgroup::lan::LanAnnouncement::new(&other.group_txt(), PeerId([9; 32]));
    let from: SocketAddr = "192.168.7.99:40000".parse().unwrap();
    let now = net.now;
    node(&mut net, 1).handle_lan_datagram(now, from, &foreign.encode());
    node(&mut net, 1).handle_lan_datagram(now, from, b"garbage");
    let after = node_ref(&net, 1).lan_counters();
    assert_eq!(after.unknown_group, before.unknown_group + 1);
    assert_eq!(after.malformed, before.malformed + 1);
    assert_eq!(after.connects, before.connects);
    assert_eq!(
        node_ref(&net, 1).group(g).map(|v| v.heard_count()),
        Some(n - 1)
    );
}

#[test]
fn posting_password_is_enforced() {
    let mut net = swarm(4, 0, 200, config());
    let mut with = spec("guarded");
    with.set_posting_password(Some("secret"), Some("pepper"));
    let without: GroupSpecifier = with.groupspec_without_authorizations().parse().unwrap();
    assert_eq!(with.group_id(), without.group_id());
    let g = join_all(&mut net, &[1, 2, 3], &with);
    join_all(&mut net, &[4], &without);
    let ids = [1, 2, 3, 4];
    assert!(net.run_until(Duration::from_secs(20), |n| converged(n, &ids, g)));

    let now = net.now;
    assert_eq!(
        node(&mut net, 4)
            .group_mut(now, g)
            .unwrap()
            .post(b"let me in"),
        Err(PostError::NotAuthorized)
    );
    // The outsider forges frames: without a proof, and with a made-up one.
    let victims: Vec<PeerId> = [1, 2, 3]
        .iter()
        .map(|&i| node_ref(&net, i).peer_id())
        .collect();
    for (k, v) in victims.iter().enumerate() {
        let now = net.now;
        let mut bare = vec![POST, 0];
        bare.extend_from_slice(format!("forged {k}").as_bytes());
        assert!(node(&mut net, 4)
            .group_mut(now, g)
            .unwrap()
            .send_raw_extension(*v, Bytes::from(bare)));
        let mut fake = vec![POST, 1];
        fake.extend_from_slice(&[0x55; 32]);
        fake.extend_from_slice(format!("fake proof {k}").as_bytes());
        assert!(node(&mut net, 4)
            .group_mut(now, g)
            .unwrap()
            .send_raw_extension(*v, Bytes::from(fake)));
    }
    // A legitimate post reaches everyone, the outsider included.
    let now = net.now;
    let id = node(&mut net, 2)
        .group_mut(now, g)
        .unwrap()
        .post(b"official")
        .unwrap();
    net.run_until(Duration::from_secs(2), |_| false);
    for i in [1, 3, 4] {
        assert_eq!(posts(&net, i), [id], "node {i}");
    }
    assert!(posts(&net, 2).is_empty());
    for i in [1, 2, 3] {
        let c = node_ref(&net, i)
            .group(g)
            .map(|v| v.posting_counters())
            .unwrap();
        assert_eq!((c.missing_proof, c.bad_proof), (1, 1), "node {i}");
    }
    assert!(matches!(
        PostingAuth::from_groupspec(&without),
        PostingAuth::Unauthorized
    ));
}

/// Waits for the raw node's P2P session to `peer`, returns it.
fn raw_session(net: &mut Net<M>, i: usize, peer: PeerId) -> rtmfp::SessionId {
    let now = net.now;
    let s = raw(net, i).connect_peer(now, &peer.0, &[]).unwrap();
    let ok = net.run_until(Duration::from_secs(5), |n| {
        n.events[i].iter().any(|e| matches!(e,
            Ev::Raw(NodeEvent::Session(rtmfp::Event::SessionOpened { session, .. })) if *session == s))
    });
    assert!(ok, "raw session did not open");
    s
}

fn raw_handshake(
    net: &mut Net<M>,
    i: usize,
    s: rtmfp::SessionId,
    g: &GroupSpecifier,
    to: PeerId,
    key: Option<[u8; 32]>,
) -> u64 {
    let now = net.now;
    let ep = raw(net, i).endpoint_mut();
    let far_nonce = ep.session_info(s).unwrap().far_nonce;
    let key = key.unwrap_or_else(|| group_connect_key(&g.group_txt(), &far_nonce));
    let f = ep
        .open_flow(
            now,
            s,
            &GroupFlowKind::GroupControl.to_metadata(),
            None,
            Priority::default(),
        )
        .unwrap();
    let hello = GroupMessage::Connect(GroupConnect {
        group_id: g.group_id(),
        key,
        recipient: to,
    });
    for m in [hello, GroupMessage::Data(vec![]), GroupMessage::Begin] {
        ep.write(now, s, f, Bytes::from(m.to_bytes()), None)
            .unwrap();
    }
    f
}

#[test]
fn wrong_group_key_is_rejected_and_bad_input_is_bounded() {
    let cfg = GroupConfig {
        max_heard: 100,
        ..config()
    };
    let mut net = swarm(2, 2, 300, cfg);
    let sp = spec("keyed");
    let g = join_all(&mut net, &[1, 2], &sp);
    assert!(net.run_until(Duration::from_secs(10), |n| converged(n, &[1, 2], g)));
    let victim = node_ref(&net, 1).peer_id();

    // Raw node 3 knows the group ID but not the groupTxt: a wrong key.
    let s = raw_session(&mut net, 3, victim);
    raw_handshake(&mut net, 3, s, &sp, victim, Some([0x11; 32]));
    net.run_until(Duration::from_secs(2), |_| false);
    let c = node_ref(&net, 1)
        .group(g)
        .map(|v| v.membership_counters())
        .unwrap();
    assert_eq!(c.wrong_key, 1);
    assert_eq!(
        node_ref(&net, 1).group(g).map(|v| v.neighbor_count()),
        Some(1)
    );
    assert!(net.events[3].iter().any(|e| matches!(
        e,
        Ev::Raw(NodeEvent::Session(
            rtmfp::Event::FlowRejected { .. } | rtmfp::Event::SessionClosed { .. }
        ))
    )));

    // Raw node 4 knows the groupTxt, handshakes properly, then sends garbage, a report with
    // 5000 fake members, and a post flood.
    let s = raw_session(&mut net, 4, victim);
    let f = raw_handshake(&mut net, 4, s, &sp, victim, None);
    net.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(
        node_ref(&net, 1).group(g).map(|v| v.neighbor_count()),
        Some(2)
    );
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let fake = GroupReport {
        members: (0..5000)
            .map(|_| {
                let mut id = [0u8; 32];
                rng.fill_bytes(&mut id);
                ReportMember {
                    peer_id: PeerId(id),
                    elapsed_secs: 1,
                    addresses: vec![],
                }
            })
            .collect(),
        ..GroupReport::default()
    };
    let now = net.now;
    let ep = raw(&mut net, 4).endpoint_mut();
    for m in [
        vec![0x0a, 0xff],
        vec![0x01, 0x05],
        GroupMessage::Report(fake).to_bytes(),
    ] {
        ep.write(now, s, f, Bytes::from(m), None).unwrap();
    }
    net.run_until(Duration::from_secs(2), |_| false);
    let c = node_ref(&net, 1)
        .group(g)
        .map(|v| v.membership_counters())
        .unwrap();
    assert!(c.malformed >= 2, "{c:?}");
    assert!(c.report_members_dropped >= 4000, "{c:?}");
    assert!(node_ref(&net, 1).group(g).map(|v| v.heard_count()).unwrap() <= 100);
    assert!(c.heard_full > 0, "{c:?}");
    // The honest member is still a neighbour.
    assert!(node_ref(&net, 1)
        .group(g)
        .map(|v| v.neighbors())
        .unwrap()
        .iter()
        .any(|(_, p)| *p == node_ref(&net, 2).peer_id()));

    // Post flood from node 4 on an extension flow answering the victim's GR1C flow.
    let victim_flow = net.events[4]
        .iter()
        .find_map(|e| match e {
            Ev::Raw(NodeEvent::Session(rtmfp::Event::FlowOpened {
                session,
                flow,
                metadata,
                ..
            })) if *session == s && *metadata == GroupFlowKind::GroupControl.to_metadata() => {
                Some(*flow)
            }
            _ => None,
        })
        .expect("the victim answered with its GR1C flow");
    let now = net.now;
    let ep = raw(&mut net, 4).endpoint_mut();
    let ext = ep
        .open_flow(
            now,
            s,
            &GroupFlowKind::OtherGroup(0x60).to_metadata(),
            Some(victim_flow),
            Priority::default(),
        )
        .unwrap();
    let burst = GroupConfig::default().post_burst as usize;
    for k in 0..2000u32 {
        let mut b = vec![POST, 0];
        b.extend_from_slice(&k.to_be_bytes());
        ep.write(now, s, ext, Bytes::from(b), None).unwrap();
    }
    ep.write(now, s, ext, Bytes::from_static(&[0x99, 1, 2]), None)
        .unwrap();
    net.run_until(Duration::from_secs(1), |_| false);
    let delivered = posts(&net, 1).len();
    let c = node_ref(&net, 1)
        .group(g)
        .map(|v| v.posting_counters())
        .unwrap();
    assert!(delivered >= burst && delivered < 2000, "{delivered}");
    assert!(
        c.rate_limited > 0 && c.rate_limited as usize + delivered == 2000,
        "{c:?}"
    );
    // Forwarded to the honest member too, which rate-limits per neighbour as well.
    assert!(!posts(&net, 2).is_empty());
    let m = node_ref(&net, 1)
        .group(g)
        .map(|v| v.membership_counters())
        .unwrap();
    assert_eq!(m.ext_malformed, 1);
}
