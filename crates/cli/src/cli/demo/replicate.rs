//! Demo phase: one member holds a generated file cut into 64 KiB objects, every other member
//! wants them all (object replication, docs/protocol/netgroup.md, "Object replication"). Members
//! serve what they hold and add what they fetch to their have set, as Flash applications do.
//! Reports the time until every member holds the whole file intact and who served it.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rtmfp_netgroup::{GroupEvent, GroupHandle};

use super::{drain_all, on_group, Handle, Rx};

/// Object size, bytes (the Flash convention, docs/protocol/netgroup.md, "Object replication").
const OBJECT: usize = 64 * 1024;

/// The file: `mb` × 10^6 pseudo-random bytes, as objects.
fn objects(mb: usize) -> Vec<Bytes> {
    let size = mb * 1_000_000;
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let data: Vec<u8> = (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let data = Bytes::from(data);
    (0..size.div_ceil(OBJECT))
        .map(|i| data.slice(i * OBJECT..((i + 1) * OBJECT).min(size)))
        .collect()
}

pub async fn run(
    nodes: &[Handle],
    group: GroupHandle,
    rx: &mut Rx,
    mb: usize,
    deadline: Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let objs = objects(mb);
    let last = objs.len() as u64 - 1;
    let n = nodes.len();
    let mut held: Vec<BTreeSet<u64>> = vec![BTreeSet::new(); n];
    held[0] = (0..=last).collect();
    let mut served: BTreeMap<usize, u64> = BTreeMap::new();
    let mut corrupt = 0u64;
    let t0 = Instant::now();
    on_group(&nodes[0], group, move |mut g| {
        g.replication().add_have_objects(0, last)
    })
    .await??;
    for h in &nodes[1..] {
        on_group(h, group, move |mut g| {
            g.replication().add_want_objects(0, last)
        })
        .await??;
    }
    let complete = |held: &[BTreeSet<u64>]| held.iter().all(|h| h.len() == objs.len());
    while !complete(&held) {
        if t0.elapsed() > deadline {
            let counts: Vec<usize> = held.iter().map(|h| h.len()).collect();
            return Err(format!("replication incomplete: objects per member {counts:?}").into());
        }
        for (i, e) in drain_all(rx, Duration::from_millis(20)).await {
            match e {
                GroupEvent::ReplicationRequest {
                    index, request_id, ..
                } => {
                    let obj = usize::try_from(index)
                        .ok()
                        .and_then(|k| objs.get(k))
                        .cloned();
                    match obj.filter(|_| held[i].contains(&index)) {
                        Some(o) => {
                            *served.entry(i).or_default() += 1;
                            on_group(&nodes[i], group, move |mut g| {
                                g.replication().write_requested_object(request_id, o)
                            })
                            .await??;
                        }
                        None => {
                            on_group(&nodes[i], group, move |mut g| {
                                g.replication().deny_requested_object(request_id)
                            })
                            .await??;
                        }
                    }
                }
                GroupEvent::ReplicationFetchResult { index, object, .. } => {
                    let intact = usize::try_from(index)
                        .ok()
                        .and_then(|k| objs.get(k))
                        .is_some_and(|o| *o == object);
                    if intact {
                        held[i].insert(index);
                        on_group(&nodes[i], group, move |mut g| {
                            g.replication().add_have_objects(index, index)
                        })
                        .await??;
                    } else {
                        corrupt += 1;
                        on_group(&nodes[i], group, move |mut g| {
                            g.replication().add_want_objects(index, index)
                        })
                        .await??;
                    }
                }
                _ => {}
            }
        }
    }
    let took = t0.elapsed().as_secs_f64();
    let bytes = (mb * 1_000_000) as f64;
    let total: u64 = served.values().sum();
    let seed_share = *served.get(&0).unwrap_or(&0) as f64 / total.max(1) as f64;
    println!(
        "replication: {mb} MB ({} objects of 64 KiB) from one member to {} others in {took:.2} s ({:.1} MB/s delivered in total); every copy intact: {}; seed served {:.0} % of {total} objects, the other members the rest",
        objs.len(),
        n - 1,
        bytes * (n - 1) as f64 / took / 1e6,
        corrupt == 0,
        seed_share * 100.0
    );
    Ok(())
}
