//! One RTMFP endpoint per UDP socket: demultiplexes sessions and runs the handshake.
//!
//! The sans-IO drive loop (see the crate docs): feed `handle_datagram` and `handle_timeout`,
//! then drain `poll_transmit`, then `poll_event`, then read `poll_timeout`.

mod id_map;
mod startup;
mod timers;

use std::collections::{BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};

pub use crate::errors::{
    ConnectError, FlowError, ForwardError, OpenFlowError, SessionError, WriteError,
};
pub use crate::types::*;

use crate::crypto::{CryptoProfile, PacketCipher};
use crate::flow::send::SendError;
use crate::flow::Priority;
use crate::handshake::{CookieJar, Opening};
use crate::rtt;
use crate::session::receive::Action;
use crate::session::{transmit::TxContext, Session, State, TIME_CRITICAL_WINDOW};
use crate::wire::unscramble_session_id;
use crate::Instant;
use rtmfp_collections::pop_front_lean;
use rtmfp_collections::SortedMap;

/// A sans-IO RTMFP endpoint (RFC 7016 §3): one per UDP socket, any number of sessions.
pub struct Endpoint {
    pub(crate) config: Config,
    pub(crate) crypto: Box<dyn CryptoProfile>,
    pub(crate) rng: ChaCha20Rng,
    pub(crate) cookies: CookieJar,
    /// Open sessions by ID, hashed: every datagram, write and timer looks its session up.
    /// Nothing may depend on the map's iteration order; scans sort by ID. Each is boxed so
    /// that the table's empty slots cost a pointer, not a `Session` (memory only), beside its
    /// timer record ([`timers::Filed`]).
    pub(crate) sessions: timers::IdMap<timers::Filed>,
    /// Handshakes in progress by session ID. Sorted vectors, not B-trees, for this map and the
    /// two indexes below: a B-tree keeps its emptied leaf (eleven slots: 2.3 KB of
    /// `Opening`s) for the endpoint's life, and they are usually empty or small.
    pub(crate) openings: SortedMap<u32, Opening>,
    pub(crate) by_tag: SortedMap<Vec<u8>, u32>,
    pub(crate) by_far: SortedMap<(SocketAddr, u32), crate::session::KeyingRecord>,
    pub(crate) transmits: VecDeque<Transmit>,
    pub(crate) events: VecDeque<Event>,
    readable: BTreeSet<(u32, u64)>,
    timers: timers::TimerQueue,
    pub(crate) stats: EndpointStats,
    next_session_id: u32,
    tc_received: Option<(Instant, u32)>,
    open_buf: Vec<u8>,
    last_now: Instant,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("sessions", &self.sessions.len())
            .field("openings", &self.openings.len())
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// A new endpoint with identity `crypto`. `seed` seeds the endpoint's RNG (tags, cookie
    /// secret, DH exponents of later keyings): the tokio driver draws it from the OS, the
    /// simulator derives it from the run seed.
    pub fn new(config: Config, crypto: Box<dyn CryptoProfile>, seed: [u8; 32]) -> Self {
        let mut rng = ChaCha20Rng::from_seed(seed);
        let mut secret = [0u8; 32];
        rng.fill_bytes(&mut secret);
        Endpoint {
            config,
            crypto,
            rng,
            cookies: CookieJar::new(&secret),
            sessions: timers::IdMap::default(),
            openings: SortedMap::default(),
            by_tag: SortedMap::default(),
            by_far: SortedMap::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            readable: BTreeSet::new(),
            timers: timers::TimerQueue::default(),
            stats: EndpointStats::default(),
            next_session_id: 1,
            tc_received: None,
            // Grown on the first packet a transforming cipher opens; the plain profile opens in
            // place and never touches it.
            open_buf: Vec::new(),
            last_now: Instant::ZERO,
        }
    }

    /// The latest time passed to `handle_datagram` or `handle_timeout`: layers above use it to
    /// route events pulled in `poll_event`, which takes no time argument.
    pub fn now_hint(&self) -> Instant {
        self.last_now
    }

