//! The group codecs against real packets: every decrypted packet of
//! `shared/vectors/netgroup-librtmfp-mona.jsonl` (two librtmfp peers and MonaServer2; vectors
//! README §1, §3.2) is parsed with `rtmfp::wire`, user data is reassembled per flow, and every
//! message on a `GC` or `GR\x1C` flow is decoded and re-encoded byte for byte
//! (docs/protocol/netgroup.md, "Group flows and messages" to "Joining a group").

use std::collections::{BTreeMap, BTreeSet};

use rtmfp::wire::{option, Chunk, FragmentControl, PacketHeader};
use rtmfp::AddressOrigin;
use rtmfp_flash::GcMessage;
use rtmfp_netgroup::wire::{GroupFlowKind, GroupMessage, ReportLimits};
use rtmfp_netgroup::{GroupSpecifier, PeerId};
use serde_json::Value;

fn records() -> Vec<Value> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/netgroup-librtmfp-mona.jsonl"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (shared/ must sit beside the checkout)"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// One reassembled message: record index, sender, flow signature, bytes.
struct Message {
    record: u64,
    src: String,
    signature: Option<GroupFlowKind>,
    bytes: Vec<u8>,
}

/// Walks every packet with a plaintext and returns the messages of every flow, in order, once
/// each (retransmissions skipped).
fn messages() -> Vec<Message> {
    type FlowKey = (String, String, u64);
    let mut metadata: BTreeMap<FlowKey, Vec<u8>> = BTreeMap::new();
    let mut seen: BTreeSet<(FlowKey, u64)> = BTreeSet::new();
    let mut partial: BTreeMap<FlowKey, Vec<u8>> = BTreeMap::new();
    let mut out = Vec::new();
    for r in records() {
        let Some(pt) = r["plaintext"].as_str() else {
            continue;
        };
        let plain = hex::decode(pt).unwrap();
        let packet = &plain[2..]; // checksum first
        let (_, chunks) = PacketHeader::decode(packet).unwrap();
        let (src, dst) = (
            r["src"].as_str().unwrap().to_string(),
            r["dst"].as_str().unwrap().to_string(),
        );
        for chunk in chunks {
            let Chunk::UserData(ud) = chunk.unwrap() else {
                continue;
            };
            let key = (src.clone(), dst.clone(), ud.flow_id);
            if let Some(meta) = ud.options.and_then(|o| option::find(o, 0)) {
                metadata.insert(key.clone(), meta.to_vec());
            }
            if !seen.insert((key.clone(), ud.sequence_number)) || ud.abandon {
                continue;
            }
            let complete = match ud.fragment {
                FragmentControl::Whole => Some(ud.data.to_vec()),
                FragmentControl::Begin => {
                    partial.insert(key.clone(), ud.data.to_vec());
                    None
                }
                FragmentControl::Middle => {
                    partial
                        .entry(key.clone())
                        .or_default()
                        .extend_from_slice(ud.data);
                    None
                }
                FragmentControl::End => partial.remove(&key).map(|mut m| {
                    m.extend_from_slice(ud.data);
                    m
                }),
            };
            if let Some(bytes) = complete {
                if bytes.is_empty() {
                    continue; // the empty ABN|FIN close fragment
                }
                out.push(Message {
                    record: r["i"].as_u64().unwrap(),
                    src: src.clone(),
                    signature: metadata.get(&key).and_then(|m| GroupFlowKind::parse(m)),
                    bytes,
                });
            }
        }
    }
    out
}

const PEER_A: &str = "e9edb73e67a185f08e8de82c0365b3d87f4576ab07580260f4acfc8cae624014";
const PEER_B: &str = "a13d16974d3db1ba5ef4e4e2f2e80b2668bb7aa46afa3cc42dc96213c870eaeb";
const ADDR_A: &str = "127.0.0.1:36160";
const ADDR_B: &str = "127.0.0.1:55680";
const SERVER: &str = "127.0.0.1:1935";

#[test]
fn flow_signatures_seen() {
    let sigs: BTreeSet<GroupFlowKind> = messages().iter().filter_map(|m| m.signature).collect();
    for s in [
        GroupFlowKind::GroupConnection,
        GroupFlowKind::GroupControl,
        GroupFlowKind::MediaControl,
        GroupFlowKind::MediaData,
    ] {
        assert!(sigs.contains(&s), "no {s:?} flow");
    }
}

#[test]
fn gc_messages_decode_and_reencode() {
    let spec: GroupSpecifier = "G:027f02010101000103010c050e74657374011b00"
        .parse()
        .unwrap();
    let mut joins = 0;
    let mut members = 0;
    for m in messages()
        .iter()
        .filter(|m| m.signature == Some(GroupFlowKind::GroupConnection))
    {
        let msg =
            GcMessage::decode(&m.bytes).unwrap_or_else(|e| panic!("record {}: {e}", m.record));
        assert_eq!(msg.encode(), m.bytes, "record {}", m.record);
        match msg {
            GcMessage::Join { group_id, legacy } => {
                assert!(!legacy, "unexpected legacy join");
                assert_eq!(group_id, spec.group_id());
                joins += 1;
            }
            GcMessage::Introduction(peer_id) => {
                // MonaServer2 introduces A to B (record 25).
                assert_eq!(m.src, SERVER);
                assert_eq!(PeerId(peer_id), PEER_A.parse::<PeerId>().unwrap());
                members += 1;
            }
        }
    }
    assert_eq!((joins, members), (2, 1));
}

