//! Processing of a received, decrypted session packet (RFC 7016 §3.5.2, §3.6.3).

use std::collections::VecDeque;
use std::net::SocketAddr;

use super::{Control, Role, Session, State, FAR_CLOSE_LINGER, MAX_RECV_FLOWS};
use crate::congestion::AckSummary;
use crate::flow::option_type;
use crate::flow::recv::{DeliveryOrder, RecvFlow};
use crate::rtt;
use crate::types::{CloseReason, DropReason, Event};
use crate::wire::chunk::Ack;
use crate::wire::option::{OptionItem, OptionIter};
use crate::wire::{vlu, Chunk, Mode, PacketHeader, PeerAddress, UserData};
use crate::Instant;

/// What a packet asks the endpoint to do beyond the session itself.
#[derive(Debug)]
pub(crate) enum Action {
    /// A forwarded IHello (RFC 7016 §3.5.1.5) to answer from the endpoint.
    ForwardedHello {
        epd: Vec<u8>,
        reply_address: PeerAddress,
        tag: Vec<u8>,
    },
    /// A receive flow has messages to deliver.
    Readable { flow_id: u64 },
}

/// Why a received flow is refused (RFC 7016 §3.6.3.7; docs/protocol/session.md, "Flow rejection").
fn check_new_flow(
    options: Option<&[u8]>,
    send_flows: &super::SendFlows,
) -> Result<(Vec<u8>, Option<u64>), ()> {
    let options = options.ok_or(())?;
    let mut metadata = None;
    let mut association = None;
    for item in OptionIter::new(options) {
        match item.map_err(|_| ())? {
            OptionItem::Marker => break,
            OptionItem::Option {
                typ: option_type::METADATA,
                value,
            } => {
                metadata.get_or_insert_with(|| value.to_vec());
            }
            OptionItem::Option {
                typ: option_type::RETURN_ASSOCIATION,
                value,
            } => {
                let (flow, _) = vlu::decode(value).map_err(|_| ())?;
                association = Some(flow);
            }
            OptionItem::Option { typ, .. } if typ < option_type::MANDATORY_LIMIT => return Err(()),
            OptionItem::Option { .. } => {}
        }
    }
    let metadata = metadata.ok_or(())?;
    if let Some(flow) = association {
        if send_flows.get(&flow).is_none_or(|f| f.is_closing()) {
            return Err(());
        }
    }
    Ok((metadata, association))
}

