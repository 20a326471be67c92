//! The per-packet cost of the Flash profile on full-size session packets, against bare AES.
//!
//! Every group handles the same 1200 bytes of ciphertext: a largest session packet (1192 bytes:
//! header with timestamp and echo, one User Data chunk) plus the 2-byte checksum and 6 bytes of
//! padding. Throughput is counted in those 1200 bytes, so `seal / raw_aes128_cbc_encrypt` and
//! `open / raw_aes128_cbc_decrypt` show what framing, checksum and copies cost on top of AES.
//!
//! - `raw_aes128_cbc_encrypt` / `raw_aes128_cbc_decrypt`: AES-128-CBC, zero IV, no padding, in
//!   place over 1200 bytes (the `aes` and `cbc` crates directly).
//! - `seal`: what a session does per packet sent: header and User Data chunk through
//!   `PacketWriter`, `FlashCipher::seal` (checksum, padding, encryption), session ID scrambling.
//! - `open`: what the endpoint does per packet received before the session sees it: session ID
//!   unscrambling, `FlashCipher::open` (decryption, checksum), header and chunk decoding.
//! - `checksum`: the RTMFP checksum alone over the 1198 bytes it covers, which `seal` and `open`
//!   each compute once: most of their cost beyond AES.

use std::hint::black_box;

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128Dec, Aes128Enc};
use criterion::{criterion_group, criterion_main, BenchmarkGroup, Criterion, Throughput};
use rtmfp::crypto::checksum::checksum;
use rtmfp::crypto::flash::FlashCipher;
use rtmfp::crypto::PacketCipher;
use rtmfp::wire::packet::{PacketWriter, MAX_SESSION_PACKET};
use rtmfp::wire::{
    scramble_session_id, unscramble_session_id, Chunk, FragmentControl, Mode, PacketHeader,
    UserData,
};

/// Ciphertext bytes per packet in every group.
const CIPHERTEXT_LEN: usize = 1200;
const KEY: [u8; 16] = *b"0123456789abcdef";
const FAR_SESSION_ID: u32 = 0x0203_0405;

const ZERO_IV: [u8; 16] = [0; 16];

fn header() -> PacketHeader {
    PacketHeader {
        time_critical: false,
        time_critical_reverse: false,
        mode: Mode::Initiator,
        timestamp: Some(0x1234),
        timestamp_echo: Some(0x1200),
    }
}

fn user_data(data: &[u8]) -> UserData<'_> {
    UserData {
        flow_id: 3,
        sequence_number: 1000,
        fsn_offset: 2,
        fragment: FragmentControl::Middle,
        abandon: false,
        final_: false,
        options: None,
        data,
    }
}

/// Data bytes that fill a packet to exactly `MAX_SESSION_PACKET`.
fn data_len() -> usize {
    let mut w = PacketWriter::new(&header(), MAX_SESSION_PACKET, Vec::new());
    assert!(w.push(&Chunk::UserData(user_data(&[]))));
    MAX_SESSION_PACKET - w.finish().len()
}

/// One session packet as `Session::seal` builds it: plaintext through `scratch` (reused), a fresh
/// datagram buffer (it leaves as `Bytes`).
fn seal_packet(cipher: &FlashCipher, data: &[u8], scratch: &mut Vec<u8>) -> Vec<u8> {
    let mut w = PacketWriter::new(&header(), MAX_SESSION_PACKET, std::mem::take(scratch));
    let pushed = w.push(&Chunk::UserData(user_data(data)));
    debug_assert!(pushed);
    let packet = w.finish();
    let mut datagram = Vec::with_capacity(4 + packet.len() + cipher.overhead(packet.len()));
    datagram.extend_from_slice(&[0; 4]);
    cipher.seal(&packet, &mut datagram);
    let ssid = scramble_session_id(FAR_SESSION_ID, &datagram[4..]);
    datagram[..4].copy_from_slice(&ssid.to_be_bytes());
    *scratch = packet;
    datagram
}

/// What the endpoint does before handing a packet to its session; returns the data bytes seen.
fn open_packet(cipher: &FlashCipher, datagram: &[u8], buf: &mut Vec<u8>) -> usize {
    let ssid = unscramble_session_id(datagram).expect("datagram has a session ID");
    black_box(ssid);
    let packet = cipher.open(&datagram[4..], buf).expect("packet opens");
    let (header, chunks) = PacketHeader::decode(packet).expect("header decodes");
    black_box(header);
    let mut seen = 0;
    for chunk in chunks {
        if let Chunk::UserData(ud) = chunk.expect("chunk decodes") {
            seen += black_box(ud).data.len();
        }
    }
    seen
}

fn group<'a>(
    c: &'a mut Criterion,
    name: &str,
) -> BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.throughput(Throughput::Bytes(CIPHERTEXT_LEN as u64));
    g
}

fn packet_path(c: &mut Criterion) {
    let data: Vec<u8> = (0..data_len()).map(|i| i as u8).collect();
    let cipher = FlashCipher::new(KEY, KEY);
    let mut scratch = Vec::with_capacity(2048);
    let datagram = seal_packet(&cipher, &data, &mut scratch);
    assert_eq!(datagram.len(), 4 + CIPHERTEXT_LEN);
    let mut buf = Vec::with_capacity(2048);
    assert_eq!(open_packet(&cipher, &datagram, &mut buf), data.len());

    // Key schedules expanded once, as `FlashCipher` does.
    let enc = Aes128Enc::new(&KEY.into());
    let dec = Aes128Dec::new(&KEY.into());
    let mut block = datagram[4..].to_vec();

    let mut g = group(c, "raw_aes128_cbc_encrypt");
    g.bench_function("1200B", |b| {
        b.iter(|| {
            let len = block.len();
            cbc::Encryptor::<&Aes128Enc>::inner_iv_init(&enc, &ZERO_IV.into())
                .encrypt_padded_mut::<NoPadding>(black_box(&mut block), len)
                .expect("block-aligned");
        })
    });
    g.finish();

    let mut g = group(c, "raw_aes128_cbc_decrypt");
    g.bench_function("1200B", |b| {
        b.iter(|| {
            cbc::Decryptor::<&Aes128Dec>::inner_iv_init(&dec, &ZERO_IV.into())
                .decrypt_padded_mut::<NoPadding>(black_box(&mut block))
                .expect("block-aligned");
        })
    });
    g.finish();

    let mut g = group(c, "seal");
    g.bench_function("1200B", |b| {
        b.iter(|| seal_packet(&cipher, black_box(&data), &mut scratch))
    });
    g.finish();

    let mut g = group(c, "open");
    g.bench_function("1200B", |b| {
        b.iter(|| open_packet(&cipher, black_box(&datagram), &mut buf))
    });
    g.finish();

    let covered = &block[2..];
    let mut g = c.benchmark_group("checksum");
    g.throughput(Throughput::Bytes(covered.len() as u64));
    g.bench_function("1198B", |b| b.iter(|| checksum(black_box(covered))));
    g.finish();
}

criterion_group!(benches, packet_path);
criterion_main!(benches);
