//! Same seed, same run; different seeds, different runs; scenario errors name the field.

mod common;

use rtmfp_sim::run;
use rtmfp_sim::runner::RunOptions;
use rtmfp_sim::scenario::Scenario;

const SMALL: &str = r#"
name = "det"
seed = 7
duration_s = 6
crypto = "plain"
[population]
nodes = 20
[network]
topology = { kind = "geometric", routers = 12, radius = 0.3, size_ms = 60, access_min_ms = 1, access_max_ms = 5 }
jitter_ms = 3
loss = 0.03
bursty = { p_good_to_bad = 0.02, p_bad_to_good = 0.3 }
[population.nat]
full_cone = 0.3
symmetric = 0.2
[churn]
session = { dist = "exponential", mean_s = 8 }
offline_mean_s = 2
crash_fraction = 0.5
[workload]
kind = "sessions"
peers = 2
messages = 5
message_bytes = 300
interval_ms = 20
"#;

fn hash(seed: Option<u64>) -> (String, u64) {
    let r = common::run_scenario(SMALL, "small.toml", seed);
    assert!(r.sessions.unwrap().counters.messages_delivered > 0);
    (r.hash, r.hash_records)
}

#[test]
fn same_seed_same_hash_and_different_seeds_differ() {
    let a = hash(None);
    assert_eq!(a, hash(None));
    assert_eq!(a, hash(Some(7)));
    assert_ne!(a.0, hash(Some(8)).0);
}

#[test]
fn the_default_scenario_is_deterministic() {
    let text = include_str!("../scenarios/default.toml");
    let mut s = Scenario::from_toml(text, "default.toml").unwrap();
    s.duration_s = 4.0;
    s.population.nodes = 12;
    let a = run(&s, RunOptions::default()).unwrap();
    let b = run(&s, RunOptions::default()).unwrap();
    assert_eq!(a.hash, b.hash);
    assert!(a.sessions.as_ref().unwrap().counters.handshakes_completed > 0);
}

fn err(text: &str) -> String {
    Scenario::from_toml(text, "bad.toml")
        .unwrap_err()
        .to_string()
}

#[test]
fn bad_scenarios_name_the_field() {
    let base = "duration_s = 5\n[workload]\nkind = \"sessions\"\n";
    let e = err(&format!("{base}peerz = 3\n"));
    assert!(e.contains("bad.toml") && e.contains("peerz"), "{e}");
    let e = err(&format!("{base}[network]\nlatency = 3\n"));
    assert!(e.contains("latency"), "{e}");
    let e = err(&format!("{base}[network]\nloss = 1.5\n"));
    assert!(e.contains("network.loss"), "{e}");
    let e = err(&format!("{base}[population]\nnodes = \"many\"\n"));
    assert!(e.contains("nodes"), "{e}");
    let e = err("[workload]\nkind = \"sessions\"\n");
    assert!(e.contains("duration_s"), "{e}");
    let e = err("duration_s = 1\n[workload]\nkind = \"posting\"\n");
    assert!(e.contains("posting"), "{e}");
    let e = err(&format!(
        "{base}[network]\ntopology = {{ kind = \"coordinates\", size_ms = 1, access_min_ms = 1, access_max_ms = 2, radius = 3 }}\n"
    ));
    assert!(e.contains("radius"), "{e}");
    let e = err(&format!(
        "{base}[churn]\nsession = {{ dist = \"pareto\", shape = 1.5 }}\n"
    ));
    assert!(e.contains("min_s"), "{e}");
    let e = err(&format!(
        "{base}[[churn.events]]\nat_s = 1\nnode = 999\naction = \"crash\"\n"
    ));
    assert!(e.contains("churn.events[0].node"), "{e}");
    let e = err(&format!("{base}[churn]\nuntil_s = -1\n"));
    assert!(e.contains("churn.until_s"), "{e}");
    for (pop, field) in [
        ("upload_max_kbps = 20", "population.upload_kbps"),
        (
            "upload_kbps = 30\nupload_max_kbps = 20",
            "population.upload_max_kbps",
        ),
    ] {
        let e = err(&format!("{base}[population]\n{pop}\n"));
        assert!(e.contains(field), "{e}");
    }
    for (topo, field) in [
        ("transit_domains = 0", "network.topology.transit_domains"),
        (
            "routers_per_stub = 5000",
            "network.topology.routers_per_stub",
        ),
        (
            "routers_per_transit = 64, stubs_per_transit_router = 64",
            "network.topology.routers_per_stub",
        ),
        ("extra_edge_prob = 2", "network.topology.extra_edge_prob"),
        ("intra_stub_ms = -1", "network.topology.intra_stub_ms"),
        (
            "access_min_ms = 5, access_max_ms = 1",
            "network.topology.access_max_ms",
        ),
        ("stub_routers = 3", "stub_routers"),
    ] {
        let e = err(&format!(
            "{base}[network]\ntopology = {{ kind = \"transit_stub\", {topo} }}\n"
        ));
        assert!(e.contains(field), "{topo}: {e}");
    }
}

