//! Multicast streaming in the group workload (`[workload.stream]`, docs/protocol/netgroup.md,
//! "Multicast streams"): slot 1 publishes a stream of audio and video messages at a bit rate, every
//! other member plays it through the real `GroupNode` multicast engine.
//!
//! - [`StreamSpec`]: the scenario table; [`StreamParams`]: run-time values;
//! - [`StreamLedger`]: who got which message when, per player; continuity over time;
//! - [`StreamReport`] and its summary lines.
//!
//! Message `k` has stream time `k × message_ms` and is published at `start + k × message_ms`;
//! a player's lag for it is its arrival time minus that. The *complete players* are the
//! members that played from before the stream started until the end of the run: their
//! continuity is messages delivered / messages published.

use std::fmt::Write as _;

use bytes::Bytes;
use rtmfp::Instant;
use rtmfp_netgroup::{GroupHandle, GroupNode, NetStreamMulticastInfo, StreamKey};
use serde::{Deserialize, Serialize};

use crate::error::ScenarioError;
use crate::metrics::{FloatStats, Percentiles, Samples};

/// The slot that publishes.
pub const PUBLISHER: u32 = 1;
/// The stream's name.
pub const STREAM_NAME: &str = "sim-live";
/// Width of a continuity-over-time bucket, seconds of stream time.
const BUCKET_S: f64 = 1.0;

/// `[workload.stream]` of a group scenario. Every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StreamSpec {
    /// Bit rate of the stream, kbit/s (> 0, ≤ 100000). Default 500.
    pub kbps: f64,
    /// One message every this many milliseconds (1..=1000); messages alternate audio-sized
    /// (300 bytes at most) and video-sized so their mean matches the bit rate. Default 20.
    pub message_ms: u32,
    /// Publishing starts at this time, seconds of virtual time (members play from when they
    /// join the group). Default 10.
    pub start_s: f64,
    /// Seconds of stream (> 0); the stream must end before the run. Default 30.
    pub duration_s: f64,
    /// Upload capacity of the publisher, kbit/s (0: unlimited); absent: as the other nodes.
    pub publisher_upload_kbps: Option<f64>,
}

impl Default for StreamSpec {
    fn default() -> Self {
        StreamSpec {
            kbps: 500.0,
            message_ms: 20,
            start_s: 10.0,
            duration_s: 30.0,
            publisher_upload_kbps: None,
        }
    }
}

fn check(ok: bool, field: &str, what: &str) -> Result<(), ScenarioError> {
    if ok {
        Ok(())
    } else {
        Err(ScenarioError(format!(
            "field `workload.stream.{field}`: {what}"
        )))
    }
}

impl StreamSpec {
    /// Checks ranges for a run of `duration_s` seconds with `nodes` slots at the start;
    /// errors name the field.
    pub fn validate(&self, duration_s: f64, nodes: u32) -> Result<(), ScenarioError> {
        check(
            self.kbps.is_finite() && self.kbps > 0.0 && self.kbps <= 100_000.0,
            "kbps",
            &format!("must be in (0, 100000], got {}", self.kbps),
        )?;
        check(
            (1..=1000).contains(&self.message_ms),
            "message_ms",
            &format!("must be in 1..=1000, got {}", self.message_ms),
        )?;
        check(
            self.start_s.is_finite() && self.start_s >= 0.0,
            "start_s",
            &format!("must be ≥ 0, got {}", self.start_s),
        )?;
        check(
            self.duration_s.is_finite()
                && self.duration_s > 0.0
                && self.start_s + self.duration_s < duration_s,
            "duration_s",
            &format!(
                "must be > 0 and end before the run (start_s + duration_s < {duration_s}), got {}",
                self.duration_s
            ),
        )?;
        check(
            nodes >= 3,
            "kbps",
            "a stream needs the server, the publisher (slot 1) and a player: population.nodes ≥ 3",
        )?;
        if let Some(k) = self.publisher_upload_kbps {
            check(
                k.is_finite() && k >= 0.0,
                "publisher_upload_kbps",
                &format!("must be ≥ 0, got {k}"),
            )?;
        }
        Ok(())
    }
}

