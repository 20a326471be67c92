//! An open session (RFC 7016 §3.5): flows, timestamps and RTT, keepalive, congestion control,
//! close, and far address change. Created by the endpoint when a handshake completes.

pub(crate) mod receive;
pub(crate) mod transmit;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use crate::congestion::CongestionController;
use crate::crypto::NONCE_LEN;
use crate::flow::recv::RecvFlow;
use crate::flow::send::{SendError, SendFlow};
use crate::flow::Priority;
use crate::rtt::RttEstimator;
use crate::time::PackedInstant;
use crate::types::{CloseReason, Config, Event, SessionId};
pub use crate::types::{Role, SessionStats};
use crate::wire::PeerAddress;
use crate::Instant;
use rtmfp_collections::SortedMap;

/// How long to keep answering Close Requests after the far end closed (docs/protocol/session.md,
/// "Keepalive, close and mobility": 19 s).
const FAR_CLOSE_LINGER: Duration = Duration::from_secs(19);
/// Close Request retransmission interval and limit (docs/protocol/session.md, "Keepalive, close and
/// mobility": every 5 s for 90 s).
const CLOSE_REQUEST_INTERVAL: Duration = Duration::from_secs(5);
const NEAR_CLOSE_LIMIT: Duration = Duration::from_secs(90);
/// Stop echoing a timestamp this long after it arrived (docs/protocol/session.md, "Packet header
/// and timestamps").
const TIMESTAMP_ECHO_LIMIT: Duration = Duration::from_secs(128);
/// Window during which time-critical traffic damps congestion-window growth
/// (docs/protocol/session.md, "Priority and time-critical data").
pub(crate) const TIME_CRITICAL_WINDOW: Duration = Duration::from_millis(800);
/// Most queued control chunks (ping replies, forwards) per session; more are dropped.
const MAX_CONTROL_QUEUE: usize = 64;
/// Most send flows a session holds open at once.
const MAX_SEND_FLOWS: usize = 4096;
/// Most receive flows a far end may open at once; more are rejected.
const MAX_RECV_FLOWS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    Open,
    NearClose {
        since: Instant,
        next_request: Instant,
    },
    FarCloseLinger {
        until: Instant,
    },
    Closed,
}

/// Control chunks waiting for a packet, owned.
#[derive(Debug, Clone)]
pub(crate) enum Control {
    Ping(Vec<u8>),
    PingReply(Vec<u8>),
    CloseRequest,
    CloseAck,
    FlowException {
        flow_id: u64,
        code: u64,
    },
    BufferProbe {
        flow_id: u64,
    },
    FIHello {
        epd: Vec<u8>,
        reply_address: PeerAddress,
        tag: Vec<u8>,
    },
}

/// The counters a session keeps; [`Session::stats`] adds the live figures (RTT, window, bytes
/// in flight) to make a [`SessionStats`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct SessionCounters {
    pub packets_in: u64,
    pub packets_out: u64,
    pub bytes_delivered: u64,
    /// Retransmissions of flows that are gone (live flows count their own).
    pub retransmissions: u64,
    pub timeouts: u64,
}

/// Send flows of a session by flow ID (a sorted vector: a session has a few flows).
pub(crate) type SendFlows = SortedMap<u64, SendFlow>;
/// Receive flows of a session by flow ID.
pub(crate) type RecvFlows = SortedMap<u64, RecvFlow>;

