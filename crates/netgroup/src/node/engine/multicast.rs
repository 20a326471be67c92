//! Multicast streams on a joined group ([`MulticastMut`], and what [`GroupRef`] reads of them) (docs/protocol/netgroup.md, "Multicast streams", "NetGroup
//! API reference"): Flash's `NetStream` publish / play in a group.

use bytes::Bytes;

use super::view::{GroupRef, MulticastMut};
use crate::node::errors::{PlayError, PublishError, StreamError};
use crate::node::multicast::{
    MulticastCounters, MulticastParams, NetStreamMulticastInfo, StreamInfo, StreamKey,
};

impl MulticastMut<'_> {
    /// Flash `NetStream.publish(name)` on a group NetStream (docs/protocol/netgroup.md, "Media
    /// subscription"): announces a new stream (random key) to every neighbour, with the default
    /// [`MulticastParams`] of `GroupConfig::multicast`. Returns its key.
    ///
    /// Errors: [`PublishError::MulticastDisabled`],
    /// [`PublishError::NotAuthorized`] (publish password without a valid authorization),
    /// [`PublishError::AlreadyPublishing`] (this name, not yet unpublished),
    /// [`PublishError::TooManyStreams`].
    pub fn publish(&mut self, name: &str) -> Result<StreamKey, PublishError> {
        self.publish_with(name, None)
    }

    /// [`Self::publish`] with the publisher's own window, update and fetch periods,
    /// send-to-all, relay margin and push limit (`None`: the configured defaults).
    pub fn publish_with(
        &mut self,
        name: &str,
        params: Option<MulticastParams>,
    ) -> Result<StreamKey, PublishError> {
        self.group.op(PublishError::NotJoined, |group, io| {
            group.multicast.publish(io.now, name, params, io.rng)
        })
    }

    /// Publishes one media message (audio `0x08`, video `0x09`, data `0x0F`... see
    /// `multicast::media_type`) with timestamp `time` (ms) on our stream `key`: cut into
    /// fragments of at most 959 bytes (docs/protocol/netgroup.md, "Media fragments"), pushed to the
    /// neighbours that asked. Returns the message's last fragment ID.
    ///
    /// Errors: [`StreamError::UnknownStream`] (not ours, or
    /// unpublished), [`StreamError::TooLarge`] (over `multicast::MAX_MESSAGE_BYTES`).
    pub fn publish_message(
        &mut self,
        key: &StreamKey,
        media_type: u8,
        time: u32,
        payload: Bytes,
    ) -> Result<u64, StreamError> {
        self.group.op(StreamError::NotJoined, |group, io| {
            group
                .multicast
                .publish_message(io.now, key, media_type, time, &payload)
        })
    }

    /// Ends our stream `key` (Flash `NetStream.close()` of a publisher): the last fragment ID
    /// is announced to every neighbour; fragments stay available for `window + relayMargin`.
    ///
    /// Errors: [`StreamError::UnknownStream`].
    pub fn unpublish(&mut self, key: &StreamKey) -> Result<(), StreamError> {
        self.group.op(StreamError::NotJoined, |group, io| {
            group.multicast.unpublish(io.now, key)
        })
    }

    /// Flash `NetStream.play(name)` on a group NetStream: takes part in every stream of that
    /// name, now and later; its messages arrive as [`crate::node::GroupEvent::MulticastMessage`]
    /// in fragment order, and [`crate::node::GroupEvent::MulticastPlayEnded`] follows the last.
    ///
    /// Errors: [`PlayError::MulticastDisabled`].
    pub fn play(&mut self, name: &str) -> Result<(), PlayError> {
        self.group.op(PlayError::NotJoined, |group, io| {
            group.multicast.play(io.now, name)
        })
    }

    /// Stops playing `name` (Flash `NetStream.close()` of a player); nothing happens if the
    /// group is no longer joined.
    pub fn close_play(&mut self, name: &str) {
        let _ = self.group.op(PlayError::NotJoined, |group, _| {
            group.multicast.close_play(name);
            Ok(())
        });
    }
}

impl GroupRef<'_> {
    /// The streams this member knows in the group.
    pub fn multicast_streams(&self) -> Vec<StreamInfo> {
        self.group
            .multicast
            .streams()
            .into_iter()
            .map(|(key, name, publishing, playing)| StreamInfo {
                key,
                name,
                publishing,
                playing,
            })
            .collect()
    }

    /// Flash `NetStream.multicastInfo` of stream `key` (docs/protocol/netgroup.md, "Multicast
    /// statistics"); still readable for the last 256 streams after they ended and were forgotten.
    pub fn multicast_info(&self, key: &StreamKey) -> Option<NetStreamMulticastInfo> {
        self.group.multicast.info(key)
    }

    /// Multicast drop counters of the group.
    pub fn multicast_counters(&self) -> MulticastCounters {
        self.group.multicast.counters
    }
}
