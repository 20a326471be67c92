//! Every decoder that sees untrusted bytes, on one input:
//!
//! - the datagram path: unscramble the session ID, open the rest with the Flash default-key
//!   cipher (and the plain cipher), decode the packet and every chunk;
//! - the same bytes decoded directly as a packet (no crypto), so the fuzzer reaches the chunk
//!   parsers without having to get through AES and the checksum;
//! - `Chunk::decode(first byte, rest)`, checked to survive an encode/decode round trip;
//! - option lists, certificates, endpoint discriminators and keying components.
//!
//! Nothing may panic; decoded chunks must re-encode to something that decodes to the same chunk.

#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp::crypto::cert::{self, Certificate, Epd};
use rtmfp::crypto::flash::{FlashCipher, KeyingComponent};
use rtmfp::crypto::plain::PlainCipher;
use rtmfp::crypto::PacketCipher;
use rtmfp::wire::option::{self, OptionItem, OptionIter};
use rtmfp::wire::{unscramble_session_id, Chunk, PacketHeader, PeerAddress, Reader};

fuzz_target!(|data: &[u8]| {
    let mut buf = Vec::new();

    // Datagram path: session ID, then the sealed packet.
    let _ = unscramble_session_id(data);
    if let Some(sealed) = data.get(4..) {
        if let Ok(packet) = FlashCipher::default_key().open(sealed, &mut buf) {
            decode_packet(packet);
        }
        if let Ok(packet) = PlainCipher::default().open(sealed, &mut buf) {
            decode_packet(packet);
        }
    }

    // The raw bytes as a cleartext packet.
    decode_packet(data);

    // One chunk, typed by the first byte.
    if let Some((&kind, payload)) = data.split_first() {
        chunk_round_trip(kind, payload);
    }

    // Option lists and the structures built on them.
    decode_options(data);
    let _ = Certificate::parse(data);
    let _ = Epd::parse(data);
    let _ = cert::fingerprint(data);
    if let Ok(k) = KeyingComponent::parse(data) {
        let _ = k.check_declined();
        let _ = k.ephemeral_key(2);
    }
    // Two halves: an EPD selecting (or not) a certificate.
    let mid = data.len() / 2;
    let _ = cert::certificate_selected_by_epd(&data[..mid], &data[mid..]);

    // Addresses as found in Redirect and FIHello.
    let mut r = Reader::new(data);
    while !r.is_empty() {
        if PeerAddress::read(&mut r).is_err() {
            break;
        }
    }
});

fn decode_packet(packet: &[u8]) {
    if let Ok((_header, chunks)) = PacketHeader::decode(packet) {
        for chunk in chunks {
            if let Ok(Chunk::UserData(ud)) = chunk {
                let _ = ud.forward_sequence_number();
                if let Some(opts) = ud.options {
                    decode_options(opts);
                }
            }
        }
    }
}

fn decode_options(bytes: &[u8]) {
    for item in OptionIter::new(bytes) {
        if let Ok(OptionItem::Option { typ, value }) = item {
            let _ = (typ, value.len());
        }
    }
    let _ = option::split_terminated(bytes);
    let _ = option::find(bytes, 0x0a);
}

/// Decodes one chunk; if it decodes, encoding it again must give a chunk that decodes equal.
fn chunk_round_trip(kind: u8, payload: &[u8]) {
    let Ok(chunk) = Chunk::decode(kind, payload) else {
        return;
    };
    let mut encoded = Vec::new();
    chunk.encode(&mut encoded);
    if encoded.len() < 3 {
        return; // a payload over 65535 bytes is not encodable (documented)
    }
    let again = Chunk::decode(encoded[0], &encoded[3..]);
    assert_eq!(
        again.as_ref(),
        Ok(&chunk),
        "chunk does not survive a round trip"
    );
}
