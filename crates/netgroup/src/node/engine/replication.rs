//! The object replication calls of [`GroupNode`] (docs/protocol/netgroup.md, "Object replication").

use bytes::Bytes;
use rtmfp::Instant;

use crate::node::events::{GroupError, GroupHandle};
use crate::node::replication::{RangeSet, ReplicationCounters, ReplicationStrategy};

use super::GroupNode;
use crate::id::PeerId;

impl GroupNode {
    /// Flash `addHaveObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"): advertises the inclusive range `start..=end` as held and served. Neighbours
    /// learn the new have set once per `GroupConfig::have_update_delay`, however many calls happen
    /// meanwhile.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::InvalidRange`] (`start > end`, or `end >`
    /// [`MAX_OBJECT_INDEX`](crate::MAX_OBJECT_INDEX)).
    pub fn add_have_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group.replication.update_have(io.now, start, end, true)
        })
    }

    /// Flash `removeHaveObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"). Requests already announced with
    /// [`GroupEvent::ReplicationRequest`](crate::GroupEvent::ReplicationRequest) stay pending.
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn remove_have_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group.replication.update_have(io.now, start, end, false)
        })
    }

    /// Flash `addWantObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"): the engine fetches these indices from neighbours that hold them
    /// ([`GroupEvent::ReplicationFetchSendNotify`](crate::GroupEvent::ReplicationFetchSendNotify),
    /// then `...FetchResult` or `...FetchFailed`), in [`ReplicationStrategy`] order, at most
    /// `GroupConfig::max_fetches_in_flight` at a time.
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn add_want_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group
                .replication
                .update_want(io.now, start, end, true, io.events, io.rng)
        })
    }

    /// Flash `removeWantObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"): also abandons fetches in flight for these indices (an object arriving later
    /// is dropped as unsolicited).
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn remove_want_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group
                .replication
                .update_want(io.now, start, end, false, io.events, io.rng)
        })
    }

    /// Flash `writeRequestedObject(requestID, object)` (docs/protocol/netgroup.md, "Object
    /// replication"): answers a
    /// [`GroupEvent::ReplicationRequest`](crate::GroupEvent::ReplicationRequest) with the object's
    /// bytes (the application's serialization; 64 KB objects are the convention).
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::TooLarge`] (over `GroupConfig::max_object_bytes`; the request stays
    /// pending), [`GroupError::UnknownRequest`] (answered already, or the neighbour left).
    pub fn write_requested_object(
        &mut self,
        now: Instant,
        g: GroupHandle,
        request_id: u64,
        object: Bytes,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| {
            group.replication.write(request_id, object)
        })
    }

    /// Flash `denyRequestedObject(requestID)` (docs/protocol/netgroup.md, "Object replication"):
    /// the requester may ask again, and asks other holders first.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::UnknownRequest`].
    pub fn deny_requested_object(
        &mut self,
        now: Instant,
        g: GroupHandle,
        request_id: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| group.replication.deny(request_id))
    }

    /// Flash `replicationStrategy` setter (docs/protocol/netgroup.md, "Object replication"); the
    /// default is [`ReplicationStrategy::LowestFirst`]. Applies from the next request sent.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`].
    pub fn set_replication_strategy(
        &mut self,
        g: GroupHandle,
        strategy: ReplicationStrategy,
    ) -> Result<(), GroupError> {
        self.group_mut(&g)
            .ok_or(GroupError::UnknownGroup)?
            .replication
            .set_strategy(strategy)
    }

    /// Flash `replicationStrategy`.
    pub fn replication_strategy(&self, g: GroupHandle) -> Option<ReplicationStrategy> {
        Some(self.groups.get(&g)?.replication.strategy())
    }

    /// The have set (inclusive ranges, ascending).
    pub fn have_objects(&self, g: GroupHandle) -> Option<RangeSet> {
        Some(self.groups.get(&g)?.replication.have().clone())
    }

    /// The want set (inclusive ranges, ascending): shrinks as results arrive.
    pub fn want_objects(&self, g: GroupHandle) -> Option<RangeSet> {
        Some(self.groups.get(&g)?.replication.want().clone())
    }

    /// Object replication counters.
    pub fn replication_counters(&self, g: GroupHandle) -> Option<ReplicationCounters> {
        Some(self.groups.get(&g)?.replication.counters)
    }

    // ----- faults reported by the application (ours, not in Flash) -----

    /// The application found that object `index`, received from neighbour `from` (the
    /// `from` of its [`crate::node::GroupEvent::ReplicationFetchResult`]), is bad (a hash
    /// mismatch). The engine counts it (`ReplicationCounters::faulty_objects` and the
    /// per-neighbour count of [`Self::replication_faults`]), adds `index` back to the want
    /// set so it is fetched again, does not ask `from` for it again for
    /// `GroupConfig::fetch_retry_after`, and from then on prefers any other holder to `from`;
    /// from `GroupConfig::max_faults_per_neighbor` faults on, `from` is not asked at all for
    /// an index another neighbour holds. `from` need not be connected any more (its count is
    /// kept for when it comes back).
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::InvalidRange`] (`index` above
    /// [`crate::node::replication::MAX_OBJECT_INDEX`]).
    pub fn report_faulty_object(
        &mut self,
        now: Instant,
        g: GroupHandle,
        index: u64,
        from: PeerId,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group
                .replication
                .report_faulty(io.now, index, from, io.events, io.rng)
        })
    }

    /// Faulty objects reported per neighbour ([`Self::report_faulty_object`]), by peer ID;
    /// neighbours that left are kept (the 1024 with the most faults at most). `None` for a
    /// group not joined.
    pub fn replication_faults(&self, g: GroupHandle) -> Option<Vec<(PeerId, u32)>> {
        let r = &self.groups.get(&g)?.replication;
        Some(r.faults().iter().map(|(p, n)| (*p, *n)).collect())
    }

    /// Every connected neighbour's last advertised have set (docs/protocol/netgroup.md, "Object
    /// replication" HAVE frames), by peer ID: who could serve what. `None` for a group not joined.
    pub fn neighbor_have_objects(&self, g: GroupHandle) -> Option<Vec<(PeerId, RangeSet)>> {
        let r = &self.groups.get(&g)?.replication;
        Some(r.neighbor_haves().map(|(p, h)| (p, h.clone())).collect())
    }
}
