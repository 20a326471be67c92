//! The file manifest (`docs/file-sharing.md`): what a shared file is (name, size, object
//! size, SHA-256 of every object and of the whole file) in a compact, versioned binary
//! encoding of our own, and the manifest ID, the SHA-256 of that encoding.
//!
//! ```text
//! offset  size       field
//!      0  4          magic "NGFM"
//!      4  1          version (1)
//!      5  1          flags (0; others reserved)
//!      6  4          object size, bytes, u32 big-endian (1 ..= MAX_OBJECT_SIZE)
//!     10  8          file size, bytes, u64 big-endian
//!     18  8          object count, u64 big-endian (= ceil(file size / object size))
//!     26  32         SHA-256 of the whole file
//!     58  2          name length n, u16 big-endian (1 ..= MAX_NAME_BYTES)
//!     60  n          file name, UTF-8 (no '/', '\', control characters; not "." or "..")
//!  60 + n 32 x count SHA-256 of each object, in file order
//! ```
//!
//! Exactly one encoding per manifest (fixed-width fields, nothing optional, no trailing
//! bytes), so the ID names the content. [`Manifest::decode`] never panics and allocates at
//! most what the input itself holds, after checking the object count against
//! [`ManifestLimits`].
//!
//! This file is self-contained (std, `sha2`, `thiserror`): the fuzz target
//! `fuzz/fuzz_targets/share_manifest.rs` compiles it on its own.

use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// First bytes of an encoded manifest.
pub const MAGIC: [u8; 4] = *b"NGFM";
/// The encoding version this code writes and reads.
pub const VERSION: u8 = 1;
/// The object size of `rtmfp share`: 64 KiB (65,536 bytes), Flash's conventional object
/// size (docs/protocol/netgroup.md, "Object replication").
pub const DEFAULT_OBJECT_SIZE: u32 = 64 * 1024;
/// Largest object size a manifest may declare, bytes (1 MiB: under the engine's default
/// `GroupConfig::max_object_bytes`).
pub const MAX_OBJECT_SIZE: u32 = 1 << 20;
/// Longest file name, bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 255;
/// Size of the fixed header before the name, bytes.
pub const HEADER_BYTES: usize = 60;

/// SHA-256 of an encoded manifest: names a shared file. Printed as 64 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ManifestId(pub [u8; 32]);

impl ManifestId {
    /// The ID of an encoded manifest (its SHA-256).
    pub fn of(encoded: &[u8]) -> ManifestId {
        ManifestId(Sha256::digest(encoded).into())
    }
}

impl fmt::Display for ManifestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl FromStr for ManifestId {
    type Err = ManifestError;

    /// Parses 64 hex digits (either case). Errors: [`ManifestError::BadId`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.len() != 64 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ManifestError::BadId);
        }
        let mut id = [0u8; 32];
        for (k, b) in id.iter_mut().enumerate() {
            *b = u8::from_str_radix(&s[2 * k..2 * k + 2], 16).map_err(|_| ManifestError::BadId)?;
        }
        Ok(ManifestId(id))
    }
}

/// Why a manifest was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestError {
    /// Shorter than its header or its declared length.
    #[error("manifest truncated")]
    Truncated,
    /// Not a manifest (wrong magic bytes).
    #[error("not a file manifest (bad magic)")]
    BadMagic,
    /// A version or flags this code does not know.
    #[error("unsupported manifest version {version} (flags {flags:#04x})")]
    Unsupported {
        /// The version byte.
        version: u8,
        /// The flags byte.
        flags: u8,
    },
    /// A field out of range or inconsistent (object size, count, name), or trailing bytes.
    #[error("invalid manifest: {0}")]
    Invalid(&'static str),
    /// More objects than [`ManifestLimits::max_objects`].
    #[error("manifest lists {count} objects, more than the limit of {limit}")]
    TooLarge {
        /// Objects declared.
        count: u64,
        /// The bound.
        limit: u64,
    },
    /// A manifest ID that is not 64 hex digits.
    #[error("a manifest ID is 64 hex digits")]
    BadId,
}

/// Bounds applied while decoding a manifest from the network or a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManifestLimits {
    /// Most objects a manifest may list. Default 2^21 (a 64 MiB manifest; 128 GiB of file at
    /// 64 KiB objects).
    pub max_objects: u64,
}

impl Default for ManifestLimits {
    fn default() -> Self {
        ManifestLimits {
            max_objects: 1 << 21,
        }
    }
}

