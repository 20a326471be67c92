//! Simulator speed: events per second for N plain-profile nodes running the session workload,
//! against a bare `BinaryHeap` event loop doing no work (the ceiling), in the same run.
//!
//! `GLIBC_TUNABLES=glibc.malloc.hugetlb=1 cargo bench -p rtmfp-sim --bench engine`: the
//! tunable gives the system allocator the transparent huge pages the `rtmfp-sim` binary gives
//! itself (src/main.rs); with `--features mimalloc`, the bench allocates as that build does.

use std::time::{Duration, Instant as Wall};

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rtmfp_sim::ceiling::bare_heap;
use rtmfp_sim::run;
use rtmfp_sim::runner::RunOptions;
use rtmfp_sim::scenario::Scenario;

/// The same allocator as a `rtmfp-sim` binary built with the `mimalloc` feature.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn scenario(nodes: u32) -> Scenario {
    let text = format!(
        r#"
name = "bench"
duration_s = 20
crypto = "plain"
[population]
nodes = {nodes}
[network]
topology = {{ kind = "coordinates", size_ms = 80, access_min_ms = 1, access_max_ms = 10 }}
jitter_ms = 1
loss = 0.01
[workload]
kind = "sessions"
peers = 3
messages = 20
message_bytes = 500
interval_ms = 100
"#
    );
    Scenario::from_toml(&text, "bench").expect("valid")
}

/// Events of one run (to size criterion's throughput).
fn events(s: &Scenario) -> u64 {
    run(s, RunOptions::default()).expect("runs").engine.events
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulator");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(5));
    g.warm_up_time(Duration::from_secs(1));
    for nodes in [100u32, 1000] {
        let s = scenario(nodes);
        let n = events(&s);
        g.throughput(Throughput::Elements(n));
        g.bench_function(format!("sessions_plain_{nodes}_nodes"), |b| {
            b.iter(|| black_box(run(&s, RunOptions::default()).expect("runs").engine.events))
        });
        g.bench_function(format!("bare_heap_ceiling_{nodes}_wide"), |b| {
            b.iter(|| black_box(bare_heap(n, nodes as u64 * 5)))
        });
        // One line comparable at a glance, whatever criterion prints.
        let t = Wall::now();
        let e = events(&s);
        let sim = e as f64 / t.elapsed().as_secs_f64();
        let t = Wall::now();
        let h = bare_heap(e, nodes as u64 * 5);
        let heap = h as f64 / t.elapsed().as_secs_f64();
        eprintln!(
            "{nodes} nodes: simulator {:.0} events/s, bare heap {:.0} events/s ({:.1} % of ceiling)",
            sim,
            heap,
            100.0 * sim / heap
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
