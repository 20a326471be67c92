//! Object replication in the group workload (`[workload.replication]`, docs/protocol/netgroup.md,
//! "Object replication"): seeders hold a file cut into objects, every other member wants all of
//! them, and the real `GroupNode` replication engine moves them.
//!
//! - [`ReplicationSpec`]: the scenario table; [`ReplicationParams`]: the run-time values;
//! - [`Objects`]: the object bytes, one shared [`Bytes`] per index (derived from the index), so
//!   a member that serves an object hands out a reference, never a copy of the file;
//! - [`ReplicationLedger`]: who holds what (a bitset per member), completion times, progress,
//!   who served whom;
//! - [`LowerBound`]: the upload-capacity bound `T_min` a run is compared with;
//! - [`ReplicationReport`] and its summary lines.

use std::fmt::Write as _;

use bytes::Bytes;
use rtmfp::Instant;
use rtmfp_netgroup::{GroupHandle, GroupNode, ReplicationStrategy};
use serde::{Deserialize, Serialize};

use crate::error::ScenarioError;
use crate::metrics::{Percentiles, Samples};

/// Largest object, bytes (the engine's default `max_object_bytes` is 1 MiB + 1 KiB).
pub const MAX_OBJECT_BYTES: u32 = 1 << 20;
/// Largest replicated file, bytes (the simulator keeps one copy of it in memory).
pub const MAX_FILE_BYTES: u64 = 1 << 30;
/// Most objects in a file.
pub const MAX_OBJECTS: u64 = 1 << 20;

/// `replicationStrategy` as the scenario spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// `"lowest"`: Flash `lowestFirst`.
    #[default]
    #[serde(alias = "lowestFirst", alias = "lowest_first")]
    Lowest,
    /// `"rarest"`: Flash `rarestFirst`.
    #[serde(alias = "rarestFirst", alias = "rarest_first")]
    Rarest,
}

impl Strategy {
    /// The engine's value.
    pub fn engine(self) -> ReplicationStrategy {
        match self {
            Strategy::Lowest => ReplicationStrategy::LowestFirst,
            Strategy::Rarest => ReplicationStrategy::RarestFirst,
        }
    }

    /// Flash's name (`lowestFirst`, `rarestFirst`).
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Lowest => "lowestFirst",
            Strategy::Rarest => "rarestFirst",
        }
    }
}

/// `[workload.replication]` of a group scenario. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReplicationSpec {
    /// File size, bytes (1..=1 GiB). Default 16 MiB.
    pub bytes: u64,
    /// Object size, bytes (1..=1 MiB); the last object holds the rest. Default 65536.
    pub object_bytes: u32,
    /// Members that hold the whole file from `start_s`: slots `1..=seeders` (never churn,
    /// never behind a NAT). At least 1; at least one other member must remain. Default 1.
    pub seeders: u32,
    /// `"lowest"` (Flash `lowestFirst`) or `"rarest"` (`rarestFirst`). Default lowest.
    pub strategy: Strategy,
    /// When seeders announce the file and members start wanting it, seconds of virtual time;
    /// members that join the group later start wanting it when they join. Default 10.
    pub start_s: f64,
    /// Upload capacity of each seeder, kbit/s (0: unlimited); absent: as the other nodes
    /// (`population.upload_kbps`).
    pub seed_upload_kbps: Option<f64>,
    /// `GroupConfig::max_fetches_in_flight` (1..=1024); absent: the engine's default.
    pub fetches_in_flight: Option<u32>,
    /// `GroupConfig::max_fetches_per_neighbor` (1..=1024); absent: the engine's default.
    pub fetches_per_neighbor: Option<u32>,
    /// `GroupConfig::fetch_timeout` (and `fetch_retry_after`), seconds (> 0); absent: the
    /// engine's default divided by `timer_scale`.
    pub fetch_timeout_s: Option<f64>,
    /// The members' serving policy: a member denies a request (`denyRequestedObject`, so the
    /// requester asks another holder) when the objects it has answered would still take more
    /// than this long to upload at its upload capacity, seconds (≥ 0). Absent: every request
    /// is answered at once, however long the member's queue (the naive application).
    pub serve_backlog_s: Option<f64>,
}