/// Run-time stream parameters.
#[derive(Debug, Clone)]
pub struct StreamParams {
    /// Bit rate, kbit/s.
    pub kbps: f64,
    /// Interval between messages, µs.
    pub message_us: u64,
    /// First message, µs of virtual time.
    pub start_us: u64,
    /// Messages in the stream.
    pub messages: u64,
    /// Payloads: audio-sized (even `k`) and video-sized (odd `k`), shared by every message.
    audio: Bytes,
    video: Bytes,
}

impl StreamParams {
    /// Values from the scenario table.
    pub fn new(spec: &StreamSpec) -> Self {
        let message_us = u64::from(spec.message_ms) * 1000;
        let mean = ((spec.kbps * 1000.0 / 8.0) * spec.message_ms as f64 / 1000.0).max(1.0) as usize;
        let audio = mean.min(300);
        let video = 2 * mean - audio;
        StreamParams {
            kbps: spec.kbps,
            message_us,
            start_us: (spec.start_s * 1e6).round() as u64,
            messages: ((spec.duration_s * 1e6) as u64 / message_us).max(1),
            audio: Bytes::from(vec![0xa0; audio]),
            video: Bytes::from(vec![0xb0; video]),
        }
    }

    /// Message `k`: (media type, stream time ms, payload).
    pub fn message(&self, k: u64) -> (u8, u32, Bytes) {
        use rtmfp_netgroup::multicast::media_type;
        let time = (k * self.message_us / 1000) as u32;
        if k.is_multiple_of(2) {
            (media_type::AUDIO, time, self.audio.clone())
        } else {
            (media_type::VIDEO, time, self.video.clone())
        }
    }

    /// When message `k` is published.
    pub fn publish_at(&self, k: u64) -> Instant {
        Instant::from_micros(self.start_us + k * self.message_us)
    }

    fn bucket_of(&self, k: u64) -> usize {
        ((k * self.message_us) as f64 / 1e6 / BUCKET_S) as usize
    }

    fn buckets(&self) -> usize {
        self.bucket_of(self.messages.saturating_sub(1)) + 1
    }
}

/// One player slot.
#[derive(Debug, Clone, Default)]
struct Player {
    /// Playing since (its incarnation's group join).
    since: Option<Instant>,
    /// Messages delivered, by continuity bucket.
    per_bucket: Vec<u16>,
    delivered: u64,
    last: Option<u64>,
    out_of_order: u64,
    first_at: Option<Instant>,
    ended: Option<(u64, u64)>,
}

/// Stream counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamCounters {
    /// Messages published.
    pub published: u64,
    /// Messages delivered to players (all incarnations).
    pub delivered: u64,
    /// Deliveries that went backwards in stream time (must be 0).
    pub out_of_order: u64,
    /// Players that reached `MulticastPlayEnded`.
    pub players_ended: u64,
    /// `PublishNotify` events seen by members.
    pub publish_notify: u64,
    /// Engine calls that failed (publish, play, unpublish).
    pub api_errors: u64,
}

/// The multicast engine totals of every member (`NetStreamMulticastInfo`), summed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MulticastTotals {
    /// Fragment bytes sent.
    pub send_data_bytes: u64,
    /// Media control bytes sent.
    pub send_control_bytes: u64,
    /// Fragment copies pushed.
    pub fragments_pushed: u64,
    /// Fragment copies sent answering pulls.
    pub fragments_pulled: u64,
    /// Pulls sent.
    pub pulls_sent: u64,
    /// Duplicate fragments received.
    pub duplicates: u64,
    /// Fragments published.
    pub fragments_published: u64,
    /// Fragment copies the publisher sent.
    pub publisher_copies: u64,
}

