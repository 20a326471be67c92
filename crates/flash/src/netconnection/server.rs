//! The server side of NetConnections (RFC 7425 §5.3; docs/protocol/flash.md, "NetConnection
//! sequence"): accept or reject `connect` by application path, answer `_result` with the client's
//! identity, send Set Keepalive Timer, keep what clients report with `setPeerInfo`, answer
//! `createStream`.
//!
//! Like the client, [`NetConnectionServer`] works on an [`Endpoint`] it does not own and
//! consumes the endpoint events that belong to NetConnection flows; everything else (NetGroup
//! `GC` flows, unmatched IHellos) goes back to the owner.

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rtmfp::{Endpoint, Event, Instant, Priority, SessionId};

use crate::amf::{string, Value};
use crate::command::{codes, Command, ConnectParams, Status};
use crate::message::{kind, TcMessage};
use crate::metadata::FlowSignature;
use crate::user_control::UserControl;

/// Most addresses kept from one `setPeerInfo` (Flash keeps 7 per peer, docs/protocol/netgroup.md,
/// "Maintenance timers").
pub const MAX_REPORTED_ADDRESSES: usize = 8;

/// Largest message accepted on a NetConnection flow, bytes.
pub const MAX_CONTROL_MESSAGE: usize = 16 * 1024;

/// Settings of the NetConnection server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Application paths accepted; `None` accepts any (the default).
    pub applications: Option<Vec<String>>,
    /// Keepalive the server asks clients to use toward it (Set Keepalive Timer). Default 15 s,
    /// as Cumulus and MonaServer (docs/protocol/session.md, "Keepalive, close and mobility").
    pub server_keepalive: Duration,
    /// Keepalive clients should use for peer-to-peer sessions. Default 10 s.
    pub peer_keepalive: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            applications: None,
            server_keepalive: Duration::from_secs(15),
            peer_keepalive: Duration::from_secs(10),
        }
    }
}

/// A connected client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// Its session.
    pub session: SessionId,
    /// Its peer ID (certificate fingerprint).
    pub peer_id: [u8; 32],
    /// Its address as we see it.
    pub observed: SocketAddr,
    /// The application path it connected to.
    pub app: String,
    /// Addresses it reported with `setPeerInfo`.
    pub reported: Vec<SocketAddr>,
    /// Its NetConnection flow (its flow ID): its NetGroup `GC` flows are associated with our
    /// return flow.
    pub client_flow: u64,
    /// Our return flow (F_s).
    pub server_flow: u64,
}

/// What the server reports to its owner.
#[derive(Debug, Clone, PartialEq)]
pub enum ServerEvent {
    /// A client's `connect` was accepted.
    Connected(ClientInfo),
    /// A client's `connect` was refused (unknown application path).
    Rejected {
        /// Its session (closed once the `_error` is delivered).
        session: SessionId,
        /// The application path it asked for.
        app: String,
    },
    /// A client reported its addresses.
    PeerInfo {
        /// Its session.
        session: SessionId,
        /// The addresses (at most [`MAX_REPORTED_ADDRESSES`]).
        addresses: Vec<SocketAddr>,
    },
    /// A connected client's NetConnection ended (flow closed, session closed or timed out).
    Disconnected {
        /// Its session.
        session: SessionId,
        /// Its peer ID.
        peer_id: [u8; 32],
    },
    /// A command from a connected client that the server does not handle itself; it was
    /// answered with `_error` when it had a transaction ID.
    Command {
        /// Its session.
        session: SessionId,
        /// The command.
        command: Command,
    },
}

/// Why a message from a client was dropped (counted in [`ServerCounters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerCounters {
    /// `connect` accepted.
    pub accepted: u64,
    /// `connect` refused.
    pub rejected: u64,
    /// Malformed messages or AMF.
    pub malformed: u64,
    /// Messages over [`MAX_CONTROL_MESSAGE`].
    pub oversized: u64,
    /// Commands we do not implement.
    pub unknown_commands: u64,
}

#[derive(Debug)]
struct Pending {
    flow: u64,
}

/// Server-side NetConnection bookkeeping for every session of one endpoint.
#[derive(Debug, Default)]
pub struct NetConnectionServer {
    config: ServerConfig,
    /// NetConnection flows opened by clients that have not connected yet.
    pending: BTreeMap<SessionId, Pending>,
    clients: BTreeMap<SessionId, ClientInfo>,
    /// Sessions being rejected: closed when our `_error` flow finishes or at the deadline.
    rejecting: BTreeMap<SessionId, Instant>,
    next_stream: BTreeMap<SessionId, f64>,
    events: VecDeque<ServerEvent>,
    counters: ServerCounters,
}

/// How long a rejected client's session lingers for the `_error` to be delivered.
const REJECT_LINGER: Duration = Duration::from_secs(5);

