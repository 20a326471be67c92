//! Multicast streaming over a group (netgroup digest §6): `NetStream.publish` / `play` in a
//! group, on librtmfp's media messages (`GR\x11` control, `GR\x12` fragments).
//!
//! - [`frames`]: the media message codec;
//! - [`store`]: the fragments held and the window arithmetic;
//! - [`playback`]: in-order reassembly with hole skipping;
//! - [`push`]: who pushes which residue class to us, and to whom we push;
//! - [`info`]: parameters, `NetStreamMulticastInfo`, drop counters;
//! - `flows`: the group side (flows per neighbour and stream).
//!
//! How a stream travels: the publisher announces it (subscription `21`, with a random key) to
//! every neighbour, and every member forwards the first announcement of a key to its own
//! neighbours. Members that play or publish the stream take part: every
//! `availabilityUpdatePeriod` they send their fragments map (`22`) to one neighbour (all with
//! `availabilitySendToAll`), ask one neighbour per residue class `id mod 8` to push those
//! fragments to them (`23`, the fastest pusher wins), push new fragments to the (at most
//! `pushNeighborLimit + 1`) neighbours that asked, and pull (`2B`) what is still missing once it
//! was advertised a fetch period ago.
//!
//! The end of a stream (a known weakness of other implementations: the last fragments may never
//! be advertised, digest §6.2 and interop notes): the publisher announces the last fragment ID
//! (`21 VLU(last)`) to every neighbour, members forward it, every member then sends its map to
//! every neighbour whenever it changes, missing fragments up to the end are pulled at once, and
//! the publisher keeps serving for `window + relayMargin` after unpublishing.

mod api;
pub mod frames;
pub mod info;
pub mod playback;
pub mod push;
pub mod store;

mod flows;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rtmfp::{Instant, SortedMap};

pub use api::StreamInfo;
pub use frames::{
    media_type, Fragment, FragmentsMap, MediaControl, Piece, StreamKey, Subscription,
    FRAGMENT_PAYLOAD, MAX_MESSAGE_BYTES,
};
pub use info::{MulticastCounters, MulticastParams, NetStreamMulticastInfo};
pub use playback::{MediaMessage, Output, Playback};

use crate::groupspec::GroupSpecifier;
use crate::id::PeerId;
use crate::node::config::GroupConfig;
use crate::node::events::{GroupError, GroupEvent, GroupHandle};
use crate::node::membership::Events;
use crate::node::password::{hmac, rights, Rights};
use store::{FragmentStore, Insert, Stored};

/// Label mixed into the publish key (docs/wire-netgroup.md).
const PUBLISH_LABEL: &[u8] = b"rtmfp-groups publish v1";
/// Period of the pull scan (librtmfp: 100 ms, digest §6.6).
const PULL_PERIOD: Duration = Duration::from_millis(100);
/// Period of the push-assignment check.
const PUSH_PERIOD: Duration = Duration::from_millis(500);
/// A pusher whose class lags this many IDs behind the newest advertised one is replaced.
const PUSH_STALE_IDS: u64 = 64;
/// Neighbours whose newest advertised ID is this close to the best are push candidates.
const FRESH_IDS: u64 = 16;
/// Most pulls sent per scan.
const MAX_PULLS_PER_SCAN: usize = 128;
/// Most pulls in flight to one neighbour.
const MAX_PULLS_PER_PEER: usize = 64;
/// After the end is learned, missing fragments are pulled this soon.
const END_PULL_DELAY: Duration = Duration::from_millis(300);
/// A stream with no traffic for this long is forgotten (option 4's 300 s, digest §6.2).
const STREAM_IDLE: Duration = Duration::from_secs(300);
/// Ended stream keys remembered (so late announcements do not revive them).
const MAX_ENDED: usize = 256;
/// Advertisement history entries kept per stream.
const MAX_ADVERTISED: usize = 512;

/// What goes to a neighbour for a stream: drained by the group onto its media flows.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    /// A media control message (`GR\x11`); the first one to a neighbour is the subscription.
    Control(Bytes),
    /// A fragment (`GR\x12`), abandoned at `deadline`.
    Fragment { bytes: Bytes, deadline: Instant },
}

/// One queued media message.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub peer: PeerId,
    pub key: StreamKey,
    pub out: Out,
}

/// One neighbour, for one stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerMedia {
    /// We sent it our subscription.
    announced: bool,
    /// Its `GR\x11` flow for this stream (it announced the stream to us).
    pub in_flow: Option<u64>,
    /// Our `GR\x11` / `GR\x12` flows to it (managed by the group).
    pub out_control: Option<u64>,
    pub out_data: Option<u64>,
    /// Order in which it announced the stream (push priority).
    order: u64,
    /// Its last fragments map.
    map: Option<FragmentsMap>,
    /// Residue classes it asked us to push.
    wants: u8,
    /// Residue classes we asked it to push.
    asked: u8,
    /// (last ID, holdings version) of the last map we sent it.
    sent_map: Option<(u64, u64)>,
    /// Pulls in flight to it.
    pulls: usize,
}

/// One stream known to this member.
#[derive(Debug)]
struct Stream {
    key: StreamKey,
    name: String,
    publisher: bool,
    playing: bool,
    params: MulticastParams,
    proof: Option<[u8; 32]>,
    store: FragmentStore,
    peers: BTreeMap<PeerId, PeerMedia>,
    /// Next fragment ID to publish.
    next_id: u64,
    /// Last fragment ID and when we learned it.
    end: Option<(u64, Instant)>,
    /// (newest ID advertised by anyone, when first seen), IDs ascending.
    advertised: VecDeque<(u64, Instant)>,
    push: push::Pushers,
    pulls: BTreeMap<u64, (PeerId, Instant)>,
    pull_rr: u64,
    playback: Option<Playback>,
    /// Playback picks its first fragment at this time (a fetch period after it began, and
    /// after the first map arrived), from `lowest_seen`.
    start_decision: Instant,
    /// Oldest fragment any neighbour's map has advertised as held.
    lowest_seen: Option<u64>,
    /// When this member learned the stream or began to play it, whichever is later.
    play_reference: Instant,
    next_map: Instant,
    map_rr: u64,
    next_push: Instant,
    next_pull: Instant,
    order: u64,
    info: NetStreamMulticastInfo,
    last_activity: Instant,
    /// Bumped by every new fragment (not by pruning): maps are re-sent when it changes.
    version: u64,
}

impl Stream {
    fn participating(&self) -> bool {
        self.publisher || self.playing
    }

