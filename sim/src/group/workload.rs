//! [`GroupWorkload`]: one rendezvous server (slot 0) and NetGroup members that join one group,
//! post, and look up random group addresses with `sendToNearest`.
//!
//! - Members connect their NetConnection to the server when they start and join the group
//!   `join_delay` later, with receive mode NEAREST.
//! - With LAN discovery (`lan_discovery`) the group's spec names an IP multicast address:
//!   members also announce themselves on their LAN segment and connect to those they hear
//!   (docs/protocol/netgroup.md, "LAN discovery"). Without a server (`server = false`) slot 0 is an
//!   ordinary member, nobody opens a NetConnection, and the announcements are the only way in: each
//!   LAN segment is a group of its own, so a post is expected only in the poster's segment and a
//!   lookup's nearest member is sought in the sender's segment.
//! - Slot 0 (the server, or the serverless group's first member) runs the group-wide
//!   schedule: at each post (or lookup) time it picks a random member with at least one
//!   neighbour and wakes it ([`Ctx::wake_node`]); the member posts (or sends a lookup to a
//!   random address) from its own callback.
//! - At each post the workload records who should get it: every other member that has a
//!   neighbour then, with its shortest-path hop count in the overlay (from the
//!   `Neighbor.Connect` / `.Disconnect` events the members report). A member that leaves
//!   within the delivery deadline without the post is excused.
//! - A lookup is correct when it ends at the member nearest its address among the live group
//!   members (`NetGroup.Connect.Success` received) at that moment.
//! - Object replication ([`crate::group::replication`]): at the start time (or when it joins
//!   the group, if later) a seeder announces every object (`add_have_objects`) and any other
//!   member wants them all (`add_want_objects`). Members answer `Replication.Request` with the
//!   shared object bytes, check every `Fetch.Result` against them and then announce the
//!   object themselves.
//! - Multicast streaming ([`crate::group::stream`]): slot 1 publishes from the start time, one
//!   message per `message_ms` (woken by the engine), and unpublishes after the last; every
//!   other member plays the stream from when it joins the group.

use std::collections::BTreeMap;

use bytes::Bytes;
use rtmfp::Instant;
use rtmfp_netgroup::{
    GroupAddress, GroupEvent, GroupHandle, GroupNode, PeerId, SendResult, SendToNotify,
};

use crate::directory::Directory;
use crate::group::counters::{GroupCounters, LanTotals, NodeTotals};
use crate::group::ledger::{LookupDelivery, LookupLedger, MemberRing, PostDelivery, PostLedger};
use crate::group::node::{new_member, new_server, GroupSimEvent, GroupSimNode};
use crate::group::params::{GroupParams, Schedule};
use crate::group::replication::{Objects, Receipt, ReplicationLedger};
use crate::group::stream::{StreamLedger, PUBLISHER, STREAM_NAME};
use crate::metrics::Samples;
use crate::node::NodeId;
use crate::rng::{below, exponential, seed32};
use crate::workload::{Ctx, Workload};

/// The slot of the rendezvous server; in a serverless group, the member that runs the
/// group-wide schedule.
pub const SERVER: NodeId = NodeId(0);

const TOKEN_JOIN: u64 = 1;
const TOKEN_POST_TICK: u64 = 2;
const TOKEN_LOOKUP_TICK: u64 = 3;
const TOKEN_POST: u64 = 4;
const TOKEN_LOOKUP: u64 = 5;
const TOKEN_REPLICATION: u64 = 6;
const TOKEN_STREAM: u64 = 7;
const SAMPLE_CAP: usize = 1 << 20;

/// What the workload knows of the incarnation in one slot.
#[derive(Debug, Clone, Default)]
struct Member {
    serial: u32,
    address: GroupAddress,
    join_at: Option<Instant>,
    joined: bool,
    had_neighbor: bool,
    /// Neighbours as `(slot, serial)`, from the member's own events.
    neighbors: Vec<(u32, u32)>,
    /// The replication start has come for this incarnation (it starts once it joined).
    replication_due: bool,
}

