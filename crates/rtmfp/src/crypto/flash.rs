//! The Flash cryptography profile (RFC 7425 §4; docs/protocol/session.md, "Flash packet
//! encryption", "Certificates" to "Key derivation"; byte layouts per docs/protocol/interop.md,
//! "Compatibility checklist").
//!
//! - [`FlashCipher`]: AES-128-CBC packet cipher with the checksum framing.
//! - [`FlashProfile`]: certificate, EPD selection and Diffie-Hellman keying. A profile is either
//!   *static* (Flash Player / client / P2P peer: one static DH key per group in the certificate,
//!   which makes the peer ID stable) or *ephemeral* (server: the certificate lists supported groups
//!   and a fresh key is generated per session).
//!
//! HMAC and session-sequence-number modes are parsed but always declined (docs/protocol/session.md,
//! "Session key components"): this end answers "never", and fails with [`CryptoError::Unsupported`]
//! if the far end insists.

mod cipher;
mod keying;

use std::sync::Arc;

use rand_core::RngCore;

pub use self::cipher::{padding_len, FlashCipher};
pub use self::keying::{
    derive_keys, hmac_sha256, DerivedKeys, KeyingComponent, Negotiation, KEYING_DH_GROUP_SELECT,
    KEYING_EPHEMERAL_DH_PUBLIC_KEY, KEYING_EXTRA_RANDOMNESS, KEYING_HMAC_NEGOTIATION,
    KEYING_SSEQ_NEGOTIATION, MAX_HMAC_LENGTH, MIN_HMAC_LENGTH, NEGOTIATE_REQ, NEGOTIATE_SND,
    NEGOTIATE_SOR,
};
use super::cert::{self, Certificate, Epd};
use super::dh::{self, DhGroup, DhKeyPair};
use super::{
    CryptoError, CryptoProfile, InitiatorKeying, PacketCipher, ResponderKeying, SessionKeys,
};
use crate::wire::{option, vlu};

/// Bytes of extra randomness in server certificates and keying components (64 in Flash and
/// zenomt: the SHA-256 block size).
const EXTRA_RANDOMNESS_LEN: usize = 64;

/// How a [`FlashProfile`] is set up (RFC 7425 §4.3; docs/protocol/session.md, "Certificates").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlashConfig {
    /// DH groups this end supports, most preferred first. As initiator, the first one the
    /// responder also supports is selected. A static profile has one static key per group, so
    /// keep this to `[Modp1024]` for clients that talk to MonaServer2/librtmfp/Cumulus.
    pub groups: Vec<DhGroup>,
    /// `true`: ephemeral DH (server style, certificate with 0x15 options and randomness);
    /// `false`: static DH keys in the certificate (client and P2P peer style).
    pub ephemeral: bool,
    /// Put the accepts-ancillary-data option (0x0a) in the certificate so URL EPDs select us
    /// (servers). Breaks MonaServer2 and librtmfp if set on a static (client) certificate.
    pub accepts_ancillary_data: bool,
    /// Hostname option (0x00) for the certificate, matched against EPD required-hostname options.
    pub hostname: Option<Vec<u8>>,
}

impl FlashConfig {
    /// Flash Player client / P2P peer: static group-2 key, certificate `81 02 1d 02 <128 bytes>`.
    pub fn client() -> Self {
        FlashConfig {
            groups: vec![DhGroup::Modp1024],
            ephemeral: false,
            accepts_ancillary_data: false,
            hostname: None,
        }
    }

    /// FMS/Cirrus-style server: ephemeral groups 2, 5, 14 (group 2 preferred) and accepts
    /// ancillary data; certificate `01 0a | 41 0e <64> | 02 15 02 | 02 15 05 | 02 15 0e`.
    pub fn server() -> Self {
        FlashConfig {
            groups: vec![DhGroup::Modp1024, DhGroup::Modp1536, DhGroup::Modp2048],
            ephemeral: true,
            accepts_ancillary_data: true,
            hostname: None,
        }
    }
}

/// The Flash cryptography profile of one endpoint (RFC 7425 §4).
pub struct FlashProfile {
    config: FlashConfig,
    certificate: Vec<u8>,
    fingerprint: [u8; 32],
    /// One per group of a static profile, in `config.groups` order; empty when ephemeral.
    static_keys: Vec<Arc<DhKeyPair>>,
    default_cipher: FlashCipher,
}

impl std::fmt::Debug for FlashProfile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlashProfile")
            .field("config", &self.config)
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