impl Default for ReplicationSpec {
    fn default() -> Self {
        ReplicationSpec {
            bytes: 16 << 20,
            object_bytes: 65536,
            seeders: 1,
            strategy: Strategy::Lowest,
            start_s: 10.0,
            seed_upload_kbps: None,
            fetches_in_flight: None,
            fetches_per_neighbor: None,
            fetch_timeout_s: None,
            serve_backlog_s: None,
        }
    }
}

fn check(ok: bool, field: &str, what: &str) -> Result<(), ScenarioError> {
    if ok {
        Ok(())
    } else {
        Err(ScenarioError(format!(
            "field `workload.replication.{field}`: {what}"
        )))
    }
}

impl ReplicationSpec {
    /// Objects in the file: `ceil(bytes / object_bytes)`.
    pub fn objects(&self) -> u64 {
        self.bytes.div_ceil(u64::from(self.object_bytes.max(1)))
    }

    /// Checks ranges for a run of `duration_s` seconds whose population starts with `nodes`
    /// slots (slot 0 is the server); errors name the field.
    pub fn validate(&self, duration_s: f64, nodes: u32) -> Result<(), ScenarioError> {
        check(
            (1..=MAX_FILE_BYTES).contains(&self.bytes),
            "bytes",
            &format!("must be in 1..={MAX_FILE_BYTES}, got {}", self.bytes),
        )?;
        check(
            (1..=MAX_OBJECT_BYTES).contains(&self.object_bytes),
            "object_bytes",
            &format!(
                "must be in 1..={MAX_OBJECT_BYTES}, got {}",
                self.object_bytes
            ),
        )?;
        check(
            self.objects() <= MAX_OBJECTS,
            "object_bytes",
            &format!(
                "bytes / object_bytes = {} objects exceeds {MAX_OBJECTS}",
                self.objects()
            ),
        )?;
        check(
            self.seeders >= 1 && self.seeders.saturating_add(2) <= nodes,
            "seeders",
            &format!(
                "must be ≥ 1 and leave a member that wants the file (population.nodes = {nodes} includes the server), got {}",
                self.seeders
            ),
        )?;
        check(
            self.start_s.is_finite() && self.start_s >= 0.0 && self.start_s < duration_s,
            "start_s",
            &format!(
                "must be in [0, duration_s = {duration_s}), got {}",
                self.start_s
            ),
        )?;
        if let Some(k) = self.seed_upload_kbps {
            check(
                k.is_finite() && k >= 0.0,
                "seed_upload_kbps",
                &format!("must be ≥ 0, got {k}"),
            )?;
        }
        for (v, f) in [
            (self.fetches_in_flight, "fetches_in_flight"),
            (self.fetches_per_neighbor, "fetches_per_neighbor"),
        ] {
            if let Some(v) = v {
                check(
                    (1..=1024).contains(&v),
                    f,
                    &format!("must be in 1..=1024, got {v}"),
                )?;
            }
        }
        if let Some(t) = self.serve_backlog_s {
            check(
                (0.0..=3600.0).contains(&t),
                "serve_backlog_s",
                &format!("must be in [0, 3600], got {t}"),
            )?;
        }
        if let Some(t) = self.fetch_timeout_s {
            check(
                t.is_finite() && t > 0.0 && t <= 3600.0,
                "fetch_timeout_s",
                &format!("must be in (0, 3600], got {t}"),
            )?;
        }
        Ok(())
    }
}

/// Run-time parameters of the replication workload.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationParams {
    /// File size, bytes.
    pub bytes: u64,
    /// Object size, bytes (the last object may be shorter).
    pub object_bytes: u32,
    /// Objects: indices `0..objects`.
    pub objects: u64,
    /// Seeders: slots `1..=seeders`.
    pub seeders: u32,
    /// The strategy every member uses.
    pub strategy: Strategy,
    /// Start, microseconds of virtual time.
    pub start_us: u64,
    /// Serving policy ([`ReplicationSpec::serve_backlog_s`]), microseconds; `None`: answer
    /// every request.
    pub serve_backlog_us: Option<u64>,
}

