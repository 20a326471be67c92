//! Multicast streams on the async [`NetGroup`] (Flash `NetStream` in a group;
//! docs/protocol/netgroup.md, "Multicast streams"): publish, send media and data messages, play,
//! statistics.
//!
//! ```no_run
//! # async fn f(group: rtmfp_node::NetGroup) -> Result<(), rtmfp_node::NodeError> {
//! use rtmfp_netgroup::multicast::media_type;
//! let key = group.with(|mut g| g.multicast().publish("live")).await??;
//! let video = vec![0u8; 2000].into();
//! group
//!     .with(move |mut g| g.multicast().publish_message(&key, media_type::VIDEO, 0, video))
//!     .await??;
//! group.send_stream_data(key, 40, "onCue", &[rtmfp_flash::amf::string("chapter 2")]).await?;
//! group.with(move |mut g| g.multicast().unpublish(&key)).await??;
//! # Ok(()) }
//! ```
//!
//! Players call `multicast().play(name)` through [`NetGroup::with`] and read `GroupEvent::MulticastMessage` from
//! [`NetGroup::next_event`]; `GroupEvent::MulticastPlayEnded` follows the last message.

use bytes::Bytes;
use rtmfp_flash::amf::{self, Value};
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::StreamKey;

use crate::error::NodeError;
use crate::netgroup::NetGroup;

/// The payload of a `NetStream.send(handler, args...)` data message in a multicast stream:
/// a `0x00` byte, then AMF0 values (captured from librtmfp, docs/protocol/netgroup.md, "Media
/// fragments"; media type [`media_type::DATA_AMF3`]).
pub fn data_message(handler: &str, args: &[Value]) -> Bytes {
    let mut values = Vec::with_capacity(args.len() + 1);
    values.push(amf::string(handler));
    values.extend_from_slice(args);
    let mut out = vec![0u8];
    out.extend_from_slice(&amf::encode_values(&values));
    Bytes::from(out)
}

/// Decodes a data message payload (see [`data_message`]): `(handler, args)`, or `None` if it
/// is not one. At most 64 values are decoded.
pub fn parse_data_message(payload: &[u8]) -> Option<(String, Vec<Value>)> {
    let body = payload.strip_prefix(&[0u8]).unwrap_or(payload);
    let mut values = amf::decode_values(body, 64).ok()?.into_iter();
    let handler = match values.next()? {
        Value::String(s) => s,
        _ => return None,
    };
    Some((handler, values.collect()))
}

impl NetGroup {
    /// Flash `NetStream.send(handler, args...)` on our stream `key`: a data message (see
    /// [`data_message`]) at timestamp `time` (ms). Returns its last fragment ID.
    /// Errors: [`NodeError::Stream`] (as `MulticastMut::publish_message`),
    /// [`NodeError::NotJoined`], [`NodeError::Driver`].
    pub async fn send_stream_data(
        &self,
        key: StreamKey,
        time: u32,
        handler: &str,
        args: &[Value],
    ) -> Result<u64, NodeError> {
        let payload = data_message(handler, args);
        Ok(self
            .with(move |mut g| {
                g.multicast()
                    .publish_message(&key, media_type::DATA_AMF3, time, payload)
            })
            .await??)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_messages_round_trip() {
        let p = data_message("onPost", &[amf::string("post from peer A #1")]);
        // The captured layout (docs/protocol/netgroup.md, "Media fragments"): 00 02 0006 "onPost"
        // 02 0013 "post from peer A #1".
        assert_eq!(&p[..4], &[0x00, 0x02, 0x00, 0x06]);
        let (h, args) = parse_data_message(&p).unwrap();
        assert_eq!(h, "onPost");
        assert_eq!(args, vec![amf::string("post from peer A #1")]);
        assert!(parse_data_message(&[0x00, 0x05]).is_none());
        assert!(parse_data_message(&[0xff, 0xff]).is_none());
    }
}
