//! The drive loop for any [`SansIo`] machine (an endpoint, a Flash node, the rendezvous
//! server): `handle_datagram` / `handle_timeout`, then drain transmits, then events, then
//! sleep until `poll_timeout`, a datagram or a command.
//!
//! Commands reach the machine as closures run inside the loop with the current time
//! ([`Handle::call`]); a command that must wait (a write into a full send buffer) is retried
//! after every turn of the loop until it completes ([`Handle::call_until`]), in order.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::{ConnectError, FlowError, Instant, OpenFlowError, SansIo, WriteError};

use crate::lan::{configure_sender, LanDatagram, LanMachine, LanOptions, LanSockets};
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};

/// Errors of the async handles.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The endpoint refused to start a session.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The endpoint refused to open a flow.
    #[error(transparent)]
    OpenFlow(#[from] OpenFlowError),
    /// The endpoint refused a message.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The endpoint refused to close or reject a flow.
    #[error(transparent)]
    Flow(#[from] FlowError),
    /// The driver task has stopped.
    #[error("driver stopped")]
    Stopped,
    /// Socket error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A command: returns `true` once done (a waiting command returns `false` to be retried).
type Command<M> = Box<dyn FnMut(&mut M, Instant) -> bool + Send>;

enum Msg<M> {
    Now(Command<M>),
    Waiting(Command<M>),
}

/// Async handle to a machine running in a driver task. Cheap to clone; the driver stops when
/// every handle and the event stream are dropped.
pub struct Handle<M> {
    tx: mpsc::Sender<Msg<M>>,
    local_addr: SocketAddr,
}

impl<M> Clone for Handle<M> {
    fn clone(&self) -> Self {
        Handle {
            tx: self.tx.clone(),
            local_addr: self.local_addr,
        }
    }
}

impl<M> std::fmt::Debug for Handle<M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl<M: SansIo + Send + 'static> Handle<M> {
    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Runs `f` on the machine with the current time, at once, and returns its result.
    /// Errors: [`DriverError::Stopped`].
    pub async fn call<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut M, Instant) -> R + Send + 'static,
    ) -> Result<R, DriverError> {
        let (reply, rx) = oneshot::channel();
        let mut f = Some(f);
        let mut reply = Some(reply);
        let cmd: Command<M> = Box::new(move |m, now| {
            if let (Some(f), Some(reply)) = (f.take(), reply.take()) {
                let _ = reply.send(f(m, now));
            }
            true
        });
        self.tx
            .send(Msg::Now(cmd))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }

    /// Runs `f` until it returns `Some`, retrying after every turn of the drive loop; waiting
    /// commands complete in the order they were issued. Errors: [`DriverError::Stopped`].
    pub async fn call_until<R: Send + 'static>(
        &self,
        mut f: impl FnMut(&mut M, Instant) -> Option<R> + Send + 'static,
    ) -> Result<R, DriverError> {
        let (reply, rx) = oneshot::channel();
        let mut reply = Some(reply);
        let cmd: Command<M> = Box::new(move |m, now| match f(m, now) {
            Some(r) => {
                if let Some(reply) = reply.take() {
                    let _ = reply.send(r);
                }
                true
            }
            None => false,
        });
        self.tx
            .send(Msg::Waiting(cmd))
            .await
            .map_err(|_| DriverError::Stopped)?;
        rx.await.map_err(|_| DriverError::Stopped)
    }
}

/// Stream of a machine's events. Bounded: while it is full the driver stops pulling events,
/// so an endpoint stops taking messages out of its flows, receive windows close and the far
/// end slows down (backpressure).
#[derive(Debug)]
pub struct Events<E> {
    rx: mpsc::Receiver<E>,
}

impl<E> Events<E> {
    /// Next event; `None` once the driver stopped.
    pub async fn recv(&mut self) -> Option<E> {
        self.rx.recv().await
    }
}

/// Binds `addr` and runs `machine` on it in a task on the current tokio runtime.
/// `event_capacity` bounds the event stream.
pub async fn spawn_machine<M>(
    addr: SocketAddr,
    machine: M,
    event_capacity: usize,
) -> Result<(Handle<M>, Events<M::Event>), DriverError>
where
    M: SansIo + Send + 'static,
    M::Event: Send + 'static,
{
    spawn_inner(addr, machine, event_capacity, None).await
}

/// As [`spawn_machine`], with LAN discovery: the driver joins the IP multicast groups the
/// machine lists ([`LanMachine::lan_multicast_addresses`], checked after every command) on
/// `lan.interface` and hands what arrives on them to
/// [`LanMachine::handle_lan_datagram`]; the RTMFP socket sends multicast with `lan.ttl` and
/// loopback on. A group the kernel refuses is logged (warn) and skipped.
pub async fn spawn_lan_machine<M>(
    addr: SocketAddr,
    machine: M,
    event_capacity: usize,
    lan: LanOptions,
) -> Result<(Handle<M>, Events<M::Event>), DriverError>
where
    M: LanMachine + Send + 'static,
    M::Event: Send + 'static,
{
    let hook = LanHook {
        sockets: LanSockets::new(lan),
        addresses: <M as LanMachine>::lan_multicast_addresses,
        deliver: <M as LanMachine>::handle_lan_datagram,
    };
    spawn_inner(addr, machine, event_capacity, Some(hook)).await
}