/// Progress of one kind of group-wide traffic.
#[derive(Debug, Clone, Copy, Default)]
struct Ticker {
    issued: u32,
}

/// The group workload over [`GroupSimNode`]s (see the module docs).
pub struct GroupWorkload {
    p: GroupParams,
    group: GroupHandle,
    url: String,
    members: Vec<Member>,
    peers: BTreeMap<PeerId, (u32, u32)>,
    next_serial: u32,
    joined: Directory,
    ready: Directory,
    /// Live joined members on the ring, one ring per discovery scope
    /// ([`GroupParams::scope`]).
    rings: Vec<MemberRing>,
    posts: PostLedger,
    lookups: LookupLedger,
    post_ticker: Ticker,
    lookup_ticker: Ticker,
    bfs_dist: Vec<u8>,
    bfs_queue: Vec<u32>,
    /// Counters.
    pub counters: GroupCounters,
    /// Counters of departed member incarnations (live ones are added by the runner).
    pub departed: NodeTotals,
    /// LAN discovery counters of departed member incarnations (live ones are added by the
    /// report).
    pub departed_lan: LanTotals,
    /// Post dissemination latency (post to first copy at an expected member), microseconds.
    pub post_latency_us: Samples,
    /// Shortest-path overlay hops from the poster at post time of each first copy.
    pub post_hops: Samples,
    /// Lookup latency (send to arrival at its end), microseconds.
    pub lookup_latency_us: Samples,
    /// Hops of each lookup (`SendTo.Notify` hop count).
    pub lookup_hops: Samples,
    /// Join to first neighbour, microseconds.
    pub join_us: Samples,
    /// The replicated objects, if the scenario replicates.
    objects: Option<Objects>,
    /// Replication bookkeeping, if the scenario replicates.
    pub replication: Option<ReplicationLedger>,
    /// Stream bookkeeping, if the scenario streams.
    pub stream: Option<StreamLedger>,
}

/// The NetConnection URL members use for the server at `server`.
pub fn server_url(server: std::net::SocketAddr) -> String {
    format!("rtmfp://{server}/sim")
}

fn message(id: u64, now: Instant, len: u32) -> Vec<u8> {
    let mut m = vec![0u8; len.max(16) as usize];
    m[..8].copy_from_slice(&id.to_le_bytes());
    m[8..16].copy_from_slice(&now.as_micros().to_le_bytes());
    m
}

fn message_id(m: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(m.get(..8)?.try_into().ok()?))
}

fn after(now: Instant, us: u64) -> Instant {
    Instant::from_micros(now.as_micros().saturating_add(us))
}

impl GroupWorkload {
    /// A workload for `slots` node slots (slot 0 is the server, or a member when
    /// [`GroupParams::has_server`] is false); `seed` drives metric sampling.
    pub fn new(p: GroupParams, slots: usize, seed: u64) -> Self {
        GroupWorkload {
            group: GroupHandle(p.spec.group_id()),
            url: String::new(),
            members: vec![Member::default(); slots],
            peers: BTreeMap::new(),
            next_serial: 1,
            joined: Directory::new(slots),
            ready: Directory::new(slots),
            rings: Vec::new(),
            posts: PostLedger::default(),
            lookups: LookupLedger::default(),
            post_ticker: Ticker::default(),
            lookup_ticker: Ticker::default(),
            bfs_dist: Vec::new(),
            bfs_queue: Vec::new(),
            counters: GroupCounters::default(),
            departed: NodeTotals::default(),
            departed_lan: LanTotals::default(),
            post_latency_us: Samples::new(SAMPLE_CAP, seed ^ 0x10),
            post_hops: Samples::new(SAMPLE_CAP, seed ^ 0x11),
            lookup_latency_us: Samples::new(SAMPLE_CAP, seed ^ 0x12),
            lookup_hops: Samples::new(SAMPLE_CAP, seed ^ 0x13),
            join_us: Samples::new(SAMPLE_CAP, seed ^ 0x14),
            objects: p.replication.as_ref().map(Objects::new),
            replication: p
                .replication
                .clone()
                .map(|r| ReplicationLedger::new(r, slots, seed)),
            stream: p.stream.clone().map(|s| StreamLedger::new(s, slots, seed)),
            p,
        }
    }

