//! In-memory trio with real Flash crypto: a rendezvous server and two nodes. Both connect,
//! A opens a peer-to-peer session to B by peer ID through the server (Redirect + forwarded
//! IHello), and they exchange messages both ways (issue 3; docs/protocol/session.md, "Rendezvous
//! and introduction"; docs/protocol/flash.md, "NetConnection sequence").

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtmfp::crypto::CryptoProfile;
use rtmfp::wire::{Chunk, PacketHeader};
use rtmfp::{Endpoint, FlashProfile, Instant, Priority, SansIo, SessionId, Transmit};
use rtmfp_flash::netconnection::NetConnectionEvent;
use rtmfp_flash::{codes, FlashNode, FlowSignature, GcMessage, NodeEvent};
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousEvent, RendezvousServer};
use support::{seed, Net};

#[allow(clippy::large_enum_variant)]
enum Trio {
    Server(RendezvousServer),
    Peer(FlashNode),
}

#[derive(Debug, Clone)]
enum TrioEvent {
    Server(RendezvousEvent),
    Peer(NodeEvent),
}

impl SansIo for Trio {
    type Event = TrioEvent;
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, d: &[u8]) {
        match self {
            Trio::Server(s) => s.handle_datagram(now, from, d),
            Trio::Peer(p) => p.handle_datagram(now, from, d),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Trio::Server(s) => s.handle_timeout(now),
            Trio::Peer(p) => p.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            Trio::Server(s) => s.poll_transmit(),
            Trio::Peer(p) => p.poll_transmit(),
        }
    }
    fn poll_event(&mut self) -> Option<TrioEvent> {
        match self {
            Trio::Server(s) => s.poll_event().map(TrioEvent::Server),
            Trio::Peer(p) => p.poll_event().map(TrioEvent::Peer),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Trio::Server(s) => s.poll_timeout(),
            Trio::Peer(p) => p.poll_timeout(),
        }
    }
}

const SERVER: usize = 0;
const A: usize = 1;
const B: usize = 2;
const B_PRIVATE: &str = "172.16.0.3:40001";

fn peer(net: &mut Net<Trio>, i: usize) -> &mut FlashNode {
    match &mut net.nodes[i] {
        Trio::Peer(p) => p,
        Trio::Server(_) => panic!("not a peer"),
    }
}

fn server(net: &Net<Trio>) -> &RendezvousServer {
    match &net.nodes[SERVER] {
        Trio::Server(s) => s,
        Trio::Peer(_) => panic!("not the server"),
    }
}

fn trio(config: RendezvousConfig, seed_base: u64) -> Net<Trio> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed_base);
    let srv = RendezvousServer::new(
        config,
        Box::new(FlashProfile::server(&mut rng)),
        seed(seed_base + 1),
    );
    let a = FlashNode::with_flash_identity(&mut rng, seed(seed_base + 2));
    // B reports a private address with setPeerInfo; the server lists it after the observed one.
    let b = FlashNode::new(
        rtmfp::Config::default(),
        Box::new(FlashProfile::client(&mut rng)),
        seed(seed_base + 3),
        rtmfp_flash::netconnection::ClientConfig {
            local_addresses: vec![B_PRIVATE.parse().unwrap()],
            ..Default::default()
        },
    );
    let addrs = vec![
        SocketAddr::from(([10, 0, 0, 1], 1935)),
        SocketAddr::from(([192, 168, 1, 2], 40000)),
        SocketAddr::from(([192, 168, 1, 3], 40001)),
    ];
    Net::new(
        vec![Trio::Server(srv), Trio::Peer(a), Trio::Peer(b)],
        addrs,
        seed_base,
    )
}

fn statuses(net: &Net<Trio>, i: usize) -> Vec<String> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            TrioEvent::Peer(NodeEvent::NetConnection(NetConnectionEvent::Status(s))) => {
                Some(s.code.clone())
            }
            _ => None,
        })
        .collect()
}

fn connect_both(net: &mut Net<Trio>, url: &str) {
    let srv = net.addrs[SERVER];
    let now = net.now;
    peer(net, A).connect(now, url, &[srv]).unwrap();
    peer(net, B).connect(now, url, &[srv]).unwrap();
    let ok = net.run_until(Duration::from_secs(5), |n| {
        statuses(n, A).len() == 1 && statuses(n, B).len() == 1
    });
    assert!(
        ok,
        "no status: {:?} {:?}",
        statuses(net, A),
        statuses(net, B)
    );
}

