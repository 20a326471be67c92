//! Turns a [`Scenario`] into a network, a population schedule and an engine, runs it, and
//! collects a [`RunResult`].

use rtmfp::Instant;

use crate::churn::{Churn, ChurnModel, SessionLength};
use crate::engine::{Engine, EngineStats, Tap};
use crate::group::report::GroupReport;
use crate::metrics::Percentiles;
use crate::net::loss::GilbertElliott;
use crate::net::nat::NatType;
use crate::net::topology::Topology;
use crate::net::{NetParams, NetStats, Network, Partition};
use crate::node::{NodeId, SimNode};
use crate::rng::{derive, exponential, stream, unit};
use crate::scenario::{ChurnAction, Scenario, SessionLengthSpec, TopologySpec};
use crate::sessions::SessionCounters;
use crate::workload::Workload;

/// Progress callback: fraction of virtual time done (0..=1) and events processed so far.
pub type Progress<'a> = &'a mut dyn FnMut(f64, u64);

/// How to run.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Sees every delivered datagram (pcap export).
    pub tap: Option<Tap>,
    /// Progress reports, about 200 per run.
    pub progress: Option<Progress<'a>>,
}

/// One row of the time series: counts over `[t_s − step, t_s)`, plus the live population at
/// `t_s`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct TimeRow {
    /// End of the interval, seconds of virtual time.
    pub t_s: f64,
    /// Live nodes at `t_s`.
    pub live_nodes: u64,
    /// Datagrams put on the wire in the interval.
    pub datagrams_sent: u64,
    /// Bytes put on the wire in the interval, headers included.
    pub wire_bytes: u64,
    /// Datagrams dropped by the network in the interval.
    pub drops: u64,
    /// Application messages written in the interval.
    pub messages_sent: u64,
    /// Application messages delivered (first copies) in the interval.
    pub messages_delivered: u64,
    /// Mean neighbour count of the live group members at `t_s` (a gauge; 0 for session
    /// workloads).
    pub mean_neighbors: f64,
    /// p10, p50 and p90 over the live joined members of `estimatedMemberCount` divided by the
    /// true member count at `t_s` (a gauge, 1.0 is exact; zeros for session workloads;
    /// docs/protocol/netgroup.md, "Member count estimate").
    pub emc_ratio: [f64; 3],
}

/// Group membership gauges sampled into a [`TimeRow`] (zeros for session workloads).
#[derive(Debug, Clone, Copy, Default)]
pub struct Gauges {
    /// See [`TimeRow::mean_neighbors`].
    pub mean_neighbors: f64,
    /// See [`TimeRow::emc_ratio`].
    pub emc_ratio: [f64; 3],
}

/// Session-workload results.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SessionReport {
    /// Raw counters.
    pub counters: SessionCounters,
    /// Openings neither opened nor failed at the end.
    pub handshakes_pending: u64,
    /// Delivered / sent messages.
    pub delivery_ratio: f64,
    /// Completed / started handshakes.
    pub handshake_success_ratio: f64,
    /// Message latency (write to delivery), microseconds.
    pub latency_us: Percentiles,
    /// Handshake completion time at the initiator, microseconds.
    pub handshake_us: Percentiles,
    /// Fraction of wire bytes that were not delivered application payload (headers, handshakes,
    /// acks, keepalives, retransmissions): `1 − app_bytes_delivered / wire_bytes_sent`.
    pub control_overhead: f64,
}

/// What a CDF measures, which decides the plot it goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CdfKind {
    /// Durations (latencies, handshake and join times): `latency_cdf.svg`.
    Latency,
    /// Deliveries completed by a time after sending, as a fraction of those expected (it
    /// plateaus at the delivery ratio): `delivery_cdf.svg`.
    Delivery,
}

/// One empirical CDF of a run, written to `<file>.csv` (`ms,fraction`) and plotted.
#[derive(Debug, Clone, PartialEq)]
pub struct Cdf {
    /// File stem, e.g. `latency_cdf`.
    pub file: &'static str,
    /// Curve label.
    pub label: &'static str,
    /// Which plot.
    pub kind: CdfKind,
    /// `(microseconds, fraction)` points, increasing.
    pub points: Vec<(u64, f64)>,
}

/// Everything a run produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Seed used.
    pub seed: u64,
    /// Crypto profile (`plain` = same handshake and flows, no encryption).
    pub crypto: String,
    /// Node slots.
    pub slots: u32,
    /// Virtual duration, seconds.
    pub duration_s: f64,
    /// Run hash (hex), over every delivered datagram and application event.
    pub hash: String,
    /// Records in the run hash.
    pub hash_records: u64,
    /// Engine counters.
    pub engine: EngineStats,
    /// Network counters.
    pub net: NetStats,
    /// Live nodes at the end.
    pub live_at_end: u64,
    /// Engine memory (queue, network model; not the nodes), bytes.
    pub engine_memory_bytes: u64,
    /// Session-workload results (session scenarios).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sessions: Option<SessionReport>,
    /// Group-workload results (group scenarios).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupReport>,
    /// Time series.
    #[serde(skip)]
    pub timeseries: Vec<TimeRow>,
    /// CDFs (latencies, deliveries).
    #[serde(skip)]
    pub cdfs: Vec<Cdf>,
}

