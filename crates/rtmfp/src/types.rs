//! Public types of the endpoint and its sessions: configuration, handles, events, transmits,
//! errors, statistics. A leaf module: the endpoint and the sessions both use it.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

/// Handle of a session (or of an opening session): our own session ID, the value the far end
/// puts in the packets it sends us (RFC 7016 §2.2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId(pub u32);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination address.
    pub dst: SocketAddr,
    /// UDP payload: scrambled session ID and sealed packet.
    pub payload: Bytes,
}

/// Endpoint settings. `Config::default()` matches Flash-era peers.
#[derive(Debug, Clone)]
pub struct Config {
    /// Send an empty Ping after this long without traffic; zero disables keepalive. Flash
    /// servers tell clients 15 s (server) and 10 s (peers) (docs/protocol/session.md, "Keepalive,
    /// close and mobility"). Default 15 s.
    pub keepalive_period: Duration,
    /// Close a session after this long without receiving anything. Default 120 s
    /// (the retransmit limit of docs/protocol/session.md, "Loss detection and timeouts").
    pub idle_timeout: Duration,
    /// Receive buffer per flow, bytes; advertised in acks in 1024-byte blocks. Default 4 MiB.
    pub recv_buffer: usize,
    /// Send buffer per flow, bytes: `write` fails with `BufferFull` beyond it. Default 16 MiB.
    pub send_buffer: usize,
    /// Maximum segment size for congestion control, bytes. Default 1152.
    pub mss: usize,
    /// Most open and opening sessions. Default 10 000.
    pub max_sessions: usize,
    /// Most undelivered events; unmatched-IHello events beyond it are dropped. Default 4096.
    pub max_events: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            keepalive_period: Duration::from_secs(15),
            idle_timeout: Duration::from_secs(120),
            recv_buffer: 4 << 20,
            send_buffer: 16 << 20,
            mss: 1152,
            max_sessions: 10_000,
            max_events: 4096,
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// We closed it.
    Local,
    /// The far end sent a Close Request.
    Remote,
    /// The far end closed abruptly (an unsolicited Close Acknowledgement, as librtmfp does).
    Aborted,
    /// Nothing was received for the idle timeout.
    Timeout,
    /// A new session from the same peer replaced it (RFC 7016 §3.5.1.2, override).
    Replaced,
}

/// Why an opening session failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectFailure {
    /// No answer within 95 s (docs/protocol/session.md, "Handshake retransmission and glare").
    Timeout,
    /// Keying failed: no common DH group, bad component, or a feature we decline.
    Keying,
    /// Reserved for glare (RFC 7016 §3.5.1.3). Not emitted by this endpoint: when the far end
    /// opens a session to us at the same time and wins, the handle `connect` returned is
    /// reused for the far end's session, reported as `SessionOpened { role: Responder }`.
    Glare,
}

/// Something the application should know, from [`crate::Endpoint::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A session opened (from `connect`, or a far end that connected to us).
    SessionOpened {
        /// The session.
        session: SessionId,
        /// Far address.
        far_addr: SocketAddr,
        /// Far end's certificate fingerprint (Flash peer ID).
        far_fingerprint: [u8; 32],
        /// Our role.
        role: Role,
    },
    /// An opening session failed.
    ConnectFailed {
        /// The handle `connect` returned.
        session: SessionId,
        /// Why.
        reason: ConnectFailure,
    },
    /// A session ended.
    SessionClosed {
        /// The session.
        session: SessionId,
        /// Why.
        reason: CloseReason,
    },
    /// The far end opened a flow to us.
    FlowOpened {
        /// The session.
        session: SessionId,
        /// The far end's flow ID.
        flow: u64,
        /// Per-flow metadata (Flash: `TC 04 <stream id>`, `GC`, `GR ..`).
        metadata: Vec<u8>,
        /// Our sending flow this flow answers, if any.
        return_association: Option<u64>,
    },
    /// A complete message arrived on a received flow.
    Message {
        /// The session.
        session: SessionId,
        /// The far end's flow ID.
        flow: u64,
        /// The message.
        data: Bytes,
    },
    /// A received flow ended (FIN received, everything delivered).
    FlowEnded {
        /// The session.
        session: SessionId,
        /// The far end's flow ID.
        flow: u64,
    },
    /// The far end rejected one of our sending flows (Flow Exception Report).
    FlowRejected {
        /// The session.
        session: SessionId,
        /// Our flow ID.
        flow: u64,
        /// Exception code.
        code: u64,
    },
    /// One of our sending flows finished: closed and fully acknowledged.
    FlowFinished {
        /// The session.
        session: SessionId,
        /// Our flow ID.
        flow: u64,
    },
    /// An IHello whose endpoint discriminator does not select us: a rendezvous service may
    /// forward it ([`crate::Endpoint::forward_ihello`]) or redirect
    /// ([`crate::Endpoint::redirect`]).
    UnmatchedIHello {
        /// The initiator's address as observed.
        from: SocketAddr,
        /// The endpoint discriminator.
        epd: Vec<u8>,
        /// The initiator's tag.
        tag: Vec<u8>,
    },
    /// The far end moved to a new address, verified by a ping round trip (RFC 7016 §3.5.4.2).
    AddressChanged {
        /// The session.
        session: SessionId,
        /// New far address.
        addr: SocketAddr,
    },
}

