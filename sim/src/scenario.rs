//! Scenario files (TOML): topology, population, churn, workload, duration, seed, sweeps.
//!
//! Every table rejects unknown fields, so a typo is an error naming the field. Units are in the
//! field names: `_s` seconds, `_ms` milliseconds, `_kbps` kilobits per second (1000 bit/s),
//! `_bytes` bytes. See `sim/README.md` for the full reference.

use serde::{Deserialize, Serialize};

use crate::endpoint_node::Crypto;
use crate::error::check_in;
pub use crate::error::ScenarioError;
pub use crate::group::params::GroupSpec;
use crate::sessions::Pattern;

/// A whole scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Name, used for the output directory.
    #[serde(default = "default_name")]
    pub name: String,
    /// Run seed.
    #[serde(default = "default_seed")]
    pub seed: u64,
    /// Virtual duration, seconds.
    pub duration_s: f64,
    /// Crypto profile: `"flash"` (default) or `"plain"` (same handshake and flows, no
    /// encryption).
    #[serde(default)]
    pub crypto: Crypto,
    /// Nodes, capacities, NATs, LANs.
    #[serde(default)]
    pub population: Population,
    /// Topology, jitter, loss, partitions.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Churn; absent: none.
    #[serde(default)]
    pub churn: Option<ChurnSpec>,
    /// What the nodes do.
    pub workload: WorkloadSpec,
    /// A sweep over one parameter (`rtmfp-sim sweep`).
    #[serde(default)]
    pub sweep: Option<SweepSpec>,
}

fn default_name() -> String {
    "scenario".into()
}
fn default_seed() -> u64 {
    1
}

/// The node population.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Population {
    /// Nodes that join at the start (spread over `join_spread_s`).
    pub nodes: u32,
    /// Slots in all: slots beyond `nodes` join later at `churn.arrivals_per_s`.
    pub max_nodes: Option<u32>,
    /// Initial joins are uniform over `[0, join_spread_s]` seconds.
    pub join_spread_s: f64,
    /// Upload capacity per node, kbit/s (0: unlimited); with `upload_max_kbps`, the lower end
    /// of the range.
    pub upload_kbps: f64,
    /// When set, each node's upload capacity is drawn uniformly in `[upload_kbps,
    /// upload_max_kbps]` kbit/s (`upload_kbps` must then be > 0).
    pub upload_max_kbps: Option<f64>,
    /// Download capacity per node, kbit/s (0: unlimited).
    pub download_kbps: f64,
    /// Queue limit of each access link direction, bytes.
    pub queue_bytes: u64,
    /// Nodes per LAN segment (consecutive indices), 0: no LANs.
    pub lan_size: u32,
    /// NAT mix.
    pub nat: NatMix,
}

impl Default for Population {
    fn default() -> Self {
        Population {
            nodes: 50,
            max_nodes: None,
            join_spread_s: 1.0,
            upload_kbps: 0.0,
            upload_max_kbps: None,
            download_kbps: 0.0,
            queue_bytes: 256 * 1024,
            lan_size: 0,
            nat: NatMix::default(),
        }
    }
}

/// Fractions of nodes behind each NAT type (the rest have none).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NatMix {
    /// Full cone.
    pub full_cone: f64,
    /// Address-restricted cone.
    pub restricted: f64,
    /// Port-restricted cone.
    pub port_restricted: f64,
    /// Symmetric.
    pub symmetric: f64,
    /// Nodes with index below this never get a NAT (e.g. the hub of a star).
    pub exempt_first: u32,
}

/// The network model.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// Topology.
    pub topology: TopologySpec,
    /// Jitter: extra one-way delay uniform in `[0, jitter_ms]`.
    pub jitter_ms: f64,
    /// Random loss probability per datagram.
    pub loss: f64,
    /// Bursty (Gilbert–Elliott) loss per sender; absent: none.
    pub bursty: Option<BurstySpec>,
    /// One-way delay inside a LAN segment, milliseconds.
    pub lan_latency_ms: f64,
    /// Partitions.
    pub partitions: Vec<PartitionSpec>,
}

