//! Crypto profiles (RFC 7016 §2.2.3 leaves cryptography to a profile; RFC 7425 §4 defines Flash's).
//!
//! A [`CryptoProfile`] is one endpoint's identity and keying logic: its certificate, which endpoint
//! discriminators select it, and how session keys are agreed. A [`PacketCipher`] seals and opens
//! single packets: the default cipher during startup, a per-session cipher afterwards.
//!
//! Two profiles ship: [`flash::FlashProfile`] (RFC 7425: AES-128-CBC, checksum, DH groups 2/5/14,
//! HMAC-SHA256 key derivation) and [`plain::PlainProfile`] (same handshake messages and flows, no
//! encryption: for large simulations and fuzzing).
//!
//! Randomness always comes from the caller's RNG: a profile never draws OS randomness.

pub mod cert;
pub mod checksum;
pub mod dh;
pub mod flash;
pub mod plain;

use rand_core::RngCore;

/// Why a crypto operation failed. Received-data failures are counted and the packet dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Ciphertext length is zero or not a multiple of the block size.
    #[error("bad ciphertext length")]
    BadLength,
    /// The checksum (or HMAC) did not verify: wrong key, corruption or forgery.
    #[error("checksum mismatch")]
    Checksum,
    /// A certificate, keying component or public key is malformed or unacceptable.
    #[error("bad keying material: {0}")]
    BadKeying(&'static str),
    /// The far end requires a feature (HMAC, session sequence numbers) this end declines.
    #[error("unsupported negotiation: {0}")]
    Unsupported(&'static str),
    /// Bad local configuration (e.g. no DH group in common, an unknown group requested).
    #[error("configuration: {0}")]
    Config(&'static str),
}

/// Seals and opens packets for one direction pair (RFC 7016 §2.2.3).
///
/// `seal` turns an RTMFP packet (flags, timestamps, chunks) into the bytes that follow the 4-byte
/// scrambled session ID in a datagram; `open` reverses it. Neither sees the session ID field.
pub trait PacketCipher: Send + Sync {
    /// Appends the sealed form of `packet` to `out` (Flash: checksum, 0xFF padding, AES-128-CBC).
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>);

    /// Opens `sealed` (the datagram after its session ID) and returns the RTMFP packet bytes,
    /// with any padding still attached (the chunk parser stops at padding). A cipher that has to
    /// transform the bytes writes them into `out` (cleared first) and returns a slice of it; one
    /// that does not (the plain profile) returns a slice of `sealed` and leaves `out` alone, so
    /// no copy is made. Fails on bad length, bad checksum or wrong key.
    fn open<'a>(&self, sealed: &'a [u8], out: &'a mut Vec<u8>) -> Result<&'a [u8], CryptoError>;

    /// Bytes `seal` adds at most to a packet of `packet_len` bytes (for sizing).
    fn overhead(&self, packet_len: usize) -> usize;
}

/// A session's packet cipher: the plain profile's is kept inline, any other is boxed.
///
/// 16 bytes either way. The plain profile's session cipher is two 4-byte tags; keeping it in
/// the session saves an allocation per session (the simulator holds millions) and a pointer
/// chase per packet. The Flash profile's AES-128-CBC key schedules are boxed.
pub enum SessionCipher {
    /// The plain profile's session cipher ([`plain::PlainSessionCipher`]).
    Plain(plain::PlainSessionCipher),
    /// Any other cipher.
    Boxed(Box<dyn PacketCipher>),
}

impl From<Box<dyn PacketCipher>> for SessionCipher {
    fn from(c: Box<dyn PacketCipher>) -> Self {
        SessionCipher::Boxed(c)
    }
}

impl std::fmt::Debug for SessionCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SessionCipher::Plain(_) => f.write_str("SessionCipher::Plain"),
            SessionCipher::Boxed(_) => f.write_str("SessionCipher::Boxed"),
        }
    }
}

