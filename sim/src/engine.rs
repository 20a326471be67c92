//! The discrete-event engine: virtual time, the event queue, the node slots, the drain loop.
//!
//! Determinism: the queue orders by `(time, sequence)`; nodes live in a `Vec`; each node
//! incarnation has its own RNG derived from `(seed, node, incarnation)`; the network and churn
//! have their own streams; nothing iterates a hash container. The [`RunHash`] digests every
//! delivered datagram (time, addresses, bytes) and every application event.
//!
//! A datagram whose destination is an IP multicast address (`224.0.0.0/4`, fanned out by the
//! network to the sender's LAN segment) is digested like any other, then handed to
//! [`SimNode::handle_multicast`] instead of `handle_datagram`.

use rtmfp::{Instant, Transmit};

use crate::churn::Churn;
use crate::directory::Directory;
use crate::hash::RunHash;
use crate::net::{Arrival, Drop, Network};
use crate::node::{NodeId, SimNode};
use crate::queue::EventQueue;
use crate::rng::{derive, stream, SimRng};
use crate::workload::{Ctx, Workload};

/// Engine settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineConfig {
    /// The run seed.
    pub seed: u64,
    /// How long a gracefully leaving node keeps running (to send its goodbyes), microseconds.
    pub grace_us: u64,
    /// Most queued events; datagrams beyond it are dropped ([`Drop::EventLimit`]).
    pub max_queued_events: usize,
}

impl EngineConfig {
    /// Defaults for `seed`: 2 s grace, 50 million queued events.
    pub fn new(seed: u64) -> Self {
        EngineConfig {
            seed,
            grace_us: 2_000_000,
            max_queued_events: 50_000_000,
        }
    }
}

/// Engine counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct EngineStats {
    /// Events popped from the queue (all kinds, stale timers included).
    pub events: u64,
    /// Node timer events that called `handle_timeout`.
    pub timers: u64,
    /// Superseded timer entries skipped.
    pub stale_timers: u64,
    /// Workload wakeups delivered.
    pub wakeups: u64,
    /// Datagram arrival events.
    pub arrivals: u64,
    /// Delivered datagrams sent to an IP multicast address (LAN segment fan-out) that the
    /// receiving node took ([`SimNode::handle_multicast`] returned true).
    pub multicast_taken: u64,
    /// Delivered multicast datagrams the receiving node ignored (not listening on that group
    /// address: a rendezvous server, a member without LAN discovery, a session endpoint).
    pub multicast_ignored: u64,
    /// Multicast datagrams that reached a LAN slot with no live node in it: nobody was there to
    /// hear them, which is not a network drop (unicast to a dead slot is
    /// [`crate::net::Drop::Dead`]).
    pub multicast_unheard: u64,
    /// Joins (incarnations created).
    pub joins: u64,
    /// Graceful leaves.
    pub leaves: u64,
    /// Crashes.
    pub crashes: u64,
    /// Largest queue length seen.
    pub peak_queue: u64,
}

/// Where a tap sees a datagram.
#[derive(Debug, Clone, Copy)]
pub struct TapRecord<'a> {
    /// Delivery time, microseconds.
    pub at: Instant,
    /// Sending node.
    pub src: NodeId,
    /// Receiving node.
    pub dst: NodeId,
    /// Addresses as on the receiver's wire.
    pub arrival: &'a Arrival,
    /// UDP payload.
    pub payload: &'a [u8],
}

