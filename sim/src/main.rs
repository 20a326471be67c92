//! `rtmfp-sim`: run simulation scenarios from the command line.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fs::File;
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Instant as WallClock;

use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use rtmfp_sim::pcap::PcapWriter;
use rtmfp_sim::report::{self, HostStats};
use rtmfp_sim::runner::{RunOptions, RunResult};
use rtmfp_sim::scenario::{apply_overrides, expand_sweep, Scenario, ScenarioError};

/// With the `mimalloc` feature, the binary allocates with mimalloc. Without it (the default),
/// it uses the system allocator with its heap on transparent huge pages
/// ([`use_huge_pages`]): at 10,000 members that runs within ≈ 4 % of mimalloc's speed in
/// ≈ 11 % less memory, and 100,000 members fit in 8 GiB (docs/performance-history.md, stop 21).
#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The environment variable that sets glibc's malloc tunables, read once at process start.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
const GLIBC_TUNABLES: &str = "GLIBC_TUNABLES";

/// Backs glibc's heap with transparent huge pages: a run touches its members' state all over
/// a heap of up to several GiB, and 2 MiB pages spare most of the TLB misses (10,000 members:
/// 114 k → 158 k events/s for 0.6 % more memory; docs/performance-history.md, stop 21). glibc reads
/// its tunables only at process start, so the process runs itself again, once, with
/// `GLIBC_TUNABLES=glibc.malloc.hugetlb=1` (glibc ≥ 2.35; older versions ignore it). A
/// `GLIBC_TUNABLES` already set, even empty, is left as it is: that is how to opt out, and how
/// a tool that wraps the process (heaptrack, valgrind) keeps seeing it. If the new process
/// cannot start, this one carries on as it is.
#[cfg(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc")))]
fn use_huge_pages() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os(GLIBC_TUNABLES).is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let mut cmd = std::process::Command::new(exe);
    if let Some(arg0) = args.next() {
        cmd.arg0(arg0);
    }
    // `exec` returns only if it failed.
    let _ = cmd
        .args(args)
        .env(GLIBC_TUNABLES, "glibc.malloc.hugetlb=1")
        .exec();
}

#[cfg(not(all(target_os = "linux", target_env = "gnu", not(feature = "mimalloc"))))]
fn use_huge_pages() {}

/// The scenario `rtmfp-sim run` runs without arguments.
const DEFAULT_SCENARIO: &str = include_str!("../scenarios/group-small.toml");

#[derive(Parser)]
#[command(
    name = "rtmfp-sim",
    version,
    about = "Discrete-event simulator running the real RTMFP code in virtual time"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args)]
struct Common {
    /// Run seed (overrides the scenario's).
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory (default: sim-out/<scenario name>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// No progress bar, no summary on stdout.
    #[arg(long, short)]
    quiet: bool,
    /// Overrides a scenario field, `path=value` in TOML syntax (repeatable), e.g.
    /// `--set population.nodes=1001 --set network.loss=0.05`.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    overrides: Vec<String>,
    /// After each run, times the bare-heap ceiling loop with the same number of events and
    /// reports the run's events/s as a fraction of it.
    #[arg(long)]
    ceiling: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a scenario (without an argument, the built-in `scenarios/group-small.toml`).
    Run {
        /// Scenario file (TOML).
        scenario: Option<PathBuf>,
        #[command(flatten)]
        common: Common,
        /// Runs twice and compares the run hashes; exits with status 1 if they differ.
        #[arg(long)]
        check_determinism: bool,
        /// Writes the traffic to and from these nodes to traffic.pcap (e.g. `0,1,5`).
        #[arg(long, value_delimiter = ',')]
        pcap_nodes: Vec<u32>,
    },
    /// Runs a scenario once per value of its `[sweep]` parameter.
    Sweep {
        /// Scenario file (TOML) with a `[sweep]` table.
        scenario: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

fn load(path: Option<&Path>) -> Result<(String, String), String> {
    match path {
        None => Ok((DEFAULT_SCENARIO.to_string(), "group-small.toml".into())),
        Some(p) => std::fs::read_to_string(p)
            .map(|t| (t, p.display().to_string()))
            .map_err(|e| format!("{}: {e}", p.display())),
    }
}

/// Resident set size from /proc/self/statm (Linux), bytes; 0 elsewhere.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Peak resident set size (`VmHWM` in /proc/self/status, Linux), bytes; 0 elsewhere.
fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(0, |kib| kib * 1024)
}

/// Events per second of the bare-heap loop over `events` events, `width` pending.
fn ceiling_events_per_s(events: u64, width: u64) -> f64 {
    let start = WallClock::now();
    let done = std::hint::black_box(rtmfp_sim::ceiling::bare_heap(events.max(1), width));
    done as f64 / start.elapsed().as_secs_f64().max(1e-9)
}

fn progress_bar(quiet: bool, label: &str) -> ProgressBar {
    if quiet || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new(1000);
    pb.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {percent:>3}% {msg} ({elapsed})")
            .expect("valid template")
            .progress_chars("=> "),
    );
    pb.set_prefix(label.to_string());
    pb
}

type PcapSink = Rc<RefCell<Option<PcapWriter<BufWriter<File>>>>>;

fn run_one(
    s: &Scenario,
    common: &Common,
    pcap: Option<(&Path, &BTreeSet<u32>)>,
) -> Result<(RunResult, HostStats), String> {
    let (seed, quiet) = (common.seed, common.quiet);
    let pb = progress_bar(quiet, &s.name);
    // Without a terminal (logs, CI), a line on stderr every 10 % of virtual time.
    let log_lines = !quiet && !std::io::stderr().is_terminal();
    let started = WallClock::now();
    let mut next_line = 0.1;
    let mut wall_at_s = Vec::new();
    let mut on_progress = |f: f64, events: u64| {
        wall_at_s.push(started.elapsed().as_secs_f64());
        pb.set_position((f * 1000.0) as u64);
        pb.set_message(format!("{events} events"));
        if log_lines && f + 1e-9 >= next_line {
            next_line += 0.1;
            eprintln!(
                "{}: {:.0} % of virtual time, {events} events, {:.0} s wall",
                s.name,
                100.0 * f,
                started.elapsed().as_secs_f64()
            );
        }
    };
    let sink: PcapSink = Rc::new(RefCell::new(None));
    let mut opts = RunOptions {
        seed,
        tap: None,
        progress: Some(&mut on_progress),
    };
    if let Some((path, nodes)) = pcap {
        let f = File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let w = PcapWriter::new(BufWriter::new(f)).map_err(|e| e.to_string())?;
        *sink.borrow_mut() = Some(w);
        let sink = sink.clone();
        let nodes = nodes.clone();
        opts.tap = Some(Box::new(move |r| {
            if nodes.contains(&r.src.0) || nodes.contains(&r.dst.0) {
                if let Some(w) = sink.borrow_mut().as_mut() {
                    let _ = w.write(r.at.as_micros(), r.arrival.from, r.arrival.to, r.payload);
                }
            }
        }));
    }
    let start = WallClock::now();
    let r = rtmfp_sim::run(s, opts).map_err(|e| e.to_string())?;
    let wall_s = start.elapsed().as_secs_f64();
    pb.finish_and_clear();
    if let Some(w) = sink.borrow_mut().take() {
        w.finish().map_err(|e| e.to_string())?;
    }
    let rss = rss_bytes();
    let peak = peak_rss_bytes();
    let ceiling = if common.ceiling {
        // The same width as the engine bench: five pending events per node slot.
        ceiling_events_per_s(r.engine.events, u64::from(r.slots) * 5)
    } else {
        0.0
    };
    let host = HostStats {
        wall_s,
        events_per_s: r.engine.events as f64 / wall_s.max(1e-9),
        rss_bytes: rss,
        rss_per_node_bytes: rss / u64::from(r.slots.max(1)),
        peak_rss_bytes: peak,
        ceiling_events_per_s: ceiling,
        wall_at_s,
    };
    Ok((r, host))
}

fn out_dir(common: &Common, s: &Scenario) -> PathBuf {
    common
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("sim-out").join(&s.name))
}

