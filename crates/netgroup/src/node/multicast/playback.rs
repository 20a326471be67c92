//! In-order playback of a multicast stream (docs/protocol/netgroup.md, "Media fragments", "Window
//! and relay margin"): media messages are rebuilt from their fragments and delivered in fragment
//! order. A hole is waited for at most one window after the first fragment beyond it arrived (or
//! after the end of the stream was learned), then skipped and counted as lost; pieces of a message
//! whose start is gone are skipped too.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use rtmfp::Instant;

use super::frames::Piece;
use super::store::FragmentStore;

/// A rebuilt media message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaMessage {
    /// ID of its first fragment.
    pub first_fragment: u64,
    /// RTMP media type (`frames::media_type`).
    pub media_type: u8,
    /// Timestamp, ms.
    pub time: u32,
    /// The message bytes.
    pub payload: Bytes,
}

/// What [`Playback::poll`] returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// The next message.
    Message(MediaMessage),
    /// Every fragment up to the stream's end was delivered or given up.
    Ended,
}

/// The playback cursor of one stream.
#[derive(Debug, Clone)]
pub struct Playback {
    /// Next fragment ID to deliver; `None` until the start is known.
    next: Option<u64>,
    /// Where playback started.
    first: Option<u64>,
    /// Fragments skipped (lost).
    pub lost: u64,
    /// Messages delivered.
    pub delivered: u64,
    ended: bool,
}

impl Default for Playback {
    fn default() -> Self {
        Self::new()
    }
}

impl Playback {
    /// A cursor waiting for its start.
    pub fn new() -> Self {
        Playback {
            next: None,
            first: None,
            lost: 0,
            delivered: 0,
            ended: false,
        }
    }

    /// Next fragment ID to deliver.
    pub fn next(&self) -> Option<u64> {
        self.next
    }

    /// The fragment playback started at.
    pub fn first(&self) -> Option<u64> {
        self.first
    }

    /// Whether the end was reached.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Starts at fragment `id` if not started yet.
    pub fn start_at(&mut self, id: u64) {
        if self.next.is_none() {
            self.next = Some(id.max(1));
            self.first = Some(id.max(1));
        }
    }

    fn skip_to(&mut self, id: u64) {
        if let Some(n) = self.next {
            if id > n {
                self.lost += id - n;
                self.next = Some(id);
            }
        }
    }

    /// Delivers the next message if it is complete, skipping expired holes (see the module
    /// docs). `end`: the last fragment ID and when it was learned.
    pub fn poll(
        &mut self,
        store: &FragmentStore,
        now: Instant,
        window: Duration,
        end: Option<(u64, Instant)>,
    ) -> Option<Output> {
        loop {
            let id = self.next?;
            if self.ended {
                return None;
            }
            if let Some((last, _)) = end {
                if id > last {
                    self.ended = true;
                    return Some(Output::Ended);
                }
            }
            if id < store.floor() && !store.holds(id) {
                self.skip_to(store.floor());
                continue;
            }
            let Some(s) = store.get(id) else {
                if self.hole_expired(store, id, now, window, end) {
                    let to = match store.next_after(id) {
                        Some((k, _)) => k,
                        None => end.map_or(id + 1, |(last, _)| last + 1),
                    };
                    self.skip_to(to);
                    continue;
                }
                return None;
            };
            match s.piece {
                Piece::Whole { media_type, time } => {
                    self.next = Some(id + 1);
                    self.delivered += 1;
                    return Some(Output::Message(MediaMessage {
                        first_fragment: id,
                        media_type,
                        time,
                        payload: s.payload(),
                    }));
                }
                Piece::Middle { .. } | Piece::End => {
                    // Its start is gone.
                    self.skip_to(id + 1);
                }
                Piece::Start {
                    media_type, time, ..
                } => {
                    let mut buf = BytesMut::from(&s.payload()[..]);
                    let mut j = id + 1;
                    loop {
                        match store.get(j).map(|f| (f.piece, f)) {
                            Some((Piece::Middle { .. }, f)) => buf.extend_from_slice(&f.payload()),
                            Some((Piece::End, f)) => {
                                buf.extend_from_slice(&f.payload());
                                self.next = Some(j + 1);
                                self.delivered += 1;
                                return Some(Output::Message(MediaMessage {
                                    first_fragment: id,
                                    media_type,
                                    time,
                                    payload: buf.freeze(),
                                }));
                            }
                            Some(_) => {
                                // A new message began: this one is broken.
                                self.skip_to(j);
                                break;
                            }
                            None => {
                                if self.hole_expired(store, j, now, window, end) {
                                    // Give up the whole message.
                                    let to = store.next_after(j).map_or(j + 1, |(k, _)| k);
                                    self.skip_to(to);
                                    break;
                                }
                                return None;
                            }
                        }
                        j += 1;
                    }
                }
            }
        }
    }

