//! Certificates, fingerprints and endpoint discriminators (EPDs), shared by both profiles
//! (RFC 7425 §4.3 and §4.4; docs/protocol/session.md, "Endpoint discriminators", "Certificates").
//!
//! A certificate is an option list (RFC 7016 §2.1.3). The options before the first marker are its
//! *canonical* part, which alone carries meaning and is hashed into the fingerprint (peer ID);
//! options after a marker are ignored, as in zenomt. An EPD is an option list naming the responder
//! wanted: by fingerprint, by required hostname, or by ancillary data (Flash: the connect URL).

use sha2::{Digest, Sha256};

use super::CryptoError;
use crate::wire::option::{self, OptionItem, OptionIter};
use crate::wire::Reader;

/// Certificate option 0x00: hostname (RFC 7425 §4.3.2).
pub const CERT_HOSTNAME: u64 = 0x00;
/// Certificate option 0x0a: accepts ancillary data, empty value (RFC 7425 §4.3.2).
pub const CERT_ACCEPTS_ANCILLARY_DATA: u64 = 0x0a;
/// Certificate option 0x0e: extra randomness (RFC 7425 §4.3.2).
pub const CERT_EXTRA_RANDOMNESS: u64 = 0x0e;
/// Certificate option 0x15: supported ephemeral DH group, value `groupID:VLU` (RFC 7425 §4.3.2).
pub const CERT_SUPPORTED_EPHEMERAL_GROUP: u64 = 0x15;
/// Certificate option 0x1d: static DH public key, value `groupID:VLU | key` (RFC 7425 §4.3.2).
pub const CERT_STATIC_DH_PUBLIC_KEY: u64 = 0x1d;

/// EPD option 0x00: required hostname (RFC 7425 §4.4.2).
pub const EPD_REQUIRED_HOSTNAME: u64 = 0x00;
/// EPD option 0x0a: ancillary data, e.g. the connect URL (RFC 7425 §4.4.2).
pub const EPD_ANCILLARY_DATA: u64 = 0x0a;
/// EPD option 0x0f: the 32-byte fingerprint of the wanted responder (RFC 7425 §4.4.2).
pub const EPD_FINGERPRINT: u64 = 0x0f;

/// The canonical part of `cert`: its options up to and including the first marker, or the whole
/// certificate if it has no marker (or is malformed before one). RFC 7425 §4.3,
/// docs/protocol/session.md, "Certificates".
pub fn canonical_part(cert: &[u8]) -> &[u8] {
    let mut iter = OptionIter::new(cert);
    while let Some(item) = iter.next() {
        match item {
            Ok(OptionItem::Marker) => {
                let end = cert.len() - iter.remainder().len();
                return cert.get(..end).unwrap_or(cert);
            }
            Ok(OptionItem::Option { .. }) => {}
            Err(_) => break,
        }
    }
    cert
}

/// Fingerprint (peer ID) of `cert`: SHA-256 of [`canonical_part`], 32 bytes (RFC 7425 §4.3;
/// Flash's `NetConnection.nearID`/`farID`).
pub fn fingerprint(cert: &[u8]) -> [u8; 32] {
    Sha256::digest(canonical_part(cert)).into()
}

/// The meaningful (canonical) options of a certificate (RFC 7425 §4.3.2, docs/protocol/session.md,
/// "Certificates"). Borrowed from the certificate bytes; unknown options are skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Certificate<'a> {
    /// Value of the hostname option (0x00), if any.
    pub hostname: Option<&'a [u8]>,
    /// Whether the accepts-ancillary-data option (0x0a) is present (servers).
    pub accepts_ancillary_data: bool,
    /// Value of the extra-randomness option (0x0e), if any.
    pub extra_randomness: Option<&'a [u8]>,
    /// Group IDs of the supported-ephemeral-DH-group options (0x15), in certificate order.
    pub ephemeral_groups: Vec<u64>,
    /// `(group ID, public key bytes)` of the static DH public key options (0x1d), in order.
    pub static_keys: Vec<(u64, &'a [u8])>,
}

impl<'a> Certificate<'a> {
    /// Parses `cert`. The whole certificate must be a well-formed option list; only the options
    /// before the first marker are interpreted.
    ///
    /// Errors: [`CryptoError::BadKeying`] on a malformed option list or a malformed group option.
    pub fn parse(cert: &'a [u8]) -> Result<Self, CryptoError> {
        let mut out = Certificate::default();
        let mut canonical = true;
        for item in OptionIter::new(cert) {
            match item.map_err(|_| CryptoError::BadKeying("malformed certificate"))? {
                OptionItem::Marker => canonical = false,
                OptionItem::Option { .. } if !canonical => {}
                OptionItem::Option { typ, value } => match typ {
                    CERT_HOSTNAME => out.hostname = Some(value),
                    CERT_ACCEPTS_ANCILLARY_DATA => out.accepts_ancillary_data = true,
                    CERT_EXTRA_RANDOMNESS => out.extra_randomness = Some(value),
                    CERT_SUPPORTED_EPHEMERAL_GROUP => {
                        out.ephemeral_groups.push(group_and_rest(value)?.0);
                    }
                    CERT_STATIC_DH_PUBLIC_KEY => out.static_keys.push(group_and_rest(value)?),
                    _ => {}
                },
            }
        }
        Ok(out)
    }

