//! `rtmfp connect`: a NetConnection to a server, and optionally a peer-to-peer session to a
//! peer named by its peer ID, with a message exchanged each way.
//!
//! Output is one fact per line (`near-id`, `status`, `far-id`, `p2p-open`, `message`,
//! `exchange-complete`) so scripts and tests can follow it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use bytes::Bytes;
use clap::Args;
use rand::RngCore;
use rtmfp::{Config, Event, Priority, SessionId};
use rtmfp_flash::amf::{self, string, Value};
use rtmfp_flash::message::{self, kind};
use rtmfp_flash::metadata::P2P_STREAM_BASE;
use rtmfp_flash::netconnection::{ClientConfig, NetConnectionEvent};
use rtmfp_flash::{codes, FlashNode, FlowSignature, NodeEvent, TcMessage};

/// Options of `rtmfp connect`.
#[derive(Args)]
pub struct ConnectArgs {
    /// Server URL, `rtmfp://host[:port]/app` (port 1935 by default).
    url: String,
    /// Open a peer-to-peer session to this peer ID (64 hex characters) through the server,
    /// send a message, wait for the answer, then exit.
    #[arg(long)]
    peer: Option<String>,
    /// Identity file; the peer ID is kept across restarts. Default: a fresh identity.
    #[arg(long)]
    identity: Option<PathBuf>,
    /// Local UDP address.
    #[arg(long, default_value = "0.0.0.0:0")]
    bind: SocketAddr,
    /// Addresses to report to the server with setPeerInfo (repeatable).
    #[arg(long = "report-address")]
    report: Vec<SocketAddr>,
    /// Text of the message sent to `--peer`.
    #[arg(long, default_value = "hello")]
    message: String,
}

fn data_message(handler: &str, text: &str) -> Bytes {
    let body = amf::encode_values(&[string(handler), string(text)]);
    Bytes::from(message::encode(kind::AMF0_DATA, 0, &body))
}

fn text_of(data: &[u8]) -> Option<String> {
    let m = TcMessage::decode(data).ok()?;
    if m.kind != kind::AMF0_DATA {
        return None;
    }
    let values = amf::decode_values(m.payload, 8).ok()?;
    values.into_iter().nth(1).and_then(|v| match v {
        Value::String(s) => Some(s),
        _ => None,
    })
}

pub async fn run(args: ConnectArgs) -> Result<(), Box<dyn std::error::Error>> {
    let target: Option<[u8; 32]> = match &args.peer {
        Some(p) => Some(
            p.parse::<rtmfp_netgroup::PeerId>()
                .map_err(|e| format!("--peer: {e}"))?
                .0,
        ),
        None => None,
    };
    let addrs: Vec<SocketAddr> = rtmfp_node::resolve_url(&args.url).await?;
    let profile = rtmfp_node::identity::load_or_create(args.identity.as_deref())?;
    let mut seed = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut seed);
    let node = FlashNode::new(
        Config::default(),
        Box::new(profile),
        seed,
        ClientConfig {
            local_addresses: args.report.clone(),
            ..Default::default()
        },
    );
    let near = hex::encode(node.peer_id());
    let (handle, mut events) = rtmfp_node::spawn_machine(args.bind, node, 1024).await?;
    println!("near-id {near}");
    let url = args.url.clone();
    handle
        .call(move |n, now| n.connect(now, &url, &addrs))
        .await??;
    let mut peer_session: Option<SessionId> = None;
    let mut far_ids: BTreeMap<SessionId, [u8; 32]> = BTreeMap::new();
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev.ok_or("driver stopped")?,
            _ = tokio::signal::ctrl_c() => {
                handle.call(|n, now| { let (ep, nc) = n.parts_mut(); nc.close(ep, now) }).await?;
                return Ok(());
            }
        };
        match ev {
            NodeEvent::NetConnection(NetConnectionEvent::Status(s)) => {
                println!("status {}", s.code);
                if s.code != codes::CONNECT_SUCCESS {
                    return Err(format!("{}: {}", s.code, s.description).into());
                }
                let (far, nn, fnn) = handle
                    .call(|n, _| {
                        let nc = n.net_connection();
                        (
                            nc.far_id(),
                            hex::encode(nc.near_nonce()),
                            hex::encode(nc.far_nonce()),
                        )
                    })
                    .await?;
                println!("far-id {}", far.map(hex::encode).unwrap_or_default());
                println!("near-nonce {nn}");
                println!("far-nonce {fnn}");
                if let Some(t) = target {
                    peer_session = Some(
                        handle
                            .call(move |n, now| n.connect_peer(now, &t, &[]))
                            .await??,
                    );
                }
            }
            NodeEvent::NetConnection(_) => {}
            NodeEvent::Session(Event::SessionOpened {
                session,
                far_fingerprint,
                far_addr,
                ..
            }) => {
                far_ids.insert(session, far_fingerprint);
                println!("p2p-open {} {far_addr}", hex::encode(far_fingerprint));
                if Some(session) == peer_session {
                    let text = format!("{} from {near}", args.message);
                    handle
                        .call(move |n, now| {
                            let ep = n.endpoint_mut();
                            let meta = FlowSignature::stream(P2P_STREAM_BASE + 1).encode();
                            let flow = ep
                                .open_flow(now, session, &meta, None, Priority::default())
                                .map_err(rtmfp_node::DriverError::from)?;
                            ep.write(now, session, flow, data_message("onMessage", &text), None)
                                .map_err(rtmfp_node::DriverError::from)
                        })
                        .await??;
                }
            }
            NodeEvent::Session(Event::ConnectFailed { session, reason })
                if Some(session) == peer_session =>
            {
                println!("p2p-failed {reason:?}");
                return Err(format!("peer unreachable: {reason:?}").into());
            }
            NodeEvent::Session(Event::Message {
                session,
                flow,
                data,
            }) => {
                let Some(text) = text_of(&data) else { continue };
                let from = far_ids.get(&session).map(hex::encode).unwrap_or_default();
                println!("message {from} {text}");
                if Some(session) == peer_session {
                    println!("exchange-complete");
                    handle
                        .call(|n, now| {
                            let (ep, nc) = n.parts_mut();
                            nc.close(ep, now)
                        })
                        .await?;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    return Ok(());
                }
                // Answer on a return flow, as a Flash publisher answers a subscriber.
                let reply = data_message("onMessage", &format!("reply from {near}"));
                handle
                    .call(move |n, now| {
                        let ep = n.endpoint_mut();
                        let meta = FlowSignature::stream(P2P_STREAM_BASE + 1).encode();
                        let back = ep
                            .open_flow(now, session, &meta, Some(flow), Priority::default())
                            .map_err(rtmfp_node::DriverError::from)?;
                        ep.write(now, session, back, reply, None)
                            .map_err(rtmfp_node::DriverError::from)
                    })
                    .await??;
            }
            NodeEvent::Session(_) => {}
        }
    }
}