impl Default for NetworkSpec {
    fn default() -> Self {
        NetworkSpec {
            topology: TopologySpec::default(),
            jitter_ms: 0.0,
            loss: 0.0,
            bursty: None,
            lan_latency_ms: 0.2,
            partitions: Vec::new(),
        }
    }
}

/// A topology.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum TopologySpec {
    /// The same delay between all pairs.
    Uniform {
        /// One-way delay, milliseconds.
        latency_ms: f64,
    },
    /// Random 2-D coordinates plus access delays.
    Coordinates {
        /// Side of the square, in milliseconds of one-way delay.
        size_ms: f64,
        /// Smallest access delay, milliseconds.
        access_min_ms: f64,
        /// Largest access delay, milliseconds.
        access_max_ms: f64,
    },
    /// Random geometric router graph (petgraph), shortest-path delays, plus access delays.
    Geometric {
        /// Routers.
        routers: u32,
        /// Link radius, as a fraction of the square's side.
        radius: f64,
        /// Side of the square, in milliseconds of one-way delay.
        size_ms: f64,
        /// Smallest access delay, milliseconds.
        access_min_ms: f64,
        /// Largest access delay, milliseconds.
        access_max_ms: f64,
    },
    /// Transit-stub router graph (petgraph; transit domains with stub domains hanging off
    /// them), shortest-path delays, plus access delays; nodes attach to stub routers.
    TransitStub(TransitStubSpec),
}

/// The fields of a transit-stub topology; every one has a default. Link delays are uniform
/// in `[d, 2d]` for the delay `d` of their class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TransitStubSpec {
    /// Transit domains (1..=4096). Default 4.
    pub transit_domains: u32,
    /// Routers per transit domain (1..=4096). Default 4.
    pub routers_per_transit: u32,
    /// Stub domains per transit router (1..=4096). Default 3.
    pub stubs_per_transit_router: u32,
    /// Routers per stub domain (1..=4096). Default 4.
    pub routers_per_stub: u32,
    /// Probability of each extra link beyond the spanning trees, in [0, 1]. Default 0.3.
    pub extra_edge_prob: f64,
    /// Link delay between transit domains, milliseconds. Default 20.
    pub inter_transit_ms: f64,
    /// Link delay inside a transit domain, milliseconds. Default 5.
    pub intra_transit_ms: f64,
    /// Delay of a stub domain's link to its transit router, milliseconds. Default 3.
    pub stub_transit_ms: f64,
    /// Link delay inside a stub domain, milliseconds. Default 1.
    pub intra_stub_ms: f64,
    /// Smallest access delay, milliseconds. Default 1.
    pub access_min_ms: f64,
    /// Largest access delay, milliseconds. Default 5.
    pub access_max_ms: f64,
}

impl Default for TransitStubSpec {
    fn default() -> Self {
        TransitStubSpec {
            transit_domains: 4,
            routers_per_transit: 4,
            stubs_per_transit_router: 3,
            routers_per_stub: 4,
            extra_edge_prob: 0.3,
            inter_transit_ms: 20.0,
            intra_transit_ms: 5.0,
            stub_transit_ms: 3.0,
            intra_stub_ms: 1.0,
            access_min_ms: 1.0,
            access_max_ms: 5.0,
        }
    }
}

impl TransitStubSpec {
    /// The generator's parameters (delays in microseconds).
    pub fn params(&self) -> crate::net::topology::TransitStubParams {
        let us = |ms: f64| (ms * 1e3).round() as u64;
        crate::net::topology::TransitStubParams {
            transit_domains: self.transit_domains as usize,
            routers_per_transit: self.routers_per_transit as usize,
            stubs_per_transit_router: self.stubs_per_transit_router as usize,
            routers_per_stub: self.routers_per_stub as usize,
            extra_edge_prob: self.extra_edge_prob,
            inter_transit_us: us(self.inter_transit_ms),
            intra_transit_us: us(self.intra_transit_ms),
            stub_transit_us: us(self.stub_transit_ms),
            intra_stub_us: us(self.intra_stub_ms),
        }
    }