impl MulticastTotals {
    /// Adds one member's counters (the publisher's copies apart when `publisher`).
    pub fn add(&mut self, node: &GroupNode, g: GroupHandle, key: &StreamKey, publisher: bool) {
        let Some(i): Option<NetStreamMulticastInfo> =
            node.group(g).and_then(|v| v.multicast_info(key))
        else {
            return;
        };
        self.send_data_bytes += i.send_data_bytes;
        self.send_control_bytes += i.send_control_bytes;
        self.fragments_pushed += i.fragments_pushed_to_peers;
        self.fragments_pulled += i.fragments_requested_by_peers;
        self.pulls_sent += i.pulls_sent;
        self.duplicates += i.duplicate_fragments;
        self.fragments_published += i.fragments_published;
        if publisher {
            self.publisher_copies += i.fragments_pushed_to_peers + i.fragments_requested_by_peers;
        }
    }
}

/// Stream bookkeeping of a run.
#[derive(Debug)]
pub struct StreamLedger {
    p: StreamParams,
    /// The publication, once published.
    pub key: Option<StreamKey>,
    next: u64,
    players: Vec<Player>,
    lag_us: Samples,
    startup_us: Samples,
    /// Counters.
    pub counters: StreamCounters,
    /// Engine totals of departed members (live ones are added at the end).
    pub departed: MulticastTotals,
}

impl StreamLedger {
    /// A ledger for `slots` slots; `seed` drives metric sampling.
    pub fn new(p: StreamParams, slots: usize, seed: u64) -> Self {
        StreamLedger {
            p,
            key: None,
            next: 0,
            players: vec![Player::default(); slots],
            lag_us: Samples::new(1 << 20, seed ^ 0x57),
            startup_us: Samples::new(1 << 16, seed ^ 0x58),
            counters: StreamCounters::default(),
            departed: MulticastTotals::default(),
        }
    }

    /// The parameters.
    pub fn params(&self) -> &StreamParams {
        &self.p
    }

    /// The next message to publish, if the stream is not over; advances.
    pub fn next_message(&mut self) -> Option<u64> {
        (self.next < self.p.messages).then(|| {
            self.next += 1;
            self.next - 1
        })
    }

    /// Slot `slot` plays from `now` (a new incarnation starts afresh).
    pub fn play(&mut self, slot: u32, now: Instant) {
        let buckets = self.p.buckets();
        if let Some(pl) = self.players.get_mut(slot as usize) {
            *pl = Player {
                since: Some(now),
                per_bucket: vec![0; buckets],
                ..Player::default()
            };
        }
    }

    /// Slot `slot` got the message with stream time `time_ms` at `now`.
    pub fn deliver(&mut self, slot: u32, time_ms: u32, now: Instant) {
        let k = u64::from(time_ms) * 1000 / self.p.message_us;
        let publish = self.p.publish_at(k);
        let b = self.p.bucket_of(k);
        let Some(pl) = self.players.get_mut(slot as usize) else {
            return;
        };
        if pl.since.is_none() {
            return;
        }
        if pl.last.is_some_and(|l| k <= l) {
            pl.out_of_order += 1;
            self.counters.out_of_order += 1;
            return;
        }
        pl.last = Some(k);
        pl.delivered += 1;
        if let Some(c) = pl.per_bucket.get_mut(b) {
            *c = c.saturating_add(1);
        }
        self.counters.delivered += 1;
        self.lag_us
            .push(now.saturating_duration_since(publish).as_micros() as u64);
        if pl.first_at.is_none() {
            pl.first_at = Some(now);
            let from = pl
                .since
                .map_or(publish, |s| s.max(Instant::from_micros(self.p.start_us)));
            self.startup_us
                .push(now.saturating_duration_since(from).as_micros() as u64);
        }
    }

    /// Slot `slot`'s playback reached the end.
    pub fn ended(&mut self, slot: u32, fragments: u64, lost: u64) {
        if let Some(pl) = self.players.get_mut(slot as usize) {
            if pl.since.is_some() && pl.ended.is_none() {
                pl.ended = Some((fragments, lost));
                self.counters.players_ended += 1;
            }
        }
    }