impl ReplicationParams {
    /// The parameters of `spec`.
    pub fn new(spec: &ReplicationSpec) -> Self {
        ReplicationParams {
            bytes: spec.bytes,
            object_bytes: spec.object_bytes,
            objects: spec.objects(),
            seeders: spec.seeders,
            strategy: spec.strategy,
            start_us: (spec.start_s * 1e6).round() as u64,
            serve_backlog_us: spec.serve_backlog_s.map(|s| (s * 1e6).round() as u64),
        }
    }

    /// Whether slot `slot` is a seeder.
    pub fn is_seeder(&self, slot: u32) -> bool {
        (1..=self.seeders).contains(&slot)
    }
}

/// The object bytes: object `i` is `object_bytes` long (the last one holds the rest of the
/// file), filled from a SplitMix64 stream seeded with `i`, so anyone can check it.
#[derive(Debug, Clone)]
pub struct Objects {
    data: Vec<Bytes>,
}

/// The bytes of object `index`, `len` bytes long.
pub fn object_bytes(index: u64, len: usize) -> Bytes {
    let mut state = index ^ 0x6a09_e667_f3bc_c908;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
    }
    out.truncate(len);
    Bytes::from(out)
}

impl Objects {
    /// The objects of `p`'s file.
    pub fn new(p: &ReplicationParams) -> Self {
        let data = (0..p.objects)
            .map(|i| {
                let len = (p.bytes - i * u64::from(p.object_bytes)).min(u64::from(p.object_bytes));
                object_bytes(i, len as usize)
            })
            .collect();
        Objects { data }
    }

    /// Object `index` (a reference-counted handle), if it exists.
    pub fn get(&self, index: u64) -> Option<&Bytes> {
        self.data.get(usize::try_from(index).ok()?)
    }

    /// Memory held, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.data.iter().map(Bytes::len).sum()
    }
}

/// Where a member stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum Role {
    /// Not started (not joined yet, or before the start).
    #[default]
    Idle,
    /// Holds the whole file from the start.
    Seeder,
    /// Wants the file since `since`.
    Wanting { since: Instant, cohort: bool },
}

/// One member incarnation's record.
#[derive(Debug, Clone, Default)]
struct Holder {
    role: Role,
    held: u64,
    bits: Vec<u64>,
    complete: bool,
    /// When the objects it answered will have left at its upload capacity, microseconds.
    busy_until_us: u64,
}

/// The outcome of a received object, as [`ReplicationLedger::receive`] classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receipt {
    /// A new object for this member.
    New,
    /// An object it held already.
    Duplicate,
    /// The member does not want objects (a seeder, or not started).
    NotWanting,
}

/// Counters of the replication workload (what the application saw and did).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ReplicationCounters {
    /// Members that started wanting the file (incarnations).
    pub members_started: u64,
    /// Seeders that announced the file.
    pub seeders_started: u64,
    /// `add_have_objects` / `add_want_objects` / strategy calls refused.
    pub api_errors: u64,
    /// `ReplicationFetchSendNotify` events.
    pub fetches_notified: u64,
    /// `ReplicationFetchFailed` events.
    pub fetches_failed: u64,
    /// New, verified objects received.
    pub objects_received: u64,
    /// Of which from a seeder.
    pub objects_from_seeders: u64,
    /// Bytes of new objects from seeders.
    pub bytes_from_seeders: u64,
    /// Bytes of new objects from other members.
    pub bytes_from_others: u64,
    /// Objects received that the member held already.
    pub duplicates: u64,
    /// Objects whose bytes were not the object's (asked for again).
    pub corrupt: u64,
    /// `ReplicationRequest`s answered with the object by seeders.
    pub served_by_seeders: u64,
    /// `ReplicationRequest`s answered with the object by other members.
    pub served_by_others: u64,
    /// Bytes written by seeders (`write_requested_object`).
    pub bytes_served_by_seeders: u64,
    /// Bytes written by other members.
    pub bytes_served_by_others: u64,
    /// Requests for an index that does not exist (denied).
    pub unknown_requests: u64,
    /// Requests denied by the serving policy (`serve_backlog_s`): the member was busy.
    pub denied_busy: u64,
    /// `write_requested_object` / `deny_requested_object` calls refused.
    pub write_errors: u64,
}

