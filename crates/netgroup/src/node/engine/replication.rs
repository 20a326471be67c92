//! Object replication on a joined group ([`ReplicationMut`], docs/protocol/netgroup.md, "Object
//! replication"), and what [`GroupRef`] reads of it.

use bytes::Bytes;

use crate::node::errors::ReplicationError;
use crate::node::replication::{RangeSet, ReplicationCounters, ReplicationStrategy};

use super::view::{GroupRef, ReplicationMut};
use crate::id::PeerId;

impl ReplicationMut<'_> {
    /// Flash `addHaveObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"): advertises the inclusive range `start..=end` as held and served. Neighbours
    /// learn the new have set once per `GroupConfig::have_update_delay`, however many calls happen
    /// meanwhile.
    ///
    /// Errors: [`ReplicationError::ReplicationDisabled`],
    /// [`ReplicationError::InvalidRange`] (`start > end`, or `end >`
    /// [`MAX_OBJECT_INDEX`](crate::MAX_OBJECT_INDEX)).
    pub fn add_have_objects(&mut self, start: u64, end: u64) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, io| {
            group.replication.update_have(io.now, start, end, true)
        })
    }

    /// Flash `removeHaveObjects(startIndex, endIndex)` (docs/protocol/netgroup.md, "Object
    /// replication"). Requests already announced with
    /// [`GroupEvent::ReplicationRequest`](crate::GroupEvent::ReplicationRequest) stay pending.
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn remove_have_objects(&mut self, start: u64, end: u64) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, io| {
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
    pub fn add_want_objects(&mut self, start: u64, end: u64) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, io| {
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
    pub fn remove_want_objects(&mut self, start: u64, end: u64) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, io| {
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
    /// Errors: [`ReplicationError::ReplicationDisabled`],
    /// [`ReplicationError::TooLarge`] (over `GroupConfig::max_object_bytes`; the request stays
    /// pending), [`ReplicationError::UnknownRequest`] (answered already, or the neighbour left).
    pub fn write_requested_object(
        &mut self,
        request_id: u64,
        object: Bytes,
    ) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, _| {
            group.replication.write(request_id, object)
        })
    }

    /// Flash `denyRequestedObject(requestID)` (docs/protocol/netgroup.md, "Object replication"):
    /// the requester may ask again, and asks other holders first.
    ///
    /// Errors: [`ReplicationError::ReplicationDisabled`],
    /// [`ReplicationError::UnknownRequest`].
    pub fn deny_requested_object(&mut self, request_id: u64) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, _| {
            group.replication.deny(request_id)
        })
    }

    /// Flash `replicationStrategy` setter (docs/protocol/netgroup.md, "Object replication"); the
    /// default is [`ReplicationStrategy::LowestFirst`]. Applies from the next request sent.
    ///
    /// Errors: [`ReplicationError::ReplicationDisabled`].
    pub fn set_replication_strategy(
        &mut self,
        strategy: ReplicationStrategy,
    ) -> Result<(), ReplicationError> {
        self.group
            .node
            .group_entry_mut(&self.group.handle)
            .ok_or(ReplicationError::NotJoined)?
            .replication
            .set_strategy(strategy)
    }

    // ----- faults reported by the application (ours, not in Flash) -----

    /// The application found that object `index`, received from neighbour `from` (the
    /// `from` of its [`crate::node::GroupEvent::ReplicationFetchResult`]), is bad (a hash
    /// mismatch). The engine counts it (`ReplicationCounters::faulty_objects` and the
    /// per-neighbour count of [`GroupRef::replication_faults`]), adds `index` back to the want
    /// set so it is fetched again, does not ask `from` for it again for
    /// `GroupConfig::fetch_retry_after`, and from then on prefers any other holder to `from`;
    /// from `GroupConfig::max_faults_per_neighbor` faults on, `from` is not asked at all for
    /// an index another neighbour holds. `from` need not be connected any more (its count is
    /// kept for when it comes back).
    ///
    /// Errors: [`ReplicationError::ReplicationDisabled`],
    /// [`ReplicationError::InvalidRange`] (`index` above
    /// [`crate::node::replication::MAX_OBJECT_INDEX`]).
    pub fn report_faulty_object(
        &mut self,
        index: u64,
        from: PeerId,
    ) -> Result<(), ReplicationError> {
        self.group.op(ReplicationError::NotJoined, |group, io| {
            group
                .replication
                .report_faulty(io.now, index, from, io.events, io.rng)
        })
    }
}

impl GroupRef<'_> {
    /// Flash `replicationStrategy`.
    pub fn replication_strategy(&self) -> ReplicationStrategy {
        self.group.replication.strategy()
    }

    /// The have set (inclusive ranges, ascending).
    pub fn have_objects(&self) -> RangeSet {
        self.group.replication.have().clone()
    }

    /// The want set (inclusive ranges, ascending): shrinks as results arrive.
    pub fn want_objects(&self) -> RangeSet {
        self.group.replication.want().clone()
    }

    /// Object replication counters.
    pub fn replication_counters(&self) -> ReplicationCounters {
        self.group.replication.counters
    }

    /// Faulty objects reported per neighbour ([`ReplicationMut::report_faulty_object`]), by peer ID;
    /// neighbours that left are kept (the 1024 with the most faults at most).
    pub fn replication_faults(&self) -> Vec<(PeerId, u32)> {
        let r = &self.group.replication;
        r.faults().iter().map(|(p, n)| (*p, *n)).collect()
    }

    /// Every connected neighbour's last advertised have set (docs/protocol/netgroup.md, "Object
    /// replication" HAVE frames), by peer ID: who could serve what.
    pub fn neighbor_have_objects(&self) -> Vec<(PeerId, RangeSet)> {
        let r = &self.group.replication;
        r.neighbor_haves().map(|(p, h)| (p, h.clone())).collect()
    }
}
