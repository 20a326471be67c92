//! The calls a layer above makes on [`FlashNode`]'s peer-to-peer sessions (the group engine's
//! flows to its neighbours), so that it needs no access to the endpoint underneath. Each one
//! is the [`Endpoint`](rtmfp::Endpoint) call of the same name on the node's endpoint.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use rtmfp::{FlowError, Instant, OpenFlowError, Priority, SessionId, WriteError};

use crate::node::FlashNode;

impl FlashNode {
    /// Opens a send flow on session `s` with `metadata` (its flow signature and options),
    /// associated with the far end's flow `return_association` if any; returns its flow ID
    /// (RFC 7016 §3.6.2). Errors: [`OpenFlowError`] (no such open session, too many flows).
    pub fn open_flow(
        &mut self,
        now: Instant,
        s: SessionId,
        metadata: &[u8],
        return_association: Option<u64>,
        priority: Priority,
    ) -> Result<u64, OpenFlowError> {
        self.endpoint_mut()
            .open_flow(now, s, metadata, return_association, priority)
    }

    /// Queues one message of `data` bytes on flow `flow` of session `s`, abandoned (partial
    /// reliability) if not delivered by `deadline`. Errors: [`WriteError`] (no such session or
    /// flow, flow closed, send buffer full).
    pub fn write(
        &mut self,
        now: Instant,
        s: SessionId,
        flow: u64,
        data: Bytes,
        deadline: Option<Instant>,
    ) -> Result<(), WriteError> {
        self.endpoint_mut().write(now, s, flow, data, deadline)
    }

    /// Closes our send flow `flow` of session `s` once its data is acknowledged. Errors:
    /// [`FlowError`] (no such session or flow).
    pub fn close_flow(&mut self, now: Instant, s: SessionId, flow: u64) -> Result<(), FlowError> {
        self.endpoint_mut().close_flow(now, s, flow)
    }

    /// Rejects the far end's flow `flow` of session `s` with exception `code` (RFC 7016
    /// §3.6.3.2). Errors: [`FlowError`] (no such session or flow).
    pub fn reject_flow(
        &mut self,
        now: Instant,
        s: SessionId,
        flow: u64,
        code: u64,
    ) -> Result<(), FlowError> {
        self.endpoint_mut().reject_flow(now, s, flow, code)
    }

    /// Closes session `s` (RFC 7016 §3.5.5); nothing happens for an unknown session.
    pub fn close_session(&mut self, now: Instant, s: SessionId) {
        self.endpoint_mut().close(now, s)
    }

    /// Session `s`'s near and far nonces (the group handshake signs them), if it is open.
    pub fn session_nonces(&self, s: SessionId) -> Option<(&[u8], &[u8])> {
        self.endpoint().session_nonces(s)
    }

    /// Session `s`'s far address, if it is open.
    pub fn session_far_addr(&self, s: SessionId) -> Option<SocketAddr> {
        self.endpoint().session_far_addr(s)
    }

    /// Session `s`'s smoothed round-trip time, once measured.
    pub fn session_srtt(&self, s: SessionId) -> Option<Duration> {
        self.endpoint().session_srtt(s)
    }
}
