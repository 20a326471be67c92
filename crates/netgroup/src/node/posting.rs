//! Posting (docs/protocol/netgroup.md, "Posting"): message IDs, flooding with dedupe, the posting
//! password proof.
//!
//! [`Posting`] is pure (no session layer): [`Posting::post`] builds the frame for a local post,
//! [`Posting::on_post`] ingests a frame from a neighbour and says what to deliver and to whom
//! to forward it. The group engine sends frames on our extension flow; the layout is in
//! `docs/wire-netgroup.md`:
//!
//! ```text
//! 50 | flags u8 (bit 0: proof present) | [32-byte proof] | message bytes
//! ```
//!
//! The message ID is SHA-256 of the message bytes (Flash's `messageID`), recomputed by every
//! receiver, never trusted from the wire. In a group with a posting password (groupspec option
//! `07`), the proof is `HMAC-SHA256(posting key, message ID)` with
//! `posting key = HMAC-SHA256(key = password, msg = "rtmfp-groups posting v1" || group ID)`;
//! the password comes from the authorization `17` and is checked against the `07` hash.

use std::time::Duration;

use bytes::Bytes;
use rtmfp::Instant;
use sha2::{Digest, Sha256};

use rtmfp_collections::SortedMap;

use crate::groupspec::GroupSpecifier;
use crate::id::PeerId;
use crate::keys::keys_match;
use crate::node::password::{hmac, rights, Rights};
use crate::peer_table::{PeerIdTable, SharedPeerId};
use crate::seen::SeenCache;

pub use crate::node::errors::PostError;

/// Type byte of a post frame on the extension flow.
pub const POST: u8 = 0x50;
/// Flag: a 32-byte proof follows the flags byte.
pub const FLAG_PROOF: u8 = 0x01;
/// Label mixed into the posting key.
const KEY_LABEL: &[u8] = b"rtmfp-groups posting v1";
/// Most neighbours with a rate-limit bucket (older buckets are dropped first).
const MAX_BUCKETS: usize = 4096;

/// What this member may do in a group, from the groupspec (docs/protocol/netgroup.md, "Group
/// passwords", "Posting").
#[derive(Clone, PartialEq, Eq)]
pub enum PostingAuth {
    /// The group has no posting password: anyone posts, no proof.
    Open,
    /// The group has a password and we hold a valid authorization: we post and verify.
    Authorized {
        /// The derived posting key.
        key: [u8; 32],
    },
    /// The group has a password and we do not hold it (or our authorization does not match):
    /// we cannot post nor verify.
    Unauthorized,
}

impl std::fmt::Debug for PostingAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            PostingAuth::Open => "Open",
            PostingAuth::Authorized { .. } => "Authorized",
            PostingAuth::Unauthorized => "Unauthorized",
        })
    }
}

impl PostingAuth {
    /// Derives the posting rights from a groupspec: `Open` without option `07`; otherwise
    /// `Authorized` if authorization `17` hashes (with the salt carried in `07`) to the `07`
    /// value, else `Unauthorized`.
    pub fn from_groupspec(spec: &GroupSpecifier) -> Self {
        match rights(spec.posting_password_hash(), spec.posting_authorization()) {
            Rights::Open => PostingAuth::Open,
            Rights::Outsider => PostingAuth::Unauthorized,
            Rights::Holder(pw) => PostingAuth::Authorized {
                key: posting_key(pw, &spec.group_id()),
            },
        }
    }
}

/// `HMAC-SHA256(key = password, msg = "rtmfp-groups posting v1" || group ID)`.
pub fn posting_key(password: &[u8], group_id: &[u8; 32]) -> [u8; 32] {
    hmac(password, &[KEY_LABEL, group_id])
}

/// `HMAC-SHA256(posting key, message ID)`: the proof carried by a post.
pub fn post_proof(key: &[u8; 32], message_id: &[u8; 32]) -> [u8; 32] {
    hmac(key, &[message_id])
}

/// Flash's message ID: SHA-256 of the message bytes (docs/protocol/netgroup.md, "Posting").
pub fn message_id(message: &[u8]) -> [u8; 32] {
    Sha256::digest(message).into()
}

