//! `GroupSpecifier`: the Flash builder of groupspec strings, their exact text format, parsing, and
//! v1/v2 group IDs (docs/protocol/netgroup.md, "GroupSpecifier API" to "Groupspec parser caveats").
//!
//! A groupspec is `"G:" HEX(core options) "00" HEX(extras) HEX(authorizations)` where each option
//! is `VLU(len) VLU(id) value` (an RTMFP option list, RFC 7016 §2.1.3). The text before the `00`
//! terminator is the group's identity ([`GroupSpecifier::group_txt`]); its SHA-256 (applied twice
//! for version 2) is the group ID sent on the wire ([`GroupSpecifier::group_id`]).
//!
//! [`GroupSpecifier`] stores the options as an ordered list. Builder methods (the Flash API) keep
//! Flash Player's canonical order (`7F`, `00`, `01`, `02`, `03`, `05`, `07`, `0C`, `0D`, `0E`
//! name, `0E` unique tag, `1B`; extras `0A` then `0B`; authorizations `15` then `17`), so a
//! specifier built here prints exactly what `flash.net.GroupSpecifier` prints. A parsed string
//! keeps its options as they came — order, unknown options and non-minimal VLUs included — so it
//! re-prints byte for byte and keeps its group ID (docs/protocol/netgroup.md, "Groupspec string
//! format" "non-canonical spec").

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use rand_core::RngCore;
use rtmfp::wire::vlu;
use sha2::{Digest, Sha256};

use crate::id::PeerId;

/// Option IDs of the groupspec (docs/protocol/netgroup.md, "GroupSpecifier API" to "Groupspec
/// string format").
pub mod option_id {
    /// `routingEnabled` (no value).
    pub const ROUTING: u64 = 0x00;
    /// `multicastEnabled` (no value).
    pub const MULTICAST: u64 = 0x01;
    /// `objectReplicationEnabled` (no value).
    pub const OBJECT_REPLICATION: u64 = 0x02;
    /// `postingEnabled` (no value).
    pub const POSTING: u64 = 0x03;
    /// Publish-password hash (`setPublishPassword`).
    pub const PUBLISH_PASSWORD_HASH: u64 = 0x05;
    /// Posting-password hash (`setPostingPassword`).
    pub const POSTING_PASSWORD_HASH: u64 = 0x07;
    /// Extra: an IP multicast address (`addIPMulticastAddress`).
    pub const IP_MULTICAST_ADDRESS: u64 = 0x0a;
    /// Extra: a bootstrap peer ID (`addBootstrapPeer`).
    pub const BOOTSTRAP_PEER: u64 = 0x0b;
    /// `serverChannelEnabled` (no value).
    pub const SERVER_CHANNEL: u64 = 0x0c;
    /// `peerToPeerDisabled` (no value).
    pub const PEER_TO_PEER_DISABLED: u64 = 0x0d;
    /// The group name (first occurrence) and the `makeUnique` tag (second occurrence).
    pub const NAME: u64 = 0x0e;
    /// Authorization: the plain publish password.
    pub const PUBLISH_AUTHORIZATION: u64 = 0x15;
    /// Authorization: the plain posting password.
    pub const POSTING_AUTHORIZATION: u64 = 0x17;
    /// `ipMulticastMemberUpdatesEnabled` (no value).
    pub const IP_MULTICAST_MEMBER_UPDATES: u64 = 0x1b;
    /// `minGroupspecVersion` (value: VLU version), written only when > 1.
    pub const VERSION: u64 = 0x7f;
}

/// `GroupSpecifier.maxSupportedGroupspecVersion`: the highest groupspec version understood (2;
/// docs/protocol/netgroup.md, "GroupSpecifier API", "Groupspec versions").
pub const MAX_SUPPORTED_GROUPSPEC_VERSION: u32 = 2;

/// Number of random bytes [`GroupSpecifier::make_unique`] draws for the unique tag (Flash calls its
/// native `GetCryptoRandomString(32)`; docs/protocol/netgroup.md, "GroupSpecifier API").
pub const UNIQUE_TAG_LEN: usize = 32;

/// Why a groupspec could not be built or parsed (docs/protocol/netgroup.md, "GroupSpecifier").
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupspecError {
    /// `new GroupSpecifier("")`: Flash throws `ArgumentError("Name can not be empty")`.
    #[error("group name can not be empty")]
    EmptyName,
    /// The text does not start with `G:`.
    #[error("groupspec must start with \"G:\"")]
    MissingPrefix,
    /// The text after `G:` is not an even number of hex digits.
    #[error("groupspec body is not hex")]
    NotHex,
    /// An option's length runs past the end of the groupspec.
    #[error("groupspec option truncated")]
    Truncated,
    /// The core options are not terminated by the `00` byte.
    #[error("groupspec core options lack the 00 terminator")]
    MissingTerminator,
    /// The version option (`7F`) is above `MAX_SUPPORTED_GROUPSPEC_VERSION` (Flash fails too).
    #[error("groupspec version {0} is not supported")]
    UnsupportedVersion(u64),
    /// An IP multicast address string could not be parsed (`addIPMulticastAddress`).
    #[error("invalid IP multicast address {0:?}")]
    InvalidAddress(String),
    /// The SSM source address is not of the same IP family as the group address.
    #[error("source address family differs from the group address family")]
    AddressFamilyMismatch,
}