/// The members' own replication counters (`GroupRef::replication_counters`), summed over
/// every incarnation.
pub type EngineTotals = rtmfp_netgroup::ReplicationCounters;

/// Adds the counters of `node` in group `g` to `totals` (nothing if it is not in the group).
pub fn add_engine_totals(totals: &mut EngineTotals, node: &GroupNode, g: GroupHandle) {
    if let Some(c) = node.group(g).map(|v| v.replication_counters()) {
        totals.add(&c);
    }
}

/// One sample of replication progress.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct ProgressRow {
    /// Virtual time, seconds.
    pub t_s: f64,
    /// Live members that want the file (complete ones included; seeders excluded).
    pub members: u64,
    /// Objects they hold / (objects × members); 0 without members.
    pub fraction_held: f64,
    /// Of them, members holding every object.
    pub members_complete: u64,
    /// New objects received so far (all incarnations).
    pub objects_received: u64,
}

/// Who holds what, completion times and progress (see the module docs). Memory: one bit per
/// object per slot, plus a word per slot.
#[derive(Debug)]
pub struct ReplicationLedger {
    p: ReplicationParams,
    holders: Vec<Holder>,
    /// Slots whose members started wanting at the start instant: the population the lower
    /// bound is computed for.
    cohort: Vec<u32>,
    wanting_live: u64,
    held_live: u64,
    complete_live: u64,
    cohort_incomplete: u64,
    all_full_at: Option<Instant>,
    cohort_full_at: Option<Instant>,
    last_completion: Option<Instant>,
    /// Counters.
    pub counters: ReplicationCounters,
    /// Engine counters of departed incarnations.
    pub departed: EngineTotals,
    /// Completion time of each member (start of wanting → every object held), µs.
    pub completion_us: Samples,
}

