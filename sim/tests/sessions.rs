//! Session-level behaviour in the simulator: handshakes, delivery under loss, capacity, NATs.

mod common;

use common::{params, secs, star};
use rtmfp_sim::endpoint_node::Crypto;
use rtmfp_sim::net::nat::NatType;
use rtmfp_sim::net::topology::Topology;
use rtmfp_sim::net::{NetParams, Network};
use rtmfp_sim::sessions::SessionWorkload;
use rtmfp_sim::{Engine, EngineConfig, NodeId};

#[test]
fn two_nodes_complete_a_flash_handshake_and_exchange_messages() {
    let mut e = star(
        2,
        1,
        NetParams::default(),
        &[],
        params(10, 500, Crypto::Flash),
    );
    e.run_until(secs(5.0));
    let w = e.workload();
    assert_eq!(w.counters.handshakes_completed, 1, "{:?}", w.counters);
    assert_eq!(w.counters.messages_sent, 10);
    assert_eq!(w.counters.messages_delivered, 10);
    assert_eq!(w.counters.duplicates, 0);
    // One-way 10 ms; handshake is two round trips.
    let mut hs = w.handshake_us.clone();
    let h = hs.quantile(0.5);
    assert!((40_000..60_000).contains(&h), "handshake took {h} µs");
}

#[test]
fn reliable_flows_deliver_everything_through_5_percent_loss() {
    let net = NetParams {
        loss: 0.05,
        jitter_us: 2_000,
        ..NetParams::default()
    };
    let mut e = star(6, 2, net, &[], params(40, 1200, Crypto::Plain));
    e.run_until(secs(60.0));
    let w = e.workload();
    assert_eq!(w.counters.handshakes_completed, 5, "{:?}", w.counters);
    assert_eq!(w.counters.messages_sent, 200);
    assert_eq!(w.counters.messages_delivered, 200);
    assert!(e.network().stats.drop_loss > 0);
}

#[test]
fn a_bulk_transfer_takes_at_least_size_over_capacity() {
    // 1 Mbit/s upload at the sender; 200 messages of 1000 bytes = 200 000 bytes ≥ 1.6 s.
    let mut net = Network::new(2, Topology::uniform(10_000), NetParams::default(), &[], 3);
    net.set_capacity(NodeId(1), 1_000_000, 0);
    let p = params(200, 1000, Crypto::Plain);
    let mut e = Engine::new(EngineConfig::new(3), net, SessionWorkload::new(p, 2, 3));
    e.schedule_join(secs(0.0), NodeId(0));
    e.schedule_join(secs(0.0), NodeId(1));
    e.run_until(secs(30.0));
    let w = e.workload();
    assert_eq!(w.counters.messages_delivered, 200, "{:?}", w.counters);
    let mut l = w.latency_us.clone();
    let last = l.quantile(1.0);
    assert!(last >= 1_600_000, "last message after {last} µs");
    assert!(last < 4_000_000, "last message after {last} µs");
}

#[test]
fn symmetric_nats_cannot_connect_but_full_cones_can() {
    let run = |nat: NatType| {
        let mut e = star(
            2,
            4,
            NetParams::default(),
            &[nat, nat],
            params(1, 100, Crypto::Plain),
        );
        e.run_until(secs(20.0));
        let c = e.workload().counters.clone();
        (c, e.network().stats.drop_nat)
    };
    let (c, drops) = run(NatType::Symmetric);
    assert_eq!(c.handshakes_completed, 0);
    assert!(drops > 0);
    let (c, _) = run(NatType::FullCone);
    assert_eq!(c.handshakes_completed, 1);
    assert_eq!(c.messages_delivered, 1);
}

#[test]
fn simultaneous_connects_resolve_glare_and_both_complete() {
    for gap in [0u64, 5_000, 30_000] {
        let mut p = params(1, 100, Crypto::Plain);
        p.pattern = rtmfp_sim::sessions::Pattern::Random;
        p.start_delay_us = 1_000_000;
        let net = Network::new(2, Topology::uniform(10_000), NetParams::default(), &[], 1);
        let mut e = Engine::new(EngineConfig::new(1), net, SessionWorkload::new(p, 2, 1));
        e.schedule_join(secs(0.0), NodeId(0));
        e.schedule_join(rtmfp::Instant::from_micros(gap), NodeId(1));
        e.run_until(secs(10.0));
        let w = e.workload();
        assert_eq!(w.counters.handshakes_completed, 2, "gap {gap}");
        assert_eq!(w.pending_handshakes(), 0, "gap {gap}");
        assert_eq!(w.counters.messages_delivered, 2, "gap {gap}");
    }
}