impl FlashProfile {
    /// A Flash Player-style client/peer identity with a fresh static group-2 key from `rng`
    /// (certificate `81 02 1d 02 <128-byte key>`, 132 bytes; docs/protocol/interop.md,
    /// "Compatibility checklist" item 3).
    pub fn client(rng: &mut dyn RngCore) -> Self {
        Self::build(rng, FlashConfig::client(), Vec::new())
    }

    /// A Cirrus/MonaServer2-style server identity (77-byte ephemeral certificate with 64 random
    /// bytes from `rng`; docs/protocol/interop.md, "Compatibility checklist" item 9).
    pub fn server(rng: &mut dyn RngCore) -> Self {
        Self::build(rng, FlashConfig::server(), Vec::new())
    }

    /// A profile set up by `config`; a static one gets a fresh static key per group from `rng`.
    ///
    /// Errors: [`CryptoError::Config`] if `config.groups` is empty or repeats a group.
    pub fn new(rng: &mut dyn RngCore, config: FlashConfig) -> Result<Self, CryptoError> {
        check_groups(&config.groups)?;
        Ok(Self::build(rng, config, Vec::new()))
    }

    /// A static profile using existing static keys (e.g. loaded from an identity file, so the peer
    /// ID survives restarts). `config.groups` is replaced by the keys' groups, in order.
    ///
    /// Errors: [`CryptoError::Config`] if `config.ephemeral` is set, `keys` is empty or two keys
    /// share a group.
    pub fn with_static_keys(
        mut config: FlashConfig,
        keys: Vec<DhKeyPair>,
    ) -> Result<Self, CryptoError> {
        if config.ephemeral {
            return Err(CryptoError::Config(
                "static keys given to an ephemeral profile",
            ));
        }
        config.groups = keys.iter().map(DhKeyPair::group).collect();
        check_groups(&config.groups)?;
        let keys = keys.into_iter().map(Arc::new).collect();
        // A static certificate draws no randomness.
        Ok(Self::build(&mut NoRng, config, keys))
    }

    /// A Flash Player-style client/peer from a stored static private exponent (big-endian bytes,
    /// as returned by [`Self::static_private_key`]); same certificate, so same peer ID, as before.
    ///
    /// Errors: [`CryptoError::BadKeying`] if the exponent is out of range for `group`.
    pub fn from_static_private_key(
        group: DhGroup,
        private_exponent: &[u8],
    ) -> Result<Self, CryptoError> {
        let key = DhKeyPair::from_private_bytes(group, private_exponent)?;
        Self::with_static_keys(FlashConfig::client(), vec![key])
    }

    /// The preferred static key's group and private exponent (minimal big-endian) for an identity
    /// file; `None` for an ephemeral profile. Keep it secret.
    pub fn static_private_key(&self) -> Option<(DhGroup, Vec<u8>)> {
        self.static_keys
            .first()
            .map(|k| (k.group(), k.private_bytes()))
    }

    /// The static keys of a static profile, in certificate order (empty when ephemeral).
    pub fn static_keys(&self) -> impl Iterator<Item = &DhKeyPair> {
        self.static_keys.iter().map(|k| &**k)
    }

    /// The configuration this profile was built with.
    pub fn config(&self) -> &FlashConfig {
        &self.config
    }

    fn build(
        rng: &mut dyn RngCore,
        config: FlashConfig,
        mut static_keys: Vec<Arc<DhKeyPair>>,
    ) -> Self {
        if !config.ephemeral && static_keys.is_empty() {
            static_keys = config
                .groups
                .iter()
                .map(|&g| Arc::new(DhKeyPair::generate(g, rng)))
                .collect();
        }
        let mut certificate = Vec::new();
        if let Some(h) = &config.hostname {
            option::write(&mut certificate, cert::CERT_HOSTNAME, h);
        }
        if config.accepts_ancillary_data {
            option::write(&mut certificate, cert::CERT_ACCEPTS_ANCILLARY_DATA, &[]);
        }
        if config.ephemeral {
            let mut random = [0u8; EXTRA_RANDOMNESS_LEN];
            rng.fill_bytes(&mut random);
            option::write(&mut certificate, cert::CERT_EXTRA_RANDOMNESS, &random);
            for g in &config.groups {
                let mut value = Vec::new();
                vlu::write(&mut value, g.id());
                option::write(
                    &mut certificate,
                    cert::CERT_SUPPORTED_EPHEMERAL_GROUP,
                    &value,
                );
            }
        } else {
            for k in &static_keys {
                let value = group_and_key(k.group(), &k.public_key_padded());
                option::write(&mut certificate, cert::CERT_STATIC_DH_PUBLIC_KEY, &value);
            }
        }
        let fingerprint = cert::fingerprint(&certificate);
        FlashProfile {
            config,
            certificate,
            fingerprint,
            static_keys,
            default_cipher: FlashCipher::default_key(),
        }
    }

