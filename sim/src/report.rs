//! Run outputs: `summary.json`, `summary.txt`, CSV files, SVG plots, and the one-screen summary.

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::group::replication::ReplicationReport;
use crate::metrics::{ms, ms_percentiles};
use crate::plot;
use crate::runner::{CdfKind, RunResult, SessionReport};

/// Measurements of the host process, taken by the binary (never by the engine).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct HostStats {
    /// Wall-clock time of the run, seconds.
    pub wall_s: f64,
    /// Simulator events per wall-clock second.
    pub events_per_s: f64,
    /// Resident memory at the end of the run, bytes (0 if unknown).
    pub rss_bytes: u64,
    /// Resident memory per node slot, bytes.
    pub rss_per_node_bytes: u64,
    /// Peak resident memory of the process (`VmHWM`), bytes (0 if unknown).
    pub peak_rss_bytes: u64,
    /// Events per second of the bare-heap ceiling loop ([`crate::ceiling::bare_heap`]) timed
    /// right after the run with the same number of events (0: not measured).
    pub ceiling_events_per_s: f64,
    /// Host wall-clock seconds since the start of the run at each time-series sample (one per
    /// row of `RunResult::timeseries` when the progress callback saw every row; written as the
    /// `wall_s` column of `timeseries.csv`, so the cost of each phase of a run can be read off).
    #[serde(skip)]
    pub wall_at_s: Vec<f64>,
}

/// The one-screen summary of a run.
pub fn summary(r: &RunResult, host: Option<&HostStats>) -> String {
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
    if let Some(s) = &r.sessions {
        session_lines(&mut o, s, n);
    }
    if let Some(g) = &r.group {
        crate::group::report::summary_lines(&mut o, g, n);
    }
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
    let multicast = e.multicast_taken + e.multicast_ignored + e.multicast_unheard;
    if multicast > 0 {
        let _ = writeln!(
            o,
            "multicast   {multicast} LAN copies: {} taken, {} ignored (not listening), {} unheard (empty slot)",
            e.multicast_taken, e.multicast_ignored, e.multicast_unheard
        );
    }
    if let Some(h) = host {
        let _ = writeln!(
            o,
            "host        {:.2} s wall, {:.0} events/s, RSS {:.1} MiB ({:.1} KiB per node), peak {:.1} MiB",
            h.wall_s,
            h.events_per_s,
            h.rss_bytes as f64 / (1 << 20) as f64,
            h.rss_per_node_bytes as f64 / 1024.0,
            h.peak_rss_bytes as f64 / (1 << 20) as f64
        );
        if h.ceiling_events_per_s > 0.0 {
            let _ = writeln!(
                o,
                "ceiling     bare heap loop {:.0} events/s with the same events: the run is at {:.2} % of it",
                h.ceiling_events_per_s,
                100.0 * h.events_per_s / h.ceiling_events_per_s
            );
        }
    }
    let _ = writeln!(o, "run hash    {} ({} records)", r.hash, r.hash_records);
    o
}