    fn subscription(&self) -> Bytes {
        Bytes::from(
            MediaControl::Subscription(Subscription {
                name: self.name.clone(),
                key: self.key,
                send_to_all: self.params.availability_send_to_all,
                window_ms: Some(self.params.window.as_millis() as u64),
                update_period_ms: Some(self.params.availability_update_period.as_millis() as u64),
                fetch_period_ms: Some(self.params.fetch_period.as_millis() as u64),
                proof: self.proof,
            })
            .encode(),
        )
    }

    /// Queues encoded control bytes to `peer`, counted as sent control.
    fn push_control(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId, bytes: Bytes) {
        self.info.send_control_bytes += bytes.len() as u64;
        outbox.push(Outgoing {
            peer,
            key: self.key,
            out: Out::Control(bytes),
        });
    }

    /// Queues our subscription to `peer` unless it went already: the first message of our
    /// `GR\x11` flow to it.
    fn subscribe_once(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId) {
        let Some(pm) = self.peers.get_mut(&peer).filter(|pm| !pm.announced) else {
            return;
        };
        pm.announced = true;
        let sub = self.subscription();
        self.push_control(outbox, peer, sub);
    }

    /// Queues a control message to `peer`, announcing the stream first if needed.
    fn control(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId, msg: &MediaControl) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        self.subscribe_once(outbox, peer);
        self.push_control(outbox, peer, Bytes::from(msg.encode()));
    }

    /// Starts tracking `peer` for this stream (in announcement order) and announces it.
    fn announce(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId) {
        let order = self.order;
        let pm = self.peers.entry(peer).or_default();
        if pm.order == 0 {
            pm.order = order + 1;
            self.order += 1;
        }
        self.subscribe_once(outbox, peer);
    }

    /// Forgets the pull in flight for `id`, if any, and frees its slot at the neighbour it
    /// went to; returns that neighbour.
    fn forget_pull(&mut self, id: u64) -> Option<PeerId> {
        let (peer, _) = self.pulls.remove(&id)?;
        if let Some(pm) = self.peers.get_mut(&peer) {
            pm.pulls = pm.pulls.saturating_sub(1);
        }
        Some(peer)
    }

    fn send_fragment(
        &mut self,
        outbox: &mut Vec<Outgoing>,
        counters: &mut MulticastCounters,
        peer: PeerId,
        bytes: Bytes,
        now: Instant,
    ) -> bool {
        if self.peers.get(&peer).is_none_or(|p| p.in_flow.is_none()) {
            counters.write_failures += 1;
            return false;
        }
        self.info.send_data_bytes += bytes.len() as u64;
        outbox.push(Outgoing {
            peer,
            key: self.key,
            out: Out::Fragment {
                bytes,
                deadline: now + self.params.window,
            },
        });
        true
    }

    /// Pushes fragment `id` to the neighbours that asked for its class (digest §6.5).
    fn push_new(
        &mut self,
        outbox: &mut Vec<Outgoing>,
        counters: &mut MulticastCounters,
        id: u64,
        bytes: &Bytes,
        from: Option<PeerId>,
        now: Instant,
    ) {
        let targets = push::push_targets(
            self.peers.iter().map(|(p, pm)| push::Candidate {
                peer: *p,
                order: pm.order,
                wants: pm.wants,
                holds: pm.map.as_ref().is_some_and(|m| m.holds(id)),
            }),
            id,
            from,
            self.params.push_neighbor_limit + 1,
        );
        for p in targets {
            if self.send_fragment(outbox, counters, p, bytes.clone(), now) {
                self.info.bytes_pushed_to_peers += bytes.len() as u64;
                self.info.fragments_pushed_to_peers += 1;
            }
        }
    }

    fn newest_advertised(&self) -> Option<u64> {
        self.advertised.back().map(|(id, _)| *id)
    }

    fn advertise(&mut self, id: u64, now: Instant) {
        if self.newest_advertised().is_none_or(|n| id > n) {
            if self.advertised.len() >= MAX_ADVERTISED {
                self.advertised.pop_front();
            }
            self.advertised.push_back((id, now));
        }
    }

    /// Fragments per second, from the advertisements seen (at least one second of them).
    fn ids_per_second(&self) -> Option<f64> {
        let (first, t0) = self.advertised.front()?;
        let (last, t1) = self.advertised.back()?;
        let span = t1.saturating_duration_since(*t0).as_secs_f64();
        (span >= 1.0).then(|| (last - first) as f64 / span)
    }

    /// Newest ID advertised at least a fetch period ago (or the end, soon after it is known).
    fn pullable_up_to(&self, now: Instant) -> Option<u64> {
        let by_maps = self
            .advertised
            .iter()
            .rev()
            .find(|(_, t)| now.saturating_duration_since(*t) >= self.params.fetch_period)
            .map(|(id, _)| *id);
        let by_end = self
            .end
            .filter(|(_, t)| now.saturating_duration_since(*t) >= END_PULL_DELAY)
            .map(|(id, _)| id);
        by_maps.max(by_end)
    }

    fn next_timeout(&self) -> Option<Instant> {
        if !self.participating() {
            return None;
        }
        let mut t = self.next_map;
        if !self.publisher {
            t = t.min(self.next_push).min(self.next_pull);
        }
        Some(t)
    }

    fn expired(&self, now: Instant) -> bool {
        let keep = self.params.window + self.params.relay_margin;
        let ended = self
            .end
            .is_some_and(|(_, t)| now.saturating_duration_since(t) >= keep + END_PULL_DELAY);
        let done = self.playback.as_ref().is_none_or(|p| p.is_ended()) || ended;
        (ended && done) || now.saturating_duration_since(self.last_activity) >= STREAM_IDLE
    }
}

/// What this member may publish.
#[derive(Debug, Clone)]
enum PublishRights {
    Open,
    Holder([u8; 32]),
    Outsider,
}

/// Multicast state of one group (see the module docs).
#[derive(Debug)]
pub(crate) struct Multicast {
    handle: GroupHandle,
    enabled: bool,
    rights: PublishRights,
    accept_unverifiable: bool,
    defaults: MulticastParams,
    max_streams: usize,
    max_fragments: usize,
    streams: BTreeMap<StreamKey, Stream>,
    /// Forgotten streams and their last statistics (kept readable, as Flash keeps
    /// `multicastInfo` after the stream closed), oldest first.
    ended: VecDeque<(StreamKey, NetStreamMulticastInfo)>,
    playing: BTreeSet<String>,
    /// Connected neighbours (a sorted vector: a few dozen peer IDs, kept by every member).
    neighbors: SortedMap<PeerId, ()>,
    /// Their `GR\x11` flows: (peer, its flow ID) → stream.
    in_flows: BTreeMap<(PeerId, u64), StreamKey>,
    outbox: Vec<Outgoing>,
    pub counters: MulticastCounters,
}