impl RunResult {
    /// The CDF written to `<file>.csv`, if the run has one.
    pub fn cdf(&self, file: &str) -> Option<&Cdf> {
        self.cdfs.iter().find(|c| c.file == file)
    }
}

/// Seconds to whole microseconds.
pub fn us(s: f64) -> u64 {
    (s * 1e6).round() as u64
}

/// Builds the network of `s` with `seed`: topology, NAT assignment, capacities, loss.
pub fn build_network(s: &Scenario, seed: u64) -> Network {
    let n = s.slots() as usize;
    let mut trng = derive(seed, stream::TOPOLOGY, 0);
    let topo = match s.network.topology {
        TopologySpec::Uniform { latency_ms } => Topology::uniform(us(latency_ms / 1e3)),
        TopologySpec::Coordinates {
            size_ms,
            access_min_ms,
            access_max_ms,
        } => Topology::coordinates(
            n,
            size_ms * 1e3,
            us(access_min_ms / 1e3),
            us(access_max_ms / 1e3),
            &mut trng,
        ),
        TopologySpec::Geometric {
            routers,
            radius,
            size_ms,
            access_min_ms,
            access_max_ms,
        } => Topology::geometric(
            n,
            routers as usize,
            radius,
            size_ms * 1e3,
            us(access_min_ms / 1e3),
            us(access_max_ms / 1e3),
            &mut trng,
        ),
        TopologySpec::TransitStub(ts) => Topology::transit_stub(
            n,
            &ts.params(),
            us(ts.access_min_ms / 1e3),
            us(ts.access_max_ms / 1e3),
            &mut trng,
        ),
    };
    let mix = &s.population.nat;
    let exempt = mix.exempt_first.max(s.workload.reserved_slots());
    let mut arng = derive(seed, stream::ASSIGN, 0);
    let nat: Vec<NatType> = (0..n)
        .map(|i| {
            let u = unit(&mut arng);
            if (i as u32) < exempt {
                return NatType::None;
            }
            let mut acc = 0.0;
            for (f, k) in [
                (mix.full_cone, NatType::FullCone),
                (mix.restricted, NatType::Restricted),
                (mix.port_restricted, NatType::PortRestricted),
                (mix.symmetric, NatType::Symmetric),
            ] {
                acc += f;
                if u < acc {
                    return k;
                }
            }
            NatType::None
        })
        .collect();
    let w = &s.network;
    let params = NetParams {
        jitter_us: us(w.jitter_ms / 1e3),
        loss: w.loss,
        bursty: w.bursty.as_ref().map(|b| GilbertElliott {
            p_good_to_bad: b.p_good_to_bad,
            p_bad_to_good: b.p_bad_to_good,
            loss_good: b.loss_good,
            loss_bad: b.loss_bad,
        }),
        lan_size: s.population.lan_size,
        lan_latency_us: us(w.lan_latency_ms / 1e3),
        upload_bps: (s.population.upload_kbps * 1000.0) as u64,
        download_bps: (s.population.download_kbps * 1000.0) as u64,
        queue_bytes: s.population.queue_bytes,
        partitions: w
            .partitions
            .iter()
            .map(|p| Partition {
                start_us: us(p.start_s),
                end_us: us(p.end_s),
                fraction: p.fraction,
            })
            .collect(),
    };
    let mut net = Network::new(n, topo, params, &nat, seed);
    if let Some(max_kbps) = s.population.upload_max_kbps {
        // Its own stream, so that the NAT assignment above stays what it was without a range.
        let mut crng = derive(seed, stream::ASSIGN, 1);
        let (lo, hi) = (s.population.upload_kbps, max_kbps);
        for i in 0..n {
            let kbps = lo + unit(&mut crng) * (hi - lo);
            let id = NodeId(i as u32);
            let (_, down) = net.capacity_bps(id);
            net.set_capacity(id, (kbps * 1000.0) as u64, down);
        }
    }
    net
}

/// The churn model of `s`.
pub fn churn_model(s: &Scenario) -> ChurnModel {
    let Some(c) = &s.churn else {
        return ChurnModel::none();
    };
    ChurnModel {
        session: c.session.as_ref().map(|d| match *d {
            SessionLengthSpec::Exponential { mean_s } => SessionLength::Exponential {
                mean_us: mean_s * 1e6,
            },
            SessionLengthSpec::Pareto { shape, min_s } => SessionLength::Pareto {
                shape,
                min_us: min_s * 1e6,
            },
        }),
        offline_mean_us: c.offline_mean_s * 1e6,
        crash_fraction: c.crash_fraction,
        exempt_below: c.exempt_first.max(s.workload.reserved_slots()),
        until_us: c.until_s.map_or(u64::MAX, us),
    }
}

