//! Packet assembly for an open session: control chunks, acknowledgements and flow data under
//! congestion control, burst limit and pacing (RFC 7016 §3.5.2.3, Appendix A).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;

use super::{Control, Role, Session, State};
use crate::congestion::CongestionController;
use crate::crypto::PacketCipher;
use crate::types::Transmit;
use crate::wire::chunk::Chunk;
use crate::wire::packet::{PacketWriter, MAX_SESSION_PACKET};
use crate::wire::{scramble_session_id, Mode, PacketHeader};
use crate::Instant;

/// Most ranges put in one ack chunk.
const ACK_RANGES_PER_CHUNK: usize = 64;

impl Control {
    fn as_chunk(&self) -> Chunk<'_> {
        match self {
            Control::Ping(m) => Chunk::Ping(m),
            Control::PingReply(m) => Chunk::PingReply(m),
            Control::CloseRequest => Chunk::CloseRequest,
            Control::CloseAck => Chunk::CloseAck,
            Control::FlowException { flow_id, code } => Chunk::FlowException {
                flow_id: *flow_id,
                code: *code,
            },
            Control::BufferProbe { flow_id } => Chunk::BufferProbe { flow_id: *flow_id },
            Control::FIHello {
                epd,
                reply_address,
                tag,
            } => Chunk::FIHello {
                epd,
                reply_address: *reply_address,
                tag,
            },
        }
    }
}

/// Shared inputs from the endpoint for building packets.
pub(crate) struct TxContext<'a> {
    pub now: Instant,
    /// This endpoint's clock in 4 ms ticks (RFC 7016 §2.2.4).
    pub ticks: u16,
    /// Another session received time-critical data within 800 ms (sets TCR).
    pub time_critical_reverse: bool,
    pub out: &'a mut VecDeque<Transmit>,
    pub scratch: &'a mut Vec<u8>,
}

impl Session {
    fn header(&mut self, ctx: &TxContext<'_>, time_critical: bool) -> PacketHeader {
        PacketHeader {
            time_critical,
            time_critical_reverse: ctx.time_critical_reverse,
            mode: match self.role {
                Role::Initiator => Mode::Initiator,
                Role::Responder => Mode::Responder,
            },
            // Always present: MonaServer2 and librtmfp misparse packets without it
            // (docs/protocol/interop.md, "Compatibility checklist" item 1).
            timestamp: Some(ctx.ticks),
            timestamp_echo: self.timestamp_echo(ctx.now),
        }
    }

    fn seal(&self, packet: &[u8], dst: std::net::SocketAddr, out: &mut VecDeque<Transmit>) {
        let mut payload = Vec::with_capacity(packet.len() + 4 + self.cipher.overhead(packet.len()));
        payload.extend_from_slice(&[0; 4]);
        self.cipher.seal(packet, &mut payload);
        let ssid = scramble_session_id(self.far_session_id, &payload[4..]);
        payload[..4].copy_from_slice(&ssid.to_be_bytes());
        out.push_back(Transmit {
            dst,
            payload: Bytes::from(payload),
        });
    }

    fn data_sendable(&self, in_flight: usize) -> bool {
        self.state == State::Open
            && self.pace_at.is_none()
            && self.cc.can_send(in_flight, 1)
            && self.send_flows.values().any(|f| f.wants_to_send())
    }