    /// Checks ranges; errors name the field (`network.topology.<field>`).
    fn validate(&self) -> Result<(), ScenarioError> {
        for (v, f) in [
            (self.transit_domains, "transit_domains"),
            (self.routers_per_transit, "routers_per_transit"),
            (self.stubs_per_transit_router, "stubs_per_transit_router"),
            (self.routers_per_stub, "routers_per_stub"),
        ] {
            check(
                (1..=4096).contains(&v),
                &format!("network.topology.{f}"),
                &format!("must be in 1..=4096, got {v}"),
            )?;
        }
        let routers = self.params().routers();
        let max = crate::net::topology::MAX_ROUTERS;
        check(
            routers <= max,
            "network.topology.routers_per_stub",
            &format!(
                "transit_domains × routers_per_transit × (1 + stubs_per_transit_router × routers_per_stub) = {routers} routers exceeds {max}"
            ),
        )?;
        prob(self.extra_edge_prob, "network.topology.extra_edge_prob")?;
        for (v, f) in [
            (self.inter_transit_ms, "inter_transit_ms"),
            (self.intra_transit_ms, "intra_transit_ms"),
            (self.stub_transit_ms, "stub_transit_ms"),
            (self.intra_stub_ms, "intra_stub_ms"),
        ] {
            nonneg(v, &format!("network.topology.{f}"))?;
            check(
                v <= 10_000.0,
                &format!("network.topology.{f}"),
                "must be at most 10000 ms",
            )?;
        }
        access_range(self.access_min_ms, self.access_max_ms)
    }
}

impl Default for TopologySpec {
    fn default() -> Self {
        TopologySpec::Coordinates {
            size_ms: 100.0,
            access_min_ms: 1.0,
            access_max_ms: 10.0,
        }
    }
}

/// Gilbert–Elliott parameters (per datagram).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BurstySpec {
    /// Good → bad transition probability.
    pub p_good_to_bad: f64,
    /// Bad → good transition probability.
    pub p_bad_to_good: f64,
    /// Loss in the good state.
    #[serde(default)]
    pub loss_good: f64,
    /// Loss in the bad state.
    #[serde(default = "one")]
    pub loss_bad: f64,
}

fn one() -> f64 {
    1.0
}

/// A partition between nodes below `fraction × nodes` and the rest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionSpec {
    /// Start, seconds.
    pub start_s: f64,
    /// Heal, seconds.
    pub end_s: f64,
    /// Fraction of nodes on the first side.
    pub fraction: f64,
}

/// Churn.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ChurnSpec {
    /// Session-length distribution; absent: nodes stay.
    pub session: Option<SessionLengthSpec>,
    /// Mean offline time before rejoining (exponential), seconds; 0: never rejoin.
    pub offline_mean_s: f64,
    /// Fraction of departures that are crashes (no goodbye).
    pub crash_fraction: f64,
    /// Nodes with index below this never churn.
    pub exempt_first: u32,
    /// Poisson arrival rate of the slots beyond `population.nodes`, per second.
    pub arrivals_per_s: f64,
    /// No departure after this time, seconds (absent: churn never stops); nodes that left
    /// still come back after their offline time.
    pub until_s: Option<f64>,
    /// Explicit joins, leaves and crashes.
    pub events: Vec<ChurnEvent>,
}

/// A session-length distribution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum SessionLengthSpec {
    /// Exponential.
    Exponential {
        /// Mean, seconds.
        mean_s: f64,
    },
    /// Pareto.
    Pareto {
        /// Shape (alpha).
        shape: f64,
        /// Minimum, seconds.
        min_s: f64,
    },
}

/// One scheduled churn event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChurnEvent {
    /// When, seconds.
    pub at_s: f64,
    /// Which node slot.
    pub node: u32,
    /// What happens.
    pub action: ChurnAction,
}

/// A churn action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnAction {
    /// Join (a fresh incarnation).
    Join,
    /// Graceful leave.
    Leave,
    /// Crash (no goodbye).
    Crash,
}

