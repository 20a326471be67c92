//! Event plumbing of [`GroupNode`]: the Flash node's events, the NetConnection status, the
//! session events, the table of the far peers' group flows and the dispatch of their
//! messages to the joined groups.

use std::num::NonZeroU64;

use bytes::Bytes;
use rtmfp::{Event, SansIo, SessionId};
use rtmfp_flash::netconnection::NetConnectionEvent;
use rtmfp_flash::{codes, GcMessage, NodeEvent};

use crate::node::events::{GroupEvent, GroupHandle};
use crate::node::group::EXTENSION_FLOW_KIND;

use super::{GroupNode, InFlow, InKind};
use crate::id::PeerId;
use crate::node::io::GroupSlot;
use crate::wire::{GroupConnect, GroupFlowKind};

impl GroupNode {
    /// Handles every pending Flash node event, then closes sessions no group uses any more.
    pub(super) fn flush(&mut self) {
        while let Some(ev) = self.flash.poll_event() {
            self.on_node_event(ev);
        }
        let mut to_close = std::mem::take(&mut self.to_close);
        to_close.sort();
        to_close.dedup();
        for s in to_close {
            let used = self
                .groups
                .values()
                .any(|g| g.neighbors.values().any(|n| n.session == s));
            if !used && self.sessions.contains_key(&s) {
                self.flash.close_session(self.now, s);
            }
        }
    }

