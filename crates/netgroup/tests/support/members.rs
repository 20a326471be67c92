//! The machines of the group tests: a rendezvous server, group nodes and bare Flash nodes
//! (misbehaving peers) in one [`Net`], and the swarm they start from.

use std::net::SocketAddr;
use std::time::Duration;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtmfp::{FlashProfile, Instant, SansIo, Transmit};
use rtmfp_flash::{FlashNode, NodeEvent};
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousServer};
use rtmfp_netgroup::{GroupConfig, GroupEvent, GroupHandle, GroupNode, GroupSpecifier};

use super::{seed, Net};

/// The rendezvous server's URL in the swarms.
pub const URL: &str = "rtmfp://10.0.0.1/app";

#[allow(clippy::large_enum_variant)]
pub enum M {
    Server(RendezvousServer),
    Node(GroupNode),
    /// A bare Flash node driven by hand (a misbehaving peer).
    Raw(FlashNode),
}

#[derive(Debug, Clone)]
pub enum Ev {
    Server,
    Group(GroupEvent),
    Raw(NodeEvent),
}

impl SansIo for M {
    type Event = Ev;
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, d: &[u8]) {
        match self {
            M::Server(s) => s.handle_datagram(now, from, d),
            M::Node(n) => n.handle_datagram(now, from, d),
            M::Raw(r) => r.handle_datagram(now, from, d),
        }
    }
    fn handle_timeout(&mut self, now: Instant) {
        match self {
            M::Server(s) => s.handle_timeout(now),
            M::Node(n) => n.handle_timeout(now),
            M::Raw(r) => r.handle_timeout(now),
        }
    }
    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            M::Server(s) => s.poll_transmit(),
            M::Node(n) => n.poll_transmit(),
            M::Raw(r) => r.poll_transmit(),
        }
    }
    fn poll_event(&mut self) -> Option<Ev> {
        match self {
            M::Server(s) => s.poll_event().map(|_| Ev::Server),
            M::Node(n) => n.poll_event().map(Ev::Group),
            M::Raw(r) => r.poll_event().map(Ev::Raw),
        }
    }
    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            M::Server(s) => s.poll_timeout(),
            M::Node(n) => n.poll_timeout(),
            M::Raw(r) => r.poll_timeout(),
        }
    }
}

pub fn node(net: &mut Net<M>, i: usize) -> &mut GroupNode {
    match &mut net.nodes[i] {
        M::Node(n) => n,
        _ => panic!("not a group node"),
    }
}

pub fn node_ref(net: &Net<M>, i: usize) -> &GroupNode {
    match &net.nodes[i] {
        M::Node(n) => n,
        _ => panic!("not a group node"),
    }
}

pub fn raw(net: &mut Net<M>, i: usize) -> &mut FlashNode {
    match &mut net.nodes[i] {
        M::Raw(r) => r,
        _ => panic!("not raw"),
    }
}

/// Server at index 0, `n` group nodes at 1..=n, then `raws` bare Flash nodes.
pub fn swarm(n: usize, raws: usize, seed_base: u64, config: GroupConfig) -> Net<M> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed_base);
    let mut nodes = vec![M::Server(RendezvousServer::new(
        RendezvousConfig::default(),
        Box::new(FlashProfile::server(&mut rng)),
        seed(seed_base + 1),
    ))];
    let mut addrs = vec![SocketAddr::from(([10, 0, 0, 1], 1935))];
    for i in 0..n + raws {
        let flash = FlashNode::with_flash_identity(&mut rng, seed(seed_base + 10 + i as u64));
        if i < n {
            nodes.push(M::Node(GroupNode::new(
                flash,
                config.clone(),
                seed(seed_base + 1000 + i as u64),
            )));
        } else {
            nodes.push(M::Raw(flash));
        }
        addrs.push(SocketAddr::from(([192, 168, 1, 10 + i as u8], 40000)));
    }
    let mut net = Net::new(nodes, addrs, seed_base);
    let srv = net.addrs[0];
    let now = net.now;
    for i in 1..=n + raws {
        match &mut net.nodes[i] {
            M::Node(g) => g.connect(now, URL, &[srv]).unwrap(),
            M::Raw(r) => r.connect(now, URL, &[srv]).unwrap(),
            M::Server(_) => unreachable!(),
        }
    }
    net
}

/// Joins nodes `ids` one after the other, 100 ms apart.
pub fn join_all(net: &mut Net<M>, ids: &[usize], spec: &GroupSpecifier) -> GroupHandle {
    let mut h = None;
    for &i in ids {
        let now = net.now;
        h = Some(node(net, i).join(now, spec).unwrap());
        net.run_until(Duration::from_millis(100), |_| false);
    }
    h.unwrap()
}
