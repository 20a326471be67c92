//! Just enough FLV for the stream commands: read the tags of a file (audio 8, video 9, script
//! data 18) and write them back (Adobe FLV file format, header and tags).

use std::io::Write;

/// One FLV tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// 8 audio, 9 video, 18 script data.
    pub kind: u8,
    /// Timestamp, ms.
    pub time: u32,
    /// Tag body.
    pub data: Vec<u8>,
}

/// Whether `bytes` starts like an FLV file.
pub fn is_flv(bytes: &[u8]) -> bool {
    bytes.len() >= 9 && &bytes[..3] == b"FLV"
}

/// The tags of an FLV file; stops at the first truncated tag.
pub fn tags(bytes: &[u8]) -> Vec<Tag> {
    let mut out = Vec::new();
    if !is_flv(bytes) {
        return out;
    }
    let header = u32::from_be_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]) as usize;
    let mut at = header + 4; // PreviousTagSize0
    while at + 11 <= bytes.len() {
        let h = &bytes[at..at + 11];
        let size = u32::from_be_bytes([0, h[1], h[2], h[3]]) as usize;
        let time = u32::from_be_bytes([h[7], h[4], h[5], h[6]]);
        let body = at + 11;
        if body + size > bytes.len() {
            break;
        }
        out.push(Tag {
            kind: h[0] & 0x1f,
            time,
            data: bytes[body..body + size].to_vec(),
        });
        at = body + size + 4;
    }
    out
}

/// Writes the FLV header (audio and video flags) and the first PreviousTagSize.
pub fn write_header(w: &mut impl Write) -> std::io::Result<()> {
    w.write_all(b"FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00")
}

/// Writes one tag and its PreviousTagSize.
pub fn write_tag(w: &mut impl Write, tag: &Tag) -> std::io::Result<()> {
    let size = tag.data.len() as u32;
    let s = size.to_be_bytes();
    let t = tag.time.to_be_bytes();
    w.write_all(&[tag.kind, s[1], s[2], s[3], t[1], t[2], t[3], t[0], 0, 0, 0])?;
    w.write_all(&tag.data)?;
    w.write_all(&(size + 11).to_be_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let tags_in = vec![
            Tag {
                kind: 18,
                time: 0,
                data: b"\x02\x00\x0aonMetaData".to_vec(),
            },
            Tag {
                kind: 9,
                time: 0x0100_0000 + 40,
                data: vec![7; 3000],
            },
            Tag {
                kind: 8,
                time: 60,
                data: vec![1; 10],
            },
        ];
        let mut buf = Vec::new();
        write_header(&mut buf).unwrap();
        for t in &tags_in {
            write_tag(&mut buf, t).unwrap();
        }
        assert!(is_flv(&buf));
        assert_eq!(tags(&buf), tags_in);
        // Truncated files yield the complete tags only.
        assert_eq!(tags(&buf[..buf.len() - 5]).len(), 2);
        assert!(tags(b"not an flv").is_empty());
    }
}