/// `HMAC-SHA256(password, "rtmfp-groups publish v1" || group ID)`.
pub fn publish_key(password: &[u8], group_id: &[u8; 32]) -> [u8; 32] {
    hmac(password, &[PUBLISH_LABEL, group_id])
}

/// The publish proof of a subscription: `HMAC-SHA256(publish key, stream key || name)`.
pub fn publish_proof(key: &[u8; 32], stream: &StreamKey, name: &str) -> [u8; 32] {
    hmac(key, &[&stream.0, name.as_bytes()])
}

impl Multicast {
    pub fn new(handle: GroupHandle, spec: &GroupSpecifier, config: &GroupConfig) -> Self {
        let rights = match rights(spec.publish_password_hash(), spec.publish_authorization()) {
            Rights::Open => PublishRights::Open,
            Rights::Holder(pw) => PublishRights::Holder(publish_key(pw, &spec.group_id())),
            Rights::Outsider => PublishRights::Outsider,
        };
        Multicast {
            handle,
            enabled: spec.multicast_enabled(),
            rights,
            accept_unverifiable: config.accept_unverifiable_streams,
            defaults: config.multicast,
            max_streams: config.max_streams.max(1),
            max_fragments: config.max_stream_fragments.max(16),
            streams: BTreeMap::new(),
            ended: VecDeque::new(),
            playing: BTreeSet::new(),
            neighbors: SortedMap::default(),
            in_flows: BTreeMap::new(),
            outbox: Vec::new(),
            counters: MulticastCounters::default(),
        }
    }

