//! Runs a group scenario: the network, the server at t = 0, the population schedule, the
//! engine, the report.

use rtmfp::Instant;

use crate::engine::{Engine, EngineConfig};
use crate::group::node::GroupSimNode;
use crate::group::params::{GroupParams, GroupSpec};
use crate::group::report;
use crate::group::workload::{GroupWorkload, SERVER};
use crate::runner::{
    build_network, drive, net_row, run_result, schedule_population, us, Cdf, CdfKind, Gauges,
    RunOptions, RunResult, WorkloadOutcome,
};
use crate::scenario::{Scenario, ScenarioError};

type GroupEngine = Engine<GroupSimNode, GroupWorkload>;

/// Membership gauges of the live joined members at one instant: mean neighbour count and the
/// p10 / p50 / p90 of `estimatedMemberCount` over the true member count (docs/protocol/netgroup.md,
/// "Member count estimate"; without a server, the members of the member's own LAN segment, as in
/// the end-of-run report).
fn membership_gauges(e: &GroupEngine) -> Gauges {
    let w = e.workload();
    let g = w.group();
    let (mut sum, mut n) = (0usize, 0usize);
    let mut ratios = Vec::new();
    for &id in e.live() {
        let Some(m) = e.node(id).and_then(GroupSimNode::member) else {
            continue;
        };
        if let Some(c) = m.group(g).map(|v| v.neighbor_count()) {
            sum += c;
            n += 1;
        }
        let truth = w.members_in_scope(id) as f64;
        if truth > 0.0 && w.is_joined(id) {
            if let Some(est) = m.group(g).map(|v| v.estimated_member_count()) {
                ratios.push(est / truth);
            }
        }
    }
    ratios.sort_unstable_by(f64::total_cmp);
    let q = |f: f64| -> f64 {
        if ratios.is_empty() {
            return 0.0;
        }
        ratios[((ratios.len() - 1) as f64 * f).round() as usize]
    };
    Gauges {
        mean_neighbors: if n == 0 { 0.0 } else { sum as f64 / n as f64 },
        emc_ratio: [q(0.1), q(0.5), q(0.9)],
    }
}

/// `cdf` scaled by `ratio`: the fraction of expected deliveries done by each time.
fn scaled(cdf: Vec<(u64, f64)>, ratio: f64) -> Vec<(u64, f64)> {
    cdf.into_iter().map(|(v, f)| (v, f * ratio)).collect()
}

/// Builds the engine of group scenario `s` (workload `spec`) with `seed`, its population
/// scheduled; slot 0 (the server, or a serverless group's schedule keeper) joins at t = 0.
pub fn build(s: &Scenario, spec: &GroupSpec, seed: u64) -> GroupEngine {
    let mut net = build_network(s, seed);
    if let Some(r) = &spec.replication {
        if let Some(kbps) = r.seed_upload_kbps {
            for slot in 1..=r.seeders {
                let id = crate::node::NodeId(slot);
                let (_, down) = net.capacity_bps(id);
                net.set_capacity(id, (kbps * 1000.0) as u64, down);
            }
        }
    }
    if let Some(kbps) = spec.stream.as_ref().and_then(|st| st.publisher_upload_kbps) {
        let id = crate::node::NodeId(crate::group::stream::PUBLISHER);
        let (_, down) = net.capacity_bps(id);
        net.set_capacity(id, (kbps * 1000.0) as u64, down);
    }
    let slots = s.slots();
    let params =
        GroupParams::new(spec, s.crypto, s.duration_s, slots).with_lan_size(s.population.lan_size);
    let workload = GroupWorkload::new(params, slots as usize, seed);
    let mut e = Engine::new(EngineConfig::new(seed), net, workload);
    e.schedule_join(Instant::ZERO, SERVER);
    schedule_population(&mut e, s, seed);
    e
}

/// Runs group scenario `s` with workload `spec`.
///
/// Errors: none today (the scenario was validated when parsed).
pub fn run_group(
    s: &Scenario,
    spec: &GroupSpec,
    mut opts: RunOptions<'_>,
) -> Result<RunResult, ScenarioError> {
    let seed = opts.seed.unwrap_or(s.seed);
    let mut e = build(s, spec, seed);
    if let Some(tap) = opts.tap.take() {
        e.set_tap(tap);
    }
    let end = Instant::from_micros(us(s.duration_s));
    let mut progress = Vec::new();
    let timeseries = drive(&mut e, end, &mut opts.progress, |e| {
        if let Some(l) = &e.workload().replication {
            progress.push(l.progress(e.now()));
        }
        let c = &e.workload().counters;
        net_row(
            e,
            c.posts_sent + c.lookups_sent,
            c.post_deliveries + c.lookups_delivered,
            membership_gauges(e),
        )
    });
    let group = report::build(&mut e, s.duration_s, progress);
    let w = e.workload_mut();
    let cdfs = vec![
        Cdf {
            file: "latency_cdf",
            label: "post dissemination latency",
            kind: CdfKind::Latency,
            points: w.post_latency_us.cdf(200),
        },
        Cdf {
            file: "lookup_cdf",
            label: "lookup latency",
            kind: CdfKind::Latency,
            points: w.lookup_latency_us.cdf(200),
        },
        Cdf {
            file: "join_cdf",
            label: "join to first neighbour",
            kind: CdfKind::Latency,
            points: w.join_us.cdf(200),
        },
        Cdf {
            file: "post_delivery_cdf",
            label: "posts: expected deliveries done",
            kind: CdfKind::Delivery,
            points: scaled(w.post_latency_us.cdf(200), group.post_delivery_ratio),
        },
        Cdf {
            file: "lookup_delivery_cdf",
            label: "lookups: ended at a member",
            kind: CdfKind::Delivery,
            points: scaled(w.lookup_latency_us.cdf(200), group.lookup_delivery_ratio),
        },
    ];
    let outcome = WorkloadOutcome {
        slots: s.slots(),
        sessions: None,
        group: Some(group),
        timeseries,
        cdfs,
    };
    Ok(run_result(&e, s, seed, outcome))
}
