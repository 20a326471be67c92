//! [`GroupConfig`]: every timer and bound of the group engine (docs/protocol/netgroup.md,
//! "Maintenance timers", "Group report", "Posting", "Directed routing", "Object replication").
//! Defaults follow librtmfp's constants where docs/protocol/netgroup.md gives them; tests and the
//! simulator shorten the timers.

use std::time::Duration;

use crate::node::multicast::MulticastParams;
use crate::node::routing::ReceiveMode;
use crate::peer_table::PeerIdTable;
use crate::wire::ReportLimits;

/// Settings of a [`crate::node::GroupNode`]; one value applies to every group it joins.
#[derive(Debug, Clone)]
pub struct GroupConfig {
    /// `NETGROUP_BEST_LIST_DELAY`: period of the best-list recomputation and of connecting to /
    /// asking surplus neighbours to leave (docs/protocol/netgroup.md, "Maintenance timers").
    /// Default 10 s. The first run happens this long after the first report that revealed new
    /// members.
    pub best_list_delay: Duration,
    /// `NETGROUP_REPORT_DELAY`: period of the group report to one random neighbour
    /// (docs/protocol/netgroup.md, "Maintenance timers"). Default 10 s.
    pub report_delay: Duration,
    /// `NETGROUP_CLEAN_DELAY`: period of the heard-list purge (docs/protocol/netgroup.md,
    /// "Maintenance timers"). Default 19 s.
    pub clean_delay: Duration,
    /// `NETGROUP_PEER_TIMEOUT`: a member not heard of for this long leaves the heard list;
    /// report records at least this old are ignored; a member that left is not re-learned for
    /// this long (docs/protocol/netgroup.md, "Maintenance timers"). Default 300 s.
    pub peer_timeout: Duration,
    /// `NETGROUP_DISCONNECT_DELAY`: least interval between two ask-close (`0C`) requests to
    /// one neighbour (docs/protocol/netgroup.md, "Maintenance timers", "Ask-close"). Default 90 s.
    pub disconnect_delay: Duration,
    /// Bounds applied while decoding reports (docs/protocol/netgroup.md, "Group report"). Default
    /// 256 members, 16 addresses.
    pub report_limits: ReportLimits,
    /// Most members in the heard list; records beyond it are dropped and counted. Default 4096.
    pub max_heard: usize,
    /// Most addresses kept per member (`RTMFP_MAX_ADDRESSES` 7 + host, docs/protocol/netgroup.md,
    /// "Maintenance timers"). Default 8.
    pub max_addresses: usize,
    /// Most peer sessions being opened at once for the group engine. Default 16.
    pub max_pending_connects: usize,
    /// Hard cap on neighbours per group (handshakes beyond it are refused). Default 64.
    pub max_neighbors: usize,
    /// Most message IDs in the posting seen cache (docs/protocol/netgroup.md, "Posting"). Default
    /// 100 000.
    pub seen_capacity: usize,
    /// How long a message ID stays in the seen cache (docs/protocol/netgroup.md, "Posting").
    /// Default 10 min.
    pub seen_max_age: Duration,
    /// Largest posted message, bytes (Flash: "short data messages"). Default 16 KiB.
    pub max_post_bytes: usize,
    /// Posts accepted per second from one neighbour (token bucket refill). Default 200.
    pub post_rate: u32,
    /// Post burst accepted from one neighbour (token bucket size). Default 400.
    pub post_burst: u32,
    /// Whether a member that does not hold the posting authorization delivers and forwards
    /// posts whose proof it cannot check, in a password-protected group (docs/wire-netgroup.md).
    /// Default `true` (members holding the authorization always verify).
    pub accept_unverifiable_posts: bool,
    /// Largest routed message, bytes (docs/protocol/netgroup.md, "Directed routing"). Default
    /// 16 KiB.
    pub max_route_bytes: usize,
    /// Routed messages that have taken this many hops are dropped (docs/protocol/netgroup.md,
    /// "Directed routing"). Default 32.
    pub max_hops: u8,
    /// Forward routed messages greedily without asking the application when this node is not
    /// the nearest (docs/protocol/netgroup.md, "Directed routing"; Flash leaves each hop to the
    /// application). Default `false`.
    pub auto_forward: bool,
    /// Receive mode announced at group begin (`0E` EXACT / `0F` NEAREST; docs/protocol/netgroup.md,
    /// "Directed routing"). Default EXACT, as Flash.
    pub receive_mode: ReceiveMode,
    /// Most undrained events; further events are dropped and counted. Default 65 536.
    pub max_events: usize,
    /// Period of the LAN announcements of groups with IP multicast member updates
    /// (docs/protocol/netgroup.md, "LAN discovery"; our own format, docs/wire-netgroup.md). Default
    /// 5 s.
    pub lan_announce_interval: Duration,
    /// Object replication (docs/protocol/netgroup.md, "Object replication"): most ranges decoded
    /// from one HAVE frame (a larger frame is dropped, `oversized`); our own HAVE carries at most
    /// this many (the lowest). Default 4096.
    pub max_have_ranges: usize,
    /// Largest replicated object, bytes: larger OBJECT frames are dropped (`oversized`) and
    /// `write_requested_object` fails with `TooLarge`. Default 1 MiB + 1 KiB (applications
    /// conventionally use 64 KB objects, docs/protocol/netgroup.md, "Object replication").
    pub max_object_bytes: usize,
    /// Most fetches in flight per group. Default 8.
    pub max_fetches_in_flight: usize,
    /// Most fetches in flight to one neighbour (one while it has unanswered timeouts).
    /// Default 4.
    pub max_fetches_per_neighbor: usize,
    /// A fetch not answered within this is `ReplicationFetchFailed` and retried elsewhere.
    /// Default 10 s.
    pub fetch_timeout: Duration,
    /// A neighbour that denied or did not answer a fetch is not asked for that index again
    /// for this long (other holders are). Default 10 s.
    pub fetch_retry_after: Duration,
    /// A neighbour that sent this many objects the application reported faulty
    /// (`ReplicationMut::report_faulty_object`) is no longer asked for an index another
    /// neighbour holds (with fewer it is only the last choice). Default 3.
    pub max_faults_per_neighbor: u32,
    /// Have-set changes are sent to neighbours (one HAVE each) this long after the first
    /// change, coalescing bursts. Default 100 ms.
    pub have_update_delay: Duration,
    /// Most incoming requests waiting for the application, all neighbours together; more are
    /// denied (`requests_refused`). Default 256.
    pub max_pending_requests: usize,
    /// Most incoming requests waiting for the application from one neighbour. Default 16.
    pub max_pending_requests_per_neighbor: usize,
    /// Multicast (docs/protocol/netgroup.md, "Multicast stream parameters"): the `NetStream`
    /// parameters of the streams we publish, and the local ones (relay margin, push limit) of the
    /// streams we relay. Defaults: window 8 s, relay margin 2 s, fetch period 2.5 s, availability
    /// update period 100 ms, send-to-all off, push limit 4.
    pub multicast: MulticastParams,
    /// Most streams known per group; further announcements are dropped and counted.
    /// Default 64.
    pub max_streams: usize,
    /// Most fragments held per stream (the oldest go first). Default 32 768 (about 31 MiB of
    /// 959-byte fragments; a 500 kbit/s stream needs about 660 for its 10 s).
    pub max_stream_fragments: usize,
    /// Whether a member that does not hold the publish authorization takes part in streams
    /// whose publish proof it cannot check, in a group with a publish password
    /// (docs/wire-netgroup.md). Default `true` (members holding it always verify).
    pub accept_unverifiable_streams: bool,
    /// Where heard lists keep the peer IDs they name (memory only, [`PeerIdTable`]). A clone of
    /// a config shares its table, so engines built from clones of one config keep one copy of
    /// each ID between them (the simulator's members do). Default: a new, empty table.
    pub peer_ids: PeerIdTable,
}