impl PacketCipher for SessionCipher {
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>) {
        match self {
            SessionCipher::Plain(c) => c.seal(packet, out),
            SessionCipher::Boxed(c) => c.seal(packet, out),
        }
    }

    fn open<'a>(&self, sealed: &'a [u8], out: &'a mut Vec<u8>) -> Result<&'a [u8], CryptoError> {
        match self {
            SessionCipher::Plain(c) => c.open(sealed, out),
            SessionCipher::Boxed(c) => c.open(sealed, out),
        }
    }

    fn overhead(&self, packet_len: usize) -> usize {
        match self {
            SessionCipher::Plain(c) => c.overhead(packet_len),
            SessionCipher::Boxed(c) => c.overhead(packet_len),
        }
    }
}

/// What the initiator keeps between IIKeying and RIKeying.
pub trait InitiatorKeying: Send {
    /// The Session Key Initiator Component to put in IIKeying.
    fn skic(&self) -> &[u8];
    /// Completes the key agreement with the responder's component (from RIKeying).
    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError>;
}

/// Bytes of a session nonce: an HMAC-SHA256 output (RFC 7425 §4.6.5).
pub const NONCE_LEN: usize = 32;

/// Keys and nonces of an open session (RFC 7425 §4.6.4, §4.6.5).
pub struct SessionKeys {
    /// Cipher for this session's packets in both directions.
    pub cipher: SessionCipher,
    /// `HMAC-SHA256(sharedSecret, near component)`: this end's nonce (Flash `nearNonce`).
    pub near_nonce: [u8; NONCE_LEN],
    /// `HMAC-SHA256(sharedSecret, far component)`: the far end's nonce (Flash `farNonce`).
    pub far_nonce: [u8; NONCE_LEN],
}

impl std::fmt::Debug for SessionKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionKeys").finish_non_exhaustive()
    }
}

/// Result of the responder's side of keying: the component for RIKeying and the session keys.
#[derive(Debug)]
pub struct ResponderKeying {
    /// Session Key Responder Component to put in RIKeying.
    pub skrc: Vec<u8>,
    /// Keys for the new session.
    pub keys: SessionKeys,
}

/// One endpoint's identity and keying (RFC 7016 §2.2.3 "cryptography profile").
pub trait CryptoProfile: Send {
    /// This endpoint's certificate as sent in RHello and IIKeying.
    fn certificate(&self) -> &[u8];

    /// This endpoint's fingerprint: SHA-256 of the canonical part of its certificate
    /// (RFC 7425 §4.3; Flash's peer ID / `NetConnection.nearID`).
    fn fingerprint(&self) -> [u8; 32];

    /// Cipher for startup packets (Flash: the default key "Adobe Systems 02", RFC 7425 §4.1).
    fn default_cipher(&self) -> &dyn PacketCipher;

    /// Whether an IHello's endpoint discriminator selects this endpoint (RFC 7425 §4.4.3):
    /// a fingerprint option must equal ours; otherwise ancillary data selects us only if our
    /// certificate accepts it; a required hostname must match.
    fn is_selected_by_epd(&self, epd: &[u8]) -> bool;

    /// Whether a responder `certificate` (from RHello) is selected by `epd` (initiator's check,
    /// RFC 7425 §4.4.3). The default applies the Flash EPD rules of [`cert::Epd::selects`].
    fn certificate_selected_by_epd(&self, certificate: &[u8], epd: &[u8]) -> bool {
        cert::certificate_selected_by_epd(certificate, epd)
    }

    /// Starts keying as initiator toward the owner of `responder_certificate`: picks a DH group
    /// both support and builds the SKIC.
    fn initiator_keying(
        &mut self,
        rng: &mut dyn RngCore,
        responder_certificate: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError>;

    /// Responds to IIKeying: validates the initiator's certificate and SKIC, builds the SKRC and
    /// derives the session keys.
    fn responder_keying(
        &mut self,
        rng: &mut dyn RngCore,
        initiator_certificate: &[u8],
        skic: &[u8],
    ) -> Result<ResponderKeying, CryptoError>;

    /// The signature bytes to append to IIKeying and RIKeying (Flash: the single byte 0x58).
    fn signature(&self) -> &[u8] {
        &[0x58]
    }
}

/// Fingerprint (peer ID) of a received `certificate`: SHA-256 of its canonical part, i.e. the
/// options up to and including the first marker, or the whole certificate if it has no marker
/// (RFC 7425 §4.3).
pub fn certificate_fingerprint(certificate: &[u8]) -> [u8; 32] {
    cert::fingerprint(certificate)
}
