//! [`GroupReport`]: the results of a group run, built from the workload's ledgers and a
//! survey of the live members at the end, and its lines in the one-screen summary.

use std::fmt::Write as _;

use rtmfp_netgroup::target_neighbor_count;

use crate::engine::Engine;
use crate::group::counters::{GroupCounters, LanTotals, NodeTotals};
use crate::group::ledger::PostTotals;
use crate::group::node::GroupSimNode;
use crate::group::replication::{self, LowerBound, ProgressRow, ReplicationReport};
use crate::group::stream::{self, StreamReport, PUBLISHER};
use crate::group::workload::{GroupWorkload, SERVER};
use crate::metrics::{ms, ms_percentiles};
use crate::metrics::{FloatStats, Percentiles};
use crate::net::NetStats;
use crate::node::NodeId;

/// The rendezvous server's counters at the end.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServerSummary {
    /// Connected clients.
    pub clients: u64,
    /// Group memberships held.
    pub memberships: u64,
    /// Completed handshakes.
    pub handshakes: u64,
    /// Peer introductions (forwarded IHellos).
    pub peer_introductions: u64,
    /// Group introductions (`0B` messages).
    pub group_introductions: u64,
}

/// Results of a group run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct GroupReport {
    /// What the workload did and saw.
    pub counters: GroupCounters,
    /// Post expectations and deliveries (see `sim/README.md`).
    pub posts: PostTotals,
    /// The members' own counters, over every incarnation.
    pub nodes: NodeTotals,
    /// The server's counters (all 0 without one).
    pub server: ServerSummary,
    /// No rendezvous server (`server = false`): members found each other by LAN discovery
    /// only.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub serverless: bool,
    /// Live members in the group at the end.
    pub members_at_end: u64,
    /// Delivered / expected (post, member) pairs.
    pub post_delivery_ratio: f64,
    /// Flooded post copies dropped as already seen, per delivered post: the price of
    /// flooding.
    pub duplicates_per_delivery: f64,
    /// Post dissemination latency (post to first copy at each expected member), µs.
    pub post_latency_us: Percentiles,
    /// Shortest-path hops in the overlay from the poster at post time, per first copy (a
    /// lower bound on the path the copy took: `PostingNotify` does not carry a hop count).
    pub post_overlay_hops: Percentiles,
    /// Lookups that ended somewhere / sent.
    pub lookup_delivery_ratio: f64,
    /// Lookups that ended at the nearest live member / sent.
    pub lookup_success_ratio: f64,
    /// Lookup latency (send to arrival), µs.
    pub lookup_latency_us: Percentiles,
    /// Lookup hops (`SendTo.Notify` hop count).
    pub lookup_hops: Percentiles,
    /// Mean lookup hops.
    pub lookup_hops_mean: f64,
    /// Join to first `Neighbor.Connect`, µs.
    pub join_us: Percentiles,
    /// `neighborCount` of the live members at the end.
    pub neighbors: FloatStats,
    /// `log2(members) + 13`: the neighbour count members aim for at the true group size
    /// (without a server, the largest LAN segment's joined members).
    pub target_neighbors: u64,
    /// `estimatedMemberCount` / true member count, live members at the end (without a
    /// server, the true count is the member's LAN segment's joined members).
    pub estimate_ratio: FloatStats,
    /// Heard-list sizes of the live members at the end.
    pub heard: FloatStats,
    /// `1 − application bytes delivered / wire bytes sent` (headers, handshakes, acks,
    /// keepalives, group control, flooding duplicates, retransmissions).
    pub control_overhead: f64,
    /// Wire bytes sent per live member per second of virtual time (all nodes, headers
    /// included, divided by the members at the end).
    pub wire_bytes_per_member_s: f64,
    /// The workload's own bookkeeping, bytes (not the nodes).
    pub ledger_memory_bytes: u64,
    /// Object replication results, if the scenario replicates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication: Option<ReplicationReport>,
    /// Multicast stream results, if the scenario streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamReport>,
    /// LAN discovery counters over every member incarnation, if the group uses LAN
    /// discovery (`lan_discovery`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lan: Option<LanTotals>,
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The replication report at the end of the run, with the progress samples taken during it.
fn replication_report(
    e: &mut Engine<GroupSimNode, GroupWorkload>,
    progress: Vec<ProgressRow>,
) -> Option<ReplicationReport> {
    let g = e.workload().group();
    let l = e.workload().replication.as_ref()?;
    let p = l.params().clone();
    let mut engine = l.departed;
    let mut mismatches = 0;
    for &id in e.live() {
        let Some(m) = e.node(id).and_then(GroupSimNode::member) else {
            continue;
        };
        replication::add_engine_totals(&mut engine, m, g);
        if l.started(id.0) {
            let have = m.group(g).map(|v| v.have_objects()).map_or(0, |h| h.len());
            if (have == p.objects) != l.holds_all(id.0) {
                mismatches += 1;
            }
        }
    }
    let net = e.network();
    let up = |s: u32| net.capacity_bps(NodeId(s)).0;
    let seed_up: Vec<u64> = (1..=p.seeders).map(up).collect();
    let cohort = l.cohort();
    let member_up: Vec<u64> = cohort.iter().map(|&s| up(s)).collect();
    let member_down: Vec<u64> = cohort
        .iter()
        .map(|&s| net.capacity_bps(NodeId(s)).1)
        .collect();
    let bound = LowerBound::new(p.bytes, &seed_up, &member_up, &member_down);
    let l = e.workload_mut().replication.as_mut()?;
    Some(ReplicationReport::build(
        l, bound, engine, mismatches, progress,
    ))
}