/// Bounds of [`Posting`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostingConfig {
    /// Largest message, bytes.
    pub max_message_bytes: usize,
    /// Seen-cache entries.
    pub seen_capacity: usize,
    /// Seen-cache entry lifetime.
    pub seen_max_age: Duration,
    /// Posts per second accepted from one neighbour.
    pub rate: u32,
    /// Burst accepted from one neighbour.
    pub burst: u32,
    /// Deliver posts whose proof this member cannot check (see [`PostingAuth::Unauthorized`]).
    pub accept_unverifiable: bool,
}

impl Default for PostingConfig {
    fn default() -> Self {
        let d = crate::node::GroupConfig::default();
        PostingConfig::from(&d)
    }
}

impl From<&crate::node::GroupConfig> for PostingConfig {
    fn from(c: &crate::node::GroupConfig) -> Self {
        PostingConfig {
            max_message_bytes: c.max_post_bytes,
            seen_capacity: c.seen_capacity,
            seen_max_age: c.seen_max_age,
            rate: c.post_rate,
            burst: c.post_burst,
            accept_unverifiable: c.accept_unverifiable_posts,
        }
    }
}

/// Why a received post was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostDrop {
    /// Frame shorter than its header, or not a post.
    #[error("malformed post")]
    Malformed,
    /// Message over the size bound.
    #[error("post too large")]
    TooLarge,
    /// Already seen (the normal fate of flooded copies).
    #[error("duplicate post")]
    Duplicate,
    /// The group has a posting password and the frame carries no proof.
    #[error("post without proof")]
    MissingProof,
    /// The proof does not match.
    #[error("post with a bad proof")]
    BadProof,
    /// We cannot verify and are configured not to accept unverifiable posts.
    #[error("unverifiable post")]
    Unverifiable,
    /// The neighbour exceeded its rate.
    #[error("post rate exceeded")]
    RateLimited,
}

/// Posting drop counters, one per [`PostDrop`], plus totals.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PostingCounters {
    /// Posts delivered to the application.
    pub delivered: u64,
    /// Local posts sent.
    pub posted: u64,
    /// [`PostDrop::Malformed`].
    pub malformed: u64,
    /// [`PostDrop::TooLarge`].
    pub too_large: u64,
    /// [`PostDrop::Duplicate`].
    pub duplicate: u64,
    /// [`PostDrop::MissingProof`].
    pub missing_proof: u64,
    /// [`PostDrop::BadProof`].
    pub bad_proof: u64,
    /// [`PostDrop::Unverifiable`].
    pub unverifiable: u64,
    /// [`PostDrop::RateLimited`].
    pub rate_limited: u64,
}

/// A post accepted by [`Posting::on_post`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ingest {
    /// Its message ID.
    pub message_id: [u8; 32],
    /// The message (a slice of the frame, no copy).
    pub message: Bytes,
    /// The frame to forward as is.
    pub frame: Bytes,
    /// The neighbours to forward to: every given neighbour but the sender.
    pub forward: Vec<PeerId>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Tokens in millionths of a post.
    tokens: u64,
    last: u64,
}

/// One post in a bucket's unit (millionths of a post).
const ONE_POST: u64 = 1_000_000;

impl Bucket {
    /// Refills at `rate` posts per second up to `cap` (millionths of a post) as of `now`
    /// (microseconds), then takes one post's worth if there is one.
    fn spend(&mut self, now: u64, cap: u64, rate: u64) -> bool {
        let elapsed = now.saturating_sub(self.last);
        self.last = self.last.max(now);
        self.tokens = self
            .tokens
            .saturating_add(elapsed.saturating_mul(rate))
            .min(cap);
        if self.tokens >= ONE_POST {
            self.tokens -= ONE_POST;
            true
        } else {
            false
        }
    }
}

