//! Session startup (RFC 7016 §3.5.1): the initiator's state machine and the responder's
//! stateless cookies.
//!
//! The responder keeps no state for an IHello: it answers with an RHello whose 64-byte cookie
//! authenticates the time and the initiator's address, so a flood of IHellos from many addresses
//! costs no memory. Only an IIKeying with a valid cookie creates a session.

use std::net::SocketAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::InitiatorKeying;
use crate::Instant;

/// Cookie size. Flash-era servers use 64 bytes and MonaServer2 and librtmfp require it
/// (docs/protocol/interop.md, "Compatibility checklist" item 4).
pub const COOKIE_LEN: usize = 64;

/// How long a cookie stays valid (zenomt: 95 s; docs/protocol/session.md, "Cookies").
pub const COOKIE_LIFETIME: Duration = Duration::from_secs(95);

/// Total time an opening session keeps retrying before it fails
/// (`ULTIMATE_SESSION_TIMEOUT`, docs/protocol/session.md, "Handshake retransmission and glare").
pub const OPENING_TIMEOUT: Duration = Duration::from_secs(95);

/// Most candidate addresses an opening session tries (redirects may add up to this many).
pub const MAX_CANDIDATES: usize = 24;

/// Result of checking an echoed cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieCheck {
    /// Valid for this address.
    Valid,
    /// Valid, but issued to another address: answer with an RHello Cookie Change (§2.3.6).
    AddressChanged,
    /// Forged, expired or malformed.
    Invalid,
}

/// Makes and checks stateless cookies:
/// `time:u32 (s) | HMAC(secret, "t" | time)[..28] | HMAC(secret, "a" | time | address)[..32]`.
#[derive(Clone)]
pub struct CookieJar {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for CookieJar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieJar")
    }
}

fn encode_addr(addr: &SocketAddr, out: &mut Vec<u8>) {
    match addr {
        SocketAddr::V4(a) => out.extend_from_slice(&a.ip().octets()),
        SocketAddr::V6(a) => out.extend_from_slice(&a.ip().octets()),
    }
    out.extend_from_slice(&addr.port().to_be_bytes());
}

impl CookieJar {
    /// A jar keyed by `secret` (drawn from the endpoint's seeded RNG).
    pub fn new(secret: &[u8; 32]) -> Self {
        // HMAC accepts keys of any length; this cannot fail.
        let mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
            .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
        CookieJar { mac }
    }

    fn tag(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut m = self.mac.clone();
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().into()
    }

    /// A cookie for `addr` at time `now`.
    pub fn make(&self, now: Instant, addr: &SocketAddr) -> [u8; COOKIE_LEN] {
        let secs = (now.as_micros() / 1_000_000) as u32;
        let t = secs.to_be_bytes();
        let mut a = Vec::with_capacity(19);
        encode_addr(addr, &mut a);
        let mut cookie = [0u8; COOKIE_LEN];
        cookie[..4].copy_from_slice(&t);
        cookie[4..32].copy_from_slice(&self.tag(&[b"t", &t])[..28]);
        cookie[32..].copy_from_slice(&self.tag(&[b"a", &t, &a]));
        cookie
    }

    /// Checks an echoed `cookie` received from `addr` at `now`.
    pub fn check(&self, now: Instant, addr: &SocketAddr, cookie: &[u8]) -> CookieCheck {
        if cookie.len() != COOKIE_LEN {
            return CookieCheck::Invalid;
        }
        let t: [u8; 4] = [cookie[0], cookie[1], cookie[2], cookie[3]];
        let issued = u64::from(u32::from_be_bytes(t));
        let now_s = now.as_micros() / 1_000_000;
        if issued > now_s || now_s - issued > COOKIE_LIFETIME.as_secs() {
            return CookieCheck::Invalid;
        }
        if !ct_eq(&cookie[4..32], &self.tag(&[b"t", &t])[..28]) {
            return CookieCheck::Invalid;
        }
        let mut a = Vec::with_capacity(19);
        encode_addr(addr, &mut a);
        if ct_eq(&cookie[32..], &self.tag(&[b"a", &t, &a])) {
            CookieCheck::Valid
        } else {
            CookieCheck::AddressChanged
        }
    }
}

fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Retransmission schedule for IHello and IIKeying: first retry after 1 s, then each interval
/// 1.5 s longer (1, 2.5, 4, …), docs/protocol/session.md, "Handshake retransmission and glare".
#[derive(Debug, Clone, Copy)]
pub struct RetrySchedule {
    next: Instant,
    interval: Duration,
}

impl RetrySchedule {
    /// Starts the schedule at `now` (the first transmission happens now).
    pub fn start(now: Instant) -> Self {
        RetrySchedule {
            next: now + Duration::from_secs(1),
            interval: Duration::from_secs(1),
        }
    }

