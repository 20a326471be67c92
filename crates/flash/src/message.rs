//! One Flash message on a `TC` flow: `type:u8 | timestamp:u32 | payload` (RFC 7425 §5.1.2;
//! docs/protocol/flash.md, "TC message framing"). Unlike RTMP there is no length or stream ID: the
//! flow gives both.

use crate::FlashError;

/// Message type bytes (RTMP numbering; docs/protocol/flash.md, "TC message framing").
pub mod kind {
    /// User control event: `event:u16 | data`.
    pub const USER_CONTROL: u8 = 0x04;
    /// Audio (FLV tag body).
    pub const AUDIO: u8 = 0x08;
    /// Video (FLV tag body).
    pub const VIDEO: u8 = 0x09;
    /// AMF3 data: a 0x00 byte, then AMF0 values.
    pub const AMF3_DATA: u8 = 0x0f;
    /// AMF3 shared object.
    pub const AMF3_SHARED_OBJECT: u8 = 0x10;
    /// AMF3 command: a 0x00 byte, then AMF0 values (RFC 7425 §5.3.3).
    pub const AMF3_COMMAND: u8 = 0x11;
    /// AMF0 data (`NetStream.send`, `@setDataFrame`).
    pub const AMF0_DATA: u8 = 0x12;
    /// AMF0 shared object.
    pub const AMF0_SHARED_OBJECT: u8 = 0x13;
    /// AMF0 command (`connect`, `_result`, `createStream`, `onStatus`, …).
    pub const AMF0_COMMAND: u8 = 0x14;
}

/// A decoded message borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcMessage<'a> {
    /// Message type, see [`kind`].
    pub kind: u8,
    /// Timestamp, milliseconds.
    pub timestamp: u32,
    /// Everything after the 5-byte header.
    pub payload: &'a [u8],
}

impl<'a> TcMessage<'a> {
    /// Splits `data` into header and payload. Errors: [`FlashError::Truncated`] under 5 bytes.
    pub fn decode(data: &'a [u8]) -> Result<Self, FlashError> {
        if data.len() < 5 {
            return Err(FlashError::Truncated);
        }
        Ok(TcMessage {
            kind: data[0],
            timestamp: u32::from_be_bytes([data[1], data[2], data[3], data[4]]),
            payload: &data[5..],
        })
    }

    /// The AMF0 value bytes of a command or data message: the payload, minus the leading 0x00
    /// of the AMF3 variants. `None` for other types.
    pub fn amf_body(&self) -> Option<&'a [u8]> {
        match self.kind {
            kind::AMF0_COMMAND | kind::AMF0_DATA => Some(self.payload),
            kind::AMF3_COMMAND | kind::AMF3_DATA => match self.payload.first() {
                Some(0) => Some(&self.payload[1..]),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Encodes a message: header, then `payload`.
pub fn encode(kind: u8, timestamp: u32, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + payload.len());
    out.push(kind);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_and_amf3_prefix() {
        let m = TcMessage::decode(&[0x11, 0, 0, 0, 0x82, 0, 5]).unwrap();
        assert_eq!(m.kind, kind::AMF3_COMMAND);
        assert_eq!(m.timestamp, 0x82);
        assert_eq!(m.amf_body(), Some(&[5u8][..]));
        assert_eq!(
            encode(m.kind, m.timestamp, m.payload),
            [0x11, 0, 0, 0, 0x82, 0, 5]
        );
        assert_eq!(TcMessage::decode(&[0x14, 0, 0]), Err(FlashError::Truncated));
        let audio = TcMessage::decode(&[0x08, 0, 0, 0, 1, 0xaf]).unwrap();
        assert_eq!(audio.amf_body(), None);
    }
}
