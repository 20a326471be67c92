//! Seeded randomness. Every random choice in a run comes from a ChaCha8 stream derived from the
//! run seed, a stream kind and an index, so streams are independent and a run is a pure function
//! of its seed (on one platform and build: the distributions use `f64` `ln` and `powf`).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

/// The simulator's random number generator.
pub type SimRng = ChaCha8Rng;

/// Stream kinds for [`derive()`].
pub mod stream {
    /// One stream per node incarnation: index `node << 32 | incarnation`.
    pub const NODE: u64 = 1;
    /// The network model (loss, jitter).
    pub const NET: u64 = 2;
    /// Churn (session lengths, arrivals, initial join times).
    pub const CHURN: u64 = 3;
    /// Topology generation (coordinates, graphs, access delays).
    pub const TOPOLOGY: u64 = 4;
    /// Assignment of NAT types and other per-node attributes.
    pub const ASSIGN: u64 = 5;
    /// Metrics (reservoir sampling).
    pub const METRICS: u64 = 6;
}

/// The stream `(seed, stream, index)`: distinct triples give independent streams.
pub fn derive(seed: u64, stream: u64, index: u64) -> SimRng {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&stream.to_le_bytes());
    key[16..24].copy_from_slice(&index.to_le_bytes());
    key[24..].copy_from_slice(b"rtmfpsim");
    ChaCha8Rng::from_seed(key)
}

/// A uniform draw in `[0, 1)` with 53 bits of precision.
pub fn unit(rng: &mut SimRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// A uniform integer in `[0, n)`; `0` when `n == 0`.
pub fn below(rng: &mut SimRng, n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

/// `true` with probability `p` (no draw when `p <= 0`).
pub fn chance(rng: &mut SimRng, p: f64) -> bool {
    p > 0.0 && unit(rng) < p
}

/// An exponential draw with mean `mean` (same unit as `mean`).
pub fn exponential(rng: &mut SimRng, mean: f64) -> f64 {
    -mean * (1.0 - unit(rng)).ln()
}

/// A Pareto draw with shape `shape` (> 0) and minimum `min` (same unit as `min`).
pub fn pareto(rng: &mut SimRng, shape: f64, min: f64) -> f64 {
    min / (1.0 - unit(rng)).powf(1.0 / shape)
}

/// 32 bytes for seeding something else (an endpoint's own RNG, a key generator).
pub fn seed32(rng: &mut SimRng) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = derive(1, stream::NODE, 0).next_u64();
        assert_eq!(a, derive(1, stream::NODE, 0).next_u64());
        assert_ne!(a, derive(1, stream::NODE, 1).next_u64());
        assert_ne!(a, derive(2, stream::NODE, 0).next_u64());
        assert_ne!(a, derive(1, stream::NET, 0).next_u64());
    }

    #[test]
    fn distributions_have_plausible_means() {
        let mut r = derive(7, stream::CHURN, 0);
        let n = 20_000;
        let m: f64 = (0..n).map(|_| exponential(&mut r, 10.0)).sum::<f64>() / n as f64;
        assert!((m - 10.0).abs() < 0.5, "{m}");
        let p: f64 = (0..n).map(|_| pareto(&mut r, 3.0, 2.0)).sum::<f64>() / n as f64;
        assert!((p - 3.0).abs() < 0.2, "{p}"); // mean = shape*min/(shape-1)
        assert!((0..1000).all(|_| below(&mut r, 5) < 5));
    }
}