    /// The parameters.
    pub fn params(&self) -> &GroupParams {
        &self.p
    }

    /// The group every member joins.
    pub fn group(&self) -> GroupHandle {
        self.group
    }

    /// Live members that joined the group (`NetGroup.Connect.Success`).
    pub fn members_joined(&self) -> usize {
        self.joined.len()
    }

    /// Live joined members with at least one neighbour.
    pub fn members_ready(&self) -> usize {
        self.ready.len()
    }

    /// Whether the member in slot `n` joined the group and is live.
    pub fn is_joined(&self, n: NodeId) -> bool {
        self.joined.contains(n)
    }

    /// Live joined members in the discovery scope of slot `n` ([`GroupParams::scope`]): the
    /// group size a serverless member on a LAN segment can see; all of them with a server.
    pub fn members_in_scope(&self, n: NodeId) -> usize {
        let k = self.p.scope(n.0) as usize;
        self.rings.get(k).map_or(0, MemberRing::len)
    }

    fn ring_mut(&mut self, slot: u32) -> &mut MemberRing {
        let k = self.p.scope(slot) as usize;
        if self.rings.len() <= k {
            self.rings.resize_with(k + 1, MemberRing::default);
        }
        &mut self.rings[k]
    }

    /// The post ledger.
    pub fn posts(&self) -> &PostLedger {
        &self.posts
    }

    /// Lookups sent.
    pub fn lookups_recorded(&self) -> usize {
        self.lookups.len()
    }