fn session_lines(o: &mut String, s: &SessionReport, n: &crate::net::NetStats) {
    let c = &s.counters;
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
    let _ = writeln!(o, "  time ms   {}", ms_percentiles(&s.handshake_us));
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
    let _ = writeln!(o, "  latency ms {}", ms_percentiles(&s.latency_us));
    let _ = writeln!(
        o,
        "wire        {} datagrams, {:.2} MB (headers incl.), app payload {:.2} MB, overhead {:.1} %",
        n.datagrams_sent,
        n.wire_bytes_sent as f64 / 1e6,
        c.app_bytes_delivered as f64 / 1e6,
        100.0 * s.control_overhead
    );
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
    for c in &r.cdfs {
        put(&format!("{}.csv", c.file), cdf_csv(&c.points))?;
    }
    let mut ts = String::from(
        "t_s,live_nodes,datagrams_sent,wire_bytes,drops,messages_sent,messages_delivered,mean_neighbors,emc_ratio_p10,emc_ratio_p50,emc_ratio_p90,wall_s\n",
    );
    let wall = host
        .map(|h| h.wall_at_s.as_slice())
        .filter(|w| w.len() == r.timeseries.len());
    for (i, row) in r.timeseries.iter().enumerate() {
        let wall_s = wall.map_or(String::new(), |w| format!("{:.3}", w[i]));
        let _ = writeln!(
            ts,
            "{},{},{},{},{},{},{},{:.3},{:.3},{:.3},{:.3},{wall_s}",
            row.t_s,
            row.live_nodes,
            row.datagrams_sent,
            row.wire_bytes,
            row.drops,
            row.messages_sent,
            row.messages_delivered,
            row.mean_neighbors,
            row.emc_ratio[0],
            row.emc_ratio[1],
            row.emc_ratio[2]
        );
    }
    put("timeseries.csv", ts)?;
    let replication = r.group.as_ref().and_then(|g| g.replication.as_ref());
    if let Some(rep) = replication {
        put("replication.csv", replication_csv(rep))?;
    }
    let stream = r.group.as_ref().and_then(|g| g.stream.as_ref());
    if let Some(st) = stream {
        let mut csv = String::from("stream_s,continuity\n");
        for (t, c) in &st.continuity_over_time {
            let _ = writeln!(csv, "{t},{c:.5}");
        }
        put("stream.csv", csv)?;
    }
    let curves = |kind: CdfKind| -> Vec<(&str, Vec<(f64, f64)>)> {
        r.cdfs
            .iter()
            .filter(|c| c.kind == kind && !c.points.is_empty())
            .map(|c| (c.label, c.points.iter().map(|&(v, f)| (ms(v), f)).collect()))
            .collect()
    };
    let svg = dir.join("latency_cdf.svg");
    let title = if r.group.is_some() {
        "post latency, lookup latency and join time"
    } else {
        "message latency and handshake time"
    };
    plot::curves(
        &svg,
        &format!("{}: {title}", r.scenario),
        "milliseconds",
        "fraction",
        &curves(CdfKind::Latency),
    )
    .map_err(io::Error::other)?;
    files.push(svg);
    let delivery = curves(CdfKind::Delivery);
    if !delivery.is_empty() {
        let svg = dir.join("delivery_cdf.svg");
        plot::curves(
            &svg,
            &format!("{}: deliveries by time since sending", r.scenario),
            "milliseconds",
            "fraction of expected",
            &delivery,
        )
        .map_err(io::Error::other)?;
        files.push(svg);
    }
    if let Some(st) = stream {
        let svg = dir.join("continuity_over_time.svg");
        plot::curves(
            &svg,
            &format!("{}: stream continuity of complete players", r.scenario),
            "seconds of stream",
            "fraction of messages delivered",
            &[("continuity", st.continuity_over_time.clone())],
        )
        .map_err(io::Error::other)?;
        files.push(svg);
    }
    if let Some(rep) = replication {
        let svg = dir.join("replication_progress.svg");
        replication_plot(&svg, &r.scenario, rep)?;
        files.push(svg);
    }
    let svg = dir.join("timeseries.svg");
    let step = |f: fn(&crate::runner::TimeRow) -> f64| {
        r.timeseries
            .iter()
            .map(|row| (row.t_s, f(row)))
            .collect::<Vec<_>>()
    };
    let mut series = vec![
        ("live nodes", step(|r| r.live_nodes as f64)),
        ("messages delivered", step(|r| r.messages_delivered as f64)),
    ];
    if r.group.is_some() {
        series.push(("mean neighbours", step(|r| r.mean_neighbors)));
        let emc = dir.join("emc_accuracy.svg");
        plot::curves(
            &emc,
            &format!("{}: estimatedMemberCount / true member count", r.scenario),
            "seconds",
            "ratio (1 = exact)",
            &[
                ("p10", step(|r| r.emc_ratio[0])),
                ("p50", step(|r| r.emc_ratio[1])),
                ("p90", step(|r| r.emc_ratio[2])),
            ],
        )
        .map_err(io::Error::other)?;
        files.push(emc);
    }
    plot::curves(
        &svg,
        &format!("{}: over time", r.scenario),
        "seconds",
        "per interval",
        &series,
    )
    .map_err(io::Error::other)?;
    files.push(svg);
    Ok(files)
}

fn replication_csv(rep: &ReplicationReport) -> String {
    let mut s =
        String::from("t_s,since_start_s,members,fraction_held,members_complete,objects_received\n");
    for p in &rep.progress {
        let _ = writeln!(
            s,
            "{},{:.3},{},{:.5},{},{}",
            p.t_s,
            p.t_s - rep.start_s,
            p.members,
            p.fraction_held,
            p.members_complete,
            p.objects_received
        );
    }
    s
}

