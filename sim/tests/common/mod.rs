//! Helpers: small engines built directly, without scenario files.

#![allow(dead_code)]

use rtmfp::{Config, Endpoint, Instant};
use rtmfp_sim::endpoint_node::Crypto;
use rtmfp_sim::group::report::GroupReport;
use rtmfp_sim::net::nat::NatType;
use rtmfp_sim::net::topology::Topology;
use rtmfp_sim::net::{NetParams, Network};
use rtmfp_sim::runner::{RunOptions, RunResult};
use rtmfp_sim::scenario::Scenario;
use rtmfp_sim::sessions::{Pattern, SessionParams, SessionWorkload};
use rtmfp_sim::{Engine, EngineConfig, NodeId};

pub type Sim = Engine<Endpoint, SessionWorkload>;

pub fn params(messages: u32, bytes: u32, crypto: Crypto) -> SessionParams {
    SessionParams {
        pattern: Pattern::Star,
        peers: 1,
        messages,
        message_bytes: bytes,
        interval_us: 0,
        start_delay_us: 100_000,
        crypto,
        config: Config::default(),
    }
}

/// `n` nodes 10 ms apart; node 0 is the hub; all join at t = 0 (hub first).
pub fn star(n: usize, seed: u64, net: NetParams, nat: &[NatType], p: SessionParams) -> Sim {
    let network = Network::new(n, Topology::uniform(10_000), net, nat, seed);
    let mut e = Engine::new(
        EngineConfig::new(seed),
        network,
        SessionWorkload::new(p, n, seed),
    );
    for i in 0..n {
        e.schedule_join(Instant::from_micros(i as u64), NodeId(i as u32));
    }
    e
}

pub fn secs(s: f64) -> Instant {
    Instant::from_micros((s * 1e6) as u64)
}

/// Parses scenario `text` (named `origin` in errors) and runs it, with `seed` instead of the
/// scenario's own when given.
pub fn run_scenario(text: &str, origin: &str, seed: Option<u64>) -> RunResult {
    let s = Scenario::from_toml(text, origin).unwrap();
    run_with_seed(&s, seed)
}

/// Runs scenario `s`, with `seed` instead of the scenario's own when given.
pub fn run_with_seed(s: &Scenario, seed: Option<u64>) -> RunResult {
    rtmfp_sim::run(
        s,
        RunOptions {
            seed,
            ..RunOptions::default()
        },
    )
    .unwrap()
}

/// The group report of a group run.
pub fn group(r: &RunResult) -> &GroupReport {
    r.group.as_ref().expect("a group run")
}
