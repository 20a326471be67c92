//! The simulator adds nothing to what nodes say: two nodes built from the same seeds and keys
//! emit the same datagrams, byte for byte, when driven through the engine and when driven
//! directly by a minimal in-memory loop (fixed 10 ms latency, no loss) — for a pair of
//! `rtmfp::Endpoint`s (the Flash handshake) and for a NetGroup member and the rendezvous server
//! (NetConnection handshake, connect, group join).

mod common;

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::rc::Rc;

use rtmfp::crypto::cert::epd_for_peer_id;
use rtmfp::{Config, Instant, SansIo};
use rtmfp_sim::addr::private_addr;
use rtmfp_sim::endpoint_node::{new_endpoint, Crypto};
use rtmfp_sim::group::node::{new_member, new_server, GroupSimNode};
use rtmfp_sim::group::params::{GroupParams, GroupSpec};
use rtmfp_sim::group::workload::{server_url, GroupWorkload, SERVER};
use rtmfp_sim::net::topology::Topology;
use rtmfp_sim::net::{NetParams, Network};
use rtmfp_sim::rng::{derive, stream, SimRng};

use rtmfp_sim::{Engine, EngineConfig, NodeId};

/// A datagram as delivered: (time µs, from, to, bytes).
type Record = (u64, SocketAddr, SocketAddr, Vec<u8>);

/// A datagram in flight: (arrival µs, sequence, sender index, destination, bytes).
type InFlight = Reverse<(u64, u64, usize, SocketAddr, Vec<u8>)>;

const LATENCY_US: u64 = 10_000;

/// The RNG the engine gives the first incarnation of `node` (see `sim/README.md`).
fn node_rng(seed: u64, node: u32) -> SimRng {
    derive(seed, stream::NODE, (node as u64) << 32 | 1)
}

fn addr(node: u32) -> SocketAddr {
    private_addr(NodeId(node)).into()
}

/// Records every datagram the engine delivers.
fn tap() -> (Rc<RefCell<Vec<Record>>>, rtmfp_sim::engine::Tap) {
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    let tap: rtmfp_sim::engine::Tap = Box::new(move |r| {
        sink.borrow_mut().push((
            r.at.as_micros(),
            r.arrival.from.into(),
            r.arrival.to.into(),
            r.payload.to_vec(),
        ))
    });
    (log, tap)
}

/// Drives `nodes` (at `addrs`) directly until `until` µs: datagrams take [`LATENCY_US`],
/// timers fire when due; returns every datagram delivered, in order.
fn in_memory<M: SansIo>(
    nodes: &mut [M],
    addrs: &[SocketAddr],
    from_us: u64,
    until: u64,
) -> Vec<Record> {
    let mut queue: BinaryHeap<InFlight> = BinaryHeap::new();
    let mut seq = 0;
    let mut log = Vec::new();
    let mut now = from_us;
    loop {
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(t) = n.poll_transmit() {
                seq += 1;
                queue.push(Reverse((
                    now + LATENCY_US,
                    seq,
                    i,
                    t.dst,
                    t.payload.to_vec(),
                )));
            }
            while n.poll_event().is_some() {}
        }
        let next_packet = queue.peek().map(|Reverse(q)| q.0);
        let next_timer = nodes.iter().filter_map(|n| n.poll_timeout()).min();
        let next = match (next_packet, next_timer.map(|t| t.as_micros().max(now))) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => break,
        };
        if next > until {
            break;
        }
        now = next;
        if next_packet == Some(now) {
            let Reverse((_, _, from, dst, payload)) = queue.pop().expect("peeked");
            if let Some(to) = addrs.iter().position(|a| *a == dst) {
                log.push((now, addrs[from], dst, payload.clone()));
                nodes[to].handle_datagram(Instant::from_micros(now), addrs[from], &payload);
            }
            continue;
        }
        for n in nodes.iter_mut() {
            if n.poll_timeout().is_some_and(|t| t.as_micros() <= now) {
                n.handle_timeout(Instant::from_micros(now));
            }
        }
    }
    log
}

#[test]
fn an_endpoint_pair_says_the_same_bytes_in_the_sim_and_directly() {
    let seed = 11;
    let (log, tap) = tap();
    // Node 1 joins at 1 µs and connects to node 0 100 ms later (the workload's start delay).
    let p = common::params(1, 100, Crypto::Flash);
    let mut e = common::star(2, seed, NetParams::default(), &[], p);
    e.set_tap(tap);
    e.run_until(common::secs(1.0));
    let sim = log.borrow().clone();
    assert!(sim.len() >= 4, "{} datagrams", sim.len());

    let ep0 = new_endpoint(Crypto::Flash, Config::default(), &mut node_rng(seed, 0));
    let mut ep1 = new_endpoint(Crypto::Flash, Config::default(), &mut node_rng(seed, 1));
    let start = 100_001;
    let epd = epd_for_peer_id(&ep0.fingerprint());
    ep1.connect(Instant::from_micros(start), epd, &[addr(0)])
        .unwrap();
    let mut pair = [ep0, ep1];
    let direct = in_memory(&mut pair, &[addr(0), addr(1)], start, start + 200_000);
    // IHello, RHello, IIKeying, RIKeying; then the workload starts writing on its own.
    assert_eq!(sim[0].0, start + LATENCY_US);
    assert!(direct.len() >= 4);
    for k in 0..4 {
        assert_eq!(direct[k], sim[k], "datagram {k}");
    }
}

#[test]
fn a_group_member_and_the_server_say_the_same_bytes_in_the_sim_and_directly() {
    let seed = 21;
    let spec = GroupSpec::default(); // no posts, no lookups
    let params = GroupParams::new(&spec, Crypto::Flash, 30.0, 2);
    let net = Network::new(
        2,
        Topology::uniform(LATENCY_US),
        NetParams::default(),
        &[],
        seed,
    );
    let w = GroupWorkload::new(params.clone(), 2, seed);
    let mut e: Engine<GroupSimNode, GroupWorkload> = Engine::new(EngineConfig::new(seed), net, w);
    let (log, tap) = tap();
    e.set_tap(tap);
    let start = 5_000;
    e.schedule_join(Instant::ZERO, SERVER);
    e.schedule_join(Instant::from_micros(start), NodeId(1));
    let until = 3_000_000;
    e.run_until(Instant::from_micros(until));
    let sim = log.borrow().clone();
    assert_eq!(e.workload().counters.join_success, 1);

    let server = new_server(Crypto::Flash, params.server.clone(), &mut node_rng(seed, 0));
    let mut member = new_member(
        Crypto::Flash,
        params.endpoint.clone(),
        params.group.clone(),
        &mut node_rng(seed, 1),
    );
    let now = Instant::from_micros(start);
    member
        .connect(now, &server_url(addr(0)), &[addr(0)])
        .unwrap();
    member.join(now, &params.spec).unwrap();
    let mut nodes = [
        GroupSimNode::Server(Box::new(server)),
        GroupSimNode::Member(Box::new(member)),
    ];
    let direct = in_memory(&mut nodes, &[addr(0), addr(1)], start, until);
    // Handshake, NetConnection connect and _result, the group join on its GC flow, acks.
    assert!(sim.len() >= 8, "{} datagrams", sim.len());
    assert_eq!(direct.len(), sim.len());
    for (k, (d, s)) in direct.iter().zip(&sim).enumerate() {
        assert_eq!(d, s, "datagram {k}");
    }
}
