//! The network model: which datagrams arrive, where, and when.
//!
//! A datagram sent by node `s` to address `a` goes: address resolution (private, NAT public,
//! multicast) → `s`'s NAT (mapping, public source address) → `s`'s upload queue (serialization at
//! the upload capacity, tail drop) → loss (random, then Gilbert–Elliott per sender) →
//! partitions → propagation (topology delay or LAN delay, plus uniform jitter, which may reorder)
//! → at arrival: the receiver's NAT filter → the receiver's download queue → delivery.
//! Every datagram costs its UDP payload plus [`HEADER_BYTES`] of IPv4 and UDP headers on the
//! links and in the byte counts.

pub mod link;
pub mod loss;
pub mod nat;
pub mod topology;

use std::net::{SocketAddr, SocketAddrV4};

use rtmfp::Instant;

use crate::addr::{classify, classify_v4, private_addr, Dest};
use crate::node::NodeId;
use crate::rng::{below, chance, derive, stream, SimRng};
use link::Link;
use loss::GilbertElliott;
use nat::{Nat, NatType};
use topology::Topology;

/// IPv4 (20) + UDP (8) header bytes added to every datagram on the wire.
pub const HEADER_BYTES: u64 = 28;

/// A network partition: while active, datagrams between the two sides are dropped. Side A is
/// the nodes with index below `fraction × nodes`; side B the rest.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Partition {
    /// When it starts, microseconds.
    pub start_us: u64,
    /// When it heals, microseconds.
    pub end_us: u64,
    /// Fraction of nodes (by index) on side A.
    pub fraction: f64,
}

/// Network parameters shared by all nodes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct NetParams {
    /// Jitter: extra one-way delay uniform in `[0, jitter_us]`, microseconds.
    pub jitter_us: u64,
    /// Independent random loss probability per datagram.
    pub loss: f64,
    /// Bursty loss per sender, if any.
    pub bursty: Option<GilbertElliott>,
    /// Nodes per LAN segment (consecutive indices); 0 = no LANs.
    pub lan_size: u32,
    /// One-way delay inside a LAN segment, microseconds.
    pub lan_latency_us: u64,
    /// Default upload capacity, bits per second (0 = unlimited).
    pub upload_bps: u64,
    /// Default download capacity, bits per second (0 = unlimited).
    pub download_bps: u64,
    /// Queue limit of each link direction, bytes.
    pub queue_bytes: u64,
    /// Partitions.
    pub partitions: Vec<Partition>,
}

impl Default for NetParams {
    fn default() -> Self {
        NetParams {
            jitter_us: 0,
            loss: 0.0,
            bursty: None,
            lan_size: 0,
            lan_latency_us: 200,
            upload_bps: 0,
            download_bps: 0,
            queue_bytes: 256 * 1024,
            partitions: Vec::new(),
        }
    }
}

/// Why the network dropped a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drop {
    /// Random loss.
    Loss,
    /// Gilbert–Elliott loss.
    Burst,
    /// The sender's upload queue was full.
    UploadQueue,
    /// The receiver's download queue was full.
    DownloadQueue,
    /// The receiver's NAT filtered it (or the sender's ran out of ports).
    Nat,
    /// An active partition separates sender and receiver.
    Partition,
    /// The address designates nothing reachable.
    NoRoute,
    /// The receiving node is down.
    Dead,
    /// The engine's event limit was reached.
    EventLimit,
}

/// Network counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct NetStats {
    /// Datagrams put on the wire (past the upload queue).
    pub datagrams_sent: u64,
    /// Bytes put on the wire, headers included.
    pub wire_bytes_sent: u64,
    /// Datagrams handed to a receiving node.
    pub datagrams_delivered: u64,
    /// Bytes handed to receiving nodes, headers included.
    pub wire_bytes_delivered: u64,
    /// Dropped by random loss.
    pub drop_loss: u64,
    /// Dropped by bursty loss.
    pub drop_burst: u64,
    /// Dropped at a full upload queue.
    pub drop_upload_queue: u64,
    /// Dropped at a full download queue.
    pub drop_download_queue: u64,
    /// Dropped by a NAT.
    pub drop_nat: u64,
    /// Dropped by a partition.
    pub drop_partition: u64,
    /// Unroutable.
    pub drop_no_route: u64,
    /// Arrived at a node that was down.
    pub drop_dead: u64,
    /// Dropped because the engine's event limit was reached.
    pub drop_event_limit: u64,
}