    /// Approximate memory of the workload's own bookkeeping, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.posts.memory_bytes()
            + self.members.capacity() * std::mem::size_of::<Member>()
            + self
                .members
                .iter()
                .map(|m| m.neighbors.capacity() * 8)
                .sum::<usize>()
            + self.peers.len() * 48
            + self.replication.as_ref().map_or(0, |r| r.memory_bytes())
            + self.stream.as_ref().map_or(0, |s| s.memory_bytes())
            + self.objects.as_ref().map_or(0, |o| o.memory_bytes())
    }

    fn next_tick(&self, s: Schedule, t: &Ticker, ctx: &mut Ctx<'_>) -> Option<Instant> {
        let at = match s {
            Schedule::Off => return None,
            Schedule::Rate(r) => {
                let gap = exponential(ctx.rng, 1e6 / r).round() as u64;
                let base = ctx.now.as_micros().max(self.p.start_us);
                Instant::from_micros(base.saturating_add(gap.max(1)))
            }
            Schedule::Count { total, gap_us } => {
                if t.issued >= total {
                    return None;
                }
                Instant::from_micros(self.p.start_us + u64::from(t.issued) * gap_us)
            }
        };
        (at.as_micros() < self.p.end_us).then_some(at)
    }

    fn schedule(&mut self, ctx: &mut Ctx<'_>, post: bool) {
        let (s, t, token) = if post {
            (self.p.posts, self.post_ticker, TOKEN_POST_TICK)
        } else {
            (self.p.lookups, self.lookup_ticker, TOKEN_LOOKUP_TICK)
        };
        if let Some(at) = self.next_tick(s, &t, ctx) {
            ctx.wake_at(at, token);
        }
    }

    /// The server's tick: picks a member for the next post or lookup.
    fn tick(&mut self, ctx: &mut Ctx<'_>, post: bool) {
        if post {
            self.counters.posts_scheduled += 1;
        } else {
            self.counters.lookups_scheduled += 1;
        }
        let n = self.ready.len() as u64;
        if n == 0 {
            if post {
                self.counters.posts_skipped += 1;
            } else {
                self.counters.lookups_skipped += 1;
            }
        } else {
            let m = self.ready.live()[below(ctx.rng, n) as usize];
            ctx.wake_node(m, ctx.now, if post { TOKEN_POST } else { TOKEN_LOOKUP });
        }
        if post {
            self.post_ticker.issued += 1;
        } else {
            self.lookup_ticker.issued += 1;
        }
        self.schedule(ctx, post);
    }

    fn join(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        match node.join(ctx.now, &self.p.spec) {
            Ok(_) => {
                self.counters.joins += 1;
                self.members[ctx.node.idx()].join_at = Some(ctx.now);
            }
            Err(_) => self.counters.join_failed += 1,
        }
    }

    /// Shortest-path hops from `from` over the members' neighbour lists, into `bfs_dist`.
    fn overlay_hops(&mut self, from: u32) {
        let n = self.members.len();
        self.bfs_dist.clear();
        self.bfs_dist.resize(n, u8::MAX);
        self.bfs_queue.clear();
        self.bfs_dist[from as usize] = 0;
        self.bfs_queue.push(from);
        let mut head = 0;
        while let Some(&a) = self.bfs_queue.get(head) {
            head += 1;
            let d = self.bfs_dist[a as usize];
            if d >= u8::MAX - 1 {
                continue;
            }
            for &(b, serial) in &self.members[a as usize].neighbors {
                let m = &self.members[b as usize];
                if m.serial != serial || !self.joined.contains(NodeId(b)) {
                    continue;
                }
                if self.bfs_dist[b as usize] == u8::MAX {
                    self.bfs_dist[b as usize] = d + 1;
                    self.bfs_queue.push(b);
                }
            }
        }
    }

    fn post(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        let me = ctx.node;
        if !self.ready.contains(me) {
            self.counters.posts_skipped += 1;
            return;
        }
        let id = self.posts.len() as u64;
        let msg = message(id, ctx.now, self.p.post_bytes);
        if node
            .group_mut(ctx.now, self.group)
            .is_none_or(|mut v| v.post(&msg).is_err())
        {
            self.counters.post_errors += 1;
            return;
        }
        self.counters.posts_sent += 1;
        self.overlay_hops(me.0);
        let scope = self.p.scope(me.0);
        let expected: Vec<(u32, u32, u8)> = self
            .ready
            .live()
            .iter()
            .filter(|&&s| s != me && self.p.scope(s.0) == scope)
            .map(|s| (s.0, self.members[s.idx()].serial, self.bfs_dist[s.idx()]))
            .collect();
        self.posts
            .record(ctx.now, me.0, self.members.len(), expected);
    }

    fn lookup(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        if !self.ready.contains(ctx.node) {
            self.counters.lookups_skipped += 1;
            return;
        }
        let id = self.lookups.len() as u64;
        let msg = message(id, ctx.now, self.p.lookup_bytes);
        let target = GroupAddress(seed32(ctx.rng));
        match node
            .group_mut(ctx.now, self.group)
            .map(|mut v| v.send_to_nearest(&msg, target))
        {
            Some(Ok(r)) => {
                self.lookups.record(ctx.now);
                self.counters.lookups_sent += 1;
                if r == SendResult::NoRoute {
                    self.counters.lookups_no_route += 1;
                }
            }
            _ => self.counters.lookup_errors += 1,
        }
    }

    fn on_neighbor(&mut self, ctx: &mut Ctx<'_>, peer: &PeerId, up: bool) {
        let me = ctx.node.idx();
        let Some(&(slot, serial)) = self.peers.get(peer) else {
            return;
        };
        let m = &mut self.members[me];
        if up {
            self.counters.neighbor_connects += 1;
            if !m.neighbors.contains(&(slot, serial)) {
                m.neighbors.push((slot, serial));
            }
            if !m.had_neighbor {
                m.had_neighbor = true;
                if let Some(t) = m.join_at {
                    self.join_us
                        .push(ctx.now.as_micros().saturating_sub(t.as_micros()));
                }
            }
            if m.joined {
                self.ready.insert(ctx.node);
            }
        } else {
            self.counters.neighbor_disconnects += 1;
            m.neighbors.retain(|&x| x != (slot, serial));
            if m.neighbors.is_empty() {
                self.ready.remove(ctx.node);
            }
        }
    }

    fn on_posting(&mut self, ctx: &mut Ctx<'_>, message: &[u8]) {
        let Some(id) = message_id(message) else {
            self.counters.post_unknown += 1;
            return;
        };
        let serial = self.members[ctx.node.idx()].serial;
        let lan = self.p.lan_size;
        if lan > 0
            && self
                .posts
                .poster(id)
                .is_some_and(|p| p / lan != ctx.node.0 / lan)
        {
            self.counters.post_deliveries_off_segment += 1;
        }
        match self.posts.deliver(id, ctx.node.0, serial, ctx.now) {
            PostDelivery::First { latency_us, hops } => {
                self.counters.post_deliveries += 1;
                self.counters.app_bytes_delivered += message.len() as u64;
                self.post_latency_us.push(latency_us);
                if let Some(h) = hops {
                    self.post_hops.push(u64::from(h));
                }
            }
            PostDelivery::Duplicate => self.counters.post_app_duplicates += 1,
            PostDelivery::Extra => self.counters.post_extra_deliveries += 1,
            PostDelivery::Unknown => self.counters.post_unknown += 1,
        }
    }

    fn on_send_to(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode, n: SendToNotify) {
        let Some(dest) = n.destination else {
            return;
        };
        if !n.at_destination {
            self.counters.app_forwards += 1;
            let sent = node
                .group_mut(ctx.now, n.group)
                .map(|mut v| v.forward_to_nearest(&n));
            if !matches!(sent, Some(Ok(SendResult::Sent))) {
                self.counters.app_forward_failures += 1;
            }
            return;
        }
        let Some(id) = message_id(&n.message) else {
            return;
        };
        match self.lookups.deliver(id, ctx.now) {
            LookupDelivery::First { latency_us } => {
                self.counters.lookups_delivered += 1;
                self.counters.app_bytes_delivered += n.message.len() as u64;
                self.lookup_latency_us.push(latency_us);
                self.lookup_hops.push(u64::from(n.hops));
                let own = self.members[ctx.node.idx()].address;
                let nearest = self.ring_mut(ctx.node.0).nearest(&dest);
                if nearest.is_some_and(|(a, _)| a.distance(&dest) == own.distance(&dest)) {
                    self.counters.lookups_correct += 1;
                }
            }
            LookupDelivery::Duplicate => self.counters.lookup_duplicates += 1,
            LookupDelivery::Unknown => {}
        }
    }

    fn member_event(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode, e: GroupEvent) {
        let me = ctx.node;
        if !ctx.is_live(me) {
            // A leaving member's last events: it is accounted for already.
            return;
        }
        match e {
            GroupEvent::ConnectSuccess { group } if group == self.group => {
                self.counters.join_success += 1;
                let m = &mut self.members[me.idx()];
                m.joined = true;
                let (address, ready) = (m.address, !m.neighbors.is_empty());
                self.joined.insert(me);
                self.ring_mut(me.0).insert(address, me.0);
                if ready {
                    self.ready.insert(me);
                }
                self.start_replication(ctx, node);
                self.start_playing(ctx, node);
            }
            GroupEvent::ConnectFailed { .. } | GroupEvent::ConnectRejected { .. } => {
                self.counters.join_failed += 1;
            }
            GroupEvent::NeighborConnect { peer_id, .. } => self.on_neighbor(ctx, &peer_id, true),
            GroupEvent::NeighborDisconnect { peer_id, .. } => {
                self.on_neighbor(ctx, &peer_id, false)
            }
            GroupEvent::PostingNotify { message, .. } => self.on_posting(ctx, &message),
            GroupEvent::SendToNotify(n) => self.on_send_to(ctx, node, n),
            GroupEvent::ReplicationRequest {
                index, request_id, ..
            } => self.on_replication_request(ctx, node, index, request_id),
            GroupEvent::ReplicationFetchResult {
                index,
                object,
                from,
                ..
            } => self.on_fetch_result(ctx, node, index, object, &from),
            GroupEvent::ReplicationFetchFailed { .. } => {
                if let Some(l) = &mut self.replication {
                    l.counters.fetches_failed += 1;
                }
            }
            GroupEvent::ReplicationFetchSendNotify { .. } => {
                if let Some(l) = &mut self.replication {
                    l.counters.fetches_notified += 1;
                }
            }
            GroupEvent::MulticastMessage { message, .. } => {
                if let Some(l) = &mut self.stream {
                    l.deliver(me.0, message.time, ctx.now);
                    self.counters.app_bytes_delivered += message.payload.len() as u64;
                }
            }
            GroupEvent::MulticastPlayEnded {
                fragments, lost, ..
            } => {
                if let Some(l) = &mut self.stream {
                    l.ended(me.0, fragments, lost);
                }
            }
            GroupEvent::MulticastPublishNotify { .. } => {
                if let Some(l) = &mut self.stream {
                    l.counters.publish_notify += 1;
                }
            }
            _ => {}
        }
    }

    /// Starts replicating on this member if the start has come and it joined the group:
    /// a seeder announces every object, any other member wants them all.
    fn start_replication(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        let me = ctx.node;
        let m = &self.members[me.idx()];
        let Some(l) = &mut self.replication else {
            return;
        };
        if !m.replication_due || !m.joined || l.started(me.0) {
            return;
        }
        let p = l.params();
        let (g, last, seeder) = (self.group, p.objects - 1, p.is_seeder(me.0));
        let ok = node.group_mut(ctx.now, g).is_some_and(|mut v| {
            let mut r = v.replication();
            r.set_replication_strategy(p.strategy.engine()).is_ok()
                && if seeder {
                    r.add_have_objects(0, last).is_ok()
                } else {
                    r.add_want_objects(0, last).is_ok()
                }
        });
        if !ok {
            l.counters.api_errors += 1;
        } else if seeder {
            l.seed(me.0);
        } else {
            l.want(me.0, ctx.now);
        }
    }

    /// Plays the stream once this member joined the group (the publisher does not play).
    fn start_playing(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        let Some(l) = &mut self.stream else {
            return;
        };
        if ctx.node.0 == PUBLISHER {
            return;
        }
        if node
            .group_mut(ctx.now, self.group)
            .is_some_and(|mut v| v.multicast().play(STREAM_NAME).is_ok())
        {
            l.play(ctx.node.0, ctx.now);
        } else {
            l.counters.api_errors += 1;
        }
    }

    /// The publisher's tick: publish the stream (first tick), then one message per tick;
    /// unpublish after the last.
    fn stream_tick(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupNode) {
        let g = self.group;
        let joined = self.members[ctx.node.idx()].joined;
        let Some(l) = &mut self.stream else {
            return;
        };
        if !joined {
            // Not in the group yet: try again one message later.
            l.counters.api_errors += 1;
            ctx.wake_at(after(ctx.now, l.params().message_us), TOKEN_STREAM);
            return;
        }
        let key = match l.key {
            Some(k) => k,
            None => match node
                .group_mut(ctx.now, g)
                .map(|mut v| v.multicast().publish(STREAM_NAME))
            {
                Some(Ok(k)) => {
                    l.key = Some(k);
                    k
                }
                _ => {
                    l.counters.api_errors += 1;
                    return;
                }
            },
        };
        match l.next_message() {
            Some(k) => {
                let (t, time, payload) = l.params().message(k);
                if node.group_mut(ctx.now, g).is_some_and(|mut v| {
                    v.multicast()
                        .publish_message(&key, t, time, payload)
                        .is_ok()
                }) {
                    l.counters.published += 1;
                } else {
                    l.counters.api_errors += 1;
                }
                let next = l.params().publish_at(k + 1).max(after(ctx.now, 1));
                ctx.wake_at(next, TOKEN_STREAM);
            }
            None => {
                if node
                    .group_mut(ctx.now, g)
                    .is_none_or(|mut v| v.multicast().unpublish(&key).is_err())
                {
                    l.counters.api_errors += 1;
                }
            }
        }
    }

    /// A neighbour asks for object `index`: answer with the shared bytes (the engine only
    /// asks for objects of our have set).
    fn on_replication_request(
        &mut self,
        ctx: &mut Ctx<'_>,
        node: &mut GroupNode,
        index: u64,
        request_id: u64,
    ) {
        let (Some(l), Some(objects)) = (&mut self.replication, &self.objects) else {
            return;
        };
        let g = self.group;
        let Some(object) = objects.get(index) else {
            l.counters.unknown_requests += 1;
            if node
                .group_mut(ctx.now, g)
                .is_none_or(|mut v| v.replication().deny_requested_object(request_id).is_err())
            {
                l.counters.write_errors += 1;
            }
            return;
        };
        let len = object.len() as u64;
        if !l.admit(ctx.node.0, ctx.capacity_bps().0, len, ctx.now) {
            if node
                .group_mut(ctx.now, g)
                .is_none_or(|mut v| v.replication().deny_requested_object(request_id).is_err())
            {
                l.counters.write_errors += 1;
            }
            return;
        }
        match node.group_mut(ctx.now, g).map(|mut v| {
            v.replication()
                .write_requested_object(request_id, object.clone())
        }) {
            Some(Ok(())) => {
                let seeder = l.params().is_seeder(ctx.node.0);
                l.served(seeder, len);
            }
            _ => l.counters.write_errors += 1,
        }
    }

    /// Object `index` arrived from `from`: check it against the object's bytes, then hold and
    /// announce it (or want it again if it is wrong).
    fn on_fetch_result(
        &mut self,
        ctx: &mut Ctx<'_>,
        node: &mut GroupNode,
        index: u64,
        object: Bytes,
        from: &PeerId,
    ) {
        let (Some(l), Some(objects)) = (&mut self.replication, &self.objects) else {
            return;
        };
        let g = self.group;
        if objects.get(index) != Some(&object) {
            l.counters.corrupt += 1;
            if node
                .group_mut(ctx.now, g)
                .is_none_or(|mut v| v.replication().add_want_objects(index, index).is_err())
            {
                l.counters.api_errors += 1;
            }
            return;
        }
        let from_seeder = self
            .peers
            .get(from)
            .is_some_and(|&(slot, _)| l.params().is_seeder(slot));
        let len = object.len() as u64;
        if l.receive(ctx.node.0, index, from_seeder, len, ctx.now) == Receipt::New {
            self.counters.app_bytes_delivered += len;
        }
        if node
            .group_mut(ctx.now, g)
            .is_none_or(|mut v| v.replication().add_have_objects(index, index).is_err())
        {
            l.counters.api_errors += 1;
        }
    }
}

