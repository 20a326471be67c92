//! `rtmfp share <file> --group <groupspec> (--server rtmfp://host/app | --lan)`: describes
//! the file (manifest of 64 KiB objects and their SHA-256), prints its manifest ID and the
//! command that fetches it, and serves it to the group until Ctrl-C or `--seed-for`
//! (`docs/file-sharing.md`).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rtmfp_netgroup::GroupSpecifier;
use rtmfp_share::{seed, SharedFile};

use super::member::MemberArgs;

/// Options of `rtmfp share`.
#[derive(Args)]
pub struct ShareArgs {
    /// The file to share.
    file: PathBuf,
    /// The groupspec (`G:...`; it must enable object replication:
    /// `rtmfp groupspec --replication ...`).
    #[arg(long)]
    group: String,
    #[command(flatten)]
    member: MemberArgs,
    /// Stop serving after this many seconds (default: until Ctrl-C).
    #[arg(long)]
    seed_for: Option<u64>,
    /// Also write the encoded manifest here (`rtmfp fetch <this file>` skips fetching it).
    #[arg(long)]
    manifest_out: Option<PathBuf>,
}

/// Quotes `s` for a POSIX shell when needed.
pub fn shell_quote(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A spinner on stderr (hidden when stderr is not a terminal).
pub fn spinner() -> ProgressBar {
    let pb = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        pb.set_style(style);
    }
    pb.enable_steady_tick(Duration::from_millis(200));
    pb
}

/// Checks that `text` is a groupspec with object replication.
pub fn replication_spec(text: &str) -> Result<GroupSpecifier, Box<dyn std::error::Error>> {
    let spec: GroupSpecifier = text.parse()?;
    if !spec.object_replication_enabled() {
        return Err(
            "the groupspec does not enable object replication (rtmfp groupspec --replication ...)"
                .into(),
        );
    }
    Ok(spec)
}

pub async fn run(a: ShareArgs) -> Result<(), Box<dyn std::error::Error>> {
    let spec = replication_spec(&a.group)?;
    let pb = spinner();
    pb.set_message(format!("hashing {}", a.file.display()));
    let file = SharedFile::open(&a.file).await?;
    pb.set_message("connecting");
    let node = a.member.start(&spec, a.member.group_config()).await?;
    let mut group = node.join(&spec).await?;
    let m = file.manifest();
    if let Some(p) = &a.manifest_out {
        std::fs::write(p, file.encoded_manifest())?;
    }
    pb.suspend(|| {
        println!("manifest-id {}", file.id());
        println!(
            "file {} {} bytes {} objects of {} bytes sha256 {}",
            m.name,
            m.file_size,
            m.object_count(),
            m.object_size,
            hex::encode(m.file_sha256)
        );
        println!("peer-id {}", node.peer_id());
        println!("fetch with:");
        println!(
            "  rtmfp fetch {} --group {} {} -o {}",
            file.id(),
            shell_quote(&spec.to_string()),
            a.member.how(),
            shell_quote(&m.name)
        );
    });
    let stop = async {
        let limit = async {
            match a.seed_for {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = limit => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    let bar = pb.clone();
    let p = seed(&mut group, &file, stop, move |p| {
        bar.set_message(format!(
            "seeding: {} requests served, {} neighbours",
            p.objects_served, p.neighbors
        ));
    })
    .await?;
    pb.finish_and_clear();
    println!("served {} requests", p.objects_served);
    group.close().await?;
    Ok(())
}