impl NetStats {
    /// Counts one drop.
    pub fn record(&mut self, d: Drop) {
        *match d {
            Drop::Loss => &mut self.drop_loss,
            Drop::Burst => &mut self.drop_burst,
            Drop::UploadQueue => &mut self.drop_upload_queue,
            Drop::DownloadQueue => &mut self.drop_download_queue,
            Drop::Nat => &mut self.drop_nat,
            Drop::Partition => &mut self.drop_partition,
            Drop::NoRoute => &mut self.drop_no_route,
            Drop::Dead => &mut self.drop_dead,
            Drop::EventLimit => &mut self.drop_event_limit,
        } += 1;
    }

    /// All drops.
    pub fn drops(&self) -> u64 {
        self.drop_loss
            + self.drop_burst
            + self.drop_upload_queue
            + self.drop_download_queue
            + self.drop_nat
            + self.drop_partition
            + self.drop_no_route
            + self.drop_dead
            + self.drop_event_limit
    }
}

/// A datagram in flight to one receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arrival {
    /// When it reaches the receiver's access link, microseconds.
    pub at: Instant,
    /// The receiver.
    pub dst: NodeId,
    /// The source address the receiver sees.
    pub from: SocketAddrV4,
    /// The destination address it was sent to.
    pub to: SocketAddrV4,
}

/// The network: topology, per-node links, NATs, loss state, counters.
#[derive(Debug)]
pub struct Network {
    n: usize,
    topo: Topology,
    params: NetParams,
    nat: Vec<Option<Box<Nat>>>,
    up: Vec<Link>,
    down: Vec<Link>,
    bad: Vec<bool>,
    rng: SimRng,
    /// Counters.
    pub stats: NetStats,
}

impl Network {
    /// A network of `n` nodes over `topo` with `params`; `nat[i]` is node `i`'s NAT type
    /// (missing entries: none); `seed` seeds loss and jitter.
    pub fn new(n: usize, topo: Topology, params: NetParams, nat: &[NatType], seed: u64) -> Self {
        let nat = (0..n)
            .map(|i| match nat.get(i).copied().unwrap_or(NatType::None) {
                NatType::None => None,
                k => Some(Box::new(Nat::new(NodeId(i as u32), k))),
            })
            .collect();
        Network {
            n,
            up: vec![Link::new(params.upload_bps, params.queue_bytes); n],
            down: vec![Link::new(params.download_bps, params.queue_bytes); n],
            bad: vec![false; if params.bursty.is_some() { n } else { 0 }],
            topo,
            params,
            nat,
            rng: derive(seed, stream::NET, 0),
            stats: NetStats::default(),
        }
    }

    /// Number of node slots.
    pub fn nodes(&self) -> usize {
        self.n
    }

