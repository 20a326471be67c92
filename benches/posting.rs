//! Posting through one node with 20 neighbours (issue 4): ingest (rate limit, size check,
//! dedupe in the seen cache, proof check when the group has a posting password) and the
//! forwarding decision, per received post frame.
//!
//! - `posting/new_message/open`: every frame is a message the node has not seen (deliver and
//!   forward to the 19 other neighbours).
//! - `posting/new_message/password`: the same with a posting password (HMAC proof verified).
//! - `posting/duplicate`: every frame was seen before (the common case in a flood).
//!
//! The seen cache's memory per 100,000 posts is measured with a counting allocator and printed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rtmfp::Instant;
use rtmfp_netgroup::posting::{Posting, PostingAuth, PostingConfig};
use rtmfp_netgroup::{GroupSpecifier, PeerId};

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const NEIGHBORS: usize = 20;

fn config() -> PostingConfig {
    PostingConfig {
        rate: u32::MAX / 4,
        burst: u32::MAX / 4,
        seen_capacity: 1 << 20,
        seen_max_age: Duration::from_secs(3600),
        ..PostingConfig::default()
    }
}

fn auth(password: bool) -> PostingAuth {
    if !password {
        return PostingAuth::Open;
    }
    let mut spec = GroupSpecifier::new("bench").unwrap();
    spec.set_posting_enabled(true);
    spec.set_posting_password(Some("secret"), None);
    PostingAuth::from_groupspec(&spec)
}

/// `n` distinct post frames of 100 bytes, as an originator would send them.
fn frames(n: usize, password: bool) -> Vec<Bytes> {
    let mut origin = Posting::new(config(), auth(password));
    (0..n)
        .map(|i| {
            let msg = format!("{i:0>100}");
            origin
                .post(Instant::from_micros(1), msg.as_bytes())
                .unwrap()
                .1
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let neighbors: Vec<PeerId> = (0..NEIGHBORS as u8).map(|i| PeerId([i; 32])).collect();
    let mut g = c.benchmark_group("posting");
    g.throughput(Throughput::Elements(1));
    for password in [false, true] {
        let name = if password { "password" } else { "open" };
        let pool = frames(200_000, password);
        g.bench_function(BenchmarkId::new("new_message", name), |b| {
            b.iter_custom(|iters| {
                let mut node = Posting::new(config(), auth(password));
                let mut spent = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    // A fresh node per pool pass, so every frame is new to it (untimed).
                    if done > 0 && done.is_multiple_of(pool.len() as u64) {
                        node = Posting::new(config(), auth(password));
                    }
                    let chunk = (iters - done).min(pool.len() as u64 - done % pool.len() as u64);
                    let start = (done % pool.len() as u64) as usize;
                    let t0 = std::time::Instant::now();
                    for (k, f) in pool[start..start + chunk as usize].iter().enumerate() {
                        let from = neighbors[k % NEIGHBORS];
                        let r = node.on_post(
                            Instant::from_micros(2),
                            from,
                            f,
                            neighbors.iter().copied(),
                        );
                        std::hint::black_box(r.unwrap().forward.len());
                    }
                    spent += t0.elapsed();
                    done += chunk;
                }
                spent
            });
        });
    }
    let pool = frames(10_000, false);
    let mut node = Posting::new(config(), auth(false));
    for f in &pool {
        node.on_post(
            Instant::from_micros(2),
            neighbors[0],
            f,
            neighbors.iter().copied(),
        )
        .unwrap();
    }
    let mut k = 0usize;
    g.bench_function("duplicate", |b| {
        b.iter(|| {
            k += 1;
            let r = node.on_post(
                Instant::from_micros(3),
                neighbors[k % NEIGHBORS],
                &pool[k % pool.len()],
                neighbors.iter().copied(),
            );
            std::hint::black_box(r.is_err())
        })
    });
    g.finish();

    // Seen-cache memory per 100,000 posts.
    let frames = frames(100_000, false);
    let before = LIVE.load(Ordering::Relaxed);
    let mut node = Posting::new(config(), auth(false));
    for f in &frames {
        node.on_post(
            Instant::from_micros(2),
            neighbors[0],
            f,
            neighbors.iter().copied(),
        )
        .unwrap();
    }
    let after = LIVE.load(Ordering::Relaxed);
    println!(
        "posting/seen_cache_memory: {:.1} MiB per 100,000 posts ({} bytes per post; {} entries)",
        (after - before) as f64 / (1 << 20) as f64,
        (after - before) / 100_000,
        node.seen().len()
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
