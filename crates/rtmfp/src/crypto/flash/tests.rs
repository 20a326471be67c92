//! Unit tests of the Flash profile: layouts, keying combinations and failures.

use super::*;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;

fn rng(seed: u64) -> ChaCha20Rng {
    ChaCha20Rng::seed_from_u64(seed)
}

/// Runs a full keying between `initiator` and `responder` and checks that both ends agree.
/// Returns `(SKIC, SKRC)`.
fn handshake(initiator: &mut FlashProfile, responder: &mut FlashProfile) -> (Vec<u8>, Vec<u8>) {
    let mut r = rng(99);
    let pending = initiator
        .initiator_keying(&mut r, responder.certificate())
        .unwrap();
    let skic = pending.skic().to_vec();
    let resp = responder
        .responder_keying(&mut r, initiator.certificate(), &skic)
        .unwrap();
    let init = pending.complete(&resp.skrc).unwrap();
    check_agreement(&init, &resp.keys);
    (skic, resp.skrc)
}

pub(super) fn check_agreement(a: &SessionKeys, b: &SessionKeys) {
    assert_eq!(a.near_nonce, b.far_nonce);
    assert_eq!(a.far_nonce, b.near_nonce);
    assert_eq!(a.near_nonce.len(), 32);
    assert_ne!(a.near_nonce, a.far_nonce);
    let mut sealed = Vec::new();
    let mut out = Vec::new();
    for (tx, rx) in [(a, b), (b, a)] {
        sealed.clear();
        tx.cipher.seal(b"\x89\x12\x34hello", &mut sealed);
        assert_eq!(
            &rx.cipher.open(&sealed, &mut out).unwrap()[..8],
            b"\x89\x12\x34hello"
        );
        // A packet sealed in one direction does not open in the same direction.
        assert!(tx.cipher.open(&sealed, &mut out).is_err());
    }
}

#[test]
fn certificate_layouts() {
    let client = FlashProfile::client(&mut rng(1));
    let c = client.certificate();
    assert_eq!(c.len(), 132);
    assert_eq!(c[..4], [0x81, 0x02, 0x1d, 0x02]);
    assert_eq!(client.fingerprint(), cert::fingerprint(c));

    let server = FlashProfile::server(&mut rng(2));
    let s = server.certificate();
    assert_eq!(s.len(), 77);
    assert_eq!(s[..4], [0x01, 0x0a, 0x41, 0x0e]);
    assert_eq!(
        s[68..],
        [0x02, 0x15, 0x02, 0x02, 0x15, 0x05, 0x02, 0x15, 0x0e]
    );
    assert!(server.static_private_key().is_none());
}

#[test]
fn identity_survives_restart() {
    let client = FlashProfile::client(&mut rng(3));
    let (group, private) = client.static_private_key().unwrap();
    assert_eq!(group, DhGroup::Modp1024);
    let again = FlashProfile::from_static_private_key(group, &private).unwrap();
    assert_eq!(again.certificate(), client.certificate());
    assert_eq!(again.fingerprint(), client.fingerprint());
    assert!(FlashProfile::from_static_private_key(group, &[0]).is_err());
}

#[test]
fn client_to_server_static_x_ephemeral() {
    let mut client = FlashProfile::client(&mut rng(4));
    let mut server = FlashProfile::server(&mut rng(5));
    let (skic, skrc) = handshake(&mut client, &mut server);
    assert_eq!(skic.len(), 76);
    assert_eq!(skic[..5], [0x02, 0x1d, 0x02, 0x41, 0x0e]);
    assert_eq!(skic[69..], [0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02]);
    assert_eq!(skrc.len(), 139);
    assert_eq!(
        skrc[..11],
        [0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02]
    );
}

#[test]
fn peer_to_peer_static_x_static() {
    let mut a = FlashProfile::client(&mut rng(6));
    let mut b = FlashProfile::client(&mut rng(7));
    let (skic, skrc) = handshake(&mut a, &mut b);
    assert_eq!(skic.len(), 76);
    assert_eq!(skrc.len(), 73);
    assert_eq!(
        skrc[..9],
        [0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x41, 0x0e]
    );
}

