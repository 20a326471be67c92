//! The directed routing calls of [`GroupNode`] and its receive mode.

use bytes::Bytes;
use rtmfp::Instant;

use crate::node::events::{GroupError, GroupHandle, SendResult, SendToNotify};
use crate::node::routing::{NeighborTarget, ReceiveMode};

use super::GroupNode;
use crate::id::GroupAddress;

impl GroupNode {
    pub(super) fn routing_group(&self, g: &GroupHandle, size: usize) -> Result<(), GroupError> {
        let group = self.groups.get(g).ok_or(GroupError::UnknownGroup)?;
        if !group.spec.routing_enabled() {
            return Err(GroupError::RoutingDisabled);
        }
        if size > self.config.max_route_bytes {
            return Err(GroupError::TooLarge {
                size,
                limit: self.config.max_route_bytes,
            });
        }
        Ok(())
    }

    /// Flash `sendToNearest(message, groupAddress)` (docs/protocol/netgroup.md, "Directed
    /// routing"): to the neighbour nearest to `address`, or locally ([`SendResult::Local`], a
    /// `SendTo.Notify` with `from_local`) when this node is the nearest and its receive mode
    /// accepts the address.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::RoutingDisabled`],
    /// [`GroupError::TooLarge`].
    pub fn send_to_nearest(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let origin = self.group_address();
        let msg = Bytes::copy_from_slice(message);
        let r = self
            .with_group(&g, |group, io| group.route(io, msg, address, origin, 0))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// The key-routing helper: re-sends a received [`SendToNotify`] one hop closer to its
    /// destination, keeping its origin and hop count (Flash's application-driven recursion,
    /// docs/protocol/netgroup.md, "Directed routing"). Returns [`SendResult::Local`] (and a
    /// `from_local` notify) when this node is the destination. A neighbour message (no destination)
    /// is `NoRoute`.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn forward_to_nearest(
        &mut self,
        now: Instant,
        notify: &SendToNotify,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        let g = notify.group;
        self.routing_group(&g, notify.message.len())?;
        let Some(dest) = notify.destination else {
            return Ok(SendResult::NoRoute);
        };
        let (msg, origin, hops) = (notify.message.clone(), notify.from, notify.hops);
        let r = self
            .with_group(&g, |group, io| group.route(io, msg, dest, origin, hops))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `sendToNeighbor(message, sendMode)` (docs/protocol/netgroup.md, "Directed routing"):
    /// to the next neighbour up or down the ring, or to the neighbour at an address.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_neighbor(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let r = self
            .with_group(&g, |group, io| {
                group.send_to_neighbors(io, message, Some(target))
            })
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `sendToAllNeighbors(message)` (docs/protocol/netgroup.md, "Directed routing"): `Sent`
    /// if at least one neighbour.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_all_neighbors(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let r = self
            .with_group(&g, |group, io| group.send_to_neighbors(io, message, None))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `receiveMode` setter: announced to neighbours with group begin `0E` / `0F`.
    ///
    /// Errors: [`GroupError::UnknownGroup`].
    pub fn set_receive_mode(
        &mut self,
        now: Instant,
        g: GroupHandle,
        mode: ReceiveMode,
    ) -> Result<(), GroupError> {
        self.now = now;
        self.with_group(&g, |group, io| group.set_receive_mode(io, mode))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(())
    }
}
