//! The session-level workload: every node opens sessions to some others and sends messages on
//! a reliable flow. Measures handshake completion, delivery, latency, duplicates.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use rtmfp::crypto::cert::epd_for_peer_id;
use rtmfp::{Config, Endpoint, Event, Instant, Priority, Role, SessionId};

use crate::endpoint_node::{new_endpoint, Crypto};
use crate::metrics::Samples;
use crate::node::NodeId;
use crate::rng::below;
use crate::workload::{Ctx, Workload};

/// Whom each node opens sessions to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// `peers` distinct random live nodes.
    Random,
    /// Node 0 (the hub); node 0 itself opens nothing.
    Star,
}

/// Parameters of the session workload.
#[derive(Debug, Clone)]
pub struct SessionParams {
    /// Whom to connect to.
    pub pattern: Pattern,
    /// Sessions each node opens (random pattern).
    pub peers: u32,
    /// Messages sent on each opened session.
    pub messages: u32,
    /// Size of each message, bytes (≥ 16: message ID and send time).
    pub message_bytes: u32,
    /// Gap between messages on a flow, microseconds (0: all written at once).
    pub interval_us: u64,
    /// Delay from join to the first connect, microseconds.
    pub start_delay_us: u64,
    /// Crypto profile of the endpoints.
    pub crypto: Crypto,
    /// Endpoint configuration.
    pub config: Config,
}

/// Counters of the session workload.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionCounters {
    /// `connect` calls.
    pub handshakes_started: u64,
    /// Sessions opened as initiator.
    pub handshakes_completed: u64,
    /// `ConnectFailed` events.
    pub handshakes_failed: u64,
    /// Openings abandoned because their node left.
    pub handshakes_abandoned: u64,
    /// Sessions opened as responder.
    pub sessions_accepted: u64,
    /// Messages written to flows.
    pub messages_sent: u64,
    /// Distinct messages delivered.
    pub messages_delivered: u64,
    /// Messages delivered more than once.
    pub duplicates: u64,
    /// Messages delivered to a node other than their target (possible with the plain profile,
    /// which authenticates nothing, when a slot rejoins at the same address and reuses session
    /// IDs; never with the Flash profile).
    pub misdelivered: u64,
    /// Writes refused by the endpoint.
    pub write_errors: u64,
    /// Application bytes written.
    pub app_bytes_sent: u64,
    /// Application bytes delivered (first copies).
    pub app_bytes_delivered: u64,
}

struct Sender {
    session: SessionId,
    to: NodeId,
    flow: u64,
    written: u32,
    done: bool,
}

#[derive(Default)]
struct PerNode {
    fingerprint: [u8; 32],
    pending: BTreeMap<u32, (Instant, NodeId)>,
    sessions: BTreeSet<u32>,
    senders: Vec<Sender>,
}

/// The session workload over `rtmfp::Endpoint` nodes.
pub struct SessionWorkload {
    p: SessionParams,
    nodes: Vec<PerNode>,
    sent_at: Vec<u64>,
    target: Vec<u32>,
    deliveries: Vec<u32>,
    /// Counters.
    pub counters: SessionCounters,
    /// Message latencies (write to delivery), microseconds.
    pub latency_us: Samples,
    /// Handshake times (connect to `SessionOpened` at the initiator), microseconds.
    pub handshake_us: Samples,
}

const TOKEN_START: u64 = u64::MAX;
const SAMPLE_CAP: usize = 1 << 20;