/// A shared file's description (module docs for the encoding).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// File name (a plain name, no directories), UTF-8, 1 to [`MAX_NAME_BYTES`] bytes.
    pub name: String,
    /// File size, bytes.
    pub file_size: u64,
    /// Object size, bytes: object `j` is the bytes `[j * object_size, (j + 1) * object_size)`
    /// of the file, the last one shorter.
    pub object_size: u32,
    /// SHA-256 of the whole file.
    pub file_sha256: [u8; 32],
    /// SHA-256 of each object, in file order.
    pub object_sha256: Vec<[u8; 32]>,
}

/// Objects of a file of `file_size` bytes cut in `object_size` pieces (`object_size` > 0).
pub fn object_count(file_size: u64, object_size: u32) -> u64 {
    file_size.div_ceil(u64::from(object_size.max(1)))
}

/// Whether `name` is acceptable as a manifest file name (module docs).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME_BYTES
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c == '\\' || c.is_control())
}

fn be_u16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

fn be_u32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn be_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_be_bytes(a)
}

/// Header fields read by [`parse_header`].
struct Header {
    object_size: u32,
    file_size: u64,
    count: u64,
    name_len: usize,
}

/// Checks the fixed header at the start of `b` (at least [`HEADER_BYTES`] long).
fn parse_header(b: &[u8], limits: &ManifestLimits) -> Result<Header, ManifestError> {
    if b.len() < HEADER_BYTES {
        return Err(ManifestError::Truncated);
    }
    if b[..4] != MAGIC {
        return Err(ManifestError::BadMagic);
    }
    if b[4] != VERSION || b[5] != 0 {
        return Err(ManifestError::Unsupported {
            version: b[4],
            flags: b[5],
        });
    }
    let object_size = be_u32(&b[6..]);
    if object_size == 0 || object_size > MAX_OBJECT_SIZE {
        return Err(ManifestError::Invalid("object size"));
    }
    let file_size = be_u64(&b[10..]);
    let count = be_u64(&b[18..]);
    if count != object_count(file_size, object_size) {
        return Err(ManifestError::Invalid(
            "object count does not match the file size",
        ));
    }
    if count > limits.max_objects {
        return Err(ManifestError::TooLarge {
            count,
            limit: limits.max_objects,
        });
    }
    let name_len = usize::from(be_u16(&b[58..]));
    if name_len == 0 || name_len > MAX_NAME_BYTES {
        return Err(ManifestError::Invalid("name length"));
    }
    Ok(Header {
        object_size,
        file_size,
        count,
        name_len,
    })
}

impl Manifest {
    /// Number of objects.
    pub fn object_count(&self) -> u64 {
        self.object_sha256.len() as u64
    }

    /// Byte range `(offset, length)` of object `j` in the file (`j` < [`Self::object_count`]).
    pub fn object_range(&self, j: u64) -> (u64, usize) {
        let size = u64::from(self.object_size);
        let offset = j.saturating_mul(size);
        let len = self.file_size.saturating_sub(offset).min(size);
        (offset, len as usize)
    }

    /// Length of the encoding, bytes.
    pub fn encoded_len(&self) -> usize {
        HEADER_BYTES + self.name.len() + 32 * self.object_sha256.len()
    }

    /// The encoding (module docs). The fields are not checked: use a manifest built by
    /// [`Manifest::from_reader`] / [`Manifest::from_file`] or decoded.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        out.extend_from_slice(&MAGIC);
        out.push(VERSION);
        out.push(0);
        out.extend_from_slice(&self.object_size.to_be_bytes());
        out.extend_from_slice(&self.file_size.to_be_bytes());
        out.extend_from_slice(&(self.object_sha256.len() as u64).to_be_bytes());
        out.extend_from_slice(&self.file_sha256);
        out.extend_from_slice(&(self.name.len() as u16).to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
        for h in &self.object_sha256 {
            out.extend_from_slice(h);
        }
        out
    }

    /// The manifest ID: SHA-256 of [`Self::encode`].
    pub fn id(&self) -> ManifestId {
        ManifestId::of(&self.encode())
    }

    /// Decodes a whole encoded manifest.
    ///
    /// Errors: [`ManifestError`] (never panics; allocates at most the input's size).
    pub fn decode(b: &[u8], limits: &ManifestLimits) -> Result<Manifest, ManifestError> {
        let h = parse_header(b, limits)?;
        let name_end = HEADER_BYTES + h.name_len;
        let name_bytes = b
            .get(HEADER_BYTES..name_end)
            .ok_or(ManifestError::Truncated)?;
        let name = std::str::from_utf8(name_bytes)
            .map_err(|_| ManifestError::Invalid("name is not UTF-8"))?;
        if !valid_name(name) {
            return Err(ManifestError::Invalid("name"));
        }
        let hashes = &b[name_end..];
        // count <= max_objects, so this cannot overflow for any sane limit; checked anyway.
        let want = usize::try_from(h.count)
            .ok()
            .and_then(|c| c.checked_mul(32))
            .ok_or(ManifestError::Invalid("object count"))?;
        if hashes.len() < want {
            return Err(ManifestError::Truncated);
        }
        if hashes.len() > want {
            return Err(ManifestError::Invalid("trailing bytes"));
        }
        let mut file_sha256 = [0u8; 32];
        file_sha256.copy_from_slice(&b[26..58]);
        let object_sha256 = hashes
            .chunks_exact(32)
            .map(|c| {
                let mut a = [0u8; 32];
                a.copy_from_slice(c);
                a
            })
            .collect();
        Ok(Manifest {
            name: name.to_string(),
            file_size: h.file_size,
            object_size: h.object_size,
            file_sha256,
            object_sha256,
        })
    }

