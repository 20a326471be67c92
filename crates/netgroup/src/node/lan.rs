//! LAN discovery for groups with IP multicast member updates (docs/protocol/netgroup.md, "LAN
//! discovery"): members of a group whose spec names IP multicast addresses
//! (`addIPMulticastAddress`) and enables `ipMulticastMemberUpdatesEnabled` announce themselves on
//! those addresses; a member that hears an announcement records the sender as a member hint at the
//! datagram's source address and, while it has fewer neighbours than it wants, connects at once. No
//! server is needed.
//!
//! Flash's LAN announcement format is unknown (docs/protocol/netgroup.md, "LAN discovery"
//! \[UNKNOWN\]); ours is documented in `docs/wire-netgroup.md` ("LAN announcement"). The
//! announcement proves knowledge of the full `groupTxt` with an HMAC, so a listener on the LAN
//! learns neither the group ID nor can forge announcements for the group; a replayed announcement
//! only makes members try a handshake that fails without the group key.
//!
//! Sans-IO: announcements leave as ordinary [`rtmfp::Transmit`]s to the multicast address
//! (the driver sends them from the node's RTMFP socket, so their source address is where the
//! node answers); the driver feeds datagrams received on the multicast sockets into
//! [`crate::node::GroupNode::handle_lan_datagram`].

use std::net::SocketAddr;
use std::time::Duration;

use rtmfp::Instant;

use crate::groupspec::GroupSpecifier;
use crate::id::PeerId;

/// First four bytes of every announcement: `"NGL"` and the format version 1.
pub const LAN_MAGIC: [u8; 4] = *b"NGL\x01";

/// Length of an announcement: magic, peer ID, tag.
pub const LAN_ANNOUNCEMENT_LEN: usize = 4 + 32 + 32;

/// A decoded LAN announcement (docs/wire-netgroup.md, "LAN announcement").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LanAnnouncement {
    /// The announcing member.
    pub peer_id: PeerId,
    /// `HMAC-SHA256(key = groupTxt, msg = magic || peer ID)`.
    pub tag: [u8; 32],
}

/// Why a LAN datagram was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LanDecodeError {
    /// Shorter than [`LAN_ANNOUNCEMENT_LEN`].
    #[error("LAN announcement truncated")]
    Truncated,
    /// The first four bytes are not [`LAN_MAGIC`].
    #[error("not a LAN announcement (magic)")]
    BadMagic,
}

impl LanAnnouncement {
    /// The announcement of `peer_id` for the group whose `groupTxt` is `group_txt`.
    pub fn new(group_txt: &str, peer_id: PeerId) -> Self {
        LanAnnouncement {
            peer_id,
            tag: lan_tag(group_txt, &peer_id),
        }
    }

    /// Encodes to [`LAN_ANNOUNCEMENT_LEN`] bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(LAN_ANNOUNCEMENT_LEN);
        v.extend_from_slice(&LAN_MAGIC);
        v.extend_from_slice(&self.peer_id.0);
        v.extend_from_slice(&self.tag);
        v
    }

    /// Decodes an announcement; trailing bytes are ignored (room for later versions).
    ///
    /// Errors: [`LanDecodeError`].
    pub fn decode(buf: &[u8]) -> Result<Self, LanDecodeError> {
        if buf.len() < LAN_ANNOUNCEMENT_LEN {
            return Err(LanDecodeError::Truncated);
        }
        if buf[..4] != LAN_MAGIC {
            return Err(LanDecodeError::BadMagic);
        }
        let mut peer = [0u8; 32];
        peer.copy_from_slice(&buf[4..36]);
        let mut tag = [0u8; 32];
        tag.copy_from_slice(&buf[36..68]);
        Ok(LanAnnouncement {
            peer_id: PeerId(peer),
            tag,
        })
    }

    /// Whether the tag proves knowledge of `group_txt` (constant-time compare).
    pub fn is_for(&self, group_txt: &str) -> bool {
        crate::keys::keys_match(&self.tag, &lan_tag(group_txt, &self.peer_id))
    }
}

fn lan_tag(group_txt: &str, peer: &PeerId) -> [u8; 32] {
    crate::keys::hmac(group_txt.as_bytes(), &[&LAN_MAGIC, &peer.0])
}

/// LAN counters of one node.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LanCounters {
    /// Announcements queued for sending (one per multicast address per period).
    pub announcements_sent: u64,
    /// Announcements accepted (tag valid for one of our LAN groups, not our own).
    pub announcements_accepted: u64,
    /// Our own announcements heard back (multicast loopback).
    pub own_heard: u64,
    /// Datagrams that were not announcements (short, wrong magic).
    pub malformed: u64,
    /// Well-formed announcements for no group of ours (or a forged tag).
    pub unknown_group: u64,
    /// Announcements not queued because the outgoing queue was full.
    pub queue_full: u64,
    /// Peer connections started at once on hearing an announcement (the group had fewer
    /// neighbours than it aims for).
    pub connects: u64,
}