impl Session {
    /// Handles one decrypted packet. Returns `Err` with the reason when the whole packet is
    /// dropped; malformed chunks inside an accepted packet are skipped and counted.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn on_packet(
        &mut self,
        now: Instant,
        epoch_ticks: u16,
        from: SocketAddr,
        packet: &[u8],
        events: &mut VecDeque<Event>,
        actions: &mut Vec<Action>,
        malformed_chunks: &mut u64,
    ) -> Result<(), DropReason> {
        let (header, chunks) = PacketHeader::decode(packet).map_err(|_| DropReason::Malformed)?;
        let expected = match self.role {
            Role::Initiator => Mode::Responder,
            Role::Responder => Mode::Initiator,
        };
        if header.mode != expected {
            return Err(DropReason::BadMode);
        }
        if self.state == State::Closed {
            return Err(DropReason::SessionClosed);
        }
        self.counters.packets_in += 1;
        // The initiator sent a packet in the session, so it has our RIKeying: a duplicate
        // IIKeying can no longer need it (memory only).
        self.drop_rikeying();
        self.last_received = now;
        self.keepalive_outstanding = false;
        if let Some(ts) = header.timestamp {
            self.last_rx_timestamp = ts;
            self.last_rx_at = now.into();
        }
        if let Some(echo) = header.timestamp_echo {
            if let Some(sample) = rtt::rtt_from_echo(epoch_ticks, echo) {
                self.rtt.on_sample(sample);
            }
        }
        if header.time_critical {
            self.last_tc_received = now.into();
        }
        if header.time_critical_reverse {
            self.cc.on_time_critical_reverse(now);
        }
        if from != self.far_addr && self.state == State::Open {
            self.probe_new_address(now, from);
        }
        let lingering = matches!(self.state, State::FarCloseLinger { .. });
        let mut touched: Vec<u64> = Vec::new();
        for chunk in chunks {
            let Ok(chunk) = chunk else {
                *malformed_chunks += 1;
                continue;
            };
            if lingering && !matches!(chunk, Chunk::CloseRequest) {
                continue;
            }
            match chunk {
                Chunk::Ping(m) => {
                    self.push_control(Control::PingReply(m.to_vec()));
                }
                Chunk::PingReply(m) => self.on_ping_reply(from, m, events),
                Chunk::UserData(ud) => {
                    if self.state == State::Open {
                        self.on_user_data(now, &ud, events);
                        if !touched.contains(&ud.flow_id) {
                            touched.push(ud.flow_id);
                        }
                    }
                }
                Chunk::Ack(ack) => self.on_ack(now, &ack, events),
                Chunk::BufferProbe { flow_id } => {
                    if let Some(f) = self.recv_flows.get_mut(&flow_id) {
                        f.on_buffer_probe(now);
                    }
                }
                Chunk::FlowException { flow_id, code } => {
                    if let Some(f) = self.send_flows.get_mut(&flow_id) {
                        if f.exception().is_none() {
                            f.on_exception(code);
                            events.push_back(Event::FlowRejected {
                                session: self.id,
                                flow: flow_id,
                                code,
                            });
                        }
                    }
                }
                Chunk::CloseRequest => self.on_close_request(now, events),
                Chunk::CloseAck => {
                    let was_open = self.state == State::Open;
                    self.state = State::Closed;
                    self.abort_flows();
                    if was_open {
                        events.push_back(Event::SessionClosed {
                            session: self.id,
                            reason: CloseReason::Aborted,
                        });
                    }
                }
                Chunk::FIHello {
                    epd,
                    reply_address,
                    tag,
                } => actions.push(Action::ForwardedHello {
                    epd: epd.to_vec(),
                    reply_address,
                    tag: tag.to_vec(),
                }),
                _ => *malformed_chunks += 1,
            }
        }
        for flow_id in touched {
            if let Some(f) = self.recv_flows.get_mut(&flow_id) {
                f.on_packet_end(now);
                actions.push(Action::Readable { flow_id });
            }
        }
        Ok(())
    }

    fn on_close_request(&mut self, now: Instant, events: &mut VecDeque<Event>) {
        self.push_control(Control::CloseAck);
        match self.state {
            State::Open => {
                self.abort_flows();
                self.state = State::FarCloseLinger {
                    until: now + FAR_CLOSE_LINGER,
                };
                events.push_back(Event::SessionClosed {
                    session: self.id,
                    reason: CloseReason::Remote,
                });
            }
            State::NearClose { .. } => self.state = State::Closed,
            State::FarCloseLinger { .. } | State::Closed => {}
        }
    }

    /// A valid packet from a new address does not move the session by itself (RFC 7016
    /// §3.5.4.2): probe the address with a ping whose body only we can predict, at most once
    /// per second, and move when the reply comes back from there.
    fn probe_new_address(&mut self, now: Instant, from: SocketAddr) {
        let recent = self
            .mobility()
            .is_some_and(|(_, at)| now.saturating_duration_since(at).as_secs() < 1);
        if recent {
            return;
        }
        self.set_mobility(Some((from, now)));
        self.mobility_probe_sent = false;
    }

    pub(crate) fn mobility_token(&self) -> Option<(SocketAddr, Vec<u8>)> {
        let (addr, at) = self.mobility()?;
        let mut token = vec![b'M'];
        token.extend_from_slice(&at.as_micros().to_be_bytes());
        let near = self.near_nonce();
        token.extend_from_slice(&near[..near.len().min(8)]);
        Some((addr, token))
    }

    fn on_ping_reply(&mut self, from: SocketAddr, m: &[u8], events: &mut VecDeque<Event>) {
        if m.first() == Some(&b'M') {
            if let Some((addr, token)) = self.mobility_token() {
                if addr == from && token == m {
                    self.far_addr = from;
                    self.set_mobility(None);
                    events.push_back(Event::AddressChanged {
                        session: self.id,
                        addr: from,
                    });
                }
            }
        }
    }

    fn on_user_data(&mut self, now: Instant, ud: &UserData<'_>, events: &mut VecDeque<Event>) {
        if let Some(flow) = self.recv_flows.get_mut(&ud.flow_id) {
            let _ = flow.on_data(now, ud);
            return;
        }
        if self.recv_flows.len() >= MAX_RECV_FLOWS {
            self.evict_finished_recv_flows();
        }
        let accepted = check_new_flow(ud.options, &self.send_flows);
        let mut flow = match &accepted {
            Ok((_, association)) => RecvFlow::new(
                *association,
                self.config.recv_buffer(),
                DeliveryOrder::Sequence,
            ),
            Err(()) => RecvFlow::new(None, 0, DeliveryOrder::Sequence),
        };
        if self.recv_flows.len() >= MAX_RECV_FLOWS {
            self.push_control(Control::FlowException {
                flow_id: ud.flow_id,
                code: 0,
            });
            return;
        }
        match accepted {
            Ok((metadata, return_association)) => events.push_back(Event::FlowOpened {
                session: self.id,
                flow: ud.flow_id,
                metadata,
                return_association,
            }),
            Err(()) => flow.reject(0),
        }
        let _ = flow.on_data(now, ud);
        self.recv_flows.insert(ud.flow_id, flow);
    }

    fn evict_finished_recv_flows(&mut self) {
        let Some(finished) = self.finished_recv.as_mut() else {
            return;
        };
        let mut evicted = 0;
        for id in finished.iter() {
            evicted += 1;
            self.recv_flows.remove(id);
            if self.recv_flows.len() < MAX_RECV_FLOWS {
                break;
            }
        }
        finished.drain(..evicted);
        if finished.is_empty() {
            self.finished_recv = None;
        }
    }

    fn on_ack(&mut self, now: Instant, ack: &Ack, events: &mut VecDeque<Event>) {
        let before = self.in_flight_bytes();
        let Some(flow) = self.send_flows.get_mut(&ack.flow_id) else {
            return;
        };
        let outcome = flow.on_ack(now, ack);
        let complete = flow.is_complete();
        if outcome.acked_bytes > 0 || outcome.lost_bytes > 0 {
            self.cc.on_ack(
                now,
                &AckSummary {
                    acked_bytes: outcome.acked_bytes,
                    lost_bytes: outcome.lost_bytes,
                    outstanding_before: before,
                    any_loss: outcome.lost_bytes > 0,
                    any_naks: outcome.lost_bytes > 0,
                },
            );
        }
        if outcome.progress {
            self.rto_at = (self.in_flight_bytes() > 0)
                .then(|| now + self.rtt.erto())
                .into();
        }
        if complete {
            if let Some(f) = self.send_flows.remove(&ack.flow_id) {
                self.counters.retransmissions += f.retransmissions();
            }
            events.push_back(Event::FlowFinished {
                session: self.id,
                flow: ack.flow_id,
            });
        }
    }

    /// Bytes in flight over all sending flows.
    pub(crate) fn in_flight_bytes(&self) -> usize {
        self.send_flows.values().map(|f| f.in_flight_bytes()).sum()
    }
}