/// The Redirect chunks the server sent, decrypted with the default key.
fn redirects_from_server(net: &Net<Trio>) -> Vec<Vec<SocketAddr>> {
    let mut rng = ChaCha8Rng::seed_from_u64(99);
    let profile = FlashProfile::client(&mut rng);
    let cipher = profile.default_cipher();
    let mut out = Vec::new();
    for (_, from, _, payload) in &net.log {
        if *from != net.addrs[SERVER] || payload.len() < 4 {
            continue;
        }
        let mut buf = Vec::new();
        let Ok(packet) = cipher.open(&payload[4..], &mut buf) else {
            continue;
        };
        let Ok((_, chunks)) = PacketHeader::decode(packet) else {
            continue;
        };
        for c in chunks.flatten() {
            if let Chunk::Redirect { addresses, .. } = c {
                out.push(addresses.iter().map(|a| a.addr).collect());
            }
        }
    }
    out
}

#[test]
fn both_connect_then_a_reaches_b_by_peer_id_and_they_talk() {
    let mut net = trio(RendezvousConfig::default(), 10);
    connect_both(&mut net, "rtmfp://10.0.0.1/app");
    assert_eq!(statuses(&net, A), [codes::CONNECT_SUCCESS]);
    assert_eq!(statuses(&net, B), [codes::CONNECT_SUCCESS]);
    // Identities: farID is the server's peer ID, nonces are 32 bytes and mirror each other.
    let server_id = server(&net).peer_id().0;
    let a_nc = peer(&mut net, A).net_connection();
    assert_eq!(a_nc.far_id(), Some(server_id));
    assert_eq!(a_nc.near_nonce().len(), 32);
    assert_eq!(a_nc.far_nonce().len(), 32);
    assert_ne!(a_nc.near_nonce(), a_nc.far_nonce());
    assert_eq!(a_nc.peer_keepalive(), Some(Duration::from_secs(10)));
    net.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(server(&net).stats().clients, 2);
    let connected = net.events[SERVER]
        .iter()
        .filter(|e| {
            matches!(
                e,
                TrioEvent::Server(RendezvousEvent::ClientConnected { .. })
            )
        })
        .count();
    assert_eq!(connected, 2);

    // A opens a session to B by peer ID via the server.
    let b_id = peer(&mut net, B).peer_id();
    let now = net.now;
    let p2p = peer(&mut net, A).connect_peer(now, &b_id, &[]).unwrap();
    let opened = net.run_until(Duration::from_secs(5), |n| {
        n.events[A].iter().any(|e| {
            matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::SessionOpened { session, far_fingerprint, .. }))
                if *session == p2p && *far_fingerprint == b_id)
        })
    });
    assert!(opened, "P2P session did not open");
    assert_eq!(server(&net).stats().peer_introductions, 1);
    // The server's Redirect lists B's observed address first, then what B reported.
    let redirects = redirects_from_server(&net);
    assert_eq!(
        redirects.first().cloned(),
        Some(vec![net.addrs[B], B_PRIVATE.parse().unwrap()])
    );

    // A → B on a direct NetStream flow, then B answers on a return flow.
    let meta = FlowSignature::stream(rtmfp_flash::metadata::P2P_STREAM_BASE + 1).encode();
    let now = net.now;
    let ep = peer(&mut net, A).endpoint_mut();
    let flow = ep
        .open_flow(now, p2p, &meta, None, Priority::default())
        .unwrap();
    ep.write(now, p2p, flow, Bytes::from_static(b"hello B"), None)
        .unwrap();
    let got = net.run_until(Duration::from_secs(2), |n| {
        n.events[B].iter().any(|e| matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::Message { data, .. })) if &data[..] == b"hello B"))
    });
    assert!(got, "B did not get A's message");
    let (b_session, a_flow) = net.events[B]
        .iter()
        .find_map(|e| match e {
            TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::FlowOpened {
                session,
                flow,
                metadata,
                ..
            })) if *metadata == meta => Some((*session, *flow)),
            _ => None,
        })
        .unwrap();
    let now = net.now;
    let ep = peer(&mut net, B).endpoint_mut();
    let back = ep
        .open_flow(now, b_session, &meta, Some(a_flow), Priority::default())
        .unwrap();
    ep.write(now, b_session, back, Bytes::from_static(b"hello A"), None)
        .unwrap();
    let got = net.run_until(Duration::from_secs(2), |n| {
        n.events[A].iter().any(|e| matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::Message { data, .. })) if &data[..] == b"hello A"))
    });
    assert!(got, "A did not get B's answer");
}

