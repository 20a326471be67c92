//! The drive loop: `handle_datagram` / `handle_timeout`, then drain transmits, then events, then
//! sleep until `poll_timeout`, a datagram or a command.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rand::RngCore;
use rtmfp::{Config, CryptoProfile, Endpoint, EndpointError, Event, Instant, Priority, SessionId};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Errors of the async handle.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The endpoint refused the command.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The driver task has stopped.
    #[error("driver stopped")]
    Stopped,
    /// Socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

type Reply<T> = oneshot::Sender<Result<T, EndpointError>>;

enum Command {
    Connect {
        epd: Vec<u8>,
        addrs: Vec<SocketAddr>,
        reply: Reply<SessionId>,
    },
    OpenFlow {
        session: SessionId,
        metadata: Vec<u8>,
        assoc: Option<u64>,
        priority: Priority,
        reply: Reply<u64>,
    },
    Write {
        session: SessionId,
        flow: u64,
        data: Bytes,
        reply: Reply<()>,
    },
    CloseFlow {
        session: SessionId,
        flow: u64,
        reply: Reply<()>,
    },
    Close {
        session: SessionId,
    },
    Stats {
        reply: oneshot::Sender<rtmfp::EndpointStats>,
    },
    Info {
        session: SessionId,
        reply: oneshot::Sender<Option<rtmfp::SessionInfo>>,
    },
}

/// Async handle to a running endpoint. Cheap to clone; the driver stops when every handle and
/// the event stream are dropped.
#[derive(Clone, Debug)]
pub struct EndpointHandle {
    tx: mpsc::Sender<Command>,
    local_addr: SocketAddr,
    fingerprint: [u8; 32],
}

/// Stream of endpoint events. Bounded: while it is full the driver stops taking messages out of
/// the flows, so receive windows close and the far end slows down (backpressure).
#[derive(Debug)]
pub struct Events {
    rx: mpsc::Receiver<Event>,
}

impl Events {
    /// Next event; `None` once the driver stopped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.rx.recv().await
    }
}

impl EndpointHandle {
    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This endpoint's fingerprint (Flash peer ID).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    async fn call<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| DriverError::Stopped)?;
        Ok(rx.await.map_err(|_| DriverError::Stopped)??)
    }

    /// Starts opening a session ([`Endpoint::connect`]); completion arrives as an event.
    pub async fn connect(
        &self,
        epd: Vec<u8>,
        addrs: Vec<SocketAddr>,
    ) -> Result<SessionId, DriverError> {
        self.call(|reply| Command::Connect { epd, addrs, reply })
            .await
    }

    /// Opens a sending flow ([`Endpoint::open_flow`]).
    pub async fn open_flow(
        &self,
        session: SessionId,
        metadata: Vec<u8>,
        return_association: Option<u64>,
        priority: Priority,
    ) -> Result<u64, DriverError> {
        self.call(|reply| Command::OpenFlow {
            session,
            metadata,
            assoc: return_association,
            priority,
            reply,
        })
        .await
    }

    /// Queues one message; waits while the flow's send buffer is full.
    pub async fn write(
        &self,
        session: SessionId,
        flow: u64,
        data: Bytes,
    ) -> Result<(), DriverError> {
        self.call(|reply| Command::Write {
            session,
            flow,
            data,
            reply,
        })
        .await
    }

    /// Closes a sending flow after its queued messages.
    pub async fn close_flow(&self, session: SessionId, flow: u64) -> Result<(), DriverError> {
        self.call(|reply| Command::CloseFlow {
            session,
            flow,
            reply,
        })
        .await
    }

    /// Closes a session in order.
    pub async fn close(&self, session: SessionId) -> Result<(), DriverError> {
        self.tx
            .send(Command::Close { session })
            .await
            .map_err(|_| DriverError::Stopped)
    }

    /// Endpoint counters.
    pub async fn stats(&self) -> Result<rtmfp::EndpointStats, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Stats { reply })
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Snapshot of a session.
    pub async fn session_info(
        &self,
        session: SessionId,
    ) -> Result<Option<rtmfp::SessionInfo>, DriverError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Command::Info { session, reply })
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
}

/// Binds `addr`, seeds the endpoint from OS randomness and spawns the drive loop on the current
/// tokio runtime. `event_capacity` bounds the event stream.
pub async fn spawn(
    addr: SocketAddr,
    config: Config,
    profile: Box<dyn CryptoProfile>,
    event_capacity: usize,
) -> Result<(EndpointHandle, Events), DriverError> {
    let socket = UdpSocket::bind(addr).await?;
    let local_addr = socket.local_addr()?;
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    let endpoint = Endpoint::new(config, profile, seed);
    let fingerprint = endpoint.fingerprint();
    let (tx, cmd_rx) = mpsc::channel(64);
    let (ev_tx, rx) = mpsc::channel(event_capacity.max(1));
    tokio::spawn(run(socket, endpoint, cmd_rx, ev_tx));
    Ok((
        EndpointHandle {
            tx,
            local_addr,
            fingerprint,
        },
        Events { rx },
    ))
}