impl SessionWorkload {
    /// A workload for `slots` node slots; `seed` drives metric sampling.
    pub fn new(p: SessionParams, slots: usize, seed: u64) -> Self {
        SessionWorkload {
            p,
            nodes: (0..slots).map(|_| PerNode::default()).collect(),
            sent_at: Vec::new(),
            target: Vec::new(),
            deliveries: Vec::new(),
            counters: SessionCounters::default(),
            latency_us: Samples::new(SAMPLE_CAP, seed),
            handshake_us: Samples::new(SAMPLE_CAP, seed ^ 1),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &SessionParams {
        &self.p
    }

    /// Openings still pending (neither opened nor failed).
    pub fn pending_handshakes(&self) -> u64 {
        self.nodes.iter().map(|n| n.pending.len() as u64).sum()
    }

    /// Fingerprint (peer ID) of the current incarnation of `n`.
    pub fn fingerprint(&self, n: NodeId) -> [u8; 32] {
        self.nodes[n.idx()].fingerprint
    }

    fn targets(&self, ctx: &mut Ctx<'_>) -> Vec<NodeId> {
        match self.p.pattern {
            Pattern::Star => {
                let hub = NodeId(0);
                if ctx.node != hub && ctx.is_live(hub) {
                    vec![hub]
                } else {
                    Vec::new()
                }
            }
            Pattern::Random => {
                let want = self.p.peers as usize;
                let mut out = Vec::with_capacity(want);
                let live = ctx.live().len() as u64;
                for _ in 0..want * 8 {
                    if out.len() == want {
                        break;
                    }
                    let k = below(ctx.rng, live) as usize;
                    let t = ctx.live()[k];
                    if t != ctx.node && !out.contains(&t) {
                        out.push(t);
                    }
                }
                out
            }
        }
    }

    fn start(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint) {
        for t in self.targets(ctx) {
            let epd = epd_for_peer_id(&self.nodes[t.idx()].fingerprint);
            let addr = ctx.addr_of(t);
            self.counters.handshakes_started += 1;
            match ep.connect(ctx.now, epd, &[addr]) {
                Ok(s) => {
                    self.nodes[ctx.node.idx()].pending.insert(s.0, (ctx.now, t));
                }
                Err(_) => self.counters.handshakes_failed += 1,
            }
        }
    }

    fn write_next(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint, i: usize) {
        let me = ctx.node.idx();
        let Some(s) = self.nodes[me].senders.get_mut(i) else {
            return;
        };
        if s.done || s.written >= self.p.messages {
            return;
        }
        let id = self.sent_at.len() as u64;
        let mut data = vec![0u8; self.p.message_bytes.max(16) as usize];
        data[..8].copy_from_slice(&id.to_le_bytes());
        data[8..16].copy_from_slice(&ctx.now.as_micros().to_le_bytes());
        let len = data.len() as u64;
        match ep.write(ctx.now, s.session, s.flow, Bytes::from(data), None) {
            Ok(()) => {
                s.written += 1;
                self.sent_at.push(ctx.now.as_micros());
                self.target.push(s.to.0);
                self.deliveries.push(0);
                self.counters.messages_sent += 1;
                self.counters.app_bytes_sent += len;
            }
            Err(_) => {
                self.counters.write_errors += 1;
                s.done = true;
                return;
            }
        }
        if s.written >= self.p.messages {
            s.done = true;
            let _ = ep.close_flow(ctx.now, s.session, s.flow);
        }
    }

    fn on_opened(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint, session: SessionId) {
        let me = ctx.node.idx();
        let Some((started, to)) = self.nodes[me].pending.remove(&session.0) else {
            return;
        };
        self.counters.handshakes_completed += 1;
        self.handshake_us
            .push(ctx.now.as_micros() - started.as_micros());
        if self.p.messages == 0 {
            return;
        }
        let Ok(flow) = ep.open_flow(ctx.now, session, b"rtmfp-sim", None, Priority::BULK) else {
            return;
        };
        let i = self.nodes[me].senders.len();
        self.nodes[me].senders.push(Sender {
            session,
            to,
            flow,
            written: 0,
            done: false,
        });
        if self.p.interval_us == 0 {
            for _ in 0..self.p.messages {
                self.write_next(ctx, ep, i);
            }
        } else {
            self.write_next(ctx, ep, i);
            if !self.nodes[me].senders[i].done {
                ctx.wake_at(ctx.now + interval(self.p.interval_us), i as u64);
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Ctx<'_>, data: &[u8]) {
        if data.len() < 16 {
            return;
        }
        let id = u64::from_le_bytes(data[..8].try_into().expect("8")) as usize;
        if self.target.get(id) != Some(&ctx.node.0) {
            self.counters.misdelivered += 1;
            return;
        }
        let Some(d) = self.deliveries.get_mut(id) else {
            return;
        };
        *d += 1;
        if *d == 1 {
            self.counters.messages_delivered += 1;
            self.counters.app_bytes_delivered += data.len() as u64;
            self.latency_us
                .push(ctx.now.as_micros().saturating_sub(self.sent_at[id]));
        } else {
            self.counters.duplicates += 1;
        }
    }
}

fn interval(us: u64) -> std::time::Duration {
    std::time::Duration::from_micros(us)
}

impl Workload<Endpoint> for SessionWorkload {
    fn create(&mut self, ctx: &mut Ctx<'_>) -> Endpoint {
        let ep = new_endpoint(self.p.crypto, self.p.config.clone(), ctx.rng);
        self.nodes[ctx.node.idx()] = PerNode {
            fingerprint: ep.fingerprint(),
            ..PerNode::default()
        };
        ep
    }

    fn on_join(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint) {
        if self.p.start_delay_us == 0 {
            self.start(ctx, ep);
        } else {
            ctx.wake_at(ctx.now + interval(self.p.start_delay_us), TOKEN_START);
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint, event: Event) {
        let me = ctx.node.idx();
        match event {
            Event::SessionOpened { session, role, .. } => {
                self.nodes[me].sessions.insert(session.0);
                // A glare loser's opening handle is reused for the winner's session, which then
                // opens with the responder role: it still completes our `connect`.
                if self.nodes[me].pending.contains_key(&session.0) {
                    self.on_opened(ctx, ep, session);
                } else if role == Role::Responder {
                    self.counters.sessions_accepted += 1;
                }
            }
            Event::ConnectFailed { session, .. }
                if self.nodes[me].pending.remove(&session.0).is_some() =>
            {
                self.counters.handshakes_failed += 1;
            }
            Event::SessionClosed { session, .. } => {
                let n = &mut self.nodes[me];
                n.sessions.remove(&session.0);
                for s in n.senders.iter_mut().filter(|s| s.session == session) {
                    s.done = true;
                }
            }
            Event::Message { data, .. } => self.on_message(ctx, &data),
            _ => {}
        }
    }

    fn on_wake(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint, token: u64) {
        if token == TOKEN_START {
            return self.start(ctx, ep);
        }
        let i = token as usize;
        self.write_next(ctx, ep, i);
        if self.nodes[ctx.node.idx()]
            .senders
            .get(i)
            .is_some_and(|s| !s.done)
        {
            ctx.wake_at(ctx.now + interval(self.p.interval_us), token);
        }
    }

    fn on_leave(&mut self, ctx: &mut Ctx<'_>, ep: &mut Endpoint, crash: bool) {
        let n = std::mem::take(&mut self.nodes[ctx.node.idx()]);
        self.counters.handshakes_abandoned += n.pending.len() as u64;
        if !crash {
            for s in n.sessions {
                ep.close(ctx.now, SessionId(s));
            }
        }
        self.nodes[ctx.node.idx()].fingerprint = n.fingerprint;
    }
}
