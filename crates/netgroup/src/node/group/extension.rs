//! Our extension flow `GR\x60` (docs/wire-netgroup.md): sending frames to neighbours and
//! dispatching what arrives to posting, routing and replication.

use bytes::Bytes;
use rtmfp::Priority;

use super::{ext_metadata, Group};
use crate::id::PeerId;
use crate::node::events::GroupEvent;
use crate::node::io::Io;
use crate::node::posting::POST;
use crate::node::replication::Frame as ReplicationFrame;
use crate::node::routing::ROUTE;

impl Group {
    // ----- extension flow: posting and routing -----

    /// Sends a frame on our extension flow to a connected neighbour.
    pub(super) fn send_ext(&mut self, io: &mut Io<'_>, peer: &PeerId, frame: &Bytes) -> bool {
        let Some(n) = self.neighbors.get_mut(peer) else {
            return false;
        };
        if !n.connected {
            return false;
        }
        let flash = &mut *io.flash;
        let flow = match n.ext_out() {
            Some(f) => f,
            None => {
                match flash.open_flow(
                    io.now,
                    n.session,
                    &ext_metadata(),
                    n.in_flow(),
                    Priority::default(),
                ) {
                    Ok(f) => {
                        n.set_ext_out(f);
                        f
                    }
                    Err(_) => {
                        self.counters.write_failures += 1;
                        return false;
                    }
                }
            }
        };
        if flash
            .write(io.now, n.session, flow, frame.clone(), None)
            .is_err()
        {
            self.counters.write_failures += 1;
            tracing::debug!(?peer, "extension write refused");
            return false;
        }
        true
    }

    /// Sends the replication outbox (HAVE, FETCH, OBJECT, DENY frames) to its neighbours.
    pub fn flush_replication(&mut self, io: &mut Io<'_>) {
        for (peer, frame) in self.replication.take_outbox() {
            if self.send_ext(io, &peer, &frame) {
                self.info.object_replication_send_bytes += frame.len() as u64;
            }
        }
    }

    /// [`Self::send_ext`] for the node's raw test hook.
    pub fn send_raw(&mut self, io: &mut Io<'_>, peer: &PeerId, frame: &Bytes) -> bool {
        self.send_ext(io, peer, frame)
    }

    /// Floods a frame to every connected neighbour in `to`.
    pub(super) fn flood(&mut self, io: &mut Io<'_>, to: &[PeerId], frame: &Bytes) -> usize {
        let mut sent = 0;
        for p in to {
            if self.send_ext(io, p, frame) {
                sent += 1;
            }
        }
        sent
    }

    /// A message on the peer's extension flow.
    pub fn on_ext(&mut self, io: &mut Io<'_>, peer: PeerId, data: Bytes) {
        // A routed message still in flight from a neighbour we have just dropped arrives on
        // its extension flow, which only a completed handshake opens: take it, or the lookup
        // is lost (measured in the simulator: ~4 % of lookups at 1,000 members). Everything
        // else needs a connected neighbour.
        let connected = self.neighbors.get(&peer).is_some_and(|n| n.connected);
        if !connected && data.first() != Some(&ROUTE) {
            self.counters.unexpected += 1;
            return;
        }
        match data.first() {
            Some(&POST) => {
                self.info.posting_receive_data_bytes += data.len() as u64;
                let to = self
                    .neighbors
                    .iter()
                    .filter(|(_, n)| n.connected)
                    .map(|(p, _)| **p);
                if let Ok(ingest) = self.posting.on_post(io.now, peer, &data, to) {
                    io.events.push(GroupEvent::PostingNotify {
                        group: self.handle,
                        message: ingest.message,
                        message_id: ingest.message_id,
                    });
                    let n = self.flood(io, &ingest.forward, &ingest.frame);
                    self.info.posting_send_data_bytes += (n * ingest.frame.len()) as u64;
                }
            }
            Some(&ROUTE) => {
                self.info.routing_receive_bytes += data.len() as u64;
                self.on_route(io, data);
            }
            Some(&k) if ReplicationFrame::is_replication(k) => {
                self.info.object_replication_receive_bytes += data.len() as u64;
                self.replication
                    .on_frame(io.now, peer, &data, io.events, io.rng);
                self.flush_replication(io);
            }
            _ => {
                self.counters.ext_malformed += 1;
                tracing::debug!(?peer, "unknown extension message");
            }
        }
    }
}
