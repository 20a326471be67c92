//! `rtmfp fetch <manifest-file-or-id> --group <groupspec> (--server … | --lan) -o <file>`:
//! fetches a shared file from the group (manifest first when only its ID is given), with a
//! progress bar; exits with 0 only when the whole file's SHA-256 matches the manifest
//! (`docs/file-sharing.md`). An existing output file is resumed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rtmfp_netgroup::ReplicationStrategy;
use rtmfp_share::{
    fetch, seed, FetchSource, ManifestId, ManifestLimits, Phase, Progress, ShareConfig,
};

use super::member::MemberArgs;
use super::share::{replication_spec, spinner};

/// Fetch order (Flash `NetGroupReplicationStrategy`).
#[derive(Clone, Copy, ValueEnum)]
enum Strategy {
    /// Lowest index first (the file from its start).
    Lowest,
    /// Fewest holders first.
    Rarest,
}

/// Options of `rtmfp fetch`.
#[derive(Args)]
pub struct FetchArgs {
    /// The manifest ID (64 hex digits, printed by `rtmfp share`) or a manifest file
    /// (`rtmfp share --manifest-out`).
    manifest: String,
    /// The groupspec the file is shared in.
    #[arg(long)]
    group: String,
    #[command(flatten)]
    member: MemberArgs,
    /// Output file. An existing one is resumed: its objects that match the manifest are
    /// kept, the rest is fetched, and it is cut to the file's size.
    #[arg(short, long)]
    output: PathBuf,
    /// Fetch order.
    #[arg(long, value_enum, default_value_t = Strategy::Lowest)]
    strategy: Strategy,
    /// After the fetch, keep serving the file to the group for this many seconds.
    #[arg(long, default_value_t = 0)]
    keep_seeding: u64,
    /// Most objects wanted at once (memory: about this many times 64 KiB).
    #[arg(long, default_value_t = 256)]
    window: usize,
    /// Do not resume: fetch everything even if the output file holds intact objects.
    #[arg(long)]
    no_resume: bool,
    /// Give up (exit status 1) if the file is not complete after this many seconds
    /// (default: wait as long as it takes; nobody may be serving the ID).
    #[arg(long)]
    timeout: Option<u64>,
}

/// The manifest to start from: a file, or an ID.
fn source(arg: &str, limits: &ManifestLimits) -> Result<FetchSource, Box<dyn std::error::Error>> {
    let path = Path::new(arg);
    if path.is_file() {
        let len = std::fs::metadata(path)?.len();
        let most = limits
            .max_objects
            .saturating_mul(32)
            .saturating_add(64 + 255);
        if len > most {
            return Err(format!("{arg}: {len} bytes is too large for a manifest").into());
        }
        let bytes = std::fs::read(path)?;
        rtmfp_share::Manifest::decode(&bytes, limits).map_err(|e| format!("{arg}: {e}"))?;
        return Ok(FetchSource::Manifest(Bytes::from(bytes)));
    }
    let id: ManifestId = arg
        .parse()
        .map_err(|_| format!("{arg}: neither a manifest file nor a manifest ID (64 hex digits)"))?;
    Ok(FetchSource::Id(id))
}

fn describe(p: &Progress) -> String {
    let phase = match p.phase {
        Phase::Manifest => format!("manifest ({} chunks)", p.manifest_chunks),
        Phase::Resume => format!("checking the existing file ({} intact)", p.objects_resumed),
        Phase::Objects => format!(
            "{}/{} objects from {} peers",
            p.objects_done,
            p.objects_total,
            p.served_from.len()
        ),
        Phase::Verify => "checking the file's SHA-256".to_string(),
        Phase::Complete => "complete".to_string(),
        Phase::Seeding => format!("seeding: {} requests served", p.objects_served),
    };
    let faulty = if p.objects_faulty > 0 {
        format!(", {} faulty", p.objects_faulty)
    } else {
        String::new()
    };
    format!("{phase}, {} neighbours{faulty}", p.neighbors)
}

pub async fn run(a: FetchArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec = replication_spec(&a.group)?;
    let config = ShareConfig {
        want_window: a.window.max(1),
        strategy: match a.strategy {
            Strategy::Lowest => ReplicationStrategy::LowestFirst,
            Strategy::Rarest => ReplicationStrategy::RarestFirst,
        },
        resume: !a.no_resume,
        ..ShareConfig::default()
    };
    let source = source(&a.manifest, &config.limits)?;
    let node = a.member.start(&spec, a.member.group_config()).await?;
    let mut group = node.join(&spec).await?;
    let id = source.id();
    let pb = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template(
        "[{bar:40}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta} {msg}",
    ) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    let bar = pb.clone();
    let fetching = fetch(&mut group, source, &a.output, &config, move |p| {
        bar.set_length(p.bytes_total);
        bar.set_position(p.bytes_done);
        bar.set_message(describe(p));
    });
    let limit = async {
        match a.timeout {
            Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
            None => std::future::pending().await,
        }
    };
    let r = tokio::select! {
        r = fetching => r,
        _ = tokio::signal::ctrl_c() => {
            pb.abandon_with_message("interrupted (run again to resume)");
            return Err("interrupted".into());
        }
        _ = limit => {
            pb.abandon_with_message("timed out (run again to resume)");
            return Err("timed out before the file was complete".into());
        }
    };
    let (file, p) = match r {
        Ok(x) => x,
        Err(e) => {
            pb.abandon_with_message(format!("failed: {e}"));
            return Err(e.into());
        }
    };
    pb.finish_and_clear();
    let m = file.manifest();
    println!("manifest-id {id}");
    println!(
        "ok {} {} bytes sha256 {}",
        a.output.display(),
        m.file_size,
        hex::encode(m.file_sha256)
    );
    println!(
        "objects {} resumed {} fetched {} faulty {} from {} peers",
        m.object_count(),
        p.objects_resumed,
        p.objects_fetched,
        p.objects_faulty,
        p.served_from.len()
    );
    if a.keep_seeding > 0 {
        let sp = spinner();
        let bar = sp.clone();
        let stop = async {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(a.keep_seeding)) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        let s = seed(&mut group, &file, stop, move |p| {
            bar.set_message(describe(p))
        })
        .await?;
        sp.finish_and_clear();
        println!("served {} requests", s.objects_served);
    }
    group.close().await?;
    Ok(())
}
