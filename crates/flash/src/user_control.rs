//! User control events (message type 0x04): `event:u16 | data` (RFC 7425 §5.2, §5.3.4;
//! docs/protocol/flash.md, "TC message framing" to "NetConnection sequence").

use crate::message::{self, kind};
use crate::FlashError;

/// A user control event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserControl {
    /// 0: a stream starts (data: stream ID).
    StreamBegin(u32),
    /// 1: a stream ended.
    StreamEof(u32),
    /// 2: a stream has no more data for now.
    StreamDry(u32),
    /// 3: the client's buffer length for a stream, milliseconds.
    SetBufferLength {
        /// Stream ID.
        stream_id: u32,
        /// Buffer length, milliseconds.
        millis: u32,
    },
    /// 4: the stream is recorded.
    StreamIsRecorded(u32),
    /// 34: Flow Sync: hold this flow at this point until `count` flows reach `sync_id`
    /// (RFC 7425 §5.2).
    FlowSync {
        /// Barrier identifier.
        sync_id: u32,
        /// Number of flows that take part.
        count: u32,
    },
    /// 41: Set Keepalive Timer, both periods in milliseconds (RFC 7425 §5.3.4).
    SetKeepaliveTimer {
        /// Keepalive toward the server, milliseconds.
        server_ms: u32,
        /// Keepalive for peer-to-peer sessions, milliseconds.
        peer_ms: u32,
    },
    /// Any other event, kept as is.
    Other {
        /// Event type.
        event: u16,
        /// Event data.
        data: Vec<u8>,
    },
}

fn u32_at(d: &[u8], at: usize) -> Result<u32, FlashError> {
    d.get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or(FlashError::UserControl)
}

impl UserControl {
    /// Decodes the payload of a type-0x04 message. Errors: [`FlashError::UserControl`] when
    /// the data is shorter than the event needs.
    pub fn decode(payload: &[u8]) -> Result<Self, FlashError> {
        if payload.len() < 2 {
            return Err(FlashError::UserControl);
        }
        let event = u16::from_be_bytes([payload[0], payload[1]]);
        let d = &payload[2..];
        Ok(match event {
            0 => UserControl::StreamBegin(u32_at(d, 0)?),
            1 => UserControl::StreamEof(u32_at(d, 0)?),
            2 => UserControl::StreamDry(u32_at(d, 0)?),
            3 => UserControl::SetBufferLength {
                stream_id: u32_at(d, 0)?,
                millis: u32_at(d, 4)?,
            },
            4 => UserControl::StreamIsRecorded(u32_at(d, 0)?),
            34 => UserControl::FlowSync {
                sync_id: u32_at(d, 0)?,
                count: u32_at(d, 4)?,
            },
            41 => UserControl::SetKeepaliveTimer {
                server_ms: u32_at(d, 0)?,
                peer_ms: u32_at(d, 4)?,
            },
            _ => UserControl::Other {
                event,
                data: d.to_vec(),
            },
        })
    }

    /// Encodes the payload (event type and data).
    pub fn encode(&self) -> Vec<u8> {
        let (event, words): (u16, Vec<u32>) = match self {
            UserControl::StreamBegin(s) => (0, vec![*s]),
            UserControl::StreamEof(s) => (1, vec![*s]),
            UserControl::StreamDry(s) => (2, vec![*s]),
            UserControl::SetBufferLength { stream_id, millis } => (3, vec![*stream_id, *millis]),
            UserControl::StreamIsRecorded(s) => (4, vec![*s]),
            UserControl::FlowSync { sync_id, count } => (34, vec![*sync_id, *count]),
            UserControl::SetKeepaliveTimer { server_ms, peer_ms } => {
                (41, vec![*server_ms, *peer_ms])
            }
            UserControl::Other { event, data } => {
                let mut out = event.to_be_bytes().to_vec();
                out.extend_from_slice(data);
                return out;
            }
        };
        let mut out = event.to_be_bytes().to_vec();
        for w in words {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out
    }

    /// The whole message (type 0x04, timestamp 0), ready to write on a flow.
    pub fn to_message(&self) -> Vec<u8> {
        message::encode(kind::USER_CONTROL, 0, &self.encode())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        for e in [
            UserControl::StreamBegin(2_000_001),
            UserControl::SetKeepaliveTimer {
                server_ms: 15_000,
                peer_ms: 10_000,
            },
            UserControl::FlowSync {
                sync_id: 7,
                count: 3,
            },
            UserControl::Other {
                event: 99,
                data: vec![1, 2],
            },
        ] {
            assert_eq!(UserControl::decode(&e.encode()).unwrap(), e);
        }
        assert_eq!(
            UserControl::decode(&[0, 41, 0, 0]),
            Err(FlashError::UserControl)
        );
    }
}
