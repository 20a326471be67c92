//! Session congestion window: the algorithm of RFC 7016 Appendix A as zenomt implements it
//! ("with modifications"), summarised in docs/protocol/session.md, "Congestion control".
//!
//! A pure state machine: the session reports acknowledgements, losses, timeouts and
//! time-critical activity, passing `now` in; it asks [`CongestionController::can_send`] before
//! sending each data packet and limits bursts to [`CongestionController::BURST_PACKETS`].
//! All sizes are bytes of fragment payload as the session counts outstanding data.

use std::time::Duration;

use crate::time::PackedInstant;
use crate::Instant;

/// Default maximum segment size: user-data payload bytes per packet (docs/protocol/session.md,
/// "Packet size limits", "Congestion control": about 1200 bytes of packet minus headers).
pub const DEFAULT_MSS: usize = 1100;
/// How long sending (TC) or seeing a peer's TCR keeps the session in time-critical mode:
/// 800 ms (zenomt `TIMECRITICAL_TIMEOUT`, docs/protocol/session.md, "Congestion control", "Priority
/// and time-critical data").
pub const TIME_CRITICAL_TIMEOUT: Duration = Duration::from_millis(800);
/// Outstanding bytes above which a loss (outside time-critical mode) only cuts the window to
/// 7/8 instead of 1/2 (RFC 7016 Appendix A, docs/protocol/session.md, "Congestion control").
pub const LARGE_WINDOW_THRESHOLD: usize = 67_200;

/// Congestion-avoidance increment per `aithresh` acked bytes when fast growth is allowed
/// (docs/protocol/session.md, "Congestion control").
const AI_STEP: usize = 96;
/// Cap of `aithresh` when fast growth is allowed (docs/protocol/session.md, "Congestion control").
const AI_THRESH_CAP: usize = 9600;
/// Congestion-avoidance increment while sending time-critical data (docs/protocol/session.md,
/// "Congestion control").
const AI_STEP_TC: usize = 48;
/// Congestion-avoidance increment while only the peer's TCR is recent (docs/protocol/session.md,
/// "Congestion control").
const AI_STEP_TCR: usize = 24;
/// Cap of `aithresh` in time-critical mode (docs/protocol/session.md, "Congestion control").
const AI_THRESH_CAP_TC: usize = 4800;
/// Floor of `aithresh` (docs/protocol/session.md, "Congestion control").
const AI_THRESH_MIN: usize = 64;

/// What one received packet's acknowledgements did to the outstanding data (RFC 7016
/// Appendix A inputs; zenomt `Session::onPacketAfterChunks`). All fields are bytes except the
/// flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckSummary {
    /// Bytes newly acknowledged by this packet.
    pub acked_bytes: usize,
    /// Bytes declared lost (3 NAKs) while processing this packet.
    pub lost_bytes: usize,
    /// Bytes outstanding before this packet's acks were applied.
    pub outstanding_before: usize,
    /// A non-abandoned fragment was declared lost (a loss event).
    pub any_loss: bool,
    /// Some outstanding fragment gained a NAK (blocks window growth).
    pub any_naks: bool,
}

/// Congestion window and slow-start threshold per RFC 7016 Appendix A / docs/protocol/session.md,
/// "Congestion control".
///
/// * `cwnd` starts at 3 MSS and never drops below it on acks; a timeout with data outstanding
///   sets it to 2 MSS.
/// * `ssthresh` starts unlimited (`usize::MAX`).
/// * A loss keeps 7/8 of `min(cwnd, outstanding)` when time-critical data was sent in the last
///   800 ms, or when more than 67200 bytes were outstanding and fast growth is allowed;
///   otherwise 1/2. A recovery period of one window follows, during which the window neither
///   grows nor is cut again unless the losses exceed the cut's allowance.
/// * Growth happens only when the window was at least 63/64 used and the ack carried no NAKs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CongestionController {
    /// The window state in 32-bit fields (bytes; `ssthresh` `u32::MAX` = unlimited): a session
    /// keeps one, and a simulator process holds millions of sessions (memory only; see
    /// [`Window`] for the arithmetic, done at full width).
    packed: PackedWindow,
    tc_sent_at: PackedInstant,
    tcr_seen_at: PackedInstant,
}