/// The workload: `kind = "sessions"` (endpoint pairs) or `kind = "group"` (a rendezvous
/// server in slot 0 and NetGroup members posting, routing, replicating objects and
/// streaming; [`GroupSpec`]).
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum WorkloadSpec {
    /// NetGroup: one group, posts and `sendToNearest` lookups (see [`GroupSpec`]).
    Group(GroupSpec),
    /// Session level: connect, open a flow, send messages.
    Sessions {
        /// `"random"`: `peers` random others; `"star"`: node 0.
        pattern: Pattern,
        /// Sessions each node opens (random pattern).
        peers: u32,
        /// Messages per session.
        messages: u32,
        /// Bytes per message (≥ 16).
        message_bytes: u32,
        /// Gap between messages, milliseconds (0: all at once).
        interval_ms: f64,
        /// Delay from join to the first connect, seconds.
        start_delay_s: f64,
    },
}

/// The fields of [`WorkloadSpec::Sessions`], for deserializing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionsFields {
    #[serde(default = "random")]
    pattern: Pattern,
    #[serde(default = "three")]
    peers: u32,
    #[serde(default = "ten")]
    messages: u32,
    #[serde(default = "thousand")]
    message_bytes: u32,
    #[serde(default)]
    interval_ms: f64,
    #[serde(default = "half")]
    start_delay_s: f64,
}

/// Reads the `kind` tag, then the variant's table on its own, so that type errors name the
/// field (serde's internally tagged enums lose the path).
impl<'de> Deserialize<'de> for WorkloadSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut t = toml::Table::deserialize(d)?;
        let kind = match t.remove("kind") {
            Some(toml::Value::String(k)) => k,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "field `workload.kind`: expected a string, got {other}"
                )))
            }
            None => return Err(D::Error::missing_field("kind")),
        };
        let rest = toml::Value::Table(t);
        let in_workload = |e: toml::de::Error| D::Error::custom(format!("in `workload`: {e}"));
        match kind.as_str() {
            "sessions" => {
                let f = SessionsFields::deserialize(rest).map_err(in_workload)?;
                Ok(WorkloadSpec::Sessions {
                    pattern: f.pattern,
                    peers: f.peers,
                    messages: f.messages,
                    message_bytes: f.message_bytes,
                    interval_ms: f.interval_ms,
                    start_delay_s: f.start_delay_s,
                })
            }
            "group" => GroupSpec::deserialize(rest)
                .map(WorkloadSpec::Group)
                .map_err(in_workload),
            other => Err(D::Error::unknown_variant(other, &["sessions", "group"])),
        }
    }
}

impl WorkloadSpec {
    /// Slots at the start of the range that the workload reserves for infrastructure: they
    /// never churn and never sit behind a NAT (the group workload's rendezvous server, slot 0,
    /// its replication seeders, slots `1..=seeders`, and its stream publisher, slot 1).
    pub fn reserved_slots(&self) -> u32 {
        match self {
            WorkloadSpec::Sessions { .. } => 0,
            WorkloadSpec::Group(g) => {
                let seeders = g.replication.as_ref().map_or(0, |r| r.seeders);
                1 + seeders.max(u32::from(g.stream.is_some()))
            }
        }
    }
}

fn random() -> Pattern {
    Pattern::Random
}
fn three() -> u32 {
    3
}
fn ten() -> u32 {
    10
}
fn thousand() -> u32 {
    1000
}
fn half() -> f64 {
    0.5
}

/// A sweep: the scenario is run once per value, with `parameter` (a dotted path such as
/// `"network.loss"`) set to it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Dotted path of the parameter.
    pub parameter: String,
    /// Values, in order.
    pub values: Vec<toml::Value>,
}

fn check(ok: bool, field: &str, what: &str) -> Result<(), ScenarioError> {
    check_in("", ok, field, what)
}

fn prob(v: f64, field: &str) -> Result<(), ScenarioError> {
    check(
        (0.0..=1.0).contains(&v),
        field,
        &format!("must be a probability in [0, 1], got {v}"),
    )
}

fn nonneg(v: f64, field: &str) -> Result<(), ScenarioError> {
    check(
        v.is_finite() && v >= 0.0,
        field,
        &format!("must be ≥ 0, got {v}"),
    )
}

