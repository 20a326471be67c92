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

/// Identity "cipher": `seal` appends the packet unchanged, `open` returns it unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlainCipher;

impl PacketCipher for PlainCipher {
    /// Appends `packet` to `out`.
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>) {
        out.extend_from_slice(packet);
    }

    /// Copies `sealed` into `out` and returns it.
    ///
    /// Errors: [`CryptoError::BadLength`] if `sealed` is empty.
    fn open<'o>(&self, sealed: &[u8], out: &'o mut Vec<u8>) -> Result<&'o [u8], CryptoError> {
        if sealed.is_empty() {
            return Err(CryptoError::BadLength);
        }
        out.clear();
        out.extend_from_slice(sealed);
        Ok(out)
    }

    /// Always 0.
    fn overhead(&self, _packet_len: usize) -> usize {
        0
    }
}

/// Unencrypted profile: certificate `[01 0a] | 21 0e <32 random bytes>`, fingerprint as usual.
#[derive(Debug, Clone)]
pub struct PlainProfile {
    certificate: Vec<u8>,
    fingerprint: [u8; 32],
    accepts_ancillary_data: bool,
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
            cipher: PlainCipher,
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

/// Session keys: the plain cipher and nonces `HMAC-SHA256(SKIC || SKRC, component)`.
fn session_keys(skic: &[u8], skrc: &[u8], near: &[u8], far: &[u8]) -> SessionKeys {
    let mut secret = Vec::with_capacity(skic.len() + skrc.len());
    secret.extend_from_slice(skic);
    secret.extend_from_slice(skrc);
    SessionKeys {
        cipher: Box::new(PlainCipher),
        near_nonce: hmac_sha256(&secret, &[near]).to_vec(),
        far_nonce: hmac_sha256(&secret, &[far]).to_vec(),
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
        let mut sealed = Vec::new();
        let mut out = Vec::new();
        init.cipher.seal(b"abc", &mut sealed);
        assert_eq!(resp.keys.cipher.open(&sealed, &mut out).unwrap(), b"abc");
        assert_eq!(init.cipher.overhead(3), 0);
        // A second session gets different nonces.
        let p2 = a.initiator_keying(&mut rng, b.certificate()).unwrap();
        let r2 = b
            .responder_keying(&mut rng, a.certificate(), p2.skic())
            .unwrap();
        assert_ne!(r2.keys.near_nonce, resp.keys.near_nonce);
    }

    #[test]
    fn bad_inputs() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let mut a = PlainProfile::new(&mut rng, false);
        let mut out = Vec::new();
        assert_eq!(PlainCipher.open(&[], &mut out), Err(CryptoError::BadLength));
        assert_eq!(PlainCipher.open(&[7], &mut out).unwrap(), [7]);
        assert!(a.initiator_keying(&mut rng, &[0x05]).is_err());
        let cert = a.certificate().to_vec();
        assert!(a.responder_keying(&mut rng, &cert, &[0x09, 0x0e]).is_err());
        let pending = a.initiator_keying(&mut rng, &cert).unwrap();
        assert!(pending.complete(&[0x85]).is_err());
    }
}