/// The stream report at the end of the run: the live members' multicast counters are added
/// to the departed ones'.
fn stream_report(e: &mut Engine<GroupSimNode, GroupWorkload>) -> Option<StreamReport> {
    let g = e.workload().group();
    let l = e.workload().stream.as_ref()?;
    let mut engine = l.departed;
    let live: Vec<u32> = e.live().iter().map(|id| id.0).collect();
    if let Some(key) = l.key {
        for &id in e.live() {
            if let Some(m) = e.node(id).and_then(GroupSimNode::member) {
                engine.add(m, g, &key, id.0 == PUBLISHER);
            }
        }
    }
    let l = e.workload_mut().stream.as_mut()?;
    Some(StreamReport::build(l, engine, &live))
}

/// Builds the report at the end of a run of `duration_s` seconds; `progress` holds the
/// replication progress samples taken during the run (empty without replication).
pub fn build(
    e: &mut Engine<GroupSimNode, GroupWorkload>,
    duration_s: f64,
    progress: Vec<ProgressRow>,
) -> GroupReport {
    let replication = replication_report(e, progress);
    let stream = stream_report(e);
    let live: Vec<_> = e.live().to_vec();
    let g = e.workload().group();
    let serverless = !e.workload().params().has_server;
    let mut truth = e.workload().members_joined() as f64;
    let mut nodes = e.workload().departed;
    let mut lan = e.workload().departed_lan;
    let (mut neigh, mut est, mut heard) = (Vec::new(), Vec::new(), Vec::new());
    let mut largest_scope = 0;
    for id in live {
        let Some(m) = e.node(id).and_then(GroupSimNode::member) else {
            continue;
        };
        nodes.add(m, g);
        lan.add(m);
        if !e.workload().is_joined(id) {
            continue;
        }
        neigh.push(m.group(g).map(|v| v.neighbor_count()).unwrap_or(0) as f64);
        let truth = if serverless {
            let n = e.workload().members_in_scope(id);
            largest_scope = largest_scope.max(n);
            n as f64
        } else {
            truth
        };
        if truth > 0.0 {
            est.push(
                m.group(g)
                    .map(|v| v.estimated_member_count())
                    .unwrap_or(0.0)
                    / truth,
            );
        }
        heard.push(m.group(g).map(|v| v.heard_count()).unwrap_or(0) as f64);
    }
    let server = e
        .node(SERVER)
        .and_then(GroupSimNode::server)
        .map(|s| {
            let st = s.stats();
            ServerSummary {
                clients: st.clients as u64,
                memberships: st.memberships as u64,
                handshakes: st.handshakes,
                peer_introductions: st.peer_introductions,
                group_introductions: st.group_introductions,
            }
        })
        .unwrap_or_default();
    if serverless {
        truth = largest_scope as f64;
    }
    let lan = e.workload().params().lan_discovery.then_some(lan);
    let wire = e.network().stats.wire_bytes_sent;
    let w = e.workload_mut();
    let c = w.counters.clone();
    let posts = w.posts().totals();
    let members = w.members_joined() as u64;
    let lookup_hops = w.lookup_hops.percentiles();
    GroupReport {
        post_delivery_ratio: ratio(posts.delivered, posts.expected),
        duplicates_per_delivery: ratio(nodes.post_duplicate_drops, nodes.posts_delivered),
        post_latency_us: w.post_latency_us.percentiles(),
        post_overlay_hops: w.post_hops.percentiles(),
        lookup_delivery_ratio: ratio(c.lookups_delivered, c.lookups_sent),
        lookup_success_ratio: ratio(c.lookups_correct, c.lookups_sent),
        lookup_latency_us: w.lookup_latency_us.percentiles(),
        lookup_hops_mean: lookup_hops.mean,
        lookup_hops,
        join_us: w.join_us.percentiles(),
        neighbors: FloatStats::of(&neigh),
        target_neighbors: target_neighbor_count(truth) as u64,
        estimate_ratio: FloatStats::of(&est),
        heard: FloatStats::of(&heard),
        control_overhead: 1.0 - ratio(c.app_bytes_delivered, wire),
        wire_bytes_per_member_s: wire as f64 / (members.max(1) as f64 * duration_s.max(1e-9)),
        ledger_memory_bytes: w.memory_bytes() as u64,
        members_at_end: members,
        replication,
        stream,
        lan,
        server,
        serverless,
        nodes,
        posts,
        counters: c,
    }
}

