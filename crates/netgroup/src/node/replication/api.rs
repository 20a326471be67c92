//! [`GroupNode`] calls for applications that check what they fetch (file sharing,
//! `docs/file-sharing.md`): reporting a faulty object, the fault counts, and the neighbours'
//! have sets (netgroup digest §9 has no such calls; they are ours).

use rtmfp::Instant;

use super::RangeSet;
use crate::id::PeerId;
use crate::node::events::{GroupError, GroupHandle};
use crate::node::GroupNode;

impl GroupNode {
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

    /// Every connected neighbour's last advertised have set (digest §9 HAVE frames), by peer
    /// ID: who could serve what. `None` for a group not joined.
    pub fn neighbor_have_objects(&self, g: GroupHandle) -> Option<Vec<(PeerId, RangeSet)>> {
        let r = &self.groups.get(&g)?.replication;
        Some(r.neighbor_haves().map(|(p, h)| (p, h.clone())).collect())
    }
}
