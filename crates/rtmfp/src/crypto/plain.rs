//! A profile without encryption, for large simulations and fuzzing: the same handshake messages,
//! certificates, EPD rules ([`super::cert`]) and flows as the Flash profile, but packets travel in
//! clear and keying is a random-nonce exchange. Not interoperable with Flash peers and offers no
//! security. (RFC 7016 §2.2.3 leaves the profile open; zenomt's `PlainCryptoAdapter` is similar.)

use rand_core::RngCore;

use super::cert::{self, Certificate, Epd};
use super::flash::hmac_sha256;
use super::{
    CryptoError, CryptoProfile, InitiatorKeying, PacketCipher, ResponderKeying, SessionKeys,
};
use crate::wire::option::{self, OptionIter};

/// Random bytes in the certificate and in each keying component.
const RANDOMNESS_LEN: usize = 32;

/// Option type used for the randomness (the certificate/keying "extra randomness" type, 0x0e).
const EXTRA_RANDOMNESS: u64 = 0x0e;

/// Bytes of the session tag a session's plain cipher appends to each packet.
pub const SESSION_TAG_LEN: usize = 4;

/// Clear-text "cipher". The default cipher (startup packets, session ID 0) passes packets
/// unchanged. A session's cipher ([`PlainSessionCipher`]) appends a 4-byte tag derived from the
/// session's keying and checks the far end's tag on `open`, so that a packet of another session
/// that happens to carry the same session ID (a restarted peer at the same address whose new
/// session reused the old one's ID) is rejected, as a wrong key fails the Flash profile's
/// checksum. It authenticates nothing: anyone on the path can read the tag.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainCipher {
    tags: Option<PlainSessionCipher>,
}

/// The plain profile's session cipher: the tag this end appends and the tag it expects from
/// the far end (8 bytes, kept inline in the session: [`super::SessionCipher::Plain`]).
#[derive(Debug, Clone, Copy)]
pub struct PlainSessionCipher {
    send: [u8; SESSION_TAG_LEN],
    recv: [u8; SESSION_TAG_LEN],
}

impl PacketCipher for PlainSessionCipher {
    /// Appends `packet`, then the session tag, to `out`.
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(packet);
        out.extend_from_slice(&self.send);
    }

    /// Returns `sealed` less the session tag, without copying (`out` is not used).
    ///
    /// Errors: [`CryptoError::BadLength`] if nothing is left once the tag is removed;
    /// [`CryptoError::Checksum`] if the tag is not the far end's.
    fn open<'a>(&self, sealed: &'a [u8], _out: &'a mut Vec<u8>) -> Result<&'a [u8], CryptoError> {
        let Some(cut) = sealed.len().checked_sub(SESSION_TAG_LEN) else {
            return Err(CryptoError::BadLength);
        };
        if sealed[cut..] != self.recv {
            return Err(CryptoError::Checksum);
        }
        if cut == 0 {
            return Err(CryptoError::BadLength);
        }
        Ok(&sealed[..cut])
    }

    /// [`SESSION_TAG_LEN`].
    fn overhead(&self, _packet_len: usize) -> usize {
        SESSION_TAG_LEN
    }
}

impl PacketCipher for PlainCipher {
    /// Appends `packet`, then the session tag (session ciphers only), to `out`.
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>) {
        match &self.tags {
            Some(t) => t.seal(packet, out),
            None => out.extend_from_slice(packet),
        }
    }

    /// Returns `sealed` less the session tag, without copying (`out` is not used).
    ///
    /// Errors: [`CryptoError::BadLength`] if nothing is left once the tag is removed;
    /// [`CryptoError::Checksum`] if the tag is not the far end's.
    fn open<'a>(&self, sealed: &'a [u8], out: &'a mut Vec<u8>) -> Result<&'a [u8], CryptoError> {
        match &self.tags {
            Some(t) => t.open(sealed, out),
            None if sealed.is_empty() => Err(CryptoError::BadLength),
            None => Ok(sealed),
        }
    }

    /// [`SESSION_TAG_LEN`] for a session's cipher, 0 for the default cipher.
    fn overhead(&self, _packet_len: usize) -> usize {
        if self.tags.is_some() {
            SESSION_TAG_LEN
        } else {
            0
        }
    }
}

/// Unencrypted profile: certificate `[01 0a] | 21 0e <32 random bytes>`, fingerprint as usual.
#[derive(Debug, Clone)]
pub struct PlainProfile {
    certificate: Vec<u8>,
    fingerprint: [u8; 32],
    accepts_ancillary_data: bool,
    /// The default cipher, for startup packets: no tag.
    cipher: PlainCipher,
}

