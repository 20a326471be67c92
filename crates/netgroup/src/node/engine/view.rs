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

    /// The group's state, read-only.
    pub fn state(&self) -> GroupRef<'_> {
        GroupRef {
            group: self.group(),
        }
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

    /// The group. A `GroupMut` holds the node mutably, so the group it was made for cannot
    /// be left while it lives ([`GroupMut::leave`] consumes it).
    fn group(&self) -> &Group {
        self.node
            .groups
            .get(&self.handle)
            .expect("a GroupMut names a joined group")
    }

    /// Runs `f` on the group with its [`Io`], at the view's time.
    pub(super) fn with<R>(&mut self, f: impl FnOnce(&mut Group, &mut Io<'_>) -> R) -> R {
        self.node.now = self.now;
        self.node
            .with_group(&self.handle, f)
            .expect("a GroupMut names a joined group")
    }

    /// Runs a command on the group, sends the replication and multicast frames it queued, then
    /// handles the events the sends produced.
    pub(super) fn op<R, E>(
        &mut self,
        f: impl FnOnce(&mut Group, &mut Io<'_>) -> Result<R, E>,
    ) -> Result<R, E> {
        let r = self.with(|group, io| {
            let r = f(group, io);
            group.flush_replication(io);
            group.flush_multicast(io);
            r
        });
        self.node.flush();
        r
    }
}
