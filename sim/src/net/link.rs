//! A node's access link in one direction: a FIFO queue drained at a fixed capacity.

/// One direction of an access link. `bps == 0` means unlimited (no queueing, no drops).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Link {
    /// Capacity, bits per second (0 = unlimited).
    pub bps: u64,
    /// Most bytes waiting in the queue, the one being serialized included; a datagram that
    /// would exceed it is dropped (tail drop).
    pub queue_bytes: u64,
    /// When the link finishes serializing what is queued, nanoseconds.
    busy_until_ns: u64,
}

impl Link {
    /// A link of `bps` bits per second with a `queue_bytes` queue.
    pub fn new(bps: u64, queue_bytes: u64) -> Self {
        Link {
            bps,
            queue_bytes,
            busy_until_ns: 0,
        }
    }

    /// Enqueues a `bytes`-byte datagram at `now_us`; returns when its last bit leaves
    /// (microseconds, rounded up), or `None` if the queue is full.
    pub fn enqueue(&mut self, now_us: u64, bytes: u64) -> Option<u64> {
        if self.bps == 0 {
            return Some(now_us);
        }
        let now_ns = now_us.saturating_mul(1000);
        let start = self.busy_until_ns.max(now_ns);
        let backlog_ns = start - now_ns;
        let backlog_bytes = (backlog_ns as u128 * self.bps as u128 / 8_000_000_000) as u64;
        if backlog_bytes + bytes > self.queue_bytes.max(bytes) {
            return None;
        }
        let ser_ns = (bytes as u128 * 8_000_000_000).div_ceil(self.bps as u128) as u64;
        self.busy_until_ns = start + ser_ns;
        Some(self.busy_until_ns.div_ceil(1000))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_at_capacity_and_tail_drops() {
        // 1 Mbit/s: 1250 bytes take 10 ms.
        let mut l = Link::new(1_000_000, 5_000);
        assert_eq!(l.enqueue(0, 1250), Some(10_000));
        assert_eq!(l.enqueue(0, 1250), Some(20_000));
        assert_eq!(l.enqueue(0, 1250), Some(30_000));
        assert_eq!(l.enqueue(0, 1250), Some(40_000));
        assert_eq!(l.enqueue(0, 1250), None); // 5000 bytes already waiting
        assert_eq!(l.enqueue(10_000, 1250), Some(50_000));
        assert_eq!(l.enqueue(100_000, 1250), Some(110_000));
        let mut u = Link::new(0, 0);
        assert_eq!(u.enqueue(7, 1_000_000), Some(7));
    }
}
