//! Crypto profile checks against the captured golden data in `shared/vectors` (see its README):
//! default-key packets, the go-rtmfp and librtmfp key derivations, certificates, EPDs and
//! keying components, plus keying round trips through the public API.

mod vectors;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha20Rng;
use serde_json::Value;
use vectors::{records, JSONL_FILES};

use rtmfp::crypto::cert::{self, Certificate, Epd};
use rtmfp::crypto::checksum;
use rtmfp::crypto::dh::{DhGroup, DhKeyPair};
use rtmfp::crypto::flash::{derive_keys, padding_len, FlashCipher, FlashProfile, KeyingComponent};
use rtmfp::crypto::plain::PlainProfile;
use rtmfp::crypto::{certificate_fingerprint, CryptoProfile, PacketCipher, SessionKeys};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/vectors");

fn json(name: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(vectors::path(name)).unwrap()).unwrap()
}

fn hx(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

fn key16(v: &Value) -> [u8; 16] {
    hx(v).try_into().unwrap()
}

/// Raw AES-128-CBC with a zero IV and no padding, independent of `FlashCipher`.
fn aes_cbc(key: &[u8; 16], data: &[u8], encrypt: bool) -> Vec<u8> {
    let mut buf = data.to_vec();
    let len = buf.len();
    if encrypt {
        cbc::Encryptor::<aes::Aes128>::new(key.into(), &[0u8; 16].into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, len)
            .unwrap();
    } else {
        cbc::Decryptor::<aes::Aes128>::new(key.into(), &[0u8; 16].into())
            .decrypt_padded_mut::<NoPadding>(&mut buf)
            .unwrap();
    }
    buf
}

/// Minimal RTMFP packet walker for the tests: `(chunks, end of chunks)` of a packet (flags,
/// timestamp, optional echo, chunks up to padding). RFC 7016 §2.2.4, docs/protocol/session.md,
/// "Packet header and timestamps" to "Chunk framing and padding".
fn chunks(packet: &[u8]) -> (Vec<(u8, &[u8])>, usize) {
    let flags = packet[0];
    let mut pos = 1;
    if flags & 0x08 != 0 {
        pos += 2;
    }
    if flags & 0x04 != 0 {
        pos += 2;
    }
    let mut out = Vec::new();
    while pos + 3 <= packet.len() && packet[pos] != 0xff && packet[pos] != 0x00 {
        let len = u16::from_be_bytes([packet[pos + 1], packet[pos + 2]]) as usize;
        out.push((packet[pos], &packet[pos + 3..pos + 3 + len]));
        pos += 3 + len;
    }
    (out, pos)
}

/// A VLU-field `VLU(len) | bytes` at the start of `buf`: `(bytes, rest)`.
fn vlu_field(buf: &[u8]) -> (&[u8], &[u8]) {
    let mut len = 0usize;
    let mut i = 0;
    loop {
        len = (len << 7) | (buf[i] & 0x7f) as usize;
        i += 1;
        if buf[i - 1] & 0x80 == 0 {
            break;
        }
    }
    (&buf[i..i + len], &buf[i + len..])
}

/// The single chunk of type `typ` in a record's plaintext.
fn chunk_of(rec: &Value, typ: u8) -> Vec<u8> {
    let pt = hx(&rec["plaintext"]);
    let (cs, _) = chunks(&pt[2..]);
    cs.iter().find(|(t, _)| *t == typ).unwrap().1.to_vec()
}

/// `(certificate, SKIC)` of an IIKeying chunk (0x38).
fn iikeying(rec: &Value) -> (Vec<u8>, Vec<u8>) {
    let c = chunk_of(rec, 0x38);
    let (_cookie, rest) = vlu_field(&c[4..]);
    let (cert, rest) = vlu_field(rest);
    let (skic, sig) = vlu_field(rest);
    assert_eq!(sig, [0x58]);
    (cert.to_vec(), skic.to_vec())
}

/// SKRC of an RIKeying chunk (0x78).
fn rikeying(rec: &Value) -> Vec<u8> {
    let c = chunk_of(rec, 0x78);
    let (skrc, sig) = vlu_field(&c[4..]);
    assert_eq!(sig, [0x58]);
    skrc.to_vec()
}

/// Certificate of an RHello chunk (0x70).
fn rhello_cert(rec: &Value) -> Vec<u8> {
    let c = chunk_of(rec, 0x70);
    let (_tag, rest) = vlu_field(&c);
    let (_cookie, cert) = vlu_field(rest);
    cert.to_vec()
}

/// EPD of an IHello chunk (0x30).
fn ihello_epd(rec: &Value) -> Vec<u8> {
    let c = chunk_of(rec, 0x30);
    vlu_field(&c).0.to_vec()
}

/// Checks one record with a `plaintext` against `cipher` (which must open it) and `key`
/// (the key that encrypted it). Returns whether the padding was minimal, in which case sealing
/// the packet with `key` must reproduce the datagram.
fn check_record(rec: &Value, key: &[u8; 16], cipher: &FlashCipher) -> bool {
    let datagram = hx(&rec["datagram"]);
    let plaintext = hx(&rec["plaintext"]);
    let sealed = &datagram[4..];
    assert_eq!(
        aes_cbc(key, sealed, false),
        plaintext,
        "record {}",
        rec["i"]
    );
    assert_eq!(
        aes_cbc(key, &plaintext, true),
        sealed,
        "record {}",
        rec["i"]
    );
    assert!(checksum::verify(&plaintext), "record {}", rec["i"]);
    let mut out = Vec::new();
    assert_eq!(
        cipher.open(sealed, &mut out).unwrap(),
        &plaintext[2..],
        "record {}",
        rec["i"]
    );
    let (_, end) = chunks(&plaintext[2..]);
    let packet = &plaintext[2..2 + end];
    if plaintext.len() - 2 - end != padding_len(end) {
        return false;
    }
    let mut resealed = Vec::new();
    FlashCipher::new(*key, *key).seal(packet, &mut resealed);
    assert_eq!(resealed, sealed, "record {}", rec["i"]);
    true
}

#[test]
fn default_key_records() {
    let key = FlashCipher::DEFAULT_KEY;
    let cipher = FlashCipher::default_key();
    let (mut checked, mut resealed) = (0, 0);
    for file in JSONL_FILES {
        for rec in records(file) {
            if rec["key"] == "default" && rec.get("plaintext").is_some() {
                checked += 1;
                resealed += usize::from(check_record(&rec, &key, &cipher));
                // A default-key packet never opens under another key.
                let other = FlashCipher::new([0x42; 16], [0x42; 16]);
                let mut out = Vec::new();
                assert!(other.open(&hx(&rec["datagram"])[4..], &mut out).is_err());
            }
        }
    }
    assert_eq!(checked, 52, "README §2: 52 default-key plaintexts");
    assert_eq!(resealed, 52, "every default-key packet has minimal padding");
}

#[test]
fn go_rtmfp_key_chain_and_replay() {
    let k = json("keys-go-rtmfp.json");
    let group = DhGroup::from_id(k["dh_group"].as_u64().unwrap()).unwrap();
    assert_eq!(group.prime().to_bytes_be(), hx(&k["dh_prime_hex"]));
    let responder =
        DhKeyPair::from_private_bytes(group, &hx(&k["responder_private_exponent_hex"])).unwrap();
    assert_eq!(responder.public_key(), hx(&k["responder_public_key_hex"]));
    let secret = responder
        .shared_secret(&hx(&k["initiator_public_key_hex"]))
        .unwrap();
    assert_eq!(secret, hx(&k["shared_secret_hex"]));

    let skic = hx(&k["skic_hex"]);
    let skrc = hx(&k["skrc_hex"]);
    let i = derive_keys(&secret, &skic, &skrc);
    let r = derive_keys(&secret, &skrc, &skic);
    for (d, role) in [(&i, &k["initiator"]), (&r, &k["responder"])] {
        assert_eq!(d.encrypt_key.to_vec(), hx(&role["encrypt_key_hex"]));
        assert_eq!(d.decrypt_key.to_vec(), hx(&role["decrypt_key_hex"]));
        assert_eq!(d.near_nonce.to_vec(), hx(&role["near_nonce_hex"]));
        assert_eq!(d.far_nonce.to_vec(), hx(&role["far_nonce_hex"]));
    }

    // Certificates, fingerprints and components as carried in the capture.
    let icert = hx(&k["initiator_certificate_hex"]);
    let rcert = hx(&k["responder_certificate_hex"]);
    assert_eq!(
        certificate_fingerprint(&icert).to_vec(),
        hx(&k["initiator_peer_id"])
    );
    assert_eq!(
        certificate_fingerprint(&rcert).to_vec(),
        hx(&k["responder_peer_id"])
    );
    let recs = records("go-rtmfp-flash11.jsonl");
    assert_eq!(iikeying(&recs[2]), (icert.clone(), skic.clone()));
    assert_eq!(rikeying(&recs[3]), skrc);
    assert_eq!(rhello_cert(&recs[1]), rcert);
    let epd = ihello_epd(&recs[0]);
    assert_eq!(epd, cert::epd_for_url("rtmfp://192.168.137.183/"));
    assert!(cert::certificate_selected_by_epd(&rcert, &epd));
    let c = KeyingComponent::parse(&skrc).unwrap();
    assert_eq!(c.ephemeral_key(2).unwrap(), responder.public_key_padded());

    // Keyed replay of the session packets.
    let initiator_cipher = FlashCipher::new(i.encrypt_key, i.decrypt_key);
    let responder_cipher = FlashCipher::new(r.encrypt_key, r.decrypt_key);
    let (mut n, mut resealed) = (0, 0);
    for rec in &recs {
        let (key, opener) = match rec["key"].as_str().unwrap() {
            "initiator-encrypt" => (i.encrypt_key, &responder_cipher),
            "responder-encrypt" => (r.encrypt_key, &initiator_cipher),
            _ => continue,
        };
        resealed += usize::from(check_record(rec, &key, opener));
        n += 1;
    }
    assert_eq!(n, 7);
    assert_eq!(resealed, 7, "every session packet has minimal padding");
}

#[test]
fn netgroup_librtmfp_keys_and_replay() {
    let k = json("keys-netgroup-librtmfp.json");
    let sessions = k["sessions"].as_object().unwrap();
    assert_eq!(sessions.len(), 3);
    let mut ciphers = Vec::new();
    for (name, s) in sessions {
        let secret = hx(&s["shared_secret_hex"]);
        let skic = hx(&s["skic_hex"]);
        let skrc = hx(&s["skrc_hex"]);
        let i = derive_keys(&secret, &skic, &skrc);
        let r = derive_keys(&secret, &skrc, &skic);
        for (d, role) in [(&i, &s["initiator_keys"]), (&r, &s["responder_keys"])] {
            assert_eq!(d.encrypt_key, key16(&role["encrypt_key_hex"]), "{name}");
            assert_eq!(d.decrypt_key, key16(&role["decrypt_key_hex"]), "{name}");
            assert_eq!(d.near_nonce.to_vec(), hx(&role["near_nonce_hex"]), "{name}");
            assert_eq!(d.far_nonce.to_vec(), hx(&role["far_nonce_hex"]), "{name}");
        }
        for (cert_key, id_key) in [
            ("initiator_certificate_hex", "initiator_peer_id"),
            ("responder_certificate_hex", "responder_peer_id"),
        ] {
            let c = hx(&s[cert_key]);
            assert_eq!(
                certificate_fingerprint(&c).to_vec(),
                hx(&s[id_key]),
                "{name}"
            );
            Certificate::parse(&c).unwrap();
        }
        let icert = hx(&s["initiator_certificate_hex"]);
        let parsed = Certificate::parse(&icert).unwrap();
        assert_eq!(
            parsed.static_key(2).unwrap(),
            hx(&s["initiator_public_key_hex"])
        );
        let skc = KeyingComponent::parse(&skic).unwrap();
        assert_eq!(skc.group_select, Some(2));
        skc.check_declined().unwrap();
        KeyingComponent::parse(&skrc)
            .unwrap()
            .check_declined()
            .unwrap();
        ciphers.push((
            format!("{name}:I->R"),
            i.encrypt_key,
            FlashCipher::new(r.encrypt_key, r.decrypt_key),
        ));
        ciphers.push((
            format!("{name}:R->I"),
            r.encrypt_key,
            FlashCipher::new(i.encrypt_key, i.decrypt_key),
        ));
    }
    let (mut n, mut resealed) = (0, 0);
    for rec in records("netgroup-librtmfp-mona.jsonl") {
        let Some(id) = rec["key"].as_str() else {
            continue;
        };
        if id == "default" {
            continue;
        }
        let (_, key, opener) = ciphers.iter().find(|(n, _, _)| n == id).unwrap();
        resealed += usize::from(check_record(&rec, key, opener));
        // No other session key opens it.
        for (other, _, c) in &ciphers {
            if other != id {
                let mut out = Vec::new();
                assert!(c.open(&hx(&rec["datagram"])[4..], &mut out).is_err());
            }
        }
        n += 1;
    }
    assert_eq!(n, 130);
    assert_eq!(resealed, 130, "every session packet has minimal padding");
}

#[test]
fn netgroup_p2p_handshake_layouts() {
    let recs = records("netgroup-librtmfp-mona.jsonl");
    let k = json("keys-netgroup-librtmfp.json");
    let ba = &k["sessions"]["B-A"];
    let a_cert = hx(&ba["responder_certificate_hex"]);
    let a_id: [u8; 32] = hx(&ba["responder_peer_id"]).try_into().unwrap();
    // P2P IHello EPD `21 0f <A>` selects A's RHello certificate.
    let epd = ihello_epd(&recs[27]);
    assert_eq!(epd, cert::epd_for_peer_id(&a_id));
    assert_eq!(Epd::parse(&epd).unwrap().fingerprint, Some(&a_id[..]));
    assert_eq!(rhello_cert(&recs[30]), a_cert);
    assert!(cert::certificate_selected_by_epd(&a_cert, &epd));
    let mona_cert = hx(&k["sessions"]["B-server"]["responder_certificate_hex"]);
    assert!(!cert::certificate_selected_by_epd(&mona_cert, &epd));
    let (_, skic) = iikeying(&recs[32]);
    assert_eq!(skic, hx(&ba["skic_hex"]));
    let skrc = rikeying(&recs[34]);
    assert_eq!(skrc.len(), 73);
    assert_eq!(skrc, hx(&ba["skrc_hex"]));
}

#[test]
fn server_certificates_and_epds() {
    // Adobe Cirrus (APNIC capture): 77-byte ephemeral certificate.
    let recs = records("apnic-flash13-cirrus.jsonl");
    let epd = ihello_epd(&recs[0]);
    assert_eq!(epd, cert::epd_for_url("rtmfp://cc.rtmfp.net"));
    let cirrus = rhello_cert(&recs[1]);
    assert_eq!(cirrus.len(), 77);
    let c = Certificate::parse(&cirrus).unwrap();
    assert!(c.accepts_ancillary_data);
    assert_eq!(c.ephemeral_groups, [2, 5, 14]);
    assert!(c.static_keys.is_empty());
    assert!(cert::certificate_selected_by_epd(&cirrus, &epd));
    let id = hex::encode(certificate_fingerprint(&cirrus));
    assert!(id.starts_with("63ab863b") && id.ends_with("66e8"), "{id}");
    let (client_cert, skic) = iikeying(&recs[2]);
    let id = hex::encode(certificate_fingerprint(&client_cert));
    assert!(id.starts_with("95c1b98c") && id.ends_with("e21e"), "{id}");
    assert_eq!(skic.len(), 76);
    let skc = KeyingComponent::parse(&skic).unwrap();
    assert_eq!(
        (skc.group_select, skc.hmac.hmac_length),
        (Some(2), Some(10))
    );
    let skrc = rikeying(&recs[3]);
    assert_eq!(skrc.len(), 139);
    assert_eq!(
        KeyingComponent::parse(&skrc)
            .unwrap()
            .ephemeral_key(2)
            .unwrap()
            .len(),
        128
    );

    // MonaServer2 with librtmfp's empty ancillary-data EPD `01 0a`.
    let recs = records("handshake-librtmfp-mona.jsonl");
    let epd = ihello_epd(&recs[0]);
    assert_eq!(epd, [0x01, 0x0a]);
    let mona = rhello_cert(&recs[1]);
    assert!(cert::certificate_selected_by_epd(&mona, &epd));
    let (client_cert, _) = iikeying(&recs[2]);
    assert!(!cert::certificate_selected_by_epd(&client_cert, &epd));
}

#[test]
fn rtmfp_cpp_three_key_certificate_and_group_14_select() {
    let recs = records("rtmfpcpp-mona-group14-fail.jsonl");
    let epd = ihello_epd(&recs[0]);
    assert_eq!(
        Epd::parse(&epd).unwrap().ancillary_data,
        Some(&b"rtmfp://127.0.0.1/live"[..])
    );
    let (cert908, skic) = iikeying(&recs[2]);
    assert_eq!(cert908.len(), 908);
    let c = Certificate::parse(&cert908).unwrap();
    let groups: Vec<(u64, usize)> = c.static_keys.iter().map(|(g, k)| (*g, k.len())).collect();
    assert_eq!(groups, [(16, 512), (14, 256), (2, 128)]);
    let skc = KeyingComponent::parse(&skic).unwrap();
    assert_eq!(skc.group_select, Some(14));
    assert_eq!(skc.hmac.hmac_length, Some(16));
    skc.check_declined().unwrap();
    // MonaServer2 answered with a group-2 key: no key for the selected group 14.
    let skrc = rikeying(&recs[3]);
    let rc = KeyingComponent::parse(&skrc).unwrap();
    assert!(rc.ephemeral_key(14).is_none());
    assert_eq!(rc.ephemeral_key(2).unwrap().len(), 128);
    // Our default server supports group 14: it answers the select with a group-14 ephemeral key
    // computed against the certificate's group-14 static key.
    let mut rng = ChaCha20Rng::seed_from_u64(5);
    let mut server = FlashProfile::server(&mut rng);
    let resp = server.responder_keying(&mut rng, &cert908, &skic).unwrap();
    let rc = KeyingComponent::parse(&resp.skrc).unwrap();
    assert_eq!(rc.ephemeral_key(14).unwrap().len(), 256);

    let recs = records("rtmfpcpp-mona-group2-ok.jsonl");
    let i = recs
        .iter()
        .position(|r| r["note"].as_str().unwrap().starts_with("IIKeying"))
        .unwrap();
    let (cert132, skic) = iikeying(&recs[i]);
    assert_eq!(cert132[..4], [0x81, 0x02, 0x1d, 0x02]);
    let resp = server.responder_keying(&mut rng, &cert132, &skic).unwrap();
    assert_eq!(resp.skrc.len(), 139);
}

fn check_agreement(a: &SessionKeys, b: &SessionKeys) {
    assert_eq!(a.near_nonce, b.far_nonce);
    assert_eq!(a.far_nonce, b.near_nonce);
    let mut sealed = Vec::new();
    let mut out = Vec::new();
    for (tx, rx) in [(a, b), (b, a)] {
        sealed.clear();
        tx.cipher.seal(b"\x4a\x00\x01\x4c\x00\x00", &mut sealed);
        assert_eq!(
            &rx.cipher.open(&sealed, &mut out).unwrap()[..6],
            b"\x4a\x00\x01\x4c\x00\x00"
        );
    }
}

fn round_trip(
    initiator: &mut dyn CryptoProfile,
    responder: &mut dyn CryptoProfile,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let id = cert::epd_for_peer_id(&responder.fingerprint());
    assert!(responder.is_selected_by_epd(&id));
    assert!(initiator.certificate_selected_by_epd(responder.certificate(), &id));
    let pending = initiator
        .initiator_keying(&mut rng, responder.certificate())
        .unwrap();
    let skic = pending.skic().to_vec();
    let resp = responder
        .responder_keying(&mut rng, initiator.certificate(), &skic)
        .unwrap();
    let keys = pending.complete(&resp.skrc).unwrap();
    check_agreement(&keys, &resp.keys);
    (skic, resp.skrc)
}

#[test]
fn keying_round_trips() {
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    let mut client = FlashProfile::client(&mut rng);
    let mut peer = FlashProfile::client(&mut rng);
    let mut server = FlashProfile::server(&mut rng);
    let (skic, skrc) = round_trip(&mut client, &mut server, 2);
    assert_eq!((skic.len(), skrc.len()), (76, 139));
    assert_eq!(skic[..3], [0x02, 0x1d, 0x02]);
    assert_eq!(
        skrc[..11],
        [0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x81, 0x02, 0x0d, 0x02]
    );
    let (skic, skrc) = round_trip(&mut client, &mut peer, 3);
    assert_eq!((skic.len(), skrc.len()), (76, 73));
    assert_eq!(
        skrc[..9],
        [0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00, 0x41, 0x0e]
    );
    let mut a = PlainProfile::new(&mut rng, false);
    let mut b = PlainProfile::new(&mut rng, true);
    assert!(b.is_selected_by_epd(&cert::epd_for_url("rtmfp://sim/")));
    round_trip(&mut a, &mut b, 4);
}
