//! Where a shared file's objects live in the group's object index space (docs/protocol/netgroup.md,
//! "Object replication" indices, `docs/file-sharing.md`).
//!
//! Each manifest ID owns a window of 2^32 indices, chosen by the ID, so one group can carry
//! several files (two IDs share a window with probability 2^-21). In the window:
//!
//! ```text
//! base = (first 8 bytes of the ID, big-endian, mod WINDOWS) * 2^32
//! base + k              manifest chunk k: bytes [k * 65536, (k + 1) * 65536) of the encoded
//!                       manifest (k < 2^20)
//! base + 2^20 + j       file object j (j < 2^32 - 2^20)
//! ```
//!
//! A fetcher knows the ID only: it fetches chunk 0 (which holds the manifest header, hence
//! its length), then the other chunks, checks the SHA-256 of the whole against the ID, and
//! then fetches the file objects.

use rtmfp_netgroup::MAX_OBJECT_INDEX;

use super::manifest::ManifestId;

/// Bytes of each manifest chunk (the last one shorter).
pub const MANIFEST_CHUNK: usize = 64 * 1024;
/// Indices per manifest ID.
pub const WINDOW: u64 = 1 << 32;
/// Windows in the Flash index space (every index of a window at most
/// [`MAX_OBJECT_INDEX`]).
pub const WINDOWS: u64 = (MAX_OBJECT_INDEX + 1) / WINDOW;
/// Offset of file object 0 in a window: room for 2^20 manifest chunks.
pub const FILE_OFFSET: u64 = 1 << 20;

/// What an index of a window holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// Manifest chunk `k`.
    Manifest(u64),
    /// File object `j`.
    Object(u64),
}

/// The index window of one manifest ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// First index of the window.
    pub base: u64,
}

impl Layout {
    /// The window of `id`.
    pub fn of(id: &ManifestId) -> Layout {
        let mut a = [0u8; 8];
        a.copy_from_slice(&id.0[..8]);
        Layout {
            base: (u64::from_be_bytes(a) % WINDOWS) * WINDOW,
        }
    }

    /// Index of manifest chunk `k` (`k` < [`FILE_OFFSET`]).
    pub fn manifest_index(&self, k: u64) -> u64 {
        self.base + k
    }

    /// Index of file object `j` (`j` < `WINDOW - FILE_OFFSET`).
    pub fn object_index(&self, j: u64) -> u64 {
        self.base + FILE_OFFSET + j
    }

    /// What `index` is in this window, if anything.
    pub fn slot(&self, index: u64) -> Option<Slot> {
        let off = index.checked_sub(self.base)?;
        if off >= WINDOW {
            None
        } else if off < FILE_OFFSET {
            Some(Slot::Manifest(off))
        } else {
            Some(Slot::Object(off - FILE_OFFSET))
        }
    }
}

/// Manifest chunks of an encoded manifest of `len` bytes (at least 1).
pub fn manifest_chunks(len: u64) -> u64 {
    len.div_ceil(MANIFEST_CHUNK as u64).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_stay_in_the_flash_range() {
        assert_eq!(WINDOWS, (1 << 21) - 1);
        let top = Layout {
            base: (WINDOWS - 1) * WINDOW,
        };
        assert!(top.base + WINDOW - 1 <= MAX_OBJECT_INDEX);
        let l = Layout::of(&ManifestId([0xFF; 32]));
        assert!(l.base + WINDOW - 1 <= MAX_OBJECT_INDEX);
        assert_eq!(l.base % WINDOW, 0);
        assert_eq!(Layout::of(&ManifestId([0; 32])).base, 0);
    }

    #[test]
    fn slots() {
        let l = Layout { base: 5 * WINDOW };
        assert_eq!(l.slot(l.manifest_index(0)), Some(Slot::Manifest(0)));
        assert_eq!(l.slot(l.manifest_index(7)), Some(Slot::Manifest(7)));
        assert_eq!(l.slot(l.object_index(0)), Some(Slot::Object(0)));
        assert_eq!(l.slot(l.object_index(300)), Some(Slot::Object(300)));
        assert_eq!(l.slot(l.base - 1), None);
        assert_eq!(l.slot(l.base + WINDOW), None);
        assert_eq!(manifest_chunks(0), 1);
        assert_eq!(manifest_chunks(65_536), 1);
        assert_eq!(manifest_chunks(65_537), 2);
    }
}