/// The announcing side of one group.
#[derive(Debug, Clone)]
pub(crate) struct LanAnnouncer {
    /// The multicast group addresses from the spec's `0A` extras.
    pub targets: Vec<SocketAddr>,
    /// `groupTxt`: the HMAC key of the tags.
    pub group_txt: String,
    /// When the next announcement is due.
    pub next: Instant,
}

impl LanAnnouncer {
    /// The announcer for `spec`, if it enables IP multicast member updates and names at least
    /// one multicast address; the first announcement is due at `now`.
    pub fn for_spec(spec: &GroupSpecifier, now: Instant) -> Option<Self> {
        if !spec.ip_multicast_member_updates_enabled() {
            return None;
        }
        let targets: Vec<SocketAddr> = spec
            .ip_multicast_addresses()
            .into_iter()
            .map(|a| a.group)
            .filter(|a| a.ip().is_multicast() && a.port() != 0)
            .collect();
        if targets.is_empty() {
            return None;
        }
        Some(LanAnnouncer {
            targets,
            group_txt: spec.group_txt(),
            next: now,
        })
    }

    /// If an announcement is due at `now`: the datagrams to send, and the next due time
    /// `period` later.
    pub fn due(
        &mut self,
        now: Instant,
        period: Duration,
        own: PeerId,
    ) -> Option<Vec<(SocketAddr, Vec<u8>)>> {
        if self.next > now {
            return None;
        }
        self.next = now + period.max(Duration::from_millis(10));
        let bytes = LanAnnouncement::new(&self.group_txt, own).encode();
        Some(self.targets.iter().map(|t| (*t, bytes.clone())).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GroupSpecifier {
        let mut s = GroupSpecifier::new("lan").unwrap();
        s.set_posting_enabled(true);
        s.set_ip_multicast_member_updates_enabled(true);
        s.add_ip_multicast_address("224.0.0.254:30000", None, None)
            .unwrap();
        s
    }

    #[test]
    fn round_trip_and_tag_binds_group_and_peer() {
        let s = spec();
        let a = LanAnnouncement::new(&s.group_txt(), PeerId([7; 32]));
        let bytes = a.encode();
        assert_eq!(bytes.len(), LAN_ANNOUNCEMENT_LEN);
        let d = LanAnnouncement::decode(&bytes).unwrap();
        assert_eq!(d, a);
        assert!(d.is_for(&s.group_txt()));
        let other = GroupSpecifier::new("other").unwrap();
        assert!(!d.is_for(&other.group_txt()));
        // Claiming another peer ID with the same tag fails.
        let mut forged = bytes.clone();
        forged[4] ^= 1;
        assert!(!LanAnnouncement::decode(&forged)
            .unwrap()
            .is_for(&s.group_txt()));
    }

    #[test]
    fn bad_input_is_rejected() {
        assert_eq!(
            LanAnnouncement::decode(&[0; 10]),
            Err(LanDecodeError::Truncated)
        );
        let mut b = LanAnnouncement::new("x", PeerId([1; 32])).encode();
        b[0] = b'X';
        assert_eq!(LanAnnouncement::decode(&b), Err(LanDecodeError::BadMagic));
        b[0] = b'N';
        b.extend_from_slice(b"future");
        assert!(LanAnnouncement::decode(&b).is_ok());
    }

    #[test]
    fn announcer_needs_updates_flag_and_address() {
        let mut s = spec();
        let now = Instant::ZERO;
        let mut a = LanAnnouncer::for_spec(&s, now).expect("LAN group");
        let out = a.due(now, Duration::from_secs(5), PeerId([2; 32])).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, "224.0.0.254:30000".parse().unwrap());
        assert!(a
            .due(
                now + Duration::from_secs(1),
                Duration::from_secs(5),
                PeerId([2; 32])
            )
            .is_none());
        assert!(a
            .due(
                now + Duration::from_secs(5),
                Duration::from_secs(5),
                PeerId([2; 32])
            )
            .is_some());
        s.set_ip_multicast_member_updates_enabled(false);
        assert!(LanAnnouncer::for_spec(&s, now).is_none());
        let mut plain = GroupSpecifier::new("lan").unwrap();
        plain.set_ip_multicast_member_updates_enabled(true);
        assert!(LanAnnouncer::for_spec(&plain, now).is_none());
    }
}
