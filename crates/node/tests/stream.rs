//! A multicast stream over real UDP on loopback (issue 5): one publisher and 12 players
//! through an embedded rendezvous server, 500 kbit/s of audio and video with data messages;
//! every player plays with continuity ≥ 0.99 and gets every data message, the last included.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rtmfp_flash::amf;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::{GroupEvent, GroupSpecifier};
use rtmfp_node::stream::parse_data_message;
use rtmfp_node::{NetGroup, Node};
use support::{node_config, server};
use tokio::time::Instant;

const PLAYERS: usize = 12;
/// 8 s of stream: one message every 20 ms, 1250 bytes on average (500 kbit/s).
const MESSAGES: u32 = 400;

fn media(i: u32) -> (u8, Bytes) {
    let (t, n) = if i.is_multiple_of(2) {
        (media_type::AUDIO, 300)
    } else {
        (media_type::VIDEO, 2200)
    };
    (t, Bytes::from(vec![(i % 251) as u8; n]))
}

#[derive(Default)]
struct Player {
    media: Vec<(u32, usize)>,
    data: Vec<f64>,
    ended: Option<(u64, u64)>,
}

fn drain(groups: &mut [NetGroup], players: &mut [Player]) {
    for (g, p) in groups.iter_mut().zip(players.iter_mut()) {
        while let Some(e) = g.try_next_event() {
            match e {
                GroupEvent::MulticastMessage { message, .. } => {
                    if message.media_type == media_type::DATA_AMF3 {
                        let (h, args) = parse_data_message(&message.payload).unwrap();
                        assert_eq!(h, "onCount");
                        match args.first() {
                            Some(amf::Value::Number(n)) => p.data.push(*n),
                            other => panic!("bad data message {other:?}"),
                        }
                    } else {
                        p.media.push((message.time, message.payload.len()));
                    }
                }
                GroupEvent::MulticastPlayEnded {
                    fragments, lost, ..
                } => p.ended = Some((fragments, lost)),
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_reaches_twelve_players_with_every_data_message() {
    let url = server().await;
    let mut spec = GroupSpecifier::new("stream").unwrap();
    spec.set_multicast_enabled(true);
    spec.set_server_channel_enabled(true);
    spec.make_unique(&mut rand::thread_rng());
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..=PLAYERS {
        let node = Node::connect_with(&url, node_config()).await.unwrap();
        groups.push(node.join(&spec).await.unwrap());
        nodes.push(node);
    }
    // Wait for a connected mesh.
    let end = Instant::now() + Duration::from_secs(20);
    loop {
        let mut ok = true;
        for g in &groups {
            ok &= g.read(|g| g.neighbor_count()).await.unwrap() >= 4;
        }
        if ok || Instant::now() > end {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for g in &groups[1..] {
        g.with(|mut g| g.multicast().play("live"))
            .await
            .unwrap()
            .unwrap();
    }
    let mut players: Vec<Player> = (0..=PLAYERS).map(|_| Player::default()).collect();
    let key = groups[0]
        .with(|mut g| g.multicast().publish("live"))
        .await
        .unwrap()
        .unwrap();
    let start = Instant::now();
    let mut data_sent = 0;
    for i in 0..MESSAGES {
        let (t, payload) = media(i);
        groups[0]
            .with(move |mut g| g.multicast().publish_message(&key, t, i * 20, payload))
            .await
            .unwrap()
            .unwrap();
        if i.is_multiple_of(25) || i == MESSAGES - 1 {
            groups[0]
                .send_stream_data(key, i * 20, "onCount", &[amf::Value::Number(i as f64)])
                .await
                .unwrap();
            data_sent += 1;
        }
        drain(&mut groups, &mut players);
        tokio::time::sleep_until(start + Duration::from_millis(20 * (i as u64 + 1))).await;
    }
    groups[0]
        .with(move |mut g| g.multicast().unpublish(&key))
        .await
        .unwrap()
        .unwrap();
    let end = Instant::now() + Duration::from_secs(30);
    while players[1..].iter().any(|p| p.ended.is_none()) && Instant::now() < end {
        drain(&mut groups, &mut players);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let info = groups[0]
        .read(move |g| g.multicast_info(&key))
        .await
        .unwrap()
        .unwrap();
    for (i, p) in players.iter().enumerate().skip(1) {
        let (fragments, lost) = p.ended.unwrap_or_else(|| panic!("player {i} did not end"));
        let continuity = 1.0 - lost as f64 / fragments as f64;
        assert!(continuity >= 0.99, "player {i}: continuity {continuity}");
        assert!(
            fragments >= info.fragments_published * 99 / 100,
            "player {i} played {fragments} of {} fragments",
            info.fragments_published
        );
        assert_eq!(
            p.data.len(),
            data_sent,
            "player {i}: data messages {:?}",
            p.data
        );
        assert_eq!(
            p.data.last(),
            Some(&((MESSAGES - 1) as f64)),
            "player {i} missed the last"
        );
        assert!(
            p.media.windows(2).all(|w| w[0].0 < w[1].0),
            "player {i}: order"
        );
        let expected: BTreeMap<u32, usize> =
            (0..MESSAGES).map(|i| (i * 20, media(i).1.len())).collect();
        for (time, len) in &p.media {
            assert_eq!(
                expected.get(time),
                Some(len),
                "player {i}: message at {time}"
            );
        }
    }
}
