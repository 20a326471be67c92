//! Round-trip time estimation and retransmission timeouts (RFC 7016 §3.5.2.2 per zenomt,
//! docs/protocol/session.md, "Loss detection and timeouts"), plus the 16-bit packet timestamp
//! arithmetic of the packet header (RFC 7016 §2.2.4, docs/protocol/session.md, "Packet header and
//! timestamps").
//!
//! All arithmetic is integer microseconds, so results are exact and deterministic.

use std::time::Duration;

use crate::time::saturating_micros as micros;
use crate::Instant;

/// Initial effective retransmission timeout before any RTT sample: 3 s (docs/protocol/session.md,
/// "Loss detection and timeouts").
pub const INITIAL_ERTO: Duration = Duration::from_secs(3);
/// Lower bound of the effective retransmission timeout: 250 ms (docs/protocol/session.md, "Loss
/// detection and timeouts").
pub const MINIMUM_ERTO: Duration = Duration::from_millis(250);
/// Upper bound the ERTO backoff grows to on repeated timeouts: 10 s (docs/protocol/session.md,
/// "Loss detection and timeouts").
pub const MAX_ERTO: Duration = Duration::from_secs(10);
/// Delayed-ack allowance added to the measured RTO: 200 ms (docs/protocol/session.md,
/// "Acknowledgements", "Loss detection and timeouts").
pub const DELAYED_ACK_ALLOWANCE: Duration = Duration::from_millis(200);
/// MRTO before any RTT sample: 250 ms (zenomt `INITIAL_MRTO`, docs/protocol/session.md, "Loss
/// detection and timeouts").
pub const INITIAL_MRTO: Duration = Duration::from_millis(250);
/// One packet timestamp tick: 4 ms (RFC 7016 §2.2.4, docs/protocol/session.md, "Packet header and
/// timestamps").
pub const TIMESTAMP_TICK: Duration = Duration::from_millis(4);

const TICK_MICROS: u64 = TIMESTAMP_TICK.as_micros() as u64;
/// √2 as a fixed-point ratio, 1_414_214 / 1_000_000 (zenomt `ERTO_BACKOFF_FACTOR`).
const SQRT2_NUM: u128 = 1_414_214;
const SQRT2_DEN: u128 = 1_000_000;

/// `us` in the estimator's 32-bit fields, saturating (≈ 71 minutes: an RTT measured from a
/// timestamp echo is at most 131 s, and the timeouts stay within minutes of it).
fn stored(us: u64) -> u32 {
    u32::try_from(us).unwrap_or(u32::MAX)
}

/// Smoothed RTT estimator with the RFC 7016 retransmission timeouts (docs/protocol/session.md,
/// "Loss detection and timeouts").
///
/// * first sample: `SRTT = rtt`, `RTTVAR = rtt / 2`;
/// * later samples: `SRTT = 7/8 SRTT + 1/8 rtt`, `RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - rtt|`;
/// * `MRTO = SRTT + 4 RTTVAR + 200 ms`, `ERTO = max(MRTO, 250 ms)`, initially 3 s;
/// * on timeout `ERTO = max(min(ERTO * √2, 10 s), MRTO)`.
///
/// The four figures are kept in 32-bit microseconds (20 bytes in all, for thousands of sessions
/// per simulator process), saturating at ≈ 71 minutes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RttEstimator {
    /// Smoothed RTT, microseconds (0 until the first sample).
    srtt_us: u32,
    /// RTT variation, microseconds.
    rttvar_us: u32,
    /// Measured retransmission timeout, microseconds.
    mrto_us: u32,
    /// Effective retransmission timeout, microseconds.
    erto_us: u32,
    has_sample: bool,
}

impl Default for RttEstimator {
    fn default() -> Self {
        Self::new()
    }
}

impl RttEstimator {
    /// A fresh estimator: no samples, MRTO 250 ms, ERTO 3 s (docs/protocol/session.md, "Loss
    /// detection and timeouts").
    pub fn new() -> Self {
        RttEstimator {
            srtt_us: 0,
            rttvar_us: 0,
            mrto_us: stored(micros(INITIAL_MRTO)),
            erto_us: stored(micros(INITIAL_ERTO)),
            has_sample: false,
        }
    }