    pub fn take_outbox(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.outbox)
    }

    /// The stream our `GR\x11` flow `flow` to `peer` carries.
    pub fn stream_of_out_control(&self, peer: &PeerId, flow: u64) -> Option<StreamKey> {
        self.streams
            .iter()
            .find(|(_, s)| {
                s.peers
                    .get(peer)
                    .is_some_and(|pm| pm.out_control == Some(flow))
            })
            .map(|(k, _)| *k)
    }

    /// Our media flows (control and data) to `peer`, all streams.
    pub fn flows_to(&self, peer: &PeerId) -> Vec<u64> {
        self.streams
            .values()
            .filter_map(|s| s.peers.get(peer))
            .flat_map(|pm| [pm.out_control, pm.out_data])
            .flatten()
            .collect()
    }

    pub(crate) fn peer_media_mut(
        &mut self,
        key: &StreamKey,
        peer: &PeerId,
    ) -> Option<&mut PeerMedia> {
        self.streams.get_mut(key)?.peers.get_mut(peer)
    }

    fn new_stream(
        &self,
        key: StreamKey,
        name: String,
        params: MulticastParams,
        now: Instant,
    ) -> Stream {
        Stream {
            key,
            name,
            publisher: false,
            playing: false,
            params,
            proof: None,
            store: FragmentStore::new(self.max_fragments),
            peers: BTreeMap::new(),
            next_id: 1,
            end: None,
            advertised: VecDeque::new(),
            push: push::Pushers::default(),
            pulls: BTreeMap::new(),
            pull_rr: 0,
            playback: None,
            start_decision: now,
            lowest_seen: None,
            play_reference: now,
            next_map: now + params.availability_update_period,
            map_rr: 0,
            next_push: now,
            next_pull: now + PULL_PERIOD,
            order: 0,
            info: NetStreamMulticastInfo::default(),
            last_activity: now,
            version: 0,
        }
    }

    // ----- API -----

    /// `NetStream.publish(name)` in the group: returns the new stream's key.
    pub fn publish(
        &mut self,
        now: Instant,
        name: &str,
        params: Option<MulticastParams>,
        rng: &mut ChaCha8Rng,
    ) -> Result<StreamKey, GroupError> {
        if !self.enabled {
            return Err(GroupError::MulticastDisabled);
        }
        let proof_key = match &self.rights {
            PublishRights::Open => None,
            PublishRights::Holder(k) => Some(*k),
            PublishRights::Outsider => return Err(GroupError::PublishNotAuthorized),
        };
        if self
            .streams
            .values()
            .any(|s| s.publisher && s.name == name && s.end.is_none())
        {
            return Err(GroupError::AlreadyPublishing);
        }
        if self.streams.len() >= self.max_streams {
            return Err(GroupError::TooManyStreams {
                limit: self.max_streams,
            });
        }
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        let key = StreamKey(k);
        let mut s = self.new_stream(key, name.to_owned(), params.unwrap_or(self.defaults), now);
        s.publisher = true;
        s.proof = proof_key.map(|pk| publish_proof(&pk, &key, name));
        for p in self.neighbors.keys().copied() {
            s.announce(&mut self.outbox, p);
        }
        self.streams.insert(key, s);
        Ok(key)
    }

    /// Publishes one media message on our stream `key`: returns its last fragment ID.
    pub fn publish_message(
        &mut self,
        now: Instant,
        key: &StreamKey,
        media_type: u8,
        time: u32,
        payload: &Bytes,
    ) -> Result<u64, GroupError> {
        let s = self
            .streams
            .get_mut(key)
            .filter(|s| s.publisher && s.end.is_none())
            .ok_or(GroupError::UnknownStream)?;
        let frags =
            Fragment::split(s.next_id, media_type, time, payload).ok_or(GroupError::TooLarge {
                size: payload.len(),
                limit: MAX_MESSAGE_BYTES,
            })?;
        s.last_activity = now;
        let mut last = s.next_id;
        for f in frags {
            let bytes = Bytes::from(f.encode());
            let payload_at = bytes.len() - f.payload.len();
            s.store.insert(
                f.id,
                Stored {
                    bytes: bytes.clone(),
                    piece: f.piece,
                    payload_at,
                    arrived: now,
                },
            );
            s.info.fragments_published += 1;
            s.version += 1;
            s.push_new(
                &mut self.outbox,
                &mut self.counters,
                f.id,
                &bytes,
                None,
                now,
            );
            last = f.id;
        }
        s.next_id = last + 1;
        Ok(last)
    }

    /// Ends our publication `key`: the end is announced to every neighbour; we keep serving
    /// for `window + relayMargin`.
    pub fn unpublish(&mut self, now: Instant, key: &StreamKey) -> Result<(), GroupError> {
        let s = self
            .streams
            .get_mut(key)
            .filter(|s| s.publisher && s.end.is_none())
            .ok_or(GroupError::UnknownStream)?;
        let last = s.next_id - 1;
        if last == 0 {
            self.streams.remove(key);
            return Ok(());
        }
        s.end = Some((last, now));
        s.last_activity = now;
        let peers: Vec<PeerId> = s.peers.keys().copied().collect();
        for p in peers {
            s.control(&mut self.outbox, p, &MediaControl::End(last));
        }
        Ok(())
    }

    /// `NetStream.play(name)`: takes part in every stream of that name, now and later.
    pub fn play(&mut self, now: Instant, name: &str) -> Result<(), GroupError> {
        if !self.enabled {
            return Err(GroupError::MulticastDisabled);
        }
        self.playing.insert(name.to_owned());
        for s in self.streams.values_mut().filter(|s| s.name == name) {
            start_playing(s, now);
        }
        Ok(())
    }

    /// `NetStream.close()` of a player: stops taking part in streams named `name` we do not
    /// publish (push masks are cancelled).
    pub fn close_play(&mut self, name: &str) {
        self.playing.remove(name);
        for s in self.streams.values_mut().filter(|s| s.name == name) {
            s.playing = false;
            s.playback = None;
            let asked: Vec<PeerId> = s
                .peers
                .iter()
                .filter(|(_, pm)| pm.asked != 0)
                .map(|(p, _)| *p)
                .collect();
            for p in asked {
                if let Some(pm) = s.peers.get_mut(&p) {
                    pm.asked = 0;
                }
                s.control(&mut self.outbox, p, &MediaControl::Push(0));
            }
            s.push = push::Pushers::default();
            s.pulls.clear();
            for pm in s.peers.values_mut() {
                pm.pulls = 0;
            }
        }
    }

    /// The streams known: (key, name, we publish it, we play it).
    pub fn streams(&self) -> Vec<(StreamKey, String, bool, bool)> {
        self.streams
            .values()
            .map(|s| (s.key, s.name.clone(), s.publisher, s.playing))
            .collect()
    }

    /// `NetStream.multicastInfo` of stream `key` (also of the last 256 streams forgotten).
    pub fn info(&self, key: &StreamKey) -> Option<NetStreamMulticastInfo> {
        let Some(s) = self.streams.get(key) else {
            return self.ended.iter().find(|(k, _)| k == key).map(|(_, i)| *i);
        };
        Some(stream_info(s))
    }

    // ----- neighbours -----

    pub fn neighbor_up(&mut self, peer: PeerId) {
        // A group without multicast never announces a stream, so it keeps no neighbour list
        // (32 bytes per neighbour).
        if !self.enabled {
            return;
        }
        self.neighbors.insert(peer, ());
        for s in self.streams.values_mut().filter(|s| s.end.is_none()) {
            s.announce(&mut self.outbox, peer);
        }
    }

    pub fn neighbor_down(&mut self, peer: &PeerId) {
        self.neighbors.remove(peer);
        self.in_flows.retain(|(p, _), _| p != peer);
        for s in self.streams.values_mut() {
            s.peers.remove(peer);
            s.push.forget(peer);
            s.pulls.retain(|_, (p, _)| p != peer);
        }
    }

    // ----- incoming -----

    /// A message on `peer`'s `GR\x11` flow `flow`.
    pub fn on_control(
        &mut self,
        now: Instant,
        peer: PeerId,
        flow: u64,
        data: &[u8],
        events: &mut Events,
    ) {
        if !self.enabled {
            self.counters.disabled += 1;
            return;
        }
        let msg = match MediaControl::decode(data) {
            Ok(m) => m,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        if let MediaControl::Subscription(sub) = msg {
            self.on_subscription(now, peer, flow, sub, data.len(), events);
            return;
        }
        let Some(key) = self.in_flows.get(&(peer, flow)).copied() else {
            self.counters.no_subscription += 1;
            return;
        };
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        s.info.receive_control_bytes += data.len() as u64;
        s.last_activity = now;
        match msg {
            MediaControl::Subscription(_) => {}
            MediaControl::End(last) => {
                if s.end.is_none() && !s.publisher {
                    s.end = Some((last, now));
                    events.push(GroupEvent::MulticastUnpublishNotify {
                        group: self.handle,
                        name: s.name.clone(),
                        key,
                    });
                    let others: Vec<PeerId> =
                        s.peers.keys().copied().filter(|p| *p != peer).collect();
                    for p in others {
                        s.control(&mut self.outbox, p, &MediaControl::End(last));
                    }
                    s.next_map = s.next_map.min(now);
                    s.next_pull = s.next_pull.min(now + END_PULL_DELAY);
                }
            }
            MediaControl::Map(m) => {
                let first = (m.oldest_described()..=m.last)
                    .find(|&i| m.holds(i))
                    .unwrap_or(m.last);
                if s.lowest_seen.is_none() {
                    // Relays advertise the oldest fragments only once they pulled them, a
                    // fetch period after they were advertised: decide no earlier than that.
                    s.start_decision = s.start_decision.max(now + s.params.fetch_period);
                }
                s.lowest_seen = Some(s.lowest_seen.map_or(first, |l| l.min(first)));
                s.advertise(m.last, now);
                if let Some(pm) = s.peers.get_mut(&peer) {
                    if pm.map.as_ref().is_none_or(|old| m.last >= old.last) {
                        pm.map = Some(m);
                    }
                }
                if s.playing {
                    drive_playback(s, self.handle, now, events);
                }
            }
            MediaControl::Push(mask) => {
                if let Some(pm) = s.peers.get_mut(&peer) {
                    pm.wants = mask;
                }
            }
            MediaControl::Pull(id) => match s.store.get(id).map(|f| f.bytes.clone()) {
                Some(bytes) => {
                    if s.send_fragment(
                        &mut self.outbox,
                        &mut self.counters,
                        peer,
                        bytes.clone(),
                        now,
                    ) {
                        s.info.bytes_requested_by_peers += bytes.len() as u64;
                        s.info.fragments_requested_by_peers += 1;
                    }
                }
                None => self.counters.unknown_pulls += 1,
            },
        }
    }

    fn proof_ok(&self, sub: &Subscription) -> bool {
        match &self.rights {
            PublishRights::Open => true,
            PublishRights::Holder(k) => sub.proof.is_some_and(|p| {
                crate::keys::keys_match(&p, &publish_proof(k, &sub.key, &sub.name))
            }),
            PublishRights::Outsider => self.accept_unverifiable,
        }
    }

    fn on_subscription(
        &mut self,
        now: Instant,
        peer: PeerId,
        flow: u64,
        sub: Subscription,
        size: usize,
        events: &mut Events,
    ) {
        if !self.proof_ok(&sub) {
            self.counters.bad_proof += 1;
            tracing::debug!(?peer, name = %sub.name, "stream without a valid publish proof");
            return;
        }
        if self.ended.iter().any(|(k, _)| *k == sub.key) {
            return;
        }
        if let Some(k) = self.in_flows.get(&(peer, flow)) {
            if *k != sub.key {
                self.counters.malformed += 1;
                return;
            }
        }
        if !self.streams.contains_key(&sub.key) {
            if self.streams.len() >= self.max_streams {
                self.counters.too_many_streams += 1;
                return;
            }
            let d = self.defaults;
            let ms = |v: Option<u64>, dflt: Duration| {
                v.map_or(dflt, |m| Duration::from_millis(m.clamp(10, 600_000)))
            };
            let params = MulticastParams {
                window: ms(sub.window_ms, d.window),
                availability_update_period: ms(sub.update_period_ms, d.availability_update_period),
                fetch_period: ms(sub.fetch_period_ms, d.fetch_period),
                availability_send_to_all: sub.send_to_all,
                ..d
            };
            let mut s = self.new_stream(sub.key, sub.name.clone(), params, now);
            s.proof = sub.proof;
            if self.playing.contains(&sub.name) {
                start_playing(&mut s, now);
            }
            events.push(GroupEvent::MulticastPublishNotify {
                group: self.handle,
                name: sub.name.clone(),
                key: sub.key,
            });
            for p in self.neighbors.keys().copied() {
                s.announce(&mut self.outbox, p);
            }
            self.streams.insert(sub.key, s);
        }
        self.in_flows.insert((peer, flow), sub.key);
        let Some(s) = self.streams.get_mut(&sub.key) else {
            return;
        };
        s.info.receive_control_bytes += size as u64;
        s.last_activity = now;
        s.announce(&mut self.outbox, peer);
        if let Some(pm) = s.peers.get_mut(&peer) {
            pm.in_flow = Some(flow);
        }
        // Tell a newcomer what we hold at once.
        if s.participating() {
            if let Some(map) = s.store.map() {
                let version = s.version;
                if let Some(pm) = s.peers.get_mut(&peer) {
                    pm.sent_map = Some((map.last, version));
                }
                s.control(&mut self.outbox, peer, &MediaControl::Map(map));
            }
        }
    }

    /// A fragment on `peer`'s `GR\x12` flow, the return flow of our `GR\x11` flow for `key`.
    pub fn on_fragment(
        &mut self,
        now: Instant,
        peer: PeerId,
        key: StreamKey,
        data: Bytes,
        events: &mut Events,
    ) {
        let Some(s) = self.streams.get_mut(&key) else {
            self.counters.unexpected_fragments += 1;
            return;
        };
        s.info.receive_data_bytes += data.len() as u64;
        if !s.participating() {
            self.counters.unexpected_fragments += 1;
            return;
        }
        let f = match Fragment::decode(&data) {
            Ok(f) => f,
            Err(_) => {
                self.counters.malformed += 1;
                return;
            }
        };
        s.last_activity = now;
        let payload_at = data.len() - f.payload.len();
        // Whoever answers, a pull in flight for this fragment is over.
        let pulled = s.forget_pull(f.id) == Some(peer);
        let stored = Stored {
            bytes: data.clone(),
            piece: f.piece,
            payload_at,
            arrived: now,
        };
        match s.store.insert(f.id, stored) {
            Insert::TooOld => self.counters.too_old += 1,
            Insert::Duplicate => {
                s.info.duplicate_fragments += 1;
                if !pulled {
                    self.on_pushed(key, peer, f.id, false);
                }
            }
            Insert::New => {
                s.version += 1;
                if pulled {
                    s.info.bytes_requested_from_peers += data.len() as u64;
                    s.info.fragments_requested_from_peers += 1;
                } else {
                    s.info.bytes_pushed_from_peers += data.len() as u64;
                    s.info.fragments_pushed_from_peers += 1;
                }
                s.push_new(
                    &mut self.outbox,
                    &mut self.counters,
                    f.id,
                    &data,
                    Some(peer),
                    now,
                );
                if !pulled {
                    self.on_pushed(key, peer, f.id, true);
                }
                if let Some(s) = self.streams.get_mut(&key) {
                    drive_playback(s, self.handle, now, events);
                }
            }
        }
    }

    /// The push rule for an unasked fragment of class `id % 8` from `peer` (digest §6.5).
    fn on_pushed(&mut self, key: StreamKey, peer: PeerId, id: u64, new: bool) {
        let Some(s) = self.streams.get_mut(&key) else {
            return;
        };
        let asked = s.peers.get(&peer).map_or(0, |pm| pm.asked);
        for change in s.push.on_pushed(peer, asked, id, new) {
            apply_mask(s, &mut self.outbox, change);
        }
    }

    // ----- timers -----

    pub fn next_timeout(&self) -> Option<Instant> {
        self.streams.values().filter_map(Stream::next_timeout).min()
    }

    pub fn on_timeout(&mut self, now: Instant, events: &mut Events, rng: &mut ChaCha8Rng) {
        let handle = self.handle;
        let mut gone = Vec::new();
        for (key, s) in self.streams.iter_mut() {
            if s.expired(now) {
                gone.push(*key);
                continue;
            }
            if !s.participating() {
                continue;
            }
            if s.next_map <= now {
                s.next_map = now + s.params.availability_update_period;
                s.store.prune(now, s.params.window + s.params.relay_margin);
                send_maps(s, &mut self.outbox);
            }
            if !s.publisher && s.next_push <= now {
                s.next_push = now + PUSH_PERIOD;
                assign_pushers(s, &mut self.outbox, rng);
            }
            if !s.publisher && s.next_pull <= now {
                s.next_pull = now + PULL_PERIOD;
                send_pulls(s, &mut self.outbox, now);
                drive_playback(s, handle, now, events);
            }
        }
        for k in gone {
            let Some(s) = self.streams.remove(&k) else {
                continue;
            };
            self.in_flows.retain(|_, v| *v != k);
            if self.ended.len() >= MAX_ENDED {
                self.ended.pop_front();
            }
            self.ended.push_back((k, stream_info(&s)));
            if s.end.is_none() && !s.publisher {
                events.push(GroupEvent::MulticastUnpublishNotify {
                    group: handle,
                    name: s.name,
                    key: k,
                });
            }
        }
    }
}