/// Checks the access delays of a topology.
fn access_range(min_ms: f64, max_ms: f64) -> Result<(), ScenarioError> {
    nonneg(min_ms, "network.topology.access_min_ms")?;
    check(
        max_ms >= min_ms,
        "network.topology.access_max_ms",
        "must be ≥ access_min_ms",
    )
}

impl Scenario {
    /// Parses and validates a scenario; `origin` (a file name) prefixes errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ScenarioError> {
        let s: Scenario =
            toml::from_str(text).map_err(|e| ScenarioError(format!("{origin}: {e}")))?;
        s.validate()
            .map_err(|e| ScenarioError(format!("{origin}: {}", e.0)))?;
        Ok(s)
    }

    /// Slots in all (`max_nodes`, at least `nodes`).
    pub fn slots(&self) -> u32 {
        self.population
            .max_nodes
            .unwrap_or(0)
            .max(self.population.nodes)
    }

    /// Checks value ranges; errors name the field.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        check(
            self.duration_s.is_finite() && self.duration_s > 0.0,
            "duration_s",
            "must be > 0",
        )?;
        check(
            self.duration_s <= 1e7,
            "duration_s",
            "must be at most 10 000 000 s",
        )?;
        let p = &self.population;
        check(p.nodes >= 1, "population.nodes", "must be ≥ 1")?;
        check(
            (self.slots() as usize) <= crate::addr::MAX_NODES,
            "population.max_nodes",
            "exceeds the address plan (16 777 214)",
        )?;
        nonneg(p.join_spread_s, "population.join_spread_s")?;
        nonneg(p.upload_kbps, "population.upload_kbps")?;
        if let Some(max) = p.upload_max_kbps {
            check(
                p.upload_kbps > 0.0,
                "population.upload_kbps",
                "must be > 0 when upload_max_kbps is given (0 means unlimited)",
            )?;
            check(
                max.is_finite() && max >= p.upload_kbps,
                "population.upload_max_kbps",
                &format!("must be ≥ upload_kbps ({}), got {max}", p.upload_kbps),
            )?;
        }
        nonneg(p.download_kbps, "population.download_kbps")?;
        check(
            p.queue_bytes >= 1500,
            "population.queue_bytes",
            "must be ≥ 1500",
        )?;
        let n = &p.nat;
        prob(n.full_cone, "population.nat.full_cone")?;
        prob(n.restricted, "population.nat.restricted")?;
        prob(n.port_restricted, "population.nat.port_restricted")?;
        prob(n.symmetric, "population.nat.symmetric")?;
        check(
            n.full_cone + n.restricted + n.port_restricted + n.symmetric <= 1.0 + 1e-9,
            "population.nat",
            "fractions must sum to at most 1",
        )?;
        let w = &self.network;
        nonneg(w.jitter_ms, "network.jitter_ms")?;
        prob(w.loss, "network.loss")?;
        nonneg(w.lan_latency_ms, "network.lan_latency_ms")?;
        if let Some(b) = &w.bursty {
            prob(b.p_good_to_bad, "network.bursty.p_good_to_bad")?;
            prob(b.p_bad_to_good, "network.bursty.p_bad_to_good")?;
            prob(b.loss_good, "network.bursty.loss_good")?;
            prob(b.loss_bad, "network.bursty.loss_bad")?;
        }
        for (i, part) in w.partitions.iter().enumerate() {
            let f = format!("network.partitions[{i}]");
            nonneg(part.start_s, &format!("{f}.start_s"))?;
            check(
                part.end_s >= part.start_s,
                &format!("{f}.end_s"),
                "must be ≥ start_s",
            )?;
            prob(part.fraction, &format!("{f}.fraction"))?;
        }
        match &w.topology {
            TopologySpec::Uniform { latency_ms } => {
                nonneg(*latency_ms, "network.topology.latency_ms")?
            }
            TopologySpec::Coordinates {
                size_ms,
                access_min_ms,
                access_max_ms,
            } => {
                nonneg(*size_ms, "network.topology.size_ms")?;
                access_range(*access_min_ms, *access_max_ms)?;
            }
            TopologySpec::Geometric {
                routers,
                radius,
                size_ms,
                access_min_ms,
                access_max_ms,
            } => {
                check(
                    (1..=crate::net::topology::MAX_ROUTERS as u32).contains(routers),
                    "network.topology.routers",
                    "must be in 1..=4096",
                )?;
                prob(*radius, "network.topology.radius")?;
                nonneg(*size_ms, "network.topology.size_ms")?;
                access_range(*access_min_ms, *access_max_ms)?;
            }
            TopologySpec::TransitStub(ts) => ts.validate()?,
        }
        if let Some(c) = &self.churn {
            nonneg(c.offline_mean_s, "churn.offline_mean_s")?;
            prob(c.crash_fraction, "churn.crash_fraction")?;
            nonneg(c.arrivals_per_s, "churn.arrivals_per_s")?;
            if let Some(u) = c.until_s {
                nonneg(u, "churn.until_s")?;
            }
            match &c.session {
                Some(SessionLengthSpec::Exponential { mean_s }) => {
                    check(*mean_s > 0.0, "churn.session.mean_s", "must be > 0")?
                }
                Some(SessionLengthSpec::Pareto { shape, min_s }) => {
                    check(*shape > 0.0, "churn.session.shape", "must be > 0")?;
                    check(*min_s > 0.0, "churn.session.min_s", "must be > 0")?;
                }
                None => {}
            }
            for (i, e) in c.events.iter().enumerate() {
                nonneg(e.at_s, &format!("churn.events[{i}].at_s"))?;
                check(
                    e.node < self.slots(),
                    &format!("churn.events[{i}].node"),
                    "is not a node slot",
                )?;
            }
        }
        match &self.workload {
            WorkloadSpec::Sessions {
                message_bytes,
                interval_ms,
                start_delay_s,
                ..
            } => {
                check(
                    (16..=16 << 20).contains(message_bytes),
                    "workload.message_bytes",
                    "must be in 16..=16777216",
                )?;
                nonneg(*interval_ms, "workload.interval_ms")?;
                nonneg(*start_delay_s, "workload.start_delay_s")?;
            }
            WorkloadSpec::Group(g) => {
                g.validate(self.duration_s, self.population.nodes)?;
                check(
                    !g.lan_discovery || self.population.lan_size > 0,
                    "workload.lan_discovery",
                    "LAN discovery needs LAN segments to carry its IP multicast: set `population.lan_size` > 0",
                )?;
                check(
                    self.population.nodes >= 2,
                    "population.nodes",
                    "a group scenario needs at least 2 nodes (slot 0 is the rendezvous server, or the schedule keeper of a serverless group)",
                )?;
                if let Some(c) = &self.churn {
                    let reserved = self.workload.reserved_slots();
                    for (i, e) in c.events.iter().enumerate() {
                        check(
                            e.node >= reserved,
                            &format!("churn.events[{i}].node"),
                            "slot 0 (the rendezvous server, or a serverless group's schedule keeper), the replication seeders (slots 1..=seeders) and the stream publisher (slot 1) never churn in a group scenario",
                        )?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Parses `text` (file `origin`) and expands its sweep: one `(label, scenario)` per value, or
/// the scenario alone (label `""`) when it has no sweep.
pub fn expand_sweep(text: &str, origin: &str) -> Result<Vec<(String, Scenario)>, ScenarioError> {
    let base = Scenario::from_toml(text, origin)?;
    let Some(sweep) = base.sweep.clone() else {
        return Ok(vec![(String::new(), base)]);
    };
    check(
        !sweep.values.is_empty(),
        "sweep.values",
        "must not be empty",
    )
    .map_err(|e| ScenarioError(format!("{origin}: {}", e.0)))?;
    let table: toml::Table =
        toml::from_str(text).map_err(|e| ScenarioError(format!("{origin}: {e}")))?;
    let mut out = Vec::new();
    for v in &sweep.values {
        let mut t = table.clone();
        t.remove("sweep");
        set_path(&mut t, &sweep.parameter, v.clone())
            .map_err(|e| ScenarioError(format!("{origin}: {}", e.0)))?;
        let s: Scenario = toml::Value::Table(t).try_into().map_err(|e| {
            ScenarioError(format!(
                "{origin}: sweep.parameter `{}` = {v}: {e}",
                sweep.parameter
            ))
        })?;
        s.validate().map_err(|e| {
            ScenarioError(format!(
                "{origin}: sweep `{}` = {v}: {}",
                sweep.parameter, e.0
            ))
        })?;
        let label = format!("{}={}", sweep.parameter, v).replace(['"', '/', ' '], "");
        out.push((label, s));
    }
    Ok(out)
}

/// Applies command-line overrides `path=value` (e.g. `population.nodes=1001`, value in TOML
/// syntax; a bare word is taken as a string) to the scenario text `text` from `origin`, and
/// returns the new text.
///
/// Errors: an override without `=`, or whose path crosses a non-table; the message names the
/// override.
pub fn apply_overrides(
    text: &str,
    origin: &str,
    overrides: &[String],
) -> Result<String, ScenarioError> {
    if overrides.is_empty() {
        return Ok(text.to_string());
    }
    let mut table: toml::Table =
        toml::from_str(text).map_err(|e| ScenarioError(format!("{origin}: {e}")))?;
    for o in overrides {
        let Some((path, raw)) = o.split_once('=') else {
            return Err(ScenarioError(format!(
                "override `{o}`: expected `path=value`, e.g. `population.nodes=1001`"
            )));
        };
        let (path, raw) = (path.trim(), raw.trim());
        let value = toml::from_str::<toml::Table>(&format!("v = {raw}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| toml::Value::String(raw.to_string()));
        set_path(&mut table, path, value)
            .map_err(|e| ScenarioError(format!("override `{o}`: {}", e.0)))?;
    }
    toml::to_string(&table).map_err(|e| ScenarioError(format!("{origin}: {e}")))
}

fn set_path(t: &mut toml::Table, path: &str, v: toml::Value) -> Result<(), ScenarioError> {
    let parts: Vec<&str> = path.split('.').collect();
    let (last, inner) = parts.split_last().expect("split yields one part");
    let mut cur = t;
    for p in inner {
        let e = cur
            .entry(p.to_string())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        cur = e.as_table_mut().ok_or_else(|| {
            ScenarioError(format!(
                "field `sweep.parameter`: `{p}` in `{path}` is not a table"
            ))
        })?;
    }
    cur.insert(last.to_string(), v);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "duration_s = 5\n[workload]\nkind = \"sessions\"\n";

    #[test]
    fn minimal_scenario_gets_defaults() {
        let s = Scenario::from_toml(MIN, "min.toml").unwrap();
        assert_eq!(s.population.nodes, 50);
        assert_eq!(s.crypto, Crypto::Flash);
        assert!(matches!(
            s.workload,
            WorkloadSpec::Sessions {
                peers: 3,
                messages: 10,
                ..
            }
        ));
    }

    #[test]
    fn sweep_expands() {
        let text = format!("{MIN}[sweep]\nparameter = \"network.loss\"\nvalues = [0.0, 0.05]\n");
        let v = expand_sweep(&text, "s.toml").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[1].1.network.loss, 0.05);
        assert_eq!(v[1].0, "network.loss=0.05");
    }

    #[test]
    fn overrides_apply_and_are_validated() {
        let o = ["population.nodes=7".to_string(), "name=x".to_string()];
        let t = apply_overrides(MIN, "min.toml", &o).unwrap();
        let s = Scenario::from_toml(&t, "min.toml").unwrap();
        assert_eq!((s.population.nodes, s.name.as_str()), (7, "x"));
        assert!(apply_overrides(MIN, "min.toml", &["nodes".into()]).is_err());
        let t = apply_overrides(MIN, "min.toml", &["network.loss=2".into()]).unwrap();
        let e = Scenario::from_toml(&t, "min.toml").unwrap_err().0;
        assert!(e.contains("network.loss"), "{e}");
    }
}
