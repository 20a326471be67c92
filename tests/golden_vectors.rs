//! Golden vectors from `../shared/vectors/`: every captured packet whose plaintext is known is
//! parsed chunk by chunk and re-encoded to the same bytes (the wire format is canonical for
//! everything these implementations send), and the handshake chunks carry the layouts the
//! interoperability notes describe.

#[path = "../crates/rtmfp/tests/vectors/mod.rs"]
mod vectors;

use rtmfp::wire::packet::{PacketWriter, MAX_STARTUP_PACKET};
use rtmfp::wire::{unscramble_session_id, Chunk, PacketHeader};
use serde_json::Value;
use vectors::{records, JSONL_FILES};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/vectors");

/// The packet without checksum; `plaintext` has a 2-byte checksum, `plaintext_dump` none.
fn packet_of(r: &Value) -> Option<Vec<u8>> {
    if let Some(p) = r["plaintext"].as_str() {
        return Some(hex::decode(p).unwrap()[2..].to_vec());
    }
    r["plaintext_dump"]
        .as_str()
        .map(|p| hex::decode(p).unwrap())
}

#[test]
fn every_known_plaintext_parses_and_reencodes_canonically() {
    let mut packets = 0;
    let mut chunks_total = 0;
    for file in JSONL_FILES {
        for r in records(file) {
            let Some(packet) = packet_of(&r) else {
                continue;
            };
            let i = &r["i"];
            let (header, chunks) =
                PacketHeader::decode(&packet).unwrap_or_else(|e| panic!("{file} #{i}: header {e}"));
            let chunks: Vec<Chunk<'_>> = chunks
                .map(|c| c.unwrap_or_else(|e| panic!("{file} #{i}: chunk {e}")))
                .collect();
            assert!(!chunks.is_empty(), "{file} #{i}: no chunk");
            assert!(
                header.timestamp.is_some(),
                "{file} #{i}: every sender includes TS"
            );
            let mut w = PacketWriter::new(&header, MAX_STARTUP_PACKET, Vec::new());
            for c in &chunks {
                assert!(w.push(c));
            }
            let rebuilt = w.finish();
            assert_eq!(
                hex::encode(&rebuilt),
                hex::encode(&packet[..rebuilt.len()]),
                "{file} #{i}: re-encoding differs"
            );
            assert!(
                packet[rebuilt.len()..].iter().all(|&b| b == 0xff),
                "{file} #{i}: bytes after the chunks are not padding"
            );
            packets += 1;
            chunks_total += chunks.len();
        }
    }
    assert!(packets >= 200, "only {packets} packets checked");
    assert!(chunks_total > packets);
}

#[test]
fn session_ids_unscramble_as_recorded() {
    for file in JSONL_FILES {
        for r in records(file) {
            let Some(d) = r["datagram"].as_str().filter(|d| !d.is_empty()) else {
                continue;
            };
            let d = hex::decode(d).unwrap();
            let ssid = unscramble_session_id(&d).unwrap();
            assert_eq!(
                hex::encode(ssid.to_be_bytes()),
                r["ssid"].as_str().unwrap(),
                "{file} #{}",
                r["i"]
            );
        }
    }
}

#[test]
fn handshake_layouts_of_captured_peers() {
    // Flash Player 13 against Adobe Cirrus: IHello, RHello, IIKeying, RIKeying.
    let recs = records("apnic-flash13-cirrus.jsonl");
    let kinds: Vec<u8> = recs
        .iter()
        .map(|r| {
            let p = packet_of(r).unwrap();
            assert_eq!(p[0], 0x0b, "startup flags");
            let (_, mut chunks) = PacketHeader::decode(&p).unwrap();
            match chunks.next().unwrap().unwrap() {
                Chunk::IHello { epd, tag } => {
                    assert_eq!(tag.len(), 16);
                    assert_eq!(&epd[2..], b"rtmfp://cc.rtmfp.net");
                    0x30
                }
                Chunk::RHello {
                    cookie,
                    certificate,
                    ..
                } => {
                    assert_eq!(cookie.len(), 64);
                    assert_eq!(certificate.len(), 77);
                    0x70
                }
                Chunk::IIKeying {
                    initiator_session_id,
                    cookie_echo,
                    certificate,
                    skic,
                    signature,
                } => {
                    assert_eq!(initiator_session_id, 0x0200_0000);
                    assert_eq!(cookie_echo.len(), 64);
                    assert_eq!(certificate.len(), 132);
                    assert_eq!(&certificate[..4], &[0x81, 0x02, 0x1d, 0x02]);
                    assert_eq!(skic.len(), 76);
                    assert_eq!(signature, &[0x58]);
                    0x38
                }
                Chunk::RIKeying {
                    responder_session_id,
                    skrc,
                    signature,
                } => {
                    assert_eq!(responder_session_id, 0x4502_0000);
                    assert_eq!(skrc.len(), 139);
                    assert_eq!(&skrc[..7], &[0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00]);
                    assert_eq!(signature, &[0x58]);
                    0x78
                }
                other => panic!("{other:?}"),
            }
        })
        .collect();
    assert_eq!(kinds, [0x30, 0x70, 0x38, 0x78]);
}

#[test]
fn mona_introduction_chunks_match_records_28_and_29() {
    let recs = records("netgroup-librtmfp-mona.jsonl");
    let chunk_of = |i: usize| {
        let p = packet_of(&recs[i]).unwrap();
        let (_, mut chunks) = PacketHeader::decode(&p).unwrap();
        let c = chunks.next().unwrap().unwrap();
        let mut out = Vec::new();
        c.encode(&mut out);
        (format!("{c:?}"), out)
    };
    let (fihello, _) = chunk_of(28);
    assert!(fihello.starts_with("FIHello"), "{fihello}");
    assert!(
        fihello.contains("127.0.0.1:55680") && fihello.contains("Observed"),
        "{fihello}"
    );
    let (redirect, _) = chunk_of(29);
    assert!(redirect.starts_with("Redirect"), "{redirect}");
    assert!(
        redirect.contains("127.0.0.1:36160") && redirect.contains("Observed"),
        "{redirect}"
    );
}