impl NetConnectionServer {
    /// A server with `config`.
    pub fn new(config: ServerConfig) -> Self {
        NetConnectionServer {
            config,
            ..Default::default()
        }
    }

    /// The connected client on session `s`.
    pub fn client(&self, s: SessionId) -> Option<&ClientInfo> {
        self.clients.get(&s)
    }

    /// Every connected client, by session.
    pub fn clients(&self) -> impl Iterator<Item = &ClientInfo> {
        self.clients.values()
    }

    /// Number of connected clients.
    pub fn client_count(&self) -> usize {
        self.clients.len()
    }

    /// Counters.
    pub fn counters(&self) -> ServerCounters {
        self.counters
    }

    /// Next event, if any.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`NetConnectionServer::handle_timeout`] wants to be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.rejecting.values().min().copied()
    }

    /// Closes the sessions of rejected clients whose linger ended.
    pub fn handle_timeout(&mut self, ep: &mut Endpoint, now: Instant) {
        let due: Vec<SessionId> = self
            .rejecting
            .iter()
            .filter(|(_, d)| **d <= now)
            .map(|(s, _)| *s)
            .collect();
        for s in due {
            self.rejecting.remove(&s);
            ep.close(now, s);
        }
    }

    /// Drops a connected client: closes its session and reports `Disconnected`.
    pub fn disconnect(&mut self, ep: &mut Endpoint, now: Instant, s: SessionId) {
        ep.close(now, s);
        self.forget(s);
    }

    fn forget(&mut self, s: SessionId) {
        self.pending.remove(&s);
        self.rejecting.remove(&s);
        self.next_stream.remove(&s);
        if let Some(c) = self.clients.remove(&s) {
            self.events.push_back(ServerEvent::Disconnected {
                session: s,
                peer_id: c.peer_id,
            });
        }
    }

    /// Routes one endpoint event; returns `true` if consumed.
    pub fn handle_event(&mut self, ep: &mut Endpoint, now: Instant, ev: &Event) -> bool {
        match ev {
            Event::FlowOpened {
                session,
                flow,
                metadata,
                return_association: None,
            } if FlowSignature::decode(metadata)
                .is_ok_and(|s| s == FlowSignature::NET_CONNECTION) =>
            {
                if !self.clients.contains_key(session) {
                    self.pending.insert(*session, Pending { flow: *flow });
                }
                true
            }
            Event::Message {
                session,
                flow,
                data,
            } if self.is_control_flow(*session, *flow) => {
                self.on_message(ep, now, *session, *flow, data);
                true
            }
            Event::FlowEnded { session, flow } if self.is_control_flow(*session, *flow) => {
                if self.clients.contains_key(session) {
                    ep.close(now, *session);
                }
                self.forget(*session);
                true
            }
            Event::FlowFinished { session, .. } if self.rejecting.contains_key(session) => {
                self.rejecting.remove(session);
                ep.close(now, *session);
                true
            }
            Event::AddressChanged { session, addr } => {
                self.address_changed(*session, *addr);
                false
            }
            Event::SessionClosed { session, .. } => {
                self.forget(*session);
                // Others (the group layer) also want to know.
                false
            }
            _ => false,
        }
    }

    fn is_control_flow(&self, s: SessionId, flow: u64) -> bool {
        self.pending.get(&s).is_some_and(|p| p.flow == flow)
            || self.clients.get(&s).is_some_and(|c| c.client_flow == flow)
    }

    fn on_message(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        s: SessionId,
        flow: u64,
        data: &[u8],
    ) {
        if data.len() > MAX_CONTROL_MESSAGE {
            self.counters.oversized += 1;
            tracing::debug!(
                session = s.0,
                len = data.len(),
                "oversized NetConnection message"
            );
            return;
        }
        let command = TcMessage::decode(data).and_then(|m| match m.kind {
            kind::AMF0_COMMAND | kind::AMF3_COMMAND => Command::decode_message(&m).map(Some),
            _ => Ok(None),
        });
        let command = match command {
            Ok(Some(c)) => c,
            Ok(None) => return,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::debug!(session = s.0, error = %e, "malformed NetConnection message");
                return;
            }
        };
        if !self.clients.contains_key(&s) {
            if command.name == "connect" {
                self.on_connect(ep, now, s, flow, &command);
            } else {
                self.counters.malformed += 1;
                tracing::debug!(session = s.0, name = %command.name, "command before connect");
            }
            return;
        }
        match command.name.as_str() {
            "setPeerInfo" => {
                let addresses: Vec<SocketAddr> = command
                    .string_arguments()
                    .filter_map(|a| a.parse().ok())
                    .take(MAX_REPORTED_ADDRESSES)
                    .collect();
                if let Some(c) = self.clients.get_mut(&s) {
                    c.reported = addresses.clone();
                }
                self.events.push_back(ServerEvent::PeerInfo {
                    session: s,
                    addresses,
                });
            }
            "createStream" => {
                let next = self.next_stream.entry(s).or_insert(1.0);
                let id = *next;
                *next += 1.0;
                let reply = Command::new(
                    "_result",
                    command.transaction_id,
                    vec![Value::Null, Value::Number(id)],
                );
                self.send(ep, now, s, &reply);
            }
            "deleteStream" | "closeStream" => {}
            "connect" => {
                self.counters.malformed += 1;
            }
            _ => {
                self.counters.unknown_commands += 1;
                tracing::debug!(session = s.0, name = %command.name, "unknown command");
                if command.transaction_id != 0.0 {
                    let status = Status::error("NetConnection.Call.Failed", "Method not found");
                    let reply = Command::new(
                        "_error",
                        command.transaction_id,
                        vec![Value::Null, status.to_value(Vec::new())],
                    );
                    self.send(ep, now, s, &reply);
                }
                self.events.push_back(ServerEvent::Command {
                    session: s,
                    command,
                });
            }
        }
    }

    fn send(&mut self, ep: &mut Endpoint, now: Instant, s: SessionId, c: &Command) {
        if let Some(client) = self.clients.get(&s) {
            let _ = ep.write(
                now,
                s,
                client.server_flow,
                Bytes::from(c.to_message(0)),
                None,
            );
        }
    }

    fn on_connect(
        &mut self,
        ep: &mut Endpoint,
        now: Instant,
        s: SessionId,
        flow: u64,
        c: &Command,
    ) {
        let params = c
            .info()
            .map(ConnectParams::from_value)
            .unwrap_or_else(|| ConnectParams::for_url(""));
        let Some(info) = ep.session_info(s) else {
            return;
        };
        let Ok(server_flow) = ep.open_flow(
            now,
            s,
            &FlowSignature::NET_CONNECTION.encode(),
            Some(flow),
            Priority::default(),
        ) else {
            return;
        };
        self.pending.remove(&s);
        let accepted = self
            .config
            .applications
            .as_ref()
            .is_none_or(|apps| apps.iter().any(|a| a == &params.app));
        if !accepted {
            self.counters.rejected += 1;
            tracing::info!(session = s.0, app = %params.app, "connect rejected: unknown application");
            let status = Status::error(
                codes::CONNECT_REJECTED,
                &format!("unknown application {:?}", params.app),
            );
            let reply = Command::new(
                "_error",
                c.transaction_id,
                vec![Value::Null, status.to_value(Vec::new())],
            );
            let _ = ep.write(now, s, server_flow, Bytes::from(reply.to_message(0)), None);
            let _ = ep.close_flow(now, s, server_flow);
            self.rejecting.insert(s, now + REJECT_LINGER);
            self.events.push_back(ServerEvent::Rejected {
                session: s,
                app: params.app,
            });
            return;
        }
        self.counters.accepted += 1;
        let status = Status::info(codes::CONNECT_SUCCESS, "Connection succeeded");
        let reply = Command::new(
            "_result",
            c.transaction_id,
            vec![
                Value::Null,
                status.to_value(vec![
                    ("objectEncoding", Value::Number(3.0)),
                    ("farID", string(hex::encode(info.far_fingerprint))),
                    ("nearID", string(hex::encode(ep.fingerprint()))),
                    ("observedAddress", string(info.far_addr.to_string())),
                ]),
            ],
        );
        let keepalive = UserControl::SetKeepaliveTimer {
            server_ms: millis(self.config.server_keepalive),
            peer_ms: millis(self.config.peer_keepalive),
        };
        let _ = ep.write(now, s, server_flow, Bytes::from(reply.to_message(0)), None);
        let _ = ep.write(
            now,
            s,
            server_flow,
            Bytes::from(keepalive.to_message()),
            None,
        );
        let client = ClientInfo {
            session: s,
            peer_id: info.far_fingerprint,
            observed: info.far_addr,
            app: params.app,
            reported: Vec::new(),
            client_flow: flow,
            server_flow,
        };
        tracing::debug!(session = s.0, peer = %hex::encode(client.peer_id), app = %client.app, "client connected");
        self.clients.insert(s, client.clone());
        self.events.push_back(ServerEvent::Connected(client));
    }

    /// Records a verified address change of a client (RFC 7016 §3.5.4.2).
    pub fn address_changed(&mut self, s: SessionId, addr: SocketAddr) {
        if let Some(c) = self.clients.get_mut(&s) {
            c.observed = addr;
        }
    }
}

fn millis(d: Duration) -> u32 {
    d.as_millis().min(u128::from(u32::MAX)) as u32
}
