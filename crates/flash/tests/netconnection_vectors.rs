//! Golden vectors: every NetConnection, NetStream and NetGroup-bootstrap message in the
//! captures of `../shared/vectors/` decodes and re-encodes to the same bytes, and carries what
//! docs/protocol/flash.md, "TC message framing" to "NetGroup control flow" says it carries.

use std::collections::BTreeMap;

use rtmfp::wire::{option, Chunk, PacketHeader};
use rtmfp_flash::amf::{self, Value};
use rtmfp_flash::message::kind;
use rtmfp_flash::{Command, FlowSignature, GcMessage, TcMessage, UserControl};
use serde_json::Value as Json;

fn records(file: &str) -> Vec<Json> {
    let path = format!(
        "{}/../../../shared/vectors/{file}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (shared/ must sit beside the checkout)"));
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A user message found in a capture.
struct Found {
    record: u64,
    signature: FlowSignature,
    data: Vec<u8>,
}

/// Every single-fragment user message of `file` with its flow's signature.
fn messages(file: &str) -> Vec<Found> {
    let mut flows: BTreeMap<(String, u64), FlowSignature> = BTreeMap::new();
    let mut out = Vec::new();
    for r in records(file) {
        let packet = if let Some(p) = r["plaintext"].as_str() {
            hex::decode(p).unwrap()[2..].to_vec()
        } else if let Some(p) = r["plaintext_dump"].as_str() {
            hex::decode(p).unwrap()
        } else {
            continue;
        };
        let src = r["src"].as_str().unwrap().to_string();
        let (_, chunks) = PacketHeader::decode(&packet).unwrap();
        for c in chunks {
            let Ok(Chunk::UserData(u)) = c else { continue };
            if let Some(opts) = u.options {
                if let Some(meta) = option::find(opts, 0) {
                    if let Ok(sig) = FlowSignature::decode(meta) {
                        flows.insert((src.clone(), u.flow_id), sig);
                    }
                }
            }
            let Some(sig) = flows.get(&(src.clone(), u.flow_id)) else {
                continue;
            };
            if u.data.is_empty() {
                continue; // ABN|FIN flow close
            }
            out.push(Found {
                record: r["i"].as_u64().unwrap(),
                signature: sig.clone(),
                data: u.data.to_vec(),
            });
        }
    }
    out
}

