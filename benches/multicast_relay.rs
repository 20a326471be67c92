//! Relay cost of a multicast stream on one node (issue 5): a publisher A, a relay B and a
//! player C in memory with Flash crypto (datagrams between A and C are dropped, so everything C
//! plays comes through B). Each iteration, A publishes one fragment-sized message (900 bytes) and the trio
//! runs to quiescence; only the time spent inside B's calls (datagrams in, timers, transmits
//! out, events) is measured: decrypt, group engine, encrypt, acknowledgements.
//!
//! Baseline in the same run: AES-128-CBC encryption plus decryption of 1,024 bytes, the
//! cryptographic floor of relaying one fragment.

use std::net::SocketAddr;
use std::time::Duration;

use aes::cipher::{BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rtmfp::{Instant, SansIo};
use rtmfp_flash::FlashNode;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::{GroupConfig, GroupHandle, GroupNode, GroupSpecifier, StreamKey};

struct Trio {
    nodes: Vec<GroupNode>,
    addrs: Vec<SocketAddr>,
    now: Instant,
    g: GroupHandle,
    key: StreamKey,
    /// Time spent in B's calls.
    relay: Duration,
}

fn seed(rng: &mut ChaCha8Rng) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng.fill_bytes(&mut s);
    s
}

impl Trio {
    fn new() -> Trio {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut spec = GroupSpecifier::new("bench").unwrap();
        spec.set_multicast_enabled(true);
        let mut nodes: Vec<GroupNode> = (0..3)
            .map(|_| {
                let s = seed(&mut rng);
                let flash = FlashNode::with_flash_identity(&mut rng, s);
                GroupNode::new(flash, GroupConfig::scaled(10), seed(&mut rng))
            })
            .collect();
        let addrs: Vec<SocketAddr> = (0..3)
            .map(|i| SocketAddr::from(([10, 0, 0, 1 + i as u8], 1935)))
            .collect();
        let now = Instant::from_micros(1_000_000);
        let g = nodes
            .iter_mut()
            .map(|n| n.join(now, &spec).unwrap())
            .last()
            .unwrap();
        let b = nodes[1].peer_id();
        for i in [0, 2] {
            nodes[i]
                .group_mut(now, g)
                .unwrap()
                .add_neighbor(b, &[addrs[1]]);
        }
        let mut t = Trio {
            nodes,
            addrs,
            now,
            g,
            key: StreamKey([0; 32]),
            relay: Duration::ZERO,
        };
        t.run(Duration::from_secs(2));
        assert_eq!(
            t.nodes[1].group(g).map(|v| v.neighbor_count()),
            Some(2),
            "B has A and C"
        );
        assert_eq!(
            t.nodes[0].group(g).map(|v| v.neighbor_count()),
            Some(1),
            "A only has B"
        );
        for i in [1, 2] {
            let now = t.now;
            t.nodes[i]
                .group_mut(now, g)
                .unwrap()
                .multicast()
                .play("bench")
                .unwrap();
        }
        let now = t.now;
        t.key = t.nodes[0]
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .publish("bench")
            .unwrap();
        // Warm up: playback starts, C's pushers settle on B.
        for _ in 0..300 {
            t.publish_one();
        }
        t
    }

    fn timed<R>(&mut self, i: usize, f: impl FnOnce(&mut GroupNode) -> R) -> R {
        if i == 1 {
            let t = std::time::Instant::now();
            let r = f(&mut self.nodes[1]);
            self.relay += t.elapsed();
            r
        } else {
            f(&mut self.nodes[i])
        }
    }

    /// Delivers every datagram at once, runs due timers, until nothing moves.
    fn settle(&mut self) {
        loop {
            let mut moved = false;
            for i in 0..3 {
                let now = self.now;
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= now) {
                    self.timed(i, |n| n.handle_timeout(now));
                }
                while let Some(tx) = self.timed(i, |n| n.poll_transmit()) {
                    moved = true;
                    let to = self.addrs.iter().position(|a| *a == tx.dst);
                    // A and C cannot reach each other: everything goes through B.
                    if let Some(d) = to.filter(|d| i + d != 2) {
                        let from = self.addrs[i];
                        self.timed(d, |n| n.handle_datagram(now, from, &tx.payload));
                    }
                }
                while self.timed(i, |n| n.poll_event()).is_some() {}
            }
            if !moved {
                return;
            }
        }
    }

    fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.settle();
            self.now = self.now + Duration::from_millis(5);
        }
    }

    /// One 900-byte message (one fragment) from A, then 20 ms of network time.
    fn publish_one(&mut self) {
        let (now, g, key) = (self.now, self.g, self.key);
        self.nodes[0]
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .publish_message(&key, media_type::VIDEO, 0, Bytes::from(vec![7u8; 900]))
            .unwrap();
        self.run(Duration::from_millis(20));
    }
}

fn relay(c: &mut Criterion) {
    let mut g = c.benchmark_group("multicast");
    g.throughput(Throughput::Elements(1));
    g.sample_size(20);
    g.bench_function("relay_per_fragment", |b| {
        let mut trio = Trio::new();
        b.iter_custom(|iters| {
            trio.relay = Duration::ZERO;
            for _ in 0..iters {
                trio.publish_one();
            }
            trio.relay
        });
        let info = trio.nodes[2]
            .group(trio.g)
            .and_then(|v| v.multicast_info(&trio.key))
            .unwrap();
        assert_eq!(info.fragments_lost, 0);
    });
    g.bench_function("aes_cbc_1kb_encrypt_decrypt_baseline", |b| {
        let key = [3u8; 16];
        let iv = [0u8; 16];
        let mut buf = vec![5u8; 1024];
        b.iter(|| {
            let enc = cbc::Encryptor::<aes::Aes128>::new(&key.into(), &iv.into());
            enc.encrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf, 1024)
                .unwrap();
            let dec = cbc::Decryptor::<aes::Aes128>::new(&key.into(), &iv.into());
            dec.decrypt_padded_mut::<aes::cipher::block_padding::NoPadding>(&mut buf)
                .unwrap();
            std::hint::black_box(&buf);
        })
    });
    g.finish();
}

criterion_group!(benches, relay);
criterion_main!(benches);