    /// The total length of an encoded manifest, read from its first bytes (at least
    /// [`HEADER_BYTES`]): how much to fetch before [`Manifest::decode`]. Only the header is
    /// checked (magic, version, sizes, the object count against `limits`).
    ///
    /// Errors: [`ManifestError`].
    pub fn encoded_len_from_prefix(
        prefix: &[u8],
        limits: &ManifestLimits,
    ) -> Result<u64, ManifestError> {
        let h = parse_header(prefix, limits)?;
        Ok((HEADER_BYTES + h.name_len) as u64 + h.count.saturating_mul(32))
    }

    /// Reads a whole file from `r` (streaming, one object at a time) and describes it:
    /// `name`, cut in `object_size` objects.
    ///
    /// Errors: I/O errors of `r`; [`std::io::ErrorKind::InvalidInput`] for a bad name or
    /// object size.
    pub fn from_reader(
        mut r: impl Read,
        name: &str,
        object_size: u32,
    ) -> std::io::Result<Manifest> {
        let invalid =
            |m: &str| std::io::Error::new(std::io::ErrorKind::InvalidInput, m.to_string());
        if !valid_name(name) {
            return Err(invalid("file name not usable in a manifest"));
        }
        if object_size == 0 || object_size > MAX_OBJECT_SIZE {
            return Err(invalid("object size out of range"));
        }
        let mut whole = Sha256::new();
        let mut hashes = Vec::new();
        let mut buf = vec![0u8; object_size as usize];
        let mut size = 0u64;
        loop {
            let n = read_full(&mut r, &mut buf)?;
            if n == 0 {
                break;
            }
            whole.update(&buf[..n]);
            hashes.push(Sha256::digest(&buf[..n]).into());
            size += n as u64;
            if n < buf.len() {
                break;
            }
        }
        Ok(Manifest {
            name: name.to_string(),
            file_size: size,
            object_size,
            file_sha256: whole.finalize().into(),
            object_sha256: hashes,
        })
    }

    /// [`Manifest::from_reader`] on the file at `path`, named after its last component
    /// (blocking: run it off the async executor for large files).
    ///
    /// Errors: I/O errors; [`std::io::ErrorKind::InvalidInput`] for a name that is not
    /// UTF-8 or not usable.
    pub fn from_file(path: &Path, object_size: u32) -> std::io::Result<Manifest> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "the file name is not UTF-8",
                )
            })?
            .to_string();
        let f = std::fs::File::open(path)?;
        Manifest::from_reader(std::io::BufReader::new(f), &name, object_size)
    }
}