/// One groupspec option as encoded: `VLU(len) VLU(id) value`, or the marker `00`.
///
/// The encoded bytes are kept verbatim, so parsed options re-encode exactly
/// (docs/protocol/netgroup.md, "Groupspec parser caveats").
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SpecOption {
    encoded: Vec<u8>,
    id: Option<u64>,
    value_offset: usize,
}

impl SpecOption {
    /// An option with the minimal VLU encoding of its length and `id`.
    pub fn new(id: u64, value: &[u8]) -> Self {
        let mut encoded = Vec::with_capacity(value.len() + 4);
        rtmfp::wire::option::write(&mut encoded, id, value);
        let value_offset = encoded.len() - value.len();
        SpecOption {
            encoded,
            id: Some(id),
            value_offset,
        }
    }

    /// Reads one option from the start of `buf`: the option and the bytes consumed.
    ///
    /// Errors: [`GroupspecError::Truncated`] if a VLU or the value runs past `buf`.
    pub fn read(buf: &[u8]) -> Result<(SpecOption, usize), GroupspecError> {
        let (len, n) = vlu::decode(buf).map_err(|_| GroupspecError::Truncated)?;
        let len = usize::try_from(len).map_err(|_| GroupspecError::Truncated)?;
        let end = n.checked_add(len).ok_or(GroupspecError::Truncated)?;
        let body = buf.get(n..end).ok_or(GroupspecError::Truncated)?;
        if body.is_empty() {
            let marker = SpecOption {
                encoded: buf[..end].to_vec(),
                id: None,
                value_offset: end,
            };
            return Ok((marker, end));
        }
        let (id, m) = vlu::decode(body).map_err(|_| GroupspecError::Truncated)?;
        Ok((
            SpecOption {
                encoded: buf[..end].to_vec(),
                id: Some(id),
                value_offset: n + m,
            },
            end,
        ))
    }

    /// The option ID, or `None` for a marker (a zero-length option).
    pub fn id(&self) -> Option<u64> {
        self.id
    }

    /// Whether this is a marker (`00`).
    pub fn is_marker(&self) -> bool {
        self.id.is_none()
    }

    /// The option value (empty for flags and markers).
    pub fn value(&self) -> &[u8] {
        &self.encoded[self.value_offset.min(self.encoded.len())..]
    }

    /// The complete encoding, length prefix included.
    pub fn encoded(&self) -> &[u8] {
        &self.encoded
    }
}

impl fmt::Debug for SpecOption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.id {
            Some(id) => write!(f, "SpecOption({id:#04x}: {})", hex::encode(self.value())),
            None => f.write_str("SpecOption(marker)"),
        }
    }
}

/// A decoded IP multicast extra (option `0A`, docs/protocol/netgroup.md, "Groupspec string
/// format"): group socket address and an optional source-specific-multicast source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IpMulticastAddress {
    /// Multicast group address and UDP port.
    pub group: SocketAddr,
    /// SSM source address, if any (same IP family as `group`).
    pub source: Option<IpAddr>,
}

impl IpMulticastAddress {
    /// The option value: IP (4 or 16 bytes), port (u16 BE), then the source IP without a port.
    pub fn encode_value(&self) -> Vec<u8> {
        let mut v = ip_bytes(self.group.ip());
        v.extend_from_slice(&self.group.port().to_be_bytes());
        if let Some(src) = self.source {
            v.extend_from_slice(&ip_bytes(src));
        }
        v
    }

    /// Decodes an option value of 6, 10 (IPv4 + source), 18 or 34 (IPv6 + source) bytes.
    pub fn decode_value(v: &[u8]) -> Option<Self> {
        let (ip_len, with_src) = match v.len() {
            6 => (4, false),
            10 => (4, true),
            18 => (16, false),
            34 => (16, true),
            _ => return None,
        };
        let ip = ip_from(&v[..ip_len])?;
        let port = u16::from_be_bytes([v[ip_len], v[ip_len + 1]]);
        let source = if with_src {
            Some(ip_from(&v[ip_len + 2..])?)
        } else {
            None
        };
        Some(IpMulticastAddress {
            group: SocketAddr::new(ip, port),
            source,
        })
    }

    /// Parses Flash's `(address, port, source)` arguments of `addIPMulticastAddress`: with
    /// `port == None` the address carries the port (`"224.0.0.254:30000"`,
    /// `"[ff03::ffff]:30000"`); otherwise it must not. IPv4 may be bracketed too.
    ///
    /// Errors: [`GroupspecError::InvalidAddress`], [`GroupspecError::AddressFamilyMismatch`].
    pub fn parse(
        address: &str,
        port: Option<u16>,
        source: Option<&str>,
    ) -> Result<Self, GroupspecError> {
        let bad = || GroupspecError::InvalidAddress(address.to_string());
        let group = match port {
            None => {
                if let Ok(sa) = SocketAddr::from_str(address) {
                    sa
                } else {
                    // "[1.2.3.4]:5"
                    let (host, p) = address.rsplit_once(':').ok_or_else(bad)?;
                    let host = host.trim_start_matches('[').trim_end_matches(']');
                    let ip = IpAddr::from_str(host).map_err(|_| bad())?;
                    SocketAddr::new(ip, p.parse().map_err(|_| bad())?)
                }
            }
            Some(p) => {
                let host = address.trim_start_matches('[').trim_end_matches(']');
                SocketAddr::new(IpAddr::from_str(host).map_err(|_| bad())?, p)
            }
        };
        let source = match source.filter(|s| !s.is_empty()) {
            None => None,
            Some(s) => {
                let host = s.trim_start_matches('[').trim_end_matches(']');
                let ip = IpAddr::from_str(host)
                    .map_err(|_| GroupspecError::InvalidAddress(s.to_string()))?;
                if ip.is_ipv4() != group.is_ipv4() {
                    return Err(GroupspecError::AddressFamilyMismatch);
                }
                Some(ip)
            }
        };
        Ok(IpMulticastAddress { group, source })
    }
}

