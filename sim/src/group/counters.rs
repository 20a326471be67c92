//! Counters of the group workload: what the workload did and saw ([`GroupCounters`]) and the
//! members' own counters summed over every incarnation ([`NodeTotals`]).

use rtmfp_netgroup::{GroupHandle, GroupNode};

/// What the group workload did and saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct GroupCounters {
    /// `NetConnection.connect` calls refused by the node.
    pub connect_errors: u64,
    /// `NetGroup` joins issued.
    pub joins: u64,
    /// `NetGroup.Connect.Success` events.
    pub join_success: u64,
    /// `NetGroup.Connect.Failed` / `.Rejected` events and refused join calls.
    pub join_failed: u64,
    /// `NetGroup.Neighbor.Connect` events.
    pub neighbor_connects: u64,
    /// `NetGroup.Neighbor.Disconnect` events.
    pub neighbor_disconnects: u64,
    /// Post times the schedule reached (a member was picked, or none was ready).
    pub posts_scheduled: u64,
    /// Posts sent (`post` accepted).
    pub posts_sent: u64,
    /// `post` calls refused.
    pub post_errors: u64,
    /// Scheduled posts skipped: no member with a neighbour, or the chosen one left.
    pub posts_skipped: u64,
    /// First copies of posts at expected members (running count; see the report's totals).
    pub post_deliveries: u64,
    /// Posts the application saw more than once at one member.
    pub post_app_duplicates: u64,
    /// Posts delivered to members that were not expected (joined or got their first neighbour
    /// after the post).
    pub post_extra_deliveries: u64,
    /// `PostingNotify` events that carried no post of this run.
    pub post_unknown: u64,
    /// Post copies (first or not, expected or not) the application saw at a member on a LAN
    /// segment other than the poster's (`population.lan_size` > 0 only). Without a server
    /// this must be 0: LAN announcements never leave their segment.
    pub post_deliveries_off_segment: u64,
    /// Lookup times the schedule reached.
    pub lookups_scheduled: u64,
    /// Lookups sent (`sendToNearest` accepted, `"no route"` answers included).
    pub lookups_sent: u64,
    /// `sendToNearest` calls refused.
    pub lookup_errors: u64,
    /// Scheduled lookups skipped: no member with a neighbour, or the chosen one left.
    pub lookups_skipped: u64,
    /// Lookups answered `"no route"` by their origin.
    pub lookups_no_route: u64,
    /// Lookups that ended at some member (first arrivals).
    pub lookups_delivered: u64,
    /// Lookups that ended at the member nearest their address among the live group members.
    pub lookups_correct: u64,
    /// Lookups that ended more than once.
    pub lookup_duplicates: u64,
    /// `forward_to_nearest` calls made by the workload (`auto_forward = false`).
    pub app_forwards: u64,
    /// `forward_to_nearest` calls that found no route or failed.
    pub app_forward_failures: u64,
    /// Application bytes delivered: post first copies at expected members and lookup first
    /// arrivals.
    pub app_bytes_delivered: u64,
}

/// The members' own counters (`NetGroupInfo`, posting, routing and membership counters),
/// summed over every incarnation (departed ones at their departure, live ones at the end).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NodeTotals {
    /// Incarnations summed.
    pub members: u64,
    /// Posts delivered to applications.
    pub posts_delivered: u64,
    /// Flooded post copies dropped as already seen.
    pub post_duplicate_drops: u64,
    /// Post copies dropped by a neighbour's rate limit.
    pub post_rate_limited: u64,
    /// Post copies dropped for other reasons (malformed, too large, proof).
    pub post_other_drops: u64,
    /// Routed messages originated.
    pub routed_sent: u64,
    /// Routed messages forwarded.
    pub routed_forwarded: u64,
    /// Routed messages that ended at a member.
    pub routed_delivered: u64,
    /// Routed messages dropped at the hop limit.
    pub routed_hop_limit: u64,
    /// Routed messages no member accepted.
    pub routed_undeliverable: u64,
    /// Peer sessions the group engines started.
    pub connect_attempts: u64,
    /// Peer sessions that failed to open.
    pub connect_failures: u64,
    /// Server introductions received.
    pub introductions: u64,
    /// Ask-close requests sent.
    pub ask_close_sent: u64,
    /// Ask-close requests accepted.
    pub ask_close_accepted: u64,
    /// Members not recorded because a heard list was full.
    pub heard_full: u64,
    /// Writes the session layer refused.
    pub write_failures: u64,
    /// Group messages from a peer that was not (or no longer) a neighbour, or of an unknown
    /// type: e.g. a routed message that arrives just after its receiver dropped the sender.
    pub unexpected_messages: u64,
    /// `NetGroupInfo.postingSendDataBytes` (cumulative).
    pub posting_send_data_bytes: u64,
    /// `NetGroupInfo.postingReceiveDataBytes`.
    pub posting_receive_data_bytes: u64,
    /// `NetGroupInfo.routingSendBytes`.
    pub routing_send_bytes: u64,
    /// `NetGroupInfo.routingReceiveBytes`.
    pub routing_receive_bytes: u64,
    /// Group events dropped because a member's event queue was full.
    pub events_dropped: u64,
}