/// A callback that sees every delivered datagram (pcap export).
pub type Tap = Box<dyn FnMut(&TapRecord<'_>)>;

#[derive(Debug)]
enum Ev {
    Timer {
        node: u32,
        inc: u32,
    },
    Wake {
        node: u32,
        inc: u32,
        token: u64,
    },
    /// A datagram reaches the receiver's access link. The payload is a plain boxed slice (16
    /// bytes, not a 32-byte `Bytes`): at 100,000 members a posting flood keeps millions of
    /// these queued at once (memory only; docs/performance-history.md, stop 20).
    Arrive {
        a: Arrival,
        src: u32,
        payload: Box<[u8]>,
    },
    /// It leaves the receiver's download queue.
    Deliver {
        a: Arrival,
        src: u32,
        payload: Box<[u8]>,
    },
    Join(u32),
    Leave {
        node: u32,
        crash: bool,
        inc: Option<u32>,
    },
    Reap {
        node: u32,
        inc: u32,
    },
}

struct Live<N> {
    node: N,
    rng: SimRng,
    armed: Option<Instant>,
    /// `node.poll_timeout()` as read at the end of the node's last drain. Every mutable use of
    /// a node is followed by a drain, so this is the node's current deadline whenever the
    /// engine looks at it between events (saves a second `poll_timeout` per timer event).
    deadline: Option<Instant>,
    leaving: bool,
}

struct Slot<N> {
    inc: u32,
    live: Option<Live<N>>,
}

struct Core {
    cfg: EngineConfig,
    now: Instant,
    queue: EventQueue<Ev>,
    net: Network,
    dir: Directory,
    hash: RunHash,
    stats: EngineStats,
    churn: Churn,
    wakeups: Vec<(NodeId, Instant, u64)>,
    arrivals: Vec<Arrival>,
    tap: Option<Tap>,
}

const TAG_DATAGRAM: u64 = 1;
const TAG_EVENT: u64 = 2;
const TAG_JOIN: u64 = 3;
const TAG_LEAVE: u64 = 4;

/// The simulator: nodes of type `N` driven by workload `W` over a [`Network`].
pub struct Engine<N: SimNode, W: Workload<N>> {
    slots: Vec<Slot<N>>,
    core: Core,
    workload: W,
}

fn ctx<'a>(core: &'a mut Core, node: NodeId, rng: &'a mut SimRng) -> Ctx<'a> {
    Ctx {
        now: core.now,
        node,
        rng,
        dir: &core.dir,
        net: &core.net,
        wakeups: &mut core.wakeups,
        hash: &mut core.hash,
    }
}

impl Core {
    fn push(&mut self, at: Instant, e: Ev) {
        self.queue.push(at, e);
        let l = self.queue.len() as u64;
        if l > self.stats.peak_queue {
            self.stats.peak_queue = l;
        }
    }

    fn transmit(&mut self, src: NodeId, t: Transmit) {
        let mut arrivals = std::mem::take(&mut self.arrivals);
        self.net
            .send(self.now, src, t.dst, t.payload.len(), &mut arrivals);
        // The last arrival (the only one for unicast) takes the payload itself, without a copy
        // when the endpoint made it from a vector of exact size (it does): `Vec::from(Bytes)`
        // takes back a uniquely held buffer. Other arrivals (LAN multicast) copy it.
        let last = arrivals.len().saturating_sub(1);
        let mut data: Box<[u8]> = Vec::from(t.payload).into_boxed_slice();
        for (i, a) in arrivals.drain(..).enumerate() {
            if self.queue.len() >= self.cfg.max_queued_events {
                self.net.stats.record(Drop::EventLimit);
                continue;
            }
            let payload = if i == last {
                std::mem::take(&mut data)
            } else {
                data.clone()
            };
            self.push(
                a.at,
                Ev::Arrive {
                    a,
                    src: src.0,
                    payload,
                },
            );
        }
        self.arrivals = arrivals;
    }
}

impl<N: SimNode, W: Workload<N>> Engine<N, W> {
    /// An engine with one slot per node of `net` (all down), driving `workload`.
    pub fn new(cfg: EngineConfig, net: Network, workload: W) -> Self {
        let n = net.nodes();
        Engine {
            slots: (0..n).map(|_| Slot { inc: 0, live: None }).collect(),
            core: Core {
                cfg,
                now: Instant::ZERO,
                queue: EventQueue::new(),
                net,
                dir: Directory::new(n),
                hash: RunHash::new(),
                stats: EngineStats::default(),
                churn: Churn::none(),
                wakeups: Vec::new(),
                arrivals: Vec::new(),
                tap: None,
            },
            workload,
        }
    }

    /// Sets the churn process (session lengths, rejoins).
    pub fn set_churn(&mut self, churn: Churn) {
        self.core.churn = churn;
    }

    /// Installs a tap that sees every delivered datagram.
    pub fn set_tap(&mut self, tap: Tap) {
        self.core.tap = Some(tap);
    }

    /// Schedules `node` to join at `at` (ignored if it is up then).
    pub fn schedule_join(&mut self, at: Instant, node: NodeId) {
        self.core.push(at, Ev::Join(node.0));
    }

    /// Schedules `node` to leave (or crash) at `at`, whatever incarnation is up then.
    pub fn schedule_leave(&mut self, at: Instant, node: NodeId, crash: bool) {
        self.core.push(
            at,
            Ev::Leave {
                node: node.0,
                crash,
                inc: None,
            },
        );
    }

    /// Virtual time, microseconds.
    pub fn now(&self) -> Instant {
        self.core.now
    }

    /// The run hash so far.
    pub fn hash(&self) -> &RunHash {
        &self.core.hash
    }

    /// Engine counters.
    pub fn stats(&self) -> &EngineStats {
        &self.core.stats
    }

    /// The network (and its counters).
    pub fn network(&self) -> &Network {
        &self.core.net
    }

    /// The workload (and its metrics).
    pub fn workload(&self) -> &W {
        &self.workload
    }

    /// The workload, mutably.
    pub fn workload_mut(&mut self) -> &mut W {
        &mut self.workload
    }

    /// Live nodes (joined, not leaving).
    pub fn live(&self) -> &[NodeId] {
        self.core.dir.live()
    }

    /// Events queued.
    pub fn queued(&self) -> usize {
        self.core.queue.len()
    }

    /// The node in slot `id`, if up (leaving nodes included).
    pub fn node(&self, id: NodeId) -> Option<&N> {
        self.slots.get(id.idx())?.live.as_ref().map(|l| &l.node)
    }

    /// Runs `f` on node `id` (if up) at the current time, then drains it: for commands issued
    /// from outside the workload (tests, interactive drivers).
    pub fn command<R>(&mut self, id: NodeId, f: impl FnOnce(&mut N, Instant) -> R) -> Option<R> {
        let now = self.core.now;
        let r = f(&mut self.slots.get_mut(id.idx())?.live.as_mut()?.node, now);
        self.drain(id);
        Some(r)
    }

    /// Approximate memory of the engine's own structures (queue, network), bytes; excludes the
    /// nodes' heap allocations.
    pub fn memory_bytes(&self) -> usize {
        self.core.queue.memory_bytes()
            + self.core.net.memory_bytes()
            + self.slots.capacity() * std::mem::size_of::<Slot<N>>()
    }

    /// Processes every event due at or before `end`, then sets the time to `end`. Returns
    /// whether events remain.
    pub fn run_until(&mut self, end: Instant) -> bool {
        while let Some(t) = self.core.queue.peek_time() {
            if t > end {
                break;
            }
            let (t, ev) = self.core.queue.pop().expect("peeked");
            self.core.now = self.core.now.max(t);
            self.core.stats.events += 1;
            self.dispatch(ev);
        }
        self.core.now = self.core.now.max(end);
        !self.core.queue.is_empty()
    }

    fn dispatch(&mut self, ev: Ev) {
        let now = self.core.now;
        match ev {
            Ev::Timer { node, inc } => {
                let slot = &mut self.slots[node as usize];
                let Some(l) = slot.live.as_mut().filter(|_| slot.inc == inc) else {
                    return;
                };
                if l.armed != Some(now) {
                    self.core.stats.stale_timers += 1;
                    return;
                }
                l.armed = None;
                if l.deadline.is_some_and(|t| t <= now) {
                    self.core.stats.timers += 1;
                    l.node.handle_timeout(now);
                }
                self.drain(NodeId(node));
            }
            Ev::Wake { node, inc, token } => {
                let slot = &mut self.slots[node as usize];
                let Some(l) = slot.live.as_mut().filter(|l| slot.inc == inc && !l.leaving) else {
                    return;
                };
                self.core.stats.wakeups += 1;
                let mut c = ctx(&mut self.core, NodeId(node), &mut l.rng);
                self.workload.on_wake(&mut c, &mut l.node, token);
                self.drain(NodeId(node));
            }
            Ev::Arrive { a, src, payload } => {
                self.core.stats.arrivals += 1;
                if self.slots[a.dst.idx()].live.is_none() {
                    return self.record_dead(&a);
                }
                match self.core.net.arrive(now, &a, payload.len()) {
                    Err(d) => self.core.net.stats.record(d),
                    Ok(at) if at <= now => self.deliver(a, src, payload),
                    Ok(at) => self.core.push(at, Ev::Deliver { a, src, payload }),
                }
            }
            Ev::Deliver { a, src, payload } => self.deliver(a, src, payload),
            Ev::Join(node) => self.join(NodeId(node)),
            Ev::Leave { node, crash, inc } => {
                let slot = &self.slots[node as usize];
                if inc.is_some_and(|i| i != slot.inc) {
                    return;
                }
                if slot.live.as_ref().is_some_and(|l| !l.leaving) {
                    self.leave(NodeId(node), crash);
                }
            }
            Ev::Reap { node, inc } => {
                let slot = &mut self.slots[node as usize];
                if slot.inc == inc && slot.live.as_ref().is_some_and(|l| l.leaving) {
                    slot.live = None;
                }
            }
        }
    }

    /// A datagram for an empty slot: a drop for unicast, unheard for LAN multicast.
    fn record_dead(&mut self, a: &Arrival) {
        if a.to.ip().is_multicast() {
            self.core.stats.multicast_unheard += 1;
        } else {
            self.core.net.stats.record(Drop::Dead);
        }
    }

    fn deliver(&mut self, a: Arrival, src: u32, payload: Box<[u8]>) {
        let now = self.core.now;
        let Some(l) = self.slots[a.dst.idx()].live.as_mut() else {
            return self.record_dead(&a);
        };
        let core = &mut self.core;
        core.net.stats.datagrams_delivered += 1;
        core.net.stats.wire_bytes_delivered += payload.len() as u64 + crate::net::HEADER_BYTES;
        core.hash.record(TAG_DATAGRAM);
        core.hash.u64(now.as_micros());
        core.hash.addr(a.from);
        core.hash.addr(a.to);
        core.hash.bytes(&payload);
        if let Some(tap) = core.tap.as_mut() {
            tap(&TapRecord {
                at: now,
                src: NodeId(src),
                dst: a.dst,
                arrival: &a,
                payload: &payload,
            });
        }
        if a.to.ip().is_multicast() {
            // LAN multicast is not an RTMFP packet: it goes to the node's multicast sockets.
            if l.node
                .handle_multicast(now, a.from.into(), a.to.into(), &payload)
            {
                core.stats.multicast_taken += 1;
            } else {
                core.stats.multicast_ignored += 1;
            }
        } else {
            l.node.handle_datagram(now, a.from.into(), &payload);
        }
        self.drain(a.dst);
    }

    fn join(&mut self, id: NodeId) {
        let slot = &mut self.slots[id.idx()];
        match &slot.live {
            Some(l) if !l.leaving => return,
            _ => {}
        }
        slot.live = None;
        slot.inc += 1;
        let inc = slot.inc;
        let mut rng = derive(
            self.core.cfg.seed,
            stream::NODE,
            (id.0 as u64) << 32 | inc as u64,
        );
        self.core.stats.joins += 1;
        self.core.hash.record(TAG_JOIN);
        self.core.hash.u64(id.0 as u64);
        let node = {
            let mut c = ctx(&mut self.core, id, &mut rng);
            self.workload.create(&mut c)
        };
        self.core.dir.insert(id);
        let slot = &mut self.slots[id.idx()];
        let l = slot.live.insert(Live {
            node,
            rng,
            armed: None,
            deadline: None,
            leaving: false,
        });
        let mut c = ctx(&mut self.core, id, &mut l.rng);
        self.workload.on_join(&mut c, &mut l.node);
        self.drain(id);
        let now = self.core.now;
        if let Some((at, crash)) = self.core.churn.on_join(now, id) {
            self.core.push(
                at,
                Ev::Leave {
                    node: id.0,
                    crash,
                    inc: Some(inc),
                },
            );
        }
    }

    fn leave(&mut self, id: NodeId, crash: bool) {
        let slot = &mut self.slots[id.idx()];
        let inc = slot.inc;
        let Some(l) = slot.live.as_mut() else { return };
        self.core.dir.remove(id);
        self.core.hash.record(TAG_LEAVE);
        self.core.hash.u64((id.0 as u64) << 1 | crash as u64);
        let mut c = ctx(&mut self.core, id, &mut l.rng);
        self.workload.on_leave(&mut c, &mut l.node, crash);
        self.core.wakeups.clear();
        if crash {
            self.core.stats.crashes += 1;
            slot.live = None;
        } else {
            self.core.stats.leaves += 1;
            l.leaving = true;
            self.drain(id);
            let at = Instant::from_micros(self.core.now.as_micros() + self.core.cfg.grace_us);
            self.core.push(at, Ev::Reap { node: id.0, inc });
        }
        let now = self.core.now;
        if let Some(at) = self.core.churn.on_leave(now, id) {
            self.core.push(at, Ev::Join(id.0));
        }
    }

    /// Drains node `id`: transmits into the network, events into the workload, until both are
    /// empty; then queues its wakeups and re-arms its timer.
    fn drain(&mut self, id: NodeId) {
        let slot = &mut self.slots[id.idx()];
        let inc = slot.inc;
        let Some(l) = slot.live.as_mut() else { return };
        let core = &mut self.core;
        // Whether the node's last `poll_event` returned `None` and only empty
        // `poll_transmit`s followed: polling events again would find none (the machines drain
        // their pending work before answering `None`), so the loop ends there.
        let mut events_drained = false;
        loop {
            let mut sent = false;
            while let Some(t) = l.node.poll_transmit() {
                sent = true;
                core.transmit(id, t);
            }
            if events_drained && !sent {
                break;
            }
            let mut got = false;
            while let Some(e) = l.node.poll_event() {
                got = true;
                core.hash.record(TAG_EVENT);
                core.hash.u64(core.now.as_micros());
                core.hash.u64(id.0 as u64);
                N::digest_event(&e, &mut core.hash);
                let mut c = ctx(core, id, &mut l.rng);
                self.workload.on_event(&mut c, &mut l.node, e);
            }
            if !sent && !got {
                break;
            }
            events_drained = !got;
        }
        let timeout = l.node.poll_timeout();
        l.deadline = timeout;
        if !self.core.wakeups.is_empty() {
            let mut wakeups = std::mem::take(&mut self.core.wakeups);
            for (node, at, token) in wakeups.drain(..) {
                let inc = match self.slots.get(node.idx()) {
                    Some(s) if s.live.is_some() => s.inc,
                    _ => continue,
                };
                self.core.push(
                    at,
                    Ev::Wake {
                        node: node.0,
                        inc,
                        token,
                    },
                );
            }
            self.core.wakeups = wakeups;
        }
        if let Some(t) = timeout {
            let t = t.max(self.core.now);
            let Some(l) = self.slots[id.idx()].live.as_mut() else {
                return;
            };
            if l.armed.is_none_or(|a| t < a) {
                l.armed = Some(t);
                self.core.push(t, Ev::Timer { node: id.0, inc });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A queued datagram's payload slot stays within 48 bytes (64 with a `Bytes` payload):
    /// a 100,000-member flood queues millions of them.
    #[test]
    fn a_queued_event_stays_small() {
        assert!(
            std::mem::size_of::<Ev>() <= 48,
            "{}",
            std::mem::size_of::<Ev>()
        );
    }
}