/// Why a received datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Shorter than a session ID plus one block.
    Short,
    /// Failed to decrypt or checksum (wrong key, corruption, forgery, replay into a new key).
    Decrypt,
    /// Packet header malformed.
    Malformed,
    /// Mode bits wrong for the context.
    BadMode,
    /// Session ID unknown.
    UnknownSession,
    /// Session already closed.
    SessionClosed,
    /// IIKeying with an invalid or expired cookie.
    BadCookie,
    /// Keying material rejected.
    BadKeying,
    /// A startup chunk that makes no sense here (e.g. RHello with an unknown tag).
    Unexpected,
    /// IIKeying ignored because we won glare.
    Glare,
    /// A configured limit was reached.
    Limit,
}

/// Dropped-datagram counters, one per [`DropReason`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DropStats {
    /// [`DropReason::Short`].
    pub short: u64,
    /// [`DropReason::Decrypt`].
    pub decrypt: u64,
    /// [`DropReason::Malformed`].
    pub malformed: u64,
    /// [`DropReason::BadMode`].
    pub bad_mode: u64,
    /// [`DropReason::UnknownSession`].
    pub unknown_session: u64,
    /// [`DropReason::SessionClosed`].
    pub session_closed: u64,
    /// [`DropReason::BadCookie`].
    pub bad_cookie: u64,
    /// [`DropReason::BadKeying`].
    pub bad_keying: u64,
    /// [`DropReason::Unexpected`].
    pub unexpected: u64,
    /// [`DropReason::Glare`].
    pub glare: u64,
    /// [`DropReason::Limit`].
    pub limit: u64,
}

impl DropStats {
    /// Counts one drop.
    pub fn record(&mut self, reason: DropReason) {
        let c = match reason {
            DropReason::Short => &mut self.short,
            DropReason::Decrypt => &mut self.decrypt,
            DropReason::Malformed => &mut self.malformed,
            DropReason::BadMode => &mut self.bad_mode,
            DropReason::UnknownSession => &mut self.unknown_session,
            DropReason::SessionClosed => &mut self.session_closed,
            DropReason::BadCookie => &mut self.bad_cookie,
            DropReason::BadKeying => &mut self.bad_keying,
            DropReason::Unexpected => &mut self.unexpected,
            DropReason::Glare => &mut self.glare,
            DropReason::Limit => &mut self.limit,
        };
        *c += 1;
    }

    /// All drops.
    pub fn total(&self) -> u64 {
        self.short
            + self.decrypt
            + self.malformed
            + self.bad_mode
            + self.unknown_session
            + self.session_closed
            + self.bad_cookie
            + self.bad_keying
            + self.unexpected
            + self.glare
            + self.limit
    }
}

/// Endpoint counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointStats {
    /// Datagrams received.
    pub packets_in: u64,
    /// Datagrams handed out by `poll_transmit`.
    pub packets_out: u64,
    /// UDP payload bytes received.
    pub bytes_in: u64,
    /// UDP payload bytes handed out.
    pub bytes_out: u64,
    /// Datagrams dropped, by reason.
    pub dropped: DropStats,
    /// Malformed chunks skipped inside accepted packets.
    pub malformed_chunks: u64,
    /// Sessions opened as initiator.
    pub opened_as_initiator: u64,
    /// Sessions opened as responder (completed handshakes).
    pub opened_as_responder: u64,
    /// Openings that failed.
    pub connect_failures: u64,
    /// IHellos that did not select us.
    pub unmatched_ihellos: u64,
    /// Duplicate IIKeyings answered with the stored RIKeying.
    pub rikeying_retransmits: u64,
    /// RHello Cookie Changes sent.
    pub cookie_changes: u64,
}

/// A snapshot of one session.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionInfo {
    /// Our role in the handshake.
    pub role: Role,
    /// Far address.
    pub far_addr: SocketAddr,
    /// Far end's fingerprint (Flash `farID`).
    pub far_fingerprint: [u8; 32],
    /// Our session nonce (Flash `nearNonce`), 32 bytes.
    pub near_nonce: Vec<u8>,
    /// Far session nonce (Flash `farNonce`), 32 bytes.
    pub far_nonce: Vec<u8>,
    /// Whether the session is open (not closing or closed).
    pub open: bool,
    /// Counters, RTT and congestion window.
    pub stats: SessionStats,
}

/// Which end of the handshake this session was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent IHello / IIKeying.
    Initiator,
    /// We answered with RHello / RIKeying.
    Responder,
}

/// Statistics of one session.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SessionStats {
    /// Packets received and accepted.
    pub packets_in: u64,
    /// Packets sent.
    pub packets_out: u64,
    /// Application bytes delivered from received flows.
    pub bytes_delivered: u64,
    /// Data fragments retransmitted.
    pub retransmissions: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Smoothed RTT, if measured.
    pub srtt: Option<Duration>,
    /// Current effective retransmission timeout.
    pub erto: Duration,
    /// Congestion window, bytes.
    pub cwnd: usize,
    /// Bytes in flight.
    pub in_flight: usize,
}