/// An open session.
pub struct Session {
    pub(crate) id: SessionId,
    pub(crate) role: Role,
    pub(crate) far_session_id: u32,
    pub(crate) far_addr: SocketAddr,
    /// SHA-256 of the far end's certificate (RFC 7425 §4.3.2: the Flash peer ID). The
    /// certificate itself is not kept: the fingerprint identifies it (a session is kept small,
    /// thousands per process in the simulator).
    pub(crate) far_fingerprint: [u8; 32],
    /// Our session nonce and the far end's (Flash `nearNonce`, `farNonce`; RFC 7425 §4.6.5),
    /// inline: an allocation of their own cost 80 bytes with the allocator's header and
    /// rounding.
    near_nonce: [u8; NONCE_LEN],
    far_nonce: [u8; NONCE_LEN],
    pub(crate) cipher: crate::crypto::SessionCipher,
    pub(crate) state: State,
    pub(crate) send_flows: SendFlows,
    pub(crate) recv_flows: RecvFlows,
    /// Receive flows that finished, remembered so late retransmissions are just acked.
    /// Oldest first; boxed, and only once a flow finished (most sessions' flows never do).
    // A thin pointer: 8 bytes in every session instead of a vector's 24.
    #[allow(clippy::box_collection)]
    pub(crate) finished_recv: Option<Box<Vec<u64>>>,
    next_flow_id: u64,
    /// Control chunks waiting for a packet: boxed, and only while any wait (they are rare, and
    /// a session is kept small).
    // A thin pointer: 8 bytes in every session instead of a deque's 32.
    #[allow(clippy::box_collection)]
    pub(crate) control: Option<Box<VecDeque<Control>>>,
    pub(crate) rtt: RttEstimator,
    pub(crate) cc: CongestionController,
    pub(crate) rto_at: PackedInstant,
    pub(crate) next_tsn: u64,
    /// The far end's latest timestamp (RFC 7016 §2.2.4) and when it came
    /// ([`Session::last_rx_at`] none before the first).
    pub(crate) last_rx_timestamp: u16,
    pub(crate) last_rx_at: PackedInstant,
    pub(crate) last_echo_sent: Option<u16>,
    pub(crate) last_received: Instant,
    pub(crate) last_sent: Instant,
    pub(crate) keepalive_outstanding: bool,
    pub(crate) last_tc_received: PackedInstant,
    pub(crate) pace_at: PackedInstant,
    /// What the session holds only for a while ([`Transient`]): one box for both, present
    /// only while either is.
    transient: Option<Box<Transient>>,
    pub(crate) mobility_probe_sent: bool,
    pub(crate) counters: SessionCounters,
    pub(crate) config: SessionConfig,
}

/// What a session holds only for a while, boxed together: a thin pointer in every session,
/// which keeps a session within 448 bytes (mimalloc's 448-byte size class, not its 512-byte
/// one: memory only; docs/performance-history.md, stop 21).
#[derive(Debug, Default)]
struct Transient {
    /// A responder's sealed RIKeying datagram, resent on a duplicate IIKeying (RFC 7016
    /// §3.5.1.2; the endpoint's duplicate-IIKeying index, [`KeyingRecord`], finds the session).
    /// Freed on the first packet the initiator sends in the session, which proves it has it;
    /// `None` for an initiator: only for the first round trip.
    rikeying: Option<Bytes>,
    /// A new far address being probed and when the probe started (RFC 7016 §3.5.4.2).
    mobility: Option<(SocketAddr, Instant)>,
}

/// The endpoint's duplicate-IIKeying index entry of a responder's session, keyed by the
/// address the IIKeying came from and the initiator's session ID (RFC 7016 §3.5.1.2;
/// docs/protocol/session.md, "Handshake retransmission and glare"): a duplicate (same key, same
/// SKIC) is answered with the session's stored RIKeying, while it has one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct KeyingRecord {
    /// The responder's session ID.
    pub session: u32,
    /// SHA-256 of the initiator's session key component, to recognise a duplicate IIKeying (a
    /// digest rather than the component, which is ≈ 200 bytes with the Flash profile).
    pub skic_digest: [u8; 32],
}

/// Per-session copy of the endpoint settings it needs.
#[derive(Debug, Clone, Copy)]
///
/// Compact (16 bytes): buffer sizes in 32 bits (larger settings are capped at 4 GiB), the idle
/// timeout and the keepalive period in whole milliseconds (rounded up, capped at 49 days).
pub(crate) struct SessionConfig {
    pub recv_buffer: u32,
    pub send_buffer: u32,
    pub idle_timeout_ms: u32,
    /// Milliseconds between keepalives while idle, 0 for none (`Endpoint::set_keepalive`).
    pub keepalive_period_ms: u32,
}

