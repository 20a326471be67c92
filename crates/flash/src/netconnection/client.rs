//! The client side of a NetConnection over RTMFP (RFC 7425 §5.3; docs/protocol/flash.md,
//! "NetConnection sequence").
//!
//! [`NetConnection`] is a sans-IO state machine layered on an [`Endpoint`] it does not own:
//! every method takes the endpoint and the current time, and the owner routes the endpoint's
//! events through [`NetConnection::handle_event`], which consumes those that belong to the
//! NetConnection and hands back the others (group flows on the server session, peer-to-peer
//! sessions) to the layer above.
//!
//! Sequence: session to the server (EPD = the URL) → flow `TC 04 00` with `connect` → the
//! server's return flow with `_result` (or `_error`) → `setPeerInfo` with our local addresses
//! → Set Keepalive Timer from the server applied to the session.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rtmfp::crypto::cert::epd_for_url;
use rtmfp::{ConnectError, Endpoint, Event, Instant, Priority, SessionId, WriteError};

use crate::amf::Value;
use crate::command::{codes, set_peer_info, Command, ConnectParams, Status};
use crate::message::{kind, TcMessage};
use crate::metadata::FlowSignature;
use crate::user_control::UserControl;

/// Largest message accepted on the NetConnection flows, bytes.
pub const MAX_CONTROL_MESSAGE: usize = 64 * 1024;

/// Settings of a client NetConnection.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Addresses to report with `setPeerInfo` so the server can introduce peers to them
    /// (docs/protocol/flash.md, "NetConnection sequence" step 3). Empty reports none, as librtmfp
    /// on loopback does.
    pub local_addresses: Vec<SocketAddr>,
    /// Give up with `NetConnection.Connect.Failed` if the server has not answered `connect`
    /// this long after the session opened. Default 30 s. (Reaching the server at all is bounded
    /// by the session layer's 95 s opening timeout, docs/protocol/session.md, "Handshake
    /// retransmission and glare".)
    pub connect_timeout: Duration,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            local_addresses: Vec::new(),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// Errors of NetConnection commands.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NetConnectionError {
    /// `connect` while already connecting or connected.
    #[error("already connecting or connected")]
    AlreadyConnected,
    /// A command that needs a connected NetConnection.
    #[error("not connected")]
    NotConnected,
    /// The URL is not `rtmfp://host[:port][/app]`.
    #[error("invalid RTMFP URL {0:?}")]
    InvalidUrl(String),
    /// The session layer refused to start the session.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The session layer refused the command message (send buffer full, flow closed).
    #[error(transparent)]
    Write(#[from] WriteError),
}

/// What the NetConnection reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum NetConnectionEvent {
    /// `NetStatusEvent`: `NetConnection.Connect.Success`, `.Failed`, `.Rejected` or `.Closed`.
    Status(Status),
    /// `createStream` answered: the new stream's ID.
    StreamCreated {
        /// Transaction ID `create_stream` returned.
        transaction_id: f64,
        /// The stream ID (scoped to this NetConnection).
        stream_id: f64,
    },
    /// The answer to a [`NetConnection::call`]: `_result` (`ok`) or `_error`.
    CallResult {
        /// Transaction ID `call` returned.
        transaction_id: f64,
        /// Whether it was `_result`.
        ok: bool,
        /// The values after the transaction ID.
        arguments: Vec<Value>,
    },
    /// A command the server sent on its own initiative (`onStatus`, a server call, …).
    Command(Command),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Idle,
    Opening,
    Connecting,
    Connected,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pending {
    CreateStream,
    Call,
}

/// Client NetConnection state (see the module documentation).
#[derive(Debug)]
pub struct NetConnection {
    config: ClientConfig,
    phase: Phase,
    url: String,
    session: Option<SessionId>,
    server_addrs: Vec<SocketAddr>,
    /// Our `TC 04 00` flow (F_c).
    control_flow: Option<u64>,
    /// The server's return flow (F_s), its flow ID.
    server_flow: Option<u64>,
    next_transaction: f64,
    pending: BTreeMap<u64, Pending>,
    deadline: Option<Instant>,
    peer_keepalive: Option<Duration>,
    far_id: Option<[u8; 32]>,
    near_nonce: Vec<u8>,
    far_nonce: Vec<u8>,
    events: VecDeque<NetConnectionEvent>,
    malformed: u64,
}

