//! `rtmfp play <name> --group <spec> (--server URL | --lan) -o <file>`: plays a multicast
//! stream of a group (docs/protocol/netgroup.md, "Multicast streams") into a file: an FLV file when
//! the name ends in `.flv` (audio, video and data messages as tags), else the audio and video
//! payloads back to back (so a file published with `rtmfp publish` comes back byte for byte). Data
//! messages are printed. At the end of the stream it prints continuity, start-up delay and lag.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::GroupEvent;
use rtmfp_node::stream::parse_data_message;
use tokio::time::Instant;

use super::flv;
use super::group_opts::GroupOpts;

/// Options of `rtmfp play`.
#[derive(Args)]
pub struct PlayArgs {
    /// Stream name.
    name: String,
    #[command(flatten)]
    group: GroupOpts,
    /// Output file (`.flv`: FLV tags; otherwise raw audio/video payloads).
    #[arg(short = 'o', long)]
    output: PathBuf,
    /// Give up after this many seconds (default: until the stream ends or Ctrl-C).
    #[arg(long)]
    exit_after: Option<u64>,
}

/// Playback statistics: arrival vs stream time.
#[derive(Default)]
struct Stats {
    messages: u64,
    bytes: u64,
    /// (arrival s since play, stream time s).
    times: Vec<(f64, f64)>,
}

impl Stats {
    fn report(&self, ended: Option<(u64, u64)>) {
        let startup = self.times.first().map_or(0.0, |(a, _)| *a);
        // Lag above the best case: arrival minus stream time, less its smallest value.
        let best = self
            .times
            .iter()
            .map(|(a, t)| a - t)
            .fold(f64::INFINITY, f64::min);
        let mut lags: Vec<f64> = self.times.iter().map(|(a, t)| a - t - best).collect();
        lags.sort_by(f64::total_cmp);
        let pct = |q: f64| {
            lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1)))
                .copied()
                .unwrap_or(0.0)
        };
        let continuity = match ended {
            Some((fragments, lost)) => {
                format!("{:.4}", 1.0 - lost as f64 / fragments.max(1) as f64)
            }
            None => "unknown (stream not ended)".into(),
        };
        println!(
            "played {} messages, {} bytes; continuity {continuity}; start-up delay {startup:.2} s; extra lag p50 {:.3} s p95 {:.3} s max {:.3} s",
            self.messages,
            self.bytes,
            pct(0.5),
            pct(0.95),
            lags.last().copied().unwrap_or(0.0)
        );
    }
}

pub async fn run(a: PlayArgs) -> Result<(), Box<dyn std::error::Error>> {
    let as_flv = a
        .output
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("flv"));
    let file =
        std::fs::File::create(&a.output).map_err(|e| format!("{}: {e}", a.output.display()))?;
    let mut out = BufWriter::new(file);
    if as_flv {
        flv::write_header(&mut out)?;
    }
    let (_node, mut group) = a.group.join(None).await?;
    let name = a.name.clone();
    group.with(move |mut g| g.multicast().play(&name)).await??;
    eprintln!("playing {}", a.name);
    let start = Instant::now();
    let deadline = a.exit_after.map(|s| start + Duration::from_secs(s));
    let mut stats = Stats::default();
    let mut ended = None;
    loop {
        let next = match deadline {
            Some(d) => match tokio::time::timeout_at(d, group.next_event()).await {
                Ok(e) => e,
                Err(_) => break,
            },
            None => tokio::select! {
                e = group.next_event() => e,
                _ = tokio::signal::ctrl_c() => break,
            },
        };
        let Some(e) = next else { break };
        match e {
            GroupEvent::MulticastPublishNotify { name, .. } => eprintln!("PublishNotify {name}"),
            GroupEvent::MulticastUnpublishNotify { name, .. } => {
                eprintln!("UnpublishNotify {name}")
            }
            GroupEvent::MulticastMessage { name, message, .. } if name == a.name => {
                stats.messages += 1;
                stats
                    .times
                    .push((start.elapsed().as_secs_f64(), message.time as f64 / 1e3));
                match message.media_type {
                    media_type::AUDIO | media_type::VIDEO => {
                        stats.bytes += message.payload.len() as u64;
                        if as_flv {
                            flv::write_tag(
                                &mut out,
                                &flv::Tag {
                                    kind: message.media_type,
                                    time: message.time,
                                    data: message.payload.to_vec(),
                                },
                            )?;
                        } else {
                            out.write_all(&message.payload)?;
                        }
                    }
                    _ => {
                        if let Some((handler, args)) = parse_data_message(&message.payload) {
                            eprintln!("data {handler} {args:?}");
                            if as_flv {
                                let body = message
                                    .payload
                                    .strip_prefix(&[0u8])
                                    .unwrap_or(&message.payload);
                                flv::write_tag(
                                    &mut out,
                                    &flv::Tag {
                                        kind: 18,
                                        time: message.time,
                                        data: body.to_vec(),
                                    },
                                )?;
                            }
                        }
                    }
                }
            }
            GroupEvent::MulticastPlayEnded {
                name,
                fragments,
                lost,
                ..
            } if name == a.name => {
                ended = Some((fragments, lost));
                break;
            }
            _ => {}
        }
    }
    out.flush()?;
    stats.report(ended);
    group.close().await?;
    if ended.is_none() && a.exit_after.is_none() {
        return Err("interrupted before the end of the stream".into());
    }
    Ok(())
}