    /// Slot `slot` left: it is no longer a complete player.
    pub fn leave(&mut self, slot: u32) {
        if let Some(pl) = self.players.get_mut(slot as usize) {
            *pl = Player::default();
        }
    }

    /// The workload's own memory, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.players
            .iter()
            .map(|p| std::mem::size_of::<Player>() + p.per_bucket.capacity() * 2)
            .sum()
    }
}

/// Results of the stream.
#[derive(Debug, Clone, Serialize)]
pub struct StreamReport {
    /// Bit rate, kbit/s.
    pub kbps: f64,
    /// Messages published.
    pub messages: u64,
    /// Players that played from before the start until the end of the run.
    pub complete_players: u64,
    /// Continuity of the complete players: messages delivered / published.
    pub continuity: FloatStats,
    /// Fragment continuity from `MulticastPlayEnded` (1 − lost / fragments), players that
    /// reached the end.
    pub fragment_continuity: FloatStats,
    /// Start of publishing (or of playing, if later) to the first message, µs.
    pub startup_us: Percentiles,
    /// Publishing to delivery, every delivered message, µs.
    pub lag_us: Percentiles,
    /// Media control bytes / fragment bytes sent, all members.
    pub control_overhead: f64,
    /// Fragment copies sent by the publisher / all fragment copies sent.
    pub publisher_share: f64,
    /// Duplicate fragments received per fragment copy needed (players × fragments).
    pub duplicates_per_fragment: f64,
    /// Continuity of the complete players over stream time: (seconds since the start,
    /// fraction of the messages of that second delivered).
    pub continuity_over_time: Vec<(f64, f64)>,
    /// Counters.
    pub counters: StreamCounters,
    /// Engine totals.
    pub engine: MulticastTotals,
}

impl StreamReport {
    /// Builds the report; `complete(slot)` says whether a slot is alive at the end.
    pub fn build(l: &mut StreamLedger, engine: MulticastTotals, live: &[u32]) -> Self {
        let start = Instant::from_micros(l.p.start_us);
        let complete: Vec<&Player> = live
            .iter()
            .filter_map(|&s| l.players.get(s as usize))
            .filter(|p| p.since.is_some_and(|t| t <= start))
            .collect();
        let published = l.counters.published.max(1);
        let continuity: Vec<f64> = complete
            .iter()
            .map(|p| p.delivered as f64 / published as f64)
            .collect();
        let fragment_continuity: Vec<f64> = live
            .iter()
            .filter_map(|&s| l.players.get(s as usize)?.ended)
            .map(|(f, lost)| 1.0 - lost as f64 / f.max(1) as f64)
            .collect();
        let buckets = l.p.buckets();
        let mut per_bucket_expected = vec![0u64; buckets];
        for k in 0..l.p.messages.min(l.counters.published) {
            if let Some(c) = per_bucket_expected.get_mut(l.p.bucket_of(k)) {
                *c += 1;
            }
        }
        let continuity_over_time = (0..buckets)
            .map(|b| {
                let got: u64 = complete
                    .iter()
                    .map(|p| u64::from(p.per_bucket.get(b).copied().unwrap_or(0)))
                    .sum();
                let want = per_bucket_expected[b] * complete.len() as u64;
                (
                    b as f64 * BUCKET_S,
                    if want == 0 {
                        0.0
                    } else {
                        got as f64 / want as f64
                    },
                )
            })
            .collect();
        let copies = engine.fragments_pushed + engine.fragments_pulled;
        let needed = engine.fragments_published * complete.len().max(1) as u64;
        StreamReport {
            kbps: l.p.kbps,
            messages: l.counters.published,
            complete_players: complete.len() as u64,
            continuity: FloatStats::of(&continuity),
            fragment_continuity: FloatStats::of(&fragment_continuity),
            startup_us: l.startup_us.percentiles(),
            lag_us: l.lag_us.percentiles(),
            control_overhead: engine.send_control_bytes as f64
                / engine.send_data_bytes.max(1) as f64,
            publisher_share: engine.publisher_copies as f64 / copies.max(1) as f64,
            duplicates_per_fragment: engine.duplicates as f64 / needed.max(1) as f64,
            continuity_over_time,
            counters: l.counters,
            engine,
        }
    }
}