impl PlainProfile {
    /// A new identity with 32 random certificate bytes from `rng`. `accepts_ancillary_data` adds
    /// the 0x0a option so URL EPDs select it (servers).
    pub fn new(rng: &mut dyn RngCore, accepts_ancillary_data: bool) -> Self {
        let mut certificate = Vec::with_capacity(RANDOMNESS_LEN + 4);
        if accepts_ancillary_data {
            option::write(&mut certificate, cert::CERT_ACCEPTS_ANCILLARY_DATA, &[]);
        }
        write_randomness(rng, &mut certificate);
        let fingerprint = cert::fingerprint(&certificate);
        PlainProfile {
            certificate,
            fingerprint,
            accepts_ancillary_data,
            cipher: PlainCipher::default(),
        }
    }
}

/// Appends an extra-randomness option with [`RANDOMNESS_LEN`] bytes from `rng`.
fn write_randomness(rng: &mut dyn RngCore, out: &mut Vec<u8>) {
    let mut random = [0u8; RANDOMNESS_LEN];
    rng.fill_bytes(&mut random);
    option::write(out, EXTRA_RANDOMNESS, &random);
}

/// Errors unless `bytes` is a well-formed option list.
fn check_options(bytes: &[u8], what: &'static str) -> Result<(), CryptoError> {
    if OptionIter::new(bytes).any(|i| i.is_err()) {
        return Err(CryptoError::BadKeying(what));
    }
    Ok(())
}

/// What the session tags are derived from, after the component.
const TAG_LABEL: &[u8] = b"plain session tag";

/// Session keys: nonces `HMAC-SHA256(SKIC || SKRC, component)`, and a cipher whose tags are the
/// first bytes of `HMAC-SHA256(SKIC || SKRC, component || "plain session tag")` (ours from our
/// component, the far end's from its).
fn session_keys(skic: &[u8], skrc: &[u8], near: &[u8], far: &[u8]) -> SessionKeys {
    let mut secret = Vec::with_capacity(skic.len() + skrc.len());
    secret.extend_from_slice(skic);
    secret.extend_from_slice(skrc);
    let tag = |component: &[u8]| {
        let mac = hmac_sha256(&secret, &[component, TAG_LABEL]);
        let mut t = [0u8; SESSION_TAG_LEN];
        t.copy_from_slice(&mac[..SESSION_TAG_LEN]);
        t
    };
    SessionKeys {
        cipher: super::SessionCipher::Plain(PlainSessionCipher {
            send: tag(near),
            recv: tag(far),
        }),
        near_nonce: hmac_sha256(&secret, &[near]),
        far_nonce: hmac_sha256(&secret, &[far]),
    }
}

/// Initiator state: the SKIC sent.
struct PlainInitiator {
    skic: Vec<u8>,
}

impl InitiatorKeying for PlainInitiator {
    fn skic(&self) -> &[u8] {
        &self.skic
    }

    /// Errors: [`CryptoError::BadKeying`] if `skrc` is not a well-formed option list.
    fn complete(self: Box<Self>, skrc: &[u8]) -> Result<SessionKeys, CryptoError> {
        check_options(skrc, "malformed responder component")?;
        Ok(session_keys(&self.skic, skrc, &self.skic, skrc))
    }
}

impl CryptoProfile for PlainProfile {
    fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    fn default_cipher(&self) -> &dyn PacketCipher {
        &self.cipher
    }

    fn is_selected_by_epd(&self, epd: &[u8]) -> bool {
        let own = Certificate {
            accepts_ancillary_data: self.accepts_ancillary_data,
            ..Certificate::default()
        };
        Epd::parse(epd).is_ok_and(|e| e.selects(&self.fingerprint, &own))
    }

    /// SKIC = `21 0e <32 random bytes>`.
    ///
    /// Errors: [`CryptoError::BadKeying`] if the responder certificate is malformed.
    fn initiator_keying(
        &mut self,
        rng: &mut dyn RngCore,
        responder_certificate: &[u8],
    ) -> Result<Box<dyn InitiatorKeying>, CryptoError> {
        Certificate::parse(responder_certificate)?;
        let mut skic = Vec::with_capacity(RANDOMNESS_LEN + 2);
        write_randomness(rng, &mut skic);
        Ok(Box::new(PlainInitiator { skic }))
    }

