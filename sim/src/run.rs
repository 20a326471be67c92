//! [`run`]: runs a scenario with the workload it names (the session workload here, the
//! NetGroup workload in [`crate::group`]).

use rtmfp::{Config, Endpoint, Instant};

use crate::engine::{Engine, EngineConfig};
use crate::scenario::{Scenario, ScenarioError, WorkloadSpec};
use crate::sessions::{SessionParams, SessionWorkload};

use crate::runner::*;

/// Runs scenario `s`.
///
/// Errors: none today (scenarios are validated when parsed); kept for workloads that may
/// refuse a scenario at run time.
pub fn run(s: &Scenario, opts: RunOptions<'_>) -> Result<RunResult, ScenarioError> {
    match &s.workload {
        WorkloadSpec::Sessions { .. } => run_sessions(s, opts),
        WorkloadSpec::Group(spec) => crate::group::run::run_group(s, spec, opts),
    }
}

fn run_sessions(s: &Scenario, mut opts: RunOptions<'_>) -> Result<RunResult, ScenarioError> {
    let seed = opts.seed.unwrap_or(s.seed);
    let net = build_network(s, seed);
    let slots = s.slots();
    let WorkloadSpec::Sessions {
        pattern,
        peers,
        messages,
        message_bytes,
        interval_ms,
        start_delay_s,
    } = s.workload.clone()
    else {
        return Err(ScenarioError("not a session workload".into()));
    };
    let params = SessionParams {
        pattern,
        peers,
        messages,
        message_bytes,
        interval_us: us(interval_ms / 1e3),
        start_delay_us: us(start_delay_s),
        crypto: s.crypto,
        config: Config::default(),
    };
    let workload = SessionWorkload::new(params, slots as usize, seed);
    let mut e: Engine<Endpoint, SessionWorkload> =
        Engine::new(EngineConfig::new(seed), net, workload);
    if let Some(tap) = opts.tap.take() {
        e.set_tap(tap);
    }
    schedule_population(&mut e, s, seed);
    let end = Instant::from_micros(us(s.duration_s));
    let timeseries = drive(&mut e, end, &mut opts.progress, |e| {
        let c = &e.workload().counters;
        net_row(e, c.messages_sent, c.messages_delivered, Gauges::default())
    });
    let wire_bytes_sent = e.network().stats.wire_bytes_sent;
    let w = e.workload_mut();
    let c = w.counters.clone();
    let ratio = |a: u64, b: u64| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let sessions = SessionReport {
        handshakes_pending: w.pending_handshakes(),
        delivery_ratio: ratio(c.messages_delivered, c.messages_sent),
        handshake_success_ratio: ratio(c.handshakes_completed, c.handshakes_started),
        latency_us: w.latency_us.percentiles(),
        handshake_us: w.handshake_us.percentiles(),
        control_overhead: 1.0 - ratio(c.app_bytes_delivered, wire_bytes_sent),
        counters: c,
    };
    let cdfs = vec![
        Cdf {
            file: "latency_cdf",
            label: "message latency",
            kind: CdfKind::Latency,
            points: w.latency_us.cdf(200),
        },
        Cdf {
            file: "handshake_cdf",
            label: "handshake",
            kind: CdfKind::Latency,
            points: w.handshake_us.cdf(200),
        },
    ];
    let outcome = WorkloadOutcome {
        slots,
        sessions: Some(sessions),
        group: None,
        timeseries,
        cdfs,
    };
    Ok(run_result(&e, s, seed, outcome))
}