/// `replication_progress.svg`: fraction of objects held and of members complete against the
/// time since the start, with the lower bound `T_min` as a vertical line.
fn replication_plot(path: &Path, scenario: &str, rep: &ReplicationReport) -> io::Result<()> {
    let after: Vec<_> = rep
        .progress
        .iter()
        .filter(|p| p.t_s >= rep.start_s)
        .collect();
    let held = after
        .iter()
        .map(|p| (p.t_s - rep.start_s, p.fraction_held))
        .collect();
    let complete = after
        .iter()
        .map(|p| {
            let f = if p.members == 0 {
                0.0
            } else {
                p.members_complete as f64 / p.members as f64
            };
            (p.t_s - rep.start_s, f)
        })
        .collect();
    let mut series = vec![
        ("fraction of objects held", held),
        ("fraction of members complete", complete),
    ];
    let t = rep.bound.t_min_s;
    if t > 0.0 {
        series.push(("lower bound T_min", vec![(t, 0.0), (t, 1.0)]));
    }
    plot::curves(
        path,
        &format!("{scenario}: replication progress"),
        "seconds since the start",
        "fraction",
        &series,
    )
    .map_err(io::Error::other)
}

/// The sweep columns of one run: delivery ratio, a second success ratio, latency p50 and p99
/// (ms), a third figure (handshake p50 ms, or lookup p50 ms), overhead.
fn headline(r: &RunResult) -> (f64, f64, f64, f64, f64, f64) {
    if let Some(g) = &r.group {
        return (
            g.post_delivery_ratio,
            g.lookup_success_ratio,
            ms(g.post_latency_us.p50),
            ms(g.post_latency_us.p99),
            ms(g.lookup_latency_us.p50),
            g.control_overhead,
        );
    }
    match &r.sessions {
        Some(s) => (
            s.delivery_ratio,
            s.handshake_success_ratio,
            ms(s.latency_us.p50),
            ms(s.latency_us.p99),
            ms(s.handshake_us.p50),
            s.control_overhead,
        ),
        None => (0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
    }
}

/// Writes `sweep.csv` and `sweep.svg` (delivery ratio and latency percentiles against the swept
/// value) into `dir`. Group runs report post delivery and latency, lookup success and
/// latency; session runs message delivery and latency, handshake success and time. Each row
/// also gives the simulator's own speed for that run: its events, events per wall-clock
/// second and, when the run was timed against the bare-heap ceiling (`--ceiling`), the ratio
/// to it (0 otherwise); a numeric sweep plots events/s in `sweep-speed.svg`. Memory is left
/// out: one process runs every value, so its resident memory mixes them.
pub fn write_sweep(
    dir: &Path,
    parameter: &str,
    runs: &[(String, RunResult, HostStats)],
) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let group = runs.iter().any(|(_, r, _)| r.group.is_some());
    let (second, third) = if group {
        ("lookup_success", "lookup_p50_ms")
    } else {
        ("handshake_success", "handshake_p50_ms")
    };
    let mut csv = format!(
        "{parameter},delivery_ratio,{second},latency_p50_ms,latency_p99_ms,{third},wire_bytes,control_overhead,hash,events,events_per_s,ceiling_ratio\n"
    );
    let mut p50 = Vec::new();
    let mut p99 = Vec::new();
    let mut speed = Vec::new();
    let mut numeric = true;
    for (label, r, host) in runs {
        let v = label.split_once('=').map_or(label.as_str(), |x| x.1);
        let (d, s2, l50, l99, s3, ov) = headline(r);
        let ratio = if host.ceiling_events_per_s > 0.0 {
            host.events_per_s / host.ceiling_events_per_s
        } else {
            0.0
        };
        let _ = writeln!(
            csv,
            "{v},{d:.5},{s2:.5},{l50:.3},{l99:.3},{s3:.3},{},{ov:.4},{},{},{:.0},{ratio:.5}",
            r.net.wire_bytes_sent, r.hash, r.engine.events, host.events_per_s
        );
        match v.parse::<f64>() {
            Ok(x) => {
                p50.push((x, l50));
                p99.push((x, l99));
                speed.push((x, host.events_per_s));
            }
            Err(_) => numeric = false,
        }
    }
    fs::write(dir.join("sweep.csv"), csv)?;
    if numeric {
        plot::curves(
            &dir.join("sweep.svg"),
            &format!(
                "{} latency against {parameter}",
                if group { "post" } else { "message" }
            ),
            parameter,
            "milliseconds",
            &[("p50", p50), ("p99", p99)],
        )
        .map_err(io::Error::other)?;
        plot::curves(
            &dir.join("sweep-speed.svg"),
            &format!("simulator speed against {parameter}"),
            parameter,
            "events per second",
            &[("events/s", speed)],
        )
        .map_err(io::Error::other)?;
    }
    Ok(())
}