#[test]
fn server_initiating_ephemeral_x_ephemeral_and_ephemeral_x_static() {
    let mut s1 = FlashProfile::server(&mut rng(8));
    let mut s2 = FlashProfile::server(&mut rng(9));
    let (skic, skrc) = handshake(&mut s1, &mut s2);
    assert_eq!(skic[..4], [0x81, 0x02, 0x0d, 0x02]);
    assert_eq!(skic.len(), 132 + 66 + 7);
    assert_eq!(skrc.len(), 139);

    let mut peer = FlashProfile::client(&mut rng(10));
    let (skic, skrc) = handshake(&mut s1, &mut peer);
    assert_eq!(skic[..4], [0x81, 0x02, 0x0d, 0x02]);
    assert_eq!(skrc.len(), 73);
}

#[test]
fn group_14_end_to_end() {
    let config = FlashConfig {
        groups: vec![DhGroup::Modp2048],
        ..FlashConfig::client()
    };
    let mut client = FlashProfile::new(&mut rng(11), config).unwrap();
    assert_eq!(client.certificate().len(), 260);
    assert_eq!(client.certificate()[..4], [0x82, 0x02, 0x1d, 0x0e]);
    let mut server = FlashProfile::server(&mut rng(12));
    let (skic, skrc) = handshake(&mut client, &mut server);
    assert_eq!(skic[..3], [0x02, 0x1d, 0x0e]);
    assert_eq!(skrc[7..11], [0x82, 0x02, 0x0d, 0x0e]);
    assert_eq!(skrc.len(), 7 + 4 + 256);
}

#[test]
fn no_group_in_common() {
    let config = FlashConfig {
        groups: vec![DhGroup::Modp2048],
        ..FlashConfig::server()
    };
    let server14 = FlashProfile::new(&mut rng(13), config).unwrap();
    let mut client = FlashProfile::client(&mut rng(14));
    let err = client
        .initiator_keying(&mut rng(15), server14.certificate())
        .err();
    assert_eq!(
        err,
        Some(CryptoError::Config(
            "no DH group in common with the responder"
        ))
    );
    // And as responder: a group-2 select to a group-14-only server.
    let mut server14 = server14;
    let mut r = rng(16);
    let server2 = FlashProfile::server(&mut r);
    let pending = client
        .initiator_keying(&mut r, server2.certificate())
        .unwrap();
    let err = server14
        .responder_keying(&mut r, client.certificate(), pending.skic())
        .err();
    assert_eq!(err, Some(CryptoError::Unsupported("DH group")));
}

#[test]
fn responder_answering_another_group_is_rejected() {
    // As in rtmfpcpp-mona-group14-fail: the initiator selects 14, the SKRC carries a group-2 key.
    let config = FlashConfig {
        groups: vec![DhGroup::Modp2048, DhGroup::Modp1024],
        ..FlashConfig::client()
    };
    let mut client = FlashProfile::new(&mut rng(17), config).unwrap();
    let mut server = FlashProfile::server(&mut rng(18));
    let mut r = rng(19);
    let pending = client
        .initiator_keying(&mut r, server.certificate())
        .unwrap();
    assert_eq!(pending.skic()[..3], [0x02, 0x1d, 0x0e]);
    // A group-2 answer made by a server for a group-2 select.
    let mut other = FlashProfile::client(&mut r);
    let p2 = other
        .initiator_keying(&mut r, server.certificate())
        .unwrap();
    let resp = server
        .responder_keying(&mut r, other.certificate(), p2.skic())
        .unwrap();
    assert!(matches!(
        pending.complete(&resp.skrc),
        Err(CryptoError::BadKeying(_))
    ));
}