impl NetConnection {
    /// An idle NetConnection.
    pub fn new(config: ClientConfig) -> Self {
        NetConnection {
            config,
            phase: Phase::Idle,
            url: String::new(),
            session: None,
            server_addrs: Vec::new(),
            control_flow: None,
            server_flow: None,
            next_transaction: 2.0,
            pending: BTreeMap::new(),
            deadline: None,
            peer_keepalive: None,
            far_id: None,
            near_nonce: Vec::new(),
            far_nonce: Vec::new(),
            events: VecDeque::new(),
            malformed: 0,
        }
    }

    /// Starts connecting to `url` (`rtmfp://host[:port]/app`) at `server_addrs` (the driver
    /// resolves the host). Progress arrives as [`NetConnectionEvent::Status`].
    ///
    /// Errors: [`NetConnectionError::AlreadyConnected`], [`NetConnectionError::InvalidUrl`],
    /// and the endpoint's `connect` errors.
    pub fn connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        url: &str,
        server_addrs: &[SocketAddr],
    ) -> Result<(), NetConnectionError> {
        if matches!(
            self.phase,
            Phase::Opening | Phase::Connecting | Phase::Connected
        ) {
            return Err(NetConnectionError::AlreadyConnected);
        }
        if !url.starts_with("rtmfp://") || url.len() <= "rtmfp://".len() {
            return Err(NetConnectionError::InvalidUrl(url.to_string()));
        }
        let session = ep.connect(now, epd_for_url(url), server_addrs)?;
        *self = NetConnection::new(self.config.clone());
        self.phase = Phase::Opening;
        self.url = url.to_string();
        self.session = Some(session);
        self.server_addrs = server_addrs.to_vec();
        Ok(())
    }

    /// Whether `connect` succeeded and the connection has not closed.
    pub fn is_connected(&self) -> bool {
        self.phase == Phase::Connected
    }

    /// The session to the server, once `connect` was called.
    pub fn session(&self) -> Option<SessionId> {
        self.session
    }

    /// The server's addresses given to `connect`.
    pub fn server_addrs(&self) -> &[SocketAddr] {
        &self.server_addrs
    }

    /// The server's NetConnection flow (its flow ID): flows the client opens for NetStreams
    /// and NetGroups are return-associated with it (docs/protocol/flash.md, "NetConnection
    /// sequence" step 6, "NetGroup control flow").
    pub fn server_flow(&self) -> Option<u64> {
        self.server_flow
    }

    /// Our NetConnection flow ID (2 when we opened the session, as Flash).
    pub fn control_flow(&self) -> Option<u64> {
        self.control_flow
    }

    /// Flash `farID`: the server's peer ID (fingerprint), once the session is open.
    pub fn far_id(&self) -> Option<[u8; 32]> {
        self.far_id
    }

    /// Flash `nearNonce` (32 bytes, empty before the session opens).
    pub fn near_nonce(&self) -> &[u8] {
        &self.near_nonce
    }

    /// Flash `farNonce` (32 bytes, empty before the session opens).
    pub fn far_nonce(&self) -> &[u8] {
        &self.far_nonce
    }

    /// The keepalive period the server asked for peer-to-peer sessions (Set Keepalive Timer).
    pub fn peer_keepalive(&self) -> Option<Duration> {
        self.peer_keepalive
    }

    /// Messages refused as malformed on the NetConnection flows.
    pub fn malformed_messages(&self) -> u64 {
        self.malformed
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<NetConnectionEvent> {
        rtmfp_collections::pop_front_lean(&mut self.events)
    }

    /// When [`NetConnection::handle_timeout`] wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.deadline
    }

    /// Fails the connection if the server has not answered `connect` in time.
    pub fn handle_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        if self.deadline.is_some_and(|d| now >= d) {
            self.deadline = None;
            if self.phase == Phase::Connecting {
                self.fail(ep, now, codes::CONNECT_FAILED, "no answer to connect");
            }
        }
    }

    /// Sends `createStream`; the answer arrives as [`NetConnectionEvent::StreamCreated`].
    /// Returns the transaction ID. Errors: [`NetConnectionError::NotConnected`].
    pub fn create_stream(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
    ) -> Result<f64, NetConnectionError> {
        self.send_transaction(
            ep,
            now,
            "createStream",
            vec![Value::Null],
            Pending::CreateStream,
        )
    }

    /// Calls a server method (`NetConnection.call`); the answer arrives as
    /// [`NetConnectionEvent::CallResult`]. Returns the transaction ID.
    /// Errors: [`NetConnectionError::NotConnected`].
    pub fn call(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        name: &str,
        arguments: Vec<Value>,
    ) -> Result<f64, NetConnectionError> {
        let mut args = vec![Value::Null];
        args.extend(arguments);
        self.send_transaction(ep, now, name, args, Pending::Call)
    }

    /// Closes the NetConnection and its session. Reports `NetConnection.Connect.Closed`.
    pub fn close(&mut self, ep: &mut Endpoint, now: Instant) {
        if let Some(s) = self.session {
            if matches!(
                self.phase,
                Phase::Opening | Phase::Connecting | Phase::Connected
            ) {
                ep.close(now, s);
                self.finish(codes::CONNECT_CLOSED, "closed by the application", false);
            }
        }
    }

    fn send_transaction(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        name: &str,
        arguments: Vec<Value>,
        pending: Pending,
    ) -> Result<f64, NetConnectionError> {
        let (Phase::Connected, Some(s), Some(flow)) = (self.phase, self.session, self.control_flow)
        else {
            return Err(NetConnectionError::NotConnected);
        };
        let tid = self.next_transaction;
        self.next_transaction += 1.0;
        let msg = Command::new(name, tid, arguments).to_message(0);
        ep.write(now, s, flow, Bytes::from(msg), None)?;
        self.pending.insert(tid as u64, pending);
        Ok(tid)
    }

    fn fail(&mut self, ep: &mut Endpoint, now: Instant, code: &str, why: &str) {
        if let Some(s) = self.session {
            ep.close(now, s);
        }
        self.finish(code, why, true);
    }

    fn finish(&mut self, code: &str, description: &str, error: bool) {
        self.phase = Phase::Closed;
        self.deadline = None;
        self.pending.clear();
        let status = if error {
            Status::error(code, description)
        } else {
            Status::info(code, description)
        };
        self.events.push_back(NetConnectionEvent::Status(status));
    }

    /// Routes one endpoint event. Returns `true` if it belonged to this NetConnection (and was
    /// consumed), `false` if the owner should handle it.
    pub fn handle_event(&mut self, ep: &mut Endpoint, now: Instant, ev: &Event) -> bool {
        let Some(ours) = self.session else {
            return false;
        };
        match ev {
            Event::SessionOpened { session, .. } if *session == ours => {
                self.on_session_opened(ep, now);
                true
            }
            Event::ConnectFailed { session, reason } if *session == ours => {
                if self.phase == Phase::Opening {
                    let why = format!("server unreachable: {reason:?}");
                    self.finish(codes::CONNECT_FAILED, &why, true);
                }
                true
            }
            Event::SessionClosed { session, .. } if *session == ours => {
                match self.phase {
                    Phase::Connected => self.finish(codes::CONNECT_CLOSED, "session closed", false),
                    Phase::Opening | Phase::Connecting => {
                        self.finish(codes::CONNECT_FAILED, "session closed", true)
                    }
                    Phase::Idle | Phase::Closed => {}
                }
                true
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                return_association,
            } if *session == ours
                && self.control_flow.is_some()
                && *return_association == self.control_flow
                && FlowSignature::decode(metadata)
                    .is_ok_and(|s| s == FlowSignature::NET_CONNECTION) =>
            {
                self.server_flow = Some(*flow);
                true
            }
            Event::Message {
                session,
                flow,
                data,
            } if *session == ours && Some(*flow) == self.server_flow => {
                self.on_control_message(ep, now, data);
                true
            }
            Event::FlowEnded { session, flow }
                if *session == ours && Some(*flow) == self.server_flow =>
            {
                if self.phase == Phase::Connected {
                    ep.close(now, ours);
                    self.finish(
                        codes::CONNECT_CLOSED,
                        "server closed the NetConnection",
                        false,
                    );
                }
                true
            }
            Event::FlowRejected { session, flow, .. }
                if *session == ours && Some(*flow) == self.control_flow =>
            {
                if self.phase == Phase::Connecting {
                    self.fail(ep, now, codes::CONNECT_REJECTED, "server rejected the flow");
                } else if self.phase == Phase::Connected {
                    ep.close(now, ours);
                    self.finish(
                        codes::CONNECT_CLOSED,
                        "server closed the NetConnection",
                        false,
                    );
                }
                true
            }
            Event::FlowFinished { session, flow }
                if *session == ours && Some(*flow) == self.control_flow =>
            {
                true
            }
            _ => false,
        }
    }

    fn on_session_opened(&mut self, ep: &mut Endpoint, now: Instant) {
        if self.phase != Phase::Opening {
            return;
        }
        let Some(s) = self.session else {
            return;
        };
        if let Some(info) = ep.session_info(s) {
            self.far_id = Some(info.far_fingerprint);
            self.near_nonce = info.near_nonce;
            self.far_nonce = info.far_nonce;
        }
        let opened = ep
            .open_flow(
                now,
                s,
                &FlowSignature::NET_CONNECTION.encode(),
                None,
                Priority::default(),
            )
            .map_err(|e| e.to_string())
            .and_then(|flow| {
                self.control_flow = Some(flow);
                let connect = ConnectParams::for_url(&self.url).to_command();
                ep.write(now, s, flow, Bytes::from(connect.to_message(0)), None)
                    .map_err(|e| e.to_string())
            });
        match opened {
            Ok(()) => {
                self.phase = Phase::Connecting;
                self.deadline = Some(now + self.config.connect_timeout);
            }
            Err(e) => self.fail(ep, now, codes::CONNECT_FAILED, &e),
        }
    }

    fn on_control_message(&mut self, ep: &mut Endpoint, now: Instant, data: &[u8]) {
        if data.len() > MAX_CONTROL_MESSAGE {
            self.malformed += 1;
            return;
        }
        let Ok(msg) = TcMessage::decode(data) else {
            self.malformed += 1;
            return;
        };
        match msg.kind {
            kind::USER_CONTROL => match UserControl::decode(msg.payload) {
                Ok(UserControl::SetKeepaliveTimer { server_ms, peer_ms }) => {
                    // Clamp to at least 5 s as zenomt does (docs/protocol/flash.md, "NetConnection
                    // sequence" step 4).
                    let server = Duration::from_millis(u64::from(server_ms.max(5_000)));
                    if let Some(s) = self.session {
                        let _ = ep.set_keepalive(s, server);
                    }
                    self.peer_keepalive =
                        Some(Duration::from_millis(u64::from(peer_ms.max(5_000))));
                }
                Ok(_) => {}
                Err(_) => self.malformed += 1,
            },
            kind::AMF0_COMMAND | kind::AMF3_COMMAND => match Command::decode_message(&msg) {
                Ok(c) => self.on_command(ep, now, c),
                Err(e) => {
                    tracing::debug!(error = %e, "malformed command from server");
                    self.malformed += 1;
                }
            },
            _ => {}
        }
    }

    fn on_command(&mut self, ep: &mut Endpoint, now: Instant, c: Command) {
        let ok = match c.name.as_str() {
            "_result" => true,
            "_error" => false,
            _ => {
                self.events.push_back(NetConnectionEvent::Command(c));
                return;
            }
        };
        if self.phase == Phase::Connecting && c.transaction_id == 1.0 {
            self.deadline = None;
            let status = c.info().and_then(Status::from_value);
            if ok {
                self.phase = Phase::Connected;
                let status = status.unwrap_or_else(|| {
                    Status::info(codes::CONNECT_SUCCESS, "Connection succeeded")
                });
                self.events.push_back(NetConnectionEvent::Status(status));
                if let (Some(s), Some(flow)) = (self.session, self.control_flow) {
                    let info = set_peer_info(&self.config.local_addresses);
                    let _ = ep.write(now, s, flow, Bytes::from(info.to_amf3_message(0)), None);
                }
            } else {
                let mut status = status.unwrap_or_else(|| {
                    Status::error(codes::CONNECT_REJECTED, "Connection rejected")
                });
                if status.code != codes::CONNECT_INVALID_APP {
                    status.code = codes::CONNECT_REJECTED.into();
                }
                if let Some(s) = self.session {
                    ep.close(now, s);
                }
                self.phase = Phase::Closed;
                self.events.push_back(NetConnectionEvent::Status(status));
            }
            return;
        }
        match self.pending.remove(&(c.transaction_id as u64)) {
            Some(Pending::CreateStream) if ok => {
                let stream_id = c
                    .arguments
                    .iter()
                    .find_map(|v| match v {
                        Value::Number(n) => Some(*n),
                        _ => None,
                    })
                    .unwrap_or(0.0);
                self.events.push_back(NetConnectionEvent::StreamCreated {
                    transaction_id: c.transaction_id,
                    stream_id,
                });
            }
            Some(_) => self.events.push_back(NetConnectionEvent::CallResult {
                transaction_id: c.transaction_id,
                ok,
                arguments: c.arguments,
            }),
            None => self.malformed += 1,
        }
    }
}