fn ip_bytes(ip: IpAddr) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => v4.octets().to_vec(),
        IpAddr::V6(v6) => v6.octets().to_vec(),
    }
}

fn ip_from(b: &[u8]) -> Option<IpAddr> {
    match b.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(b).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(b).ok()?)),
        _ => None,
    }
}

/// Flash's `SaltedSHA256`: `SHA-256(pw)` without salt, `salt || SHA-256(salt || pw)` with one
/// (docs/protocol/netgroup.md, "Groupspec string format"). An empty salt counts as no salt, as in
/// Flash.
pub fn password_hash(password: &str, salt: Option<&str>) -> Vec<u8> {
    match salt.filter(|s| !s.is_empty()) {
        None => Sha256::digest(password.as_bytes()).to_vec(),
        Some(salt) => {
            let mut h = Sha256::new();
            h.update(salt.as_bytes());
            h.update(password.as_bytes());
            let mut out = salt.as_bytes().to_vec();
            out.extend_from_slice(&h.finalize());
            out
        }
    }
}

/// Canonical position of a core option (docs/protocol/netgroup.md, "Groupspec string format");
/// `None` for unknown IDs.
fn core_rank(id: Option<u64>) -> Option<u8> {
    use option_id::*;
    Some(match id? {
        VERSION => 0,
        ROUTING => 1,
        MULTICAST => 2,
        OBJECT_REPLICATION => 3,
        POSTING => 4,
        PUBLISH_PASSWORD_HASH => 5,
        POSTING_PASSWORD_HASH => 6,
        SERVER_CHANNEL => 7,
        PEER_TO_PEER_DISABLED => 8,
        NAME => 9, // name; the unique tag is inserted with rank 10
        IP_MULTICAST_MEMBER_UPDATES => 11,
        _ => return None,
    })
}

/// Canonical position of an option after the terminator (extras, then authorizations).
fn tail_rank(id: Option<u64>) -> Option<u8> {
    use option_id::*;
    Some(match id? {
        IP_MULTICAST_ADDRESS => 0,
        BOOTSTRAP_PEER => 1,
        PUBLISH_AUTHORIZATION => 2,
        POSTING_AUTHORIZATION => 3,
        _ => return None,
    })
}

/// Inserts `opt` before the first known option ranked above `rank`.
fn insert_ranked(
    list: &mut Vec<SpecOption>,
    opt: SpecOption,
    rank: u8,
    ranker: fn(Option<u64>) -> Option<u8>,
) {
    let pos = list
        .iter()
        .position(|o| ranker(o.id).is_some_and(|r| r > rank))
        .unwrap_or(list.len());
    list.insert(pos, opt);
}

/// A groupspec: Flash's `flash.net.GroupSpecifier` (docs/protocol/netgroup.md, "GroupSpecifier
/// API") plus a parser for any groupspec string.
///
/// Build with [`GroupSpecifier::new`] and the setters, print with `to_string()` (Flash
/// `toString()`), parse with `str::parse`. Capabilities are read back from the option list.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct GroupSpecifier {
    /// Options before the `00` terminator (part of the identity).
    core: Vec<SpecOption>,
    /// The terminator as encoded (`00`, or a non-minimal zero VLU in a parsed spec).
    terminator: Vec<u8>,
    /// Options after it: extras (`0A`, `0B`), authorizations (`15`, `17`), anything else.
    tail: Vec<SpecOption>,
}

impl GroupSpecifier {
    /// Flash `new GroupSpecifier(name)`: every capability off, peer-to-peer allowed, and
    /// `minGroupspecVersion` 2 (Flash's default for SWF version ≥ 18; docs/protocol/netgroup.md,
    /// "GroupSpecifier API", "Groupspec versions").
    ///
    /// Errors: [`GroupspecError::EmptyName`] for an empty name (Flash's `ArgumentError`).
    pub fn new(name: &str) -> Result<Self, GroupspecError> {
        if name.is_empty() {
            return Err(GroupspecError::EmptyName);
        }
        let mut g = GroupSpecifier {
            core: vec![SpecOption::new(option_id::NAME, name.as_bytes())],
            terminator: vec![0],
            tail: Vec::new(),
        };
        g.set_version_option(2);
        Ok(g)
    }

