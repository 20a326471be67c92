//! Run outputs: `summary.json`, `summary.txt`, CSV files, SVG plots, and the one-screen summary.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::plot;
use crate::runner::RunResult;

/// Measurements of the host process, taken by the binary (never by the engine).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct HostStats {
    /// Wall-clock time of the run, seconds.
    pub wall_s: f64,
    /// Simulator events per wall-clock second.
    pub events_per_s: f64,
    /// Resident memory at the end of the run, bytes (0 if unknown).
    pub rss_bytes: u64,
    /// Resident memory per node slot, bytes.
    pub rss_per_node_bytes: u64,
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

/// The one-screen summary of a run.
pub fn summary(r: &RunResult, host: Option<&HostStats>) -> String {
    let s = &r.sessions;
    let c = &s.counters;
    let n = &r.net;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "scenario {}  seed {}  crypto {}{}  nodes {}  virtual {:.1} s",
        r.scenario,
        r.seed,
        r.crypto,
        if r.crypto == "plain" {
            " (same handshake and flows, no encryption)"
        } else {
            ""
        },
        r.slots,
        r.duration_s
    );
    let _ = writeln!(
        o,
        "handshakes  {} started, {} completed ({:.1} %), {} failed, {} pending, {} abandoned",
        c.handshakes_started,
        c.handshakes_completed,
        100.0 * s.handshake_success_ratio,
        c.handshakes_failed,
        s.handshakes_pending,
        c.handshakes_abandoned
    );
    let h = &s.handshake_us;
    let _ = writeln!(
        o,
        "  time ms   p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(h.p50),
        ms(h.p90),
        ms(h.p99),
        ms(h.max)
    );
    let _ = writeln!(
        o,
        "messages    {} sent, {} delivered ({:.2} %), {} duplicates, {} misdelivered, {} write errors",
        c.messages_sent,
        c.messages_delivered,
        100.0 * s.delivery_ratio,
        c.duplicates,
        c.misdelivered,
        c.write_errors
    );
    let l = &s.latency_us;
    let _ = writeln!(
        o,
        "  latency ms p50 {:.1}  p90 {:.1}  p99 {:.1}  max {:.1}",
        ms(l.p50),
        ms(l.p90),
        ms(l.p99),
        ms(l.max)
    );
    let _ = writeln!(
        o,
        "wire        {} datagrams, {:.2} MB (headers incl.), app payload {:.2} MB, overhead {:.1} %",
        n.datagrams_sent,
        n.wire_bytes_sent as f64 / 1e6,
        c.app_bytes_delivered as f64 / 1e6,
        100.0 * s.control_overhead
    );
    let _ = writeln!(
        o,
        "drops       loss {}  burst {}  upload-queue {}  download-queue {}  nat {}  partition {}  no-route {}  dead {}",
        n.drop_loss,
        n.drop_burst,
        n.drop_upload_queue,
        n.drop_download_queue,
        n.drop_nat,
        n.drop_partition,
        n.drop_no_route,
        n.drop_dead
    );
    let e = &r.engine;
    let _ = writeln!(
        o,
        "engine      {} events ({} timers, {} stale, {} arrivals, {} wakeups), peak queue {}, joins {}, leaves {}, crashes {}, live at end {}",
        e.events,
        e.timers,
        e.stale_timers,
        e.arrivals,
        e.wakeups,
        e.peak_queue,
        e.joins,
        e.leaves,
        e.crashes,
        r.live_at_end
    );
    if let Some(h) = host {
        let _ = writeln!(
            o,
            "host        {:.2} s wall, {:.0} events/s, RSS {:.1} MiB ({:.1} KiB per node)",
            h.wall_s,
            h.events_per_s,
            h.rss_bytes as f64 / (1 << 20) as f64,
            h.rss_per_node_bytes as f64 / 1024.0
        );
    }
    let _ = writeln!(o, "run hash    {} ({} records)", r.hash, r.hash_records);
    o
}

fn cdf_csv(points: &[(u64, f64)]) -> String {
    let mut s = String::from("ms,fraction\n");
    for (v, f) in points {
        let _ = writeln!(s, "{:.3},{f:.5}", ms(*v));
    }
    s
}

