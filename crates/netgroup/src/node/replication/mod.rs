//! Object replication (docs/protocol/netgroup.md, "Object replication"): have/want sets, requests
//! served by the application, and fetch scheduling, for one group.
//!
//! - [`ranges`]: [`RangeSet`], the inclusive index ranges of the Flash API;
//! - [`frames`]: the HAVE / FETCH / OBJECT / DENY frames on the `GR\x60` extension flow
//!   (our own wire, `docs/wire-netgroup.md`);
//! - [`scheduler`]: strategy ordering and holder choice;
//! - `node/engine/replication.rs`: the [`crate::node::GroupNode`] calls added for file sharing
//!   (faulty objects, fault counts, neighbours' have sets).
//!
//! `Replication` is sans-IO and knows nothing of sessions: frames to send are queued in an
//! outbox that the group drains onto its neighbours' extension flows, and events go to the
//! node's event queue. Have-set changes are coalesced: neighbours get one HAVE per
//! `GroupConfig::have_update_delay` however many `add_have_objects` calls happened.
//!
//! Faulty objects: the application checks what it receives (a hash, for file sharing) and
//! reports a bad object with [`crate::ReplicationMut::report_faulty_object`]. The index is
//! wanted again, the sender is not asked for it again for `fetch_retry_after`, and its fault
//! count (kept across reconnections, bounded) makes it the last choice among holders; from
//! `GroupConfig::max_faults_per_neighbor` faults on it is not asked at all for an index
//! another neighbour holds.
//!
//! Late objects: an OBJECT whose fetch timed out is still accepted from the neighbour that
//! was asked, within `fetch_retry_after`, if the index is still wanted (`late_objects`).

pub mod frames;
pub mod ranges;
pub mod scheduler;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rand_core::RngCore;
use rtmfp::Instant;

pub use frames::{Frame, FrameError, FrameLimits};
pub use ranges::{RangeSet, MAX_OBJECT_INDEX};
pub use scheduler::ReplicationStrategy;

use crate::id::PeerId;
use crate::node::config::GroupConfig;
use crate::node::errors::ReplicationError;
use crate::node::events::{GroupEvent, GroupHandle};
use crate::node::io::Events;
use scheduler::{candidates, choose_holder, holder_segments, CandidateOrder, HolderLoad};

/// Most wanted indices examined per scheduling pass.
const SCAN_LIMIT: usize = 4096;
/// Most (index, holder) failure records kept; the oldest indices are forgotten first.
const MAX_FAILED_RECORDS: usize = 4096;
/// Most neighbours whose fault count is remembered; beyond it the lowest count is forgotten.
const MAX_FAULT_RECORDS: usize = 1024;
/// Lowest-first takes this many of its lowest candidates in random order (times the
/// in-flight bound), so members wanting the same range do not all ask for the same index.
const LOWEST_FIRST_SHUFFLE: usize = 2;

/// Object replication counters of one group (drops by reason, and traffic).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReplicationCounters {
    /// Replication frames that did not decode.
    pub malformed: u64,
    /// Frames over a bound: more than `max_have_ranges` ranges, an object over
    /// `max_object_bytes`.
    pub oversized: u64,
    /// OBJECT or DENY frames for no request of ours in flight to that neighbour: dropped.
    pub unsolicited: u64,
    /// Replication frames in a group without `objectReplicationEnabled`: dropped.
    pub disabled: u64,
    /// Incoming FETCHes denied because of `max_pending_requests_per_neighbor` /
    /// `max_pending_requests`.
    pub requests_refused: u64,
    /// Incoming FETCHes denied because the index is not in our have set.
    pub requests_not_held: u64,
    /// Incoming FETCHes passed to the application (`ReplicationRequest`).
    pub requests: u64,
    /// FETCHes sent.
    pub fetches_sent: u64,
    /// Fetches that timed out (`fetch_timeout`).
    pub fetch_timeouts: u64,
    /// Fetches answered with DENY.
    pub fetch_denied: u64,
    /// Fetches lost because the holder disconnected.
    pub fetch_lost: u64,
    /// Objects received for our requests (`ReplicationFetchResult`).
    pub objects_received: u64,
    /// Objects sent (`write_requested_object`).
    pub objects_sent: u64,
    /// DENY frames sent.
    pub denies_sent: u64,
    /// HAVE frames sent / received.
    pub have_sent: u64,
    /// HAVE frames received.
    pub have_received: u64,
    /// Objects the application reported faulty (`report_faulty_object`).
    pub faulty_objects: u64,
    /// Objects accepted after their fetch timed out (still wanted, from the neighbour that
    /// was asked).
    pub late_objects: u64,
}