impl ReplicationLedger {
    /// A ledger for `slots` slots; `seed` drives metric sampling.
    pub fn new(p: ReplicationParams, slots: usize, seed: u64) -> Self {
        ReplicationLedger {
            p,
            holders: vec![Holder::default(); slots],
            cohort: Vec::new(),
            wanting_live: 0,
            held_live: 0,
            complete_live: 0,
            cohort_incomplete: 0,
            all_full_at: None,
            cohort_full_at: None,
            last_completion: None,
            counters: ReplicationCounters::default(),
            departed: EngineTotals::default(),
            completion_us: Samples::new(1 << 20, seed ^ 0x20),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &ReplicationParams {
        &self.p
    }

    /// Slot `slot` starts seeding.
    pub fn seed(&mut self, slot: u32) {
        self.counters.seeders_started += 1;
        self.holders[slot as usize] = Holder {
            role: Role::Seeder,
            held: self.p.objects,
            bits: Vec::new(),
            complete: true,
            busy_until_us: 0,
        };
    }

    /// Slot `slot` starts wanting every object at `now`; a member that starts at the start
    /// instant belongs to the cohort of the lower bound.
    pub fn want(&mut self, slot: u32, now: Instant) {
        let cohort = now.as_micros() == self.p.start_us;
        self.counters.members_started += 1;
        self.holders[slot as usize] = Holder {
            role: Role::Wanting { since: now, cohort },
            held: 0,
            bits: vec![0; self.p.objects.div_ceil(64) as usize],
            complete: false,
            busy_until_us: 0,
        };
        self.wanting_live += 1;
        if cohort {
            self.cohort.push(slot);
            self.cohort_incomplete += 1;
        }
    }

    /// Slot `slot` received a verified copy of object `index` (`bytes` long) at `now`, from a
    /// seeder or not.
    pub fn receive(
        &mut self,
        slot: u32,
        index: u64,
        from_seeder: bool,
        bytes: u64,
        now: Instant,
    ) -> Receipt {
        let objects = self.p.objects;
        let h = &mut self.holders[slot as usize];
        let Role::Wanting { since, cohort } = h.role else {
            return Receipt::NotWanting;
        };
        let (w, b) = ((index / 64) as usize, index % 64);
        let Some(word) = h.bits.get_mut(w) else {
            return Receipt::NotWanting;
        };
        if *word & (1 << b) != 0 {
            self.counters.duplicates += 1;
            return Receipt::Duplicate;
        }
        *word |= 1 << b;
        h.held += 1;
        self.held_live += 1;
        let c = &mut self.counters;
        c.objects_received += 1;
        if from_seeder {
            c.objects_from_seeders += 1;
            c.bytes_from_seeders += bytes;
        } else {
            c.bytes_from_others += bytes;
        }
        if h.held == objects {
            h.complete = true;
            self.complete_live += 1;
            self.last_completion = Some(now);
            self.completion_us
                .push(now.as_micros().saturating_sub(since.as_micros()));
            if cohort {
                self.cohort_incomplete -= 1;
            }
            self.check_full(now);
        }
        Receipt::New
    }

    /// Whether slot `slot`, whose upload capacity is `upload_bps` (0: unlimited), should answer
    /// a request for `bytes` bytes at `now` under the serving policy; if so, the bytes are
    /// added to its backlog. Counts the denials.
    pub fn admit(&mut self, slot: u32, upload_bps: u64, bytes: u64, now: Instant) -> bool {
        let (Some(limit), true) = (self.p.serve_backlog_us, upload_bps > 0) else {
            return true;
        };
        let h = &mut self.holders[slot as usize];
        let now = now.as_micros();
        let start = h.busy_until_us.max(now);
        if start - now > limit {
            self.counters.denied_busy += 1;
            return false;
        }
        h.busy_until_us = start + (bytes * 8_000_000).div_ceil(upload_bps);
        true
    }

    /// A member answered a request with `bytes` bytes.
    pub fn served(&mut self, by_seeder: bool, bytes: u64) {
        let c = &mut self.counters;
        if by_seeder {
            c.served_by_seeders += 1;
            c.bytes_served_by_seeders += bytes;
        } else {
            c.served_by_others += 1;
            c.bytes_served_by_others += bytes;
        }
    }

    fn check_full(&mut self, now: Instant) {
        if self.complete_live == self.wanting_live && self.wanting_live > 0 {
            self.all_full_at.get_or_insert(now);
        }
        if self.cohort_incomplete == 0 && !self.cohort.is_empty() {
            self.cohort_full_at.get_or_insert(now);
        }
    }

    /// The member in slot `slot` left at `now`.
    pub fn leave(&mut self, slot: u32, now: Instant) {
        let h = std::mem::take(&mut self.holders[slot as usize]);
        if let Role::Wanting { cohort, .. } = h.role {
            self.wanting_live -= 1;
            self.held_live -= h.held;
            if h.complete {
                self.complete_live -= 1;
            } else {
                if cohort {
                    self.cohort_incomplete -= 1;
                }
                self.check_full(now);
            }
        }
    }

    /// Whether slot `slot` holds every object (seeders do).
    pub fn holds_all(&self, slot: u32) -> bool {
        self.holders[slot as usize].complete
    }

    /// Whether slot `slot` started (seeding or wanting).
    pub fn started(&self, slot: u32) -> bool {
        self.holders[slot as usize].role != Role::Idle
    }

    /// The progress now (`t_s` filled in).
    pub fn progress(&self, now: Instant) -> ProgressRow {
        let denom = self.wanting_live as f64 * self.p.objects as f64;
        ProgressRow {
            t_s: now.as_micros() as f64 / 1e6,
            members: self.wanting_live,
            fraction_held: if denom > 0.0 {
                self.held_live as f64 / denom
            } else {
                0.0
            },
            members_complete: self.complete_live,
            objects_received: self.counters.objects_received,
        }
    }

    /// The cohort (slots that started wanting at the start instant).
    pub fn cohort(&self) -> &[u32] {
        &self.cohort
    }

    /// Approximate memory, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.holders.capacity() * std::mem::size_of::<Holder>()
            + self
                .holders
                .iter()
                .map(|h| h.bits.capacity() * 8)
                .sum::<usize>()
            + self.cohort.capacity() * 4
    }
}

/// The upload-capacity lower bound on the time to replicate a file of `F` bits from seeders
/// of total upload `u_s` to `N` members of uploads `u_i` (and downloads `d_i`):
/// `T_min = max(F / u_s, F / min d_i, N·F / (u_s + Σ u_i))` (the fluid bound of a
/// peer-assisted distribution: the seeders must send every bit once, every member must
/// download it, and all uploads together must carry `N·F`). Capacities count wire bytes, the
/// bound counts file bits: headers and control traffic are part of the measured time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LowerBound {
    /// Members `N`.
    pub members: u64,
    /// `F / u_s`, seconds (0 when the seeders' upload is unlimited).
    pub seed_s: f64,
    /// `F / min d_i`, seconds (0 when downloads are unlimited).
    pub download_s: f64,
    /// `N·F / (u_s + Σ u_i)`, seconds (0 when an upload is unlimited).
    pub aggregate_s: f64,
    /// `T_min`, the largest of the three, seconds (0: no capacity limits the run).
    pub t_min_s: f64,
    /// Seeders' total upload, bit/s (0: unlimited).
    pub seed_upload_bps: u64,
    /// Members' mean upload, bit/s (0: unlimited).
    pub member_upload_mean_bps: f64,
}

