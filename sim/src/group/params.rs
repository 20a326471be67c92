//! The group workload's scenario table (`[workload] kind = "group"`) and the run-time
//! parameters built from it.

use std::time::Duration;

use rtmfp::Config;
use rtmfp_netgroup::server::RendezvousConfig;
use rtmfp_netgroup::{GroupConfig, GroupSpecifier, ReceiveMode};
use serde::{Deserialize, Serialize};

use crate::addr::MULTICAST;
use crate::endpoint_node::Crypto;
use crate::error::check_in;
use crate::error::ScenarioError;
use crate::group::replication::{ReplicationParams, ReplicationSpec};
use crate::group::stream::{StreamParams, StreamSpec};

/// Largest post or lookup message, bytes (the engine's default `max_post_bytes` and
/// `max_route_bytes`).
pub const MAX_MESSAGE_BYTES: u32 = 16 * 1024;
/// Smallest post or lookup message: an 8-byte ID and an 8-byte send time.
pub const MIN_MESSAGE_BYTES: u32 = 16;

/// `[workload]` of a group scenario (`kind = "group"`). Every field has a default; see
/// `sim/README.md`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GroupSpec {
    /// Group-wide posts per second (Poisson arrivals), each from a random member with at
    /// least one neighbour. Exclusive with `posts`.
    pub posts_per_s: f64,
    /// A number of posts, evenly spaced over the traffic window. Exclusive with `posts_per_s`.
    pub posts: Option<u32>,
    /// Size of each post, bytes (16..=16384).
    pub post_bytes: u32,
    /// Group-wide `sendToNearest` lookups per second (Poisson arrivals) to random group
    /// addresses, each from a random member with at least one neighbour. Exclusive with
    /// `lookups`.
    pub lookups_per_s: f64,
    /// A number of lookups, evenly spaced over the traffic window. Exclusive with
    /// `lookups_per_s`.
    pub lookups: Option<u32>,
    /// Size of each lookup message, bytes (16..=16384).
    pub lookup_bytes: u32,
    /// Traffic (posts and lookups) starts this long after time 0, seconds: time for the
    /// overlay to form.
    pub warmup_s: f64,
    /// No traffic starts in the last `drain_s` seconds; also the delivery deadline: a member
    /// that leaves within `drain_s` of a post it has not received is excused, not counted as a
    /// miss.
    pub drain_s: f64,
    /// Delay from a member's start (its NetConnection to the server) to its `NetGroup` join,
    /// seconds. When members start is set by `[population]` (`join_spread_s`) and `[churn]`
    /// (arrivals, rejoins, explicit events).
    pub join_delay_s: f64,
    /// Flash's maintenance timers (best list, report, clean, peer timeout, disconnect delay)
    /// are divided by this (≥ 1; `GroupConfig::scaled`).
    pub timer_scale: u32,
    /// Members forward routed messages themselves (`GroupConfig::auto_forward`); when false
    /// the workload plays Flash's application and calls `forward_to_nearest` on every
    /// `NetGroup.SendTo.Notify` that is not at its destination.
    pub auto_forward: bool,
    /// Sessions with nothing received for this long are closed, seconds (how fast crashed
    /// neighbours are noticed). Must be > 0.
    pub idle_timeout_s: f64,
    /// Most members in each member's heard list (`GroupConfig::max_heard`, ≥ 8).
    pub max_heard: u32,
    /// Object replication (`[workload.replication]`); absent: none, and the group does not
    /// enable `objectReplicationEnabled`.
    pub replication: Option<ReplicationSpec>,
    /// A multicast stream (`[workload.stream]`) from slot 1 to every other member; absent:
    /// none, and the group does not enable `multicastEnabled`.
    pub stream: Option<Box<StreamSpec>>,
    /// LAN discovery (docs/protocol/netgroup.md, "LAN discovery", `docs/wire-netgroup.md` "LAN
    /// announcement"): the GroupSpecifier enables `ipMulticastMemberUpdatesEnabled` and names the
    /// IP multicast address [`crate::addr::MULTICAST`] (`addIPMulticastAddress`); members announce
    /// themselves there every `lan_announce_interval` (5 s ÷ `timer_scale`) and connect to
    /// the members they hear. The network fans multicast out to the sender's LAN segment, so
    /// this needs `population.lan_size` > 0.
    pub lan_discovery: bool,
    /// Whether a rendezvous server runs in slot 0 and members join through it. `false`
    /// (serverless, needs `lan_discovery`): slot 0 is an ordinary member (it never churns and
    /// runs the group-wide post and lookup schedule), no member opens a NetConnection, and
    /// members find each other only by LAN announcements — each LAN segment is then a group
    /// of its own.
    pub server: bool,
}

impl Default for GroupSpec {
    fn default() -> Self {
        GroupSpec {
            posts_per_s: 0.0,
            posts: None,
            post_bytes: 200,
            lookups_per_s: 0.0,
            lookups: None,
            lookup_bytes: 64,
            warmup_s: 10.0,
            drain_s: 5.0,
            join_delay_s: 0.0,
            timer_scale: 10,
            auto_forward: true,
            idle_timeout_s: 120.0,
            max_heard: 4096,
            replication: None,
            stream: None,
            lan_discovery: false,
            server: true,
        }
    }
}

