//! Bulk transfer over real loopback UDP: one RTMFP flow (Flash crypto, tokio driver) against a
//! plain UDP blast of 1200-byte datagrams measured in the same run. Target: ≥ 0.6 of raw UDP.
//!
//! Raw UDP has no flow control and loses datagrams when the receiver falls behind, so its time is
//! scaled by sent/received: both figures are goodput.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::rand_core::SeedableRng;
use rtmfp::crypto::cert::epd_for_url;
use rtmfp::{Config, Event, FlashProfile, Priority};

const TOTAL: usize = 16 << 20;
const DATAGRAM: usize = 1200;

fn raw_udp_goodput_time() -> Duration {
    let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
    rx.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let dst = rx.local_addr().unwrap();
    let count = TOTAL / DATAGRAM;
    let sender = std::thread::spawn(move || {
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let buf = [0x5au8; DATAGRAM];
        for _ in 0..count {
            let _ = tx.send_to(&buf, dst);
        }
    });
    let mut buf = [0u8; 2048];
    let mut received = 0usize;
    let mut start = None;
    let mut last = Instant::now();
    while received < count {
        match rx.recv_from(&mut buf) {
            Ok(_) => {
                start.get_or_insert_with(Instant::now);
                received += 1;
                last = Instant::now();
            }
            Err(_) => break,
        }
    }
    sender.join().unwrap();
    let elapsed = last - start.unwrap_or(last);
    elapsed.mul_f64(count as f64 / received.max(1) as f64)
}

fn rtmfp_transfer_time(rt: &tokio::runtime::Runtime) -> Duration {
    rt.block_on(async {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(1);
        let any = "127.0.0.1:0".parse().unwrap();
        let (server, mut sev) = rtmfp_node::spawn(
            any,
            Config::default(),
            Box::new(FlashProfile::server(&mut rng)),
            1024,
        )
        .await
        .unwrap();
        let (client, mut cev) = rtmfp_node::spawn(
            any,
            Config::default(),
            Box::new(FlashProfile::client(&mut rng)),
            1024,
        )
        .await
        .unwrap();
        let url = format!("rtmfp://{}/bench", server.local_addr());
        let s = client
            .connect(epd_for_url(&url), vec![server.local_addr()])
            .await
            .unwrap();
        while !matches!(cev.recv().await, Some(Event::SessionOpened { .. })) {}
        let flow = client
            .open_flow(s, b"TC\x04\x00".to_vec(), None, Priority::BULK)
            .await
            .unwrap();
        let start = Instant::now();
        let writer = tokio::spawn(async move {
            let chunk = Bytes::from(vec![0x5a; 64 << 10]);
            for _ in 0..TOTAL / chunk.len() {
                client.write(s, flow, chunk.clone()).await.unwrap();
            }
            client
        });
        let mut got = 0;
        while got < TOTAL {
            if let Some(Event::Message { data, .. }) = sev.recv().await {
                got += data.len();
            }
        }
        let elapsed = start.elapsed();
        let client = writer.await.unwrap();
        client.close(s).await.unwrap();
        drop(server);
        elapsed
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut g = c.benchmark_group("loopback_bulk_16MiB");
    g.throughput(Throughput::Bytes(TOTAL as u64));
    g.sample_size(10);
    g.bench_function("raw_udp_1200B", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| raw_udp_goodput_time()).sum())
    });
    g.bench_function("rtmfp_flow_flash", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| rtmfp_transfer_time(&rt)).sum())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