    /// The static public key for group `group`, if the certificate has one (first match).
    pub fn static_key(&self, group: u64) -> Option<&'a [u8]> {
        self.static_keys
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, k)| *k)
    }

    /// Whether the certificate advertises ephemeral DH in `group` (option 0x15).
    pub fn supports_ephemeral(&self, group: u64) -> bool {
        self.ephemeral_groups.contains(&group)
    }

    /// Whether the owner can do DH in `group`, with a static key or ephemerally.
    pub fn supports_group(&self, group: u64) -> bool {
        self.static_key(group).is_some() || self.supports_ephemeral(group)
    }
}

/// Splits a group option value into `(group ID VLU, rest)` (RFC 7425 §4.3.2, §4.6.2).
///
/// Errors: [`CryptoError::BadKeying`] if the VLU is missing or truncated.
pub(crate) fn group_and_rest(value: &[u8]) -> Result<(u64, &[u8]), CryptoError> {
    let mut r = Reader::new(value);
    let group = r
        .vlu()
        .map_err(|_| CryptoError::BadKeying("malformed DH group option"))?;
    Ok((group, r.rest()))
}

/// A parsed endpoint discriminator (RFC 7425 §4.4.2, docs/protocol/session.md, "Endpoint
/// discriminators"). When an option repeats, the last one counts (as in zenomt); markers are
/// skipped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Epd<'a> {
    /// Required hostname (option 0x00): the responder's certificate must carry the same hostname.
    pub hostname: Option<&'a [u8]>,
    /// Ancillary data (option 0x0a), e.g. `rtmfp://host/app`; may be empty (librtmfp sends `01
    /// 0a`).
    pub ancillary_data: Option<&'a [u8]>,
    /// Fingerprint option (0x0f) as received (selection requires exactly 32 bytes).
    pub fingerprint: Option<&'a [u8]>,
}

