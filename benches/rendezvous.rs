//! Rendezvous server throughput on one core, in memory, with Flash crypto (issue 3):
//!
//! - `rendezvous/connect/{1000,10000}`: the server's work for one client's handshake plus
//!   NetConnection `connect` (IHello → RHello, IIKeying → RIKeying, `connect` → `_result` and
//!   Set Keepalive Timer, `setPeerInfo`), with 1,000 or 10,000 clients already connected. Only
//!   the server's `handle_datagram`/`poll_transmit` calls are timed; the client runs between
//!   them.
//! - `rendezvous/introduction/{1000,10000}`: the server's work for one peer introduction (an
//!   IHello naming a connected client: FIHello to the target and Redirect to the initiator).
//!
//! Throughput is one element per connect or introduction, so criterion reports them per second.

use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rtmfp::crypto::cert::epd_for_peer_id;
use rtmfp::{Config, Endpoint, FlashProfile, Instant, SansIo};
use rtmfp_flash::FlashNode;
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousServer};

const SERVER: SocketAddr = SocketAddr::new(
    std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    1935,
);

fn client_addr(i: u64) -> SocketAddr {
    SocketAddr::from(([10, 1 + (i >> 16) as u8, (i >> 8) as u8, i as u8], 40_000))
}

struct World {
    server: RendezvousServer,
    rng: ChaCha20Rng,
    now: Instant,
    next: u64,
    ids: Vec<[u8; 32]>,
}

impl World {
    fn new() -> Self {
        let mut rng = ChaCha20Rng::from_seed([7; 32]);
        let config = RendezvousConfig {
            endpoint: Config {
                max_sessions: 1_000_000,
                ..RendezvousConfig::default().endpoint
            },
            ..Default::default()
        };
        let server =
            RendezvousServer::new(config, Box::new(FlashProfile::server(&mut rng)), [9; 32]);
        World {
            server,
            rng,
            now: Instant::from_micros(1_000_000),
            next: 0,
            ids: Vec::new(),
        }
    }

    /// Connects one more client; returns the server's time spent on it.
    fn connect_one(&mut self) -> Duration {
        let addr = client_addr(self.next);
        self.next += 1;
        let mut seed = [0u8; 32];
        self.rng.fill_bytes(&mut seed);
        let mut client = FlashNode::with_flash_identity(&mut self.rng, seed);
        client
            .connect(self.now, "rtmfp://10.0.0.1/app", &[SERVER])
            .unwrap();
        let mut server_time = Duration::ZERO;
        for _ in 0..64 {
            self.now = self.now + Duration::from_micros(100);
            let mut moved = false;
            while let Some(t) = client.poll_transmit() {
                moved = true;
                let t0 = WallClock::now();
                self.server.handle_datagram(self.now, addr, &t.payload);
                while self.server.poll_event().is_some() {}
                server_time += t0.elapsed();
            }
            loop {
                let t0 = WallClock::now();
                let t = self.server.poll_transmit();
                server_time += t0.elapsed();
                let Some(t) = t else { break };
                if t.dst == addr {
                    moved = true;
                    client.handle_datagram(self.now, SERVER, &t.payload);
                }
            }
            while client.poll_event().is_some() {}
            if client.net_connection().is_connected() && !moved {
                break;
            }
        }
        assert!(
            client.net_connection().is_connected(),
            "client did not connect"
        );
        self.ids.push(client.peer_id());
        server_time
    }

    fn fill(&mut self, clients: usize) {
        while self.ids.len() < clients {
            self.connect_one();
        }
    }
}

fn connect(c: &mut Criterion) {
    let mut g = c.benchmark_group("rendezvous");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(1));
    for n in [1_000usize, 10_000] {
        let mut world = World::new();
        world.fill(n);
        g.bench_function(BenchmarkId::new("connect", n), |b| {
            b.iter_custom(|iters| {
                (0..iters)
                    .map(|_| {
                        let spent = world.connect_one();
                        // Keep the population at n: drop the newcomer again (untimed).
                        let id = world.ids.pop().expect("just connected");
                        let now = world.now;
                        world.server.disconnect(now, &rtmfp_netgroup::PeerId(id));
                        while world.server.poll_transmit().is_some() {}
                        spent
                    })
                    .sum()
            });
        });
        // Introductions: IHellos from one initiator naming connected clients in turn.
        let mut initiator = Endpoint::new(
            Config::default(),
            Box::new(FlashProfile::client(&mut world.rng)),
            [3; 32],
        );
        let from = SocketAddr::from(([10, 200, 0, 1], 50_000));
        let ihellos: Vec<Vec<u8>> = world.ids[..256]
            .iter()
            .map(|id| {
                initiator
                    .connect(world.now, epd_for_peer_id(id), &[SERVER])
                    .unwrap();
                initiator.poll_transmit().unwrap().payload.to_vec()
            })
            .collect();
        let mut k = 0;
        g.bench_function(BenchmarkId::new("introduction", n), |b| {
            b.iter_custom(|iters| {
                let t0 = WallClock::now();
                for _ in 0..iters {
                    world.now = world.now + Duration::from_micros(10);
                    world
                        .server
                        .handle_datagram(world.now, from, &ihellos[k % ihellos.len()]);
                    k += 1;
                    while world.server.poll_transmit().is_some() {}
                    while world.server.poll_event().is_some() {}
                }
                t0.elapsed()
            });
        });
        assert!(world.server.stats().peer_introductions > 0);
    }
    g.finish();
}

criterion_group!(benches, connect);
criterion_main!(benches);