    /// The parameters.
    pub fn params(&self) -> &NetParams {
        &self.params
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// Sets node `node`'s upload and download capacities, bits per second (0 = unlimited).
    pub fn set_capacity(&mut self, node: NodeId, upload_bps: u64, download_bps: u64) {
        self.up[node.idx()].bps = upload_bps;
        self.down[node.idx()].bps = download_bps;
    }

    /// Node `node`'s upload and download capacities, bits per second (0 = unlimited).
    pub fn capacity_bps(&self, node: NodeId) -> (u64, u64) {
        (self.up[node.idx()].bps, self.down[node.idx()].bps)
    }

    /// Node `node`'s NAT type.
    pub fn nat_type(&self, node: NodeId) -> NatType {
        self.nat[node.idx()]
            .as_ref()
            .map_or(NatType::None, |n| n.kind())
    }

    /// Whether `a` and `b` share a LAN segment.
    pub fn same_lan(&self, a: NodeId, b: NodeId) -> bool {
        let s = self.params.lan_size;
        s > 0 && a.0 / s == b.0 / s
    }

    /// The address `from` should use to reach `to`.
    pub fn addr_for(&self, from: NodeId, to: NodeId) -> SocketAddrV4 {
        match &self.nat[to.idx()] {
            Some(nat) if !self.same_lan(from, to) => nat.public_addr(),
            _ => private_addr(to),
        }
    }

    /// Node `node`'s public address (its NAT's, if any).
    pub fn public_addr(&self, node: NodeId) -> SocketAddrV4 {
        match &self.nat[node.idx()] {
            Some(nat) => nat.public_addr(),
            None => private_addr(node),
        }
    }

    fn partitioned(&self, now: Instant, a: NodeId, b: NodeId) -> bool {
        self.params.partitions.iter().any(|p| {
            if now.as_micros() < p.start_us || now.as_micros() >= p.end_us {
                return false;
            }
            let cut = p.fraction * self.n as f64;
            ((a.0 as f64) < cut) != ((b.0 as f64) < cut)
        })
    }

    /// The source address `src` shows when sending to `to` (through its NAT unless `to` is on
    /// its LAN segment).
    fn source(&mut self, src: NodeId, to: SocketAddrV4, dst: NodeId) -> Option<SocketAddrV4> {
        if self.same_lan(src, dst) {
            return Some(private_addr(src));
        }
        self.outbound(src, to)
    }

    /// The source address `src` shows through its NAT (its own address without one) when
    /// sending to `to`.
    fn outbound(&mut self, src: NodeId, to: SocketAddrV4) -> Option<SocketAddrV4> {
        match &mut self.nat[src.idx()] {
            Some(nat) => nat.outbound(to),
            None => Some(private_addr(src)),
        }
    }

    /// Where a datagram from `src` to `to` (designating `dest`, not multicast) arrives and the
    /// source address it shows there, or why it is dropped.
    fn unicast(
        &mut self,
        src: NodeId,
        to: SocketAddrV4,
        dest: Dest,
    ) -> Result<(NodeId, SocketAddrV4), Drop> {
        match dest {
            Dest::Unknown | Dest::Multicast => Err(Drop::NoRoute),
            Dest::Private(d) | Dest::NatPublic(d, _) if d.idx() >= self.n => Err(Drop::NoRoute),
            Dest::Private(d) => {
                if self.nat[d.idx()].is_some() && !self.same_lan(src, d) {
                    return Err(Drop::NoRoute);
                }
                let from = self.source(src, to, d).ok_or(Drop::Nat)?;
                Ok((d, from))
            }
            Dest::NatPublic(d, _) => {
                if self.nat[d.idx()].is_none() {
                    return Err(Drop::NoRoute);
                }
                // Hairpinning through the far NAT even on a shared LAN.
                let from = self.outbound(src, to).ok_or(Drop::Nat)?;
                Ok((d, from))
            }
        }
    }

    /// Node `src` sends a `len`-byte datagram to `to` at `now`; appends what will arrive where
    /// to `out` (several entries for multicast, none if dropped). Drops are counted.
    pub fn send(
        &mut self,
        now: Instant,
        src: NodeId,
        to: SocketAddr,
        len: usize,
        out: &mut Vec<Arrival>,
    ) {
        let (SocketAddr::V4(to4), dest) = (to, classify(to)) else {
            self.stats.record(Drop::NoRoute);
            return;
        };
        let start = out.len();
        match dest {
            Dest::Multicast => {
                let s = self.params.lan_size;
                if s == 0 {
                    return self.stats.record(Drop::NoRoute);
                }
                let first = src.0 / s * s;
                let last = (first + s).min(self.n as u32);
                for d in (first..last).filter(|&d| d != src.0) {
                    out.push(Arrival {
                        at: now,
                        dst: NodeId(d),
                        from: private_addr(src),
                        to: to4,
                    });
                }
            }
            _ => match self.unicast(src, to4, dest) {
                Ok((dst, from)) => out.push(Arrival {
                    at: now,
                    dst,
                    from,
                    to: to4,
                }),
                Err(drop) => return self.stats.record(drop),
            },
        }
        let wire = len as u64 + HEADER_BYTES;
        let Some(depart) = self.up[src.idx()].enqueue(now.as_micros(), wire) else {
            out.truncate(start);
            return self.stats.record(Drop::UploadQueue);
        };
        self.stats.datagrams_sent += 1;
        self.stats.wire_bytes_sent += wire;
        let burst = match &self.params.bursty {
            Some(ge) => ge.step(&mut self.bad[src.idx()], &mut self.rng),
            None => false,
        };
        let mut i = start;
        while i < out.len() {
            let d = out[i].dst;
            let verdict = if burst {
                Some(Drop::Burst)
            } else if chance(&mut self.rng, self.params.loss) {
                Some(Drop::Loss)
            } else if self.partitioned(now, src, d) {
                Some(Drop::Partition)
            } else {
                None
            };
            if let Some(v) = verdict {
                self.stats.record(v);
                out.swap_remove(i);
                continue;
            }
            let prop = if self.same_lan(src, d) {
                self.params.lan_latency_us
            } else {
                self.topo.latency_us(src, d)
            };
            let jitter = if self.params.jitter_us > 0 {
                below(&mut self.rng, self.params.jitter_us + 1)
            } else {
                0
            };
            out[i].at = Instant::from_micros(depart + prop + jitter);
            i += 1;
        }
    }

    /// `a` reaches `a.dst`'s access link at `now`: applies the NAT filter and the download
    /// queue; returns when it is delivered, or why it was dropped (not counted: the caller
    /// counts through [`NetStats::record`]).
    pub fn arrive(&mut self, now: Instant, a: &Arrival, len: usize) -> Result<Instant, Drop> {
        if let Dest::NatPublic(d, port) = classify_v4(a.to) {
            if let Some(nat) = &self.nat[d.idx()] {
                if !nat.inbound(port, a.from) {
                    return Err(Drop::Nat);
                }
            }
        }
        let wire = len as u64 + HEADER_BYTES;
        self.down[a.dst.idx()]
            .enqueue(now.as_micros(), wire)
            .map(Instant::from_micros)
            .ok_or(Drop::DownloadQueue)
    }

    /// Approximate memory of the model, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.topo.memory_bytes()
            + self.n * (2 * std::mem::size_of::<Link>() + 8 + 1)
            + self.nat.iter().flatten().count() * std::mem::size_of::<Nat>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_capacity_spaces_departures_and_bounds_throughput() {
        // 1 Mbit/s up: 972-byte datagrams cost 1000 wire bytes = 8 ms each.
        let params = NetParams {
            upload_bps: 1_000_000,
            ..NetParams::default()
        };
        let mut net = Network::new(2, Topology::uniform(10_000), params, &[], 1);
        let to: SocketAddr = private_addr(NodeId(1)).into();
        let mut out = Vec::new();
        for _ in 0..20 {
            net.send(Instant::ZERO, NodeId(0), to, 972, &mut out);
        }
        let at: Vec<u64> = out.iter().map(|a| a.at.as_micros()).collect();
        assert_eq!(at.len(), 20);
        for (i, t) in at.iter().enumerate() {
            assert_eq!(*t, 10_000 + 8_000 * (i as u64 + 1), "{at:?}");
        }
        // The queue holds 256 KiB: a burst beyond it is tail-dropped, not sped up.
        for _ in 0..300 {
            net.send(Instant::ZERO, NodeId(0), to, 972, &mut out);
        }
        assert!(net.stats.drop_upload_queue > 0);
        let last = out.iter().map(|a| a.at.as_micros()).max().unwrap();
        let bytes = net.stats.wire_bytes_sent;
        // 1 Mbit/s is one bit per microsecond.
        assert!(bytes * 8 <= last - 10_000, "{bytes} bytes by {last} µs");
        assert_eq!(net.capacity_bps(NodeId(1)), (1_000_000, 0));
    }
}