/// Posting state of one group: seen cache, rights and rate limits (see the module docs).
#[derive(Debug, Clone)]
pub struct Posting {
    config: PostingConfig,
    auth: PostingAuth,
    seen: SeenCache<[u8; 32]>,
    /// Rate-limit buckets by neighbour, keyed by the shared copy of its peer ID.
    buckets: SortedMap<SharedPeerId, Bucket>,
    /// Where the bucket keys come from.
    peer_ids: PeerIdTable,
    counters: PostingCounters,
}

impl Posting {
    /// Posting state with `config` bounds and `auth` rights.
    pub fn new(config: PostingConfig, auth: PostingAuth) -> Self {
        Self::with_peer_ids(config, auth, PeerIdTable::new())
    }

    /// [`Posting::new`] keeping the peer IDs of its rate-limit buckets in `peer_ids` (a group
    /// engine passes [`crate::GroupConfig::peer_ids`]; memory only).
    pub fn with_peer_ids(config: PostingConfig, auth: PostingAuth, peer_ids: PeerIdTable) -> Self {
        let age = rtmfp::time::saturating_micros(config.seen_max_age);
        Posting {
            seen: SeenCache::new(config.seen_capacity, age),
            config,
            auth,
            buckets: SortedMap::default(),
            peer_ids,
            counters: PostingCounters::default(),
        }
    }

    /// Our rights.
    pub fn auth(&self) -> &PostingAuth {
        &self.auth
    }

    /// Counters.
    pub fn counters(&self) -> &PostingCounters {
        &self.counters
    }

    /// The seen cache (for size measurements).
    pub fn seen(&self) -> &SeenCache<[u8; 32]> {
        &self.seen
    }

    /// Builds the frame of a local post and records its ID as seen (so our own post is not
    /// delivered back to us). Returns `(message ID, frame)`.
    ///
    /// Errors: [`PostError::NotAuthorized`], [`PostError::TooLarge`], [`PostError::Duplicate`].
    pub fn post(&mut self, now: Instant, message: &[u8]) -> Result<([u8; 32], Bytes), PostError> {
        let proof = match &self.auth {
            PostingAuth::Open => None,
            PostingAuth::Authorized { key } => Some(*key),
            PostingAuth::Unauthorized => return Err(PostError::NotAuthorized),
        };
        if message.len() > self.config.max_message_bytes {
            return Err(PostError::TooLarge {
                size: message.len(),
                limit: self.config.max_message_bytes,
            });
        }
        let id = message_id(message);
        if !self.seen.insert(now, id) {
            return Err(PostError::Duplicate { message_id: id });
        }
        let mut frame = Vec::with_capacity(2 + 32 + message.len());
        frame.push(POST);
        match proof {
            Some(key) => {
                frame.push(FLAG_PROOF);
                frame.extend_from_slice(&post_proof(&key, &id));
            }
            None => frame.push(0),
        }
        frame.extend_from_slice(message);
        self.counters.posted += 1;
        Ok((id, Bytes::from(frame)))
    }

    /// Ingests a post frame from neighbour `from`: rate limit, size, dedupe, proof. On success
    /// the message is new (deliver it once) and should be forwarded to every neighbour in
    /// `neighbors` except `from`. Every drop is counted by reason. `neighbors` is only walked
    /// for a new message (most copies of a flood are duplicates).
    pub fn on_post<I: IntoIterator<Item = PeerId>>(
        &mut self,
        now: Instant,
        from: PeerId,
        frame: &Bytes,
        neighbors: I,
    ) -> Result<Ingest, PostDrop> {
        let r = self.ingest(now, from, frame, neighbors);
        if let Err(e) = &r {
            let c = &mut self.counters;
            match e {
                PostDrop::Malformed => c.malformed += 1,
                PostDrop::TooLarge => c.too_large += 1,
                PostDrop::Duplicate => c.duplicate += 1,
                PostDrop::MissingProof => c.missing_proof += 1,
                PostDrop::BadProof => c.bad_proof += 1,
                PostDrop::Unverifiable => c.unverifiable += 1,
                PostDrop::RateLimited => c.rate_limited += 1,
            }
            if *e != PostDrop::Duplicate {
                tracing::debug!(peer = ?from, reason = %e, "post dropped");
            }
        } else {
            self.counters.delivered += 1;
        }
        r
    }