impl SessionConfig {
    /// The receive buffer, bytes.
    pub fn recv_buffer(&self) -> usize {
        self.recv_buffer as usize
    }

    /// The send buffer, bytes.
    pub fn send_buffer(&self) -> usize {
        self.send_buffer as usize
    }

    /// The idle timeout.
    pub fn idle_timeout(&self) -> Duration {
        Duration::from_millis(u64::from(self.idle_timeout_ms))
    }

    /// The keepalive period, `None` for no keepalives.
    pub fn keepalive_period(&self) -> Option<Duration> {
        (self.keepalive_period_ms != 0)
            .then(|| Duration::from_millis(u64::from(self.keepalive_period_ms)))
    }
}

/// `d` in whole milliseconds, rounded up (so a nonzero setting stays on) and capped at
/// `u32::MAX` (49 days).
pub(crate) fn millis_ceil(d: Duration) -> u32 {
    let ms = d.as_millis() + u128::from(!d.subsec_nanos().is_multiple_of(1_000_000));
    u32::try_from(ms).unwrap_or(u32::MAX)
}

/// A buffer size setting in 32 bits, capped at `u32::MAX` bytes.
fn cap_u32(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("role", &self.role)
            .field("far_addr", &self.far_addr)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of an initiator's session key component (IIKeying, RFC 7016 §2.3.7), by which a
/// responder recognises a retransmitted IIKeying (docs/protocol/session.md, "Handshake
/// retransmission and glare").
pub(crate) fn skic_digest(skic: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(skic).into()
}

/// Everything the endpoint hands a new session.
pub(crate) struct SessionParams {
    pub id: SessionId,
    pub role: Role,
    pub far_session_id: u32,
    pub far_addr: SocketAddr,
    /// [`crate::crypto::certificate_fingerprint`] of the far end's certificate.
    pub far_fingerprint: [u8; 32],
    pub keys: crate::crypto::SessionKeys,
    /// A responder's sealed RIKeying (`None` for an initiator).
    pub rikeying: Option<Bytes>,
}

impl Session {
    pub(crate) fn new(now: Instant, p: SessionParams, config: &Config) -> Self {
        let far_fingerprint = p.far_fingerprint;
        Session {
            id: p.id,
            role: p.role,
            far_session_id: p.far_session_id,
            far_addr: p.far_addr,
            far_fingerprint,
            near_nonce: p.keys.near_nonce,
            far_nonce: p.keys.far_nonce,
            cipher: p.keys.cipher,
            state: State::Open,
            send_flows: SortedMap::default(),
            recv_flows: SortedMap::default(),
            finished_recv: None,
            next_flow_id: 1,
            control: None,
            rtt: RttEstimator::new(),
            cc: CongestionController::new(config.mss),
            rto_at: PackedInstant::NONE,
            next_tsn: 1,
            last_rx_timestamp: 0,
            last_rx_at: PackedInstant::NONE,
            last_echo_sent: None,
            last_received: now,
            last_sent: now,
            keepalive_outstanding: false,
            last_tc_received: PackedInstant::NONE,
            pace_at: PackedInstant::NONE,
            transient: p.rikeying.map(|r| {
                Box::new(Transient {
                    rikeying: Some(r),
                    mobility: None,
                })
            }),
            mobility_probe_sent: false,
            counters: SessionCounters::default(),
            config: SessionConfig {
                recv_buffer: cap_u32(config.recv_buffer),
                send_buffer: cap_u32(config.send_buffer),
                idle_timeout_ms: millis_ceil(config.idle_timeout),
                keepalive_period_ms: millis_ceil(config.keepalive_period),
            },
        }
    }

    /// A responder's sealed RIKeying, kept for the first round trip (see [`Transient`]).
    pub(crate) fn rikeying(&self) -> Option<&Bytes> {
        self.transient.as_ref()?.rikeying.as_ref()
    }

    /// The new far address being probed and when the probe started (RFC 7016 §3.5.4.2).
    pub(crate) fn mobility(&self) -> Option<(SocketAddr, Instant)> {
        self.transient.as_ref()?.mobility
    }

    /// Forgets the RIKeying (the initiator has it).
    pub(crate) fn drop_rikeying(&mut self) {
        if let Some(t) = self.transient.as_mut() {
            t.rikeying = None;
            self.tidy_transient();
        }
    }

    /// Sets (or ends, with `None`) the probe of a new far address.
    pub(crate) fn set_mobility(&mut self, m: Option<(SocketAddr, Instant)>) {
        self.transient.get_or_insert_with(Box::default).mobility = m;
        self.tidy_transient();
    }

    /// Frees the transient box once it holds nothing.
    fn tidy_transient(&mut self) {
        if self
            .transient
            .as_ref()
            .is_some_and(|t| t.rikeying.is_none() && t.mobility.is_none())
        {
            self.transient = None;
        }
    }

    /// Our session nonce (Flash `nearNonce`, RFC 7425 §4.6.5).
    pub(crate) fn near_nonce(&self) -> &[u8] {
        &self.near_nonce
    }

    /// The far end's session nonce (Flash `farNonce`, RFC 7425 §4.6.5).
    pub(crate) fn far_nonce(&self) -> &[u8] {
        &self.far_nonce
    }

    /// The endpoint's duplicate-IIKeying index key of this session if it is a responder's and
    /// has not moved since (RFC 7016 §3.5.1.2: the IIKeying's source address and the
    /// initiator's session ID). A session that moved (§3.5.4.2) is found in the index by its
    /// ID ([`crate::endpoint`]).
    pub(crate) fn keying_key(&self) -> Option<(SocketAddr, u32)> {
        (self.role == Role::Responder).then_some((self.far_addr, self.far_session_id))
    }

    /// Whether the session is open for new flows and data.
    pub(crate) fn is_open(&self) -> bool {
        self.state == State::Open
    }

    pub(crate) fn push_control(&mut self, c: Control) -> bool {
        let queue = self.control.get_or_insert_with(Box::default);
        if queue.len() >= MAX_CONTROL_QUEUE {
            return false;
        }
        queue.push_back(c);
        true
    }

    /// Opens a sending flow; returns its flow ID.
    pub(crate) fn open_flow(
        &mut self,
        metadata: &[u8],
        return_association: Option<u64>,
        priority: Priority,
    ) -> Result<u64, SendError> {
        if !self.is_open() || self.send_flows.len() >= MAX_SEND_FLOWS {
            return Err(SendError::Closed);
        }
        // Flash numbers its NetConnection flow 2 (docs/protocol/interop.md, "Compatibility
        // checklist" item 7), so start there for an initiator and at 1 for a responder, as Flash,
        // librtmfp and MonaServer2 do.
        if self.next_flow_id == 1 && self.role == Role::Initiator {
            self.next_flow_id = 2;
        }
        let id = self.next_flow_id;
        self.next_flow_id += 1;
        let flow = SendFlow::new(
            metadata.to_vec(),
            return_association,
            priority,
            self.config.send_buffer(),
        );
        self.send_flows.insert(id, flow);
        Ok(id)
    }

    /// Starts an orderly close (RFC 7016 §3.5.5.1): flows are aborted and Close Request is
    /// repeated until acknowledged.
    pub(crate) fn close(&mut self, now: Instant) {
        if self.state == State::Open {
            self.abort_flows();
            self.state = State::NearClose {
                since: now,
                next_request: now + CLOSE_REQUEST_INTERVAL,
            };
            self.push_control(Control::CloseRequest);
        }
    }

    pub(crate) fn abort_flows(&mut self) {
        self.send_flows.clear();
        self.recv_flows.clear();
        self.rto_at = PackedInstant::NONE;
    }

    pub(crate) fn stats(&self) -> SessionStats {
        let c = &self.counters;
        SessionStats {
            packets_in: c.packets_in,
            packets_out: c.packets_out,
            bytes_delivered: c.bytes_delivered,
            retransmissions: self
                .send_flows
                .values()
                .map(|f| f.retransmissions())
                .sum::<u64>()
                + c.retransmissions,
            timeouts: c.timeouts,
            srtt: self.rtt.has_sample().then(|| self.rtt.srtt()),
            erto: self.rtt.erto(),
            cwnd: self.cc.cwnd(),
            in_flight: self.in_flight_bytes(),
        }
    }

    /// Earliest instant at which `handle_timeout` has work for this session.
    pub(crate) fn next_timeout(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut at = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        match self.state {
            State::Closed => return None,
            State::NearClose {
                since,
                next_request,
            } => {
                at(Some(next_request.min(since + NEAR_CLOSE_LIMIT)));
                return t;
            }
            State::FarCloseLinger { until } => return Some(until),
            State::Open => {}
        }
        at(self.rto_at.get());
        at(self.pace_at.get());
        for f in self.recv_flows.values() {
            at(f.ack_deadline());
        }
        for f in self.send_flows.values() {
            at(f.next_deadline());
        }
        at(Some(self.last_received + self.config.idle_timeout()));
        at(self.next_keepalive());
        t
    }

    /// Runs timers due at `now`; events go to `events`.
    pub(crate) fn on_timeout(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        match self.state {
            State::Closed => return,
            State::NearClose {
                since,
                next_request,
            } => {
                if now >= since + NEAR_CLOSE_LIMIT {
                    self.state = State::Closed;
                } else if now >= next_request {
                    self.push_control(Control::CloseRequest);
                    self.state = State::NearClose {
                        since,
                        next_request: now + CLOSE_REQUEST_INTERVAL,
                    };
                }
                return;
            }
            State::FarCloseLinger { until } => {
                if now >= until {
                    self.state = State::Closed;
                }
                return;
            }
            State::Open => {}
        }
        if now >= self.last_received + self.config.idle_timeout() {
            self.state = State::Closed;
            self.abort_flows();
            events.push_back(Event::SessionClosed {
                session: self.id,
                reason: CloseReason::Timeout,
            });
            return;
        }
        if let Some(at) = self.rto_at.get() {
            if now >= at {
                self.on_rto(now);
            }
        }
        if self.pace_at.get().is_some_and(|p| now >= p) {
            self.pace_at = PackedInstant::NONE;
        }
        for f in self.send_flows.values_mut() {
            f.expire(now);
        }
        let erto = self.rtt.erto();
        let mut probes = Vec::new();
        for (id, f) in self.send_flows.iter_mut() {
            if f.probe_deadline(now, erto).is_some_and(|d| now >= d) {
                f.on_probe_sent(now, erto);
                probes.push(*id);
            }
        }
        for flow_id in probes {
            self.push_control(Control::BufferProbe { flow_id });
        }
        if self.next_keepalive().is_some_and(|k| now >= k) {
            self.push_control(Control::Ping(Vec::new()));
            self.keepalive_outstanding = true;
            // Counts as sending, so the next keepalive waits a whole period.
            self.last_sent = now;
        }
    }

    /// Retransmission timeout (RFC 7016 §3.5.2.2): everything in flight is lost.
    fn on_rto(&mut self, now: Instant) {
        let outstanding = self.send_flows.values().any(|f| f.has_in_flight());
        self.counters.timeouts += 1;
        for f in self.send_flows.values_mut() {
            f.on_timeout();
        }
        self.cc.on_timeout(now, outstanding);
        self.rtt.on_timeout();
        self.rto_at = PackedInstant::NONE;
    }

    /// When the next keepalive is due, `None` without keepalives: a period after the latest
    /// packet either way.
    fn next_keepalive(&self) -> Option<Instant> {
        let period = self.config.keepalive_period()?;
        Some(self.last_sent.max(self.last_received) + period)
    }

    pub(crate) fn timestamp_echo(&mut self, now: Instant) -> Option<u16> {
        let (ts, at) = (self.last_rx_timestamp, self.last_rx_at.get()?);
        let held = now.saturating_duration_since(at);
        if held >= TIMESTAMP_ECHO_LIMIT {
            return None;
        }
        let ticks = (held.as_micros() / 4000) as u16;
        let echo = ts.wrapping_add(ticks);
        if self.last_echo_sent == Some(echo) {
            return None;
        }
        self.last_echo_sent = Some(echo);
        Some(echo)
    }
}

#[cfg(test)]
mod tests {
    /// A process holds millions of sessions in the simulator (≈ 27–34 per group member): a
    /// session, its two 32-byte nonces inline, must stay within 448 bytes, mimalloc's 448-byte
    /// size class (456 bytes fell into its 512-byte one) and a 464-byte glibc chunk (with the
    /// 8-byte header). It was a 432-byte chunk plus an 80-byte one for the nonces. It was 824
    /// bytes with a copy of the stats and a mobility record inline, 696 with the responder's
    /// IIKeying record inline, 608 with 16-byte optional times and a full-width copy of the
    /// settings, then 504 with the control queue and finished-flow list inline and 64-bit RTT
    /// figures, then 424 without the nonces, 456 with them, and 448 with the RIKeying and the
    /// mobility probe in one box.
    #[test]
    fn a_session_fits_448_bytes() {
        let size = std::mem::size_of::<super::Session>();
        assert!(size <= 448, "Session is {size} bytes");
    }

    /// Settings in whole milliseconds round up, so that a nonzero one stays on, and saturate.
    #[test]
    fn millis_ceil_rounds_up_and_saturates() {
        use std::time::Duration;
        assert_eq!(super::millis_ceil(Duration::ZERO), 0);
        assert_eq!(super::millis_ceil(Duration::from_nanos(1)), 1);
        assert_eq!(super::millis_ceil(Duration::from_micros(1500)), 2);
        assert_eq!(super::millis_ceil(Duration::from_secs(15)), 15_000);
        assert_eq!(super::millis_ceil(Duration::from_secs(u64::MAX)), u32::MAX);
    }

    /// The stats a session reports add the live figures to its counters.
    #[test]
    fn stats_combine_counters_with_live_figures() {
        use crate::endpoint::Config;
        use crate::Instant;
        let keys = crate::crypto::SessionKeys {
            cipher: crate::crypto::SessionCipher::Boxed(Box::new(
                crate::crypto::plain::PlainCipher::default(),
            )),
            near_nonce: [1; 32],
            far_nonce: [2; 32],
        };
        let p = super::SessionParams {
            id: crate::endpoint::SessionId(7),
            role: super::Role::Initiator,
            far_session_id: 9,
            far_addr: "127.0.0.1:1935".parse().unwrap(),
            far_fingerprint: [3; 32],
            keys,
            rikeying: None,
        };
        let config = Config::default();
        let mut s = super::Session::new(Instant::ZERO, p, &config);
        s.counters.packets_in = 3;
        s.counters.packets_out = 4;
        s.counters.bytes_delivered = 50;
        s.counters.retransmissions = 2;
        s.counters.timeouts = 1;
        let st = s.stats();
        assert_eq!(
            (st.packets_in, st.packets_out, st.bytes_delivered),
            (3, 4, 50)
        );
        assert_eq!((st.retransmissions, st.timeouts), (2, 1));
        assert_eq!(st.srtt, None);
        assert_eq!(st.cwnd, s.cc.cwnd());
        assert_eq!(st.in_flight, 0);
        assert_eq!(s.near_nonce(), &[1; 32][..]);
        assert_eq!(s.far_nonce(), &[2; 32][..]);
    }
}
