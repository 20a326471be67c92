//! Multicast streaming over a group (docs/protocol/netgroup.md, "Multicast streams"):
//! `NetStream.publish` / `play` in a group, on librtmfp's media messages (`GR\x11` control,
//! `GR\x12` fragments).
//!
//! - [`frames`]: the media message codec;
//! - [`store`]: the fragments held and the window arithmetic;
//! - [`playback`]: in-order reassembly with hole skipping;
//! - [`push`]: who pushes which residue class to us, and to whom we push;
//! - [`info`]: parameters, `NetStreamMulticastInfo`, drop counters;
//! - `outbox`: what goes to the neighbours, and per-neighbour state of a stream;
//! - `stream`: one stream and its periodic work (maps, pushers, pulls, playback);
//! - the group side (our media flows per neighbour and stream) is `node/group/multicast.rs`.
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
//! be advertised, docs/protocol/netgroup.md, "Media subscription" and docs/protocol/interop.md,
//! "librtmfp NetGroup behaviour"): the publisher announces the last fragment ID (`21 VLU(last)`) to
//! every neighbour, members forward it, every member then sends its map to every neighbour whenever
//! it changes, missing fragments up to the end are pulled at once, and the publisher keeps serving
//! for `window + relayMargin` after unpublishing.

pub mod frames;
pub mod info;
mod outbox;
pub mod playback;
pub mod push;
pub mod store;
mod stream;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rtmfp::Instant;
use rtmfp_collections::SortedMap;

pub use frames::{
    media_type, Fragment, FragmentsMap, MediaControl, Piece, StreamKey, Subscription,
    FRAGMENT_PAYLOAD, MAX_MESSAGE_BYTES,
};
pub use info::{MulticastCounters, MulticastParams, NetStreamMulticastInfo, StreamInfo};
pub use playback::{MediaMessage, Output, Playback};

use crate::groupspec::GroupSpecifier;
use crate::id::PeerId;
use crate::node::config::GroupConfig;
use crate::node::errors::{PlayError, PublishError, StreamError};
use crate::node::events::{GroupEvent, GroupHandle};
use crate::node::io::Events;
use crate::node::password::{hmac, rights, Rights};
pub(crate) use outbox::{Out, Outgoing, PeerMedia};
use store::{FragmentStore, Insert, Stored};
use stream::*;

/// Label mixed into the publish key (docs/wire-netgroup.md).
const PUBLISH_LABEL: &[u8] = b"rtmfp-groups publish v1";
/// Ended stream keys remembered (so late announcements do not revive them).
const MAX_ENDED: usize = 256;

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
    ) -> Result<StreamKey, PublishError> {
        if !self.enabled {
            return Err(PublishError::MulticastDisabled);
        }
        let proof_key = match &self.rights {
            PublishRights::Open => None,
            PublishRights::Holder(k) => Some(*k),
            PublishRights::Outsider => return Err(PublishError::NotAuthorized),
        };
        if self
            .streams
            .values()
            .any(|s| s.publisher && s.name == name && s.end.is_none())
        {
            return Err(PublishError::AlreadyPublishing);
        }
        if self.streams.len() >= self.max_streams {
            return Err(PublishError::TooManyStreams {
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
    ) -> Result<u64, StreamError> {
        let s = self
            .streams
            .get_mut(key)
            .filter(|s| s.publisher && s.end.is_none())
            .ok_or(StreamError::UnknownStream)?;
        let frags =
            Fragment::split(s.next_id, media_type, time, payload).ok_or(StreamError::TooLarge {
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
    pub fn unpublish(&mut self, now: Instant, key: &StreamKey) -> Result<(), StreamError> {
        let s = self
            .streams
            .get_mut(key)
            .filter(|s| s.publisher && s.end.is_none())
            .ok_or(StreamError::UnknownStream)?;
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
    pub fn play(&mut self, now: Instant, name: &str) -> Result<(), PlayError> {
        if !self.enabled {
            return Err(PlayError::MulticastDisabled);
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

    /// The push rule for an unasked fragment of class `id % 8` from `peer`
    /// (docs/protocol/netgroup.md, "Push masks").
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
            Err(PublishError::MulticastDisabled)
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
            Err(PublishError::NotAuthorized)
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
