//! The packet-building buffer, one per thread instead of one per endpoint.
//!
//! Every packet is assembled in a buffer of at most [`crate::wire::packet::MAX_SESSION_PACKET`]
//! bytes (a startup packet may grow it) and then sealed into its own datagram, so the buffer
//! holds nothing between two packets. Keeping it per thread rather than per [`crate::Endpoint`]
//! saves ≈ 1.2 KB per endpoint where a process drives many (the simulator's 100,000 members;
//! docs/performance-history.md, stop 20). It is memory only: no clock, randomness or I/O, and
//! nothing read from it outlives the call that filled it.

use std::cell::Cell;

thread_local! {
    static SCRATCH: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's scratch buffer (its contents are unspecified: writers clear it
/// first). A call nested inside `f` gets a fresh empty buffer.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Vec<u8>) -> R) -> R {
    let mut buf = SCRATCH.with(Cell::take);
    let r = f(&mut buf);
    SCRATCH.with(|c| c.set(buf));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffer_is_reused_and_nesting_gets_its_own() {
        with_scratch(|b| {
            b.clear();
            b.extend_from_slice(&[1; 100]);
        });
        let cap = with_scratch(|b| {
            assert_eq!(b.len(), 100, "the same buffer comes back");
            let inner = with_scratch(|n| {
                assert!(n.is_empty(), "a nested call gets its own buffer");
                n.push(2);
                n.len()
            });
            assert_eq!(inner, 1);
            b.capacity()
        });
        assert!(cap >= 100);
        // The outer buffer, put back last, is the one kept.
        with_scratch(|b| assert_eq!(b.len(), 100));
    }
}
