//! The group side of multicast (docs/protocol/netgroup.md, "Group flow signatures", "Multicast
//! streams"): per neighbour and stream, our `GR\x11` flow (the return flow of its `GR\x1C` flow)
//! carries control messages and our `GR\x12` flow (the return flow of its `GR\x11` flow for the
//! stream) carries fragments.

use bytes::Bytes;
use rtmfp::Priority;

use super::Group;
use crate::id::PeerId;
use crate::node::io::Io;
use crate::node::multicast::{Out, StreamKey};
use crate::wire::GroupFlowKind;

impl Group {
    /// Sends the multicast outbox onto the neighbours' media flows.
    pub fn flush_multicast(&mut self, io: &mut Io<'_>) {
        for o in self.multicast.take_outbox() {
            let Some(n) = self.neighbors.get(&o.peer).filter(|n| n.connected) else {
                continue;
            };
            let (session, in_ctrl) = (n.session, n.in_flow());
            let Some(pm) = self.multicast.peer_media_mut(&o.key, &o.peer) else {
                continue;
            };
            let flash = &mut *io.flash;
            let (flow, data, deadline) = match o.out {
                Out::Control(data) => {
                    let flow = match pm.out_control {
                        Some(f) => f,
                        None => match flash.open_flow(
                            io.now,
                            session,
                            &GroupFlowKind::MediaControl.to_metadata(),
                            in_ctrl,
                            Priority::default(),
                        ) {
                            Ok(f) => {
                                pm.out_control = Some(f);
                                io.out_media.insert((session, f), io.slot);
                                f
                            }
                            Err(_) => {
                                self.multicast.counters.write_failures += 1;
                                continue;
                            }
                        },
                    };
                    (flow, data, None)
                }
                Out::Fragment { bytes, deadline } => {
                    let flow = match (pm.out_data, pm.in_flow) {
                        (Some(f), _) => f,
                        (None, Some(assoc)) => match flash.open_flow(
                            io.now,
                            session,
                            &GroupFlowKind::MediaData.to_metadata(),
                            Some(assoc),
                            Priority::default(),
                        ) {
                            Ok(f) => {
                                pm.out_data = Some(f);
                                f
                            }
                            Err(_) => {
                                self.multicast.counters.write_failures += 1;
                                continue;
                            }
                        },
                        (None, None) => {
                            self.multicast.counters.write_failures += 1;
                            continue;
                        }
                    };
                    (flow, bytes, Some(deadline))
                }
            };
            if flash.write(io.now, session, flow, data, deadline).is_err() {
                self.multicast.counters.write_failures += 1;
            }
        }
    }

    /// A message on the neighbour's `GR\x11` flow `flow`.
    pub fn on_media_control(&mut self, io: &mut Io<'_>, peer: PeerId, flow: u64, data: &[u8]) {
        if !self.neighbors.get(&peer).is_some_and(|n| n.connected) {
            self.counters.unexpected += 1;
            return;
        }
        self.multicast
            .on_control(io.now, peer, flow, data, io.events);
        self.flush_multicast(io);
    }

    /// A fragment on the neighbour's `GR\x12` flow, the return flow of our `GR\x11` flow
    /// `our_control`.
    pub fn on_media_data(
        &mut self,
        io: &mut Io<'_>,
        peer: PeerId,
        our_control: Option<u64>,
        data: Bytes,
    ) {
        let key: Option<StreamKey> =
            our_control.and_then(|f| self.multicast.stream_of_out_control(&peer, f));
        let Some(key) = key else {
            self.multicast.counters.unexpected_fragments += 1;
            return;
        };
        self.multicast
            .on_fragment(io.now, peer, key, data, io.events);
        self.flush_multicast(io);
    }

    /// Closes our media flows to a neighbour that is going away.
    pub fn close_media_flows(
        &mut self,
        io: &mut Io<'_>,
        peer: PeerId,
        session: rtmfp::SessionId,
        close: bool,
    ) {
        let flows = self.multicast.flows_to(&peer);
        for f in &flows {
            io.out_media.remove(&(session, *f));
        }
        if close {
            let flash = &mut *io.flash;
            for f in flows {
                let _ = flash.close_flow(io.now, session, f);
            }
        }
        self.multicast.neighbor_down(&peer);
    }
}