impl ReplicationCounters {
    /// Adds every counter of `o` to this one (totals over members or incarnations).
    pub fn add(&mut self, o: &ReplicationCounters) {
        let ReplicationCounters {
            malformed,
            oversized,
            unsolicited,
            disabled,
            requests_refused,
            requests_not_held,
            requests,
            fetches_sent,
            fetch_timeouts,
            fetch_denied,
            fetch_lost,
            objects_received,
            objects_sent,
            denies_sent,
            have_sent,
            have_received,
            faulty_objects,
            late_objects,
        } = *o;
        self.malformed += malformed;
        self.oversized += oversized;
        self.unsolicited += unsolicited;
        self.disabled += disabled;
        self.requests_refused += requests_refused;
        self.requests_not_held += requests_not_held;
        self.requests += requests;
        self.fetches_sent += fetches_sent;
        self.fetch_timeouts += fetch_timeouts;
        self.fetch_denied += fetch_denied;
        self.fetch_lost += fetch_lost;
        self.objects_received += objects_received;
        self.objects_sent += objects_sent;
        self.denies_sent += denies_sent;
        self.have_sent += have_sent;
        self.have_received += have_received;
        self.faulty_objects += faulty_objects;
        self.late_objects += late_objects;
    }
}

/// Replication settings taken from [`GroupConfig`].
#[derive(Debug, Clone, Copy)]
struct Limits {
    frames: FrameLimits,
    max_in_flight: usize,
    max_per_neighbor: usize,
    fetch_timeout: Duration,
    retry_after: Duration,
    have_delay: Duration,
    max_pending: usize,
    max_pending_per_neighbor: usize,
    max_faults: u32,
}

impl Limits {
    fn from(c: &GroupConfig) -> Self {
        Limits {
            frames: FrameLimits {
                max_ranges: c.max_have_ranges,
                max_object_bytes: c.max_object_bytes,
            },
            max_in_flight: c.max_fetches_in_flight.max(1),
            max_per_neighbor: c.max_fetches_per_neighbor.max(1),
            fetch_timeout: c.fetch_timeout,
            retry_after: c.fetch_retry_after,
            have_delay: c.have_update_delay,
            max_pending: c.max_pending_requests,
            max_pending_per_neighbor: c.max_pending_requests_per_neighbor,
            max_faults: c.max_faults_per_neighbor.max(1),
        }
    }
}

#[derive(Debug, Default)]
struct PeerState {
    /// Its last advertised have set.
    have: RangeSet,
    /// Indices in `have`.
    have_len: u64,
    /// Our fetches in flight to it.
    in_flight: usize,
    /// Fetches to it that timed out since the last object it sent.
    strikes: u32,
    /// Its requests waiting for the application.
    pending: usize,
}

#[derive(Debug, Clone, Copy)]
struct Fetch {
    peer: PeerId,
    deadline: Instant,
}

#[derive(Debug, Clone, Copy)]
struct Request {
    peer: PeerId,
    index: u64,
}

/// Replication state of one group (see the module docs).
#[derive(Debug)]
pub(crate) struct Replication {
    group: GroupHandle,
    enabled: bool,
    limits: Limits,
    strategy: ReplicationStrategy,
    have: RangeSet,
    want: RangeSet,
    peers: BTreeMap<PeerId, PeerState>,
    fetches: BTreeMap<u64, Fetch>,
    /// (index, holder) -> until when that holder is not asked for that index again.
    failed: BTreeMap<(u64, PeerId), Instant>,
    /// (index, holder) of fetches that timed out -> until when a late answer is accepted.
    late: BTreeMap<(u64, PeerId), Instant>,
    /// Faulty objects reported per neighbour (kept when it disconnects).
    faults: BTreeMap<PeerId, u32>,
    requests: BTreeMap<u64, Request>,
    next_request_id: u64,
    have_flush_at: Option<Instant>,
    outbox: Vec<(PeerId, Bytes)>,
    pub counters: ReplicationCounters,
}