/// Decodes and re-encodes one message; returns its command if it is one.
fn check_round_trip(file: &str, m: &Found) -> Option<Command> {
    let ctx = format!("{file} #{}", m.record);
    match m.signature {
        FlowSignature::GroupClient => {
            let gc = GcMessage::decode(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            assert_eq!(gc.encode(), m.data, "{ctx}: GC re-encoding");
            None
        }
        FlowSignature::Tc { .. } => {
            let msg = TcMessage::decode(&m.data).unwrap_or_else(|e| panic!("{ctx}: {e}"));
            match msg.kind {
                kind::AMF0_COMMAND | kind::AMF3_COMMAND => {
                    let c = Command::decode_message(&msg).unwrap_or_else(|e| panic!("{ctx}: {e}"));
                    let again = if msg.kind == kind::AMF0_COMMAND {
                        c.to_message(msg.timestamp)
                    } else {
                        c.to_amf3_message(msg.timestamp)
                    };
                    assert_eq!(hex::encode(again), hex::encode(&m.data), "{ctx}: command");
                    Some(c)
                }
                kind::USER_CONTROL => {
                    let u = UserControl::decode(msg.payload).unwrap();
                    assert_eq!(u.to_message(), m.data, "{ctx}: user control");
                    None
                }
                kind::AMF0_DATA => {
                    let v = amf::decode_values(msg.payload, 16).unwrap();
                    assert_eq!(amf::encode_values(&v), msg.payload, "{ctx}: data");
                    None
                }
                other => panic!("{ctx}: unexpected message type {other:#x}"),
            }
        }
        FlowSignature::GroupPeer(_) => None,
    }
}

#[test]
fn librtmfp_and_monaserver2_netconnection_messages() {
    let file = "handshake-librtmfp-mona.jsonl";
    let found = messages(file);
    let mut names = Vec::new();
    let mut keepalive = None;
    for m in &found {
        if let Some(c) = check_round_trip(file, m) {
            names.push(c.name.clone());
            if c.name == "connect" {
                let info = c.info().unwrap();
                assert_eq!(amf::string_property(info, "app"), Some("live"));
                assert_eq!(
                    amf::string_property(info, "tcUrl"),
                    Some("rtmfp://127.0.0.1")
                );
                assert_eq!(
                    amf::property(info, "objectEncoding"),
                    Some(&Value::Number(3.0))
                );
            }
            if c.name == "setPeerInfo" || c.name == "createStream" {
                // librtmfp ends these after the transaction ID 0.0 (docs/protocol/flash.md, "TC
                // message framing").
                assert_eq!(c.transaction_id, 0.0);
                assert!(c.arguments.is_empty());
            }
        } else if let Ok(msg) = TcMessage::decode(&m.data) {
            if let Ok(UserControl::SetKeepaliveTimer { server_ms, peer_ms }) =
                UserControl::decode(msg.payload)
            {
                keepalive = Some((server_ms, peer_ms));
            }
        }
    }
    assert_eq!(keepalive, Some((15_000, 10_000)));
    for expected in [
        "connect",
        "_result",
        "setPeerInfo",
        "createStream",
        "play",
        "onStatus",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} missing: {names:?}"
        );
    }
    // MonaServer2 answers createStream with stream ID 1.
    let results: Vec<_> = found
        .iter()
        .filter_map(|m| check_round_trip(file, m))
        .filter(|c| c.name == "_result")
        .collect();
    assert_eq!(results[1].arguments, vec![Value::Null, Value::Number(1.0)]);
}

#[test]
fn flash_player_connect_result_and_amf3_set_peer_info() {
    let file = "go-rtmfp-flash11.jsonl";
    let mut seen = Vec::new();
    for m in messages(file) {
        // Record 8 is go-rtmfp's malformed Set Keepalive Timer (metadata bytes leaked into the
        // data, vectors README §3): not a message we should be able to rebuild.
        if m.record == 8 {
            continue;
        }
        let c = check_round_trip(file, &m).expect("only commands in this trace");
        match c.name.as_str() {
            "connect" => {
                let info = c.info().unwrap();
                assert_eq!(
                    amf::string_property(info, "flashVer"),
                    Some("WIN 11,7,700,202")
                );
                assert_eq!(c.transaction_id, 1.0);
            }
            "_result" => {
                let status = rtmfp_flash::Status::from_value(c.info().unwrap()).unwrap();
                assert_eq!(status.code, "NetConnection.Connect.Success");
            }
            "setPeerInfo" => {
                assert_eq!(
                    c.string_arguments().collect::<Vec<_>>(),
                    ["192.168.137.1:55655", "192.168.202.99:55655"]
                );
            }
            other => panic!("unexpected {other}"),
        }
        seen.push(c.name);
    }
    assert_eq!(seen, ["connect", "_result", "setPeerInfo"]);
}

#[test]
fn group_join_and_introduction() {
    let file = "netgroup-librtmfp-mona.jsonl";
    let mut joins = 0;
    let mut intros = Vec::new();
    for m in messages(file) {
        check_round_trip(file, &m);
        if m.signature == FlowSignature::GroupClient {
            match GcMessage::decode(&m.data).unwrap() {
                GcMessage::Join { group_id, legacy } => {
                    assert!(!legacy);
                    assert!(hex::encode(group_id).starts_with("c3ab09fc"));
                    joins += 1;
                }
                GcMessage::Introduction(id) => intros.push(hex::encode(id)),
            }
        }
    }
    assert_eq!(joins, 2, "both peers join");
    assert_eq!(
        intros.len(),
        1,
        "only the existing member is told (docs/protocol/flash.md, \"NetGroup control flow\")"
    );
    assert!(intros[0].starts_with("e9edb73e"));
}