    /// Feeds one RTT measurement and recomputes SRTT, RTTVAR, MRTO and ERTO
    /// (docs/protocol/session.md, "Loss detection and timeouts", RFC 7016 §3.5.2.2).
    pub fn on_sample(&mut self, rtt: Duration) {
        let rtt = micros(rtt);
        let (srtt, rttvar) = (u64::from(self.srtt_us), u64::from(self.rttvar_us));
        let (srtt, rttvar) = if self.has_sample {
            let delta = srtt.abs_diff(rtt);
            // Both updates use the previous SRTT, as in zenomt.
            (
                ((7 * u128::from(srtt) + u128::from(rtt)) / 8) as u64,
                ((3 * u128::from(rttvar) + u128::from(delta)) / 4) as u64,
            )
        } else {
            self.has_sample = true;
            (rtt, rtt / 2)
        };
        self.srtt_us = stored(srtt);
        self.rttvar_us = stored(rttvar);
        let mrto = u64::from(self.srtt_us)
            .saturating_add(u64::from(self.rttvar_us).saturating_mul(4))
            .saturating_add(micros(DELAYED_ACK_ALLOWANCE));
        self.mrto_us = stored(mrto);
        self.erto_us = stored(mrto.max(micros(MINIMUM_ERTO)));
    }

    /// Backs the ERTO off after a retransmission timeout:
    /// `ERTO = max(min(ERTO * √2, 10 s), MRTO)` (docs/protocol/session.md, "Loss detection and
    /// timeouts").
    pub fn on_timeout(&mut self) {
        let grown = u128::from(self.erto_us) * SQRT2_NUM / SQRT2_DEN;
        let grown = u64::try_from(grown).unwrap_or(u64::MAX);
        self.erto_us = stored(grown.min(micros(MAX_ERTO)).max(u64::from(self.mrto_us)));
    }

    /// Whether at least one RTT sample has been taken.
    pub fn has_sample(&self) -> bool {
        self.has_sample
    }

    /// Smoothed round-trip time (zero before the first sample).
    pub fn srtt(&self) -> Duration {
        Duration::from_micros(u64::from(self.srtt_us))
    }

    #[cfg(test)]
    /// Round-trip time variation (zero before the first sample).
    pub fn rttvar(&self) -> Duration {
        Duration::from_micros(u64::from(self.rttvar_us))
    }

    #[cfg(test)]
    /// Measured retransmission timeout `SRTT + 4 RTTVAR + 200 ms` (250 ms before any sample).
    pub fn mrto(&self) -> Duration {
        Duration::from_micros(u64::from(self.mrto_us))
    }

    /// Effective retransmission timeout: `max(MRTO, 250 ms)` after a sample, 3 s initially,
    /// backed off by [`RttEstimator::on_timeout`].
    pub fn erto(&self) -> Duration {
        Duration::from_micros(u64::from(self.erto_us))
    }
}

/// The 16-bit packet timestamp for `now`: 4 ms ticks since `epoch`, modulo 65536
/// (RFC 7016 §2.2.4, docs/protocol/session.md, "Packet header and timestamps"). `now` before
/// `epoch` gives 0.
pub fn timestamp_ticks(now: Instant, epoch: Instant) -> u16 {
    let elapsed = now.as_micros().saturating_sub(epoch.as_micros());
    ((elapsed / TICK_MICROS) & 0xffff) as u16
}

/// RTT measured from a timestamp echo: `(now_ticks - echo) mod 2^16` ticks of 4 ms, valid only
/// when below 32768 ticks (docs/protocol/session.md, "Packet header and timestamps"). Returns
/// `None` for an implausible (negative) value.
pub fn rtt_from_echo(now_ticks: u16, echo: u16) -> Option<Duration> {
    let ticks = now_ticks.wrapping_sub(echo);
    (ticks < 32768).then(|| Duration::from_micros(u64::from(ticks) * TICK_MICROS))
}

#[cfg(test)]
mod tests {

    #[test]
    fn an_absurd_sample_saturates() {
        let mut r = RttEstimator::new();
        r.on_sample(Duration::from_secs(10_000_000));
        assert_eq!(r.srtt(), Duration::from_micros(u64::from(u32::MAX)));
        assert_eq!(r.erto(), Duration::from_micros(u64::from(u32::MAX)));
        r.on_timeout();
        assert!(r.erto() >= r.mrto());
        assert!(std::mem::size_of::<RttEstimator>() <= 20);
    }