impl LowerBound {
    /// The bound for a file of `file_bytes` bytes, seeders of uploads `seed_up`, members of
    /// uploads `up` and downloads `down`, bits per second (0 = unlimited).
    pub fn new(file_bytes: u64, seed_up: &[u64], up: &[u64], down: &[u64]) -> Self {
        let f = file_bytes as f64 * 8.0;
        let unlimited = |v: &[u64]| v.contains(&0);
        let us: u64 = seed_up.iter().sum();
        let seed_s = if unlimited(seed_up) || us == 0 {
            0.0
        } else {
            f / us as f64
        };
        let dmin = down.iter().copied().filter(|&d| d > 0).min();
        let download_s = dmin.map_or(0.0, |d| f / d as f64);
        let n = up.len() as f64;
        let aggregate_s = if unlimited(seed_up) || unlimited(up) || us == 0 {
            0.0
        } else {
            n * f / (us as f64 + up.iter().map(|&u| u as f64).sum::<f64>())
        };
        LowerBound {
            members: up.len() as u64,
            seed_s,
            download_s,
            aggregate_s,
            t_min_s: seed_s.max(download_s).max(aggregate_s),
            seed_upload_bps: if unlimited(seed_up) { 0 } else { us },
            member_upload_mean_bps: if unlimited(up) || up.is_empty() {
                0.0
            } else {
                up.iter().map(|&u| u as f64).sum::<f64>() / n
            },
        }
    }
}

/// Results of the replication workload.
#[derive(Debug, Clone, Serialize)]
pub struct ReplicationReport {
    /// File size, bytes.
    pub file_bytes: u64,
    /// Object size, bytes.
    pub object_bytes: u32,
    /// Objects.
    pub objects: u64,
    /// Seeders.
    pub seeders: u32,
    /// Strategy (Flash's name).
    pub strategy: &'static str,
    /// Start, seconds.
    pub start_s: f64,
    /// What the workload saw and did.
    pub counters: ReplicationCounters,
    /// The members' engine counters, over every incarnation.
    pub engine: EngineTotals,
    /// The lower bound for the cohort (members that started at the start instant).
    pub bound: LowerBound,
    /// Time from the start until every cohort member still live held every object, seconds
    /// (`None`: not by the end).
    pub full_replication_s: Option<f64>,
    /// `full_replication_s / T_min` (`None` without both).
    pub ratio_to_bound: Option<f64>,
    /// Time from the start until, for the first time, every live member that wanted the file
    /// held every object (late joiners included), seconds.
    pub all_live_full_s: Option<f64>,
    /// Time from the start to the last completion, seconds.
    pub last_completion_s: Option<f64>,
    /// Per-member completion time (start of wanting → every object), µs.
    pub completion_us: Percentiles,
    /// Live members wanting the file at the end (seeders excluded).
    pub members_at_end: u64,
    /// Of them, holding every object.
    pub complete_at_end: u64,
    /// Live members at the end whose engine have set lacks an object although the ledger
    /// says they are complete, or the other way round (must be 0).
    pub have_set_mismatches: u64,
    /// Fraction of new objects that came from seeders.
    pub seeder_share: f64,
    /// Progress over time (`replication.csv`).
    #[serde(skip)]
    pub progress: Vec<ProgressRow>,
}