#[test]
fn gr1c_messages_decode_and_reencode() {
    let spec: GroupSpecifier = "G:027f02010101000103010c050e74657374011b00"
        .parse()
        .unwrap();
    let limits = ReportLimits::default();
    let mut counts: BTreeMap<u8, usize> = BTreeMap::new();
    for m in messages()
        .iter()
        .filter(|m| m.signature == Some(GroupFlowKind::GroupControl))
    {
        let msg = GroupMessage::decode(&m.bytes, &limits)
            .unwrap_or_else(|e| panic!("record {}: {e}", m.record));
        assert_eq!(
            hex::encode(msg.to_bytes()),
            hex::encode(&m.bytes),
            "record {}",
            m.record
        );
        *counts.entry(msg.kind()).or_default() += 1;
        let (me, other, my_addr, other_addr) = if m.src == ADDR_A {
            (PEER_A, PEER_B, ADDR_A, ADDR_B)
        } else {
            (PEER_B, PEER_A, ADDR_B, ADDR_A)
        };
        let _ = me;
        match msg {
            GroupMessage::Connect(c) => {
                assert_eq!(c.group_id, spec.group_id());
                assert_eq!(c.recipient, other.parse::<PeerId>().unwrap());
            }
            GroupMessage::Report(r) => {
                assert_eq!(r.dropped_members, 0);
                assert_eq!(r.dropped_addresses, 0);
                // The recipient's address as seen by the sender, observed (flag 02).
                let ra = r.recipient_address.unwrap();
                assert_eq!(ra.addr.to_string(), other_addr);
                assert_eq!(ra.origin, AddressOrigin::Observed);
                // The sender's host address (the server, flag 03) comes first.
                assert_eq!(r.sender_addresses[0].addr.to_string(), SERVER);
                assert_eq!(r.sender_addresses[0].origin, AddressOrigin::Relay);
                // With two members, each report lists the recipient itself.
                assert_eq!(r.members.len(), 1);
                assert_eq!(r.members[0].peer_id, other.parse::<PeerId>().unwrap());
                assert!(r.members[0].elapsed_secs < 300);
                // Later reports carry the sender's reflexive address learned from the peer.
                for a in r.sender_addresses.iter().skip(1) {
                    assert_eq!(a.addr.to_string(), my_addr);
                }
            }
            GroupMessage::Data(d) => assert!(d.is_empty()),
            GroupMessage::Begin => {}
            other => panic!("record {}: unexpected {other:?}", m.record),
        }
    }
    // 01, 02, 0E in both directions; two pairs of reports.
    assert_eq!(counts.get(&0x01), Some(&2));
    assert_eq!(counts.get(&0x02), Some(&2));
    assert_eq!(counts.get(&0x0e), Some(&2));
    assert_eq!(counts.get(&0x0a), Some(&4));
}

/// Every media message of the capture (docs/protocol/netgroup.md, "Media subscription" to "Pull
/// requests"): subscriptions, end of stream, maps, push masks and pulls on `GR\x11`, fragments on
/// `GR\x12`, decoded and re-encoded byte for byte.
#[test]
fn media_messages_decode_and_reencode() {
    use rtmfp_netgroup::multicast::{Fragment, MediaControl, Piece};
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for m in messages() {
        match m.signature {
            Some(GroupFlowKind::MediaControl) => {
                let c = MediaControl::decode(&m.bytes)
                    .unwrap_or_else(|e| panic!("record {}: {e}", m.record));
                assert_eq!(
                    hex::encode(c.encode()),
                    hex::encode(&m.bytes),
                    "record {}",
                    m.record
                );
                let k = match c {
                    MediaControl::Subscription(s) => {
                        assert_eq!(s.window_ms, Some(8000));
                        "subscription"
                    }
                    MediaControl::End(_) => "end",
                    MediaControl::Map(_) => "map",
                    MediaControl::Push(_) => "push",
                    MediaControl::Pull(_) => "pull",
                };
                *kinds.entry(k).or_default() += 1;
            }
            Some(GroupFlowKind::MediaData) => {
                let bytes = bytes::Bytes::from(m.bytes.clone());
                let f =
                    Fragment::decode(&bytes).unwrap_or_else(|e| panic!("record {}: {e}", m.record));
                assert_eq!(f.encode(), m.bytes, "record {}", m.record);
                assert!(matches!(f.piece, Piece::Whole { .. }));
                *kinds.entry("fragment").or_default() += 1;
            }
            _ => {}
        }
    }
    for k in ["subscription", "end", "map", "push", "pull", "fragment"] {
        assert!(kinds.get(k).is_some_and(|&n| n > 0), "no {k} in {kinds:?}");
    }
}
