//! Running a rendezvous server ([`RendezvousServer`]) in a driver task: the `rtmfp server`
//! command, the demo's and the examples' embedded servers.

use std::net::SocketAddr;

use rand::RngCore;
use rtmfp::FlashProfile;
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousEvent, RendezvousServer};

use crate::driver::{spawn_machine, DriverError, Events, Handle};

/// Binds `addr` and runs a rendezvous server with `config` and a fresh Flash identity (OS
/// randomness), with an event stream bounded by `event_capacity`.
///
/// Errors: [`DriverError::Io`] (bind).
pub async fn spawn_rendezvous_server(
    addr: SocketAddr,
    config: RendezvousConfig,
    event_capacity: usize,
) -> Result<(Handle<RendezvousServer>, Events<RendezvousEvent>), DriverError> {
    let mut rng = rand::thread_rng();
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let server = RendezvousServer::new(config, Box::new(FlashProfile::server(&mut rng)), seed);
    spawn_machine(addr, server, event_capacity).await
}

/// An embedded rendezvous server with the default settings on `addr`, its events discarded
/// by a task; returns the URL `rtmfp://<bound address>/<app>` and the handle. It runs until
/// the tokio runtime shuts down.
///
/// Errors: [`DriverError::Io`] (bind).
pub async fn spawn_embedded_server(
    addr: SocketAddr,
    app: &str,
) -> Result<(String, Handle<RendezvousServer>), DriverError> {
    let (handle, mut events) =
        spawn_rendezvous_server(addr, RendezvousConfig::default(), 1024).await?;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    Ok((format!("rtmfp://{}/{app}", handle.local_addr()), handle))
}
