//! Deterministic in-memory pairs with real Flash crypto: handshake, bulk transfer under loss,
//! partial reliability, glare, cookie change, close, timeouts, rendezvous, and bad input.

mod pair;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use pair::{rng, Link, Net};
use rand_core::RngCore;
use rtmfp::crypto::cert::{epd_for_peer_id, epd_for_url};
use rtmfp::{
    CloseReason, Config, Endpoint, Event, FlashProfile, Instant, PeerAddress, Priority, Role,
    SessionId,
};

type Log = Rc<RefCell<Vec<(usize, Vec<u8>)>>>;

fn seed(n: u64) -> [u8; 32] {
    let mut s = [0u8; 32];
    rng(n).fill_bytes(&mut s);
    s
}

fn client(n: u64) -> Endpoint {
    Endpoint::new(
        Config::default(),
        Box::new(FlashProfile::client(&mut rng(n))),
        seed(n + 100),
    )
}

fn server(n: u64) -> Endpoint {
    Endpoint::new(
        Config::default(),
        Box::new(FlashProfile::server(&mut rng(n))),
        seed(n + 200),
    )
}

fn opened(events: &[Event]) -> Option<SessionId> {
    events.iter().find_map(|e| match e {
        Event::SessionOpened { session, .. } => Some(*session),
        _ => None,
    })
}

/// Client 0 connects to server 1; returns both session handles once both are open.
fn connect(net: &mut Net) -> (SessionId, SessionId) {
    let epd = epd_for_url("rtmfp://10.0.0.2/app");
    let addr = net.addrs[1];
    let now = net.now;
    net.eps[0].connect(now, epd, &[addr]).unwrap();
    let mut a = None;
    let mut b = None;
    let ok = net.run_until(Duration::from_secs(60), |n| {
        a = a.or_else(|| opened(&n.events[0]));
        b = b.or_else(|| opened(&n.events[1]));
        a.is_some() && b.is_some()
    });
    assert!(ok, "handshake did not complete");
    (a.unwrap(), b.unwrap())
}

/// Whether `events` hold a `SessionClosed` for `reason`.
fn closed(events: &[Event], reason: CloseReason) -> bool {
    events
        .iter()
        .any(|e| matches!(e, Event::SessionClosed { reason: r, .. } if *r == reason))
}

fn messages(seed_n: u64, total: usize) -> Vec<Vec<u8>> {
    let sizes = [1usize, 1000, 5000, 70_000, 300_000, 1152, 2300];
    let mut r = rng(seed_n);
    let mut out = Vec::new();
    let mut left = total;
    let mut i = 0;
    while left > 0 {
        let n = sizes[i % sizes.len()].min(left);
        let mut m = vec![0u8; n];
        r.fill_bytes(&mut m);
        out.push(m);
        left -= n;
        i += 1;
    }
    out
}

fn received(events: &[Event], session: SessionId, flow: u64) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message {
                session: s,
                flow: f,
                data,
            } if *s == session && *f == flow => Some(data.to_vec()),
            _ => None,
        })
        .collect()
}

/// Number of messages `received` would return, without copying them (the bulk tests poll it
/// after every step).
fn received_count(events: &[Event], session: SessionId, flow: u64) -> usize {
    events
        .iter()
        .filter(|e| {
            matches!(e, Event::Message { session: s, flow: f, .. } if *s == session && *f == flow)
        })
        .count()
}