#[test]
fn wrong_application_path_is_rejected() {
    let config = RendezvousConfig {
        net_connection: rtmfp_flash::netconnection::ServerConfig {
            applications: Some(vec!["app".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut net = trio(config, 20);
    connect_both(&mut net, "rtmfp://10.0.0.1/other");
    assert_eq!(statuses(&net, A), [codes::CONNECT_REJECTED]);
    assert!(!peer(&mut net, A).net_connection().is_connected());
    net.run_until(Duration::from_secs(10), |_| false);
    assert_eq!(server(&net).stats().clients, 0);
    assert_eq!(server(&net).net_connections().counters().rejected, 2);
}

#[test]
fn unreachable_server_fails_after_the_opening_timeout() {
    let mut net = trio(RendezvousConfig::default(), 30);
    // Nothing listens at this address.
    let now = net.now;
    let start = now;
    let nowhere = SocketAddr::from(([10, 9, 9, 9], 1935));
    peer(&mut net, A)
        .connect(now, "rtmfp://10.9.9.9/app", &[nowhere])
        .unwrap();
    let failed = net.run_until(Duration::from_secs(120), |n| !statuses(n, A).is_empty());
    assert!(failed);
    assert_eq!(statuses(&net, A), [codes::CONNECT_FAILED]);
    let waited = net.now.saturating_duration_since(start);
    assert!(
        waited >= Duration::from_secs(90) && waited <= Duration::from_secs(100),
        "{waited:?}"
    );
}

#[test]
fn unknown_peer_gets_silence_then_gone_and_the_opening_times_out() {
    let mut net = trio(RendezvousConfig::default(), 40);
    connect_both(&mut net, "rtmfp://10.0.0.1/app");
    let now = net.now;
    let start = now;
    let p2p = peer(&mut net, A)
        .connect_peer(now, &[0x42; 32], &[])
        .unwrap();
    let failed = net.run_until(Duration::from_secs(120), |n| {
        n.events[A].iter().any(|e| matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::ConnectFailed { session, .. })) if *session == p2p))
    });
    assert!(failed);
    assert!(net.now.saturating_duration_since(start) >= Duration::from_secs(90));
    let stats = server(&net).stats();
    assert_eq!(stats.unknown_peer_ihellos, 1, "first IHello: silence");
    assert!(stats.gone_redirects >= 1, "repetitions: gone");
    // A's NetConnection survived.
    assert!(peer(&mut net, A).net_connection().is_connected());
}

fn gc_messages(net: &Net<Trio>, i: usize) -> Vec<GcMessage> {
    net.events[i]
        .iter()
        .filter_map(|e| match e {
            TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::Message { data, .. })) => {
                GcMessage::decode(data).ok()
            }
            _ => None,
        })
        .collect()
}

/// Opens a group-client flow (`FlowSignature::GroupClient`) on the NetConnection session `s`,
/// in return association with the NetConnection's flow `assoc`.
fn open_group_client_flow(
    ep: &mut Endpoint,
    now: Instant,
    s: SessionId,
    assoc: Option<u64>,
) -> u64 {
    ep.open_flow(
        now,
        s,
        &FlowSignature::GroupClient.encode(),
        assoc,
        Priority::default(),
    )
    .unwrap()
}

fn join(net: &mut Net<Trio>, i: usize, group: [u8; 32]) -> u64 {
    let now = net.now;
    let node = peer(net, i);
    let s = node.net_connection().session().unwrap();
    let assoc = node.net_connection().server_flow();
    let ep = node.endpoint_mut();
    let flow = open_group_client_flow(ep, now, s, assoc);
    let join = GcMessage::Join {
        group_id: group,
        legacy: false,
    }
    .encode();
    ep.write(now, s, flow, Bytes::from(join), None).unwrap();
    flow
}

#[test]
fn group_join_introduces_existing_members_and_leaving_removes_membership() {
    let mut net = trio(RendezvousConfig::default(), 50);
    connect_both(&mut net, "rtmfp://10.0.0.1/app");
    let group = [7u8; 32];
    join(&mut net, A, group);
    net.run_until(Duration::from_millis(200), |_| false);
    assert_eq!(server(&net).stats().memberships, 1);
    let b_flow = join(&mut net, B, group);
    let a_id = peer(&mut net, A).peer_id();
    let told = net.run_until(Duration::from_secs(1), |n| !gc_messages(n, B).is_empty());
    assert!(told, "B was not introduced to A");
    assert_eq!(gc_messages(&net, B), [GcMessage::Introduction(a_id)]);
    assert!(
        gc_messages(&net, A).is_empty(),
        "the first member learns nothing at join"
    );
    assert_eq!(server(&net).stats().group_introductions, 1);
    // B leaves by closing its GC flow; A disconnects entirely.
    let now = net.now;
    let node = peer(&mut net, B);
    let s = node.net_connection().session().unwrap();
    node.endpoint_mut().close_flow(now, s, b_flow).unwrap();
    net.run_until(Duration::from_secs(1), |_| false);
    assert_eq!(server(&net).stats().memberships, 1);
    let now = net.now;
    let node = peer(&mut net, A);
    let (ep, nc) = node.parts_mut();
    nc.close(ep, now);
    net.run_until(Duration::from_secs(2), |_| false);
    let stats = server(&net).stats();
    assert_eq!((stats.memberships, stats.groups, stats.clients), (0, 0, 1));
}