    /// This endpoint's fingerprint (Flash peer ID, `NetConnection.nearID`).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.crypto.fingerprint()
    }

    /// This endpoint's certificate.
    pub fn certificate(&self) -> &[u8] {
        self.crypto.certificate()
    }

    /// Counters.
    pub fn stats(&self) -> &EndpointStats {
        &self.stats
    }

    /// Number of open sessions (closing ones included until they are gone).
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// A snapshot of session `s`, or `None` if unknown or still opening.
    pub fn session_info(&self, s: SessionId) -> Option<SessionInfo> {
        let sess = self.sessions.get(&s.0)?;
        Some(SessionInfo {
            role: sess.role,
            far_addr: sess.far_addr,
            far_fingerprint: sess.far_fingerprint,
            near_nonce: sess.near_nonce().to_vec(),
            far_nonce: sess.far_nonce().to_vec(),
            open: sess.is_open(),
            stats: sess.stats(),
        })
    }

    /// The session nonces of session `s` as (near, far) (Flash `nearNonce` / `farNonce`,
    /// RFC 7425 §4.6.5; 32 bytes each with the Flash profile), `None` for an unknown session.
    /// The same bytes as `session_info(s)`'s, without copying them.
    pub fn session_nonces(&self, s: SessionId) -> Option<(&[u8], &[u8])> {
        let sess = self.sessions.get(&s.0)?;
        Some((sess.near_nonce(), sess.far_nonce()))
    }

    /// The far address of session `s` (where its packets go now: a session that moved,
    /// RFC 7016 §3.5.4.2, reports its new address), `None` for an unknown session. The same
    /// value as `session_info(s)?.far_addr`, without copying the session's keys and counters.
    pub fn session_far_addr(&self, s: SessionId) -> Option<SocketAddr> {
        self.sessions.get(&s.0).map(|sess| sess.far_addr)
    }

    /// Smoothed round-trip time of session `s` (RFC 7016 §3.5.2.2), `None` for an unknown
    /// session or one without an RTT sample yet. The same value as
    /// `session_info(s)?.stats.srtt`, without copying the session's keys and counters.
    pub fn session_srtt(&self, s: SessionId) -> Option<Duration> {
        let sess = self.sessions.get(&s.0)?;
        sess.rtt.has_sample().then(|| sess.rtt.srtt())
    }

    /// The open session whose far end has `fingerprint`, if any.
    pub fn session_by_fingerprint(&self, fingerprint: &[u8; 32]) -> Option<SessionId> {
        // The lowest matching ID, as a scan in ID order would find (glare may leave two).
        self.sessions
            .iter()
            .filter(|(_, s)| s.is_open() && &s.far_fingerprint == fingerprint)
            .map(|(id, _)| SessionId(*id))
            .min()
    }

    pub(crate) fn allocate_session_id(&mut self) -> Option<u32> {
        if self.sessions.len() + self.openings.len() >= self.config.max_sessions {
            return None;
        }
        loop {
            let id = self.next_session_id;
            self.next_session_id = self.next_session_id.wrapping_add(1).max(1);
            if !self.sessions.contains_key(&id) && !self.openings.contains_key(&id) {
                return Some(id);
            }
        }
    }

    pub(crate) fn ticks(now: Instant) -> u16 {
        rtt::timestamp_ticks(now, Instant::ZERO)
    }

    /// Starts opening a session to the endpoint `epd` selects, at `addrs` (RFC 7016 §3.5.1.1).
    /// Build `epd` with [`crate::crypto::cert::epd_for_url`] or
    /// [`crate::crypto::cert::epd_for_peer_id`]. Completion is reported by
    /// [`Event::SessionOpened`] or [`Event::ConnectFailed`] with the returned handle.
    ///
    /// Errors: [`ConnectError::NoAddress`], [`ConnectError::TooManySessions`].
    pub fn connect(
        &mut self,
        now: Instant,
        epd: Vec<u8>,
        addrs: &[SocketAddr],
    ) -> Result<SessionId, ConnectError> {
        if addrs.is_empty() {
            return Err(ConnectError::NoAddress);
        }
        let id = self
            .allocate_session_id()
            .ok_or(ConnectError::TooManySessions)?;
        let mut tag = [0u8; 16];
        self.rng.fill_bytes(&mut tag);
        let mut opening = Opening::new(now, epd, tag, Vec::new());
        for a in addrs {
            opening.add_candidate(*a);
        }
        self.by_tag.insert(tag.to_vec(), id);
        self.openings.insert(id, opening);
        self.send_ihellos(now, id, None);
        self.reindex(id);
        Ok(SessionId(id))
    }

    fn open_session(&mut self, s: SessionId) -> Result<&mut Session, SessionError> {
        open_in(&mut self.sessions, &self.openings, s)
    }

    /// Opens a sending flow in session `s` with per-flow `metadata`, optionally as the return
    /// flow of the far end's flow `return_association` (RFC 7016 §2.3.11.1.2), at `priority`.
    /// Returns our flow ID.
    ///
    /// Errors: [`OpenFlowError::Session`], [`OpenFlowError::TooManyFlows`].
    pub fn open_flow(
        &mut self,
        now: Instant,
        s: SessionId,
        metadata: &[u8],
        return_association: Option<u64>,
        priority: Priority,
    ) -> Result<u64, OpenFlowError> {
        let _ = now;
        self.open_session(s)?
            .open_flow(metadata, return_association, priority)
            .map_err(|_| OpenFlowError::TooManyFlows)
    }

    /// Queues `data` as one message on our flow `flow`. With a `deadline`, the message is
    /// abandoned if not delivered by then (partial reliability, RFC 7016 §3.6.2.3).
    ///
    /// Errors: [`WriteError::Session`], [`WriteError::UnknownFlow`], [`WriteError::BufferFull`],
    /// [`WriteError::FlowClosed`].
    pub fn write(
        &mut self,
        now: Instant,
        s: SessionId,
        flow: u64,
        data: Bytes,
        deadline: Option<Instant>,
    ) -> Result<(), WriteError> {
        // One lookup of the session and of the flow, and the flush reuses the session (the
        // simulator's posting floods write to every neighbour in turn).
        let (closed, next) = {
            let sess = open_in(&mut self.sessions, &self.openings, s)?;
            sess.send_flows
                .get_mut(&flow)
                .ok_or(WriteError::UnknownFlow)?
                .write(data, deadline)
                .map_err(|e| match e {
                    SendError::BufferFull => WriteError::BufferFull,
                    SendError::Closed => WriteError::FlowClosed,
                })?;
            flush_session(sess, s.0, now, self.tc_received, &mut self.transmits)
        };
        self.after_flush(s.0, closed, next);
        Ok(())
    }

    /// Bytes that may still be written to our flow `flow` before `BufferFull`.
    pub fn writable_bytes(&self, s: SessionId, flow: u64) -> Option<usize> {
        Some(
            self.sessions
                .get(&s.0)?
                .send_flows
                .get(&flow)?
                .writable_bytes(),
        )
    }

    /// Closes our flow `flow` after its queued messages (FIN).
    ///
    /// Errors: [`FlowError::Session`], [`FlowError::UnknownFlow`].
    pub fn close_flow(&mut self, now: Instant, s: SessionId, flow: u64) -> Result<(), FlowError> {
        self.open_session(s)?
            .send_flows
            .get_mut(&flow)
            .ok_or(FlowError::UnknownFlow)?
            .close();
        self.flush(now, s.0);
        Ok(())
    }

    /// Rejects the far end's flow `flow` with `code` (Flow Exception Report, RFC 7016 §3.6.3.7).
    ///
    /// Errors: [`FlowError::Session`], [`FlowError::UnknownFlow`].
    pub fn reject_flow(
        &mut self,
        now: Instant,
        s: SessionId,
        flow: u64,
        code: u64,
    ) -> Result<(), FlowError> {
        let f = self
            .open_session(s)?
            .recv_flows
            .get_mut(&flow)
            .ok_or(FlowError::UnknownFlow)?;
        f.reject(code);
        self.flush(now, s.0);
        Ok(())
    }

    /// Sets the keepalive period of session `s` (Flash: from the server's Set Keepalive Timer).
    ///
    /// Errors: [`SessionError`].
    pub fn set_keepalive(&mut self, s: SessionId, period: Duration) -> Result<(), SessionError> {
        self.open_session(s)?.config.keepalive_period_ms = crate::session::millis_ceil(period);
        self.reindex(s.0);
        Ok(())
    }

    /// Closes session `s` in order (Close Request until acknowledged; RFC 7016 §3.5.5), or
    /// abandons it if still opening.
    pub fn close(&mut self, now: Instant, s: SessionId) {
        if let Some(o) = self.openings.remove(&s.0) {
            self.by_tag.remove(&o.tag[..]);
            self.reindex(s.0);
            return;
        }
        if let Some(sess) = self.sessions.get_mut(&s.0) {
            if sess.is_open() {
                sess.close(now);
                self.events.push_back(Event::SessionClosed {
                    session: s,
                    reason: CloseReason::Local,
                });
            }
            self.flush(now, s.0);
        }
    }

    /// Closes session `s` abruptly: one Close Acknowledgement and the session is gone.
    pub fn abort(&mut self, now: Instant, s: SessionId) {
        if let Some(sess) = self.sessions.get_mut(&s.0) {
            if sess.is_open() {
                sess.abort_flows();
                sess.control = None;
                sess.push_control(crate::session::Control::CloseAck);
                self.events.push_back(Event::SessionClosed {
                    session: s,
                    reason: CloseReason::Local,
                });
            }
            self.flush(now, s.0);
            if let Some(sess) = self.sessions.get_mut(&s.0) {
                sess.state = State::Closed;
            }
            self.remove_if_closed(s.0);
            self.reindex(s.0);
        }
    }

    /// Handles one received UDP datagram. Never fails: bad input is counted in
    /// [`EndpointStats::dropped`] and dropped.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.last_now = self.last_now.max(now);
        self.stats.packets_in += 1;
        self.stats.bytes_in += datagram.len() as u64;
        if let Err(reason) = self.on_datagram(now, from, datagram) {
            tracing::trace!(?reason, %from, "dropped datagram");
            self.stats.dropped.record(reason);
        }
    }

    fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<(), DropReason> {
        if datagram.len() < 5 {
            return Err(DropReason::Short);
        }
        let ssid = unscramble_session_id(datagram).ok_or(DropReason::Short)?;
        let sealed = &datagram[4..];
        if ssid == 0 {
            return self.on_startup(now, from, sealed);
        }
        // Sessions first (nearly every datagram): an ID names an opening or a session, never
        // both, so the order of the two lookups does not matter.
        let Some(sess) = self.sessions.get_mut(&ssid) else {
            if self.openings.contains_key(&ssid) {
                return self.on_opening_packet(now, from, ssid, sealed);
            }
            return Err(DropReason::UnknownSession);
        };
        let mut buf = std::mem::take(&mut self.open_buf);
        let result = (|| {
            let packet = sess
                .cipher
                .open(sealed, &mut buf)
                .map_err(|_| DropReason::Decrypt)?;
            let mut actions = Vec::new();
            sess.on_packet(
                now,
                Self::ticks(now),
                from,
                packet,
                &mut self.events,
                &mut actions,
                &mut self.stats.malformed_chunks,
            )?;
            if sess.last_tc_received.get() == Some(now) {
                self.tc_received = Some((now, ssid));
            }
            Ok(actions)
        })();
        self.open_buf = buf;
        let actions = result?;
        for action in actions {
            match action {
                Action::Readable { flow_id } => {
                    self.readable.insert((ssid, flow_id));
                }
                Action::ForwardedHello {
                    epd,
                    reply_address,
                    tag,
                } => self.on_forwarded_hello(now, &epd, reply_address.addr, &tag),
            }
        }
        self.flush(now, ssid);
        Ok(())
    }

    /// Runs every timer due at `now`. Spurious calls are harmless.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        while let Some(id) = self.timers.pop_due(now, &mut self.sessions) {
            if let Some(sess) = self.sessions.get_mut(&id) {
                sess.on_timeout(now, &mut self.events);
                self.flush(now, id);
            } else if self.openings.contains_key(&id) {
                self.on_opening_timeout(now, id);
            }
        }
    }

    /// Next datagram to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        let t = pop_front_lean(&mut self.transmits)?;
        self.stats.packets_out += 1;
        self.stats.bytes_out += t.payload.len() as u64;
        Some(t)
    }

    /// Next event, if any. Messages are taken from the flows only here, so a slow reader keeps
    /// its receive windows closed (backpressure) instead of growing a queue.
    pub fn poll_event(&mut self) -> Option<Event> {
        if let Some(e) = pop_front_lean(&mut self.events) {
            return Some(e);
        }
        while let Some(&(sid, flow)) = self.readable.first() {
            // One lookup of the session for the message, its counter and its timer.
            let Some(sess) = self.sessions.get_mut(&sid) else {
                self.readable.pop_first();
                continue;
            };
            let Some(f) = sess.recv_flows.get_mut(&flow) else {
                self.readable.pop_first();
                continue;
            };
            if let Some(m) = f.poll_message() {
                sess.counters.bytes_delivered += m.len() as u64;
                // `reindex(sid)` for a session (an ID names an opening or a session, never
                // both).
                let next = sess.next_timeout();
                let follow_up = self.timers.set_held(sid, &mut sess.timer, next);
                self.timers.follow_up(follow_up, &mut self.sessions);
                return Some(Event::Message {
                    session: SessionId(sid),
                    flow,
                    data: Bytes::from(m),
                });
            }
            let complete = f.is_complete();
            if complete {
                sess.finished_recv
                    .get_or_insert_with(Box::default)
                    .push(flow);
            }
            self.readable.pop_first();
            if complete {
                return Some(Event::FlowEnded {
                    session: SessionId(sid),
                    flow,
                });
            }
        }
        None
    }

    /// When `handle_timeout` should next be called, if ever. O(1).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first()
    }

    /// Sends what session `id` may send now and refreshes its timer.
    pub(crate) fn flush(&mut self, now: Instant, id: u32) {
        let Some(sess) = self.sessions.get_mut(&id) else {
            return self.reindex(id);
        };
        let (closed, next) = flush_session(sess, id, now, self.tc_received, &mut self.transmits);
        if closed {
            return self.after_flush(id, closed, next);
        }
        // The session's own timer record, while the session is at hand.
        let follow_up = self.timers.set_held(id, &mut sess.timer, next);
        self.timers.follow_up(follow_up, &mut self.sessions);
    }

    /// Files session `id` after [`flush_session`] returned `(closed, next)`.
    fn after_flush(&mut self, id: u32, closed: bool, next: Option<Instant>) {
        if closed {
            self.remove_if_closed(id);
        }
        // An ID names an opening or a session, never both: openings are removed before their
        // session is inserted, and new IDs are checked against both maps.
        debug_assert!(!self.openings.contains_key(&id));
        self.set_timer(id, next);
    }

    fn remove_if_closed(&mut self, id: u32) {
        if self
            .sessions
            .get(&id)
            .is_some_and(|s| s.state == State::Closed)
        {
            if let Some(s) = self.remove_session(id) {
                self.forget_keying(id, &s);
            }
        }
    }

    /// Files session `s` under `id`, with the timer record `id` had (an opening's).
    pub(crate) fn insert_session(&mut self, id: u32, s: Box<Session>) {
        let timer = match self.sessions.remove(&id) {
            Some(old) => old.timer,
            None => self.timers.take(id),
        };
        self.sessions.insert(id, timers::Filed::new(s, timer));
    }

    /// Removes session `id`; its timer record stays with the queue until `id`'s deadline is
    /// set again.
    pub(crate) fn remove_session(&mut self, id: u32) -> Option<timers::Filed> {
        let s = self.sessions.remove(&id)?;
        self.timers.put(id, s.timer);
        Some(s)
    }

    /// Removes responder session `id`'s entry from the duplicate-IIKeying index: under its
    /// keying address, or, if it moved since (RFC 7016 §3.5.4.2, rare), wherever it is.
    pub(crate) fn forget_keying(&mut self, id: u32, s: &Session) {
        let Some(key) = s.keying_key() else {
            return;
        };
        if self.by_far.get(&key).is_some_and(|k| k.session == id) {
            self.by_far.remove(&key);
        } else {
            self.by_far.retain(|_, k| k.session != id);
        }
    }

    /// Recomputes the timer entry of session or opening `id`.
    pub(crate) fn reindex(&mut self, id: u32) {
        let next = if let Some(o) = self.openings.get(&id) {
            Some(
                o.retry
                    .next()
                    .min(o.started + crate::handshake::OPENING_TIMEOUT),
            )
        } else {
            self.sessions.get(&id).and_then(|s| s.next_timeout())
        };
        self.set_timer(id, next);
    }

    /// Files session or opening `id` under deadline `next` (none: no timer).
    fn set_timer(&mut self, id: u32, next: Option<Instant>) {
        match self.sessions.get_mut(&id) {
            Some(s) => {
                let follow_up = self.timers.set_held(id, &mut s.timer, next);
                self.timers.follow_up(follow_up, &mut self.sessions);
            }
            None => self.timers.set(id, next, &mut self.sessions),
        }
    }
}