    /// Builds and seals every packet the session may send now.
    pub(crate) fn flush(&mut self, ctx: &mut TxContext<'_>) {
        if self.state == State::Closed {
            self.control = None;
            return;
        }
        if let Some((addr, token)) = self.mobility_token() {
            if self.state == State::Open && !self.mobility_probe_sent {
                let header = self.header(ctx, false);
                let mut w =
                    PacketWriter::new(&header, MAX_SESSION_PACKET, std::mem::take(ctx.scratch));
                w.push(&Chunk::Ping(&token));
                let pkt = w.finish();
                self.seal(&pkt, addr, ctx.out);
                *ctx.scratch = pkt;
                self.mobility_probe_sent = true;
            }
        }
        let mut burst = 0;
        // The flows with data to send, highest priority first then by flow ID, found in one
        // walk per packet (the buffer is reused between packets).
        let mut order: Vec<(std::cmp::Reverse<u8>, u64)> = Vec::new();
        loop {
            let in_flight = self.in_flight_bytes();
            order.clear();
            let mut tc = false;
            if self.state == State::Open && self.pace_at.is_none() && self.cc.can_send(in_flight, 1)
            {
                for (id, f) in self.send_flows.iter() {
                    if f.wants_to_send() {
                        tc |= f.priority().is_time_critical();
                        order.push((std::cmp::Reverse(f.priority().level()), *id));
                    }
                }
            }
            // Same as `data_sendable(in_flight)`; nothing below changes a send flow before
            // the data is written (control chunks and acks only touch receive flows).
            let data = !order.is_empty();
            let saved_echo = self.last_echo_sent;
            let header = self.header(ctx, tc);
            let mut w = PacketWriter::new(&header, MAX_SESSION_PACKET, std::mem::take(ctx.scratch));
            if let Some(queue) = self.control.as_mut() {
                while let Some(c) = queue.front() {
                    if !w.push(&c.as_chunk()) {
                        break;
                    }
                    queue.pop_front();
                }
                if queue.is_empty() {
                    // Control chunks are rare: do not keep the queue between them.
                    self.control = None;
                }
            }
            let piggyback = data || w.has_chunks();
            for (&flow_id, f) in self.recv_flows.iter_mut() {
                let due = f.ack_deadline().is_some_and(|d| d <= ctx.now || piggyback);
                if !due {
                    continue;
                }
                let ack = f.make_ack(flow_id, ctx.now, ACK_RANGES_PER_CHUNK);
                let mut chunk_ok = w.push(&Chunk::Ack(ack));
                if chunk_ok {
                    if let Some(code) = f.rejected() {
                        chunk_ok = w.push(&Chunk::FlowException { flow_id, code });
                    }
                }
                if !chunk_ok {
                    // Try again in the next packet: the deadline is reset by make_ack, so
                    // ask for an immediate ack again.
                    f.on_buffer_probe(ctx.now);
                    break;
                }
            }
            let mut data_bytes = 0;
            if data {
                let tsn = self.next_tsn;
                let budget = self.cc.cwnd().saturating_sub(in_flight);
                order.sort_unstable();
                for &(_, id) in &order {
                    if w.remaining() < 32 {
                        break;
                    }
                    if let Some(f) = self.send_flows.get_mut(&id) {
                        let (n, _) =
                            f.write_into(id, &mut w, tsn, budget.saturating_sub(data_bytes));
                        data_bytes += n;
                    }
                }
                self.next_tsn += 1;
            }
            if !w.has_chunks() {
                self.last_echo_sent = saved_echo;
                *ctx.scratch = w.finish();
                break;
            }
            let pkt = w.finish();
            self.seal(&pkt, self.far_addr, ctx.out);
            *ctx.scratch = pkt;
            self.counters.packets_out += 1;
            self.last_sent = ctx.now;
            if tc {
                self.cc.on_time_critical_sent(ctx.now);
            }
            if self.rto_at.is_none()
                && (data_bytes > 0 || self.send_flows.values().any(|f| f.has_in_flight()))
            {
                self.rto_at = (ctx.now + self.rtt.erto()).into();
            }
            if data {
                burst += 1;
                if burst >= CongestionController::BURST_PACKETS {
                    if self.data_sendable(self.in_flight_bytes()) {
                        self.pace_at = (ctx.now + self.pace_interval()).into();
                    }
                    break;
                }
            }
        }
    }

    /// Time to wait after a burst before sending more: the burst's share of one RTT at the
    /// current window (`SRTT · burst · MSS / cwnd`; docs/protocol/session.md, "Congestion
    /// control").
    fn pace_interval(&self) -> Duration {
        if !self.rtt.has_sample() {
            return Duration::ZERO;
        }
        let cwnd = self.cc.cwnd().max(1) as f64;
        let burst_bytes = (CongestionController::BURST_PACKETS * MAX_SESSION_PACKET) as f64;
        self.rtt.srtt().mul_f64((burst_bytes / cwnd).min(1.0))
    }
}
