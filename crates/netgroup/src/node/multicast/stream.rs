//! One stream known to this member ([`Stream`]): its fragments, playback, pushers and
//! pulls, and the periodic work on it (maps, push assignment, pulls, playback).

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rtmfp::Instant;

use super::frames::{MediaControl, StreamKey, Subscription};
use super::info::{MulticastCounters, MulticastParams, NetStreamMulticastInfo};
use super::playback::{Output, Playback};

use super::outbox::{Out, Outgoing, PeerMedia};
use super::push;
use super::store::FragmentStore;
use crate::id::PeerId;
use crate::node::events::{GroupEvent, GroupHandle};
use crate::node::io::Events;

/// Period of the pull scan (librtmfp: 100 ms, docs/protocol/netgroup.md, "Pull requests").
pub(super) const PULL_PERIOD: Duration = Duration::from_millis(100);
/// Period of the push-assignment check.
pub(super) const PUSH_PERIOD: Duration = Duration::from_millis(500);
/// A pusher whose class lags this many IDs behind the newest advertised one is replaced.
pub(super) const PUSH_STALE_IDS: u64 = 64;
/// Neighbours whose newest advertised ID is this close to the best are push candidates.
pub(super) const FRESH_IDS: u64 = 16;
/// Most pulls sent per scan.
pub(super) const MAX_PULLS_PER_SCAN: usize = 128;
/// Most pulls in flight to one neighbour.
pub(super) const MAX_PULLS_PER_PEER: usize = 64;
/// After the end is learned, missing fragments are pulled this soon.
pub(super) const END_PULL_DELAY: Duration = Duration::from_millis(300);
/// A stream with no traffic for this long is forgotten (option 4's 300 s,
/// docs/protocol/netgroup.md, "Media subscription").
pub(super) const STREAM_IDLE: Duration = Duration::from_secs(300);
/// Advertisement history entries kept per stream.
pub(super) const MAX_ADVERTISED: usize = 512;

/// One stream known to this member.
#[derive(Debug)]
pub(super) struct Stream {
    pub(super) key: StreamKey,
    pub(super) name: String,
    pub(super) publisher: bool,
    pub(super) playing: bool,
    pub(super) params: MulticastParams,
    pub(super) proof: Option<[u8; 32]>,
    pub(super) store: FragmentStore,
    pub(super) peers: BTreeMap<PeerId, PeerMedia>,
    /// Next fragment ID to publish.
    pub(super) next_id: u64,
    /// Last fragment ID and when we learned it.
    pub(super) end: Option<(u64, Instant)>,
    /// (newest ID advertised by anyone, when first seen), IDs ascending.
    pub(super) advertised: VecDeque<(u64, Instant)>,
    pub(super) push: push::Pushers,
    pub(super) pulls: BTreeMap<u64, (PeerId, Instant)>,
    pub(super) pull_rr: u64,
    pub(super) playback: Option<Playback>,
    /// Playback picks its first fragment at this time (a fetch period after it began, and
    /// after the first map arrived), from `lowest_seen`.
    pub(super) start_decision: Instant,
    /// Oldest fragment any neighbour's map has advertised as held.
    pub(super) lowest_seen: Option<u64>,
    /// When this member learned the stream or began to play it, whichever is later.
    pub(super) play_reference: Instant,
    pub(super) next_map: Instant,
    pub(super) map_rr: u64,
    pub(super) next_push: Instant,
    pub(super) next_pull: Instant,
    pub(super) order: u64,
    pub(super) info: NetStreamMulticastInfo,
    pub(super) last_activity: Instant,
    /// Bumped by every new fragment (not by pruning): maps are re-sent when it changes.
    pub(super) version: u64,
}

impl Stream {
    pub(super) fn participating(&self) -> bool {
        self.publisher || self.playing
    }