/// A stream's statistics with its playback figures.
fn stream_info(s: &Stream) -> NetStreamMulticastInfo {
    let mut i = s.info;
    if let Some(p) = &s.playback {
        i.fragments_lost = p.lost;
        i.messages_delivered = p.delivered;
    }
    i
}

fn start_playing(s: &mut Stream, now: Instant) {
    if s.playing {
        return;
    }
    s.playing = true;
    s.playback = Some(Playback::new());
    s.start_decision = now + s.params.fetch_period;
    s.play_reference = s.play_reference.max(now);
    s.next_push = now;
    s.next_pull = now + PULL_PERIOD;
    s.next_map = now;
}

fn apply_mask(s: &mut Stream, outbox: &mut Vec<Outgoing>, change: push::MaskChange) {
    let Some(pm) = s.peers.get_mut(&change.peer) else {
        return;
    };
    let mask = if change.add {
        pm.asked | change.bit
    } else {
        pm.asked & !change.bit
    };
    if mask != pm.asked {
        pm.asked = mask;
        s.control(outbox, change.peer, &MediaControl::Push(mask));
    }
}

/// Sends our map to one neighbour (all of them with send-to-all, or once the end is known)
/// when it changed since the last one it got (digest §6.4).
fn send_maps(s: &mut Stream, outbox: &mut Vec<Outgoing>) {
    let Some(last) = s.store.newest() else {
        return;
    };
    let held = s.version;
    let eligible: Vec<PeerId> = s
        .peers
        .iter()
        .filter(|(_, pm)| pm.in_flow.is_some() && pm.sent_map != Some((last, held)))
        .map(|(p, _)| *p)
        .collect();
    let Some(map) = (!eligible.is_empty()).then(|| s.store.map()).flatten() else {
        return;
    };
    let targets = if s.params.availability_send_to_all || s.end.is_some() {
        eligible
    } else {
        s.map_rr = s.map_rr.wrapping_add(1);
        vec![eligible[(s.map_rr % eligible.len() as u64) as usize]]
    };
    let msg = MediaControl::Map(map.clone());
    for p in targets {
        if let Some(pm) = s.peers.get_mut(&p) {
            pm.sent_map = Some((map.last, held));
        }
        s.control(outbox, p, &msg);
    }
}