/// [`Window`] stored in 28 bytes instead of 56.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PackedWindow {
    mss: u32,
    cwnd: u32,
    ssthresh: u32,
    acked_bytes_accumulator: u32,
    recovery_remaining: u32,
    recovery_loss_allowance: u32,
    recovery_lost: u32,
}

/// A byte count in 32 bits, saturating (windows past 4 GiB do not occur).
fn to_u32(x: usize) -> u32 {
    u32::try_from(x).unwrap_or(u32::MAX)
}

/// The window state at full width, as the rules of RFC 7016 Appendix A compute it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    mss: usize,
    cwnd: usize,
    ssthresh: usize,
    acked_bytes_accumulator: usize,
    /// Bytes still to drain (ack or loss) before the recovery period ends.
    recovery_remaining: usize,
    /// Bytes the last cut allowed to be lost during its recovery period.
    recovery_loss_allowance: usize,
    /// Bytes lost so far in the current recovery period.
    recovery_lost: usize,
}

impl PackedWindow {
    fn pack(w: Window) -> Self {
        PackedWindow {
            mss: to_u32(w.mss),
            cwnd: to_u32(w.cwnd),
            // Unlimited stays unlimited; a finite threshold saturates just below it.
            ssthresh: if w.ssthresh == usize::MAX {
                u32::MAX
            } else {
                to_u32(w.ssthresh).min(u32::MAX - 1)
            },
            acked_bytes_accumulator: to_u32(w.acked_bytes_accumulator),
            recovery_remaining: to_u32(w.recovery_remaining),
            recovery_loss_allowance: to_u32(w.recovery_loss_allowance),
            recovery_lost: to_u32(w.recovery_lost),
        }
    }

    fn unpack(self) -> Window {
        Window {
            mss: self.mss as usize,
            cwnd: self.cwnd as usize,
            ssthresh: if self.ssthresh == u32::MAX {
                usize::MAX
            } else {
                self.ssthresh as usize
            },
            acked_bytes_accumulator: self.acked_bytes_accumulator as usize,
            recovery_remaining: self.recovery_remaining as usize,
            recovery_loss_allowance: self.recovery_loss_allowance as usize,
            recovery_lost: self.recovery_lost as usize,
        }
    }
}

impl Default for CongestionController {
    fn default() -> Self {
        Self::new(DEFAULT_MSS)
    }
}

fn recent(at: PackedInstant, now: Instant) -> bool {
    at.get().is_some_and(|t| now <= t + TIME_CRITICAL_TIMEOUT)
}

impl CongestionController {
    /// Most data packets sent back to back before waiting for an ack or pacing
    /// (RFC 7016 §3.5.2.3 per zenomt `MAX_DATA_PACKET_BURST`, docs/protocol/session.md, "Congestion
    /// control").
    pub const BURST_PACKETS: usize = 6;

    /// A controller for segments of `mss` bytes (at least 1, at most `u32::MAX`): `cwnd = 3
    /// MSS`, `ssthresh` unlimited (RFC 7016 Appendix A).
    pub fn new(mss: usize) -> Self {
        let mss = mss.clamp(1, u32::MAX as usize / 8);
        CongestionController {
            packed: PackedWindow::pack(Window {
                mss,
                cwnd: 3 * mss,
                ssthresh: usize::MAX,
                acked_bytes_accumulator: 0,
                recovery_remaining: 0,
                recovery_loss_allowance: 0,
                recovery_lost: 0,
            }),
            tc_sent_at: PackedInstant::NONE,
            tcr_seen_at: PackedInstant::NONE,
        }
    }

    fn w(&self) -> Window {
        self.packed.unpack()
    }

    /// Maximum segment size in bytes.
    pub fn mss(&self) -> usize {
        self.packed.mss as usize
    }

    /// Current congestion window in bytes.
    pub fn cwnd(&self) -> usize {
        self.packed.cwnd as usize
    }

    #[cfg(test)]
    /// Current slow-start threshold in bytes (`usize::MAX` = unlimited).
    pub fn ssthresh(&self) -> usize {
        self.w().ssthresh
    }