/// Reads until `buf` is full or the end of input; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize, object_size: u32) -> (Vec<u8>, Manifest) {
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 300) as u8).collect();
        let m = Manifest::from_reader(&data[..], "a file.bin", object_size).unwrap();
        (data, m)
    }

    #[test]
    fn round_trip_and_layout() {
        let (data, m) = sample(10_000, 4096);
        assert_eq!(m.object_count(), 3);
        assert_eq!(m.object_range(2), (8192, 10_000 - 8192));
        assert_eq!(m.file_sha256, <[u8; 32]>::from(Sha256::digest(&data)));
        assert_eq!(
            m.object_sha256[1],
            <[u8; 32]>::from(Sha256::digest(&data[4096..8192]))
        );
        let e = m.encode();
        assert_eq!(e.len(), m.encoded_len());
        assert_eq!(
            Manifest::encoded_len_from_prefix(&e[..HEADER_BYTES], &ManifestLimits::default()),
            Ok(e.len() as u64)
        );
        assert_eq!(
            Manifest::decode(&e, &ManifestLimits::default()),
            Ok(m.clone())
        );
        let id = m.id();
        assert_eq!(id, ManifestId::of(&e));
        assert_eq!(id.to_string().parse::<ManifestId>(), Ok(id));
        assert_eq!(id.to_string().to_uppercase().parse::<ManifestId>(), Ok(id));
        // Empty file; exact multiple of the object size.
        let (_, empty) = sample(0, 65536);
        assert_eq!(empty.object_count(), 0);
        let e = empty.encode();
        assert_eq!(Manifest::decode(&e, &ManifestLimits::default()), Ok(empty));
        let (_, exact) = sample(8192, 4096);
        assert_eq!(exact.object_count(), 2);
        assert_eq!(exact.object_range(1), (4096, 4096));
    }

    #[test]
    fn exact_header_bytes() {
        let m = Manifest {
            name: "x".into(),
            file_size: 70_000,
            object_size: 65_536,
            file_sha256: [0xAA; 32],
            object_sha256: vec![[1; 32], [2; 32]],
        };
        let e = m.encode();
        assert_eq!(&e[..6], b"NGFM\x01\x00");
        assert_eq!(&e[6..10], &[0, 1, 0, 0]);
        assert_eq!(&e[10..18], &70_000u64.to_be_bytes());
        assert_eq!(&e[18..26], &2u64.to_be_bytes());
        assert_eq!(&e[58..61], &[0, 1, b'x']);
        assert_eq!(e.len(), 61 + 64);
    }

    #[test]
    fn rejects_bad_input() {
        let lim = ManifestLimits::default();
        let (_, m) = sample(10_000, 4096);
        let e = m.encode();
        for cut in 0..e.len() {
            assert!(Manifest::decode(&e[..cut], &lim).is_err(), "cut at {cut}");
        }
        let mut longer = e.clone();
        longer.push(0);
        assert_eq!(
            Manifest::decode(&longer, &lim),
            Err(ManifestError::Invalid("trailing bytes"))
        );
        let patch = |at: usize, v: &[u8]| {
            let mut x = e.clone();
            x[at..at + v.len()].copy_from_slice(v);
            Manifest::decode(&x, &lim)
        };
        assert_eq!(patch(0, b"XGFM"), Err(ManifestError::BadMagic));
        assert!(matches!(
            patch(4, &[2]),
            Err(ManifestError::Unsupported { .. })
        ));
        assert!(matches!(
            patch(5, &[1]),
            Err(ManifestError::Unsupported { .. })
        ));
        assert!(patch(6, &[0, 0, 0, 0]).is_err());
        assert!(patch(6, &[0, 0x20, 0, 0]).is_err());
        assert!(patch(18, &4u64.to_be_bytes()).is_err());
        assert!(patch(58, &[0, 0]).is_err());
        assert!(patch(60, b"a/").is_err());
        assert!(patch(60, &[0xFF]).is_err());
        // A huge declared count is refused before anything is allocated.
        let mut huge = e[..HEADER_BYTES].to_vec();
        huge[10..18].copy_from_slice(&u64::MAX.to_be_bytes());
        huge[18..26].copy_from_slice(&object_count(u64::MAX, 4096).to_be_bytes());
        assert!(matches!(
            Manifest::decode(&huge, &lim),
            Err(ManifestError::TooLarge { .. })
        ));
        assert!(matches!(
            Manifest::encoded_len_from_prefix(&huge, &lim),
            Err(ManifestError::TooLarge { .. })
        ));
        assert_eq!("abc".parse::<ManifestId>(), Err(ManifestError::BadId));
        assert_eq!(
            "zz".repeat(32).parse::<ManifestId>(),
            Err(ManifestError::BadId)
        );
        assert_eq!(
            "é".repeat(32).parse::<ManifestId>(),
            Err(ManifestError::BadId)
        );
        assert_eq!(
            "+f".repeat(32).parse::<ManifestId>(),
            Err(ManifestError::BadId)
        );
    }

    #[test]
    fn names() {
        for ok in ["a", "file.tar.gz", "x y", "é"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", ".", "..", "a/b", "a\\b", "a\nb", &"x".repeat(256)] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert!(Manifest::from_reader(&b""[..], "..", 4096).is_err());
        assert!(Manifest::from_reader(&b""[..], "a", 0).is_err());
    }

    #[test]
    fn never_panics_on_garbage() {
        let lim = ManifestLimits { max_objects: 1000 };
        let (_, m) = sample(5000, 1024);
        let base = m.encode();
        let mut x: u64 = 0x9E37_79B9;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut b = base.clone();
            let n = (x % 4) as usize + 1;
            for k in 0..n {
                let at = ((x >> (8 * k)) as usize) % b.len();
                b[at] = (x >> (3 * k)) as u8;
            }
            b.truncate(((x >> 40) as usize) % (b.len() + 1));
            let _ = Manifest::decode(&b, &lim);
            let _ = Manifest::encoded_len_from_prefix(&b, &lim);
        }
    }
}
