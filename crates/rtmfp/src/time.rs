//! Protocol time. The sans-IO core never reads a clock: every entry point takes `now: Instant`.

use std::ops::{Add, Sub};
use std::time::Duration;

/// A point in time: microseconds since an arbitrary epoch chosen by the driver.
///
/// The tokio driver counts from its start; the simulator starts at 0. Only differences matter.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(pub u64);

impl Instant {
    /// The epoch itself.
    pub const ZERO: Instant = Instant(0);

    /// An instant `micros` microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Instant(micros)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time elapsed from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

/// `d` in whole microseconds (the resolution of [`Instant`]), saturating at `u64::MAX`
/// (≈ 584,000 years).
pub fn saturating_micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}

impl Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(saturating_micros(d)))
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(saturating_micros(d)))
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

/// An `Option<Instant>` in 8 bytes instead of 16, for fields of structures kept by the thousand
/// (a simulator process holds millions of sessions and flows).
///
/// `u64::MAX` microseconds stands for "none"; `Some` of that instant (which only saturating
/// arithmetic reaches, ≈ 584,000 years after the epoch) is stored 1 µs earlier, so it stays a
/// time.
#[derive(Copy, Clone, PartialEq, Eq)]
pub struct PackedInstant(u64);

impl PackedInstant {
    /// No instant.
    pub const NONE: PackedInstant = PackedInstant(u64::MAX);

    /// Packs `t`.
    pub const fn new(t: Option<Instant>) -> Self {
        match t {
            Some(Instant(m)) if m == u64::MAX => PackedInstant(u64::MAX - 1),
            Some(Instant(m)) => PackedInstant(m),
            None => Self::NONE,
        }
    }

    /// The instant, if any.
    pub const fn get(self) -> Option<Instant> {
        if self.0 == u64::MAX {
            None
        } else {
            Some(Instant(self.0))
        }
    }

    /// Whether there is no instant.
    pub const fn is_none(self) -> bool {
        self.0 == u64::MAX
    }
}

impl Default for PackedInstant {
    fn default() -> Self {
        Self::NONE
    }
}

impl From<Option<Instant>> for PackedInstant {
    fn from(t: Option<Instant>) -> Self {
        Self::new(t)
    }
}

impl From<Instant> for PackedInstant {
    fn from(t: Instant) -> Self {
        Self::new(Some(t))
    }
}

impl std::fmt::Debug for PackedInstant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.get().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_packed_instant_round_trips() {
        for t in [None, Some(Instant::ZERO), Some(Instant(12_345))] {
            assert_eq!(PackedInstant::new(t).get(), t);
        }
        let end = PackedInstant::new(Some(Instant(u64::MAX)));
        assert_eq!(end.get(), Some(Instant(u64::MAX - 1)));
        assert!(PackedInstant::NONE.is_none());
        assert!(!PackedInstant::from(Instant(7)).is_none());
        assert_eq!(PackedInstant::default(), PackedInstant::NONE);
        assert_eq!(std::mem::size_of::<PackedInstant>(), 8);
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_micros(1_000);
        assert_eq!((t + Duration::from_millis(2)).as_micros(), 3_000);
        assert_eq!((t - Duration::from_secs(1)).as_micros(), 0);
        assert_eq!(Instant::ZERO - t, Duration::ZERO);
        assert_eq!(t - Instant::ZERO, Duration::from_millis(1));
    }
}