fn bulk_both_ways(link: Link, seed_n: u64, total: usize) {
    let mut net = Net::new(vec![client(seed_n), server(seed_n + 1)], link, seed_n);
    let (cs, ss) = connect(&mut net);
    let now = net.now;
    let cflow = net.eps[0]
        .open_flow(now, cs, b"TC\x04\x00", None, Priority::BULK)
        .unwrap();
    let up = messages(seed_n + 10, total);
    for m in &up {
        net.eps[0]
            .write(now, cs, cflow, Bytes::from(m.clone()), None)
            .unwrap();
    }
    // The server answers on a return flow once it sees the client's flow.
    let ok = net.run_until(Duration::from_secs(60), |n| {
        n.events[1]
            .iter()
            .any(|e| matches!(e, Event::FlowOpened { .. }))
    });
    assert!(ok);
    let (rflow, assoc) = net.events[1]
        .iter()
        .find_map(|e| match e {
            Event::FlowOpened {
                flow,
                return_association,
                metadata,
                ..
            } => {
                assert_eq!(metadata, b"TC\x04\x00");
                Some((*flow, *return_association))
            }
            _ => None,
        })
        .unwrap();
    assert_eq!(assoc, None);
    let now = net.now;
    let sflow = net.eps[1]
        .open_flow(now, ss, b"TC\x04\x00", Some(rflow), Priority::BULK)
        .unwrap();
    let down = messages(seed_n + 20, total);
    for m in &down {
        net.eps[1]
            .write(now, ss, sflow, Bytes::from(m.clone()), None)
            .unwrap();
    }
    let (nu, nd) = (up.len(), down.len());
    let ok = net.run_until(Duration::from_secs(900), |n| {
        received_count(&n.events[1], ss, rflow) == nu
            && received_count(&n.events[0], cs, sflow) == nd
    });
    assert!(ok, "transfer incomplete at {:?}", net.now);
    assert!(
        received(&net.events[1], ss, rflow) == up,
        "upstream content differs"
    );
    assert!(
        received(&net.events[0], cs, sflow) == down,
        "downstream content differs"
    );
    // The client saw the return flow associated with its own flow.
    assert!(net.events[0].iter().any(|e| matches!(e,
        Event::FlowOpened { return_association: Some(f), .. } if *f == cflow)));
    let stats = net.eps[0].session_info(cs).unwrap().stats;
    if link.loss > 0.0 {
        assert!(
            stats.retransmissions > 0,
            "loss without retransmissions: {stats:?}"
        );
    }
    assert!(stats.srtt.is_some());
}

#[test]
fn bulk_10mb_both_ways_no_loss() {
    bulk_both_ways(Link::clean(), 1, 10 << 20);
}

#[test]
fn bulk_10mb_both_ways_5_percent_loss() {
    bulk_both_ways(Link::lossy(0.05), 2, 10 << 20);
}

#[test]
fn bulk_10mb_both_ways_20_percent_loss() {
    bulk_both_ways(Link::lossy(0.20), 3, 10 << 20);
}

/// Client `n` connects to server `n + 1` on a clean link seeded `n`, every datagram logged
/// with its sender; returns the pair and the log once both sessions are open.
fn connect_logged(n: u64) -> (Net, Log) {
    let mut net = Net::new(vec![client(n), server(n + 1)], Link::clean(), n);
    let log: Log = Rc::default();
    let l = log.clone();
    net.filter = Some(Box::new(move |from, _, p| {
        l.borrow_mut().push((from, p.to_vec()));
        true
    }));
    connect(&mut net);
    (net, log)
}

#[test]
fn handshake_layouts_match_flash() {
    let (_net, log) = connect_logged(7);
    let log = log.borrow();
    // IHello, RHello, IIKeying, RIKeying: all startup packets, default key, flags 0x0b.
    let key = *b"Adobe Systems 02";
    let cipher = rtmfp::crypto::flash::FlashCipher::new(key, key);
    let mut buf = Vec::new();
    use rtmfp::crypto::PacketCipher;
    for (i, (_, d)) in log.iter().take(4).enumerate() {
        let pkt = cipher.open(&d[4..], &mut buf).unwrap();
        assert_eq!(pkt[0], 0x0b, "packet {i} flags");
        let kind = pkt[3];
        assert_eq!(kind, [0x30, 0x70, 0x38, 0x78][i]);
        if i == 1 {
            // RHello: tag echo 16, cookie 64, 77-byte server certificate.
            assert_eq!(&pkt[6..7], &[16]);
            assert_eq!(pkt[6 + 17], 64);
            let cert_len = u16::from_be_bytes([pkt[4], pkt[5]]) as usize - 1 - 16 - 1 - 64;
            assert_eq!(cert_len, 77);
        }
    }
}