    /// A hole at `id` is given up once the first fragment after it arrived a window ago, or
    /// the end (at or after `id`) was learned a window ago.
    fn hole_expired(
        &self,
        store: &FragmentStore,
        id: u64,
        now: Instant,
        window: Duration,
        end: Option<(u64, Instant)>,
    ) -> bool {
        let after = store
            .next_after(id)
            .is_some_and(|(_, s)| now.saturating_duration_since(s.arrived) >= window);
        let ended =
            end.is_some_and(|(last, at)| last >= id && now.saturating_duration_since(at) >= window);
        after || ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::multicast::frames::{media_type, Fragment};
    use crate::node::multicast::store::Stored;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn put(store: &mut FragmentStore, f: &Fragment, t: Instant) {
        let bytes = Bytes::from(f.encode());
        let payload_at = bytes.len() - f.payload.len();
        store.insert(
            f.id,
            Stored {
                bytes,
                piece: f.piece,
                payload_at,
                arrived: t,
            },
        );
    }

    fn messages(sizes: &[usize]) -> Vec<Fragment> {
        let mut id = 1;
        let mut out = Vec::new();
        for (i, &n) in sizes.iter().enumerate() {
            let payload = Bytes::from(vec![i as u8; n]);
            let frags = Fragment::split(id, media_type::VIDEO, i as u32, &payload).unwrap();
            id += frags.len() as u64;
            out.extend(frags);
        }
        out
    }

    const W: Duration = Duration::from_secs(8);

    #[test]
    fn in_order_with_reassembly() {
        let frags = messages(&[10, 2000, 5]); // ids 1, 2..=4, 5
        let mut store = FragmentStore::new(100);
        let mut p = Playback::new();
        p.start_at(1);
        // Out of order arrival: nothing until the first is in.
        for f in frags.iter().rev() {
            put(&mut store, f, at(0));
        }
        let mut got = Vec::new();
        while let Some(Output::Message(m)) = p.poll(&store, at(1), W, None) {
            got.push((m.first_fragment, m.payload.len(), m.time));
        }
        assert_eq!(got, vec![(1, 10, 0), (2, 2000, 1), (5, 5, 2)]);
        assert_eq!(
            p.poll(&store, at(1), W, Some((5, at(1)))),
            Some(Output::Ended)
        );
        assert_eq!(p.lost, 0);
    }

    #[test]
    fn holes_wait_one_window_then_skip() {
        let frags = messages(&[10, 2000, 5, 7]); // 1, 2..=4, 5, 6
        let mut store = FragmentStore::new(100);
        let mut p = Playback::new();
        p.start_at(1);
        for f in &frags {
            if f.id != 3 && f.id != 5 {
                put(&mut store, f, at(1000));
            }
        }
        assert!(
            matches!(p.poll(&store, at(1000), W, None), Some(Output::Message(m)) if m.first_fragment == 1)
        );
        // Fragment 3 is missing: wait...
        assert_eq!(p.poll(&store, at(8999), W, None), None);
        // ...until the fragment after it is a window old: message 2..=4 is lost, 5 too.
        let m = p.poll(&store, at(9000), W, None);
        assert!(matches!(m, Some(Output::Message(m)) if m.first_fragment == 6));
        assert_eq!(p.lost, 4);
        // A hole at the end is given up a window after the end is learned.
        let mut p2 = Playback::new();
        p2.start_at(6);
        let mut s2 = FragmentStore::new(10);
        put(&mut s2, &frags[5], at(0));
        assert!(matches!(
            p2.poll(&s2, at(0), W, Some((7, at(0)))),
            Some(Output::Message(_))
        ));
        assert_eq!(p2.poll(&s2, at(7999), W, Some((7, at(0)))), None);
        assert_eq!(
            p2.poll(&s2, at(8000), W, Some((7, at(0)))),
            Some(Output::Ended)
        );
        assert_eq!(p2.lost, 1);
    }

    #[test]
    fn starting_mid_message_skips_the_orphans() {
        let frags = messages(&[3000, 4]); // 1..=4, 5
        let mut store = FragmentStore::new(100);
        for f in &frags[2..] {
            put(&mut store, f, at(0));
        }
        let mut p = Playback::new();
        p.start_at(3);
        assert!(
            matches!(p.poll(&store, at(0), W, None), Some(Output::Message(m)) if m.first_fragment == 5)
        );
        assert_eq!(p.lost, 2);
    }
}