impl Workload<GroupSimNode> for GroupWorkload {
    fn create(&mut self, ctx: &mut Ctx<'_>) -> GroupSimNode {
        if ctx.node == SERVER && self.p.has_server {
            let s = new_server(self.p.crypto, self.p.server.clone(), ctx.rng);
            return GroupSimNode::Server(Box::new(s));
        }
        let m = new_member(
            self.p.crypto,
            self.p.endpoint.clone(),
            self.p.group.clone(),
            ctx.rng,
        );
        let serial = self.next_serial;
        self.next_serial = self.next_serial.wrapping_add(1).max(1);
        self.members[ctx.node.idx()] = Member {
            serial,
            address: m.group_address(),
            ..Member::default()
        };
        self.peers.insert(m.peer_id(), (ctx.node.0, serial));
        GroupSimNode::Member(Box::new(m))
    }

    fn on_join(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupSimNode) {
        let node = match node {
            GroupSimNode::Server(_) => {
                self.url = server_url(ctx.addr_of(SERVER));
                self.schedule(ctx, true);
                self.schedule(ctx, false);
                return;
            }
            GroupSimNode::Member(m) => m,
        };
        if !self.p.has_server {
            // Serverless: no NetConnection; the group is active at the join and its LAN
            // announcements go out at once. Slot 0 keeps the group-wide schedule.
            if ctx.node == SERVER {
                self.schedule(ctx, true);
                self.schedule(ctx, false);
            }
        } else {
            if self.url.is_empty() {
                self.url = server_url(ctx.addr_of(SERVER));
            }
            let server = ctx.addr_of(SERVER);
            if node.connect(ctx.now, &self.url, &[server]).is_err() {
                self.counters.connect_errors += 1;
                return;
            }
        }
        if self.p.join_delay_us == 0 {
            self.join(ctx, node);
        } else {
            ctx.wake_at(after(ctx.now, self.p.join_delay_us), TOKEN_JOIN);
        }
        if let Some(r) = &self.p.replication {
            ctx.wake_at(Instant::from_micros(r.start_us), TOKEN_REPLICATION);
        }
        if let Some(s) = &self.p.stream {
            if ctx.node.0 == PUBLISHER {
                ctx.wake_at(Instant::from_micros(s.start_us).max(ctx.now), TOKEN_STREAM);
            }
        }
    }