    /// Parses a groupspec string (`G:` + hex); the same as `s.parse()`. Option lengths are real
    /// VLUs (docs/protocol/netgroup.md, "Groupspec parser caveats"); unknown options and the
    /// original order are kept. Hex may be upper or lower case; it is printed back in lower case,
    /// as Flash writes it.
    ///
    /// Errors: [`GroupspecError::MissingPrefix`], [`GroupspecError::NotHex`],
    /// [`GroupspecError::Truncated`], [`GroupspecError::MissingTerminator`],
    /// [`GroupspecError::UnsupportedVersion`].
    pub fn parse(s: &str) -> Result<Self, GroupspecError> {
        let body = s.strip_prefix("G:").ok_or(GroupspecError::MissingPrefix)?;
        let bytes = hex::decode(body).map_err(|_| GroupspecError::NotHex)?;
        let mut pos = 0;
        let mut core = Vec::new();
        let terminator = loop {
            if pos >= bytes.len() {
                return Err(GroupspecError::MissingTerminator);
            }
            let (opt, n) = SpecOption::read(&bytes[pos..])?;
            pos += n;
            if opt.is_marker() {
                break opt.encoded;
            }
            core.push(opt);
        };
        let mut tail = Vec::new();
        while pos < bytes.len() {
            let (opt, n) = SpecOption::read(&bytes[pos..])?;
            pos += n;
            tail.push(opt);
        }
        let g = GroupSpecifier {
            core,
            terminator,
            tail,
        };
        let v = g.version_value();
        if v > u64::from(MAX_SUPPORTED_GROUPSPEC_VERSION) {
            return Err(GroupspecError::UnsupportedVersion(v));
        }
        Ok(g)
    }

    // ----- option-list helpers -----

    fn core_find(&self, id: u64) -> Option<&SpecOption> {
        self.core.iter().find(|o| o.id == Some(id))
    }

    fn set_core_flag(&mut self, id: u64, on: bool) {
        if on {
            if self.core_find(id).is_none() {
                let rank = core_rank(Some(id)).unwrap_or(u8::MAX);
                insert_ranked(&mut self.core, SpecOption::new(id, &[]), rank, core_rank);
            }
        } else {
            self.core.retain(|o| o.id != Some(id));
        }
    }

    fn set_core_value(&mut self, id: u64, value: Option<&[u8]>) {
        match value {
            None => self.core.retain(|o| o.id != Some(id)),
            Some(v) => {
                let opt = SpecOption::new(id, v);
                if let Some(slot) = self.core.iter_mut().find(|o| o.id == Some(id)) {
                    *slot = opt;
                } else {
                    let rank = core_rank(Some(id)).unwrap_or(u8::MAX);
                    insert_ranked(&mut self.core, opt, rank, core_rank);
                }
            }
        }
    }

    fn set_tail_value(&mut self, id: u64, value: Option<&[u8]>) {
        match value {
            None => self.tail.retain(|o| o.id != Some(id)),
            Some(v) => {
                let opt = SpecOption::new(id, v);
                if let Some(slot) = self.tail.iter_mut().find(|o| o.id == Some(id)) {
                    *slot = opt;
                } else {
                    let rank = tail_rank(Some(id)).unwrap_or(u8::MAX);
                    insert_ranked(&mut self.tail, opt, rank, tail_rank);
                }
            }
        }
    }

    fn push_tail(&mut self, id: u64, value: &[u8]) {
        let rank = tail_rank(Some(id)).unwrap_or(u8::MAX);
        insert_ranked(&mut self.tail, SpecOption::new(id, value), rank, tail_rank);
    }

    fn set_version_option(&mut self, version: u32) {
        if version > 1 {
            let mut v = Vec::new();
            vlu::write(&mut v, u64::from(version));
            self.set_core_value(option_id::VERSION, Some(&v));
        } else {
            self.set_core_value(option_id::VERSION, None);
        }
    }

    fn version_value(&self) -> u64 {
        self.core_find(option_id::VERSION)
            .and_then(|o| vlu::decode(o.value()).ok())
            .map(|(v, _)| v)
            .unwrap_or(1)
    }

    // ----- capabilities (Flash properties) -----

