//! `rtmfp::Endpoint` as a simulated node, and how to build one with either crypto profile.

use rtmfp::{Config, Endpoint, Event, FlashProfile, PlainProfile};

use crate::hash::RunHash;
use crate::node::{digest_sockaddr, SimNode};
use crate::rng::{seed32, SimRng};

/// Which RTMFP crypto profile the nodes use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crypto {
    /// The Flash profile (RFC 7425): DH group 2 static keys, AES-128-CBC, checksums; what
    /// Flash-era peers speak. Realistic CPU cost per packet and per handshake.
    #[default]
    Flash,
    /// The plain profile: the same handshake (cookies, certificates, keying exchange) and the
    /// same sessions and flows, but no encryption and no DH: for large runs.
    Plain,
}

impl Crypto {
    /// Its name in scenarios and reports.
    pub fn name(self) -> &'static str {
        match self {
            Crypto::Flash => "flash",
            Crypto::Plain => "plain",
        }
    }
}

/// A fresh peer endpoint (Flash Player-style static identity, or a plain one) with keys and
/// endpoint seed drawn from `rng`.
pub fn new_endpoint(crypto: Crypto, config: Config, rng: &mut SimRng) -> Endpoint {
    let seed = seed32(rng);
    match crypto {
        Crypto::Flash => Endpoint::new(config, Box::new(FlashProfile::client(rng)), seed),
        Crypto::Plain => Endpoint::new(config, Box::new(PlainProfile::new(rng, false)), seed),
    }
}

impl SimNode for Endpoint {
    fn digest_event(event: &Event, h: &mut RunHash) {
        match event {
            Event::SessionOpened {
                session,
                far_addr,
                far_fingerprint,
                role,
            } => {
                h.u64(1);
                h.u64(session.0 as u64);
                digest_sockaddr(h, far_addr);
                h.bytes(far_fingerprint);
                h.u64(*role as u64);
            }
            Event::ConnectFailed { session, reason } => {
                h.u64(2);
                h.u64(session.0 as u64);
                h.u64(*reason as u64);
            }
            Event::SessionClosed { session, reason } => {
                h.u64(3);
                h.u64(session.0 as u64);
                h.u64(*reason as u64);
            }
            Event::FlowOpened {
                session,
                flow,
                metadata,
                return_association,
            } => {
                h.u64(4);
                h.u64(session.0 as u64);
                h.u64(*flow);
                h.bytes(metadata);
                h.u64(return_association.map_or(u64::MAX, |r| r));
            }
            Event::Message {
                session,
                flow,
                data,
            } => {
                h.u64(5);
                h.u64(session.0 as u64);
                h.u64(*flow);
                h.bytes(data);
            }
            Event::FlowEnded { session, flow } => {
                h.u64(6);
                h.u64(session.0 as u64);
                h.u64(*flow);
            }
            Event::FlowRejected {
                session,
                flow,
                code,
            } => {
                h.u64(7);
                h.u64(session.0 as u64);
                h.u64(*flow);
                h.u64(*code);
            }
            Event::FlowFinished { session, flow } => {
                h.u64(8);
                h.u64(session.0 as u64);
                h.u64(*flow);
            }
            Event::UnmatchedIHello { from, epd, tag } => {
                h.u64(9);
                digest_sockaddr(h, from);
                h.bytes(epd);
                h.bytes(tag);
            }
            Event::AddressChanged { session, addr } => {
                h.u64(10);
                h.u64(session.0 as u64);
                digest_sockaddr(h, addr);
            }
        }
    }
}
