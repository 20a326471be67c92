//! A bounds-checked cursor over received bytes. Every read returns an error instead of panicking.

use super::error::DecodeError;
use super::vlu;

/// Cursor over a byte slice; all multi-byte integers are big-endian (RFC 7016 §2.1).
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader positioned at the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// Whether every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next byte without consuming it.
    pub fn peek_u8(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// Consumes `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if n > self.buf.len() {
            return Err(DecodeError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    /// Consumes everything left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.buf)
    }

    /// Consumes one byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.bytes(1)?[0])
    }

    /// Consumes a big-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.bytes(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    /// Consumes a big-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.bytes(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Consumes a VLU (RFC 7016 §2.1.2). Values above 64 bits saturate at `u64::MAX`.
    pub fn vlu(&mut self) -> Result<u64, DecodeError> {
        let (value, len) = vlu::decode(self.buf)?;
        self.buf = &self.buf[len..];
        Ok(value)
    }

    /// Consumes a VLU length followed by that many bytes (a "VLU-field").
    pub fn vlu_field(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.vlu()?;
        let len = usize::try_from(len).map_err(|_| DecodeError::Truncated)?;
        self.bytes(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_are_bounds_checked() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03]);
        assert_eq!(r.u16().unwrap(), 0x0102);
        assert_eq!(r.u16(), Err(DecodeError::Truncated));
        assert_eq!(r.u8().unwrap(), 3);
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(DecodeError::Truncated));
    }

    #[test]
    fn vlu_field_longer_than_input_is_truncated() {
        let mut r = Reader::new(&[0x85, 0x00, 0x01]);
        assert_eq!(r.vlu_field(), Err(DecodeError::Truncated));
    }
}