    /// When the next retransmission is due.
    pub fn next(&self) -> Instant {
        self.next
    }

    /// Records a retransmission at `now` and schedules the next one.
    pub fn advance(&mut self, now: Instant) {
        self.interval += Duration::from_millis(1500);
        self.next = now + self.interval;
    }
}

/// Phase of an opening (initiator) session.
pub enum InitiatorPhase {
    /// IHello sent to the candidates; waiting for RHello or Redirect.
    IHelloSent,
    /// IIKeying sent; waiting for RIKeying or a Cookie Change.
    KeyingSent {
        /// Where the RHello came from; IIKeying goes there.
        responder: SocketAddr,
        /// Cookie to echo.
        cookie: Vec<u8>,
        /// Responder certificate from RHello.
        responder_certificate: Vec<u8>,
        /// Key agreement in progress.
        keying: Box<dyn InitiatorKeying>,
        /// Whether a cookie change was already accepted (only once, §3.5.1.2).
        cookie_changed: bool,
    },
}

impl std::fmt::Debug for InitiatorPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InitiatorPhase::IHelloSent => f.write_str("IHelloSent"),
            InitiatorPhase::KeyingSent { responder, .. } => f
                .debug_struct("KeyingSent")
                .field("responder", responder)
                .finish_non_exhaustive(),
        }
    }
}

/// An opening session on the initiator side (RFC 7016 §3.5.1.1: S_IHELLO_SENT, S_KEYING_SENT).
#[derive(Debug)]
pub struct Opening {
    /// Endpoint discriminator sent in IHello.
    pub epd: Vec<u8>,
    /// 16-byte tag; RHello and Redirect echo it.
    pub tag: [u8; 16],
    /// Addresses IHello is sent to.
    pub candidates: Vec<SocketAddr>,
    /// Current phase.
    pub phase: InitiatorPhase,
    /// When the attempt started (gives up after [`OPENING_TIMEOUT`]).
    pub started: Instant,
    /// Retransmission schedule of the current phase.
    pub retry: RetrySchedule,
}

impl Opening {
    /// A new attempt toward `epd` at `candidates`.
    pub fn new(now: Instant, epd: Vec<u8>, tag: [u8; 16], candidates: Vec<SocketAddr>) -> Self {
        Opening {
            epd,
            tag,
            candidates,
            phase: InitiatorPhase::IHelloSent,
            started: now,
            retry: RetrySchedule::start(now),
        }
    }

    /// Adds a candidate address (from a Redirect); returns whether it was new.
    pub fn add_candidate(&mut self, addr: SocketAddr) -> bool {
        if addr.ip().is_unspecified() || addr.port() == 0 {
            return false;
        }
        if self.candidates.contains(&addr) || self.candidates.len() >= MAX_CANDIDATES {
            return false;
        }
        self.candidates.push(addr);
        true
    }

    /// Whether the attempt has run out of time at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        now.saturating_duration_since(self.started) >= OPENING_TIMEOUT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_checks() {
        let jar = CookieJar::new(&[7; 32]);
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:5000".parse().unwrap();
        let now = Instant::from_micros(10_000_000);
        let c = jar.make(now, &a);
        assert_eq!(c.len(), 64);
        assert_eq!(jar.check(now, &a, &c), CookieCheck::Valid);
        assert_eq!(jar.check(now, &b, &c), CookieCheck::AddressChanged);
        let late = now + Duration::from_secs(96);
        assert_eq!(jar.check(late, &a, &c), CookieCheck::Invalid);
        let mut forged = c;
        forged[10] ^= 1;
        assert_eq!(jar.check(now, &a, &forged), CookieCheck::Invalid);
        assert_eq!(jar.check(now, &a, &c[..63]), CookieCheck::Invalid);
        let other = CookieJar::new(&[8; 32]);
        assert_eq!(other.check(now, &a, &c), CookieCheck::Invalid);
    }

    #[test]
    fn retry_schedule_is_linear() {
        let mut r = RetrySchedule::start(Instant::ZERO);
        assert_eq!(r.next(), Instant::ZERO + Duration::from_secs(1));
        r.advance(r.next());
        assert_eq!(r.next(), Instant::ZERO + Duration::from_millis(3500));
        r.advance(r.next());
        assert_eq!(r.next(), Instant::ZERO + Duration::from_millis(7500));
    }

    #[test]
    fn candidates_are_bounded_and_unspecified_ignored() {
        let mut o = Opening::new(Instant::ZERO, vec![], [0; 16], vec![]);
        assert!(!o.add_candidate("0.0.0.0:0".parse().unwrap()));
        for port in 1..100 {
            o.add_candidate(SocketAddr::from(([10, 0, 0, 1], port)));
        }
        assert_eq!(o.candidates.len(), MAX_CANDIDATES);
    }
}