struct PendingWrite {
    session: SessionId,
    flow: u64,
    data: Bytes,
    reply: Reply<()>,
}

struct Loop {
    socket: UdpSocket,
    ep: Endpoint,
    start: tokio::time::Instant,
    writes: VecDeque<PendingWrite>,
}

impl Loop {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn command(&mut self, cmd: Command) {
        let now = self.now();
        match cmd {
            Command::Connect { epd, addrs, reply } => {
                let _ = reply.send(self.ep.connect(now, epd, &addrs));
            }
            Command::OpenFlow {
                session,
                metadata,
                assoc,
                priority,
                reply,
            } => {
                let _ = reply.send(self.ep.open_flow(now, session, &metadata, assoc, priority));
            }
            Command::Write {
                session,
                flow,
                data,
                reply,
            } => {
                self.writes.push_back(PendingWrite {
                    session,
                    flow,
                    data,
                    reply,
                });
                self.retry_writes();
            }
            Command::CloseFlow {
                session,
                flow,
                reply,
            } => {
                let _ = reply.send(self.ep.close_flow(now, session, flow));
            }
            Command::Close { session } => self.ep.close(now, session),
            Command::Stats { reply } => {
                let _ = reply.send(self.ep.stats().clone());
            }
            Command::Info { session, reply } => {
                let _ = reply.send(self.ep.session_info(session));
            }
        }
    }

    /// Writes in arrival order; the first one that does not fit waits for acknowledgements.
    fn retry_writes(&mut self) {
        let now = self.now();
        while let Some(w) = self.writes.pop_front() {
            match self.ep.write(now, w.session, w.flow, w.data.clone(), None) {
                Err(EndpointError::BufferFull) => {
                    self.writes.push_front(w);
                    return;
                }
                r => {
                    let _ = w.reply.send(r);
                }
            }
        }
    }

    async fn flush_transmits(&mut self) {
        while let Some(t) = self.ep.poll_transmit() {
            // UDP send errors (e.g. ICMP unreachable reported late) are not fatal to the
            // endpoint: the protocol's retransmissions and timeouts handle loss.
            if let Err(e) = self.socket.send_to(&t.payload, t.dst).await {
                tracing::debug!(error = %e, dst = %t.dst, "send_to failed");
            }
        }
    }
}

async fn run(
    socket: UdpSocket,
    ep: Endpoint,
    mut cmds: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
) {
    let mut lp = Loop {
        socket,
        ep,
        start: tokio::time::Instant::now(),
        writes: VecDeque::new(),
    };
    let mut buf = vec![0u8; 65_536];
    let mut pending_event: Option<Event> = None;
    let mut commands_open = true;
    loop {
        lp.flush_transmits().await;
        // Events, as many as the stream takes.
        loop {
            let ev = match pending_event.take().or_else(|| lp.ep.poll_event()) {
                Some(e) => e,
                None => break,
            };
            match events.try_send(ev) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(e)) => {
                    pending_event = Some(e);
                    break;
                }
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    if !commands_open {
                        return;
                    }
                    break;
                }
            }
        }
        if !commands_open && events.is_closed() {
            return;
        }
        lp.retry_writes();
        lp.flush_transmits().await;
        let deadline = lp
            .ep
            .poll_timeout()
            .map(|t| lp.start + Duration::from_micros(t.as_micros()));
        let sleep = async {
            match deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = lp.socket.recv_from(&mut buf) => {
                if let Ok((n, from)) = r {
                    let now = lp.now();
                    lp.ep.handle_datagram(now, from, &buf[..n]);
                    // Take whatever else is already queued before sending replies.
                    while let Ok((n, from)) = lp.socket.try_recv_from(&mut buf) {
                        lp.ep.handle_datagram(now, from, &buf[..n]);
                    }
                }
            }
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(c) => lp.command(c),
                None => commands_open = false,
            },
            permit = events.reserve(), if pending_event.is_some() => {
                if let (Ok(p), Some(e)) = (permit, pending_event.take()) {
                    p.send(e);
                }
            }
            _ = sleep => {
                let now = lp.now();
                lp.ep.handle_timeout(now);
            }
        }
    }
}