    fn ingest<I: IntoIterator<Item = PeerId>>(
        &mut self,
        now: Instant,
        from: PeerId,
        frame: &Bytes,
        neighbors: I,
    ) -> Result<Ingest, PostDrop> {
        if !self.take_token(now, from) {
            return Err(PostDrop::RateLimited);
        }
        let (&typ, rest) = frame.split_first().ok_or(PostDrop::Malformed)?;
        let (&flags, rest) = rest.split_first().ok_or(PostDrop::Malformed)?;
        if typ != POST {
            return Err(PostDrop::Malformed);
        }
        let (proof, body_at) = if flags & FLAG_PROOF != 0 {
            let p: [u8; 32] = rest
                .get(..32)
                .and_then(|p| p.try_into().ok())
                .ok_or(PostDrop::Malformed)?;
            (Some(p), 2 + 32)
        } else {
            (None, 2)
        };
        let message = frame.slice(body_at..);
        if message.len() > self.config.max_message_bytes {
            return Err(PostDrop::TooLarge);
        }
        let id = message_id(&message);
        if self.seen.contains(now, &id) {
            return Err(PostDrop::Duplicate);
        }
        match (&self.auth, proof) {
            (PostingAuth::Open, _) => {}
            (PostingAuth::Authorized { .. }, None) => return Err(PostDrop::MissingProof),
            (PostingAuth::Authorized { key }, Some(p)) => {
                if !keys_match(&post_proof(key, &id), &p) {
                    return Err(PostDrop::BadProof);
                }
            }
            (PostingAuth::Unauthorized, _) if !self.config.accept_unverifiable => {
                return Err(PostDrop::Unverifiable)
            }
            (PostingAuth::Unauthorized, None) => return Err(PostDrop::MissingProof),
            (PostingAuth::Unauthorized, Some(_)) => {}
        }
        self.seen.insert(now, id);
        Ok(Ingest {
            message_id: id,
            message,
            frame: frame.clone(),
            forward: neighbors.into_iter().filter(|p| *p != from).collect(),
        })
    }

    fn take_token(&mut self, now: Instant, from: PeerId) -> bool {
        let cap = u64::from(self.config.burst.max(1)) * ONE_POST;
        let now = now.as_micros();
        let rate = u64::from(self.config.rate);
        // A known neighbour (nearly every post): one lookup.
        if let Some(b) = self.buckets.get_mut(&from) {
            return b.spend(now, cap, rate);
        }
        if self.buckets.len() >= MAX_BUCKETS {
            self.buckets.pop_first();
        }
        self.buckets
            .get_or_insert_with(self.peer_ids.intern(&from), || Bucket {
                tokens: cap,
                last: now,
            })
            .spend(now, cap, rate)
    }

    /// Forgets the rate-limit state of a neighbour that left.
    pub fn forget(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
    }