/// Schedules the population of `s` on `e`: initial joins, Poisson arrivals, explicit churn
/// events; installs the churn process.
pub fn schedule_population<N: SimNode, W: Workload<N>>(
    e: &mut Engine<N, W>,
    s: &Scenario,
    seed: u64,
) {
    let mut rng = derive(seed, stream::CHURN, 0);
    let p = &s.population;
    for i in 0..p.nodes {
        let at = us(unit(&mut rng) * p.join_spread_s);
        e.schedule_join(Instant::from_micros(at), NodeId(i));
    }
    if let Some(c) = &s.churn {
        if c.arrivals_per_s > 0.0 {
            let mut t = 0.0;
            for i in p.nodes..s.slots() {
                t += exponential(&mut rng, 1.0 / c.arrivals_per_s);
                e.schedule_join(Instant::from_micros(us(t)), NodeId(i));
            }
        }
        for ev in &c.events {
            let at = Instant::from_micros(us(ev.at_s));
            match ev.action {
                ChurnAction::Join => e.schedule_join(at, NodeId(ev.node)),
                ChurnAction::Leave => e.schedule_leave(at, NodeId(ev.node), false),
                ChurnAction::Crash => e.schedule_leave(at, NodeId(ev.node), true),
            }
        }
    }
    e.set_churn(Churn::new(churn_model(s), seed));
}

/// Runs `e` to `end` in about 200 steps, sampling a time-series row per step with `row`
/// (cumulative values; differenced here) and reporting progress.
pub fn drive<N: SimNode, W: Workload<N>>(
    e: &mut Engine<N, W>,
    end: Instant,
    progress: &mut Option<Progress<'_>>,
    mut row: impl FnMut(&Engine<N, W>) -> TimeRow,
) -> Vec<TimeRow> {
    let total = end.as_micros().max(1);
    let step = (total / 200).max(1_000_000).min(total);
    let mut out = Vec::new();
    let mut prev = row(e);
    let mut t = 0;
    while t < total {
        t = (t + step).min(total);
        e.run_until(Instant::from_micros(t));
        let cur = row(e);
        out.push(TimeRow {
            t_s: t as f64 / 1e6,
            live_nodes: cur.live_nodes,
            datagrams_sent: cur.datagrams_sent - prev.datagrams_sent,
            wire_bytes: cur.wire_bytes - prev.wire_bytes,
            drops: cur.drops - prev.drops,
            messages_sent: cur.messages_sent - prev.messages_sent,
            messages_delivered: cur.messages_delivered - prev.messages_delivered,
            mean_neighbors: cur.mean_neighbors,
            emc_ratio: cur.emc_ratio,
        });
        prev = cur;
        if let Some(p) = progress.as_mut() {
            p(t as f64 / total as f64, e.stats().events);
        }
    }
    out
}

/// A time-series row (cumulative) of the network's counters, with the workload's message
/// counts and membership gauges; `t_s` is filled in by [`drive`].
pub fn net_row<N: SimNode, W: Workload<N>>(
    e: &Engine<N, W>,
    messages_sent: u64,
    messages_delivered: u64,
    gauges: Gauges,
) -> TimeRow {
    let n = &e.network().stats;
    TimeRow {
        t_s: 0.0,
        live_nodes: e.live().len() as u64,
        datagrams_sent: n.datagrams_sent,
        wire_bytes: n.wire_bytes_sent,
        drops: n.drops(),
        messages_sent,
        messages_delivered,
        mean_neighbors: gauges.mean_neighbors,
        emc_ratio: gauges.emc_ratio,
    }
}

/// What a workload reports at the end of a run, beside the engine's own state.
pub struct WorkloadOutcome {
    /// Node slots of the run.
    pub slots: u32,
    /// Session-workload report, if that is the workload.
    pub sessions: Option<SessionReport>,
    /// Group-workload report, if that is the workload.
    pub group: Option<GroupReport>,
    /// Time series from [`drive`].
    pub timeseries: Vec<TimeRow>,
    /// The CDFs to write and plot.
    pub cdfs: Vec<Cdf>,
}

/// The [`RunResult`] of scenario `s` run with `seed`: the engine's end state (hash, stats,
/// network, live nodes, memory) and the workload's `outcome`.
pub fn run_result<N: SimNode, W: Workload<N>>(
    e: &Engine<N, W>,
    s: &Scenario,
    seed: u64,
    outcome: WorkloadOutcome,
) -> RunResult {
    let hash = e.hash();
    RunResult {
        scenario: s.name.clone(),
        seed,
        crypto: s.crypto.name().into(),
        slots: outcome.slots,
        duration_s: s.duration_s,
        hash: format!("{:016x}", hash.finish()),
        hash_records: hash.records(),
        engine: e.stats().clone(),
        net: e.network().stats.clone(),
        live_at_end: e.live().len() as u64,
        engine_memory_bytes: e.memory_bytes() as u64,
        sessions: outcome.sessions,
        group: outcome.group,
        timeseries: outcome.timeseries,
        cdfs: outcome.cdfs,
    }
}