    pub(super) fn on_node_event(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::NetConnection(e) => {
                if let NetConnectionEvent::Status(s) = &e {
                    self.on_nc_status(&s.code);
                }
                self.events.push(GroupEvent::NetConnection(e));
            }
            NodeEvent::Session(e) => self.on_session_event(e),
        }
    }

    pub(super) fn on_nc_status(&mut self, code: &str) {
        let pending: Vec<GroupHandle> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.joined)
            .map(|(h, _)| *h)
            .collect();
        if code == codes::CONNECT_SUCCESS {
            for g in pending {
                self.activate(g);
            }
        } else {
            for g in pending {
                self.groups.remove(&g);
                self.groups_deadline.set(None);
                self.events.push(GroupEvent::ConnectFailed {
                    group: g,
                    reason: format!("NetConnection: {code}"),
                });
            }
        }
    }

    pub(super) fn is_server_session(&self, s: SessionId) -> bool {
        self.flash.net_connection().session() == Some(s)
    }

    pub(super) fn on_session_event(&mut self, e: Event) {
        match e {
            Event::SessionOpened {
                session,
                far_fingerprint,
                ..
            } => {
                let peer = PeerId(far_fingerprint);
                self.sessions
                    .insert(session, self.config.peer_ids.intern(&peer));
                self.connecting.retain(|_, s| *s != session);
                self.connecting.remove(&peer);
                for g in self.handles() {
                    self.with_group(&g, |group, io| group.on_session_opened(io, session, peer));
                }
            }
            Event::ConnectFailed { session, reason } => {
                let peer = self
                    .connecting
                    .iter()
                    .find(|(_, s)| **s == session)
                    .map(|(p, _)| *p);
                if let Some(p) = peer {
                    self.connecting.remove(&p);
                    if reason != rtmfp::ConnectFailure::Glare {
                        for g in self.handles() {
                            self.with_group(&g, |group, _| group.on_connect_failed(&p));
                        }
                    }
                }
            }
            Event::SessionClosed { session, .. } => {
                if self.sessions.remove(&session).is_some() {
                    self.in_flows.retain(|(s, _), _| *s != session);
                    self.media_returns.retain(|(s, _), _| *s != session);
                    self.out_ctrl.retain(|(s, _), _| *s != session);
                    self.out_media.retain(|(s, _), _| *s != session);
                    for g in self.handles() {
                        self.with_group(&g, |group, io| group.on_session_closed(io, session));
                    }
                } else {
                    self.events.push(GroupEvent::Session(Event::SessionClosed {
                        session,
                        reason: rtmfp::CloseReason::Local,
                    }));
                }
            }
            Event::FlowOpened {
                session,
                flow,
                ref metadata,
                return_association,
            } => match GroupFlowKind::parse(metadata) {
                Some(GroupFlowKind::GroupConnection) if self.is_server_session(session) => {
                    let group = self
                        .groups
                        .iter()
                        .find(|(_, g)| g.gc_flow.is_some() && g.gc_flow == return_association)
                        .map(|(_, g)| g.slot);
                    self.insert_in_flow(session, flow, InFlow::new(InKind::Gc, group), None);
                }
                Some(GroupFlowKind::GroupControl) if self.sessions.contains_key(&session) => {
                    self.insert_in_flow(session, flow, InFlow::new(InKind::Control, None), None);
                }
                Some(GroupFlowKind::OtherGroup(EXTENSION_FLOW_KIND))
                    if self.sessions.contains_key(&session) =>
                {
                    self.peer_flow(session, flow, InKind::Ext, return_association, false);
                }
                Some(GroupFlowKind::MediaControl) if self.sessions.contains_key(&session) => {
                    self.peer_flow(
                        session,
                        flow,
                        InKind::MediaControl,
                        return_association,
                        false,
                    );
                }
                Some(GroupFlowKind::MediaData) if self.sessions.contains_key(&session) => {
                    self.peer_flow(session, flow, InKind::MediaData, return_association, true);
                }
                Some(_) => {
                    self.counters.unhandled_flows += 1;
                    tracing::debug!(?metadata, "unhandled group flow");
                }
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::Message {
                session,
                flow,
                ref data,
            } => match self.in_flows.get(&(session, flow)).copied() {
                Some(f) => self.on_group_message(session, flow, f, data.clone()),
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::FlowEnded { session, flow } => match self.remove_in_flow(session, flow) {
                Some(InFlow {
                    kind: InKind::Control,
                    group: Some(slot),
                    ..
                }) => self.control_ended(session, slot),
                Some(_) => {}
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::FlowRejected { session, flow, .. } => {
                if let Some(slot) = self.out_ctrl.remove(&(session, flow)) {
                    self.control_ended(session, slot);
                } else {
                    self.events.push(GroupEvent::Session(e));
                }
            }
            Event::FlowFinished { .. } => {}
            other => self.events.push(GroupEvent::Session(other)),
        }
    }

    /// Records a peer's group flow; its group is the one owning the flow its return
    /// association names (our `GR\x1C` flow, or with `media` our `GR\x11` flow).
    pub(super) fn peer_flow(
        &mut self,
        session: SessionId,
        flow: u64,
        kind: InKind,
        return_association: Option<u64>,
        media: bool,
    ) {
        let ours = if media {
            &self.out_media
        } else {
            &self.out_ctrl
        };
        let group = return_association
            .and_then(|ra| ours.get(&(session, ra)))
            .copied();
        let media_return = match kind {
            InKind::MediaData => return_association.and_then(NonZeroU64::new),
            _ => None,
        };
        self.insert_in_flow(session, flow, InFlow { group, kind }, media_return);
    }

    /// Records the far end's group flow `flow` on `session` (replacing any record of it), with
    /// the return association of a fragments flow.
    pub(super) fn insert_in_flow(
        &mut self,
        session: SessionId,
        flow: u64,
        f: InFlow,
        media_return: Option<NonZeroU64>,
    ) {
        self.in_flows.insert((session, flow), f);
        match media_return {
            Some(ra) => {
                self.media_returns.insert((session, flow), ra);
            }
            None => {
                self.media_returns.remove(&(session, flow));
            }
        }
    }

    /// Forgets the far end's group flow `flow` on `session`; returns its record.
    pub(super) fn remove_in_flow(&mut self, session: SessionId, flow: u64) -> Option<InFlow> {
        self.media_returns.remove(&(session, flow));
        self.in_flows.remove(&(session, flow))
    }

    /// A `GR\x1C` flow of the group in `slot` on `session` ended or was rejected: its group
    /// drops the far peer as a neighbour.
    pub(super) fn control_ended(&mut self, session: SessionId, slot: GroupSlot) {
        if let (Some(g), Some(peer)) = (
            self.slot_handle(slot),
            self.sessions.get(&session).map(|p| **p),
        ) {
            self.with_group(&g, |group, io| group.on_control_ended(io, peer));
        }
    }

    /// The group in slot `slot`, if still joined.
    pub(super) fn slot_handle(&self, slot: GroupSlot) -> Option<GroupHandle> {
        self.slots.get(slot.index()).copied().flatten()
    }

    /// A free slot for `handle` (the first free one, else a new one at the end).
    pub(super) fn take_slot(&mut self, handle: GroupHandle) -> GroupSlot {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.slots[i] = Some(handle);
        GroupSlot::from_index(i)
    }

    pub(super) fn on_group_message(
        &mut self,
        session: SessionId,
        flow: u64,
        f: InFlow,
        data: Bytes,
    ) {
        let group = f.group.and_then(|s| self.slot_handle(s));
        match f.kind {
            InKind::Gc => {
                let Some(g) = group else { return };
                match GcMessage::decode(&data) {
                    Ok(GcMessage::Introduction(id)) => {
                        let peer = PeerId(id);
                        self.with_group(&g, |group, io| group.on_introduction(io, peer));
                    }
                    _ => tracing::debug!("unexpected message on the GC flow"),
                }
            }
            InKind::Control => {
                let Some(peer) = self.sessions.get(&session).map(|p| **p) else {
                    return;
                };
                let g = match group {
                    Some(g) => g,
                    None => {
                        // The first message must be the handshake; it names the group.
                        let connect = match data.first() {
                            Some(&crate::wire::kind::CONNECT) => {
                                GroupConnect::decode_body(&data[1..]).ok()
                            }
                            _ => None,
                        };
                        let Some(c) = connect else {
                            self.counters.bad_first_message += 1;
                            tracing::debug!(?peer, "GR1C flow not opened by a handshake");
                            return;
                        };
                        let g = GroupHandle(c.group_id);
                        let Some(slot) = self.groups.get(&g).filter(|g| g.joined).map(|g| g.slot)
                        else {
                            self.counters.unknown_group += 1;
                            tracing::debug!(?peer, "handshake for a group we are not in");
                            let _ = self.flash.reject_flow(self.now, session, flow, 0);
                            return;
                        };
                        if let Some(f) = self.in_flows.get_mut(&(session, flow)) {
                            f.group = Some(slot);
                        }
                        g
                    }
                };
                self.with_group(&g, |group, io| {
                    group.on_control(io, session, flow, peer, &data)
                });
            }
            InKind::Ext => {
                let (Some(g), Some(peer)) = (group, self.sessions.get(&session).map(|p| **p))
                else {
                    return;
                };
                self.with_group(&g, |group, io| group.on_ext(io, peer, data));
            }
            InKind::MediaControl | InKind::MediaData => {
                let (Some(g), Some(peer)) = (group, self.sessions.get(&session).map(|p| **p))
                else {
                    self.counters.unhandled_flows += 1;
                    return;
                };
                let media_return = self.media_returns.get(&(session, flow)).map(|ra| ra.get());
                self.with_group(&g, |group, io| match f.kind {
                    InKind::MediaData => group.on_media_data(io, peer, media_return, data),
                    _ => group.on_media_control(io, peer, flow, &data),
                });
            }
        }
    }
}