/// The stream's lines of the one-screen summary.
pub fn summary_lines(o: &mut String, r: &StreamReport) {
    let ms = |us: u64| us as f64 / 1000.0;
    let _ = writeln!(
        o,
        "stream      {:.0} kbit/s, {} messages; complete players {}: continuity min {:.4} mean {:.4}; fragment continuity min {:.4} ({} players ended); out of order {}",
        r.kbps,
        r.messages,
        r.complete_players,
        r.continuity.min,
        r.continuity.mean,
        r.fragment_continuity.min,
        r.counters.players_ended,
        r.counters.out_of_order
    );
    let _ = writeln!(
        o,
        "            start-up p50 {:.0} ms p99 {:.0} ms; lag p50 {:.0} ms p90 {:.0} ms p99 {:.0} ms max {:.0} ms",
        ms(r.startup_us.p50),
        ms(r.startup_us.p99),
        ms(r.lag_us.p50),
        ms(r.lag_us.p90),
        ms(r.lag_us.p99),
        ms(r.lag_us.max)
    );
    let _ = writeln!(
        o,
        "            control/data {:.2} %; publisher sent {:.1} % of fragment copies; duplicates {:.3} per fragment needed; pulls {}",
        r.control_overhead * 100.0,
        r.publisher_share * 100.0,
        r.duplicates_per_fragment,
        r.engine.pulls_sent
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_the_bit_rate() {
        let p = StreamParams::new(&StreamSpec::default());
        assert_eq!(p.messages, 1500);
        let bytes: usize = (0..100).map(|k| p.message(k).2.len()).sum();
        // 100 messages of 20 ms = 2 s at 500 kbit/s = 125,000 bytes.
        assert_eq!(bytes, 125_000);
        assert_eq!(p.message(3).1, 60);
        assert_eq!(p.publish_at(2).as_micros(), 10_040_000);
    }

    #[test]
    fn ledger_continuity_and_order() {
        let spec = StreamSpec {
            duration_s: 2.0,
            ..StreamSpec::default()
        };
        let mut l = StreamLedger::new(StreamParams::new(&spec), 4, 1);
        l.play(2, Instant::from_micros(1));
        l.play(3, Instant::from_micros(1));
        while let Some(k) = l.next_message() {
            l.counters.published += 1;
            let (_, t, _) = l.params().message(k);
            let at = l.params().publish_at(k);
            l.deliver(2, t, at);
            if k % 10 != 0 {
                l.deliver(3, t, at);
            }
        }
        l.deliver(2, 0, Instant::from_micros(20_000_000));
        assert_eq!(l.counters.out_of_order, 1);
        let r = StreamReport::build(&mut l, MulticastTotals::default(), &[2, 3]);
        assert_eq!(r.complete_players, 2);
        assert_eq!((r.continuity.max, r.continuity.min), (1.0, 0.9));
        assert_eq!(r.continuity_over_time.len(), 2);
        assert!((r.continuity_over_time[0].1 - 0.95).abs() < 1e-9);
    }

    #[test]
    fn bad_fields_are_named() {
        let bad = StreamSpec {
            duration_s: 100.0,
            ..StreamSpec::default()
        };
        let e = bad.validate(60.0, 10).unwrap_err();
        assert!(e.0.contains("workload.stream.duration_s"), "{}", e.0);
        let bad = StreamSpec {
            message_ms: 0,
            ..StreamSpec::default()
        };
        assert!(bad.validate(60.0, 10).unwrap_err().0.contains("message_ms"));
    }
}