    #[cfg(test)]
    /// Whether a loss recovery period (one window after a cut) is in progress.
    pub fn in_recovery(&self) -> bool {
        self.packed.recovery_remaining > 0
    }

    #[cfg(test)]
    /// Most bytes sent back to back: [`Self::BURST_PACKETS`] MSS (docs/protocol/session.md,
    /// "Congestion control").
    pub fn burst_bytes(&self) -> usize {
        Self::BURST_PACKETS.saturating_mul(self.mss())
    }

    /// May a packet carrying `len` more bytes be sent with `outstanding` bytes in flight?
    ///
    /// As zenomt `isSendAllowed` (RFC 7016 §3.5.2.3): sending is allowed while `outstanding` is
    /// below `cwnd`, so the last packet may overshoot by up to one MSS; a packet larger than one
    /// MSS must fit entirely.
    pub fn can_send(&self, outstanding: usize, len: usize) -> bool {
        let (cwnd, mss) = (self.cwnd(), self.mss());
        outstanding < cwnd && (len <= mss || outstanding.saturating_add(len) <= cwnd)
    }

    #[cfg(test)]
    /// Spacing between paced packets once the burst limit is reached: `SRTT * MSS / cwnd`
    /// (docs/protocol/session.md, "Congestion control").
    pub fn pacing_interval(&self, srtt: Duration) -> Duration {
        let us = srtt.as_micros().saturating_mul(self.mss() as u128) / (self.cwnd().max(1) as u128);
        Duration::from_micros(u64::try_from(us).unwrap_or(u64::MAX))
    }

    /// Records that this session sent a packet with the TC (time critical) flag at `now`
    /// (docs/protocol/session.md, "Priority and time-critical data"): for 800 ms, losses cut only
    /// 1/8 and growth is damped.
    pub fn on_time_critical_sent(&mut self, now: Instant) {
        self.tc_sent_at = now.into();
    }

    /// Records that the peer set TCR (time critical reverse) at `now` (docs/protocol/session.md,
    /// "Priority and time-critical data"): for 800 ms, fast growth is not allowed.
    pub fn on_time_critical_reverse(&mut self, now: Instant) {
        self.tcr_seen_at = now.into();
    }

    /// Whether time-critical data was sent within the last 800 ms.
    pub fn time_critical_sent_recently(&self, now: Instant) -> bool {
        recent(self.tc_sent_at, now)
    }

    /// Whether "fast grow" is allowed: no TC sent and no TCR seen in the last 800 ms
    /// (RFC 7016 Appendix A, docs/protocol/session.md, "Congestion control").
    pub fn fast_grow_allowed(&self, now: Instant) -> bool {
        !recent(self.tc_sent_at, now) && !recent(self.tcr_seen_at, now)
    }

    /// Updates the window after processing one received packet that carried acknowledgements
    /// (RFC 7016 Appendix A, docs/protocol/session.md, "Congestion control"). Call once per packet,
    /// after loss detection.
    pub fn on_ack(&mut self, now: Instant, ack: &AckSummary) {
        let fast_grow = self.fast_grow_allowed(now);
        let tc_sent = self.time_critical_sent_recently(now);
        let mut w = self.w();
        w.on_ack(ack, fast_grow, tc_sent);
        self.packed = PackedWindow::pack(w);
    }

    #[cfg(test)]
    /// Convenience for a loss event with nothing acked: equivalent to [`Self::on_ack`] with
    /// `any_loss` set and `outstanding_before` bytes in flight (RFC 7016 Appendix A).
    pub fn on_loss(&mut self, now: Instant, outstanding_before: usize) {
        self.on_ack(
            now,
            &AckSummary {
                outstanding_before,
                any_loss: true,
                any_naks: true,
                ..AckSummary::default()
            },
        );
    }

    /// Retransmission timeout (docs/protocol/session.md, "Loss detection and timeouts", "Congestion
    /// control", RFC 7016 Appendix A.2): `ssthresh = max(ssthresh, 3/4 cwnd)`; `cwnd` becomes 2 MSS
    /// if data was outstanding (all of it is now considered lost), else back to the initial 3 MSS.
    pub fn on_timeout(&mut self, _now: Instant, data_outstanding: bool) {
        let mut w = self.w();
        w.on_timeout(data_outstanding);
        self.packed = PackedWindow::pack(w);
    }
}