    /// Drops expired seen entries.
    pub fn expire(&mut self, now: Instant) {
        self.seen.expire(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn spec(pw: Option<&str>) -> GroupSpecifier {
        let mut g = GroupSpecifier::new("p").unwrap();
        g.set_posting_enabled(true);
        g.set_posting_password(pw, Some("salt"));
        g
    }

    #[test]
    fn flood_dedupes_and_forwards_to_all_but_sender() {
        let mut a = Posting::new(PostingConfig::default(), PostingAuth::Open);
        let mut b = Posting::new(PostingConfig::default(), PostingAuth::Open);
        let (id, frame) = a.post(t(0), b"hello").unwrap();
        assert_eq!(id, message_id(b"hello"));
        assert_eq!(
            a.post(t(1), b"hello"),
            Err(PostError::Duplicate { message_id: id })
        );
        let n: Vec<PeerId> = (0..20u8).map(|i| PeerId([i; 32])).collect();
        let got = b.on_post(t(2), n[3], &frame, n.iter().copied()).unwrap();
        assert_eq!(got.message_id, id);
        assert_eq!(&got.message[..], b"hello");
        assert_eq!(got.forward.len(), 19);
        assert!(!got.forward.contains(&n[3]));
        assert_eq!(
            b.on_post(t(3), n[4], &frame, n.iter().copied()),
            Err(PostDrop::Duplicate)
        );
        assert_eq!(b.counters().duplicate, 1);
        assert_eq!(b.counters().delivered, 1);
    }

    #[test]
    fn password_proof_is_required_and_checked() {
        let with = spec(Some("secret"));
        let auth = PostingAuth::from_groupspec(&with);
        assert!(matches!(auth, PostingAuth::Authorized { .. }));
        let without: GroupSpecifier = with.groupspec_without_authorizations().parse().unwrap();
        assert_eq!(
            PostingAuth::from_groupspec(&without),
            PostingAuth::Unauthorized
        );
        assert_eq!(PostingAuth::from_groupspec(&spec(None)), PostingAuth::Open);
        // A wrong authorization appended to the spec does not authorize.
        let forged: GroupSpecifier = format!(
            "{}{}",
            with.groupspec_without_authorizations(),
            GroupSpecifier::encode_posting_authorization("guess")
        )
        .parse()
        .unwrap();
        assert_eq!(
            PostingAuth::from_groupspec(&forged),
            PostingAuth::Unauthorized
        );

        let mut poster = Posting::new(PostingConfig::default(), auth.clone());
        let mut verifier = Posting::new(PostingConfig::default(), auth);
        let mut outsider = Posting::new(
            PostingConfig::default(),
            PostingAuth::from_groupspec(&without),
        );
        assert_eq!(outsider.post(t(0), b"x"), Err(PostError::NotAuthorized));
        let (_, good) = poster.post(t(0), b"legit").unwrap();
        let p = PeerId([1; 32]);
        assert!(verifier.on_post(t(1), p, &good, []).is_ok());
        // No proof, and a proof for another message.
        let bare = Bytes::from(vec![POST, 0, b'x']);
        assert_eq!(
            verifier.on_post(t(1), p, &bare, []),
            Err(PostDrop::MissingProof)
        );
        let mut forged = good.to_vec();
        forged.truncate(34);
        forged.extend_from_slice(b"other");
        assert_eq!(
            verifier.on_post(t(1), p, &Bytes::from(forged), []),
            Err(PostDrop::BadProof)
        );
        // The outsider cannot verify; it accepts (default) but not without a proof.
        assert!(outsider.on_post(t(1), p, &good, []).is_ok());
        assert_eq!(
            outsider.on_post(t(1), p, &bare, []),
            Err(PostDrop::MissingProof)
        );
    }

    #[test]
    fn malformed_oversized_and_flood_are_counted() {
        let cfg = PostingConfig {
            max_message_bytes: 10,
            rate: 10,
            burst: 20,
            ..PostingConfig::default()
        };
        let mut p = Posting::new(cfg, PostingAuth::Open);
        let peer = PeerId([9; 32]);
        for bad in [
            &[][..],
            &[POST][..],
            &[0x51, 0][..],
            &[POST, FLAG_PROOF, 1, 2][..],
        ] {
            assert_eq!(
                p.on_post(t(0), peer, &Bytes::copy_from_slice(bad), []),
                Err(PostDrop::Malformed)
            );
        }
        let big = Bytes::from([&[POST, 0][..], &[7u8; 11][..]].concat());
        assert_eq!(p.on_post(t(0), peer, &big, []), Err(PostDrop::TooLarge));
        // A flood of distinct posts within one second: burst (20, 5 used above) then refill.
        let mut ok = 0;
        for i in 0..10_000u32 {
            let f = Bytes::from([&[POST, 0][..], &i.to_be_bytes()[..]].concat());
            if p.on_post(t(u64::from(i) / 10), peer, &f, []).is_ok() {
                ok += 1;
            }
        }
        // 1000 ms elapsed: at most 15 burst + 10 refilled.
        assert!((20..=26).contains(&ok), "{ok}");
        assert!(p.counters().rate_limited > 9000);
        assert_eq!(p.counters().malformed, 4);
        assert_eq!(p.counters().too_large, 1);
    }
}
