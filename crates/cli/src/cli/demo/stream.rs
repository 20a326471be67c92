//! Demo phase: member 0 publishes a multicast stream (docs/protocol/netgroup.md, "Multicast
//! streams") of audio, video and data messages at a given bit rate; every other member plays it.
//! Reports continuity, every data message delivered (the last included), start-up delay, playback
//! lag, control overhead and how much of the upload the publisher carried.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmfp_flash::amf;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::{GroupEvent, GroupHandle};
use rtmfp_node::stream::{data_message, parse_data_message};

use super::{drain_all, on_group, Handle, Rx};

/// One message every this many milliseconds.
const TICK_MS: u64 = 20;

#[derive(Default)]
struct Player {
    /// (arrival since publishing started, stream timestamp), seconds.
    media: Vec<(f64, f64)>,
    data: Vec<String>,
    ended: Option<(u64, u64)>,
}

fn note(players: &mut [Player], t0: Instant, i: usize, e: GroupEvent) {
    match e {
        GroupEvent::MulticastMessage { message, .. } => {
            let p = &mut players[i];
            if message.media_type == media_type::DATA_AMF3 {
                if let Some((h, _)) = parse_data_message(&message.payload) {
                    p.data.push(h);
                }
            } else {
                p.media
                    .push((t0.elapsed().as_secs_f64(), message.time as f64 / 1e3));
            }
        }
        GroupEvent::MulticastPlayEnded {
            fragments, lost, ..
        } => players[i].ended = Some((fragments, lost)),
        _ => {}
    }
}

pub async fn run(
    nodes: &[Handle],
    group: GroupHandle,
    rx: &mut Rx,
    secs: u64,
    kbps: u64,
) -> Result<(), Box<dyn std::error::Error>> {
    let n = nodes.len();
    for h in &nodes[1..] {
        on_group(h, group, |mut g| g.multicast().play("demo-live")).await??;
    }
    let key = on_group(&nodes[0], group, |mut g| g.multicast().publish("demo-live")).await??;
    let mut players: Vec<Player> = (0..n).map(|_| Player::default()).collect();
    let avg = (kbps * 1000 / 8 * TICK_MS / 1000) as usize;
    let t0 = Instant::now();
    let ticks = secs * 1000 / TICK_MS;
    let mut data_sent = 0;
    for k in 0..ticks {
        let time = (k * TICK_MS) as u32;
        let (t, size) = if k.is_multiple_of(2) {
            (media_type::AUDIO, avg.min(300))
        } else {
            (media_type::VIDEO, (2 * avg).saturating_sub(avg.min(300)))
        };
        let payload = Bytes::from(vec![k as u8; size]);
        on_group(&nodes[0], group, move |mut g| {
            g.multicast().publish_message(&key, t, time, payload)
        })
        .await??;
        if (k * TICK_MS).is_multiple_of(1000) || k + 1 == ticks {
            let handler = if k + 1 == ticks { "onEnd" } else { "onTick" };
            let msg = data_message(handler, &[amf::Value::Number(k as f64)]);
            on_group(&nodes[0], group, move |mut g| {
                g.multicast()
                    .publish_message(&key, media_type::DATA_AMF3, time, msg)
            })
            .await??;
            data_sent += 1;
        }
        for (i, e) in drain_all(rx, Duration::ZERO).await {
            note(&mut players, t0, i, e);
        }
        let next = t0 + Duration::from_millis((k + 1) * TICK_MS);
        tokio::time::sleep_until(next.into()).await;
    }
    on_group(&nodes[0], group, move |mut g| g.multicast().unpublish(&key)).await??;
    let end = Instant::now() + Duration::from_secs(30);
    while players[1..].iter().any(|p| p.ended.is_none()) && Instant::now() < end {
        for (i, e) in drain_all(rx, Duration::from_millis(50)).await {
            note(&mut players, t0, i, e);
        }
    }
    let mut infos = Vec::new();
    for h in nodes {
        infos.push(
            h.call(move |g, _| g.group(group).and_then(|v| v.multicast_info(&key)))
                .await?,
        );
    }

    let continuity: Vec<f64> = players[1..]
        .iter()
        .map(|p| {
            p.ended
                .map_or(0.0, |(f, lost)| 1.0 - lost as f64 / f.max(1) as f64)
        })
        .collect();
    let all_data = players[1..]
        .iter()
        .all(|p| p.data.len() == data_sent && p.data.last().map(String::as_str) == Some("onEnd"));
    let startup: Vec<f64> = players[1..]
        .iter()
        .filter_map(|p| p.media.first().map(|(a, ts)| a - ts))
        .collect();
    let mut lags: Vec<f64> = players[1..]
        .iter()
        .flat_map(|p| p.media.iter().map(|(a, ts)| a - ts))
        .collect();
    lags.sort_by(f64::total_cmp);
    let pct =
        |q: f64| lags.get(((lags.len() as f64 * q) as usize).min(lags.len().saturating_sub(1)));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let sent: BTreeMap<usize, u64> = infos
        .iter()
        .enumerate()
        .filter_map(|(i, x)| {
            x.map(|x| {
                (
                    i,
                    x.fragments_pushed_to_peers + x.fragments_requested_by_peers,
                )
            })
        })
        .collect();
    let total_sent: u64 = sent.values().sum();
    let (control, data) = infos.iter().flatten().fold((0u64, 0u64), |(c, d), x| {
        (c + x.send_control_bytes, d + x.send_data_bytes)
    });
    let min_continuity = continuity.iter().copied().fold(1.0, f64::min);
    println!(
        "stream: {secs} s at {kbps} kbit/s to {} players; continuity min {min_continuity:.4} mean {:.4}; every data message delivered, the last included: {all_data}",
        n - 1,
        mean(&continuity)
    );
    println!(
        "stream: start-up delay mean {:.2} s max {:.2} s; playback lag p50 {:.2} s p95 {:.2} s max {:.2} s; control overhead {:.2} % of data bytes; publisher sent {:.0} % of fragment copies",
        mean(&startup),
        startup.iter().copied().fold(0.0, f64::max),
        pct(0.5).unwrap_or(&0.0),
        pct(0.95).unwrap_or(&0.0),
        lags.last().unwrap_or(&0.0),
        control as f64 / data.max(1) as f64 * 100.0,
        *sent.get(&0).unwrap_or(&0) as f64 / total_sent.max(1) as f64 * 100.0
    );
    if min_continuity < 0.99 || !all_data {
        return Err("stream checks failed".into());
    }
    Ok(())
}