#[cfg(test)]
impl CongestionController {
    fn set_cwnd(&mut self, cwnd: usize) {
        let mut w = self.w();
        w.cwnd = cwnd;
        self.packed = PackedWindow::pack(w);
    }

    fn set_ssthresh(&mut self, ssthresh: usize) {
        let mut w = self.w();
        w.ssthresh = ssthresh;
        self.packed = PackedWindow::pack(w);
    }
}

impl Window {
    fn cwnd_init(&self) -> usize {
        3 * self.mss
    }

    fn cwnd_timed_out(&self) -> usize {
        2 * self.mss
    }

    /// The rules of [`CongestionController::on_ack`].
    fn on_ack(&mut self, ack: &AckSummary, fast_grow: bool, tc_sent: bool) {
        if self.recovery_remaining > 0 {
            let drained = ack.acked_bytes.saturating_add(ack.lost_bytes);
            if ack.any_loss {
                self.recovery_lost = self.recovery_lost.saturating_add(ack.lost_bytes);
                if self.recovery_lost > self.recovery_loss_allowance {
                    // Losing more than the cut allowed: cut again, new recovery period.
                    self.cut(ack, fast_grow, tc_sent);
                    return;
                }
            }
            if self.recovery_remaining > drained {
                self.recovery_remaining -= drained;
                return;
            }
            self.recovery_remaining = 0;
            if ack.any_loss {
                // This loss was within the allowance of the period that just ended.
                return;
            }
        }

        if ack.any_loss {
            self.cut(ack, fast_grow, tc_sent);
            return;
        }

        let pre = ack.outstanding_before;
        let window_full = (pre as u128) * 64 > (self.cwnd as u128) * 63;
        if !ack.any_naks && window_full {
            let increase = if fast_grow {
                if self.cwnd < self.ssthresh {
                    self.acked_bytes_accumulator = 0;
                    ack.acked_bytes
                } else {
                    self.additive_increase(ack.acked_bytes, AI_THRESH_CAP, AI_STEP)
                }
            } else if tc_sent && self.cwnd < self.ssthresh {
                self.acked_bytes_accumulator = 0;
                ack.acked_bytes.div_ceil(4)
            } else {
                let step = if tc_sent { AI_STEP_TC } else { AI_STEP_TCR };
                self.additive_increase(ack.acked_bytes, AI_THRESH_CAP_TC, step)
            };
            self.cwnd = self
                .cwnd
                .saturating_add(increase.min(self.mss))
                .max(self.cwnd_init());
        } else if !ack.any_naks && self.cwnd > pre.saturating_add(6 * self.mss) {
            // Idle decay: the window is unused by more than 6 MSS.
            self.cwnd -= 1;
        }
    }

    /// The rules of [`CongestionController::on_timeout`].
    fn on_timeout(&mut self, data_outstanding: bool) {
        let three_quarters = usize::try_from(self.cwnd as u128 * 3 / 4).unwrap_or(usize::MAX);
        self.ssthresh = self.ssthresh.max(three_quarters);
        self.acked_bytes_accumulator = 0;
        self.recovery_remaining = 0;
        self.recovery_lost = 0;
        self.recovery_loss_allowance = 0;
        self.cwnd = if data_outstanding {
            self.cwnd_timed_out()
        } else {
            self.cwnd_init()
        };
    }

    fn additive_increase(&mut self, acked: usize, cap: usize, step: usize) -> usize {
        let aithresh = (self.cwnd / 16).clamp(AI_THRESH_MIN, cap);
        self.acked_bytes_accumulator = self.acked_bytes_accumulator.saturating_add(acked);
        let steps = self.acked_bytes_accumulator / aithresh;
        self.acked_bytes_accumulator %= aithresh;
        steps.saturating_mul(step)
    }