fn assign_pushers(s: &mut Stream, outbox: &mut Vec<Outgoing>, rng: &mut ChaCha8Rng) {
    let candidates: Vec<(PeerId, u64)> = s
        .peers
        .iter()
        .filter_map(|(p, pm)| Some((*p, pm.map.as_ref()?.last)))
        .collect();
    let changes = s
        .push
        .assign(&candidates, FRESH_IDS, PUSH_STALE_IDS, || rng.next_u64());
    for c in changes {
        apply_mask(s, outbox, c);
    }
}

/// Pulls what is missing up to the newest pullable ID (digest §6.6).
fn send_pulls(s: &mut Stream, outbox: &mut Vec<Outgoing>, now: Instant) {
    let Some(upto) = s.pullable_up_to(now) else {
        return;
    };
    let low = s
        .playback
        .as_ref()
        .and_then(|p| p.next())
        .unwrap_or_else(|| s.store.floor());
    let behind: Vec<u64> = s.pulls.range(..low).map(|(id, _)| *id).collect();
    for id in behind {
        s.forget_pull(id);
    }
    if low > upto {
        return;
    }
    let fetch = s.params.fetch_period;
    let mut sent = 0;
    for id in s.store.missing(low, upto, MAX_PULLS_PER_SCAN * 4) {
        if sent >= MAX_PULLS_PER_SCAN {
            break;
        }
        let previous = s.pulls.get(&id).copied();
        if previous.is_some_and(|(_, t)| now.saturating_duration_since(t) < fetch) {
            continue;
        }
        let holders: Vec<PeerId> = s
            .peers
            .iter()
            .filter(|(p, pm)| {
                pm.map.as_ref().is_some_and(|m| m.holds(id))
                    && pm.pulls < MAX_PULLS_PER_PEER
                    && previous.is_none_or(|(q, _)| q != **p)
            })
            .map(|(p, _)| *p)
            .collect();
        let holder = if holders.is_empty() {
            // Only the neighbour already asked holds it: ask again.
            match previous {
                Some((q, _))
                    if s.peers
                        .get(&q)
                        .is_some_and(|pm| pm.map.as_ref().is_some_and(|m| m.holds(id))) =>
                {
                    q
                }
                _ => continue,
            }
        } else {
            s.pull_rr = s.pull_rr.wrapping_add(1);
            holders[(s.pull_rr % holders.len() as u64) as usize]
        };
        if let Some((q, _)) = previous {
            if let Some(pm) = s.peers.get_mut(&q) {
                pm.pulls = pm.pulls.saturating_sub(1);
            }
        }
        if let Some(pm) = s.peers.get_mut(&holder) {
            pm.pulls += 1;
        }
        s.pulls.insert(id, (holder, now));
        s.info.pulls_sent += 1;
        s.control(outbox, holder, &MediaControl::Pull(id));
        sent += 1;
    }
}

/// The newest fragment when this member began to play (or learned the stream), estimated
/// from the advertisements (0 while unknown): a latecomer starts a fetch period before it, as
/// Flash does.
fn live_at_start(s: &Stream, now: Instant) -> u64 {
    match (s.newest_advertised(), s.ids_per_second()) {
        (Some(newest), Some(rate)) => {
            let since = now
                .saturating_duration_since(s.play_reference)
                .as_secs_f64();
            let back = rate * (since + s.params.fetch_period.as_secs_f64());
            newest.saturating_sub(back as u64)
        }
        _ => 0,
    }
}