#[test]
fn partially_reliable_flow_abandons_expired_messages() {
    let mut net = Net::new(vec![client(11), server(12)], Link::clean(), 11);
    let (cs, ss) = connect(&mut net);
    let now = net.now;
    let flow = net.eps[0]
        .open_flow(now, cs, b"TC\x04\x01", None, Priority::VIDEO)
        .unwrap();
    net.eps[0]
        .write(now, cs, flow, Bytes::from_static(b"first"), None)
        .unwrap();
    net.run_until(Duration::from_secs(2), |n| {
        !received(&n.events[1], ss, 1).is_empty()
            || n.events[1]
                .iter()
                .any(|e| matches!(e, Event::Message { .. }))
    });
    // Cut the client's outgoing traffic; an expiring message cannot get through.
    let blocked = Rc::new(RefCell::new(true));
    let b = blocked.clone();
    net.filter = Some(Box::new(move |from, _, _| !(from == 0 && *b.borrow())));
    let now = net.now;
    let deadline = now + Duration::from_millis(300);
    net.eps[0]
        .write(now, cs, flow, Bytes::from(vec![9u8; 5000]), Some(deadline))
        .unwrap();
    net.run_until(Duration::from_secs(2), |_| false);
    *blocked.borrow_mut() = false;
    let now = net.now;
    net.eps[0]
        .write(now, cs, flow, Bytes::from_static(b"after"), None)
        .unwrap();
    let ok = net.run_until(Duration::from_secs(30), |n| {
        n.events[1]
            .iter()
            .any(|e| matches!(e, Event::Message { data, .. } if &data[..] == b"after"))
    });
    assert!(ok, "message after the abandoned one was not delivered");
    let got: Vec<Vec<u8>> = net.events[1]
        .iter()
        .filter_map(|e| match e {
            Event::Message { data, .. } => Some(data.to_vec()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![b"first".to_vec(), b"after".to_vec()]);
}

#[test]
fn glare_yields_one_working_session_each_side() {
    let mut net = Net::new(vec![client(21), client(22)], Link::clean(), 21);
    let ids = [net.eps[0].fingerprint(), net.eps[1].fingerprint()];
    let now = net.now;
    let (a0, a1) = (net.addrs[0], net.addrs[1]);
    let h0 = net.eps[0]
        .connect(now, epd_for_peer_id(&ids[1]), &[a1])
        .unwrap();
    let h1 = net.eps[1]
        .connect(now, epd_for_peer_id(&ids[0]), &[a0])
        .unwrap();
    net.run_until(Duration::from_secs(20), |_| false);
    for (i, h) in [(0usize, h0), (1usize, h1)] {
        let opens: Vec<_> = net.events[i]
            .iter()
            .filter_map(|e| match e {
                Event::SessionOpened {
                    session,
                    far_fingerprint,
                    role,
                    ..
                } => Some((*session, *far_fingerprint, *role)),
                _ => None,
            })
            .collect();
        assert_eq!(opens.len(), 1, "endpoint {i}: {opens:?}");
        assert_eq!(opens[0].0, h, "the connect handle carries the session");
        assert_eq!(opens[0].1, ids[1 - i]);
        assert_eq!(net.eps[i].session_count(), 1);
    }
    // Exactly one side won: one initiator, one responder.
    let roles: Vec<Role> = [h0, h1]
        .iter()
        .enumerate()
        .map(|(i, h)| net.eps[i].session_info(*h).unwrap().role)
        .collect();
    assert_ne!(roles[0], roles[1]);
    let now = net.now;
    let f = net.eps[0]
        .open_flow(now, h0, b"x", None, Priority::CONTROL)
        .unwrap();
    net.eps[0]
        .write(now, h0, f, Bytes::from_static(b"hi"), None)
        .unwrap();
    assert!(net.run_until(Duration::from_secs(5), |n| n.events[1]
        .iter()
        .any(|e| matches!(e, Event::Message { data, .. } if &data[..] == b"hi"))));
}

#[test]
fn cookie_change_when_the_initiator_address_changes() {
    let mut net = Net::new(vec![client(31), server(32)], Link::clean(), 31);
    let now = net.now;
    let addr = net.addrs[1];
    net.eps[0]
        .connect(now, epd_for_url("rtmfp://x/app"), &[addr])
        .unwrap();
    // After the IHello left, the client's NAT rebinds: IIKeying arrives from elsewhere.
    net.drain();
    let moved: SocketAddr = "10.9.9.9:4000".parse().unwrap();
    net.rewrite_from[0] = Some(moved);
    let ok = net.run_until(Duration::from_secs(30), |n| opened(&n.events[1]).is_some());
    assert!(ok);
    assert_eq!(net.eps[1].stats().cookie_changes, 1);
    let s = opened(&net.events[1]).unwrap();
    assert_eq!(net.eps[1].session_info(s).unwrap().far_addr, moved);
    assert!(net.run_until(Duration::from_secs(5), |n| opened(&n.events[0]).is_some()));
}

fn close_from(side: usize) {
    let mut net = Net::new(
        vec![client(41), server(42)],
        Link::clean(),
        41 + side as u64,
    );
    let (cs, ss) = connect(&mut net);
    let handles = [cs, ss];
    let now = net.now;
    net.eps[side].close(now, handles[side]);
    let other = 1 - side;
    let ok = net.run_until(Duration::from_secs(10), |n| {
        closed(&n.events[other], CloseReason::Remote)
    });
    assert!(ok);
    assert!(closed(&net.events[side], CloseReason::Local));
    net.run_until(Duration::from_secs(30), |_| false);
    assert_eq!(net.eps[side].session_count(), 0);
    assert_eq!(net.eps[other].session_count(), 0, "linger ends");
}

#[test]
fn close_from_initiator() {
    close_from(0);
}

#[test]
fn close_from_responder() {
    close_from(1);
}

#[test]
fn abrupt_close_is_seen_as_aborted() {
    let mut net = Net::new(vec![client(43), server(44)], Link::clean(), 43);
    let (cs, _) = connect(&mut net);
    let now = net.now;
    net.eps[0].abort(now, cs);
    let aborted = net.run_until(Duration::from_secs(5), |n| {
        closed(&n.events[1], CloseReason::Aborted)
    });
    assert!(aborted);
}

#[test]
fn silent_peer_times_out_and_keepalives_flow_while_alive() {
    let mut net = Net::new(vec![client(51), server(52)], Link::clean(), 51);
    connect(&mut net);
    net.run_until(Duration::from_secs(60), |_| false);
    assert!(
        net.events[0]
            .iter()
            .all(|e| !matches!(e, Event::SessionClosed { .. })),
        "keepalives keep an idle session open"
    );
    assert!(net.sent[0] > 4, "keepalive pings were sent");
    net.filter = Some(Box::new(|_, _, _| false));
    net.run_until(Duration::from_secs(200), |_| false);
    for i in 0..2 {
        assert!(closed(&net.events[i], CloseReason::Timeout), "endpoint {i}");
        assert_eq!(net.eps[i].session_count(), 0);
    }
}

#[test]
fn duplicate_iikeying_gets_the_stored_rikeying() {
    let (mut net, log) = connect_logged(61);
    let (iikeying, rikeying) = {
        let log = log.borrow();
        (log[2].1.clone(), log[3].1.clone())
    };
    let from = net.addrs[0];
    let now = net.now;
    net.eps[1].handle_datagram(now, from, &iikeying);
    let again = net.eps[1].poll_transmit().unwrap();
    assert_eq!(&again.payload[..], &rikeying[..], "byte-identical RIKeying");
    assert_eq!(net.eps[1].stats().rikeying_retransmits, 1);
    assert_eq!(net.eps[1].session_count(), 1);
}

#[test]
fn rendezvous_forward_and_redirect_introduce_two_peers() {
    // 0 = server, 1 = peer A (target), 2 = peer B (initiator by peer ID).
    let mut net = Net::new(vec![server(71), client(72), client(73)], Link::clean(), 71);
    let srv = net.addrs[0];
    let now = net.now;
    net.eps[1]
        .connect(now, epd_for_url("rtmfp://s/app"), &[srv])
        .unwrap();
    net.eps[2]
        .connect(now, epd_for_url("rtmfp://s/app"), &[srv])
        .unwrap();
    assert!(
        net.run_until(Duration::from_secs(10), |n| opened(&n.events[1]).is_some()
            && opened(&n.events[2]).is_some())
    );
    let a_id = net.eps[1].fingerprint();
    let now = net.now;
    let h = net.eps[2]
        .connect(now, epd_for_peer_id(&a_id), &[srv])
        .unwrap();
    // The server's policy: forward to A and redirect B to A's observed address.
    let ok = net.run_until(Duration::from_secs(30), |n| {
        let ev: Vec<Event> = n.take_events(0);
        for e in ev {
            if let Event::UnmatchedIHello { from, epd, tag } = e {
                let target = n.eps[0].session_by_fingerprint(&a_id).unwrap();
                let a_addr = n.eps[0].session_info(target).unwrap().far_addr;
                let now = n.now;
                n.eps[0]
                    .forward_ihello(now, target, &epd, &tag, from)
                    .unwrap();
                n.eps[0].redirect(
                    now,
                    from,
                    &tag,
                    &[PeerAddress::new(a_addr, rtmfp::AddressOrigin::Observed)],
                );
            } else {
                n.events[0].push(e);
            }
        }
        n.events[2]
            .iter()
            .any(|e| matches!(e, Event::SessionOpened { session, .. } if *session == h))
    });
    assert!(ok, "P2P session through the server");
    let info = net.eps[2].session_info(h).unwrap();
    assert_eq!(info.far_fingerprint, a_id);
    assert_eq!(
        info.far_addr, net.addrs[1],
        "direct session, not via the server"
    );
    assert!(net.eps[0].stats().unmatched_ihellos >= 1);
}

#[test]
fn bad_datagrams_are_counted_and_dropped() {
    let mut net = Net::new(vec![client(81), server(82)], Link::clean(), 81);
    let (cs, _) = connect(&mut net);
    let log: Rc<RefCell<Vec<Vec<u8>>>> = Rc::default();
    let l = log.clone();
    net.filter = Some(Box::new(move |from, _, p| {
        if from == 0 {
            l.borrow_mut().push(p.to_vec());
        }
        true
    }));
    let now = net.now;
    let f = net.eps[0]
        .open_flow(now, cs, b"m", None, Priority::BULK)
        .unwrap();
    net.eps[0]
        .write(now, cs, f, Bytes::from_static(b"data"), None)
        .unwrap();
    net.run_until(Duration::from_secs(2), |_| false);
    let good = log.borrow()[0].clone();
    let from = net.addrs[0];
    let srv = &mut net.eps[1];
    let before = srv.stats().dropped.total();
    let now = net.now;
    // Truncated, oversized, wrong checksum (flipped bit), random, empty, wrong key.
    srv.handle_datagram(now, from, &good[..3]);
    srv.handle_datagram(now, from, &good[..good.len() - 5]);
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x40;
    srv.handle_datagram(now, from, &flipped);
    srv.handle_datagram(now, from, &vec![0x55; 9000]);
    srv.handle_datagram(now, from, &[]);
    let mut r = rng(99);
    for len in [5usize, 16, 20, 100, 1200, 1500] {
        let mut d = vec![0u8; len];
        r.fill_bytes(&mut d);
        srv.handle_datagram(now, from, &d);
    }
    let stats = srv.stats().dropped.clone();
    assert!(stats.total() - before >= 10, "{stats:?}");
    assert!(
        stats.short >= 2 && stats.decrypt >= 2 && stats.unknown_session >= 5,
        "{stats:?}"
    );
    // Replay of an already processed packet: accepted by the cipher, but the flow sees a
    // duplicate and only acks again; no second delivery.
    let msgs_before = net.events[1]
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count();
    let now = net.now;
    net.eps[1].handle_datagram(now, from, &good);
    net.run_until(Duration::from_secs(2), |_| false);
    let msgs_after = net.events[1]
        .iter()
        .filter(|e| matches!(e, Event::Message { .. }))
        .count();
    assert_eq!(msgs_before, msgs_after);
}

#[test]
fn ihello_flood_leaves_responder_stateless() {
    let mut srv = server(91);
    let mut cli = client(92);
    let now = Instant::from_micros(5_000_000);
    // Capture one real IHello and replay it from 20 000 addresses.
    cli.connect(
        now,
        epd_for_url("rtmfp://s/app"),
        &["10.0.0.1:1935".parse().unwrap()],
    )
    .unwrap();
    let ihello = cli.poll_transmit().unwrap().payload;
    for i in 0..20_000u32 {
        let from = SocketAddr::from(([172, 16, (i >> 8) as u8, i as u8], 1000 + (i % 5000) as u16));
        srv.handle_datagram(now, from, &ihello);
        while srv.poll_transmit().is_some() {}
    }
    assert_eq!(srv.stats().packets_out, 20_000, "one RHello each");
    assert_eq!(srv.session_count(), 0);
    assert_eq!(srv.poll_timeout(), None, "no per-initiator timers");
    // And a bogus IIKeying (wrong cookie) creates nothing either.
    assert_eq!(srv.stats().dropped.total(), 0);
}

#[test]
fn address_change_is_verified_before_moving() {
    let mut net = Net::new(vec![client(95), server(96)], Link::clean(), 95);
    let (cs, ss) = connect(&mut net);
    let moved: SocketAddr = "10.7.7.7:5555".parse().unwrap();
    net.rewrite_from[0] = Some(moved);
    let now = net.now;
    let f = net.eps[0]
        .open_flow(now, cs, b"m", None, Priority::BULK)
        .unwrap();
    net.eps[0]
        .write(now, cs, f, Bytes::from_static(b"moved"), None)
        .unwrap();
    let ok = net.run_until(Duration::from_secs(5), |n| {
        n.events[1].iter().any(|e| {
            matches!(e,
        Event::AddressChanged { addr, .. } if *addr == moved)
        })
    });
    assert!(ok);
    assert_eq!(net.eps[1].session_info(ss).unwrap().far_addr, moved);
}

#[test]
fn opening_gives_up_after_95_seconds_with_linear_retries() {
    let mut net = Net::new(vec![client(101), server(102)], Link::clean(), 101);
    net.filter = Some(Box::new(|from, _, _| from != 0)); // the server never hears us
    let now = net.now;
    let addr = net.addrs[1];
    let h = net.eps[0]
        .connect(now, epd_for_url("rtmfp://x/app"), &[addr])
        .unwrap();
    net.run_until(Duration::from_secs(94), |_| false);
    assert!(
        net.events[0].is_empty(),
        "still trying at 94 s: {:?} at {:?}",
        net.events[0],
        net.now
    );
    // 1 s, then +1.5 s each: retries at 1, 3.5, 7.5, 13, 20, 28.5, 38.5, 50, 63, 77.5, 93.5 s.
    assert_eq!(net.sent[0], 12, "initial IHello plus 11 retries");
    net.run_until(Duration::from_secs(5), |_| false);
    assert_eq!(
        net.take_events(0),
        vec![Event::ConnectFailed {
            session: h,
            reason: rtmfp::ConnectFailure::Timeout
        }]
    );
    assert_eq!(net.eps[0].poll_timeout(), None);
}

#[test]
fn reconnect_with_same_certificate_overrides_stale_session() {
    let identity = FlashProfile::client(&mut rng(111));
    let (group, key) = identity.static_private_key().unwrap();
    let mut net = Net::new(vec![client(111), server(112)], Link::clean(), 111);
    net.eps[0] = Endpoint::new(Config::default(), Box::new(identity), seed(1));
    let (_, old) = connect(&mut net);
    // The client restarts with the same identity and address, forgetting its session.
    let again = FlashProfile::from_static_private_key(group, &key).unwrap();
    net.eps[0] = Endpoint::new(Config::default(), Box::new(again), seed(2));
    net.take_events(0);
    net.take_events(1);
    let (_, new) = connect(&mut net);
    assert_ne!(old, new);
    assert!(net.events[1].iter().any(|e| *e
        == Event::SessionClosed {
            session: old,
            reason: CloseReason::Replaced
        }));
    assert_eq!(net.eps[1].session_count(), 1);
}

#[test]
fn abort_leaves_no_timer_behind() {
    let mut net = Net::new(vec![client(121), server(122)], Link::clean(), 121);
    let (cs, _) = connect(&mut net);
    let now = net.now;
    net.eps[0].abort(now, cs);
    assert_eq!(net.eps[0].session_count(), 0);
    assert_eq!(net.eps[0].poll_timeout(), None);
}
