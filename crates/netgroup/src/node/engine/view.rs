//! Scoped views of one joined group: [`GroupRef`] to read its state, [`GroupMut`] to act on
//! it, with the sub-views [`ReplicationMut`] and [`MulticastMut`]. [`GroupNode::group`] and
//! [`GroupNode::group_mut`] hand them out only for a group this node has joined, so no call
//! through them can name an unknown group.

use rtmfp::Instant;

use super::GroupNode;
use crate::node::events::GroupHandle;
use crate::node::group::Group;
use crate::node::io::Io;

/// A joined group, read-only: its neighbours, estimates, counters, replication sets and
/// streams. From [`GroupNode::group`].
#[derive(Debug, Clone, Copy)]
pub struct GroupRef<'a> {
    pub(super) group: &'a Group,
}

/// A joined group, to act on: Flash `NetGroup`'s calls (`post`, `sendToNearest`,
/// `addNeighbor`, `receiveMode`, `close`...), with [`GroupMut::replication`] and
/// [`GroupMut::multicast`] for object replication and multicast streams. From
/// [`GroupNode::group_mut`]; every call runs at the time given there, then sends what it
/// produced.
#[derive(Debug)]
pub struct GroupMut<'a> {
    pub(super) node: &'a mut GroupNode,
    pub(super) handle: GroupHandle,
    pub(super) now: Instant,
}

/// Object replication calls of a joined group (Flash `addHaveObjects`, `addWantObjects`,
/// `writeRequestedObject`...; docs/protocol/netgroup.md, "Object replication"). From
/// [`GroupMut::replication`].
#[derive(Debug)]
pub struct ReplicationMut<'a> {
    pub(super) group: GroupMut<'a>,
}

/// Multicast stream calls of a joined group (Flash `NetStream.publish` / `play` on a group
/// NetStream; docs/protocol/netgroup.md, "Multicast streams"). From [`GroupMut::multicast`].
#[derive(Debug)]
pub struct MulticastMut<'a> {
    pub(super) group: GroupMut<'a>,
}

impl GroupNode {
    /// Joined group `g`, to read; `None` if this node is not a member.
    pub fn group(&self, g: GroupHandle) -> Option<GroupRef<'_>> {
        Some(GroupRef {
            group: self.groups.get(&g)?,
        })
    }

    /// Joined group `g`, to act on at time `now`; `None` if this node is not a member.
    pub fn group_mut(&mut self, now: Instant, g: GroupHandle) -> Option<GroupMut<'_>> {
        if !self.groups.contains_key(&g) {
            return None;
        }
        Some(GroupMut {
            node: self,
            handle: g,
            now,
        })
    }
}

impl GroupMut<'_> {
    /// The group's handle.
    pub fn handle(&self) -> GroupHandle {
        self.handle
    }

    /// Its object replication calls.
    pub fn replication(&mut self) -> ReplicationMut<'_> {
        ReplicationMut {
            group: self.reborrow(),
        }
    }

    /// Its multicast stream calls.
    pub fn multicast(&mut self) -> MulticastMut<'_> {
        MulticastMut {
            group: self.reborrow(),
        }
    }

    fn reborrow(&mut self) -> GroupMut<'_> {
        GroupMut {
            node: &mut *self.node,
            handle: self.handle,
            now: self.now,
        }
    }

    /// Runs `f` on the group with its [`Io`], at the view's time; `None` if the group is no
    /// longer joined. The view was made for a joined group, but handling the events a call
    /// produced can drop it: a NetConnection that fails before the join completed drops the
    /// groups waiting for it, and a later call through the same view finds none.
    pub(super) fn with<R>(&mut self, f: impl FnOnce(&mut Group, &mut Io<'_>) -> R) -> Option<R> {
        self.node.now = self.now;
        self.node.with_group(&self.handle, f)
    }

    /// Runs a command on the group, sends the replication and multicast frames it queued, then
    /// handles the events the sends produced. `left` is the error if the group is no longer
    /// joined.
    pub(super) fn op<R, E>(
        &mut self,
        left: E,
        f: impl FnOnce(&mut Group, &mut Io<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let r = self.with(|group, io| {
            let r = f(group, io);
            group.flush_replication(io);
            group.flush_multicast(io);
            r
        });
        self.node.flush();
        r.unwrap_or(Err(left))
    }
}

#[cfg(test)]
mod tests {
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use rtmfp::Instant;
    use rtmfp_flash::FlashNode;

    use crate::node::errors::{PlayError, PostError, ReplicationError, RouteError, StreamError};
    use crate::node::multicast::StreamKey;
    use crate::{GroupAddress, GroupConfig, GroupNode, GroupSpecifier, PeerId};

    /// A view whose group was dropped while it was held (as a failed NetConnection drops the
    /// groups waiting for it) answers every call with `NotJoined` instead of panicking.
    #[test]
    fn a_view_of_a_dropped_group_refuses_every_call() {
        let flash = FlashNode::with_flash_identity(&mut ChaCha8Rng::seed_from_u64(1), [2; 32]);
        let mut node = GroupNode::new(flash, GroupConfig::default(), [3; 32]);
        let now = Instant::from_micros(1_000_000);
        let mut spec = GroupSpecifier::new("dropped").unwrap();
        spec.set_posting_enabled(true);
        spec.set_routing_enabled(true);
        spec.set_object_replication_enabled(true);
        spec.set_multicast_enabled(true);
        let h = node.join(now, &spec).unwrap();
        let mut g = node.group_mut(now, h).unwrap();
        assert!(g.post(b"first").is_ok());
        g.node.groups.remove(&h);
        assert_eq!(g.post(b"second"), Err(PostError::NotJoined));
        let to = GroupAddress([7; 32]);
        assert_eq!(g.send_to_nearest(b"x", to), Err(RouteError::NotJoined));
        assert_eq!(g.send_to_all_neighbors(b"x"), Err(RouteError::NotJoined));
        assert_eq!(
            g.replication().add_have_objects(0, 1),
            Err(ReplicationError::NotJoined)
        );
        assert_eq!(
            g.replication()
                .set_replication_strategy(crate::ReplicationStrategy::RarestFirst),
            Err(ReplicationError::NotJoined)
        );
        assert_eq!(g.multicast().play("live"), Err(PlayError::NotJoined));
        assert_eq!(
            g.multicast().unpublish(&StreamKey([1; 32])),
            Err(StreamError::NotJoined)
        );
        assert!(!g.send_raw_extension(PeerId([5; 32]), bytes::Bytes::new()));
        g.add_neighbor(PeerId([5; 32]), &[]);
        g.multicast().close_play("live");
        g.leave();
        assert!(node.group(h).is_none());
    }
}