    /// Flash `routingEnabled`: `sendToNearest` / `sendToNeighbor` / `sendToAllNeighbors` allowed
    /// (option `00`; docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn routing_enabled(&self) -> bool {
        self.core_find(option_id::ROUTING).is_some()
    }

    /// Sets Flash `routingEnabled` (option `00`).
    pub fn set_routing_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::ROUTING, on);
    }

    /// Flash `multicastEnabled`: multicast NetStreams in the group (option `01`;
    /// docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn multicast_enabled(&self) -> bool {
        self.core_find(option_id::MULTICAST).is_some()
    }

    /// Sets Flash `multicastEnabled` (option `01`).
    pub fn set_multicast_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::MULTICAST, on);
    }

    /// Flash `objectReplicationEnabled`: have/want object replication (option `02`;
    /// docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn object_replication_enabled(&self) -> bool {
        self.core_find(option_id::OBJECT_REPLICATION).is_some()
    }

    /// Sets Flash `objectReplicationEnabled` (option `02`).
    pub fn set_object_replication_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::OBJECT_REPLICATION, on);
    }

    /// Flash `postingEnabled`: `NetGroup.post()` allowed (option `03`; docs/protocol/netgroup.md,
    /// "GroupSpecifier API").
    pub fn posting_enabled(&self) -> bool {
        self.core_find(option_id::POSTING).is_some()
    }

    /// Sets Flash `postingEnabled` (option `03`).
    pub fn set_posting_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::POSTING, on);
    }

    /// Flash `serverChannelEnabled`: members may open a channel to the server, needed for server
    /// bootstrap (option `0C`; docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn server_channel_enabled(&self) -> bool {
        self.core_find(option_id::SERVER_CHANNEL).is_some()
    }

    /// Sets Flash `serverChannelEnabled` (option `0C`).
    pub fn set_server_channel_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::SERVER_CHANNEL, on);
    }

    /// Flash `peerToPeerDisabled`: no neighbor connections (pure IP-multicast reception;
    /// option `0D`; docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn peer_to_peer_disabled(&self) -> bool {
        self.core_find(option_id::PEER_TO_PEER_DISABLED).is_some()
    }

    /// Sets Flash `peerToPeerDisabled` (option `0D`).
    pub fn set_peer_to_peer_disabled(&mut self, on: bool) {
        self.set_core_flag(option_id::PEER_TO_PEER_DISABLED, on);
    }

    /// Flash `ipMulticastMemberUpdatesEnabled`: membership updates over IP multicast
    /// (option `1B`; docs/protocol/netgroup.md, "GroupSpecifier API", "LAN discovery").
    pub fn ip_multicast_member_updates_enabled(&self) -> bool {
        self.core_find(option_id::IP_MULTICAST_MEMBER_UPDATES)
            .is_some()
    }

    /// Sets Flash `ipMulticastMemberUpdatesEnabled` (option `1B`).
    pub fn set_ip_multicast_member_updates_enabled(&mut self, on: bool) {
        self.set_core_flag(option_id::IP_MULTICAST_MEMBER_UPDATES, on);
    }

    /// Flash `minGroupspecVersion`: 1 when the spec has no `7F` option (docs/protocol/netgroup.md,
    /// "GroupSpecifier API", "Groupspec versions").
    pub fn min_groupspec_version(&self) -> u32 {
        u32::try_from(self.version_value())
            .unwrap_or(u32::MAX)
            .max(1)
    }

    /// Sets Flash `minGroupspecVersion`; values below 1 become 1 (as Flash's `Math.max`). The
    /// `7F` option is written only for versions above 1.
    ///
    /// Errors: [`GroupspecError::UnsupportedVersion`] above `MAX_SUPPORTED_GROUPSPEC_VERSION`.
    pub fn set_min_groupspec_version(&mut self, version: u32) -> Result<(), GroupspecError> {
        if version > MAX_SUPPORTED_GROUPSPEC_VERSION {
            return Err(GroupspecError::UnsupportedVersion(u64::from(version)));
        }
        self.set_version_option(version.max(1));
        Ok(())
    }

    /// The group name given to Flash's constructor (first option `0E`), decoded as UTF-8 with
    /// replacement characters; `None` if a parsed spec has no name.
    pub fn name(&self) -> Option<Cow<'_, str>> {
        self.core_find(option_id::NAME)
            .map(|o| String::from_utf8_lossy(o.value()))
    }

    /// The `makeUnique` tag (second option `0E`), if any.
    pub fn unique_tag(&self) -> Option<&[u8]> {
        self.core
            .iter()
            .filter(|o| o.id == Some(option_id::NAME))
            .nth(1)
            .map(SpecOption::value)
    }

    /// Flash `makeUnique()`: adds (or replaces) a random tag as a second `0E` option, so the group
    /// is distinct from any other with the same name (docs/protocol/netgroup.md, "GroupSpecifier
    /// API"). The tag is the lowercase hex of `UNIQUE_TAG_LEN` bytes drawn from `rng` (Flash's
    /// native tag format is not public).
    pub fn make_unique<R: RngCore + ?Sized>(&mut self, rng: &mut R) {
        let mut raw = [0u8; UNIQUE_TAG_LEN];
        rng.fill_bytes(&mut raw);
        let tag = SpecOption::new(option_id::NAME, hex::encode(raw).as_bytes());
        let names: Vec<usize> = self
            .core
            .iter()
            .enumerate()
            .filter(|(_, o)| o.id == Some(option_id::NAME))
            .map(|(i, _)| i)
            .collect();
        match names.as_slice() {
            [] => insert_ranked(&mut self.core, tag, 10, core_rank),
            [first] => self.core.insert(first + 1, tag),
            [_, second, ..] => self.core[*second] = tag,
        }
    }

    /// Flash `setPublishPassword(password, salt)`: `Some` non-empty password sets the hash
    /// option `05` and the authorization `15`; `None` or `""` clears both
    /// (docs/protocol/netgroup.md, "Groupspec string format").
    pub fn set_publish_password(&mut self, password: Option<&str>, salt: Option<&str>) {
        match password.filter(|p| !p.is_empty()) {
            Some(pw) => {
                self.set_core_value(
                    option_id::PUBLISH_PASSWORD_HASH,
                    Some(&password_hash(pw, salt)),
                );
                self.set_tail_value(option_id::PUBLISH_AUTHORIZATION, Some(pw.as_bytes()));
            }
            None => {
                self.set_core_value(option_id::PUBLISH_PASSWORD_HASH, None);
                self.set_tail_value(option_id::PUBLISH_AUTHORIZATION, None);
            }
        }
    }

    /// Flash `setPostingPassword(password, salt)`: `Some` non-empty password sets the hash
    /// option `07` and the authorization `17`; `None` or `""` clears both
    /// (docs/protocol/netgroup.md, "Groupspec string format").
    pub fn set_posting_password(&mut self, password: Option<&str>, salt: Option<&str>) {
        match password.filter(|p| !p.is_empty()) {
            Some(pw) => {
                self.set_core_value(
                    option_id::POSTING_PASSWORD_HASH,
                    Some(&password_hash(pw, salt)),
                );
                self.set_tail_value(option_id::POSTING_AUTHORIZATION, Some(pw.as_bytes()));
            }
            None => {
                self.set_core_value(option_id::POSTING_PASSWORD_HASH, None);
                self.set_tail_value(option_id::POSTING_AUTHORIZATION, None);
            }
        }
    }

    /// The publish-password hash (option `05` value), if the group has one.
    pub fn publish_password_hash(&self) -> Option<&[u8]> {
        self.core_find(option_id::PUBLISH_PASSWORD_HASH)
            .map(SpecOption::value)
    }

    /// The posting-password hash (option `07` value), if the group has one.
    pub fn posting_password_hash(&self) -> Option<&[u8]> {
        self.core_find(option_id::POSTING_PASSWORD_HASH)
            .map(SpecOption::value)
    }

    /// The plain publish password carried as authorization `15`, if any.
    pub fn publish_authorization(&self) -> Option<&[u8]> {
        self.tail_values(option_id::PUBLISH_AUTHORIZATION).next()
    }

    /// The plain posting password carried as authorization `17`, if any.
    pub fn posting_authorization(&self) -> Option<&[u8]> {
        self.tail_values(option_id::POSTING_AUTHORIZATION).next()
    }

    fn tail_values(&self, id: u64) -> impl Iterator<Item = &[u8]> {
        self.tail
            .iter()
            .filter(move |o| o.id == Some(id))
            .map(SpecOption::value)
    }

    /// Flash `addIPMulticastAddress(address, port, source)`: appends an extra `0A` option
    /// (docs/protocol/netgroup.md, "Groupspec string format", "LAN discovery"). See
    /// [`IpMulticastAddress::parse`] for the accepted forms.
    ///
    /// Errors: [`GroupspecError::InvalidAddress`], [`GroupspecError::AddressFamilyMismatch`].
    pub fn add_ip_multicast_address(
        &mut self,
        address: &str,
        port: Option<u16>,
        source: Option<&str>,
    ) -> Result<(), GroupspecError> {
        let a = IpMulticastAddress::parse(address, port, source)?;
        self.add_ip_multicast(a);
        Ok(())
    }

    /// Appends an already-parsed IP multicast extra (`0A`).
    pub fn add_ip_multicast(&mut self, address: IpMulticastAddress) {
        self.push_tail(option_id::IP_MULTICAST_ADDRESS, &address.encode_value());
    }

    /// The decodable IP multicast extras, in order (undecodable `0A` values are skipped).
    pub fn ip_multicast_addresses(&self) -> Vec<IpMulticastAddress> {
        self.tail_values(option_id::IP_MULTICAST_ADDRESS)
            .filter_map(IpMulticastAddress::decode_value)
            .collect()
    }

    /// Flash `addBootstrapPeer(peerID)`: appends an extra `0B` with the 32-byte peer ID
    /// (docs/protocol/netgroup.md, "GroupSpecifier API"). Parse Flash's 64-hex string with
    /// `str::parse::<PeerId>()`.
    pub fn add_bootstrap_peer(&mut self, peer: &PeerId) {
        self.push_tail(option_id::BOOTSTRAP_PEER, &peer.0);
    }

    /// The bootstrap peers (`0B` extras holding 32 bytes), in order.
    pub fn bootstrap_peers(&self) -> Vec<PeerId> {
        self.tail_values(option_id::BOOTSTRAP_PEER)
            .filter_map(|v| <[u8; 32]>::try_from(v).ok().map(PeerId))
            .collect()
    }

    /// The options before the terminator, in order.
    pub fn core_options(&self) -> &[SpecOption] {
        &self.core
    }

    /// The options after the terminator (extras, authorizations, unknown), in order.
    pub fn tail_options(&self) -> &[SpecOption] {
        &self.tail
    }

    // ----- strings and identity -----

    /// Flash `authorizations()`: the hex of the authorization options (`15` publish, then `17`
    /// posting, as stored), without `G:` (docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn authorizations(&self) -> String {
        let mut out = String::new();
        for o in self.tail.iter().filter(|o| is_authorization(o.id)) {
            out.push_str(&hex::encode(o.encoded()));
        }
        out
    }

    /// Flash `groupspecWithoutAuthorizations()`: core, terminator and extras; what a member can
    /// share without giving away passwords (docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn groupspec_without_authorizations(&self) -> String {
        let mut out = self.group_txt();
        out.push_str(&hex::encode(&self.terminator));
        for o in self.tail.iter().filter(|o| !is_authorization(o.id)) {
            out.push_str(&hex::encode(o.encoded()));
        }
        out
    }

    /// Flash `groupspecWithAuthorizations()` (= `toString()`): the whole spec. For a built
    /// specifier this is without-authorizations + [`Self::authorizations`]; a parsed one prints its
    /// options in their original order.
    pub fn groupspec_with_authorizations(&self) -> String {
        let mut out = self.group_txt();
        out.push_str(&hex::encode(&self.terminator));
        for o in &self.tail {
            out.push_str(&hex::encode(o.encoded()));
        }
        out
    }

    /// `groupTxt`: `"G:"` + hex of the core options, without the `00` terminator — the text
    /// hashed into the group ID and the HMAC key of the group connect key
    /// (docs/protocol/netgroup.md, "Group ID", "Group handshake").
    pub fn group_txt(&self) -> String {
        let mut out = String::from("G:");
        for o in &self.core {
            out.push_str(&hex::encode(o.encoded()));
        }
        out
    }

    /// The group ID: `SHA-256(groupTxt)`, hashed a second time when the version option is 2
    /// (docs/protocol/netgroup.md, "Group ID"). Sent in binary to the server and as hex to peers.
    pub fn group_id(&self) -> [u8; 32] {
        group_id_from_txt(&self.group_txt(), self.version_value() == 2)
    }

    /// Flash static `encodePostingAuthorization(password)`: the hex of option `17`
    /// (docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn encode_posting_authorization(password: &str) -> String {
        hex::encode(SpecOption::new(option_id::POSTING_AUTHORIZATION, password.as_bytes()).encoded)
    }

    /// Flash static `encodePublishAuthorization(password)`: the hex of option `15`
    /// (docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn encode_publish_authorization(password: &str) -> String {
        hex::encode(SpecOption::new(option_id::PUBLISH_AUTHORIZATION, password.as_bytes()).encoded)
    }

    /// Flash static `encodeIPMulticastAddressSpec(address, port, source)`: the hex of one `0A`
    /// extra, to append to a spec (docs/protocol/netgroup.md, "GroupSpecifier API").
    ///
    /// Errors: as [`Self::add_ip_multicast_address`].
    pub fn encode_ip_multicast_address_spec(
        address: &str,
        port: Option<u16>,
        source: Option<&str>,
    ) -> Result<String, GroupspecError> {
        let a = IpMulticastAddress::parse(address, port, source)?;
        Ok(hex::encode(
            SpecOption::new(option_id::IP_MULTICAST_ADDRESS, &a.encode_value()).encoded,
        ))
    }

    /// Flash static `encodeBootstrapPeerIDSpec(peerID)`: the hex of one `0B` extra
    /// (docs/protocol/netgroup.md, "GroupSpecifier API").
    pub fn encode_bootstrap_peer_id_spec(peer: &PeerId) -> String {
        hex::encode(SpecOption::new(option_id::BOOTSTRAP_PEER, &peer.0).encoded)
    }
}