impl Default for GroupConfig {
    fn default() -> Self {
        GroupConfig {
            best_list_delay: Duration::from_secs(10),
            report_delay: Duration::from_secs(10),
            clean_delay: Duration::from_secs(19),
            peer_timeout: Duration::from_secs(300),
            disconnect_delay: Duration::from_secs(90),
            report_limits: ReportLimits::default(),
            max_heard: 4096,
            max_addresses: 8,
            max_pending_connects: 16,
            max_neighbors: 64,
            seen_capacity: 100_000,
            seen_max_age: Duration::from_secs(600),
            max_post_bytes: 16 * 1024,
            post_rate: 200,
            post_burst: 400,
            accept_unverifiable_posts: true,
            max_route_bytes: 16 * 1024,
            max_hops: 32,
            auto_forward: false,
            receive_mode: ReceiveMode::Exact,
            max_events: 65_536,
            lan_announce_interval: Duration::from_secs(5),
            max_have_ranges: 4096,
            max_object_bytes: (1 << 20) + 1024,
            max_fetches_in_flight: 8,
            max_fetches_per_neighbor: 4,
            fetch_timeout: Duration::from_secs(10),
            fetch_retry_after: Duration::from_secs(10),
            max_faults_per_neighbor: 3,
            have_update_delay: Duration::from_millis(100),
            max_pending_requests: 256,
            max_pending_requests_per_neighbor: 16,
            multicast: MulticastParams::default(),
            max_streams: 64,
            max_stream_fragments: 32_768,
            accept_unverifiable_streams: true,
            peer_ids: PeerIdTable::new(),
        }
    }
}

impl GroupConfig {
    /// The defaults with every maintenance timer divided by `factor` (at least 1): handy for
    /// tests and simulations in virtual time.
    pub fn scaled(factor: u32) -> Self {
        let f = factor.max(1);
        let d = GroupConfig::default();
        GroupConfig {
            best_list_delay: d.best_list_delay / f,
            report_delay: d.report_delay / f,
            clean_delay: d.clean_delay / f,
            peer_timeout: d.peer_timeout / f,
            disconnect_delay: d.disconnect_delay / f,
            lan_announce_interval: d.lan_announce_interval / f,
            fetch_timeout: d.fetch_timeout / f,
            fetch_retry_after: d.fetch_retry_after / f,
            have_update_delay: d.have_update_delay / f,
            ..d
        }
    }
}