    fn on_event(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupSimNode, event: GroupSimEvent) {
        if let (GroupSimNode::Member(m), GroupSimEvent::Member(e)) = (node, event) {
            self.member_event(ctx, m, e);
        }
    }

    fn on_wake(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupSimNode, token: u64) {
        // The schedule ticks go to slot 0: the server, or a serverless group's member.
        match token {
            TOKEN_POST_TICK => return self.tick(ctx, true),
            TOKEN_LOOKUP_TICK => return self.tick(ctx, false),
            _ => {}
        }
        let GroupSimNode::Member(m) = node else {
            return;
        };
        match token {
            TOKEN_JOIN => self.join(ctx, m),
            TOKEN_POST => self.post(ctx, m),
            TOKEN_LOOKUP => self.lookup(ctx, m),
            TOKEN_STREAM => self.stream_tick(ctx, m),
            TOKEN_REPLICATION => {
                self.members[ctx.node.idx()].replication_due = true;
                self.start_replication(ctx, m);
            }
            _ => {}
        }
    }

    fn on_leave(&mut self, ctx: &mut Ctx<'_>, node: &mut GroupSimNode, crash: bool) {
        let GroupSimNode::Member(node) = node else {
            return;
        };
        self.departed_lan.add(node);
        let me = ctx.node;
        let m = std::mem::take(&mut self.members[me.idx()]);
        if m.joined {
            self.ring_mut(me.0).remove(&m.address);
        }
        self.joined.remove(me);
        self.ready.remove(me);
        self.posts
            .leave(me.0, m.serial, ctx.now, self.p.deadline_us);
        self.departed.add(node, self.group);
        if let Some(l) = &mut self.replication {
            crate::group::replication::add_engine_totals(&mut l.departed, node, self.group);
            l.leave(me.0, ctx.now);
        }
        if let Some(l) = &mut self.stream {
            if let Some(key) = l.key {
                l.departed.add(node, self.group, &key, me.0 == PUBLISHER);
            }
            l.leave(me.0);
        }
        // Keep the serial so late events of this incarnation are not credited to the next.
        self.members[me.idx()].serial = m.serial;
        if !crash {
            if let Some(v) = node.group_mut(ctx.now, self.group) {
                v.leave();
            }
            let (ep, nc) = node.flash_mut().parts_mut();
            nc.close(ep, ctx.now);
        }
    }
}
