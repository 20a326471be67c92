//! Handshakes per second with the endpoint as responder: a Flash server (ephemeral DH, group 2
//! selected) accepting Flash Player-style clients (static group-2 key).
//!
//! - `handshake/responder`: only the server's work per handshake, timed: IHello in, RHello out,
//!   IIKeying in, RIKeying out (cookie, certificate checks, ephemeral key, shared secret, key
//!   derivation, session creation, sealing). The client side runs between the timed parts.
//! - `handshake/responder_keying`: `CryptoProfile::responder_keying` alone (the Diffie-Hellman
//!   and key-derivation part of the above).
//!
//! Throughput is one element per handshake, so criterion reports handshakes per second.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant as WallClock};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rtmfp::crypto::cert::epd_for_url;
use rtmfp::{Config, CryptoProfile, Endpoint, Event, FlashProfile, Instant, Role};

/// Handshakes accepted by one server endpoint before it is replaced (untimed) with a fresh one,
/// so that its session table stays small and the timing steady.
const SESSIONS_PER_SERVER: u64 = 256;

fn rng(seed: u8) -> ChaCha20Rng {
    ChaCha20Rng::from_seed([seed; 32])
}

fn new_server(n: u64) -> Endpoint {
    let seed = n.to_le_bytes()[0];
    Endpoint::new(
        Config::default(),
        Box::new(FlashProfile::server(&mut rng(seed))),
        [seed ^ 0x55; 32],
    )
}

fn new_client() -> Endpoint {
    Endpoint::new(
        Config::default(),
        Box::new(FlashProfile::client(&mut rng(200))),
        [201; 32],
    )
}

fn server_addr() -> SocketAddr {
    SocketAddr::from(([192, 0, 2, 1], 1935))
}

/// The client's address for handshake `n`: a new one each time, else the server would treat the
/// handshake as a reconnection replacing the previous session (same address and certificate).
fn client_addr(n: u64) -> SocketAddr {
    let [.., hi, lo] = n.to_be_bytes();
    SocketAddr::from(([198, 51, hi, lo], 50_000))
}

fn next_payload(e: &mut Endpoint) -> Vec<u8> {
    e.poll_transmit()
        .expect("a datagram to send")
        .payload
        .to_vec()
}

/// Runs handshake `n`; returns the time the server spent on it. With `complete`, also hands the
/// RIKeying to the client and checks that both ends opened the session.
fn handshake(
    server: &mut Endpoint,
    client: &mut Endpoint,
    n: u64,
    now: Instant,
    epd: &[u8],
    complete: bool,
) -> Duration {
    let opening = client
        .connect(now, epd.to_vec(), &[server_addr()])
        .expect("connect");
    let ihello = next_payload(client);
    let from = client_addr(n);

    let start = WallClock::now();
    server.handle_datagram(now, from, &ihello);
    let rhello = next_payload(server);
    let mut spent = start.elapsed();

    client.handle_datagram(now, server_addr(), &rhello);
    let iikeying = next_payload(client);

    let start = WallClock::now();
    server.handle_datagram(now, from, &iikeying);
    let rikeying = next_payload(server);
    spent += start.elapsed();

    let opened = server.poll_event();
    assert!(
        matches!(
            opened,
            Some(Event::SessionOpened {
                role: Role::Responder,
                ..
            })
        ),
        "server did not open the session: {opened:?}"
    );
    if complete {
        client.handle_datagram(now, server_addr(), &rikeying);
        assert_eq!(client.session_count(), 1, "client did not open the session");
    } else {
        client.close(now, opening);
    }
    while client.poll_transmit().is_some() {}
    while client.poll_event().is_some() {}
    black_box(rikeying);
    spent
}

fn bench_handshake(c: &mut Criterion) {
    let epd = epd_for_url("rtmfp://bench.invalid/app");
    let now = Instant::from_micros(1_000_000);
    // Sanity check: a complete handshake with these identities works.
    handshake(&mut new_server(0), &mut new_client(), 0, now, &epd, true);

    let mut g = c.benchmark_group("handshake");
    g.throughput(Throughput::Elements(1));

    let mut client = new_client();
    let mut servers = 0;
    g.bench_function("responder", |b| {
        b.iter_custom(|iters| {
            let mut server = new_server(servers);
            servers += 1;
            let mut total = Duration::ZERO;
            for i in 0..iters {
                if i > 0 && i % SESSIONS_PER_SERVER == 0 {
                    server = new_server(servers);
                    servers += 1;
                }
                total += handshake(&mut server, &mut client, i, now, &epd, false);
            }
            total
        })
    });

    let mut responder = FlashProfile::server(&mut rng(1));
    let mut initiator = FlashProfile::client(&mut rng(2));
    let mut keying_rng = rng(3);
    let keying = initiator
        .initiator_keying(&mut keying_rng, responder.certificate())
        .expect("initiator keying");
    let initiator_certificate = initiator.certificate().to_vec();
    g.bench_function("responder_keying", |b| {
        b.iter(|| {
            responder
                .responder_keying(
                    &mut keying_rng,
                    black_box(&initiator_certificate),
                    black_box(keying.skic()),
                )
                .expect("responder keying")
        })
    });
    g.finish();
}

criterion_group!(benches, bench_handshake);
criterion_main!(benches);