    fn static_key(&self, group: DhGroup) -> Option<&Arc<DhKeyPair>> {
        self.static_keys.iter().find(|k| k.group() == group)
    }

    /// Our certificate's selection-relevant options, for [`Epd::selects`].
    fn own_certificate_view(&self) -> Certificate<'_> {
        Certificate {
            hostname: self.config.hostname.as_deref(),
            accepts_ancillary_data: self.config.accepts_ancillary_data,
            ..Certificate::default()
        }
    }
}

/// Rejects an empty or repeating group list.
fn check_groups(groups: &[DhGroup]) -> Result<(), CryptoError> {
    if groups.is_empty() {
        return Err(CryptoError::Config("no DH group configured"));
    }
    for (i, g) in groups.iter().enumerate() {
        if groups[..i].contains(g) {
            return Err(CryptoError::Config("DH group listed twice"));
        }
    }
    Ok(())
}

/// `groupID:VLU | key`, the value of options 0x1d (certificate) and 0x0d (component).
fn group_and_key(group: DhGroup, key: &[u8]) -> Vec<u8> {
    let mut value = Vec::with_capacity(key.len() + 1);
    vlu::write(&mut value, group.id());
    value.extend_from_slice(key);
    value
}

/// Appends an extra-randomness option with 64 bytes from `rng`.
fn write_randomness(rng: &mut dyn RngCore, out: &mut Vec<u8>) {
    let mut random = [0u8; EXTRA_RANDOMNESS_LEN];
    rng.fill_bytes(&mut random);
    option::write(out, KEYING_EXTRA_RANDOMNESS, &random);
}

/// Builds [`SessionKeys`] from a shared secret and the two components.
fn session_keys(secret: &[u8], near: &[u8], far: &[u8]) -> SessionKeys {
    let k = derive_keys(secret, near, far);
    SessionKeys {
        cipher: super::SessionCipher::Boxed(Box::new(FlashCipher::new(
            k.encrypt_key,
            k.decrypt_key,
        ))),
        near_nonce: k.near_nonce,
        far_nonce: k.far_nonce,
    }
}

/// An RNG that is never expected to be called (static certificates draw no randomness); yields
/// zeros if it is.
struct NoRng;

impl RngCore for NoRng {
    fn next_u32(&mut self) -> u32 {
        0
    }
    fn next_u64(&mut self) -> u64 {
        0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(0);
        Ok(())
    }
}

/// Initiator state between IIKeying and RIKeying (RFC 7425 §4.6.3).
struct FlashInitiator {
    group: DhGroup,
    skic: Vec<u8>,
    key: Arc<DhKeyPair>,
    /// Already known when the responder's certificate holds a static key for `group`.
    secret: Option<Vec<u8>>,
}

impl InitiatorKeying for FlashInitiator {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    /// Errors: [`CryptoError::BadKeying`] on a malformed SKRC or one without a usable key for the
    /// selected group (cf. vectors `rtmfpcpp-mona-group14-fail`); [`CryptoError::Unsupported`] if
    /// the responder insists on HMAC or session sequence numbers.
    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        let component = KeyingComponent::parse(skrc)?;
        component.check_declined()?;
        let secret = match self.secret {
            Some(s) => s,
            None => {
                let far =
                    component
                        .ephemeral_key(self.group.id())
                        .ok_or(CryptoError::BadKeying(
                            "responder component has no key for the selected DH group",
                        ))?;
                self.key.shared_secret(far)?
            }
        };
        Ok(session_keys(&secret, &self.skic, skrc))
    }
}

impl CryptoProfile for FlashProfile {
    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    fn default_cipher(&self) -> &dyn PacketCipher {
        &self.default_cipher
    }

    fn is_selected_by_epd(&self, epd: &[u8]) -> bool {
        Epd::parse(epd).is_ok_and(|e| e.selects(&self.fingerprint, &self.own_certificate_view()))
    }