    use super::*;

    fn ms(v: u64) -> Duration {
        Duration::from_millis(v)
    }

    #[test]
    fn initial_values() {
        let r = RttEstimator::new();
        assert!(!r.has_sample());
        assert_eq!(r.erto(), ms(3000));
        assert_eq!(r.mrto(), ms(250));
        assert_eq!(r.srtt(), Duration::ZERO);
    }

    #[test]
    fn first_sample_sets_srtt_and_half_rttvar() {
        let mut r = RttEstimator::new();
        r.on_sample(ms(100));
        assert!(r.has_sample());
        assert_eq!(r.srtt(), ms(100));
        assert_eq!(r.rttvar(), ms(50));
        // 100 + 4*50 + 200
        assert_eq!(r.mrto(), ms(500));
        assert_eq!(r.erto(), ms(500));
    }

    #[test]
    fn second_sample_smooths() {
        let mut r = RttEstimator::new();
        r.on_sample(ms(100));
        r.on_sample(ms(200));
        // RTTVAR = 3/4*50 + 1/4*|100-200| = 37.5 + 25 = 62.5 ms
        assert_eq!(r.rttvar(), Duration::from_micros(62_500));
        // SRTT = 7/8*100 + 1/8*200 = 112.5 ms
        assert_eq!(r.srtt(), Duration::from_micros(112_500));
        // MRTO = 112.5 + 250 + 200 = 562.5 ms
        assert_eq!(r.mrto(), Duration::from_micros(562_500));
        assert_eq!(r.erto(), Duration::from_micros(562_500));
    }

    #[test]
    fn erto_floor_is_250ms() {
        let mut r = RttEstimator::new();
        r.on_sample(ms(4));
        for _ in 0..50 {
            r.on_sample(ms(4));
        }
        // MRTO approaches 4 + 200 ms; ERTO is floored at 250 ms.
        assert!(r.mrto() < ms(250));
        assert_eq!(r.erto(), ms(250));
    }

    #[test]
    fn timeout_backoff() {
        let mut r = RttEstimator::new();
        r.on_sample(ms(100)); // ERTO 500 ms
        r.on_timeout();
        assert_eq!(r.erto(), Duration::from_micros(707_107)); // 500 ms * 1.414214
        for _ in 0..20 {
            r.on_timeout();
        }
        assert_eq!(r.erto(), ms(10_000));
        // Never below MRTO, even when MRTO exceeds the 10 s cap.
        let mut slow = RttEstimator::new();
        slow.on_sample(ms(8000)); // MRTO = 8000 + 16000 + 200
        slow.on_timeout();
        assert_eq!(slow.erto(), ms(24_200));
        // Initial 3 s backs off too.
        let mut fresh = RttEstimator::new();
        fresh.on_timeout();
        assert_eq!(fresh.erto(), Duration::from_micros(4_242_642));
    }

    #[test]
    fn timestamps_tick_every_4ms_and_wrap() {
        let epoch = Instant::from_micros(1_000_000);
        assert_eq!(timestamp_ticks(epoch, epoch), 0);
        assert_eq!(timestamp_ticks(epoch + ms(3), epoch), 0);
        assert_eq!(timestamp_ticks(epoch + ms(4), epoch), 1);
        assert_eq!(timestamp_ticks(epoch + ms(1000), epoch), 250);
        // 65536 ticks = 262.144 s wraps to 0.
        assert_eq!(timestamp_ticks(epoch + ms(262_144), epoch), 0);
        assert_eq!(timestamp_ticks(epoch + ms(262_148), epoch), 1);
        assert_eq!(timestamp_ticks(Instant::ZERO, epoch), 0);
    }

    #[test]
    fn rtt_from_echo_mod_2_16() {
        assert_eq!(rtt_from_echo(100, 75), Some(ms(100)));
        assert_eq!(rtt_from_echo(5, 65531), Some(ms(40))); // wrapped
        assert_eq!(rtt_from_echo(7, 7), Some(Duration::ZERO));
        assert_eq!(rtt_from_echo(32767, 0), Some(ms(131_068)));
        assert_eq!(rtt_from_echo(32768, 0), None);
        assert_eq!(rtt_from_echo(0, 1), None); // echo from the "future"
    }
}
