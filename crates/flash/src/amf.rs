//! AMF0 values for commands and data messages, through the `amf` crate, behind a structural
//! guard for untrusted input.
//!
//! The `amf` crate decodes well-formed AMF0, but it trusts length fields (a long string of
//! length 2^32 − 1 allocates 4 GiB before failing), follows references (a few bytes of
//! nested references expand exponentially) and recurses without limit. [`decode_values`]
//! therefore first walks the bytes without building anything and refuses what could hurt:
//! lengths beyond the input, nesting deeper than [`MAX_DEPTH`], references (marker 0x07) and
//! AVM+ switches (0x11), which no Flash NetConnection command needs. Only then does the crate
//! build the values.

pub use amf::amf0::Value;
use amf::Pair;

use crate::FlashError;

/// Deepest nesting of objects and arrays accepted from the network.
pub const MAX_DEPTH: usize = 16;

mod marker {
    pub const NUMBER: u8 = 0x00;
    pub const BOOLEAN: u8 = 0x01;
    pub const STRING: u8 = 0x02;
    pub const OBJECT: u8 = 0x03;
    pub const NULL: u8 = 0x05;
    pub const UNDEFINED: u8 = 0x06;
    pub const ECMA_ARRAY: u8 = 0x08;
    pub const OBJECT_END: u8 = 0x09;
    pub const STRICT_ARRAY: u8 = 0x0a;
    pub const DATE: u8 = 0x0b;
    pub const LONG_STRING: u8 = 0x0c;
    pub const XML_DOCUMENT: u8 = 0x0f;
    pub const TYPED_OBJECT: u8 = 0x10;
}

struct Scan<'a> {
    buf: &'a [u8],
    pos: usize,
}

fn err(what: &str) -> FlashError {
    FlashError::Amf(what.to_string())
}

impl Scan<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], FlashError> {
        if self.buf.len() - self.pos < n {
            return Err(err("truncated"));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn u16(&mut self) -> Result<usize, FlashError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }

    fn u32(&mut self) -> Result<usize, FlashError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
    }

    fn utf8(&mut self, n: usize) -> Result<(), FlashError> {
        let s = self.take(n)?;
        std::str::from_utf8(s).map_err(|_| err("string is not UTF-8"))?;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<(), FlashError> {
        if depth > MAX_DEPTH {
            return Err(err("nested too deeply"));
        }
        let m = self.take(1)?[0];
        match m {
            marker::NUMBER => self.take(8).map(drop),
            marker::BOOLEAN => self.take(1).map(drop),
            marker::STRING => {
                let n = self.u16()?;
                self.utf8(n)
            }
            marker::LONG_STRING | marker::XML_DOCUMENT => {
                let n = self.u32()?;
                self.utf8(n)
            }
            marker::OBJECT => self.pairs(depth + 1),
            marker::TYPED_OBJECT => {
                let n = self.u16()?;
                self.utf8(n)?;
                self.pairs(depth + 1)
            }
            marker::ECMA_ARRAY => {
                self.u32()?;
                self.pairs(depth + 1)
            }
            marker::STRICT_ARRAY => {
                let count = self.u32()?;
                // Every element takes at least one byte.
                if count > self.buf.len() - self.pos {
                    return Err(err("array count beyond the input"));
                }
                for _ in 0..count {
                    self.value(depth + 1)?;
                }
                Ok(())
            }
            marker::DATE => {
                let b = self.take(10)?;
                let millis =
                    f64::from_be_bytes(*b.first_chunk::<8>().ok_or_else(|| err("truncated"))?);
                if millis.is_finite() && millis.is_sign_positive() {
                    Ok(())
                } else {
                    Err(err("invalid date"))
                }
            }
            marker::NULL | marker::UNDEFINED => Ok(()),
            0x07 => Err(err("references are refused")),
            0x11 => Err(err("AVM+ values are refused")),
            other => Err(FlashError::Amf(format!("unsupported marker {other:#04x}"))),
        }
    }

    fn pairs(&mut self, depth: usize) -> Result<(), FlashError> {
        loop {
            let n = self.u16()?;
            if n == 0 && self.buf.get(self.pos) == Some(&marker::OBJECT_END) {
                self.pos += 1;
                return Ok(());
            }
            self.utf8(n)?;
            self.value(depth)?;
        }
    }
}