#[test]
fn bad_input_from_one_client_does_not_disturb_the_other() {
    let mut net = trio(RendezvousConfig::default(), 60);
    connect_both(&mut net, "rtmfp://10.0.0.1/app");
    let now = net.now;
    let node = peer(&mut net, A);
    let s = node.net_connection().session().unwrap();
    let control = node.net_connection().control_flow().unwrap();
    let assoc = node.net_connection().server_flow();
    let ep = node.endpoint_mut();
    // Malformed AMF: a long string claiming 4 GiB.
    ep.write(
        now,
        s,
        control,
        Bytes::from_static(&[0x14, 0, 0, 0, 0, 0x0c, 0xff, 0xff, 0xff, 0xff]),
        None,
    )
    .unwrap();
    // Oversized message on the NetConnection flow.
    ep.write(now, s, control, Bytes::from(vec![0x14; 40_000]), None)
        .unwrap();
    // A group join with a bad length.
    let gc = open_group_client_flow(ep, now, s, assoc);
    ep.write(
        now,
        s,
        gc,
        Bytes::from_static(&[0x01, 0x21, 0x15, 1, 2, 3]),
        None,
    )
    .unwrap();
    // An unknown command gets `_error`.
    let (ep, nc) = node.parts_mut();
    let tid = nc.call(ep, now, "noSuchMethod", vec![]).unwrap();
    let answered = net.run_until(Duration::from_secs(2), |n| {
        n.events[A].iter().any(|e| matches!(e,
            TrioEvent::Peer(NodeEvent::NetConnection(NetConnectionEvent::CallResult { transaction_id, ok: false, .. }))
                if *transaction_id == tid))
    });
    assert!(answered, "unknown command not answered with _error");
    let counters = server(&net).net_connections().counters();
    assert_eq!(counters.malformed, 1);
    assert_eq!(counters.oversized, 1);
    assert_eq!(counters.unknown_commands, 1);
    assert_eq!(server(&net).stats().bad_group_messages, 1);
    // Both clients are still connected and B can still reach A.
    assert!(peer(&mut net, A).net_connection().is_connected());
    let a_id = peer(&mut net, A).peer_id();
    let now = net.now;
    let p2p = peer(&mut net, B).connect_peer(now, &a_id, &[]).unwrap();
    let opened = net.run_until(Duration::from_secs(5), |n| {
        n.events[B].iter().any(|e| matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::SessionOpened { session, .. })) if *session == p2p))
    });
    assert!(opened);
}

#[test]
fn a_client_that_stops_answering_is_dropped_and_leaves_its_groups() {
    let mut net = trio(RendezvousConfig::default(), 70);
    connect_both(&mut net, "rtmfp://10.0.0.1/app");
    join(&mut net, B, [9; 32]);
    net.run_until(Duration::from_millis(300), |_| false);
    assert_eq!(server(&net).stats().memberships, 1);
    // B goes silent: everything it sends is lost.
    let b_addr = net.addrs[B];
    net.filter = Some(Box::new(move |_, from, _, _| from != b_addr));
    let start = net.now;
    let dropped = net.run_until(Duration::from_secs(120), |n| server(n).stats().clients == 1);
    assert!(dropped, "silent client not dropped");
    let waited = net.now.saturating_duration_since(start);
    assert!(
        waited >= Duration::from_secs(58),
        "dropped too early: {waited:?}"
    );
    assert_eq!(server(&net).stats().memberships, 0);
    assert!(peer(&mut net, A).net_connection().is_connected());
}

#[test]
fn peers_meet_by_known_address_without_a_server() {
    let mut net = trio(RendezvousConfig::default(), 80);
    let b_id = peer(&mut net, B).peer_id();
    let b_addr = net.addrs[B];
    let now = net.now;
    let s = peer(&mut net, A)
        .connect_peer(now, &b_id, &[b_addr])
        .unwrap();
    let opened = net.run_until(Duration::from_secs(5), |n| {
        n.events[A].iter().any(|e| matches!(e, TrioEvent::Peer(NodeEvent::Session(rtmfp::Event::SessionOpened { session, .. })) if *session == s))
    });
    assert!(opened);
    assert_eq!(server(&net).stats().peer_introductions, 0);
    // Without a server connection and without an address there is nothing to try.
    let now = net.now;
    assert!(peer(&mut net, A).connect_peer(now, &[5; 32], &[]).is_err());
}