impl NodeTotals {
    /// Adds the counters of `node` in group `g` (nothing but the member count if it is not in
    /// the group).
    pub fn add(&mut self, node: &GroupNode, g: GroupHandle) {
        self.members += 1;
        self.events_dropped += node.counters().events_dropped;
        if let Some(p) = node.group(g).map(|v| v.posting_counters()) {
            self.posts_delivered += p.delivered;
            self.post_duplicate_drops += p.duplicate;
            self.post_rate_limited += p.rate_limited;
            self.post_other_drops +=
                p.malformed + p.too_large + p.missing_proof + p.bad_proof + p.unverifiable;
        }
        if let Some(r) = node.group(g).map(|v| v.routing_counters()) {
            self.routed_sent += r.sent;
            self.routed_forwarded += r.forwarded;
            self.routed_delivered += r.delivered;
            self.routed_hop_limit += r.hop_limit;
            self.routed_undeliverable += r.undeliverable;
        }
        if let Some(m) = node.group(g).map(|v| v.membership_counters()) {
            self.connect_attempts += m.connect_attempts;
            self.connect_failures += m.connect_failures;
            self.introductions += m.introductions;
            self.ask_close_sent += m.ask_close_sent;
            self.ask_close_accepted += m.ask_close_accepted;
            self.heard_full += m.heard_full;
            self.write_failures += m.write_failures;
            self.unexpected_messages += m.unexpected;
        }
        if let Some(i) = node.group(g).map(|v| v.info()) {
            self.posting_send_data_bytes += i.posting_send_data_bytes;
            self.posting_receive_data_bytes += i.posting_receive_data_bytes;
            self.routing_send_bytes += i.routing_send_bytes;
            self.routing_receive_bytes += i.routing_receive_bytes;
        }
    }
}

/// The members' LAN discovery counters (`GroupNode::lan_counters`, docs/protocol/netgroup.md, "LAN
/// discovery", `docs/wire-netgroup.md` "LAN announcement"), summed over every incarnation (departed
/// ones at their departure, live ones at the end). Counts are datagrams (one announcement per
/// multicast address per `lan_announce_interval`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct LanTotals {
    /// Incarnations summed.
    pub members: u64,
    /// Announcements queued for sending (each reaches every other node of the sender's LAN
    /// segment, less network losses).
    pub announcements_sent: u64,
    /// Announcements heard and accepted: a valid tag for the group, not our own.
    pub announcements_heard: u64,
    /// Datagrams on the multicast address that were not announcements (short, wrong magic).
    pub malformed: u64,
    /// Well-formed announcements for no group of ours, or with a forged tag.
    pub unknown_group: u64,
    /// Announcements not queued because the member's outgoing LAN queue was full.
    pub queue_full: u64,
    /// Our own announcements heard back (the simulated LAN does not loop multicast back to
    /// the sender, so 0).
    pub own_heard: u64,
    /// Peer sessions started at once on hearing an announcement (the member had fewer
    /// neighbours than it aims for): `LanCounters::connects`.
    pub connects_from_hints: u64,
}

impl LanTotals {
    /// Adds the counters of member `m`.
    pub fn add(&mut self, m: &GroupNode) {
        let c = m.lan_counters();
        self.members += 1;
        self.announcements_sent += c.announcements_sent;
        self.announcements_heard += c.announcements_accepted;
        self.malformed += c.malformed;
        self.unknown_group += c.unknown_group;
        self.queue_full += c.queue_full;
        self.own_heard += c.own_heard;
        self.connects_from_hints += c.connects;
    }

    /// Announcements dropped: malformed, unknown group or forged, not queued.
    pub fn dropped(&self) -> u64 {
        self.malformed + self.unknown_group + self.queue_full
    }
}