fn is_authorization(id: Option<u64>) -> bool {
    matches!(
        id,
        Some(option_id::PUBLISH_AUTHORIZATION | option_id::POSTING_AUTHORIZATION)
    )
}

/// The group ID of a `groupTxt`: `SHA-256(txt)`, or `SHA-256(SHA-256(txt))` for a version-2
/// spec (docs/protocol/netgroup.md, "Group ID").
pub fn group_id_from_txt(group_txt: &str, v2: bool) -> [u8; 32] {
    let once: [u8; 32] = Sha256::digest(group_txt.as_bytes()).into();
    if v2 {
        Sha256::digest(once).into()
    } else {
        once
    }
}

impl FromStr for GroupSpecifier {
    type Err = GroupspecError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        GroupSpecifier::parse(s)
    }
}

impl fmt::Display for GroupSpecifier {
    /// Flash `toString()`: [`GroupSpecifier::groupspec_with_authorizations`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.groupspec_with_authorizations())
    }
}

impl fmt::Debug for GroupSpecifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupSpecifier({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;

    #[test]
    fn readme_spec_is_built_exactly() {
        let mut g = GroupSpecifier::new("test").unwrap();
        g.set_multicast_enabled(true);
        g.set_posting_enabled(true);
        g.set_server_channel_enabled(true);
        g.set_ip_multicast_member_updates_enabled(true);
        assert_eq!(g.to_string(), "G:027f0201010103010c050e74657374011b00");
        assert_eq!(g.group_txt(), "G:027f0201010103010c050e74657374011b");
        // Setting flags in a different order changes nothing.
        let mut h = GroupSpecifier::new("test").unwrap();
        h.set_ip_multicast_member_updates_enabled(true);
        h.set_server_channel_enabled(true);
        h.set_posting_enabled(true);
        h.set_multicast_enabled(true);
        assert_eq!(g, h);
        h.set_multicast_enabled(false);
        assert!(!h.multicast_enabled());
        assert_eq!(h.to_string(), "G:027f020103010c050e74657374011b00");
    }

    #[test]
    fn empty_name_and_bad_versions_are_errors() {
        assert_eq!(GroupSpecifier::new(""), Err(GroupspecError::EmptyName));
        let mut g = GroupSpecifier::new("x").unwrap();
        assert_eq!(
            g.set_min_groupspec_version(3),
            Err(GroupspecError::UnsupportedVersion(3))
        );
        g.set_min_groupspec_version(0).unwrap();
        assert_eq!(g.min_groupspec_version(), 1);
        assert_eq!(g.to_string(), "G:020e7800");
        assert_eq!(
            GroupSpecifier::parse("G:027f0300"),
            Err(GroupspecError::UnsupportedVersion(3))
        );
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            GroupSpecifier::parse("X:00"),
            Err(GroupspecError::MissingPrefix)
        );
        assert_eq!(GroupSpecifier::parse("G:0"), Err(GroupspecError::NotHex));
        assert_eq!(
            GroupSpecifier::parse("G:010c"),
            Err(GroupspecError::MissingTerminator)
        );
        assert_eq!(
            GroupSpecifier::parse("G:050e74"),
            Err(GroupspecError::Truncated)
        );
        assert_eq!(
            GroupSpecifier::parse("G:00ff"),
            Err(GroupspecError::Truncated)
        );
    }

    #[test]
    fn long_names_use_multi_byte_vlu_lengths() {
        let name = "n".repeat(300);
        let g = GroupSpecifier::new(&name).unwrap();
        let s = g.to_string();
        // len = 1 (id) + 300 = 301 = VLU 82 2d
        assert!(s.starts_with("G:027f02822d0e6e6e"), "{s}");
        let p: GroupSpecifier = s.parse().unwrap();
        assert_eq!(p.name().unwrap(), name);
        assert_eq!(p.group_id(), g.group_id());
    }

    #[test]
    fn unknown_options_and_non_minimal_vlus_survive() {
        // Unknown core option 0x42 with a value, a non-minimal length for the name, an unknown
        // tail option and a marker in the tail.
        let s = "G:027f020342010280030e787900044201020300";
        let g: GroupSpecifier = s.parse().unwrap();
        assert_eq!(g.to_string(), s);
        assert_eq!(g.name().unwrap(), "xy");
        assert_eq!(g.core_options()[1].id(), Some(0x42));
        assert_eq!(g.tail_options().len(), 2);
        assert!(g.tail_options()[1].is_marker());
    }

    #[test]
    fn passwords_extras_and_authorizations() {
        let mut g = GroupSpecifier::new("test").unwrap();
        g.set_posting_password(Some("secret"), None);
        g.add_bootstrap_peer(&PeerId([1; 32]));
        g.add_ip_multicast_address("225.225.0.1:30303", None, None)
            .unwrap();
        g.set_publish_password(Some("pub"), Some("salt"));
        let s = g.to_string();
        let without = g.groupspec_without_authorizations();
        assert_eq!(s, format!("{without}{}", g.authorizations()));
        assert!(g.authorizations().starts_with("0415707562")); // 15 "pub" first
        assert!(without.contains("070ae1e10001765f210b01010101"));
        assert_eq!(g.posting_authorization(), Some(&b"secret"[..]));
        assert_eq!(g.bootstrap_peers(), vec![PeerId([1; 32])]);
        let m = g.ip_multicast_addresses();
        assert_eq!(m[0].group, "225.225.0.1:30303".parse().unwrap());
        // Authorizations are not part of the identity; the hashes are.
        let p: GroupSpecifier = without.parse().unwrap();
        assert_eq!(p.group_id(), g.group_id());
        g.set_posting_password(None, None);
        assert!(g.posting_password_hash().is_none());
        assert!(g.posting_authorization().is_none());
        assert_ne!(p.group_id(), g.group_id());
    }

    #[test]
    fn ip_multicast_forms() {
        let v6 = GroupSpecifier::encode_ip_multicast_address_spec("[ff03::ffff]:30000", None, None)
            .unwrap();
        assert_eq!(v6.len(), 2 * 20);
        let with_port =
            GroupSpecifier::encode_ip_multicast_address_spec("224.0.0.254", Some(30000), None)
                .unwrap();
        let bracketed =
            GroupSpecifier::encode_ip_multicast_address_spec("[224.0.0.254]:30000", None, None)
                .unwrap();
        assert_eq!(with_port, bracketed);
        let ssm = GroupSpecifier::encode_ip_multicast_address_spec(
            "232.1.1.1:5000",
            None,
            Some("10.0.0.1"),
        )
        .unwrap();
        assert_eq!(ssm, "0b0ae80101011388".to_string() + "0a000001");
        assert_eq!(
            GroupSpecifier::encode_ip_multicast_address_spec("232.1.1.1:5000", None, Some("::1")),
            Err(GroupspecError::AddressFamilyMismatch)
        );
        assert!(GroupSpecifier::encode_ip_multicast_address_spec("nope", None, None).is_err());
        let a = IpMulticastAddress::parse("[ff03::1]", Some(9), Some("[fe80::2]")).unwrap();
        assert_eq!(IpMulticastAddress::decode_value(&a.encode_value()), Some(a));
    }

    #[test]
    fn make_unique_adds_a_second_name_option() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let mut g = GroupSpecifier::new("test").unwrap();
        g.set_ip_multicast_member_updates_enabled(true);
        let plain = g.group_id();
        g.make_unique(&mut rng);
        let tag = g.unique_tag().unwrap().to_vec();
        assert_eq!(tag.len(), 2 * UNIQUE_TAG_LEN);
        assert_ne!(g.group_id(), plain);
        // name, then tag, then 1B
        let ids: Vec<_> = g.core_options().iter().map(|o| o.id().unwrap()).collect();
        assert_eq!(ids, [0x7f, 0x0e, 0x0e, 0x1b]);
        g.make_unique(&mut rng);
        assert_ne!(g.unique_tag().unwrap(), &tag[..]);
        assert_eq!(g.core_options().len(), 4);
        let p: GroupSpecifier = g.to_string().parse().unwrap();
        assert_eq!(p.unique_tag(), g.unique_tag());
        assert_eq!(p.name().unwrap(), "test");
    }
}