    fn cut(&mut self, ack: &AckSummary, fast_grow: bool, tc_sent: bool) {
        let pre = self.cwnd.min(ack.outstanding_before);
        let gentle = tc_sent || (ack.outstanding_before > LARGE_WINDOW_THRESHOLD && fast_grow);
        let allowance = if gentle { pre / 8 } else { pre - pre / 2 };
        self.ssthresh = (pre - allowance).max(self.cwnd_init());
        self.cwnd = self.ssthresh;
        self.acked_bytes_accumulator = 0;
        let after = ack
            .outstanding_before
            .saturating_sub(ack.acked_bytes)
            .saturating_sub(ack.lost_bytes);
        self.recovery_remaining = after;
        self.recovery_loss_allowance = allowance;
        self.recovery_lost = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSS: usize = 1000;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(10_000_000 + ms * 1000)
    }

    fn full_ack(cc: &CongestionController, acked: usize) -> AckSummary {
        AckSummary {
            acked_bytes: acked,
            outstanding_before: cc.cwnd(),
            ..AckSummary::default()
        }
    }

    /// The packed window reads back as computed, unlimited `ssthresh` included; byte counts
    /// past 4 GiB saturate, and a finite threshold never turns into "unlimited".
    #[test]
    fn packed_window_round_trips_and_saturates() {
        let w = Window {
            mss: 1200,
            cwnd: 3_000_000,
            ssthresh: usize::MAX,
            acked_bytes_accumulator: 5,
            recovery_remaining: 6,
            recovery_loss_allowance: 7,
            recovery_lost: 8,
        };
        assert_eq!(PackedWindow::pack(w).unpack(), w);
        let huge = Window {
            cwnd: usize::MAX - 1,
            ssthresh: usize::MAX - 1,
            ..w
        };
        let back = PackedWindow::pack(huge).unpack();
        assert_eq!(back.cwnd, u32::MAX as usize);
        assert_eq!(back.ssthresh, (u32::MAX - 1) as usize);
        assert_eq!(std::mem::size_of::<CongestionController>(), 48);
    }

    #[test]
    fn initial_window() {
        let cc = CongestionController::new(MSS);
        assert_eq!(cc.cwnd(), 3000);
        assert_eq!(cc.ssthresh(), usize::MAX);
        assert_eq!(CongestionController::default().cwnd(), 3 * DEFAULT_MSS);
        assert!(cc.can_send(0, 1000));
        assert!(cc.can_send(2999, 1000)); // may overshoot by one MSS
        assert!(!cc.can_send(3000, 1));
        assert!(!cc.can_send(1500, 2000)); // jumbo must fit
        assert_eq!(cc.burst_bytes(), 6000);
    }

    #[test]
    fn slow_start_grows_by_acked_bytes_capped_at_mss() {
        let mut cc = CongestionController::new(MSS);
        let a = full_ack(&cc, 800);
        cc.on_ack(t(0), &a);
        assert_eq!(cc.cwnd(), 3800);
        let a = full_ack(&cc, 3000); // step capped at 1 MSS
        cc.on_ack(t(1), &a);
        assert_eq!(cc.cwnd(), 4800);
    }

