//! Deterministic in-memory network for two or more endpoints: virtual time, latency, random
//! loss, duplication and reordering, all from one seed.

#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::net::SocketAddr;
use std::time::Duration;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rtmfp::{Endpoint, Event, Instant};

/// Link behaviour.
#[derive(Clone, Copy, Debug)]
pub struct Link {
    pub latency: Duration,
    pub loss: f64,
    pub duplicate: f64,
    /// Probability that a datagram gets up to `latency` extra delay (reordering).
    pub reorder: f64,
}

impl Link {
    pub fn clean() -> Self {
        Link {
            latency: Duration::from_millis(10),
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
        }
    }
    pub fn lossy(loss: f64) -> Self {
        Link {
            latency: Duration::from_millis(10),
            loss,
            duplicate: 0.02,
            reorder: 0.05,
        }
    }
}

type Queued = Reverse<(Instant, u64, usize, SocketAddr, Vec<u8>)>;
type Filter = Box<dyn FnMut(usize, usize, &[u8]) -> bool>;

pub struct Net {
    pub eps: Vec<Endpoint>,
    pub addrs: Vec<SocketAddr>,
    pub now: Instant,
    pub link: Link,
    rng: ChaCha8Rng,
    queue: BinaryHeap<Queued>,
    seq: u64,
    pub events: Vec<Vec<Event>>,
    /// Datagrams handed to the network, per endpoint.
    pub sent: Vec<u64>,
    /// Optional filter: return false to drop a datagram (from index, to index, payload).
    pub filter: Option<Filter>,
    /// Optional source-address rewrite per sender (simulates a NAT rebinding).
    pub rewrite_from: Vec<Option<SocketAddr>>,
}

pub fn rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed)
}

impl Net {
    pub fn new(eps: Vec<Endpoint>, link: Link, seed: u64) -> Self {
        let n = eps.len();
        Net {
            addrs: (0..n)
                .map(|i| SocketAddr::from(([10, 0, 0, i as u8 + 1], 1935)))
                .collect(),
            eps,
            now: Instant::from_micros(1_000_000),
            link,
            rng: rng(seed ^ 0xabcdef),
            queue: BinaryHeap::new(),
            seq: 0,
            events: vec![Vec::new(); n],
            sent: vec![0; n],
            filter: None,
            rewrite_from: vec![None; n],
        }
    }

    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.rng.next_u64() as f64 / u64::MAX as f64) < p
    }

    fn index_of(&self, a: SocketAddr) -> Option<usize> {
        self.addrs
            .iter()
            .position(|x| *x == a)
            .or_else(|| self.rewrite_from.iter().position(|x| *x == Some(a)))
    }

    /// Drains transmits and events of every endpoint.
    pub fn drain(&mut self) {
        for i in 0..self.eps.len() {
            while let Some(t) = self.eps[i].poll_transmit() {
                self.sent[i] += 1;
                let Some(to) = self.index_of(t.dst) else {
                    continue;
                };
                if let Some(f) = self.filter.as_mut() {
                    if !f(i, to, &t.payload) {
                        continue;
                    }
                }
                if self.chance(self.link.loss) {
                    continue;
                }
                let copies = if self.chance(self.link.duplicate) {
                    2
                } else {
                    1
                };
                for _ in 0..copies {
                    let mut at = self.now + self.link.latency;
                    if self.chance(self.link.reorder) {
                        let extra =
                            self.rng.next_u64() % (self.link.latency.as_micros() as u64 + 1);
                        at = at + Duration::from_micros(extra);
                    }
                    self.seq += 1;
                    let from = self.rewrite_from[i].unwrap_or(self.addrs[i]);
                    self.queue
                        .push(Reverse((at, self.seq, to, from, t.payload.to_vec())));
                }
            }
            while let Some(e) = self.eps[i].poll_event() {
                self.events[i].push(e);
            }
        }
    }

    /// Advances to the next network delivery or timer; returns false when nothing is left.
    pub fn step(&mut self) -> bool {
        self.step_until(Instant::from_micros(u64::MAX))
    }

    /// Like [`Net::step`], but never advances past `horizon`.
    pub fn step_until(&mut self, horizon: Instant) -> bool {
        self.drain();
        let next_packet = self.queue.peek().map(|Reverse((t, ..))| *t);
        let next_timer = self.eps.iter().filter_map(|e| e.poll_timeout()).min();
        let next = match (next_packet, next_timer) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return false,
        };
        if next > horizon {
            self.now = horizon;
            return true;
        }
        self.now = self.now.max(next);
        if next_packet == Some(next) {
            let Reverse((_, _, to, from, payload)) = self.queue.pop().unwrap();
            self.eps[to].handle_datagram(self.now, from, &payload);
        } else {
            for e in &mut self.eps {
                if e.poll_timeout().is_some_and(|t| t <= self.now) {
                    e.handle_timeout(self.now);
                }
            }
        }
        self.drain();
        true
    }

    /// Runs until `done` or virtual `limit` passes; returns whether `done` held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Net) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if done(self) {
                return true;
            }
            if !self.step_until(end) {
                return done(self);
            }
        }
        done(self)
    }

    /// Removes and returns the events of endpoint `i`.
    pub fn take_events(&mut self, i: usize) -> Vec<Event> {
        std::mem::take(&mut self.events[i])
    }
}