impl<'a> Epd<'a> {
    /// Parses an EPD (the bytes inside IHello's EPD field, without its VLU length).
    ///
    /// Errors: [`CryptoError::BadKeying`] on a malformed option list.
    pub fn parse(epd: &'a [u8]) -> Result<Self, CryptoError> {
        let mut out = Epd::default();
        for item in OptionIter::new(epd) {
            if let OptionItem::Option { typ, value } =
                item.map_err(|_| CryptoError::BadKeying("malformed EPD"))?
            {
                match typ {
                    EPD_REQUIRED_HOSTNAME => out.hostname = Some(value),
                    EPD_ANCILLARY_DATA => out.ancillary_data = Some(value),
                    EPD_FINGERPRINT => out.fingerprint = Some(value),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    /// Whether this EPD selects the owner of a certificate with `fingerprint` and parsed options
    /// `cert` (RFC 7425 §4.4.3 per zenomt, docs/protocol/session.md, "Endpoint discriminators"):
    /// - a fingerprint option alone decides: it must be 32 bytes equal to `fingerprint`;
    /// - otherwise a required hostname must equal the certificate's hostname option;
    /// - and ancillary data selects only a certificate that accepts ancillary data;
    /// - an EPD with none of the three options selects nothing.
    pub fn selects(&self, fingerprint: &[u8; 32], cert: &Certificate<'_>) -> bool {
        if let Some(fp) = self.fingerprint {
            return fp == fingerprint;
        }
        if self.hostname.is_none() && self.ancillary_data.is_none() {
            return false;
        }
        if let Some(h) = self.hostname {
            if cert.hostname != Some(h) {
                return false;
            }
        }
        if self.ancillary_data.is_some() && !cert.accepts_ancillary_data {
            return false;
        }
        true
    }
}

/// Whether `epd` selects the owner of `certificate` (both as received); `false` when either is
/// malformed. Rules as [`Epd::selects`] (RFC 7425 §4.4.3).
pub fn certificate_selected_by_epd(certificate: &[u8], epd: &[u8]) -> bool {
    match (Epd::parse(epd), Certificate::parse(certificate)) {
        (Ok(e), Ok(c)) => e.selects(&fingerprint(certificate), &c),
        _ => false,
    }
}

/// EPD naming a server by URL: one ancillary-data option (0x0a) holding `url`, e.g.
/// `15 0a "rtmfp://cc.rtmfp.net"` (IHello then carries `16 15 0a …`). docs/protocol/session.md,
/// "Endpoint discriminators".
pub fn epd_for_url(url: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(url.len() + 4);
    option::write(&mut out, EPD_ANCILLARY_DATA, url.as_bytes());
    out
}

/// EPD naming an endpoint by its 32-byte peer ID: `21 0f <peer ID>`. This is also the
/// canonical EPD of any Flash endpoint (RFC 7425 §4.4.4 per zenomt, docs/protocol/session.md,
/// "Endpoint discriminators").
pub fn epd_for_peer_id(peer_id: &[u8; 32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(34);
    option::write(&mut out, EPD_FINGERPRINT, peer_id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cirrus_cert() -> Vec<u8> {
        let mut c = vec![0x01, 0x0a, 0x41, 0x0e];
        c.extend([0x5a; 64]);
        c.extend([0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0e]);
        c
    }

    fn client_cert() -> Vec<u8> {
        let mut c = vec![0x81, 0x02, 0x1d, 0x02];
        c.extend([0x77; 128]);
        c
    }

    #[test]
    fn parses_server_and_client_certificates() {
        let s = cirrus_cert();
        assert_eq!(s.len(), 77);
        let c = Certificate::parse(&s).unwrap();
        assert!(c.accepts_ancillary_data);
        assert_eq!(c.ephemeral_groups, [2, 5, 14]);
        assert!(c.static_keys.is_empty());
        assert_eq!(c.extra_randomness.map(<[u8]>::len), Some(64));
        assert!(c.supports_group(5) && !c.supports_group(16));

        let k = client_cert();
        let c = Certificate::parse(&k).unwrap();
        assert_eq!(c.static_key(2), Some(&[0x77; 128][..]));
        assert!(!c.accepts_ancillary_data && c.ephemeral_groups.is_empty());
    }

    #[test]
    fn canonical_part_stops_at_first_marker() {
        let mut cert = client_cert();
        assert_eq!(canonical_part(&cert), &cert[..]);
        cert.push(0x00);
        let canon_len = cert.len();
        cert.extend([0x02, 0x15, 0x05, 0x00, 0x01, 0x0a]);
        assert_eq!(canonical_part(&cert).len(), canon_len);
        assert_eq!(fingerprint(&cert), fingerprint(&cert[..canon_len]));
        // Options after the marker are ignored.
        let c = Certificate::parse(&cert).unwrap();
        assert!(c.ephemeral_groups.is_empty() && !c.accepts_ancillary_data);
    }

    #[test]
    fn epd_builders() {
        let e = epd_for_url("rtmfp://cc.rtmfp.net");
        assert_eq!(e[..2], [0x15, 0x0a]);
        assert_eq!(&e[2..], b"rtmfp://cc.rtmfp.net");
        let id = [0xab; 32];
        let e = epd_for_peer_id(&id);
        assert_eq!(e[..2], [0x21, 0x0f]);
        assert_eq!(Epd::parse(&e).unwrap().fingerprint, Some(&id[..]));
    }

    #[test]
    fn selection_rules() {
        let server = cirrus_cert();
        let client = client_cert();
        let url = epd_for_url("rtmfp://example/app");
        assert!(certificate_selected_by_epd(&server, &url));
        assert!(!certificate_selected_by_epd(&client, &url));
        // librtmfp's empty ancillary data `01 0a` still selects a server.
        assert!(certificate_selected_by_epd(&server, &[0x01, 0x0a]));
        // Fingerprint alone decides, even for a server with ancillary data in the EPD.
        let by_id = epd_for_peer_id(&fingerprint(&client));
        assert!(certificate_selected_by_epd(&client, &by_id));
        assert!(!certificate_selected_by_epd(&server, &by_id));
        let mut both = by_id.clone();
        both.extend(&url);
        assert!(!certificate_selected_by_epd(&server, &both));
        // Wrong fingerprint length never selects.
        assert!(!certificate_selected_by_epd(&client, &[0x03, 0x0f, 1, 2]));
        // Required hostname.
        let mut named = vec![0x05, 0x00];
        named.extend(b"host");
        named.extend(&server);
        let mut host_epd = vec![0x05, 0x00];
        host_epd.extend(b"host");
        assert!(certificate_selected_by_epd(&named, &host_epd));
        assert!(!certificate_selected_by_epd(&server, &host_epd));
        host_epd.extend(&url);
        assert!(certificate_selected_by_epd(&named, &host_epd));
        // Empty, marker-only, unknown-only and malformed EPDs select nothing.
        for epd in [&[][..], &[0x00], &[0x02, 0x33, 0x01], &[0x05, 0x0a]] {
            assert!(!certificate_selected_by_epd(&server, epd));
        }
    }

    #[test]
    fn malformed_certificates_are_errors() {
        assert!(Certificate::parse(&[0x05, 0x0a]).is_err());
        assert!(Certificate::parse(&[0x01, 0x1d]).is_err());
        assert!(Certificate::parse(&[0x82]).is_err());
        assert_eq!(Certificate::parse(&[]).unwrap(), Certificate::default());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(cert: Vec<u8>, epd: Vec<u8>) {
            let _ = Certificate::parse(&cert);
            let _ = Epd::parse(&epd);
            let _ = fingerprint(&cert);
            let _ = certificate_selected_by_epd(&cert, &epd);
        }
    }
}
