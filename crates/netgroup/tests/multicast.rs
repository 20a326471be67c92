//! Multicast streaming (docs/protocol/netgroup.md, "Multicast streams") in the in-memory network
//! with real Flash crypto: one publisher and seven players, a 500 kbit/s stream of audio, video and
//! data messages, with and without loss; every message arrives in order, including the last.

mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rtmfp_netgroup::multicast::media_type;
use rtmfp_netgroup::{
    GroupConfig, GroupEvent, GroupHandle, GroupSpecifier, PlayError, PublishError, StreamError,
    StreamKey,
};
use support::members::{join_all, node, node_ref, swarm, Ev, M};
use support::Net;

fn spec(name: &str) -> GroupSpecifier {
    let mut g = GroupSpecifier::new(name).unwrap();
    g.set_multicast_enabled(true);
    g.set_server_channel_enabled(true);
    g
}

/// The stream: one message every 20 ms, 1250 bytes (500 kbit/s), alternating audio-sized and
/// video-sized, and a data message every 25th. Returns (media type, time, payload).
fn message(i: u32) -> (u8, u32, Bytes) {
    let (t, n) = match i % 25 {
        0 => (media_type::DATA_AMF3, 40),
        k if k % 2 == 0 => (media_type::AUDIO, 300),
        _ => (media_type::VIDEO, 2200),
    };
    let payload: Vec<u8> = (0..n).map(|k| (i as usize * 31 + k) as u8).collect();
    (t, i * 20, Bytes::from(payload))
}

struct Played {
    messages: BTreeMap<usize, Vec<(u8, u32, Bytes)>>,
    ended: BTreeMap<usize, (u64, u64)>,
    published: usize,
    unpublished: usize,
}

fn collect(net: &mut Net<M>, played: &mut Played) {
    for (i, evs) in net.events.iter_mut().enumerate() {
        for e in evs.drain(..) {
            match e {
                Ev::Group(GroupEvent::MulticastMessage { message, .. }) => {
                    played.messages.entry(i).or_default().push((
                        message.media_type,
                        message.time,
                        message.payload,
                    ));
                }
                Ev::Group(GroupEvent::MulticastPlayEnded {
                    lost, delivered, ..
                }) => {
                    played.ended.insert(i, (lost, delivered));
                }
                Ev::Group(GroupEvent::MulticastPublishNotify { .. }) => played.published += 1,
                Ev::Group(GroupEvent::MulticastUnpublishNotify { .. }) => played.unpublished += 1,
                _ => {}
            }
        }
    }
}

/// Publishes `count` messages from member 1 to players 2..=n, then unpublishes; returns what
/// each player got.
fn stream(n: usize, count: u32, loss: f64, seed: u64) -> (Net<M>, GroupHandle, StreamKey, Played) {
    let mut net = swarm(n, 0, seed, GroupConfig::scaled(10));
    let ids: Vec<usize> = (1..=n).collect();
    let g = join_all(&mut net, &ids, &spec("stream"));
    assert!(net.run_until(Duration::from_secs(20), |net| {
        ids.iter()
            .all(|&i| node_ref(net, i).group(g).map(|v| v.neighbor_count()) >= Some(3))
    }));
    for &i in &ids[1..] {
        let now = net.now;
        node(&mut net, i)
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .play("live")
            .unwrap();
    }
    let now = net.now;
    let key = node(&mut net, 1)
        .group_mut(now, g)
        .unwrap()
        .multicast()
        .publish("live")
        .unwrap();
    net.loss = loss;
    let mut played = Played {
        messages: BTreeMap::new(),
        ended: BTreeMap::new(),
        published: 0,
        unpublished: 0,
    };
    for i in 0..count {
        let (t, time, payload) = message(i);
        let now = net.now;
        node(&mut net, 1)
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .publish_message(&key, t, time, payload)
            .unwrap();
        net.run_until(Duration::from_millis(20), |_| false);
        collect(&mut net, &mut played);
    }
    let now = net.now;
    node(&mut net, 1)
        .group_mut(now, g)
        .unwrap()
        .multicast()
        .unpublish(&key)
        .unwrap();
    let players = ids.len() - 1;
    for _ in 0..300 {
        net.run_until(Duration::from_millis(100), |_| false);
        collect(&mut net, &mut played);
        if played.ended.len() == players {
            break;
        }
    }
    assert_eq!(played.ended.len(), players, "every player reaches the end");
    (net, g, key, played)
}