/// Inserts into a map of (index, holder) records bounded by [`MAX_FAILED_RECORDS`]; the
/// lowest index is forgotten first.
fn bounded_insert(map: &mut BTreeMap<(u64, PeerId), Instant>, key: (u64, PeerId), until: Instant) {
    if map.len() >= MAX_FAILED_RECORDS && !map.contains_key(&key) {
        if let Some(k) = map.keys().next().copied() {
            map.remove(&k);
        }
    }
    map.insert(key, until);
}

/// Validates an API range (docs/protocol/netgroup.md, "Object replication").
fn check_range(start: u64, end: u64) -> Result<(), ReplicationError> {
    if start > end || end > MAX_OBJECT_INDEX {
        return Err(ReplicationError::InvalidRange { start, end });
    }
    Ok(())
}

impl Replication {
    pub fn new(group: GroupHandle, enabled: bool, config: &GroupConfig) -> Self {
        Replication {
            group,
            enabled,
            limits: Limits::from(config),
            strategy: ReplicationStrategy::default(),
            have: RangeSet::new(),
            want: RangeSet::new(),
            peers: BTreeMap::new(),
            fetches: BTreeMap::new(),
            failed: BTreeMap::new(),
            late: BTreeMap::new(),
            faults: BTreeMap::new(),
            requests: BTreeMap::new(),
            next_request_id: 1,
            have_flush_at: None,
            outbox: Vec::new(),
            counters: ReplicationCounters::default(),
        }
    }

    fn check(&self) -> Result<(), ReplicationError> {
        if self.enabled {
            Ok(())
        } else {
            Err(ReplicationError::ReplicationDisabled)
        }
    }

    /// Frames to send, as (neighbour, frame).
    pub fn take_outbox(&mut self) -> Vec<(PeerId, Bytes)> {
        std::mem::take(&mut self.outbox)
    }

    pub fn have(&self) -> &RangeSet {
        &self.have
    }

    pub fn want(&self) -> &RangeSet {
        &self.want
    }

    /// Faulty objects reported per neighbour.
    pub fn faults(&self) -> &BTreeMap<PeerId, u32> {
        &self.faults
    }

    /// Every neighbour's last advertised have set.
    pub fn neighbor_haves(&self) -> impl Iterator<Item = (PeerId, &RangeSet)> {
        self.peers.iter().map(|(p, s)| (*p, &s.have))
    }

    pub fn strategy(&self) -> ReplicationStrategy {
        self.strategy
    }

    pub fn set_strategy(&mut self, s: ReplicationStrategy) -> Result<(), ReplicationError> {
        self.check()?;
        self.strategy = s;
        Ok(())
    }

    fn have_changed(&mut self, now: Instant) {
        let at = now + self.limits.have_delay;
        self.have_flush_at = Some(self.have_flush_at.map_or(at, |t| t.min(at)));
    }

    /// `addHaveObjects` / `removeHaveObjects` (`add = false`).
    pub fn update_have(
        &mut self,
        now: Instant,
        start: u64,
        end: u64,
        add: bool,
    ) -> Result<(), ReplicationError> {
        self.check()?;
        check_range(start, end)?;
        let changed = if add {
            self.have.insert(start, end)
        } else {
            self.have.remove(start, end)
        };
        if changed {
            self.have_changed(now);
        }
        Ok(())
    }

    /// `addWantObjects` / `removeWantObjects` (`add = false`). Removing cancels fetches in
    /// flight for those indices (a late object is then unsolicited).
    pub fn update_want(
        &mut self,
        now: Instant,
        start: u64,
        end: u64,
        add: bool,
        events: &mut Events,
        rng: &mut impl RngCore,
    ) -> Result<(), ReplicationError> {
        self.check()?;
        check_range(start, end)?;
        if add {
            if self.want.insert(start, end) {
                self.schedule(now, events, rng);
            }
        } else if self.want.remove(start, end) {
            let cancel: Vec<u64> = self.fetches.range(start..=end).map(|(i, _)| *i).collect();
            for i in cancel {
                if let Some(f) = self.fetches.remove(&i) {
                    self.release(&f.peer);
                }
            }
            self.schedule(now, events, rng);
        }
        Ok(())
    }