fn check(ok: bool, field: &str, what: &str) -> Result<(), ScenarioError> {
    check_in("workload.", ok, field, what)
}

fn finite_nonneg(v: f64, field: &str) -> Result<(), ScenarioError> {
    check(
        v.is_finite() && v >= 0.0,
        field,
        &format!("must be ≥ 0, got {v}"),
    )
}

impl GroupSpec {
    /// Checks ranges against a run of `duration_s` seconds whose population starts with
    /// `nodes` slots; errors name the field.
    pub fn validate(&self, duration_s: f64, nodes: u32) -> Result<(), ScenarioError> {
        check(
            self.server || self.lan_discovery,
            "server",
            "a group without a rendezvous server (`server = false`) needs `lan_discovery = true`: members would find nobody",
        )?;
        if let Some(r) = &self.replication {
            r.validate(duration_s, nodes)?;
        }
        if let Some(s) = &self.stream {
            s.validate(duration_s, nodes)?;
        }
        finite_nonneg(self.posts_per_s, "posts_per_s")?;
        finite_nonneg(self.lookups_per_s, "lookups_per_s")?;
        check(
            self.posts.is_none() || self.posts_per_s == 0.0,
            "posts",
            "give either `posts` or `posts_per_s`, not both",
        )?;
        check(
            self.lookups.is_none() || self.lookups_per_s == 0.0,
            "lookups",
            "give either `lookups` or `lookups_per_s`, not both",
        )?;
        check(
            self.posts_per_s <= 10_000.0,
            "posts_per_s",
            "must be at most 10000",
        )?;
        check(
            self.lookups_per_s <= 100_000.0,
            "lookups_per_s",
            "must be at most 100000",
        )?;
        check(
            self.posts.unwrap_or(0) <= 1_000_000,
            "posts",
            "must be at most 1000000",
        )?;
        check(
            self.lookups.unwrap_or(0) <= 10_000_000,
            "lookups",
            "must be at most 10000000",
        )?;
        for (v, f) in [
            (self.post_bytes, "post_bytes"),
            (self.lookup_bytes, "lookup_bytes"),
        ] {
            check(
                (MIN_MESSAGE_BYTES..=MAX_MESSAGE_BYTES).contains(&v),
                f,
                &format!("must be in {MIN_MESSAGE_BYTES}..={MAX_MESSAGE_BYTES}, got {v}"),
            )?;
        }
        finite_nonneg(self.warmup_s, "warmup_s")?;
        finite_nonneg(self.drain_s, "drain_s")?;
        finite_nonneg(self.join_delay_s, "join_delay_s")?;
        check(
            self.warmup_s + self.drain_s < duration_s,
            "warmup_s",
            &format!(
                "warmup_s + drain_s ({} s) must be below duration_s ({duration_s} s)",
                self.warmup_s + self.drain_s
            ),
        )?;
        check(
            (1..=1000).contains(&self.timer_scale),
            "timer_scale",
            &format!("must be in 1..=1000, got {}", self.timer_scale),
        )?;
        check(
            self.idle_timeout_s.is_finite() && self.idle_timeout_s > 0.0,
            "idle_timeout_s",
            &format!("must be > 0, got {}", self.idle_timeout_s),
        )?;
        check(
            (8..=1_000_000).contains(&self.max_heard),
            "max_heard",
            &format!("must be in 8..=1000000, got {}", self.max_heard),
        )?;
        Ok(())
    }
}

/// When the traffic of one kind (posts or lookups) starts, microseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Schedule {
    /// None.
    Off,
    /// Poisson arrivals at this many per second.
    Rate(f64),
    /// Exactly this many, evenly spaced: one every `gap_us`, the first at the window start.
    Count {
        /// How many.
        total: u32,
        /// Spacing, microseconds.
        gap_us: u64,
    },
}

impl Schedule {
    fn new(rate: f64, count: Option<u32>, window_us: u64) -> Self {
        match count {
            Some(0) => Schedule::Off,
            Some(total) => Schedule::Count {
                total,
                gap_us: (window_us / u64::from(total)).max(1),
            },
            None if rate > 0.0 => Schedule::Rate(rate),
            None => Schedule::Off,
        }
    }
}