impl ReplicationReport {
    /// Builds the report from the ledger, with the cohort's lower bound `bound`, engine
    /// totals `engine`, `have_set_mismatches` and the progress samples.
    pub fn build(
        l: &mut ReplicationLedger,
        bound: LowerBound,
        engine: EngineTotals,
        have_set_mismatches: u64,
        progress: Vec<ProgressRow>,
    ) -> Self {
        let start = l.p.start_us;
        let since =
            |t: Option<Instant>| t.map(|t| t.as_micros().saturating_sub(start) as f64 / 1e6);
        let full = since(l.cohort_full_at);
        let c = l.counters;
        ReplicationReport {
            file_bytes: l.p.bytes,
            object_bytes: l.p.object_bytes,
            objects: l.p.objects,
            seeders: l.p.seeders,
            strategy: l.p.strategy.name(),
            start_s: start as f64 / 1e6,
            counters: c,
            engine,
            bound,
            ratio_to_bound: full
                .filter(|_| bound.t_min_s > 0.0)
                .map(|f| f / bound.t_min_s),
            full_replication_s: full,
            all_live_full_s: since(l.all_full_at),
            last_completion_s: since(l.last_completion),
            completion_us: l.completion_us.percentiles(),
            members_at_end: l.wanting_live,
            complete_at_end: l.complete_live,
            have_set_mismatches,
            seeder_share: if c.objects_received == 0 {
                0.0
            } else {
                c.objects_from_seeders as f64 / c.objects_received as f64
            },
            progress,
        }
    }
}

fn opt_s(v: Option<f64>) -> String {
    v.map_or_else(|| "not reached".into(), |s| format!("{s:.2} s"))
}

