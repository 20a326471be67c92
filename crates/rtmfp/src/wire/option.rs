//! Option lists (RFC 7016 §2.1.3): each option is `length:VLU | type:VLU | value`, where `length`
//! counts the type and the value. A zero-length option is a *marker*. Certificates, endpoint
//! discriminators, keying components and user-data options all use this format.

use super::{vlu, DecodeError, Reader};

/// One element of an option list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptionItem<'a> {
    /// A zero-length option (the single byte `00`).
    Marker,
    /// An option with its type and value.
    Option {
        /// Option type.
        typ: u64,
        /// Option value bytes.
        value: &'a [u8],
    },
}

/// Iterator over an option list. Yields `Err` once on malformed input, then stops.
#[derive(Debug, Clone)]
pub struct OptionIter<'a> {
    reader: Reader<'a>,
    failed: bool,
}

impl<'a> OptionIter<'a> {
    /// Iterates over every option in `buf`, markers included.
    pub fn new(buf: &'a [u8]) -> Self {
        OptionIter {
            reader: Reader::new(buf),
            failed: false,
        }
    }

    /// The bytes after the last item returned.
    pub fn remainder(&self) -> &'a [u8] {
        let mut r = self.reader.clone();
        r.rest()
    }
}

impl<'a> Iterator for OptionIter<'a> {
    type Item = Result<OptionItem<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.reader.is_empty() {
            return None;
        }
        let item = (|| {
            let body = self.reader.vlu_field()?;
            if body.is_empty() {
                return Ok(OptionItem::Marker);
            }
            let mut r = Reader::new(body);
            let typ = r.vlu()?;
            Ok(OptionItem::Option {
                typ,
                value: r.rest(),
            })
        })();
        if item.is_err() {
            self.failed = true;
        }
        Some(item)
    }
}

/// Parses a user-data option list that ends with a marker (RFC 7016 §2.3.11): returns the
/// options before the marker (marker excluded) and the bytes after it.
pub fn split_terminated(buf: &[u8]) -> Result<(&[u8], &[u8]), DecodeError> {
    let mut iter = OptionIter::new(buf);
    loop {
        let before = iter.remainder();
        match iter.next() {
            None => return Err(DecodeError::Invalid("option list without marker")),
            Some(Err(e)) => return Err(e),
            Some(Ok(OptionItem::Marker)) => {
                let consumed = buf.len() - before.len();
                return Ok((&buf[..consumed], iter.remainder()));
            }
            Some(Ok(OptionItem::Option { .. })) => {}
        }
    }
}

/// Finds the first option of type `typ` in `buf` (markers are skipped).
pub fn find(buf: &[u8], typ: u64) -> Option<&[u8]> {
    OptionIter::new(buf).find_map(|item| match item {
        Ok(OptionItem::Option { typ: t, value }) if t == typ => Some(value),
        _ => None,
    })
}

/// Appends one option to `out`.
pub fn write(out: &mut Vec<u8>, typ: u64, value: &[u8]) {
    vlu::write(out, (vlu::len(typ) + value.len()) as u64);
    vlu::write(out, typ);
    out.extend_from_slice(value);
}

/// Appends a marker (`00`) to `out`.
pub fn write_marker(out: &mut Vec<u8>) {
    out.push(0);
}

/// Appends a VLU-field: `VLU(len) | bytes`.
pub fn write_field(out: &mut Vec<u8>, bytes: &[u8]) {
    vlu::write(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn metadata_example() {
        // docs/protocol/session.md, "Option lists": `05 00 54 43 04 00` = type 0, value "TC" 04 00.
        let buf = [
            0x05, 0x00, 0x54, 0x43, 0x04, 0x00, 0x02, 0x0a, 0x02, 0x00, 0xaa,
        ];
        let items: Vec<_> = OptionIter::new(&buf[..9]).map(|i| i.unwrap()).collect();
        assert_eq!(
            items,
            [
                OptionItem::Option {
                    typ: 0,
                    value: &[0x54, 0x43, 0x04, 0x00]
                },
                OptionItem::Option {
                    typ: 0x0a,
                    value: &[0x02]
                },
            ]
        );
        let (opts, rest) = split_terminated(&buf).unwrap();
        assert_eq!(opts.len(), 9);
        assert_eq!(rest, [0xaa]);
        assert_eq!(find(&buf, 0x0a), Some(&[0x02][..]));
        let mut out = Vec::new();
        write(&mut out, 0, &[0x54, 0x43, 0x04, 0x00]);
        assert_eq!(out, buf[..6]);
    }

    #[test]
    fn unterminated_list_is_an_error() {
        assert!(split_terminated(&[0x02, 0x0a, 0x02]).is_err());
        assert!(split_terminated(&[0x09, 0x0a]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(opts in proptest::collection::vec((0u64..100_000, proptest::collection::vec(any::<u8>(), 0..40)), 0..8)) {
            let mut buf = Vec::new();
            for (t, v) in &opts { write(&mut buf, *t, v); }
            let parsed: Vec<_> = OptionIter::new(&buf).map(|i| i.unwrap()).collect();
            prop_assert_eq!(parsed.len(), opts.len());
            for (p, (t, v)) in parsed.iter().zip(&opts) {
                prop_assert_eq!(*p, OptionItem::Option { typ: *t, value: v });
            }
        }

        #[test]
        fn never_panics(bytes: Vec<u8>) {
            for _ in OptionIter::new(&bytes) {}
            let _ = split_terminated(&bytes);
        }
    }
}