fn main() -> ExitCode {
    use_huge_pages();
    match real_main() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("rtmfp-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn real_main() -> Result<ExitCode, String> {
    let cli = Cli::parse();
    match cli.command {
        Command::Run {
            scenario,
            common,
            check_determinism,
            pcap_nodes,
        } => {
            let (text, origin) = load(scenario.as_deref())?;
            let text = apply_overrides(&text, &origin, &common.overrides).map_err(|e| e.0)?;
            let s = Scenario::from_toml(&text, &origin).map_err(|e: ScenarioError| e.0)?;
            let dir = out_dir(&common, &s);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let nodes: BTreeSet<u32> = pcap_nodes.into_iter().collect();
            let pcap_path = dir.join("traffic.pcap");
            let pcap = (!nodes.is_empty()).then_some((pcap_path.as_path(), &nodes));
            let (r, host) = run_one(&s, &common, pcap)?;
            report::write_outputs(&dir, &r, Some(&host)).map_err(|e| e.to_string())?;
            if !common.quiet {
                print!("{}", report::summary(&r, Some(&host)));
                println!("outputs     {}", dir.display());
            }
            if check_determinism {
                let (again, _) = run_one(&s, &common, None)?;
                let same = again.hash == r.hash && again.hash_records == r.hash_records;
                println!(
                    "determinism {} (run 1 {} / {} records, run 2 {} / {} records)",
                    if same { "OK" } else { "FAILED" },
                    r.hash,
                    r.hash_records,
                    again.hash,
                    again.hash_records
                );
                if !same {
                    return Ok(ExitCode::from(1));
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Sweep { scenario, common } => {
            let (text, origin) = load(Some(&scenario))?;
            let text = apply_overrides(&text, &origin, &common.overrides).map_err(|e| e.0)?;
            let runs = expand_sweep(&text, &origin).map_err(|e| e.0)?;
            let base = &runs[0].1;
            let Some(parameter) = Scenario::from_toml(&text, &origin)
                .map_err(|e| e.0)?
                .sweep
                .map(|s| s.parameter)
            else {
                return Err(format!("{origin}: no [sweep] table"));
            };
            let dir = out_dir(&common, base);
            let mut results = Vec::new();
            for (label, s) in &runs {
                let (r, host) = run_one(s, &common, None)?;
                let sub = dir.join(label);
                report::write_outputs(&sub, &r, Some(&host)).map_err(|e| e.to_string())?;
                if !common.quiet {
                    println!("== {label}");
                    print!("{}", report::summary(&r, Some(&host)));
                }
                results.push((label.clone(), r, host));
            }
            report::write_sweep(&dir, &parameter, &results).map_err(|e| e.to_string())?;
            if !common.quiet {
                println!("outputs     {}", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
