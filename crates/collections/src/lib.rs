//! Small containers the sans-IO protocol crates share (`rtmfp`, `rtmfp-flash`,
//! `rtmfp-netgroup`). They are generic, deterministic (no per-process random state, so that a
//! simulator run repeats exactly) and sized for memory: a node keeps thousands of small maps
//! and queues, and a simulator process holds up to 100,000 nodes (docs/PERFORMANCE.md).
//!
//! - [`SortedMap`]: an ordered map kept as one sorted vector of exact capacity;
//! - [`IdHashMap`] / [`IdHasher`]: a hash map for small integer keys with a fixed hasher;
//! - [`pop_front_lean`]: pops from a `VecDeque` and gives its storage back once drained.
#![warn(missing_docs)]

mod id_hash;
mod queue;
mod sorted_map;

pub use id_hash::{IdHashMap, IdHasher};
pub use queue::pop_front_lean;
pub use sorted_map::SortedMap;