/// Checks that `bytes` is a sequence of at most `max_values` safe AMF0 values (see the module
/// documentation). Errors: [`FlashError::Amf`] naming the problem.
pub fn validate(bytes: &[u8], max_values: usize) -> Result<usize, FlashError> {
    let mut s = Scan { buf: bytes, pos: 0 };
    let mut count = 0;
    while s.pos < bytes.len() {
        if count == max_values {
            return Err(err("too many values"));
        }
        s.value(0)?;
        count += 1;
    }
    Ok(count)
}

/// Decodes a sequence of AMF0 values from untrusted `bytes`, at most `max_values` of them.
/// Errors: [`FlashError::Amf`].
pub fn decode_values(bytes: &[u8], max_values: usize) -> Result<Vec<Value>, FlashError> {
    let count = validate(bytes, max_values)?;
    let mut reader = bytes;
    let mut decoder = amf::amf0::Decoder::new(&mut reader);
    (0..count)
        .map(|_| decoder.decode().map_err(|e| FlashError::Amf(e.to_string())))
        .collect()
}

/// Encodes values one after the other.
pub fn encode_values(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        v.write_to(&mut out).expect("writing to a Vec cannot fail");
    }
    out
}

/// An anonymous object from `(key, value)` pairs, in order.
pub fn object<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
    Value::Object {
        class_name: None,
        entries: entries
            .into_iter()
            .map(|(key, value)| Pair {
                key: key.into(),
                value,
            })
            .collect(),
    }
}

/// A string value.
pub fn string(s: impl Into<String>) -> Value {
    Value::String(s.into())
}

/// The property `key` of an object or ECMA array.
pub fn property<'v>(value: &'v Value, key: &str) -> Option<&'v Value> {
    match value {
        Value::Object { entries, .. } | Value::EcmaArray { entries } => {
            entries.iter().find(|p| p.key == key).map(|p| &p.value)
        }
        _ => None,
    }
}

/// The string property `key` of an object, if it is a string.
pub fn string_property<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    match property(value, key)? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_a_status_object() {
        let v = vec![
            string("_result"),
            Value::Number(1.0),
            Value::Null,
            object([("code", string("x")), ("n", Value::Number(3.0))]),
        ];
        let bytes = encode_values(&v);
        assert_eq!(decode_values(&bytes, 16).unwrap(), v);
        assert_eq!(string_property(&v[3], "code"), Some("x"));
    }

    #[test]
    fn hostile_inputs_are_refused_without_allocating() {
        // Long string claiming 4 GiB.
        assert!(decode_values(&[0x0c, 0xff, 0xff, 0xff, 0xff, b'a'], 4).is_err());
        // Strict array claiming 2^32 elements.
        assert!(decode_values(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x05], 4).is_err());
        // References and AVM+.
        assert!(decode_values(&[0x07, 0x00, 0x00], 4).is_err());
        assert!(decode_values(&[0x11, 0x01], 4).is_err());
        // Deep nesting: objects inside objects.
        let mut deep = Vec::new();
        for _ in 0..1000 {
            deep.extend_from_slice(&[0x03, 0x00, 0x01, b'a']);
        }
        deep.push(0x05);
        assert!(decode_values(&deep, 4).is_err());
        // Too many values.
        assert!(decode_values(&[0x05; 10], 4).is_err());
        // Invalid UTF-8.
        assert!(decode_values(&[0x02, 0x00, 0x01, 0xff], 4).is_err());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for len in 0..2000usize {
            let mut buf = Vec::with_capacity(len % 64);
            for _ in 0..len % 64 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                buf.push((x % 20) as u8);
            }
            let _ = decode_values(&buf, 8);
        }
    }
}
