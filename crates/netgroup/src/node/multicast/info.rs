//! Stream parameters, `NetStreamMulticastInfo` and drop counters (docs/protocol/netgroup.md,
//! "Multicast stream parameters", "Multicast statistics").

use std::time::Duration;

use super::frames::StreamKey;

/// The `NetStream` multicast properties (docs/protocol/netgroup.md, "Multicast stream parameters").
/// The publisher's window, update period, fetch period and send-to-all travel in its subscription
/// and are adopted by every member; the relay margin and push limit stay local.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MulticastParams {
    /// `multicastWindowDuration`: how long a missing fragment is waited for. Default 8 s.
    pub window: Duration,
    /// `multicastRelayMarginDuration`: fragments stay available `window + margin` after they
    /// arrived. Default 2 s.
    pub relay_margin: Duration,
    /// `multicastFetchPeriod`: a fragment is pulled only once it was advertised this long ago
    /// (pushes come first). Default 2.5 s.
    pub fetch_period: Duration,
    /// `multicastAvailabilityUpdatePeriod`: period of the fragments maps. Default 100 ms.
    pub availability_update_period: Duration,
    /// `multicastAvailabilitySendToAll`: maps to every neighbour each period instead of one.
    /// Default `false`.
    pub availability_send_to_all: bool,
    /// `multicastPushNeighborLimit`: a fragment is pushed to at most this many neighbours
    /// (plus one, as librtmfp). Default 4.
    pub push_neighbor_limit: usize,
}

impl Default for MulticastParams {
    fn default() -> Self {
        MulticastParams {
            window: Duration::from_secs(8),
            relay_margin: Duration::from_secs(2),
            fetch_period: Duration::from_millis(2500),
            availability_update_period: Duration::from_millis(100),
            availability_send_to_all: false,
            push_neighbor_limit: 4,
        }
    }
}

/// Flash `NetStreamMulticastInfo` totals for one stream (docs/protocol/netgroup.md, "Multicast
/// statistics"), bytes and fragments since the stream started here, plus playback figures. Server
/// and IP multicast fields are always 0 (this engine relays peer to peer only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetStreamMulticastInfo {
    /// Fragment bytes sent (pushed or answering pulls).
    pub send_data_bytes: u64,
    /// Media control bytes sent (subscriptions, maps, push masks, pulls).
    pub send_control_bytes: u64,
    /// Fragment bytes received, duplicates included.
    pub receive_data_bytes: u64,
    /// Media control bytes received.
    pub receive_control_bytes: u64,
    /// `bytesPushedToPeers`.
    pub bytes_pushed_to_peers: u64,
    /// `fragmentsPushedToPeers`.
    pub fragments_pushed_to_peers: u64,
    /// `bytesRequestedByPeers`: fragment bytes sent answering pulls.
    pub bytes_requested_by_peers: u64,
    /// `fragmentsRequestedByPeers`.
    pub fragments_requested_by_peers: u64,
    /// `bytesPushedFromPeers`: new fragment bytes that arrived unasked.
    pub bytes_pushed_from_peers: u64,
    /// `fragmentsPushedFromPeers`.
    pub fragments_pushed_from_peers: u64,
    /// `bytesRequestedFromPeers`: new fragment bytes that answered our pulls.
    pub bytes_requested_from_peers: u64,
    /// `fragmentsRequestedFromPeers`.
    pub fragments_requested_from_peers: u64,
    /// `bytesReceivedFromServer` (always 0).
    pub bytes_received_from_server: u64,
    /// `fragmentsReceivedFromServer` (always 0).
    pub fragments_received_from_server: u64,
    /// `bytesReceivedFromIPMulticast` (always 0).
    pub bytes_received_from_ip_multicast: u64,
    /// `fragmentsReceivedFromIPMulticast` (always 0).
    pub fragments_received_from_ip_multicast: u64,
    /// Fragments that arrived again.
    pub duplicate_fragments: u64,
    /// Fragments given up by playback (holes past the window).
    pub fragments_lost: u64,
    /// Media messages delivered by playback.
    pub messages_delivered: u64,
    /// Pulls sent.
    pub pulls_sent: u64,
    /// Fragments published here.
    pub fragments_published: u64,
}

impl NetStreamMulticastInfo {
    /// Media control bytes per fragment byte received or sent: the control overhead.
    pub fn control_overhead(&self) -> f64 {
        let data = (self.send_data_bytes + self.receive_data_bytes).max(1) as f64;
        (self.send_control_bytes + self.receive_control_bytes) as f64 / data
    }
}

/// Media drops of one group, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MulticastCounters {
    /// Media messages that did not decode.
    pub malformed: u64,
    /// Media messages in a group without `multicastEnabled`.
    pub disabled: u64,
    /// Control messages on a flow that did not start with a subscription.
    pub no_subscription: u64,
    /// Subscriptions without a valid publish proof (we hold the publish password).
    pub bad_proof: u64,
    /// Subscriptions refused because `max_streams` streams are known.
    pub too_many_streams: u64,
    /// Fragments for a stream we do not take part in, or on an unknown flow.
    pub unexpected_fragments: u64,
    /// Fragments below the window.
    pub too_old: u64,
    /// Pulls for fragments we do not hold.
    pub unknown_pulls: u64,
    /// Writes the session layer refused (buffer full).
    pub write_failures: u64,
}

/// A stream known to a member ([`crate::GroupRef::multicast_streams`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamInfo {
    /// Its key (one per publication).
    pub key: StreamKey,
    /// Its name.
    pub name: String,
    /// This member publishes it.
    pub publishing: bool,
    /// This member plays it.
    pub playing: bool,
}