    /// Selects the first of our groups the responder supports and builds the SKIC:
    /// static `02 1d 02 | 41 0e <64> | 03 1a 02 0a | 02 1e 02` (76 bytes for group 2), or
    /// ephemeral `81 02 0d 02 <128-byte key> | 41 0e <64> | 03 1a 02 0a | 02 1e 02`.
    ///
    /// Errors: [`CryptoError::BadKeying`] on a malformed certificate or bad static key;
    /// [`CryptoError::Config`] if no DH group is in common.
    fn initiator_keying(
        &mut self,
        rng: &mut dyn RngCore,
        responder_certificate: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        let far = Certificate::parse(responder_certificate)?;
        let group = self
            .config
            .groups
            .iter()
            .copied()
            .find(|g| far.supports_group(g.id()))
            .ok_or(CryptoError::Config(
                "no DH group in common with the responder",
            ))?;
        let mut skic = Vec::with_capacity(80 + group.byte_len());
        let key = match self.static_key(group) {
            Some(k) => {
                let mut value = Vec::new();
                vlu::write(&mut value, group.id());
                option::write(&mut skic, KEYING_DH_GROUP_SELECT, &value);
                k.clone()
            }
            None => {
                let k = DhKeyPair::generate(group, rng);
                let value = group_and_key(group, &k.public_key_padded());
                option::write(&mut skic, KEYING_EPHEMERAL_DH_PUBLIC_KEY, &value);
                Arc::new(k)
            }
        };
        write_randomness(rng, &mut skic);
        keying::write_initiator_negotiation(&mut skic);
        let secret = match far.static_key(group.id()) {
            Some(far_key) => Some(key.shared_secret(far_key)?),
            None => None,
        };
        Ok(Box::new(FlashInitiator {
            group,
            skic,
            key,
            secret,
        }))
    }

    /// Builds the SKRC, `03 1a 00 00 | 02 1e 00` then either `41 0e <64>` when we answer with our
    /// static key (73 bytes) or `81 02 0d 02 <128-byte ephemeral key>` (139 bytes for group 2), and
    /// derives the keys. The far key is the initiator's static key for the group it selected (0x1d)
    /// or its ephemeral key (0x0d); ours is our static key for that group, else a fresh ephemeral.
    ///
    /// Errors: [`CryptoError::BadKeying`] on a malformed certificate or SKIC, a missing or invalid
    /// far key; [`CryptoError::Unsupported`] if the initiator insists on HMAC or session sequence
    /// numbers, or selects a group we do not support.
    fn responder_keying(
        &mut self,
        rng: &mut dyn RngCore,
        initiator_certificate: &[u8],
        skic: &[u8],
    ) -> Result<ResponderKeying, CryptoError> {
        let component = KeyingComponent::parse(skic)?;
        component.check_declined()?;
        let far_cert = Certificate::parse(initiator_certificate)?;
        let (group_id, far_key) = if let Some(g) = component.group_select {
            let key = far_cert.static_key(g).ok_or(CryptoError::BadKeying(
                "initiator selected a static key its certificate lacks",
            ))?;
            (g, key)
        } else {
            component
                .ephemeral_keys
                .iter()
                .copied()
                .find(|(g, _)| self.supports(*g))
                .or_else(|| component.ephemeral_keys.first().copied())
                .ok_or(CryptoError::BadKeying(
                    "initiator component carries no DH key",
                ))?
        };
        let group = DhGroup::from_id(group_id)
            .filter(|g| self.config.groups.contains(g))
            .ok_or(CryptoError::Unsupported("DH group"))?;
        // Cheap checks before any modular exponentiation.
        dh::validate_public_key_bytes(group, far_key)?;
        let mut skrc = Vec::with_capacity(12 + group.byte_len());
        keying::write_responder_negotiation(&mut skrc);
        let secret = match self.static_key(group) {
            Some(k) => {
                let secret = k.shared_secret(far_key)?;
                write_randomness(rng, &mut skrc);
                secret
            }
            None => {
                let k = DhKeyPair::generate(group, rng);
                let secret = k.shared_secret(far_key)?;
                let value = group_and_key(group, &k.public_key_padded());
                option::write(&mut skrc, KEYING_EPHEMERAL_DH_PUBLIC_KEY, &value);
                secret
            }
        };
        let keys = session_keys(&secret, &skrc, skic);
        Ok(ResponderKeying { skrc, keys })
    }
}

impl FlashProfile {
    fn supports(&self, group_id: u64) -> bool {
        DhGroup::from_id(group_id).is_some_and(|g| self.config.groups.contains(&g))
    }
}

#[cfg(test)]
mod tests;