/// Delivers what playback can deliver.
fn drive_playback(s: &mut Stream, group: GroupHandle, now: Instant, events: &mut Events) {
    let starting = s.playback.as_ref().is_some_and(|p| p.next().is_none());
    let live_at_start = if starting { live_at_start(s, now) } else { 0 };
    let Some(p) = s.playback.as_mut() else {
        return;
    };
    if p.next().is_none() {
        // Start at the oldest fragment anyone advertised in the first fetch period (members
        // that play from the beginning start at fragment 1), but a latecomer no earlier than
        // a fetch period before the live edge when it began: started at the relays'
        // retention edge it would wait a window on every hole its pulls could no longer fill,
        // and fall further behind.
        if now < s.start_decision {
            return;
        }
        let oldest = match (s.lowest_seen, s.store.oldest()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        p.start_at(oldest.max(live_at_start).max(s.store.floor()));
    }
    while let Some(out) = p.poll(&s.store, now, s.params.window, s.end) {
        match out {
            Output::Message(message) => events.push(GroupEvent::MulticastMessage {
                group,
                name: s.name.clone(),
                key: s.key,
                message,
            }),
            Output::Ended => {
                let last = s.end.map_or(0, |(l, _)| l);
                events.push(GroupEvent::MulticastPlayEnded {
                    group,
                    name: s.name.clone(),
                    key: s.key,
                    fragments: (last + 1).saturating_sub(p.first().unwrap_or(1)),
                    lost: p.lost,
                    delivered: p.delivered,
                });
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    fn peer(i: u8) -> PeerId {
        PeerId([i; 32])
    }

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn events() -> Events {
        Events {
            queue: VecDeque::new(),
            max: 1000,
            dropped: 0,
        }
    }

    fn spec() -> GroupSpecifier {
        let mut s = GroupSpecifier::new("m").unwrap();
        s.set_multicast_enabled(true);
        s
    }

    fn multicast(spec: &GroupSpecifier) -> Multicast {
        Multicast::new(GroupHandle([1; 32]), spec, &GroupConfig::default())
    }

    fn subscription(key: StreamKey, proof: Option<[u8; 32]>) -> Vec<u8> {
        MediaControl::Subscription(Subscription {
            name: "live".into(),
            key,
            send_to_all: false,
            window_ms: Some(8000),
            update_period_ms: Some(100),
            fetch_period_ms: Some(2500),
            proof,
        })
        .encode()
    }

    /// A player with two neighbours that announced stream `key`, each on its flow 10 + i.
    fn player() -> (Multicast, Events, StreamKey) {
        let mut m = multicast(&spec());
        let mut ev = events();
        m.play(at(0), "live").unwrap();
        let key = StreamKey([9; 32]);
        for i in 1..=2 {
            m.neighbor_up(peer(i));
            m.on_control(
                at(0),
                peer(i),
                10 + i as u64,
                &subscription(key, None),
                &mut ev,
            );
        }
        (m, ev, key)
    }

    fn control(m: &Multicast, p: u8) -> Vec<MediaControl> {
        m.outbox
            .iter()
            .filter(|o| o.peer == peer(p))
            .filter_map(|o| match &o.out {
                Out::Control(b) => MediaControl::decode(b).ok(),
                Out::Fragment { .. } => None,
            })
            .collect()
    }

    /// Without multicast in the spec, neighbours are not tracked and nothing can be published
    /// or played; with it, a new neighbour hears of our streams.
    #[test]
    fn neighbours_are_tracked_only_with_multicast_enabled() {
        let mut off = multicast(&GroupSpecifier::new("m").unwrap());
        off.neighbor_up(peer(1));
        assert_eq!(off.neighbors.len(), 0);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert!(matches!(
            off.publish(at(0), "live", None, &mut rng),
            Err(GroupError::MulticastDisabled)
        ));
        let mut on = multicast(&spec());
        let key = on.publish(at(0), "live", None, &mut rng).unwrap();
        on.neighbor_up(peer(1));
        assert_eq!(on.neighbors.len(), 1);
        assert!(control(&on, 1)
            .iter()
            .any(|c| matches!(c, MediaControl::Subscription(s) if s.key == key)));
    }

    #[test]
    fn hostile_control_and_fragments_are_counted() {
        let (mut m, mut ev, key) = player();
        assert!(ev.queue.iter().any(
            |e| matches!(e, GroupEvent::MulticastPublishNotify { name, .. } if name == "live")
        ));
        // A map on a flow that never carried a subscription.
        m.on_control(
            at(1),
            peer(1),
            99,
            &MediaControl::Map(FragmentsMap::build(5, 4, |_| true)).encode(),
            &mut ev,
        );
        assert_eq!(m.counters.no_subscription, 1);
        m.on_control(at(1), peer(1), 11, &[0x22], &mut ev);
        assert_eq!(m.counters.malformed, 1);
        // A pull for a fragment nobody has.
        m.on_control(
            at(1),
            peer(1),
            11,
            &MediaControl::Pull(500).encode(),
            &mut ev,
        );
        assert_eq!(m.counters.unknown_pulls, 1);
        // Garbage on the data flow, then a fragment below the window.
        m.on_fragment(at(1), peer(1), key, Bytes::from_static(&[0x77, 1]), &mut ev);
        assert_eq!(m.counters.malformed, 2);
        m.streams.get_mut(&key).unwrap().store.raise_floor(100);
        let f = Fragment::split(50, media_type::AUDIO, 0, &Bytes::from_static(b"x")).unwrap();
        m.on_fragment(at(1), peer(1), key, Bytes::from(f[0].encode()), &mut ev);
        assert_eq!(m.counters.too_old, 1);
        // A fragment for a stream we do not know.
        m.on_fragment(
            at(1),
            peer(1),
            StreamKey([3; 32]),
            Bytes::from(f[0].encode()),
            &mut ev,
        );
        assert_eq!(m.counters.unexpected_fragments, 1);
    }

    #[test]
    fn a_liar_that_advertises_everything_is_pulled_from_once_then_skipped() {
        let (mut m, mut ev, key) = player();
        // Peer 1 advertises 1..=20, peer 2 only 1..=10.
        m.on_control(
            at(0),
            peer(1),
            11,
            &MediaControl::Map(FragmentsMap::build(20, 19, |_| true)).encode(),
            &mut ev,
        );
        m.on_control(
            at(0),
            peer(2),
            12,
            &MediaControl::Map(FragmentsMap::build(10, 9, |_| true)).encode(),
            &mut ev,
        );
        m.outbox.clear();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        // After the fetch period everything advertised is pulled.
        let mut t = 0;
        while t <= 2600 {
            m.on_timeout(at(t), &mut ev, &mut rng);
            t += 100;
        }
        let pulls = |m: &Multicast, p: u8| -> Vec<u64> {
            control(m, p)
                .into_iter()
                .filter_map(|c| match c {
                    MediaControl::Pull(id) => Some(id),
                    _ => None,
                })
                .collect()
        };
        let (mut a, b) = (pulls(&m, 1), pulls(&m, 2));
        a.extend(&b);
        a.sort();
        assert_eq!(a, (1..=20).collect::<Vec<_>>(), "each fragment pulled once");
        assert!(
            pulls(&m, 1).iter().any(|&i| i > 10),
            "only peer 1 holds 11..=20"
        );
        // Nobody answers. A fetch period later, every fragment 1..=10 asked of one peer is
        // asked of the other; 11..=20 go to peer 1 again (no other holder).
        m.outbox.clear();
        while t <= 5200 {
            m.on_timeout(at(t), &mut ev, &mut rng);
            t += 100;
        }
        let (a2, b2) = (pulls(&m, 1), pulls(&m, 2));
        for id in 1..=10 {
            let before_1 = a.contains(&id) && !b.contains(&id);
            assert!(
                if before_1 {
                    b2.contains(&id)
                } else {
                    a2.contains(&id)
                },
                "fragment {id} retried at the other holder"
            );
        }
        assert!(m.counters.unknown_pulls == 0);
        let s = &m.streams[&key];
        assert_eq!(s.pulls.len(), 20);
    }

    #[test]
    fn publish_proofs_are_checked_by_password_holders() {
        let mut locked = spec();
        locked.set_publish_password(Some("pw"), None);
        let holder: GroupSpecifier = locked.groupspec_with_authorizations().parse().unwrap();
        let outsider: GroupSpecifier = locked.groupspec_without_authorizations().parse().unwrap();
        let key = StreamKey([5; 32]);
        let pk = publish_key(b"pw", &holder.group_id());
        let good = publish_proof(&pk, &key, "live");
        for (proof, accepted) in [(None, false), (Some([0; 32]), false), (Some(good), true)] {
            let mut m = multicast(&holder);
            let mut ev = events();
            m.neighbor_up(peer(1));
            m.on_control(at(0), peer(1), 3, &subscription(key, proof), &mut ev);
            assert_eq!(m.streams.contains_key(&key), accepted, "{proof:?}");
            assert_eq!(m.counters.bad_proof, u64::from(!accepted));
        }
        // An outsider cannot check: it takes part (accept_unverifiable_streams) but cannot publish.
        let mut m = multicast(&outsider);
        m.neighbor_up(peer(1));
        m.on_control(at(0), peer(1), 3, &subscription(key, None), &mut events());
        assert!(m.streams.contains_key(&key));
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        assert!(matches!(
            m.publish(at(0), "mine", None, &mut rng),
            Err(GroupError::PublishNotAuthorized)
        ));
        // The holder publishes with a proof that verifies.
        let mut h = multicast(&holder);
        h.neighbor_up(peer(1));
        let k = h.publish(at(0), "live", None, &mut rng).unwrap();
        let MediaControl::Subscription(sub) = &control(&h, 1)[0] else {
            panic!()
        };
        assert_eq!(sub.proof, Some(publish_proof(&pk, &k, "live")));
    }

    #[test]
    fn push_requests_and_pushes() {
        let (mut m, mut ev, key) = player();
        m.on_control(
            at(0),
            peer(1),
            11,
            &MediaControl::Map(FragmentsMap::build(8, 7, |_| true)).encode(),
            &mut ev,
        );
        m.outbox.clear();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        m.on_timeout(at(0), &mut ev, &mut rng);
        // Only peer 1 advertises: it is asked for every class.
        let masks: Vec<u8> = control(&m, 1)
            .into_iter()
            .filter_map(|c| match c {
                MediaControl::Push(mask) => Some(mask),
                _ => None,
            })
            .collect();
        assert_eq!(masks.last(), Some(&0xff));
        // Peer 2 asks us for class 1; a new fragment 9 from peer 1 is pushed on to peer 2 only.
        m.on_control(
            at(0),
            peer(2),
            12,
            &MediaControl::Push(0b10).encode(),
            &mut ev,
        );
        m.outbox.clear();
        let f = Fragment::split(9, media_type::AUDIO, 0, &Bytes::from_static(b"x")).unwrap();
        m.on_fragment(at(1), peer(1), key, Bytes::from(f[0].encode()), &mut ev);
        let to: Vec<PeerId> = m
            .outbox
            .iter()
            .filter(|o| matches!(o.out, Out::Fragment { .. }))
            .map(|o| o.peer)
            .collect();
        assert_eq!(to, vec![peer(2)]);
        assert_eq!(m.info(&key).unwrap().fragments_pushed_from_peers, 1);
    }

    #[test]
    fn a_latecomer_starts_half_a_window_behind_the_newest_fragment() {
        let (mut m, mut ev, key) = player();
        // A stream at 50 fragments per second: peer 1 advertises 10 s of it, then more.
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for step in 0..=40u64 {
            let t = step * 100;
            let last = 1000 + step * 5;
            let map = FragmentsMap::build(last, 500, |_| true);
            m.on_control(
                at(t),
                peer(1),
                11,
                &MediaControl::Map(map).encode(),
                &mut ev,
            );
            m.on_timeout(at(t), &mut ev, &mut rng);
        }
        let next = m.streams[&key].playback.as_ref().unwrap().next().unwrap();
        // Decided a fetch period (2.5 s) after the first map: the newest was 1000 when the
        // member began, and a fetch period at 50 per second before that is 875 (not 500, the
        // oldest fragment advertised).
        assert!((865..=885).contains(&next), "started at {next}");
    }

    #[test]
    fn a_pull_answered_by_another_neighbour_frees_its_slot() {
        let (mut m, mut ev, key) = player();
        let map = MediaControl::Map(FragmentsMap::build(4, 3, |_| true)).encode();
        m.on_control(at(0), peer(1), 11, &map, &mut ev);
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let mut t = 0;
        while m.streams[&key].pulls.len() < 4 {
            t += 100;
            m.on_timeout(at(t), &mut ev, &mut rng);
        }
        assert_eq!(m.streams[&key].peers[&peer(1)].pulls, 4);
        // Peer 2 pushes all four first: peer 1's slots are free again.
        for id in 1..=4 {
            let f = Fragment::split(id, media_type::AUDIO, 0, &Bytes::from_static(b"x")).unwrap();
            m.on_fragment(at(t), peer(2), key, Bytes::from(f[0].encode()), &mut ev);
        }
        assert!(m.streams[&key].pulls.is_empty());
        assert_eq!(m.streams[&key].peers[&peer(1)].pulls, 0);
    }
}