/// Appends the replication lines of the one-screen summary to `o`.
pub fn summary_lines(o: &mut String, r: &ReplicationReport) {
    let b = &r.bound;
    let ratio = r
        .ratio_to_bound
        .map_or_else(|| "—".into(), |x| format!("{x:.2}"));
    let _ = writeln!(
        o,
        "replication {} objects × {} B ({:.2} MiB), {} seeder(s), {}, from {:.1} s: {} of {} live members complete; full replication (cohort of {}) {} = {} × T_min {:.2} s (seed {:.2} s, download {:.2} s, aggregate {:.2} s); all live {}",
        r.objects,
        r.object_bytes,
        r.file_bytes as f64 / (1 << 20) as f64,
        r.seeders,
        r.strategy,
        r.start_s,
        r.complete_at_end,
        r.members_at_end,
        b.members,
        opt_s(r.full_replication_s),
        ratio,
        b.t_min_s,
        b.seed_s,
        b.download_s,
        b.aggregate_s,
        opt_s(r.all_live_full_s),
    );
    let c = &r.counters;
    let e = &r.engine;
    let p = &r.completion_us;
    let _ = writeln!(
        o,
        "  completion s p50 {:.2}  p90 {:.2}  max {:.2}; {} objects received, {:.2} % from seeders ({:.1} MB) / {:.1} MB from members; served: seeders {} ({:.1} MB), members {} ({:.1} MB)",
        p.p50 as f64 / 1e6,
        p.p90 as f64 / 1e6,
        p.max as f64 / 1e6,
        c.objects_received,
        100.0 * r.seeder_share,
        c.bytes_from_seeders as f64 / 1e6,
        c.bytes_from_others as f64 / 1e6,
        c.served_by_seeders,
        c.bytes_served_by_seeders as f64 / 1e6,
        c.served_by_others,
        c.bytes_served_by_others as f64 / 1e6,
    );
    let _ = writeln!(
        o,
        "  fetches {} sent, {} failed (timeouts {}, denied {}, holder gone {}; {} denials by busy members), {} unsolicited late objects, {} duplicates, {} corrupt, {} have-set mismatches; HAVE {} sent",
        e.fetches_sent,
        c.fetches_failed,
        e.fetch_timeouts,
        e.fetch_denied,
        e.fetch_lost,
        c.denied_busy,
        e.unsolicited,
        c.duplicates,
        c.corrupt,
        r.have_set_mismatches,
        e.have_sent,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(objects: u64) -> ReplicationParams {
        ReplicationParams {
            bytes: objects * 100 - 30,
            object_bytes: 100,
            objects,
            seeders: 1,
            strategy: Strategy::Lowest,
            start_us: 1_000_000,
            serve_backlog_us: None,
        }
    }

    #[test]
    fn objects_are_derived_from_the_index() {
        let p = params(3);
        let o = Objects::new(&p);
        assert_eq!(o.get(0).map(Bytes::len), Some(100));
        assert_eq!(o.get(2).map(Bytes::len), Some(70));
        assert_eq!(o.get(3), None);
        assert_eq!(o.memory_bytes(), 270);
        assert_eq!(o.get(1), Some(&object_bytes(1, 100)));
        assert_ne!(o.get(0), o.get(1));
    }

    #[test]
    fn ledger_tracks_completion_cohort_and_leaves() {
        let p = params(2);
        let mut l = ReplicationLedger::new(p, 5, 1);
        let start = Instant::from_micros(1_000_000);
        let t = |us| Instant::from_micros(us);
        l.seed(1);
        l.want(2, start);
        l.want(3, start);
        l.want(4, t(1_500_000)); // a late joiner: not in the cohort
        assert_eq!(l.cohort(), &[2, 3]);
        assert_eq!(l.receive(1, 0, true, 100, start), Receipt::NotWanting);
        assert_eq!(l.receive(2, 0, true, 100, t(2_000_000)), Receipt::New);
        assert_eq!(l.receive(2, 0, true, 100, t(2_000_000)), Receipt::Duplicate);
        assert_eq!(l.receive(2, 1, false, 70, t(3_000_000)), Receipt::New);
        assert!(l.holds_all(2));
        assert_eq!(l.progress(t(3_000_000)).fraction_held, 2.0 / 6.0);
        // Member 3 leaves incomplete: the cohort is done; member 4 still is not.
        l.receive(3, 0, false, 100, t(3_500_000));
        l.leave(3, t(4_000_000));
        l.receive(4, 0, false, 100, t(4_500_000));
        l.receive(4, 1, false, 70, t(5_000_000));
        let r = ReplicationReport::build(
            &mut l,
            LowerBound::new(170, &[1000], &[1000, 1000], &[0, 0]),
            EngineTotals::default(),
            0,
            Vec::new(),
        );
        assert_eq!(r.full_replication_s, Some(3.0));
        assert_eq!(r.all_live_full_s, Some(4.0));
        assert_eq!((r.members_at_end, r.complete_at_end), (2, 2));
        assert_eq!(r.counters.duplicates, 1);
        assert_eq!(r.completion_us.count, 2);
        assert_eq!(r.completion_us.max, 3_500_000);
        assert_eq!(r.counters.objects_from_seeders, 1);
    }

    #[test]
    fn lower_bound_takes_the_largest_term() {
        // 1 MB file, seed 8 Mbit/s (1 s), 3 members of 1 Mbit/s: 3 × 8 / 11 = 2.18 s.
        let b = LowerBound::new(1_000_000, &[8_000_000], &[1_000_000; 3], &[0; 3]);
        assert!((b.seed_s - 1.0).abs() < 1e-9);
        assert!((b.aggregate_s - 24.0 / 11.0).abs() < 1e-9);
        assert_eq!(b.t_min_s, b.aggregate_s);
        // A slow download dominates.
        let b = LowerBound::new(1_000_000, &[8_000_000], &[1_000_000; 3], &[0, 500_000, 0]);
        assert!((b.t_min_s - 16.0).abs() < 1e-9);
        // Unlimited uploads: no bound.
        let b = LowerBound::new(1_000_000, &[0], &[1_000_000; 3], &[0; 3]);
        assert_eq!(b.t_min_s, 0.0);
    }
}