    /// SKRC = `21 0e <32 random bytes>`.
    ///
    /// Errors: [`CryptoError::BadKeying`] if the certificate or SKIC is malformed.
    fn responder_keying(
        &mut self,
        rng: &mut dyn RngCore,
        initiator_certificate: &[u8],
        skic: &[u8],
    ) -> Result<ResponderKeying, CryptoError> {
        Certificate::parse(initiator_certificate)?;
        check_options(skic, "malformed initiator component")?;
        let mut skrc = Vec::with_capacity(RANDOMNESS_LEN + 2);
        write_randomness(rng, &mut skrc);
        let keys = session_keys(skic, &skrc, &skrc, skic);
        Ok(ResponderKeying { skrc, keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn certificates() {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let client = PlainProfile::new(&mut rng, false);
        let server = PlainProfile::new(&mut rng, true);
        assert_eq!(client.certificate().len(), 34);
        assert_eq!(client.certificate()[..2], [0x21, 0x0e]);
        assert_eq!(server.certificate()[..4], [0x01, 0x0a, 0x21, 0x0e]);
        assert_ne!(client.fingerprint(), server.fingerprint());
        let url = cert::epd_for_url("rtmfp://sim/app");
        assert!(server.is_selected_by_epd(&url));
        assert!(!client.is_selected_by_epd(&url));
        assert!(client.is_selected_by_epd(&cert::epd_for_peer_id(&client.fingerprint())));
        assert!(client.certificate_selected_by_epd(server.certificate(), &url));
    }

    #[test]
    fn keying_round_trip() {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let mut a = PlainProfile::new(&mut rng, false);
        let mut b = PlainProfile::new(&mut rng, true);
        let pending = a.initiator_keying(&mut rng, b.certificate()).unwrap();
        let skic = pending.skic().to_vec();
        assert_eq!(skic.len(), 34);
        let resp = b
            .responder_keying(&mut rng, a.certificate(), &skic)
            .unwrap();
        assert_eq!(resp.skrc.len(), 34);
        let init = pending.complete(&resp.skrc).unwrap();
        assert_eq!(init.near_nonce, resp.keys.far_nonce);
        assert_eq!(init.far_nonce, resp.keys.near_nonce);
        assert_ne!(init.near_nonce, init.far_nonce);
        // A session's cipher is kept inline: no allocation per session.
        assert!(matches!(init.cipher, super::super::SessionCipher::Plain(_)));
        assert!(matches!(
            resp.keys.cipher,
            super::super::SessionCipher::Plain(_)
        ));
        assert_eq!(std::mem::size_of::<super::super::SessionCipher>(), 16);
        let mut sealed = Vec::new();
        let mut out = Vec::new();
        init.cipher.seal(b"abc", &mut sealed);
        assert_eq!(sealed.len(), 3 + SESSION_TAG_LEN);
        assert_eq!(init.cipher.overhead(3), SESSION_TAG_LEN);
        let opened = resp.keys.cipher.open(&sealed, &mut out).unwrap();
        assert_eq!(opened, b"abc");
        // Opened in place: the packet is the sealed bytes less the tag, and `out` is unused.
        assert_eq!(opened.as_ptr(), sealed.as_ptr());
        assert!(out.is_empty() && out.capacity() == 0);
        // The other direction has its own tag: a packet does not open at its sender.
        assert_eq!(
            init.cipher.open(&sealed, &mut out),
            Err(CryptoError::Checksum)
        );
        let mut back = Vec::new();
        resp.keys.cipher.seal(b"de", &mut back);
        assert_eq!(init.cipher.open(&back, &mut out).unwrap(), b"de");
        // A second session gets different nonces.
        let p2 = a.initiator_keying(&mut rng, b.certificate()).unwrap();
        let r2 = b
            .responder_keying(&mut rng, a.certificate(), p2.skic())
            .unwrap();
        assert_ne!(r2.keys.near_nonce, resp.keys.near_nonce);
        // ...and its own tags: a packet of the first session does not open in the second,
        // even where both sessions have the same session ID (a restarted peer).
        assert_eq!(
            r2.keys.cipher.open(&sealed, &mut out),
            Err(CryptoError::Checksum)
        );
        // Shorter than a tag, or a tag alone: no packet.
        for short in [&sealed[..SESSION_TAG_LEN - 1], &sealed[3..]] {
            assert_eq!(
                resp.keys.cipher.open(short, &mut out),
                Err(CryptoError::BadLength)
            );
        }
    }

    #[test]
    fn bad_inputs() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut a = PlainProfile::new(&mut rng, false);
        let mut out = Vec::new();
        let startup = PlainCipher::default();
        assert_eq!(startup.open(&[], &mut out), Err(CryptoError::BadLength));
        assert_eq!(startup.open(&[7], &mut out).unwrap(), [7]);
        assert!(a.initiator_keying(&mut rng, &[0x05]).is_err());
        let cert = a.certificate().to_vec();
        assert!(a.responder_keying(&mut rng, &cert, &[0x09, 0x0e]).is_err());
        let pending = a.initiator_keying(&mut rng, &cert).unwrap();
        assert!(pending.complete(&[0x85]).is_err());
    }
}
