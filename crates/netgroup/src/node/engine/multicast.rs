//! The multicast calls of [`GroupNode`] (docs/protocol/netgroup.md, "Multicast streams", "NetGroup
//! API reference"): Flash's `NetStream` publish / play in a group.

use bytes::Bytes;
use rtmfp::Instant;

use super::GroupNode;
use crate::node::events::{GroupError, GroupHandle};
use crate::node::multicast::{
    MulticastCounters, MulticastParams, NetStreamMulticastInfo, StreamInfo, StreamKey,
};

impl GroupNode {
    /// Flash `NetStream.publish(name)` on a group NetStream (docs/protocol/netgroup.md, "Media
    /// subscription"): announces a new stream (random key) to every neighbour, with the default
    /// [`MulticastParams`] of `GroupConfig::multicast`. Returns its key.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::MulticastDisabled`],
    /// [`GroupError::PublishNotAuthorized`] (publish password without a valid authorization),
    /// [`GroupError::AlreadyPublishing`] (this name, not yet unpublished),
    /// [`GroupError::TooManyStreams`].
    pub fn publish(
        &mut self,
        now: Instant,
        g: GroupHandle,
        name: &str,
    ) -> Result<StreamKey, GroupError> {
        self.publish_with(now, g, name, None)
    }

    /// [`Self::publish`] with the publisher's own window, update and fetch periods,
    /// send-to-all, relay margin and push limit (`None`: the configured defaults).
    pub fn publish_with(
        &mut self,
        now: Instant,
        g: GroupHandle,
        name: &str,
        params: Option<MulticastParams>,
    ) -> Result<StreamKey, GroupError> {
        self.group_op(now, g, |group, io| {
            group.multicast.publish(now, name, params, io.rng)
        })
    }

    /// Publishes one media message (audio `0x08`, video `0x09`, data `0x0F`... see
    /// `multicast::media_type`) with timestamp `time` (ms) on our stream `key`: cut into
    /// fragments of at most 959 bytes (docs/protocol/netgroup.md, "Media fragments"), pushed to the
    /// neighbours that asked. Returns the message's last fragment ID.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::UnknownStream`] (not ours, or
    /// unpublished), [`GroupError::TooLarge`] (over `multicast::MAX_MESSAGE_BYTES`).
    pub fn publish_message(
        &mut self,
        now: Instant,
        g: GroupHandle,
        key: &StreamKey,
        media_type: u8,
        time: u32,
        payload: Bytes,
    ) -> Result<u64, GroupError> {
        self.group_op(now, g, |group, _| {
            group
                .multicast
                .publish_message(now, key, media_type, time, &payload)
        })
    }

    /// Ends our stream `key` (Flash `NetStream.close()` of a publisher): the last fragment ID
    /// is announced to every neighbour; fragments stay available for `window + relayMargin`.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::UnknownStream`].
    pub fn unpublish(
        &mut self,
        now: Instant,
        g: GroupHandle,
        key: &StreamKey,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| group.multicast.unpublish(now, key))
    }

    /// Flash `NetStream.play(name)` on a group NetStream: takes part in every stream of that
    /// name, now and later; its messages arrive as [`crate::node::GroupEvent::MulticastMessage`]
    /// in fragment order, and [`crate::node::GroupEvent::MulticastPlayEnded`] follows the last.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::MulticastDisabled`].
    pub fn play(&mut self, now: Instant, g: GroupHandle, name: &str) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| group.multicast.play(now, name))
    }

    /// Stops playing `name` (Flash `NetStream.close()` of a player).
    ///
    /// Errors: [`GroupError::UnknownGroup`].
    pub fn close_play(
        &mut self,
        now: Instant,
        g: GroupHandle,
        name: &str,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| {
            group.multicast.close_play(name);
            Ok(())
        })
    }

    /// The streams this member knows in group `g`.
    pub fn multicast_streams(&self, g: GroupHandle) -> Option<Vec<StreamInfo>> {
        Some(
            self.groups
                .get(&g)?
                .multicast
                .streams()
                .into_iter()
                .map(|(key, name, publishing, playing)| StreamInfo {
                    key,
                    name,
                    publishing,
                    playing,
                })
                .collect(),
        )
    }

    /// Flash `NetStream.multicastInfo` of stream `key` (docs/protocol/netgroup.md, "Multicast
    /// statistics"); still readable for the last 256 streams after they ended and were forgotten.
    pub fn multicast_info(
        &self,
        g: GroupHandle,
        key: &StreamKey,
    ) -> Option<NetStreamMulticastInfo> {
        self.groups.get(&g)?.multicast.info(key)
    }

    /// Multicast drop counters of group `g`.
    pub fn multicast_counters(&self, g: GroupHandle) -> Option<MulticastCounters> {
        Some(self.groups.get(&g)?.multicast.counters)
    }
}
