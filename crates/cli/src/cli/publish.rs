//! `rtmfp publish <name> --group <spec> (--server URL | --lan) --file <path> [--rate kbit/s]`:
//! publishes a multicast stream into a group (docs/protocol/netgroup.md, "Multicast streams"). An
//! FLV file is sent tag by tag at its timestamps (script tags as data messages); any other file is
//! cut into messages sent at `--rate`. A final `onEnd` data message carries the byte count; the
//! publisher then unpublishes and keeps serving for `--linger` seconds.

use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use rtmfp_flash::amf;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::GroupEvent;
use rtmfp_node::stream::data_message;
use tokio::time::Instant;

use super::flv;
use super::group_opts::{wait_neighbors, GroupOpts};

/// One message every this many milliseconds for non-FLV files.
const TICK_MS: u64 = 20;

/// Options of `rtmfp publish`.
#[derive(Args)]
pub struct PublishArgs {
    /// Stream name.
    name: String,
    #[command(flatten)]
    group: GroupOpts,
    /// File to stream (FLV: at its timestamps; anything else: at `--rate`).
    #[arg(long)]
    file: PathBuf,
    /// Bit rate for non-FLV files, kbit/s.
    #[arg(long, default_value_t = 500)]
    rate: u64,
    /// Neighbours to wait for before publishing.
    #[arg(long, default_value_t = 1)]
    wait_neighbors: usize,
    /// Seconds to wait after joining before publishing (lets players join).
    #[arg(long, default_value_t = 0)]
    delay: u64,
    /// Seconds to keep serving after the end (window + relay margin: 10 s by default).
    #[arg(long, default_value_t = 10)]
    linger: u64,
}

/// The messages to publish: (media type, timestamp ms, payload).
fn messages(bytes: &[u8], rate_kbps: u64) -> Vec<(u8, u32, Bytes)> {
    if flv::is_flv(bytes) {
        return flv::tags(bytes)
            .into_iter()
            .filter_map(|t| match t.kind {
                8 => Some((media_type::AUDIO, t.time, Bytes::from(t.data))),
                9 => Some((media_type::VIDEO, t.time, Bytes::from(t.data))),
                18 => {
                    let mut p = vec![0u8];
                    p.extend_from_slice(&t.data);
                    Some((media_type::DATA_AMF3, t.time, Bytes::from(p)))
                }
                _ => None,
            })
            .collect();
    }
    let chunk = ((rate_kbps.max(1) * 1000 / 8) * TICK_MS / 1000).max(1) as usize;
    bytes
        .chunks(chunk)
        .enumerate()
        .map(|(k, c)| {
            (
                media_type::VIDEO,
                (k as u64 * TICK_MS) as u32,
                Bytes::copy_from_slice(c),
            )
        })
        .collect()
}

pub async fn run(a: PublishArgs) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(&a.file).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let msgs = messages(&bytes, a.rate);
    let (_node, mut group) = a.group.join(None).await?;
    let n = wait_neighbors(&group, a.wait_neighbors, Duration::from_secs(60)).await?;
    eprintln!("neighbors {n}");
    tokio::time::sleep(Duration::from_secs(a.delay)).await;
    let name = a.name.clone();
    let key = group
        .with(move |mut g| g.multicast().publish(&name))
        .await??;
    eprintln!(
        "publishing {} ({} messages, {} bytes)",
        a.name,
        msgs.len(),
        bytes.len()
    );
    let start = Instant::now();
    let mut last_report = start;
    let mut sent = 0usize;
    let mut last_time = 0;
    for (t, time, payload) in msgs {
        tokio::time::sleep_until(start + Duration::from_millis(time as u64)).await;
        sent += payload.len();
        last_time = time;
        group
            .with(move |mut g| g.multicast().publish_message(&key, t, time, payload))
            .await??;
        while group.try_next_event().is_some() {}
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            eprintln!(
                "{:.0} s: {} bytes published, {} neighbours",
                start.elapsed().as_secs_f64(),
                sent,
                group.read(|g| g.neighbor_count()).await?
            );
        }
    }
    let end = data_message("onEnd", &[amf::Value::Number(sent as f64)]);
    group
        .with(move |mut g| {
            g.multicast()
                .publish_message(&key, media_type::DATA_AMF3, last_time, end)
        })
        .await??;
    group
        .with(move |mut g| g.multicast().unpublish(&key))
        .await??;
    let linger = Instant::now() + Duration::from_secs(a.linger);
    while Instant::now() < linger {
        match tokio::time::timeout_at(linger, group.next_event()).await {
            Ok(Some(GroupEvent::NeighborDisconnect { peer_id, .. })) => {
                eprintln!("neighbor left {peer_id}")
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    if let Some(i) = group.read(move |g| g.multicast_info(&key)).await? {
        println!(
            "published {sent} bytes in {:.1} s; fragments {}: pushed {} and requested {} fragment copies; control overhead {:.2} %",
            start.elapsed().as_secs_f64(),
            i.fragments_published,
            i.fragments_pushed_to_peers,
            i.fragments_requested_by_peers,
            i.control_overhead() * 100.0
        );
    }
    group.close().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_become_paced_messages() {
        let m = messages(&[1u8; 3000], 500); // 1250 bytes per 20 ms
        assert_eq!(m.len(), 3);
        assert_eq!((m[1].1, m[1].2.len(), m[2].2.len()), (20, 1250, 500));
        let mut f = Vec::new();
        flv::write_header(&mut f).unwrap();
        for (kind, time) in [(18u8, 0u32), (9, 0), (8, 23)] {
            flv::write_tag(
                &mut f,
                &flv::Tag {
                    kind,
                    time,
                    data: vec![kind; 4],
                },
            )
            .unwrap();
        }
        let m = messages(&f, 500);
        let kinds: Vec<(u8, u32, usize)> = m.iter().map(|(t, ts, p)| (*t, *ts, p.len())).collect();
        assert_eq!(
            kinds,
            vec![
                (media_type::DATA_AMF3, 0, 5),
                (media_type::VIDEO, 0, 4),
                (media_type::AUDIO, 23, 4)
            ]
        );
    }
}