    #[test]
    fn no_growth_when_window_not_used_or_naks() {
        let mut cc = CongestionController::new(MSS);
        // 2000 of 3000 bytes in flight: below 63/64.
        cc.on_ack(
            t(0),
            &AckSummary {
                acked_bytes: 1000,
                outstanding_before: 2000,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 3000);
        // 63/64 of 3000 is 2953.125: 2953 bytes in flight is not "full", 2954 is.
        cc.on_ack(
            t(0),
            &AckSummary {
                acked_bytes: 100,
                outstanding_before: 2953,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 3000);
        cc.on_ack(
            t(0),
            &AckSummary {
                acked_bytes: 100,
                outstanding_before: 2954,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 3100);
        // Full window but NAKs seen: no growth.
        let mut a = full_ack(&cc, 500);
        a.any_naks = true;
        cc.on_ack(t(0), &a);
        assert_eq!(cc.cwnd(), 3100);
    }

    #[test]
    fn congestion_avoidance_96_per_aithresh() {
        let mut cc = CongestionController::new(MSS);
        // Loss at 32000 outstanding (not > 67200): halve to 16000.
        cc.set_cwnd(32_000);
        cc.on_loss(t(0), 32_000);
        assert_eq!(cc.cwnd(), 16_000);
        assert_eq!(cc.ssthresh(), 16_000);
        // Drain the recovery period (outstanding after = 32000).
        cc.on_ack(
            t(1),
            &AckSummary {
                acked_bytes: 32_000,
                outstanding_before: 32_000,
                ..Default::default()
            },
        );
        assert!(!cc.in_recovery());
        // The ack that ends recovery is then processed normally (zenomt): cwnd == ssthresh is
        // congestion avoidance, aithresh = 16000/16 = 1000, 32 steps of 96, capped at 1 MSS.
        assert_eq!(cc.cwnd(), 17_000);
        // aithresh = 17000/16 = 1062: 2500 acked -> 2 steps (+192), 376 carried over.
        let a = full_ack(&cc, 2500);
        cc.on_ack(t(2), &a);
        assert_eq!(cc.cwnd(), 17_192);
        // aithresh = 1074: 376 + 600 = 976 -> no step yet; + 100 -> one step.
        let a = full_ack(&cc, 600);
        cc.on_ack(t(3), &a);
        assert_eq!(cc.cwnd(), 17_192);
        let a = full_ack(&cc, 100);
        cc.on_ack(t(4), &a);
        assert_eq!(cc.cwnd(), 17_288);
    }

    #[test]
    fn aithresh_is_clamped_and_step_capped() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(400_000); // cwnd/16 = 25000 -> clamped to 9600
        cc.set_ssthresh(100_000);
        let a = full_ack(&cc, 9599);
        cc.on_ack(t(0), &a);
        assert_eq!(cc.cwnd(), 400_000);
        let a = full_ack(&cc, 1);
        cc.on_ack(t(0), &a);
        assert_eq!(cc.cwnd(), 400_096);
        // Huge ack: many steps but capped at one MSS.
        let a = full_ack(&cc, 9600 * 100);
        cc.on_ack(t(0), &a);
        assert_eq!(cc.cwnd(), 401_096);
    }

    #[test]
    fn loss_halves_small_windows() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(20_000);
        cc.on_loss(t(0), 20_000);
        assert_eq!(cc.cwnd(), 10_000);
        assert_eq!(cc.ssthresh(), 10_000);
        // pre = min(cwnd, outstanding)
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(20_000);
        cc.on_loss(t(0), 8_000);
        assert_eq!(cc.cwnd(), 4_000);
        // never below CWND_INIT
        let mut cc = CongestionController::new(MSS);
        cc.on_loss(t(0), 3_000);
        assert_eq!(cc.cwnd(), 3_000);
    }

    #[test]
    fn loss_keeps_7_8_for_large_windows_or_time_critical() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(80_000);
        cc.on_loss(t(0), 80_000); // > 67200 and fast grow allowed
        assert_eq!(cc.cwnd(), 70_000);

        // Large window but the peer's TCR is recent: fast grow not allowed -> halve.
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(80_000);
        cc.on_time_critical_reverse(t(0));
        cc.on_loss(t(500), 80_000);
        assert_eq!(cc.cwnd(), 40_000);

        // Small window, but we sent TC data within 800 ms -> 7/8.
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(16_000);
        cc.on_time_critical_sent(t(0));
        cc.on_loss(t(800), 16_000);
        assert_eq!(cc.cwnd(), 14_000);

        // TC sent more than 800 ms ago: halve.
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(16_000);
        cc.on_time_critical_sent(t(0));
        cc.on_loss(t(801), 16_000);
        assert_eq!(cc.cwnd(), 8_000);
    }