    pub(super) fn subscription(&self) -> Bytes {
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
    pub(super) fn push_control(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId, bytes: Bytes) {
        self.info.send_control_bytes += bytes.len() as u64;
        outbox.push(Outgoing {
            peer,
            key: self.key,
            out: Out::Control(bytes),
        });
    }

    /// Queues our subscription to `peer` unless it went already: the first message of our
    /// `GR\x11` flow to it.
    pub(super) fn subscribe_once(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId) {
        let Some(pm) = self.peers.get_mut(&peer).filter(|pm| !pm.announced) else {
            return;
        };
        pm.announced = true;
        let sub = self.subscription();
        self.push_control(outbox, peer, sub);
    }

    /// Queues a control message to `peer`, announcing the stream first if needed.
    pub(super) fn control(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId, msg: &MediaControl) {
        if !self.peers.contains_key(&peer) {
            return;
        }
        self.subscribe_once(outbox, peer);
        self.push_control(outbox, peer, Bytes::from(msg.encode()));
    }

    /// Starts tracking `peer` for this stream (in announcement order) and announces it.
    pub(super) fn announce(&mut self, outbox: &mut Vec<Outgoing>, peer: PeerId) {
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
    pub(super) fn forget_pull(&mut self, id: u64) -> Option<PeerId> {
        let (peer, _) = self.pulls.remove(&id)?;
        if let Some(pm) = self.peers.get_mut(&peer) {
            pm.pulls = pm.pulls.saturating_sub(1);
        }
        Some(peer)
    }

    pub(super) fn send_fragment(
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

    /// Pushes fragment `id` to the neighbours that asked for its class (docs/protocol/netgroup.md,
    /// "Push masks").
    pub(super) fn push_new(
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

    pub(super) fn newest_advertised(&self) -> Option<u64> {
        self.advertised.back().map(|(id, _)| *id)
    }

    pub(super) fn advertise(&mut self, id: u64, now: Instant) {
        if self.newest_advertised().is_none_or(|n| id > n) {
            if self.advertised.len() >= MAX_ADVERTISED {
                self.advertised.pop_front();
            }
            self.advertised.push_back((id, now));
        }
    }

    /// Fragments per second, from the advertisements seen (at least one second of them).
    pub(super) fn ids_per_second(&self) -> Option<f64> {
        let (first, t0) = self.advertised.front()?;
        let (last, t1) = self.advertised.back()?;
        let span = t1.saturating_duration_since(*t0).as_secs_f64();
        (span >= 1.0).then(|| (last - first) as f64 / span)
    }

    /// Newest ID advertised at least a fetch period ago (or the end, soon after it is known).
    pub(super) fn pullable_up_to(&self, now: Instant) -> Option<u64> {
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

    pub(super) fn next_timeout(&self) -> Option<Instant> {
        if !self.participating() {
            return None;
        }
        let mut t = self.next_map;
        if !self.publisher {
            t = t.min(self.next_push).min(self.next_pull);
        }
        Some(t)
    }

    pub(super) fn expired(&self, now: Instant) -> bool {
        let keep = self.params.window + self.params.relay_margin;
        let ended = self
            .end
            .is_some_and(|(_, t)| now.saturating_duration_since(t) >= keep + END_PULL_DELAY);
        let done = self.playback.as_ref().is_none_or(|p| p.is_ended()) || ended;
        (ended && done) || now.saturating_duration_since(self.last_activity) >= STREAM_IDLE
    }
}

/// A stream's statistics with its playback figures.
pub(super) fn stream_info(s: &Stream) -> NetStreamMulticastInfo {
    let mut i = s.info;
    if let Some(p) = &s.playback {
        i.fragments_lost = p.lost;
        i.messages_delivered = p.delivered;
    }
    i
}

pub(super) fn start_playing(s: &mut Stream, now: Instant) {
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

pub(super) fn apply_mask(s: &mut Stream, outbox: &mut Vec<Outgoing>, change: push::MaskChange) {
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
/// when it changed since the last one it got (docs/protocol/netgroup.md, "Fragments map").
pub(super) fn send_maps(s: &mut Stream, outbox: &mut Vec<Outgoing>) {
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

pub(super) fn assign_pushers(s: &mut Stream, outbox: &mut Vec<Outgoing>, rng: &mut ChaCha8Rng) {
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

/// Pulls what is missing up to the newest pullable ID (docs/protocol/netgroup.md, "Pull requests").
pub(super) fn send_pulls(s: &mut Stream, outbox: &mut Vec<Outgoing>, now: Instant) {
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
pub(super) fn live_at_start(s: &Stream, now: Instant) -> u64 {
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
pub(super) fn drive_playback(
    s: &mut Stream,
    group: GroupHandle,
    now: Instant,
    events: &mut Events,
) {
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
