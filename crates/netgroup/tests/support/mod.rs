//! Deterministic in-memory network for any [`SansIo`] machines: virtual time, fixed latency,
//! optional loss and a per-datagram filter, all from one seed.

#![allow(dead_code)]

pub mod members;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtmfp::{Instant, SansIo};

type Queued = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>)>;
/// Return false to drop a datagram: (time, from address, to address, payload).
pub type Filter = Box<dyn FnMut(Instant, SocketAddr, SocketAddr, &[u8]) -> bool>;
/// Delivers a multicast datagram to one node: (node, time, from, group address, payload).
pub type Multicast<M> = fn(&mut M, Instant, SocketAddr, SocketAddr, &[u8]);

pub struct Net<M: SansIo> {
    pub nodes: Vec<M>,
    pub addrs: Vec<SocketAddr>,
    pub events: Vec<Vec<M::Event>>,
    pub now: Instant,
    pub latency: Duration,
    pub loss: f64,
    pub filter: Option<Filter>,
    /// Every datagram delivered: (time, from, to, payload).
    pub log: Vec<(Instant, SocketAddr, SocketAddr, Vec<u8>)>,
    /// Delivery of datagrams sent to an IP multicast address: called for every node
    /// (the sender too, as multicast loopback does). Without it they are dropped.
    pub multicast: Option<Multicast<M>>,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Queued>,
    seq: u64,
}

pub fn seed(i: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    ChaCha8Rng::seed_from_u64(i).fill_bytes(&mut s);
    s
}

impl<M: SansIo> Net<M> {
    pub fn new(nodes: Vec<M>, addrs: Vec<SocketAddr>, seed: u64) -> Self {
        let n = nodes.len();
        Net {
            nodes,
            addrs,
            events: (0..n).map(|_| Vec::new()).collect(),
            now: Instant::from_micros(1_000_000),
            latency: Duration::from_millis(10),
            loss: 0.0,
            filter: None,
            log: Vec::new(),
            multicast: None,
            rng: ChaCha8Rng::seed_from_u64(seed),
            queue: BinaryHeap::new(),
            seq: 0,
        }
    }

    /// Drains transmits and events of every node.
    pub fn drain(&mut self) {
        loop {
            let mut any = false;
            for i in 0..self.nodes.len() {
                while let Some(t) = self.nodes[i].poll_transmit() {
                    any = true;
                    let from = self.addrs[i];
                    if let Some(f) = self.filter.as_mut() {
                        if !f(self.now, from, t.dst, &t.payload) {
                            continue;
                        }
                    }
                    if self.loss > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < self.loss
                    {
                        continue;
                    }
                    self.seq += 1;
                    let at = self.now + self.latency;
                    self.queue
                        .push(Reverse((at, self.seq, i, t.dst, t.payload.to_vec())));
                }
                while let Some(e) = self.nodes[i].poll_event() {
                    any = true;
                    self.events[i].push(e);
                }
            }
            if !any {
                return;
            }
        }
    }

    /// Advances to the next datagram delivery or timer; false when nothing is pending.
    pub fn step(&mut self) -> bool {
        self.step_before(None)
    }

    /// As [`Net::step`], but never advances past `limit` (time stops there if nothing is due).
    pub fn step_before(&mut self, limit: Option<Instant>) -> bool {
        self.drain();
        let next_packet = self.queue.peek().map(|Reverse((t, ..))| *t);
        let next_timer = self.nodes.iter().filter_map(|n| n.poll_timeout()).min();
        let next = match (next_packet, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => match a.or(b) {
                Some(t) => t,
                None => return false,
            },
        };
        if let Some(l) = limit {
            if next > l {
                self.now = self.now.max(l);
                return true;
            }
        }
        self.now = self.now.max(next);
        while let Some(Reverse((t, ..))) = self.queue.peek() {
            if *t > self.now {
                break;
            }
            let Reverse((_, _, from_idx, dst, payload)) = self.queue.pop().expect("peeked");
            let from = self.addrs[from_idx];
            if dst.ip().is_multicast() {
                if let Some(deliver) = self.multicast {
                    self.log.push((self.now, from, dst, payload.clone()));
                    for n in &mut self.nodes {
                        deliver(n, self.now, from, dst, &payload);
                    }
                }
                continue;
            }
            if let Some(to) = self.addrs.iter().position(|a| *a == dst) {
                self.log.push((self.now, from, dst, payload.clone()));
                self.nodes[to].handle_datagram(self.now, from, &payload);
            }
        }
        for n in &mut self.nodes {
            if n.poll_timeout().is_some_and(|t| t <= self.now) {
                n.handle_timeout(self.now);
            }
        }
        self.drain();
        true
    }

    /// Steps until `done` holds or `limit` of virtual time passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&Self) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step_before(Some(end)) {
                break;
            }
        }
        done(self)
    }
}