    #[test]
    fn recovery_period_suppresses_repeat_cuts_within_allowance() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(40_000);
        // Loss of 1000 bytes with 40000 outstanding: halve to 20000, allowance 20000,
        // recovery lasts the 39000 still outstanding.
        cc.on_ack(
            t(0),
            &AckSummary {
                lost_bytes: 1000,
                outstanding_before: 40_000,
                any_loss: true,
                any_naks: true,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 20_000);
        assert!(cc.in_recovery());
        // Further losses inside the allowance: no new cut, no growth.
        cc.on_ack(
            t(1),
            &AckSummary {
                acked_bytes: 5000,
                lost_bytes: 5000,
                outstanding_before: 39_000,
                any_loss: true,
                any_naks: true,
            },
        );
        assert_eq!(cc.cwnd(), 20_000);
        cc.on_ack(
            t(2),
            &AckSummary {
                acked_bytes: 10_000,
                outstanding_before: 29_000,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 20_000);
        // Losses beyond the allowance (5000 + 16000 > 20000): cut again from min(cwnd, 19000).
        cc.on_ack(
            t(3),
            &AckSummary {
                lost_bytes: 16_000,
                outstanding_before: 19_000,
                any_loss: true,
                any_naks: true,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 9_500);
    }

    #[test]
    fn timeout_collapses_to_two_mss() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(40_000);
        cc.on_timeout(t(0), true);
        assert_eq!(cc.cwnd(), 2_000);
        // ssthresh = max(unlimited, ...) stays unlimited.
        assert_eq!(cc.ssthresh(), usize::MAX);
        // With a finite ssthresh it becomes at least 3/4 cwnd.
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(40_000);
        cc.set_ssthresh(10_000);
        cc.on_timeout(t(0), true);
        assert_eq!(cc.ssthresh(), 30_000);
        // Nothing outstanding: back to the initial window.
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(40_000);
        cc.on_timeout(t(0), false);
        assert_eq!(cc.cwnd(), 3_000);
        // After a timeout, an ack grows back to at least CWND_INIT.
        let mut cc = CongestionController::new(MSS);
        cc.on_timeout(t(0), true);
        let a = full_ack(&cc, 100);
        cc.on_ack(t(1), &a);
        assert_eq!(cc.cwnd(), 3_000);
    }

    #[test]
    fn time_critical_damps_slow_start() {
        let mut cc = CongestionController::new(MSS);
        cc.on_time_critical_sent(t(0));
        let a = full_ack(&cc, 1000);
        cc.on_ack(t(100), &a);
        assert_eq!(cc.cwnd(), 3250); // acked/4
        let a = full_ack(&cc, 1001);
        cc.on_ack(t(200), &a);
        assert_eq!(cc.cwnd(), 3501); // ceil(1001/4)
                                     // After 800 ms without TC, fast growth resumes.
        let a = full_ack(&cc, 1000);
        cc.on_ack(t(1001), &a);
        assert_eq!(cc.cwnd(), 4501);
    }

    #[test]
    fn tcr_only_blocks_fast_grow_in_slow_start() {
        // TCR recent, no TC sent: slow start is not fast: congestion avoidance with +24.
        let mut cc = CongestionController::new(MSS);
        cc.on_time_critical_reverse(t(0));
        // cwnd 3000 -> aithresh = max(187, 64) = 187; 1000 acked -> 5 steps * 24 = 120.
        let a = full_ack(&cc, 1000);
        cc.on_ack(t(10), &a);
        assert_eq!(cc.cwnd(), 3120);
    }

    #[test]
    fn tc_congestion_avoidance_uses_48_and_cap_4800() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(200_000); // cwnd/16 = 12500 -> clamp 4800
        cc.set_ssthresh(100_000);
        cc.on_time_critical_sent(t(0));
        let a = full_ack(&cc, 9600);
        cc.on_ack(t(1), &a);
        assert_eq!(cc.cwnd(), 200_096); // 2 steps * 48
    }

    #[test]
    fn idle_decay_shrinks_unused_window() {
        let mut cc = CongestionController::new(MSS);
        cc.set_cwnd(20_000);
        cc.on_ack(
            t(0),
            &AckSummary {
                acked_bytes: 1000,
                outstanding_before: 13_999,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 19_999);
        cc.on_ack(
            t(0),
            &AckSummary {
                acked_bytes: 1000,
                outstanding_before: 13_999,
                ..Default::default()
            },
        );
        assert_eq!(cc.cwnd(), 19_999); // exactly 6 MSS unused: no decay
    }

    #[test]
    fn pacing_interval() {
        let cc = CongestionController::new(MSS);
        // 300 ms * 1000 / 3000
        assert_eq!(
            cc.pacing_interval(Duration::from_millis(300)),
            Duration::from_millis(100)
        );
    }
}
