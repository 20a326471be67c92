//! Multicast stream invariants in the simulator (plain profile, 200 members): slot 1 streams,
//! every other member plays; the players present from the start keep continuity ≥ 0.95 (every
//! one without loss; the mean ≥ 0.99 and the tenth percentile ≥ 0.95 with 5 % loss and churn)
//! and receive every message in order; the run is deterministic.

mod common;

use rtmfp_sim::group::stream::StreamReport;
use rtmfp_sim::runner::RunResult;
use rtmfp_sim::scenario::Scenario;

/// 200 members join over 2 s; a 300 kbit/s stream runs from 6 s for 8 s.
fn swarm(extra: &str) -> String {
    format!(
        r#"
name = "stream-swarm"
seed = 9
duration_s = 26
crypto = "plain"
[population]
nodes = 201
join_spread_s = 2
upload_kbps = 4000
download_kbps = 40000
[network]
topology = {{ kind = "coordinates", size_ms = 60, access_min_ms = 1, access_max_ms = 8 }}
jitter_ms = 1
{extra}
[workload]
kind = "group"
warmup_s = 6
drain_s = 2
timer_scale = 5
idle_timeout_s = 15
[workload.stream]
kbps = 300
message_ms = 40
start_s = 6
duration_s = 8
"#
    )
}

fn run_toml(text: &str, seed: Option<u64>) -> RunResult {
    common::run_scenario(text, "stream.toml", seed)
}

fn stream(r: &RunResult) -> &StreamReport {
    r.group
        .as_ref()
        .and_then(|g| g.stream.as_ref())
        .expect("a stream run")
}

#[test]
fn every_player_keeps_continuity_without_loss() {
    let r = run_toml(&swarm(""), None);
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    let s = stream(&r);
    assert_eq!(s.messages, 200);
    assert_eq!(s.complete_players, 199);
    assert!(s.continuity.min >= 0.95, "continuity {:?}", s.continuity);
    assert_eq!(s.counters.out_of_order, 0);
    assert_eq!(
        s.counters.players_ended, 199,
        "every player reaches the end"
    );
    assert!(s.fragment_continuity.min >= 0.95);
    assert!(
        s.publisher_share < 0.5,
        "players relay: {}",
        s.publisher_share
    );
    assert!(!s.continuity_over_time.is_empty());
}

#[test]
fn with_five_percent_loss_and_churn_continuity_holds() {
    let churn = r#"loss = 0.05
[churn]
session = { dist = "exponential", mean_s = 200 }
offline_mean_s = 5
crash_fraction = 0.5
"#;
    let r = run_toml(&swarm(churn), None);
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    let s = stream(&r);
    assert!(s.complete_players >= 150, "{}", s.complete_players);
    // The stream's continuity index (mean over the players present throughout) and its
    // tenth percentile; a player whose first neighbours all joined late may start a few
    // messages in (seen: one of 182 at 0.93).
    assert!(s.continuity.mean >= 0.99, "continuity {:?}", s.continuity);
    assert!(s.continuity.p10 >= 0.95, "continuity {:?}", s.continuity);
    assert!(
        s.fragment_continuity.min >= 0.95,
        "{:?}",
        s.fragment_continuity
    );
    assert_eq!(s.counters.out_of_order, 0);
}

#[test]
fn stream_runs_are_deterministic() {
    let text = swarm("").replace("nodes = 201", "nodes = 21");
    let a = run_toml(&text, None);
    let b = run_toml(&text, None);
    assert_eq!((&a.hash, a.hash_records), (&b.hash, b.hash_records));
    assert!(stream(&a).counters.delivered > 0);
    assert_ne!(a.hash, run_toml(&text, Some(10)).hash);
}

#[test]
fn bad_stream_fields_are_named() {
    let e = Scenario::from_toml(&swarm("").replace("kbps = 300", "kbps = -1"), "bad.toml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("workload.stream.kbps"), "{e}");
    let e = Scenario::from_toml(
        &swarm("").replace("duration_s = 8", "duration_s = 80"),
        "bad.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("workload.stream.duration_s"), "{e}");
}
