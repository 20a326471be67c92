//! The run hash: a fast 64-bit digest of everything that happened in a run (every delivered
//! datagram with its time and addresses, every application event). Two runs with the same seed
//! must end with the same digest; `--check-determinism` compares them.
//!
//! Not cryptographic: it detects divergence, it does not resist forgery.

use std::net::SocketAddrV4;

const K: u64 = 0x9e37_79b9_7f4a_7c15;

/// A streaming 64-bit hash with a record counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunHash {
    state: u64,
    records: u64,
}

impl Default for RunHash {
    fn default() -> Self {
        Self::new()
    }
}

impl RunHash {
    /// An empty digest.
    pub fn new() -> Self {
        RunHash {
            state: 0x243f_6a88_85a3_08d3,
            records: 0,
        }
    }

    /// Mixes one 64-bit word.
    #[inline]
    pub fn u64(&mut self, v: u64) {
        self.state = (self.state.rotate_left(23) ^ v).wrapping_mul(K);
    }

    /// Mixes a byte string (length included, so concatenations differ).
    pub fn bytes(&mut self, b: &[u8]) {
        self.u64(b.len() as u64);
        let mut chunks = b.chunks_exact(8);
        for c in &mut chunks {
            self.u64(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.u64(u64::from_le_bytes(w));
        }
    }

    /// Mixes an IPv4 socket address.
    pub fn addr(&mut self, a: SocketAddrV4) {
        self.u64(((u32::from(*a.ip()) as u64) << 16) | a.port() as u64);
    }

    /// Starts a new record (a datagram, an event) of kind `tag`.
    pub fn record(&mut self, tag: u64) {
        self.records += 1;
        self.u64(tag ^ 0x5851_f42d_4c95_7f2d);
    }

    /// Records mixed so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The digest (with a final avalanche), as 64 bits.
    pub fn finish(&self) -> u64 {
        let mut z = self.state ^ self.records.wrapping_mul(K);
        z = (z ^ (z >> 33)).wrapping_mul(0xff51_afd7_ed55_8ccd);
        z = (z ^ (z >> 33)).wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        z ^ (z >> 33)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_content_matter() {
        let mut a = RunHash::new();
        a.bytes(b"hello");
        a.bytes(b"world");
        let mut b = RunHash::new();
        b.bytes(b"world");
        b.bytes(b"hello");
        let mut c = RunHash::new();
        c.bytes(b"helloworld");
        assert_ne!(a.finish(), b.finish());
        assert_ne!(a.finish(), c.finish());
        let mut d = RunHash::new();
        d.bytes(b"hello");
        d.bytes(b"world");
        assert_eq!(a.finish(), d.finish());
    }
}
