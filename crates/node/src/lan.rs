//! IP multicast sockets for LAN discovery (docs/protocol/netgroup.md, "LAN discovery"; the
//! announcement format is in `docs/wire-netgroup.md`): the driver joins the multicast groups a
//! machine asks for and feeds what arrives on them to the machine; the machine's announcements
//! leave from its RTMFP socket, so peers answer there.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use rtmfp::{Instant, SansIo};
use rtmfp_netgroup::GroupNode;
use socket2::{Domain, Protocol, SockRef, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// A machine that takes part in LAN discovery.
pub trait LanMachine: SansIo {
    /// The multicast group socket addresses to listen on now.
    fn lan_multicast_addresses(&self) -> Vec<SocketAddr>;
    /// A datagram that arrived from `from` on one of those sockets.
    fn handle_lan_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]);
}

impl LanMachine for GroupNode {
    fn lan_multicast_addresses(&self) -> Vec<SocketAddr> {
        GroupNode::lan_multicast_addresses(self)
    }
    fn handle_lan_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        GroupNode::handle_lan_datagram(self, now, from, datagram)
    }
}

/// LAN settings of a driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanOptions {
    /// IPv4 interface (by address) on which to join multicast groups and send
    /// announcements; [`Ipv4Addr::UNSPECIFIED`] lets the kernel choose (the default route's
    /// interface). Use `127.0.0.1` for tests on one machine.
    pub interface: Ipv4Addr,
    /// Multicast TTL of announcements. Default 1 (the local segment only).
    pub ttl: u32,
}

impl Default for LanOptions {
    fn default() -> Self {
        LanOptions {
            interface: Ipv4Addr::UNSPECIFIED,
            ttl: 1,
        }
    }
}

/// Prepares the RTMFP socket to send announcements: interface, TTL, loopback on (so members
/// in other processes on the same host hear each other).
pub(crate) fn configure_sender(socket: &UdpSocket, opts: &LanOptions) -> std::io::Result<()> {
    let s = SockRef::from(socket);
    if let SocketAddr::V4(_) = socket.local_addr()? {
        if !opts.interface.is_unspecified() {
            s.set_multicast_if_v4(&opts.interface)?;
        }
        s.set_multicast_ttl_v4(opts.ttl)?;
        s.set_multicast_loop_v4(true)?;
    }
    Ok(())
}

/// A UDP socket bound to `group`'s port with address reuse (several members on one host
/// share the port; each gets a copy of every datagram) and joined to the group.
///
/// Errors: the socket calls' [`std::io::Error`] (e.g. the kernel has no multicast route).
pub fn multicast_socket(group: SocketAddr, opts: &LanOptions) -> std::io::Result<UdpSocket> {
    let domain = match group {
        SocketAddr::V4(_) => Domain::IPV4,
        SocketAddr::V6(_) => Domain::IPV6,
    };
    let s = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    s.set_reuse_address(true)?;
    #[cfg(all(unix, not(any(target_os = "solaris", target_os = "illumos"))))]
    s.set_reuse_port(true)?;
    s.set_nonblocking(true)?;
    match group.ip() {
        IpAddr::V4(ip) => {
            // Binding to the group address filters out other groups on the same port (Unix);
            // Windows only accepts the wildcard address.
            let bind = if cfg!(unix) {
                ip
            } else {
                Ipv4Addr::UNSPECIFIED
            };
            s.bind(&SocketAddr::new(bind.into(), group.port()).into())?;
            s.join_multicast_v4(&ip, &opts.interface)?;
            s.set_multicast_loop_v4(true)?;
        }
        IpAddr::V6(ip) => {
            s.set_only_v6(true)?;
            s.bind(&SocketAddr::new(std::net::Ipv6Addr::UNSPECIFIED.into(), group.port()).into())?;
            s.join_multicast_v6(&ip, 0)?;
            s.set_multicast_loop_v6(true)?;
        }
    }
    UdpSocket::from_std(s.into())
}

/// Checks that IP multicast works on `interface` (default `127.0.0.1` in tests): joins
/// `group`, sends one datagram to it and waits up to `wait` for it to come back.
///
/// Errors: any socket error, or [`std::io::ErrorKind::TimedOut`] when nothing arrived.
pub async fn probe_multicast(
    group: SocketAddr,
    interface: Ipv4Addr,
    wait: Duration,
) -> std::io::Result<()> {
    let opts = LanOptions {
        interface,
        ..LanOptions::default()
    };
    let rx = multicast_socket(group, &opts)?;
    let tx = UdpSocket::bind(SocketAddr::new(interface.into(), 0)).await?;
    configure_sender(&tx, &opts)?;
    tx.send_to(b"rtmfp multicast probe", group).await?;
    let mut buf = [0u8; 64];
    match tokio::time::timeout(wait, rx.recv_from(&mut buf)).await {
        Ok(r) => r.map(|_| ()),
        Err(_) => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "no multicast datagram came back",
        )),
    }
}

/// Datagram received on a multicast socket: (source, bytes).
pub(crate) type LanDatagram = (SocketAddr, Vec<u8>);

/// The multicast sockets of one driver, one reader task each, all feeding one bounded queue.
pub(crate) struct LanSockets {
    opts: LanOptions,
    readers: BTreeMap<SocketAddr, JoinHandle<()>>,
    /// Groups that could not be joined (not retried until they leave the wanted set).
    failed: BTreeMap<SocketAddr, String>,
    tx: mpsc::Sender<LanDatagram>,
    pub rx: mpsc::Receiver<LanDatagram>,
}

impl LanSockets {
    pub fn new(opts: LanOptions) -> Self {
        let (tx, rx) = mpsc::channel(256);
        LanSockets {
            opts,
            readers: BTreeMap::new(),
            failed: BTreeMap::new(),
            tx,
            rx,
        }
    }

    pub fn options(&self) -> &LanOptions {
        &self.opts
    }

    /// Opens sockets for newly wanted groups and closes those no longer wanted.
    pub fn sync(&mut self, wanted: &[SocketAddr]) {
        self.readers.retain(|g, task| {
            let keep = wanted.contains(g);
            if !keep {
                task.abort();
            }
            keep
        });
        self.failed.retain(|g, _| wanted.contains(g));
        for g in wanted {
            if self.readers.contains_key(g) || self.failed.contains_key(g) {
                continue;
            }
            match multicast_socket(*g, &self.opts) {
                Ok(sock) => {
                    tracing::debug!(group = %g, "joined multicast group");
                    self.readers
                        .insert(*g, tokio::spawn(read(sock, self.tx.clone())));
                }
                Err(e) => {
                    tracing::warn!(group = %g, error = %e, "cannot join multicast group: no LAN discovery on it");
                    self.failed.insert(*g, e.to_string());
                }
            }
        }
    }
}

impl Drop for LanSockets {
    fn drop(&mut self) {
        for t in self.readers.values() {
            t.abort();
        }
    }
}

async fn read(sock: UdpSocket, tx: mpsc::Sender<LanDatagram>) {
    let mut buf = vec![0u8; 2048];
    loop {
        match sock.recv_from(&mut buf).await {
            Ok((n, from)) => {
                // Announcements are periodic: when the node is busy, dropping one is harmless.
                if let Err(mpsc::error::TrySendError::Closed(_)) =
                    tx.try_send((from, buf[..n].to_vec()))
                {
                    return;
                }
            }
            Err(e) => {
                tracing::debug!(error = %e, "multicast recv failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}