/// Session `s` if open (sessions first, the common case: an ID names an opening or a session,
/// never both).
fn open_in<'a>(
    sessions: &'a mut timers::IdMap<timers::Filed>,
    openings: &SortedMap<u32, Opening>,
    s: SessionId,
) -> Result<&'a mut Session, SessionError> {
    match sessions.get_mut(&s.0) {
        Some(sess) if sess.is_open() => Ok(sess),
        Some(_) => Err(SessionError::NotOpen),
        None if openings.contains_key(&s.0) => Err(SessionError::NotOpen),
        None => Err(SessionError::UnknownSession),
    }
}

/// Sends what `sess` (session `id`) may send now into `out`; returns whether it is closed and its next
/// deadline, read while it is at hand (one lookup of the session per flush, the simulator's
/// hottest path). `tc_received`: the endpoint's last time-critical reception. Packets are
/// built in the thread's scratch buffer ([`crate::scratch`]).
fn flush_session(
    sess: &mut Session,
    id: u32,
    now: Instant,
    tc_received: Option<(Instant, u32)>,
    out: &mut VecDeque<Transmit>,
) -> (bool, Option<Instant>) {
    let tcr = tc_received
        .is_some_and(|(t, s)| s != id && now.saturating_duration_since(t) < TIME_CRITICAL_WINDOW);
    crate::scratch::with_scratch(|scratch| {
        let mut ctx = TxContext {
            now,
            ticks: Endpoint::ticks(now),
            time_critical_reverse: tcr,
            out,
            scratch,
        };
        sess.flush(&mut ctx);
    });
    (sess.state == State::Closed, sess.next_timeout())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::{KeyingRecord, Role, SessionParams};
    use rand_chacha::rand_core::SeedableRng;

    fn responder(id: u32, far: SocketAddr) -> Session {
        let keys = crate::crypto::SessionKeys {
            cipher: crate::crypto::SessionCipher::Boxed(Box::new(
                crate::crypto::plain::PlainCipher::default(),
            )),
            near_nonce: [1; 32],
            far_nonce: [2; 32],
        };
        let p = SessionParams {
            id: SessionId(id),
            role: Role::Responder,
            far_session_id: 40 + id,
            far_addr: far,
            far_fingerprint: [3; 32],
            keys,
            rikeying: None,
        };
        Session::new(Instant::ZERO, p, &Config::default())
    }

    /// A responder's duplicate-IIKeying index entry goes with the session, whether the
    /// session still has its keying address or moved since (RFC 7016 §3.5.4.2); another
    /// session's entry stays.
    #[test]
    fn forget_keying_finds_moved_sessions() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let crypto = Box::new(crate::crypto::plain::PlainProfile::new(&mut rng, false));
        let mut ep = Endpoint::new(Config::default(), crypto, [0; 32]);
        let a: SocketAddr = "10.0.0.1:1935".parse().unwrap();
        let b: SocketAddr = "10.0.0.2:1935".parse().unwrap();
        let sessions: Vec<Session> = [(1, a), (2, b), (3, a)]
            .into_iter()
            .map(|(id, far)| {
                let s = responder(id, far);
                let record = KeyingRecord {
                    session: id,
                    skic_digest: [id as u8; 32],
                };
                ep.by_far.insert((far, s.far_session_id), record);
                s
            })
            .collect();
        assert_eq!(ep.by_far.len(), 3);
        let [s1, mut s2, s3] = <[Session; 3]>::try_from(sessions).ok().unwrap();
        ep.forget_keying(1, &s1);
        assert_eq!(ep.by_far.len(), 2);
        s2.far_addr = "10.9.9.9:7".parse().unwrap();
        ep.forget_keying(2, &s2);
        assert_eq!(ep.by_far.len(), 1);
        let left: Vec<u32> = ep.by_far.values().map(|k| k.session).collect();
        assert_eq!(left, vec![3]);
        // An initiator has no entry, and forgetting it touches none.
        let mut init = responder(3, a);
        init.role = Role::Initiator;
        ep.forget_keying(3, &init);
        assert_eq!(ep.by_far.len(), 1);
        ep.forget_keying(3, &s3);
        assert_eq!(ep.by_far.len(), 0);
    }
}
