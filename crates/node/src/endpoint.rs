//! [`EndpointHandle`]: async commands for a bare session-layer [`Endpoint`] in a driver task.

use std::net::SocketAddr;

use bytes::Bytes;
use rand::RngCore;
use rtmfp::{
    Config, CryptoProfile, Endpoint, EndpointStats, Event, Priority, SessionId, SessionInfo,
    WriteError,
};

use crate::driver::{spawn_machine, DriverError, Events, Handle};

/// Async handle to a running [`Endpoint`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct EndpointHandle {
    inner: Handle<Endpoint>,
    fingerprint: [u8; 32],
}

/// Binds `addr`, seeds the endpoint from OS randomness and spawns its drive loop on the
/// current tokio runtime. `event_capacity` bounds the event stream.
pub async fn spawn(
    addr: SocketAddr,
    config: Config,
    profile: Box<dyn CryptoProfile>,
    event_capacity: usize,
) -> Result<(EndpointHandle, Events<Event>), DriverError> {
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    let endpoint = Endpoint::new(config, profile, seed);
    let fingerprint = endpoint.fingerprint();
    let (inner, events) = spawn_machine(addr, endpoint, event_capacity).await?;
    Ok((EndpointHandle { inner, fingerprint }, events))
}

impl EndpointHandle {
    /// The bound UDP address.
    pub fn local_addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    /// This endpoint's fingerprint (Flash peer ID).
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The generic handle, for any other command.
    pub fn handle(&self) -> &Handle<Endpoint> {
        &self.inner
    }

    /// Starts opening a session ([`Endpoint::connect`]); completion arrives as an event.
    pub async fn connect(
        &self,
        epd: Vec<u8>,
        addrs: Vec<SocketAddr>,
    ) -> Result<SessionId, DriverError> {
        Ok(self
            .inner
            .call(move |ep, now| ep.connect(now, epd, &addrs))
            .await??)
    }

    /// Opens a sending flow ([`Endpoint::open_flow`]).
    pub async fn open_flow(
        &self,
        session: SessionId,
        metadata: Vec<u8>,
        return_association: Option<u64>,
        priority: Priority,
    ) -> Result<u64, DriverError> {
        Ok(self
            .inner
            .call(move |ep, now| {
                ep.open_flow(now, session, &metadata, return_association, priority)
            })
            .await??)
    }

    /// Queues one message; waits while the flow's send buffer is full.
    pub async fn write(
        &self,
        session: SessionId,
        flow: u64,
        data: Bytes,
    ) -> Result<(), DriverError> {
        Ok(self
            .inner
            .call_until(
                move |ep, now| match ep.write(now, session, flow, data.clone(), None) {
                    Err(WriteError::BufferFull) => None,
                    r => Some(r),
                },
            )
            .await??)
    }

    /// Closes a sending flow after its queued messages.
    pub async fn close_flow(&self, session: SessionId, flow: u64) -> Result<(), DriverError> {
        Ok(self
            .inner
            .call(move |ep, now| ep.close_flow(now, session, flow))
            .await??)
    }

    /// Closes a session in order.
    pub async fn close(&self, session: SessionId) -> Result<(), DriverError> {
        self.inner.call(move |ep, now| ep.close(now, session)).await
    }

    /// Endpoint counters.
    pub async fn stats(&self) -> Result<EndpointStats, DriverError> {
        self.inner.call(|ep, _| ep.stats().clone()).await
    }

    /// Snapshot of a session.
    pub async fn session_info(
        &self,
        session: SessionId,
    ) -> Result<Option<SessionInfo>, DriverError> {
        self.inner.call(move |ep, _| ep.session_info(session)).await
    }
}
