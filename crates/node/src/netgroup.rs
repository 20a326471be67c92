//! [`NetGroup`]: a joined group of the async API (Flash `NetGroup`): its commands, run on the
//! engine's scoped views in the driver task, and its bounded event stream.

use rtmfp_netgroup::NeighborTarget;
use rtmfp_netgroup::{
    GroupAddress, GroupEvent, GroupHandle, GroupMut, GroupNode, GroupRef, SendResult,
};
use tokio::sync::mpsc;

use crate::driver::Handle;
use crate::error::NodeError;
use crate::routes::{lock, Routes};

/// A joined group (Flash `NetGroup`): commands and the group's event stream. Dropping it
/// without [`NetGroup::close`] keeps the membership until the node stops.
#[derive(Debug)]
pub struct NetGroup {
    pub(crate) handle: Handle<GroupNode>,
    pub(crate) routes: Routes,
    pub(crate) group: GroupHandle,
    pub(crate) events: mpsc::Receiver<GroupEvent>,
}

impl NetGroup {
    /// The group handle (its 32-byte group ID).
    pub fn id(&self) -> GroupHandle {
        self.group
    }

    /// Next event of this group (`NetGroup.Connect.*`, `Neighbor.*`, `Posting.Notify`,
    /// `SendTo.Notify`, `LocalCoverage.Notify`); `None` once the driver stopped.
    pub async fn next_event(&mut self) -> Option<GroupEvent> {
        self.events.recv().await
    }

    /// An event if one is queued now.
    pub fn try_next_event(&mut self) -> Option<GroupEvent> {
        self.events.try_recv().ok()
    }

    /// Runs `f` on this group in the driver task, at the driver's current time, and returns
    /// its result: every Flash `NetGroup` call is a method of [`GroupMut`] (`post`,
    /// `send_to_nearest`, `add_neighbor`, `set_receive_mode`, `replication()`,
    /// `multicast()`...), each with its own error type, which comes back inside `R`:
    ///
    /// ```no_run
    /// # async fn f(group: &rtmfp_node::NetGroup) -> Result<(), rtmfp_node::NodeError> {
    /// group.with(|mut g| g.replication().add_have_objects(0, 99)).await??;
    /// let key = group.with(|mut g| g.multicast().publish("live")).await??;
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: [`NodeError::NotJoined`] (the group was left), [`NodeError::Driver`].
    pub async fn with<R: Send + 'static>(
        &self,
        f: impl FnOnce(GroupMut<'_>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        self.handle
            .call(move |n, now| n.group_mut(now, g).map(f))
            .await?
            .ok_or(NodeError::NotJoined)
    }

    /// Reads this group's state with `f` in the driver task: [`GroupRef`] has Flash's
    /// `neighborCount`, `estimatedMemberCount`, `info`, `receiveMode`, the replication sets,
    /// the streams and every counter.
    ///
    /// ```no_run
    /// # async fn f(group: &rtmfp_node::NetGroup) -> Result<(), rtmfp_node::NodeError> {
    /// let (neighbors, members) = group
    ///     .read(|g| (g.neighbor_count(), g.estimated_member_count()))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    ///
    /// Errors: [`NodeError::NotJoined`] (the group was left), [`NodeError::Driver`].
    pub async fn read<R: Send + 'static>(
        &self,
        f: impl FnOnce(GroupRef<'_>) -> R + Send + 'static,
    ) -> Result<R, NodeError> {
        let g = self.group;
        self.handle
            .call(move |n, _| n.group(g).map(f))
            .await?
            .ok_or(NodeError::NotJoined)
    }

    // The calls that carry a message: they copy the borrowed bytes into the driver task.

    /// Flash `post(message)`: floods the message; returns its message ID (SHA-256).
    /// Errors: [`NodeError::Post`] (as [`GroupMut::post`]), [`NodeError::NotJoined`],
    /// [`NodeError::Driver`].
    pub async fn post(&self, message: &[u8]) -> Result<[u8; 32], NodeError> {
        let m = message.to_vec();
        Ok(self.with(move |mut g| g.post(&m)).await??)
    }

    /// Flash `sendToNearest(message, groupAddress)`. Errors: [`NodeError::Route`] (as
    /// [`GroupMut::send_to_nearest`]), [`NodeError::NotJoined`], [`NodeError::Driver`].
    pub async fn send_to_nearest(
        &self,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_nearest(&m, address))
            .await??)
    }

    /// Passes a [`rtmfp_netgroup::SendToNotify`] of this group that did not end here on toward
    /// its destination (the library helper for Flash's per-hop recursion). Errors: as
    /// [`Self::send_to_nearest`].
    pub async fn forward_to_nearest(
        &self,
        notify: rtmfp_netgroup::SendToNotify,
    ) -> Result<SendResult, NodeError> {
        Ok(self
            .with(move |mut g| g.forward_to_nearest(&notify))
            .await??)
    }

    /// Flash `sendToNeighbor(message, NEXT_INCREASING | NEXT_DECREASING | address)`.
    /// Errors: as [`Self::send_to_nearest`].
    pub async fn send_to_neighbor(
        &self,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_neighbor(&m, target))
            .await??)
    }

    /// Flash `sendToAllNeighbors(message)`. Errors: as [`Self::send_to_nearest`].
    pub async fn send_to_all_neighbors(&self, message: &[u8]) -> Result<SendResult, NodeError> {
        let m = message.to_vec();
        Ok(self
            .with(move |mut g| g.send_to_all_neighbors(&m))
            .await??)
    }

    /// Flash `NetGroup.close()`: leaves the group and stops routing its events here.
    /// Errors: [`NodeError::NotJoined`] (left already), [`NodeError::Driver`].
    pub async fn close(self) -> Result<(), NodeError> {
        lock(&self.routes).remove(&self.group);
        self.with(|g| g.leave()).await
    }
}
