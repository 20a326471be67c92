//! Real UDP on 127.0.0.1 through the tokio driver: handshake and a verified bulk transfer in
//! both directions, and a flow rejection.

use std::time::Duration;

use bytes::Bytes;
use rand::{RngCore, SeedableRng};
use rtmfp::crypto::cert::{epd_for_peer_id, epd_for_url};
use rtmfp::{Config, Event, FlashProfile, Priority, SessionId};
use rtmfp_node::{spawn, EndpointHandle, Events};

async fn endpoint(server: bool, seed: u64) -> (EndpointHandle, Events<Event>) {
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(seed);
    let profile = if server {
        FlashProfile::server(&mut rng)
    } else {
        FlashProfile::client(&mut rng)
    };
    spawn(
        "127.0.0.1:0".parse().unwrap(),
        Config::default(),
        Box::new(profile),
        256,
    )
    .await
    .unwrap()
}

async fn next(events: &mut Events<Event>, mut f: impl FnMut(&Event) -> bool) -> Event {
    tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let e = events.recv().await.expect("driver alive");
            if f(&e) {
                return e;
            }
        }
    })
    .await
    .expect("event in time")
}

async fn collect(
    events: &mut Events<Event>,
    session: SessionId,
    flow: u64,
    total: usize,
) -> Vec<u8> {
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        if let Event::Message { data, .. } = next(events, |e| {
            matches!(e,
            Event::Message { session: s, flow: f, .. } if *s == session && *f == flow)
        })
        .await
        {
            out.extend_from_slice(&data);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshake_and_bulk_transfer_over_udp() {
    let (server, mut sev) = endpoint(true, 1).await;
    let (client, mut cev) = endpoint(false, 2).await;
    let url = format!("rtmfp://{}/app", server.local_addr());
    let cs = client
        .connect(epd_for_url(&url), vec![server.local_addr()])
        .await
        .unwrap();
    let Event::SessionOpened {
        far_fingerprint, ..
    } = next(&mut cev, |e| matches!(e, Event::SessionOpened { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(far_fingerprint, server.fingerprint());
    let Event::SessionOpened {
        session: ss,
        far_fingerprint,
        ..
    } = next(&mut sev, |e| matches!(e, Event::SessionOpened { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(far_fingerprint, client.fingerprint());

    let total = 4 << 20;
    let mut up = vec![0u8; total];
    rand_chacha::ChaCha8Rng::seed_from_u64(3).fill_bytes(&mut up);
    let flow = client
        .open_flow(cs, b"TC\x04\x00".to_vec(), None, Priority::BULK)
        .await
        .unwrap();
    let writer = {
        let client = client.clone();
        let up = up.clone();
        tokio::spawn(async move {
            for chunk in up.chunks(100_000) {
                client
                    .write(cs, flow, Bytes::copy_from_slice(chunk))
                    .await
                    .unwrap();
            }
        })
    };
    let Event::FlowOpened { flow: rflow, .. } =
        next(&mut sev, |e| matches!(e, Event::FlowOpened { .. })).await
    else {
        unreachable!()
    };
    // The server answers on a return flow while receiving.
    let sflow = server
        .open_flow(ss, b"TC\x04\x00".to_vec(), Some(rflow), Priority::BULK)
        .await
        .unwrap();
    let down: Vec<u8> = up.iter().rev().copied().collect();
    let writer2 = {
        let server = server.clone();
        let down = down.clone();
        tokio::spawn(async move {
            for chunk in down.chunks(70_000) {
                server
                    .write(ss, sflow, Bytes::copy_from_slice(chunk))
                    .await
                    .unwrap();
            }
        })
    };
    let got_up = collect(&mut sev, ss, rflow, total).await;
    let got_down = collect(&mut cev, cs, sflow, total).await;
    writer.await.unwrap();
    writer2.await.unwrap();
    assert!(got_up == up, "upstream bytes differ");
    assert!(got_down == down, "downstream bytes differ");
    let stats = client.stats().await.unwrap();
    assert!(
        stats.packets_out > 3000 && stats.dropped.total() == 0,
        "{stats:?}"
    );
    client.close(cs).await.unwrap();
    next(&mut sev, |e| matches!(e, Event::SessionClosed { .. })).await;
}

#[tokio::test]
async fn peers_connect_directly_by_peer_id() {
    let (a, mut aev) = endpoint(false, 5).await;
    let (b, mut bev) = endpoint(false, 6).await;
    let s = a
        .connect(epd_for_peer_id(&b.fingerprint()), vec![b.local_addr()])
        .await
        .unwrap();
    next(&mut aev, |e| matches!(e, Event::SessionOpened { .. })).await;
    let flow = a
        .open_flow(s, b"GR\x1c".to_vec(), None, Priority::CONTROL)
        .await
        .unwrap();
    a.write(s, flow, Bytes::from_static(b"hello peer"))
        .await
        .unwrap();
    let Event::Message { data, .. } = next(&mut bev, |e| matches!(e, Event::Message { .. })).await
    else {
        unreachable!()
    };
    assert_eq!(&data[..], b"hello peer");
}