/// Run-time parameters of [`crate::group::GroupWorkload`].
#[derive(Debug, Clone)]
pub struct GroupParams {
    /// Crypto profile of the server and the members.
    pub crypto: Crypto,
    /// Members' session settings.
    pub endpoint: Config,
    /// Members' group settings (receive mode NEAREST, `auto_forward` as configured).
    pub group: GroupConfig,
    /// The server's settings.
    pub server: RendezvousConfig,
    /// The group every member joins: posting and routing enabled, server channel enabled with
    /// a server, IP multicast member updates to [`crate::addr::MULTICAST`] with LAN discovery.
    pub spec: GroupSpecifier,
    /// Posts.
    pub posts: Schedule,
    /// Post size, bytes.
    pub post_bytes: u32,
    /// Lookups.
    pub lookups: Schedule,
    /// Lookup message size, bytes.
    pub lookup_bytes: u32,
    /// Traffic window start, microseconds of virtual time.
    pub start_us: u64,
    /// Traffic window end (exclusive), microseconds of virtual time.
    pub end_us: u64,
    /// Delivery deadline (see [`GroupSpec::drain_s`]), microseconds.
    pub deadline_us: u64,
    /// Start → join delay, microseconds.
    pub join_delay_us: u64,
    /// Object replication, if any.
    pub replication: Option<ReplicationParams>,
    /// The multicast stream, if any.
    pub stream: Option<StreamParams>,
    /// LAN discovery on (see [`GroupSpec::lan_discovery`]): the spec names
    /// [`crate::addr::MULTICAST`].
    pub lan_discovery: bool,
    /// A rendezvous server in slot 0 (see [`GroupSpec::server`]).
    pub has_server: bool,
    /// Nodes per LAN segment (`population.lan_size`; 0: none). Without a server, a post is
    /// expected only at the members of the poster's segment and a lookup's nearest member is
    /// sought in the sender's segment: the only members it can discover.
    pub lan_size: u32,
}

fn us(s: f64) -> u64 {
    (s * 1e6).round() as u64
}

impl GroupParams {
    /// Parameters for `spec` in a run of `duration_s` seconds with `slots` node slots.
    pub fn new(spec: &GroupSpec, crypto: Crypto, duration_s: f64, slots: u32) -> Self {
        let start_us = us(spec.warmup_s);
        let end_us = us(duration_s - spec.drain_s).max(start_us + 1);
        let window = end_us - start_us;
        let endpoint = Config {
            idle_timeout: Duration::from_secs_f64(spec.idle_timeout_s),
            ..Config::default()
        };
        let mut group = GroupConfig {
            auto_forward: spec.auto_forward,
            receive_mode: ReceiveMode::Nearest,
            max_heard: spec.max_heard as usize,
            ..GroupConfig::scaled(spec.timer_scale)
        };
        if let Some(r) = &spec.replication {
            if let Some(n) = r.fetches_in_flight {
                group.max_fetches_in_flight = n as usize;
            }
            if let Some(n) = r.fetches_per_neighbor {
                group.max_fetches_per_neighbor = n as usize;
            }
            if let Some(t) = r.fetch_timeout_s {
                group.fetch_timeout = Duration::from_secs_f64(t);
                group.fetch_retry_after = Duration::from_secs_f64(t);
            }
        }
        let mut server = RendezvousConfig::default();
        // One session per member incarnation; crashed ones linger until the idle timeout.
        server.endpoint.max_sessions = server.endpoint.max_sessions.max(2 * slots as usize + 64);
        let mut gs = GroupSpecifier::new("rtmfp-sim").expect("a valid group name");
        gs.set_posting_enabled(true);
        gs.set_routing_enabled(true);
        if spec.server {
            gs.set_server_channel_enabled(true);
        }
        if spec.lan_discovery {
            // As `rtmfp groupspec --ip-multicast 224.0.0.255:30000` (crates/node).
            gs.set_ip_multicast_member_updates_enabled(true);
            gs.add_ip_multicast_address(&MULTICAST.ip().to_string(), Some(MULTICAST.port()), None)
                .expect("a valid multicast address");
        }
        if spec.replication.is_some() {
            // Only then: the option is part of the group ID.
            gs.set_object_replication_enabled(true);
        }
        if spec.stream.is_some() {
            gs.set_multicast_enabled(true);
        }
        GroupParams {
            crypto,
            endpoint,
            group,
            server,
            spec: gs,
            posts: Schedule::new(spec.posts_per_s, spec.posts, window),
            post_bytes: spec.post_bytes,
            lookups: Schedule::new(spec.lookups_per_s, spec.lookups, window),
            lookup_bytes: spec.lookup_bytes,
            start_us,
            end_us,
            deadline_us: us(spec.drain_s),
            join_delay_us: us(spec.join_delay_s),
            replication: spec.replication.as_ref().map(ReplicationParams::new),
            stream: spec.stream.as_deref().map(StreamParams::new),
            lan_discovery: spec.lan_discovery,
            has_server: spec.server,
            lan_size: 0,
        }
    }

    /// With LAN segments of `lan_size` nodes (`population.lan_size`).
    pub fn with_lan_size(mut self, lan_size: u32) -> Self {
        self.lan_size = lan_size;
        self
    }

    /// The discovery scope of slot `slot`: which members it can find. With a server (or
    /// without LAN segments) everyone is in scope 0; without a server, its LAN segment.
    pub fn scope(&self, slot: u32) -> u32 {
        if self.has_server || self.lan_size == 0 {
            0
        } else {
            slot / self.lan_size
        }
    }
}
