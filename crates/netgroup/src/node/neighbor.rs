//! A neighbour of one group: its session, its group address, its three flows and its
//! handshake, report and ask-close state.

use rtmfp::SessionId;

use crate::id::GroupAddress;
use crate::node::routing::ReceiveMode;
use rtmfp::time::PackedInstant;
/// A neighbour, from the first handshake message either way until it leaves. 80 bytes: a
/// member keeps a few dozen per group.
#[derive(Debug, Clone)]
pub(crate) struct Neighbor {
    pub session: SessionId,
    pub address: GroupAddress,
    /// Our `GR\x1C` flow to it, its `GR\x1C` flow to us (its flow ID) and our extension flow
    /// to it, each valid if its bit ([`OUT_FLOW`], [`IN_FLOW`], [`EXT_OUT`]) is set in `flows`.
    pub(crate) out_flow: u64,
    pub(crate) in_flow: u64,
    pub(crate) ext_out: u64,
    pub(crate) flows: u8,
    /// Its handshake was valid.
    pub verified: bool,
    /// `NeighborConnect` was emitted.
    pub connected: bool,
    pub mode: ReceiveMode,
    /// We sent a report and wait for its answer.
    pub report_pending: bool,
    /// We sent at least one report.
    pub reported: bool,
    /// When we last asked it to disconnect (`0C`).
    pub last_ask_close: PackedInstant,
}

/// `Neighbor::flows` bit: `out_flow` is set.
const OUT_FLOW: u8 = 1;
/// `Neighbor::flows` bit: `in_flow` is set.
const IN_FLOW: u8 = 2;
/// `Neighbor::flows` bit: `ext_out` is set.
const EXT_OUT: u8 = 4;

impl Neighbor {
    /// A neighbour on `session` at `address`, no flow yet, nothing verified.
    pub(crate) fn new(session: SessionId, address: GroupAddress) -> Self {
        Neighbor {
            session,
            address,
            out_flow: 0,
            in_flow: 0,
            ext_out: 0,
            flows: 0,
            verified: false,
            connected: false,
            mode: ReceiveMode::Exact,
            report_pending: false,
            reported: false,
            last_ask_close: PackedInstant::NONE,
        }
    }

    pub(crate) fn flow(&self, bit: u8, id: u64) -> Option<u64> {
        (self.flows & bit != 0).then_some(id)
    }

    /// Our `GR\x1C` flow to it.
    pub fn out_flow(&self) -> Option<u64> {
        self.flow(OUT_FLOW, self.out_flow)
    }

    /// Its `GR\x1C` flow to us (its flow ID).
    pub fn in_flow(&self) -> Option<u64> {
        self.flow(IN_FLOW, self.in_flow)
    }

    /// Our extension flow to it.
    pub fn ext_out(&self) -> Option<u64> {
        self.flow(EXT_OUT, self.ext_out)
    }

    pub(crate) fn set_out_flow(&mut self, f: u64) {
        self.out_flow = f;
        self.flows |= OUT_FLOW;
    }

    pub(crate) fn set_in_flow(&mut self, f: u64) {
        self.in_flow = f;
        self.flows |= IN_FLOW;
    }

    pub(crate) fn set_ext_out(&mut self, f: u64) {
        self.ext_out = f;
        self.flows |= EXT_OUT;
    }
}
