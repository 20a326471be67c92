//! Directed routing on a joined group: `sendToNearest`, `sendToNeighbor`,
//! `sendToAllNeighbors`, the key-routing helper, and the receive mode.

use bytes::Bytes;

use crate::id::GroupAddress;
use crate::node::errors::RouteError;
use crate::node::events::{SendResult, SendToNotify};
use crate::node::routing::{NeighborTarget, ReceiveMode};

use super::view::GroupMut;

impl GroupMut<'_> {
    /// Checks that the group routes and that a message of `size` bytes may be sent.
    fn routable(&mut self, size: usize) -> Result<(), RouteError> {
        self.node.now = self.now;
        let limit = self.node.config.max_route_bytes;
        let Some(group) = self.node.groups.get(&self.handle) else {
            return Err(RouteError::NotJoined);
        };
        if !group.spec.routing_enabled() {
            return Err(RouteError::RoutingDisabled);
        }
        if size > limit {
            return Err(RouteError::TooLarge { size, limit });
        }
        Ok(())
    }

    /// Flash `sendToNearest(message, groupAddress)` (docs/protocol/netgroup.md, "Directed
    /// routing"): to the neighbour nearest to `address`, or locally ([`SendResult::Local`], a
    /// `SendTo.Notify` with `from_local`) when this node is the nearest and its receive mode
    /// accepts the address.
    ///
    /// Errors: [`RouteError::RoutingDisabled`], [`RouteError::TooLarge`] (over
    /// `GroupConfig::max_route_bytes`).
    pub fn send_to_nearest(
        &mut self,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, RouteError> {
        self.routable(message.len())?;
        let origin = self.node.group_address();
        let msg = Bytes::copy_from_slice(message);
        let r = self.with(|group, io| group.route(io, msg, address, origin, 0));
        self.node.flush();
        r.ok_or(RouteError::NotJoined)
    }

    /// The key-routing helper: re-sends a received [`SendToNotify`] of this group one hop
    /// closer to its destination, keeping its origin and hop count (Flash's
    /// application-driven recursion, docs/protocol/netgroup.md, "Directed routing"). Returns
    /// [`SendResult::Local`] (and a `from_local` notify) when this node is the destination. A
    /// neighbour message (no destination) is `NoRoute`.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn forward_to_nearest(&mut self, notify: &SendToNotify) -> Result<SendResult, RouteError> {
        self.routable(notify.message.len())?;
        let Some(dest) = notify.destination else {
            return Ok(SendResult::NoRoute);
        };
        let (msg, origin, hops) = (notify.message.clone(), notify.from, notify.hops);
        let r = self.with(|group, io| group.route(io, msg, dest, origin, hops));
        self.node.flush();
        r.ok_or(RouteError::NotJoined)
    }

    /// Flash `sendToNeighbor(message, sendMode)` (docs/protocol/netgroup.md, "Directed
    /// routing"): to the next neighbour up or down the ring, or to the neighbour at an address.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_neighbor(
        &mut self,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, RouteError> {
        self.routable(message.len())?;
        let r = self.with(|group, io| group.send_to_neighbors(io, message, Some(target)));
        self.node.flush();
        r.ok_or(RouteError::NotJoined)
    }

    /// Flash `sendToAllNeighbors(message)` (docs/protocol/netgroup.md, "Directed routing"):
    /// `Sent` if at least one neighbour.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_all_neighbors(&mut self, message: &[u8]) -> Result<SendResult, RouteError> {
        self.routable(message.len())?;
        let r = self.with(|group, io| group.send_to_neighbors(io, message, None));
        self.node.flush();
        r.ok_or(RouteError::NotJoined)
    }

    /// Flash `receiveMode` setter: announced to neighbours with group begin `0E` / `0F`.
    pub fn set_receive_mode(&mut self, mode: ReceiveMode) {
        self.with(|group, io| group.set_receive_mode(io, mode));
        self.node.flush();
    }
}