    fn release(&mut self, peer: &PeerId) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.in_flight = p.in_flight.saturating_sub(1);
        }
    }

    /// `writeRequestedObject(requestID, object)`.
    pub fn write(&mut self, request_id: u64, object: Bytes) -> Result<(), ReplicationError> {
        self.check()?;
        if object.len() > self.limits.frames.max_object_bytes {
            return Err(ReplicationError::TooLarge {
                size: object.len(),
                limit: self.limits.frames.max_object_bytes,
            });
        }
        let r = self.take_request(request_id)?;
        self.counters.objects_sent += 1;
        let frame = Frame::Object {
            index: r.index,
            object,
        }
        .encode(0);
        self.outbox.push((r.peer, frame));
        Ok(())
    }

    /// `denyRequestedObject(requestID)`.
    pub fn deny(&mut self, request_id: u64) -> Result<(), ReplicationError> {
        self.check()?;
        let r = self.take_request(request_id)?;
        self.send_deny(r.peer, r.index);
        Ok(())
    }

    fn take_request(&mut self, id: u64) -> Result<Request, ReplicationError> {
        let r = self
            .requests
            .remove(&id)
            .ok_or(ReplicationError::UnknownRequest { request_id: id })?;
        if let Some(p) = self.peers.get_mut(&r.peer) {
            p.pending = p.pending.saturating_sub(1);
        }
        Ok(r)
    }

    fn send_deny(&mut self, peer: PeerId, index: u64) {
        self.counters.denies_sent += 1;
        self.outbox.push((peer, Frame::Deny(index).encode(0)));
    }

    fn have_frame(&self) -> Bytes {
        Frame::Have(self.have.clone()).encode(self.limits.frames.max_ranges)
    }

    /// A neighbour completed the handshake: it gets our have set.
    pub fn neighbor_up(&mut self, peer: PeerId) {
        if !self.enabled {
            return;
        }
        self.peers.entry(peer).or_default();
        if !self.have.is_empty() {
            self.counters.have_sent += 1;
            let f = self.have_frame();
            self.outbox.push((peer, f));
        }
    }

    /// A neighbour left: its fetches fail (and are retried elsewhere), its requests are
    /// forgotten (their IDs become unknown).
    pub fn neighbor_down(
        &mut self,
        now: Instant,
        peer: PeerId,
        events: &mut Events,
        rng: &mut impl RngCore,
    ) {
        if self.peers.remove(&peer).is_none() {
            return;
        }
        self.requests.retain(|_, r| r.peer != peer);
        self.outbox.retain(|(p, _)| *p != peer);
        let lost: Vec<u64> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.peer == peer)
            .map(|(i, _)| *i)
            .collect();
        for i in lost {
            self.fetches.remove(&i);
            self.counters.fetch_lost += 1;
            events.push(GroupEvent::ReplicationFetchFailed {
                group: self.group,
                index: i,
            });
        }
        self.failed.retain(|(_, p), _| *p != peer);
        self.late.retain(|(_, p), _| *p != peer);
        self.schedule(now, events, rng);
    }

    /// A replication frame (type byte in [`Frame::is_replication`]) from connected `peer`.
    pub fn on_frame(
        &mut self,
        now: Instant,
        peer: PeerId,
        data: &Bytes,
        events: &mut Events,
        rng: &mut impl RngCore,
    ) {
        if !self.enabled {
            self.counters.disabled += 1;
            return;
        }
        let frame = match Frame::decode(data, &self.limits.frames) {
            Ok(f) => f,
            Err(FrameError::Malformed) => {
                self.counters.malformed += 1;
                tracing::debug!(?peer, "malformed replication frame");
                return;
            }
            Err(FrameError::Oversized) => {
                self.counters.oversized += 1;
                tracing::debug!(?peer, "oversized replication frame");
                // An oversized answer still ends our request to it.
                if let Some(i) = frames::object_index(data) {
                    if self.fetches.get(&i).is_some_and(|f| f.peer == peer) {
                        self.fail(now, i, peer, events);
                        self.schedule(now, events, rng);
                    }
                }
                return;
            }
        };
        self.peers.entry(peer).or_default();
        match frame {
            Frame::Have(set) => {
                self.counters.have_received += 1;
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.have_len = set.len();
                    p.have = set;
                }
                self.schedule(now, events, rng);
            }
            Frame::Fetch(index) => self.on_fetch(peer, index, events),
            Frame::Object { index, object } => {
                if self.fetches.get(&index).is_some_and(|f| f.peer == peer) {
                    self.fetches.remove(&index);
                    self.release(&peer);
                } else if self.want.contains(index)
                    && self.late.get(&(index, peer)).is_some_and(|t| *t > now)
                {
                    // Its fetch timed out but the index is still wanted: take it, and
                    // abandon the retry in flight elsewhere (its answer is unsolicited).
                    self.late.remove(&(index, peer));
                    self.counters.late_objects += 1;
                    if let Some(f) = self.fetches.remove(&index) {
                        self.release(&f.peer);
                    }
                } else {
                    self.counters.unsolicited += 1;
                    return;
                }
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.strikes = 0;
                }
                self.counters.objects_received += 1;
                self.want.remove(index, index);
                self.failed.retain(|(i, _), _| *i != index);
                events.push(GroupEvent::ReplicationFetchResult {
                    group: self.group,
                    index,
                    object,
                    from: peer,
                });
                self.schedule(now, events, rng);
            }
            Frame::Deny(index) => {
                if self.fetches.get(&index).is_none_or(|f| f.peer != peer) {
                    self.counters.unsolicited += 1;
                    return;
                }
                self.counters.fetch_denied += 1;
                self.fail(now, index, peer, events);
                self.schedule(now, events, rng);
            }
        }
    }

    fn on_fetch(&mut self, peer: PeerId, index: u64, events: &mut Events) {
        if !self.have.contains(index) {
            self.counters.requests_not_held += 1;
            self.send_deny(peer, index);
            return;
        }
        let dup = self
            .requests
            .values()
            .any(|r| r.peer == peer && r.index == index);
        if dup {
            return;
        }
        let pending = self.peers.get(&peer).map_or(0, |p| p.pending);
        if pending >= self.limits.max_pending_per_neighbor
            || self.requests.len() >= self.limits.max_pending
        {
            self.counters.requests_refused += 1;
            self.send_deny(peer, index);
            return;
        }
        let id = self.next_request_id;
        self.next_request_id += 1;
        self.requests.insert(id, Request { peer, index });
        if let Some(p) = self.peers.get_mut(&peer) {
            p.pending += 1;
        }
        self.counters.requests += 1;
        events.push(GroupEvent::ReplicationRequest {
            group: self.group,
            index,
            request_id: id,
        });
    }

    /// `report_faulty_object`: counts the fault against `from`, wants `index` again and does
    /// not ask `from` for it for `fetch_retry_after` (module docs).
    pub fn report_faulty(
        &mut self,
        now: Instant,
        index: u64,
        from: PeerId,
        events: &mut Events,
        rng: &mut impl RngCore,
    ) -> Result<(), ReplicationError> {
        self.check()?;
        check_range(index, index)?;
        self.counters.faulty_objects += 1;
        if !self.faults.contains_key(&from) && self.faults.len() >= MAX_FAULT_RECORDS {
            let least = self.faults.iter().min_by_key(|(_, n)| **n).map(|(p, _)| *p);
            if let Some(p) = least {
                self.faults.remove(&p);
            }
        }
        let n = self.faults.entry(from).or_insert(0);
        *n = n.saturating_add(1);
        self.late.remove(&(index, from));
        bounded_insert(
            &mut self.failed,
            (index, from),
            now + self.limits.retry_after,
        );
        self.want.insert(index, index);
        self.schedule(now, events, rng);
        Ok(())
    }

    /// Ends the fetch of `index` from `peer` as failed and remembers not to ask it again soon.
    fn fail(&mut self, now: Instant, index: u64, peer: PeerId, events: &mut Events) {
        self.fetches.remove(&index);
        self.release(&peer);
        bounded_insert(
            &mut self.failed,
            (index, peer),
            now + self.limits.retry_after,
        );
        events.push(GroupEvent::ReplicationFetchFailed {
            group: self.group,
            index,
        });
    }

    /// Sends FETCHes while the in-flight budget allows (module docs, [`scheduler`]).
    fn schedule(&mut self, now: Instant, events: &mut Events, rng: &mut impl RngCore) {
        let room = self.limits.max_in_flight.saturating_sub(self.fetches.len());
        if room == 0 || self.want.is_empty() || self.peers.is_empty() {
            return;
        }
        let segments = holder_segments(self.peers.values().map(|p| &p.have));
        let fetches = &self.fetches;
        let order = candidates(
            &self.want,
            &segments,
            CandidateOrder {
                strategy: self.strategy,
                limit: usize::MAX,
                scan_limit: SCAN_LIMIT,
                shuffle: self.limits.max_in_flight * LOWEST_FIRST_SHUFFLE,
            },
            rng,
            |i| fetches.contains_key(&i),
        );
        // The seed-like holders: the largest have set (when not everyone's is as large).
        let largest = self.peers.values().map(|p| p.have_len).max().unwrap_or(0);
        let smallest = self.peers.values().map(|p| p.have_len).min().unwrap_or(0);
        let max_faults = self.limits.max_faults;
        let mut sent = 0usize;
        for index in order {
            if sent >= room {
                break;
            }
            let per = self.limits.max_per_neighbor;
            let faults = |p: &PeerId| self.faults.get(p).copied().unwrap_or(0);
            // Holders with too many faults are asked only when nobody else holds the index.
            let trusted_holder = self
                .peers
                .iter()
                .any(|(p, s)| s.have.contains(index) && faults(p) < max_faults);
            let holders: Vec<HolderLoad<PeerId>> = self
                .peers
                .iter()
                .filter(|(p, s)| {
                    s.have.contains(index)
                        && s.in_flight < if s.strikes > 0 { 1 } else { per }
                        && self.failed.get(&(index, **p)).is_none_or(|t| *t <= now)
                        && (!trusted_holder || faults(p) < max_faults)
                })
                .map(|(p, s)| HolderLoad {
                    peer: *p,
                    faults: faults(p),
                    strikes: s.strikes,
                    in_flight: s.in_flight,
                    seed: largest > smallest && s.have_len == largest,
                })
                .collect();
            let Some(peer) = choose_holder(&holders, rng) else {
                continue;
            };
            if let Some(s) = self.peers.get_mut(&peer) {
                s.in_flight += 1;
            }
            self.fetches.insert(
                index,
                Fetch {
                    peer,
                    deadline: now + self.limits.fetch_timeout,
                },
            );
            self.counters.fetches_sent += 1;
            events.push(GroupEvent::ReplicationFetchSendNotify {
                group: self.group,
                index,
            });
            self.outbox.push((peer, Frame::Fetch(index).encode(0)));
            sent += 1;
        }
    }

    /// The next instant [`Self::on_timeout`] has work: a HAVE to send, a fetch deadline, a
    /// failed holder that may be asked again.
    pub fn next_timeout(&self) -> Option<Instant> {
        let deadline = self.fetches.values().map(|f| f.deadline).min();
        let retry = if self.want.is_empty() {
            None
        } else {
            self.failed.values().min().copied()
        };
        [self.have_flush_at, deadline, retry]
            .into_iter()
            .flatten()
            .min()
    }

    /// Sends the coalesced HAVE, fails the fetches past their deadline, forgets expired
    /// failures and schedules.
    pub fn on_timeout(&mut self, now: Instant, events: &mut Events, rng: &mut impl RngCore) {
        if !self.enabled {
            return;
        }
        if self.have_flush_at.is_some_and(|t| t <= now) {
            self.have_flush_at = None;
            let f = self.have_frame();
            let peers: Vec<PeerId> = self.peers.keys().copied().collect();
            for p in peers {
                self.counters.have_sent += 1;
                self.outbox.push((p, f.clone()));
            }
        }
        let expired: Vec<(u64, PeerId)> = self
            .fetches
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(i, f)| (*i, f.peer))
            .collect();
        for (i, p) in expired {
            self.counters.fetch_timeouts += 1;
            if let Some(s) = self.peers.get_mut(&p) {
                s.strikes = s.strikes.saturating_add(1);
            }
            bounded_insert(&mut self.late, (i, p), now + self.limits.retry_after);
            self.fail(now, i, p, events);
        }
        self.failed.retain(|_, t| *t > now);
        self.late.retain(|_, t| *t > now);
        self.schedule(now, events, rng);
    }
}