async fn spawn_inner<M>(
    addr: SocketAddr,
    machine: M,
    event_capacity: usize,
    lan: Option<LanHook<M>>,
) -> Result<(Handle<M>, Events<M::Event>), DriverError>
where
    M: SansIo + Send + 'static,
    M::Event: Send + 'static,
{
    let socket = UdpSocket::bind(addr).await?;
    if let Some(l) = &lan {
        configure_sender(&socket, l.sockets.options())?;
    }
    let local_addr = socket.local_addr()?;
    let (tx, cmd_rx) = mpsc::channel(64);
    let (ev_tx, rx) = mpsc::channel(event_capacity.max(1));
    tokio::spawn(run(socket, machine, cmd_rx, ev_tx, lan));
    Ok((Handle { tx, local_addr }, Events { rx }))
}

/// LAN discovery plumbing of one driver (see [`spawn_lan_machine`]).
struct LanHook<M> {
    sockets: LanSockets,
    addresses: fn(&M) -> Vec<SocketAddr>,
    deliver: fn(&mut M, Instant, SocketAddr, &[u8]),
}

impl<M> LanHook<M> {
    fn sync(&mut self, m: &M) {
        let wanted = (self.addresses)(m);
        self.sockets.sync(&wanted);
    }
}

/// Next datagram from the multicast sockets; never resolves without LAN discovery.
async fn lan_recv<M>(lan: &mut Option<LanHook<M>>) -> Option<LanDatagram> {
    match lan {
        Some(l) => l.sockets.rx.recv().await,
        None => std::future::pending().await,
    }
}

struct Loop<M> {
    socket: UdpSocket,
    m: M,
    start: tokio::time::Instant,
    waiting: VecDeque<Command<M>>,
}

impl<M: SansIo> Loop<M> {
    fn now(&self) -> Instant {
        Instant::from_micros(self.start.elapsed().as_micros() as u64)
    }

    fn command(&mut self, msg: Msg<M>) {
        let now = self.now();
        match msg {
            Msg::Now(mut c) => {
                c(&mut self.m, now);
            }
            Msg::Waiting(c) => {
                self.waiting.push_back(c);
                self.retry_waiting();
            }
        }
    }

    /// Retries waiting commands in order; the first that cannot complete keeps its place.
    fn retry_waiting(&mut self) {
        let now = self.now();
        while let Some(mut c) = self.waiting.pop_front() {
            if !c(&mut self.m, now) {
                self.waiting.push_front(c);
                return;
            }
        }
    }

    async fn flush_transmits(&mut self) {
        while let Some(t) = self.m.poll_transmit() {
            // UDP send errors (e.g. ICMP unreachable reported late) are not fatal to the
            // machine: the protocol's retransmissions and timeouts handle loss.
            if let Err(e) = self.socket.send_to(&t.payload, t.dst).await {
                tracing::debug!(error = %e, dst = %t.dst, "send_to failed");
            }
        }
    }
}

async fn run<M: SansIo>(
    socket: UdpSocket,
    m: M,
    mut cmds: mpsc::Receiver<Msg<M>>,
    events: mpsc::Sender<M::Event>,
    mut lan: Option<LanHook<M>>,
) {
    let mut lp = Loop {
        socket,
        m,
        start: tokio::time::Instant::now(),
        waiting: VecDeque::new(),
    };
    let mut buf = vec![0u8; 65_536];
    let mut pending_event: Option<M::Event> = None;
    let mut commands_open = true;
    loop {
        lp.flush_transmits().await;
        // Events, as many as the stream takes.
        loop {
            let ev = match pending_event.take().or_else(|| lp.m.poll_event()) {
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
        lp.retry_waiting();
        lp.flush_transmits().await;
        let deadline =
            lp.m.poll_timeout()
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
                    lp.m.handle_datagram(now, from, &buf[..n]);
                    // Take whatever else is already queued before sending replies.
                    while let Ok((n, from)) = lp.socket.try_recv_from(&mut buf) {
                        lp.m.handle_datagram(now, from, &buf[..n]);
                    }
                }
            }
            cmd = cmds.recv(), if commands_open => match cmd {
                Some(c) => {
                    lp.command(c);
                    if let Some(l) = lan.as_mut() {
                        l.sync(&lp.m);
                    }
                }
                None => commands_open = false,
            },
            Some((from, data)) = lan_recv(&mut lan) => {
                let now = lp.now();
                if let Some(l) = lan.as_ref() {
                    (l.deliver)(&mut lp.m, now, from, &data);
                }
            }
            permit = events.reserve(), if pending_event.is_some() => {
                if let (Ok(p), Some(e)) = (permit, pending_event.take()) {
                    p.send(e);
                }
            }
            _ = sleep => {
                let now = lp.now();
                lp.m.handle_timeout(now);
            }
        }
    }
}