#[test]
fn a_stream_reaches_every_player_in_order_with_its_last_message() {
    let count = 250; // 5 s at 500 kbit/s
    let (net, g, key, played) = stream(8, count, 0.0, 71);
    let expected: Vec<(u8, u32, Bytes)> = (0..count).map(message).collect();
    for i in 2..=8 {
        let got = &played.messages[&i];
        assert_eq!(got.len(), expected.len(), "player {i}");
        assert!(
            got == &expected,
            "player {i} got the stream out of order or altered"
        );
        assert_eq!(played.ended[&i], (0, count as u64));
        let info = node_ref(&net, i)
            .group(g)
            .and_then(|v| v.multicast_info(&key))
            .unwrap();
        assert_eq!(info.fragments_lost, 0);
        assert!(info.fragments_pushed_from_peers + info.fragments_requested_from_peers > 0);
    }
    assert_eq!(played.published, 7, "PublishNotify once per member");
    assert_eq!(played.unpublished, 7, "UnpublishNotify once per member");
    // The publisher did not send the whole stream to everyone itself: players relay.
    let publisher = node_ref(&net, 1)
        .group(g)
        .and_then(|v| v.multicast_info(&key))
        .unwrap();
    let relayed: u64 = (2..=8)
        .map(|i| {
            node_ref(&net, i)
                .group(g)
                .and_then(|v| v.multicast_info(&key))
                .unwrap()
                .fragments_pushed_to_peers
        })
        .sum();
    assert!(relayed > 0, "players relay fragments");
    let fragments = publisher.fragments_published;
    assert!(
        publisher.fragments_pushed_to_peers + publisher.fragments_requested_by_peers
            < 7 * fragments,
        "the publisher sent {} + {} of {} x 7",
        publisher.fragments_pushed_to_peers,
        publisher.fragments_requested_by_peers,
        fragments
    );
    // The statistics stay readable after the stream is forgotten (window + margin later).
    let mut net = net;
    net.run_until(Duration::from_secs(15), |_| false);
    assert!(node_ref(&net, 1)
        .group(g)
        .map(|v| v.multicast_streams())
        .unwrap()
        .is_empty());
    let kept = node_ref(&net, 1)
        .group(g)
        .and_then(|v| v.multicast_info(&key))
        .unwrap();
    assert_eq!(kept.fragments_published, publisher.fragments_published);
    assert_eq!(kept.send_data_bytes, publisher.send_data_bytes);
    // After the end, maps go out only when holdings grow: pruning sends nothing.
    assert_eq!(kept.send_control_bytes, publisher.send_control_bytes);
    // Control overhead stays small at 500 kbit/s.
    for i in 1..=8 {
        let info = node_ref(&net, i)
            .group(g)
            .and_then(|v| v.multicast_info(&key))
            .unwrap();
        assert!(
            info.control_overhead() < 0.1,
            "member {i}: {}",
            info.control_overhead()
        );
    }
}

#[test]
fn with_loss_continuity_holds_and_the_last_message_arrives() {
    let count = 250;
    let (_net, _g, _key, played) = stream(8, count, 0.05, 72);
    let last = message(count - 1);
    for i in 2..=8 {
        let got = &played.messages[&i];
        let continuity = got.len() as f64 / count as f64;
        assert!(continuity >= 0.99, "player {i}: continuity {continuity}");
        assert_eq!(
            got.last(),
            Some(&last),
            "player {i} misses the last message"
        );
        // Messages stay in order.
        assert!(got.windows(2).all(|w| w[0].1 < w[1].1));
    }
}

#[test]
fn api_errors_and_publish_password() {
    let mut net = swarm(2, 0, 73, GroupConfig::scaled(10));
    let plain = GroupSpecifier::new("no-multicast").unwrap();
    let g0 = join_all(&mut net, &[1], &plain);
    let now = net.now;
    assert!(matches!(
        node(&mut net, 1)
            .group_mut(now, g0)
            .unwrap()
            .multicast()
            .publish("x"),
        Err(PublishError::MulticastDisabled)
    ));
    assert!(matches!(
        node(&mut net, 1)
            .group_mut(now, g0)
            .unwrap()
            .multicast()
            .play("x"),
        Err(PlayError::MulticastDisabled)
    ));
    let mut locked = spec("locked");
    locked.set_publish_password(Some("secret"), None);
    let outsider: GroupSpecifier = locked.groupspec_without_authorizations().parse().unwrap();
    let holder: GroupSpecifier = locked.groupspec_with_authorizations().parse().unwrap();
    assert!(holder.publish_authorization().is_some());
    let now = net.now;
    let g = node(&mut net, 1).join(now, &outsider).unwrap();
    assert!(matches!(
        node(&mut net, 1)
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .publish("x"),
        Err(PublishError::NotAuthorized)
    ));
    let g2 = node(&mut net, 2).join(now, &holder).unwrap();
    assert_eq!(g, g2, "authorizations do not change the group");
    let key = node(&mut net, 2)
        .group_mut(now, g2)
        .unwrap()
        .multicast()
        .publish("x")
        .unwrap();
    assert!(matches!(
        node(&mut net, 2)
            .group_mut(now, g2)
            .unwrap()
            .multicast()
            .publish("x"),
        Err(PublishError::AlreadyPublishing)
    ));
    assert!(matches!(
        node(&mut net, 1)
            .group_mut(now, g)
            .unwrap()
            .multicast()
            .publish_message(&key, 8, 0, Bytes::new()),
        Err(StreamError::UnknownStream)
    ));
    let huge = Bytes::from(vec![0; rtmfp_netgroup::multicast::MAX_MESSAGE_BYTES + 1]);
    assert!(matches!(
        node(&mut net, 2)
            .group_mut(now, g2)
            .unwrap()
            .multicast()
            .publish_message(&key, 8, 0, huge),
        Err(StreamError::TooLarge { .. })
    ));
    node(&mut net, 2)
        .group_mut(now, g2)
        .unwrap()
        .multicast()
        .unpublish(&key)
        .unwrap();
    assert!(matches!(
        node(&mut net, 2)
            .group_mut(now, g2)
            .unwrap()
            .multicast()
            .unpublish(&key),
        Err(StreamError::UnknownStream)
    ));
}