#[test]
fn shipped_scenarios_parse() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut n = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.extension().is_some_and(|e| e == "toml") {
            let text = std::fs::read_to_string(&p).unwrap();
            rtmfp_sim::scenario::expand_sweep(&text, &p.display().to_string())
                .unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 4);
}

/// `sweep.csv` gives each run's own speed beside its protocol figures: its events, the
/// events/s measured for it and the ratio to the bare-heap ceiling.
#[test]
fn sweep_rows_carry_the_simulator_speed_of_each_run() {
    use rtmfp_sim::report::{write_sweep, HostStats};
    let text = "name = \"speed-sweep\"\nseed = 3\nduration_s = 2\ncrypto = \"plain\"\n\
                [population]\nnodes = 4\n\
                [workload]\nkind = \"sessions\"\npattern = \"random\"\npeers = 1\nmessages = 3\n\
                message_bytes = 100\ninterval_ms = 100\n\
                [sweep]\nparameter = \"population.nodes\"\nvalues = [3, 5]\n";
    let runs = rtmfp_sim::scenario::expand_sweep(text, "speed-sweep").unwrap();
    let mut results = Vec::new();
    for (i, (label, s)) in runs.iter().enumerate() {
        let r = run(s, RunOptions::default()).unwrap();
        let host = HostStats {
            wall_s: 1.0,
            events_per_s: 1000.0 * (i + 1) as f64,
            rss_bytes: 0,
            rss_per_node_bytes: 0,
            peak_rss_bytes: 0,
            ceiling_events_per_s: if i == 0 { 4000.0 } else { 0.0 },
            wall_at_s: Vec::new(),
        };
        results.push((label.clone(), r, host));
    }
    let dir = std::env::temp_dir().join(format!("rtmfp-sim-sweep-{}", std::process::id()));
    write_sweep(&dir, "population.nodes", &results).unwrap();
    let csv = std::fs::read_to_string(dir.join("sweep.csv")).unwrap();
    assert!(dir.join("sweep-speed.svg").exists());
    let _ = std::fs::remove_dir_all(&dir);
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2);
    for (row, (_, r, host)) in rows.iter().zip(&results) {
        assert_eq!(row[col("events")], r.engine.events.to_string());
        assert!(r.engine.events > 0);
        assert_eq!(
            row[col("events_per_s")].parse::<f64>().unwrap(),
            host.events_per_s
        );
    }
    assert_eq!(rows[0][col("population.nodes")], "3");
    assert_eq!(rows[0][col("ceiling_ratio")].parse::<f64>().unwrap(), 0.25);
    assert_eq!(rows[1][col("ceiling_ratio")].parse::<f64>().unwrap(), 0.0);
}