/// Writes every output of `r` into `dir` (created if needed); returns the files written.
pub fn write_outputs(
    dir: &Path,
    r: &RunResult,
    host: Option<&HostStats>,
) -> io::Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)?;
    let mut files = Vec::new();
    let mut put = |name: &str, data: String| -> io::Result<()> {
        let p = dir.join(name);
        fs::write(&p, data)?;
        files.push(p);
        Ok(())
    };
    #[derive(serde::Serialize)]
    struct Json<'a> {
        #[serde(flatten)]
        run: &'a RunResult,
        host: Option<&'a HostStats>,
    }
    put(
        "summary.json",
        serde_json::to_string_pretty(&Json { run: r, host }).map_err(io::Error::other)?,
    )?;
    put("summary.txt", summary(r, host))?;
    put("latency_cdf.csv", cdf_csv(&r.latency_cdf))?;
    put("handshake_cdf.csv", cdf_csv(&r.handshake_cdf))?;
    let mut ts = String::from(
        "t_s,live_nodes,datagrams_sent,wire_bytes,drops,messages_sent,messages_delivered\n",
    );
    for row in &r.timeseries {
        let _ = writeln!(
            ts,
            "{},{},{},{},{},{},{}",
            row.t_s,
            row.live_nodes,
            row.datagrams_sent,
            row.wire_bytes,
            row.drops,
            row.messages_sent,
            row.messages_delivered
        );
    }
    put("timeseries.csv", ts)?;
    let cdf = |p: &[(u64, f64)]| p.iter().map(|&(v, f)| (ms(v), f)).collect::<Vec<_>>();
    let svg = dir.join("latency_cdf.svg");
    plot::curves(
        &svg,
        &format!("{}: message latency and handshake time", r.scenario),
        "milliseconds",
        "fraction",
        &[
            ("message latency", cdf(&r.latency_cdf)),
            ("handshake", cdf(&r.handshake_cdf)),
        ],
    )
    .map_err(io::Error::other)?;
    files.push(svg);
    let svg = dir.join("timeseries.svg");
    let step = |f: fn(&crate::runner::TimeRow) -> u64| {
        r.timeseries
            .iter()
            .map(|row| (row.t_s, f(row) as f64))
            .collect::<Vec<_>>()
    };
    plot::curves(
        &svg,
        &format!("{}: over time", r.scenario),
        "seconds",
        "per interval",
        &[
            ("live nodes", step(|r| r.live_nodes)),
            ("messages delivered", step(|r| r.messages_delivered)),
        ],
    )
    .map_err(io::Error::other)?;
    files.push(svg);
    Ok(files)
}

/// Writes `sweep.csv` and `sweep.svg` (delivery ratio and latency percentiles against the swept
/// value) into `dir`.
pub fn write_sweep(dir: &Path, parameter: &str, runs: &[(String, RunResult)]) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut csv = format!(
        "{parameter},delivery_ratio,handshake_success,latency_p50_ms,latency_p99_ms,handshake_p50_ms,wire_bytes,control_overhead,hash\n"
    );
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut numeric = true;
    for (label, r) in runs {
        let v = label.split_once('=').map_or(label.as_str(), |x| x.1);
        let s = &r.sessions;
        let _ = writeln!(
            csv,
            "{v},{:.5},{:.5},{:.3},{:.3},{:.3},{},{:.4},{}",
            s.delivery_ratio,
            s.handshake_success_ratio,
            ms(s.latency_us.p50),
            ms(s.latency_us.p99),
            ms(s.handshake_us.p50),
            r.net.wire_bytes_sent,
            s.control_overhead,
            r.hash
        );
        match v.parse::<f64>() {
            Ok(x) => {
                p50.push((x, ms(s.latency_us.p50)));
                p99.push((x, ms(s.latency_us.p99)));
            }
            Err(_) => numeric = false,
        }
    }
    fs::write(dir.join("sweep.csv"), csv)?;
    if numeric {
        plot::curves(
            &dir.join("sweep.svg"),
            &format!("message latency against {parameter}"),
            parameter,
            "milliseconds",
            &[("p50", p50), ("p99", p99)],
        )
        .map_err(io::Error::other)?;
    }
    Ok(())
}
