//! Directed routing in one group (docs/protocol/netgroup.md, "Directed routing"): `sendToNearest`,
//! `sendToNeighbor` and the forwarding of routed messages.

use bytes::Bytes;

use super::Group;
use crate::id::{GroupAddress, PeerId};
use crate::node::events::{GroupEvent, SendResult, SendToNotify};
use crate::node::io::Io;
use crate::node::routing::{self, Hop, NeighborTarget};

impl Group {
    pub(super) fn on_route(&mut self, io: &mut Io<'_>, data: Bytes) {
        let f = match routing::decode(&data) {
            Ok(f) => f,
            Err(_) => {
                self.routing.malformed += 1;
                tracing::debug!("malformed routed message");
                return;
            }
        };
        let message = data.slice(f.body_at..);
        if message.len() > self.config.max_route_bytes {
            self.routing.too_large += 1;
            return;
        }
        let hops = f.hops.saturating_add(1);
        let Some(dest) = f.destination else {
            self.routing.delivered += 1;
            io.events.push(GroupEvent::SendToNotify(SendToNotify {
                group: self.handle,
                message,
                from: f.origin,
                from_local: false,
                destination: None,
                hops,
                at_destination: true,
            }));
            return;
        };
        let (group, origin) = (self.handle, f.origin);
        let notify = |message, at_destination| {
            GroupEvent::SendToNotify(SendToNotify {
                group,
                message,
                from: origin,
                from_local: false,
                destination: Some(dest),
                hops,
                at_destination,
            })
        };
        let hop = routing::next_hop(&self.own_addr, self.mode, &dest, self.routable());
        match hop {
            Hop::Local { accepted: false } => {
                self.routing.undeliverable += 1;
                tracing::debug!("routed message not accepted by EXACT mode");
            }
            Hop::Local { accepted: true } => {
                self.routing.delivered += 1;
                io.events.push(notify(message, true));
            }
            Hop::Neighbor(next) => {
                if self.config.auto_forward {
                    if hops >= self.config.max_hops {
                        self.routing.hop_limit += 1;
                        return;
                    }
                    let frame =
                        Bytes::from(routing::encode(hops, &f.origin, Some(&dest), &message));
                    if self.send_ext(io, &next, &frame) {
                        self.routing.forwarded += 1;
                        self.info.routing_send_bytes += frame.len() as u64;
                    }
                } else {
                    io.events.push(notify(message, false));
                }
            }
        }
    }

    /// Connected neighbours that take part in routing.
    pub(super) fn routable(&self) -> Vec<(GroupAddress, PeerId)> {
        self.connected()
    }

    /// `sendToNearest` / `forward_to_nearest` (docs/protocol/netgroup.md, "Directed routing").
    pub fn route(
        &mut self,
        io: &mut Io<'_>,
        message: Bytes,
        dest: GroupAddress,
        origin: GroupAddress,
        hops: u8,
    ) -> SendResult {
        match routing::next_hop(&self.own_addr, self.mode, &dest, self.routable()) {
            Hop::Local { accepted: false } => {
                self.routing.undeliverable += 1;
                SendResult::NoRoute
            }
            Hop::Local { accepted: true } => {
                self.routing.delivered += 1;
                io.events.push(GroupEvent::SendToNotify(SendToNotify {
                    group: self.handle,
                    message,
                    from: origin,
                    from_local: true,
                    destination: Some(dest),
                    hops,
                    at_destination: true,
                }));
                SendResult::Local
            }
            Hop::Neighbor(next) => {
                if hops >= self.config.max_hops {
                    self.routing.hop_limit += 1;
                    return SendResult::NoRoute;
                }
                let frame = Bytes::from(routing::encode(hops, &origin, Some(&dest), &message));
                if self.send_ext(io, &next, &frame) {
                    if origin == self.own_addr && hops == 0 {
                        self.routing.sent += 1;
                    } else {
                        self.routing.forwarded += 1;
                    }
                    self.info.routing_send_bytes += frame.len() as u64;
                    SendResult::Sent
                } else {
                    SendResult::NoRoute
                }
            }
        }
    }

    /// `sendToNeighbor` / `sendToAllNeighbors` (docs/protocol/netgroup.md, "Directed routing");
    /// `target = None` is all neighbours.
    pub fn send_to_neighbors(
        &mut self,
        io: &mut Io<'_>,
        message: &[u8],
        target: Option<NeighborTarget>,
    ) -> SendResult {
        let connected = self.connected();
        let to: Vec<PeerId> = match target {
            None => connected.iter().map(|(_, p)| *p).collect(),
            Some(NeighborTarget::NextIncreasing) => {
                routing::adjacent(&self.own_addr, true, connected)
                    .into_iter()
                    .collect()
            }
            Some(NeighborTarget::NextDecreasing) => {
                routing::adjacent(&self.own_addr, false, connected)
                    .into_iter()
                    .collect()
            }
            Some(NeighborTarget::Address(a)) => connected
                .iter()
                .filter(|(x, _)| *x == a)
                .map(|(_, p)| *p)
                .collect(),
        };
        let frame = Bytes::from(routing::encode(0, &self.own_addr, None, message));
        let n = self.flood(io, &to, &frame);
        self.info.routing_send_bytes += (n * frame.len()) as u64;
        self.routing.sent += n as u64;
        if n > 0 {
            SendResult::Sent
        } else {
            SendResult::NoRoute
        }
    }
}