#[test]
fn declines_required_hmac_and_sseq() {
    let mut client = FlashProfile::client(&mut rng(20));
    let mut server = FlashProfile::server(&mut rng(21));
    let mut r = rng(22);
    let pending = client
        .initiator_keying(&mut r, server.certificate())
        .unwrap();
    let skic = pending.skic().to_vec();
    for (tail, at) in [
        ([0x03, 0x1a, 0x05, 0x0a], 69),
        ([0x03, 0x1a, 0x03, 0x0a], 69),
    ] {
        let mut bad = skic.clone();
        bad[at..at + 4].copy_from_slice(&tail);
        let err = server
            .responder_keying(&mut r, client.certificate(), &bad)
            .err();
        assert_eq!(err, Some(CryptoError::Unsupported("HMAC")));
    }
    let mut bad = skic.clone();
    bad[75] = 0x04;
    let err = server
        .responder_keying(&mut r, client.certificate(), &bad)
        .err();
    assert_eq!(
        err,
        Some(CryptoError::Unsupported("session sequence numbers"))
    );

    // As initiator: a responder saying REQ for SSEQ.
    let resp = server
        .responder_keying(&mut r, client.certificate(), &skic)
        .unwrap();
    let mut skrc = resp.skrc.clone();
    skrc[6] = 0x01;
    assert_eq!(
        pending.complete(&skrc).err(),
        Some(CryptoError::Unsupported("session sequence numbers"))
    );
}

#[test]
fn responder_rejects_bad_keying() {
    let client = FlashProfile::client(&mut rng(23));
    let mut server = FlashProfile::server(&mut rng(24));
    let mut r = rng(25);
    let skic = {
        let mut c = FlashProfile::client(&mut r);
        c.initiator_keying(&mut r, server.certificate())
            .unwrap()
            .skic()
            .to_vec()
    };
    // Static select without a static key in the certificate.
    let err = server.responder_keying(&mut r, server.certificate().to_vec().as_slice(), &skic);
    assert!(matches!(err, Err(CryptoError::BadKeying(_))));
    // A certificate whose static key is invalid.
    let mut weak = vec![0x81, 0x02, 0x1d, 0x02];
    weak.extend([0u8; 127]);
    weak.push(2);
    let err = server.responder_keying(&mut r, &weak, &skic);
    assert!(matches!(err, Err(CryptoError::BadKeying(_))));
    // No key at all, and malformed inputs.
    for (c, k) in [
        (client.certificate(), &[0x02, 0x1e, 0x00][..]),
        (client.certificate(), &[0x05, 0x1d]),
        (&[0x09][..], &skic[..]),
    ] {
        assert!(matches!(
            server.responder_keying(&mut r, c, k),
            Err(CryptoError::BadKeying(_))
        ));
    }
}

#[test]
fn epd_selection() {
    let client = FlashProfile::client(&mut rng(26));
    let server = FlashProfile::server(&mut rng(27));
    let url = cert::epd_for_url("rtmfp://example.com/app");
    assert!(server.is_selected_by_epd(&url));
    assert!(!client.is_selected_by_epd(&url));
    let id = cert::epd_for_peer_id(&client.fingerprint());
    assert!(client.is_selected_by_epd(&id));
    assert!(!server.is_selected_by_epd(&id));
    assert!(client.certificate_selected_by_epd(client.certificate(), &id));
    assert!(client.certificate_selected_by_epd(server.certificate(), &url));
    assert!(!client.certificate_selected_by_epd(server.certificate(), &id));
    assert_eq!(client.signature(), [0x58]);
}

#[test]
fn bad_configs() {
    let mut r = rng(28);
    let empty = FlashConfig {
        groups: vec![],
        ..FlashConfig::client()
    };
    assert!(FlashProfile::new(&mut r, empty).is_err());
    let twice = FlashConfig {
        groups: vec![DhGroup::Modp1024, DhGroup::Modp1024],
        ..FlashConfig::server()
    };
    assert!(FlashProfile::new(&mut r, twice).is_err());
    assert!(FlashProfile::with_static_keys(FlashConfig::server(), vec![]).is_err());
    assert!(FlashProfile::with_static_keys(FlashConfig::client(), vec![]).is_err());
}