/// Appends the group lines of the one-screen summary to `o`.
pub fn summary_lines(o: &mut String, g: &GroupReport, net: &NetStats) {
    let c = &g.counters;
    let _ = writeln!(
        o,
        "group       {} members at end; {} joins ({} ok, {} failed); join → first neighbour ms p50 {:.1} p90 {:.1} max {:.1}",
        g.members_at_end,
        c.joins,
        c.join_success,
        c.join_failed,
        ms(g.join_us.p50),
        ms(g.join_us.p90),
        ms(g.join_us.max)
    );
    let n = &g.neighbors;
    let r = &g.estimate_ratio;
    let _ = writeln!(
        o,
        "neighbours  min {:.0} p50 {:.0} mean {:.1} max {:.0} (target {}); estimatedMemberCount / true p10 {:.2} p50 {:.2} p90 {:.2}; heard p50 {:.0}",
        n.min, n.p50, n.mean, n.max, g.target_neighbors, r.p10, r.p50, r.p90, g.heard.p50
    );
    if c.posts_sent + c.post_errors + c.posts_skipped > 0 {
        post_lines(o, g);
    }
    if c.lookups_sent + c.lookup_errors + c.lookups_skipped > 0 {
        lookup_lines(o, g);
    }
    if let Some(r) = &g.replication {
        replication::summary_lines(o, r);
    }
    if let Some(s) = &g.stream {
        stream::summary_lines(o, s);
    }
    if let Some(l) = &g.lan {
        lan_line(o, l, g.counters.post_deliveries_off_segment);
    }
    wire_lines(o, g, net);
}

fn lan_line(o: &mut String, l: &LanTotals, off_segment: u64) {
    let _ = writeln!(
        o,
        "lan         {} announcements sent, {} heard, {} dropped ({} malformed, {} unknown group, {} queue full); {} connects from hints; {} post copies off the poster's segment",
        l.announcements_sent,
        l.announcements_heard,
        l.dropped(),
        l.malformed,
        l.unknown_group,
        l.queue_full,
        l.connects_from_hints,
        off_segment
    );
}

fn post_lines(o: &mut String, g: &GroupReport) {
    let (c, p) = (&g.counters, &g.posts);
    let _ = writeln!(
        o,
        "posting     {} posts ({} errors, {} skipped): {} of {} expected deliveries ({:.3} %), {} missed, {} excused, {} unreachable at post time, {} app duplicates, {} extra; {:.2} duplicate copies per delivery",
        c.posts_sent,
        c.post_errors,
        c.posts_skipped,
        p.delivered,
        p.expected,
        100.0 * g.post_delivery_ratio,
        p.missed,
        p.excused,
        p.unreachable,
        c.post_app_duplicates,
        c.post_extra_deliveries,
        g.duplicates_per_delivery
    );
    let h = &g.post_overlay_hops;
    let hops = [h.p50, h.p90, h.max];
    latency_hops_line(o, &g.post_latency_us, "overlay hops", hops, h.mean);
}

/// `  latency ms p50 .. p90 .. p99 .. max ..; <hops> p50 .. p90 .. max .. mean ..`
fn latency_hops_line<T: std::fmt::Display>(
    o: &mut String,
    l: &Percentiles,
    hops_label: &str,
    [p50, p90, max]: [T; 3],
    mean: f64,
) {
    let _ = writeln!(
        o,
        "  latency ms {}; {hops_label} p50 {p50} p90 {p90} max {max} mean {mean:.2}",
        ms_percentiles(l),
    );
}

fn lookup_lines(o: &mut String, g: &GroupReport) {
    let c = &g.counters;
    let _ = writeln!(
        o,
        "routing     {} lookups ({} errors, {} skipped, {} no route): {} ended ({:.2} %), {} at the nearest live member ({:.2} %), {} duplicates",
        c.lookups_sent,
        c.lookup_errors,
        c.lookups_skipped,
        c.lookups_no_route,
        c.lookups_delivered,
        100.0 * g.lookup_delivery_ratio,
        c.lookups_correct,
        100.0 * g.lookup_success_ratio,
        c.lookup_duplicates
    );
    let h = &g.lookup_hops;
    let hops = [h.p50, h.p90, h.max];
    latency_hops_line(o, &g.lookup_latency_us, "hops", hops, g.lookup_hops_mean);
}

fn wire_lines(o: &mut String, g: &GroupReport, net: &NetStats) {
    let c = &g.counters;
    let _ = writeln!(
        o,
        "wire        {} datagrams, {:.2} MB (headers incl.), {:.0} B/s per member, app payload {:.2} MB, overhead {:.2} %",
        net.datagrams_sent,
        net.wire_bytes_sent as f64 / 1e6,
        g.wire_bytes_per_member_s,
        c.app_bytes_delivered as f64 / 1e6,
        100.0 * g.control_overhead
    );
    if g.serverless {
        let _ = writeln!(
            o,
            "server      none: members found each other by LAN discovery"
        );
        return;
    }
    let s = &g.server;
    let _ = writeln!(
        o,
        "server      {} clients, {} memberships, {} handshakes, {} peer introductions, {} group introductions",
        s.clients, s.memberships, s.handshakes, s.peer_introductions, s.group_introductions
    );
}
