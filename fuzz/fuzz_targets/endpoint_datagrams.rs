//! A responder `Endpoint` fed with fuzzer-made datagrams, once with the plain profile and once
//! with the Flash profile.
//!
//! Input: one flags byte, then records `len:u16 (big-endian) | body`. Each record advances the
//! virtual clock, delivers one datagram and runs the due timers; everything the endpoint emits is
//! drained (received messages are echoed back on a return flow, so the send path runs too).
//!
//! The first body byte of a record says how to turn the rest into a datagram:
//! - bits 0-1: source address (address 0 is the harness's own client);
//! - bits 2-3: framing: 0 = the rest is the datagram as is; 1 = the rest is a startup packet
//!   (flags, timestamp, chunks), sealed with the default cipher under session ID 0; 2 = the rest
//!   is a session packet, sealed with the session cipher under the server's session ID (needs the
//!   handshake below, else the default cipher and session ID 1); 3 = the rest is
//!   `initiator session ID:u32 | certificate length:u16 | certificate | SKIC`, sent as an IIKeying
//!   echoing a valid cookie for address 0;
//! - bits 4-7: how far to advance the clock (0 to 130 s).
//!
//! Before the records, the harness sends an IHello from address 0 to learn a cookie and, with
//! the plain profile always and with Flash if bit 0 of the flags byte is set (Diffie-Hellman is
//! slow), completes a real handshake so that framing 2 reaches an open session.
//!
//! Set `FUZZ_TRACE=1` to print the events and counters of each run (to study an artifact).

#![no_main]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use rtmfp::crypto::cert::epd_for_url;
use rtmfp::crypto::dh::{DhGroup, DhKeyPair};
use rtmfp::crypto::flash::FlashConfig;
use rtmfp::crypto::{PacketCipher, SessionCipher};
use rtmfp::wire::packet::{PacketWriter, MAX_STARTUP_PACKET};
use rtmfp::wire::{scramble_session_id, unscramble_session_id, Chunk, PacketHeader};
use rtmfp::{
    Config, CryptoProfile, Endpoint, Event, FlashProfile, Instant, PlainProfile, Priority,
    SessionId,
};

/// Our session ID as initiator of the harness's handshake.
const CLIENT_SESSION_ID: u32 = 0x0102_0304;

/// Clock steps selected by the high nibble of a record's control byte, in milliseconds.
const STEPS_MS: [u64; 16] = [
    0, 1, 5, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 60_000, 100_000, 130_000,
];

/// Upper bound on any datagram the endpoint may emit: session ID, checksum, the largest startup
/// packet and padding.
const MAX_DATAGRAM: usize = 4 + 2 + MAX_STARTUP_PACKET + 15;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, records)) = data.split_first() else {
        return;
    };
    let mut rng = ChaCha20Rng::from_seed([1; 32]);
    let plain = Harness::new(
        Box::new(PlainProfile::new(&mut rng, true)),
        Box::new(PlainProfile::new(&mut rng, false)),
        true,
    );
    plain.run(records);
    let flash = Harness::new(
        Box::new(FlashProfile::server(&mut rng)),
        Box::new(flash_client()),
        flags & 1 != 0,
    );
    flash.run(records);
});

/// A Flash client identity whose static key is generated once per process.
fn flash_client() -> FlashProfile {
    static KEY: OnceLock<DhKeyPair> = OnceLock::new();
    let key = KEY
        .get_or_init(|| {
            DhKeyPair::generate(DhGroup::Modp1024, &mut ChaCha20Rng::from_seed([2; 32]))
        })
        .clone();
    FlashProfile::with_static_keys(FlashConfig::client(), vec![key]).expect("static client profile")
}

fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("FUZZ_TRACE").is_some())
}

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i + 1], 1935 + u16::from(i)))
}

struct Harness {
    server: Endpoint,
    client: Box<dyn CryptoProfile>,
    rng: ChaCha20Rng,
    now: Instant,
    /// A cookie the server issued to address 0.
    cookie: Vec<u8>,
    /// The server's session ID and our cipher for it, once the handshake completed.
    session: Option<(u32, SessionCipher)>,
    /// Far flow -> our return flow, for echoing messages.
    echo: BTreeMap<(SessionId, u64), u64>,
}

impl Harness {
    fn new(
        server: Box<dyn CryptoProfile>,
        client: Box<dyn CryptoProfile>,
        handshake: bool,
    ) -> Self {
        let mut h = Harness {
            server: Endpoint::new(Config::default(), server, [3; 32]),
            client,
            rng: ChaCha20Rng::from_seed([4; 32]),
            now: Instant::from_micros(1_000_000),
            cookie: Vec::new(),
            session: None,
            echo: BTreeMap::new(),
        };
        let epd = epd_for_url("rtmfp://fuzz.invalid/app");
        let ihello = h.startup_packet(&Chunk::IHello {
            epd: &epd,
            tag: &[7; 16],
        });
        let rhello = h.exchange(&ihello).expect("no RHello");
        let certificate = {
            let mut buf = Vec::new();
            let packet = h.open_startup(&rhello, 0, &mut buf);
            match first_chunk(packet) {
                Chunk::RHello {
                    cookie,
                    certificate,
                    ..
                } => {
                    h.cookie = cookie.to_vec();
                    certificate.to_vec()
                }
                other => panic!("expected RHello, got {other:?}"),
            }
        };
        if handshake {
            h.handshake(&certificate);
        }
        h
    }

    /// Completes a handshake from address 0 with the client identity.
    fn handshake(&mut self, responder_certificate: &[u8]) {
        let keying = self
            .client
            .initiator_keying(&mut self.rng, responder_certificate)
            .expect("initiator keying");
        let certificate = self.client.certificate().to_vec();
        let signature = self.client.signature().to_vec();
        let iikeying = self.startup_packet(&Chunk::IIKeying {
            initiator_session_id: CLIENT_SESSION_ID,
            cookie_echo: &self.cookie,
            certificate: &certificate,
            skic: keying.skic(),
            signature: &signature,
        });
        let rikeying = self.exchange(&iikeying).expect("no RIKeying");
        let mut buf = Vec::new();
        let packet = self.open_startup(&rikeying, CLIENT_SESSION_ID, &mut buf);
        let Chunk::RIKeying {
            responder_session_id,
            skrc,
            ..
        } = first_chunk(packet)
        else {
            panic!("expected RIKeying");
        };
        let keys = keying.complete(skrc).expect("keying completes");
        self.session = Some((responder_session_id, keys.cipher));
        self.drain();
    }

    /// Sends `datagram` from address 0 and returns the first datagram sent back.
    fn exchange(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        self.server.handle_datagram(self.now, addr(0), datagram);
        let reply = self.server.poll_transmit().map(|t| t.payload.to_vec());
        self.drain();
        reply
    }

    fn ticks(&self) -> u16 {
        (self.now.as_micros() / 4_000) as u16
    }

    /// A startup datagram carrying `chunk`, sealed with the default cipher, session ID 0.
    fn startup_packet(&self, chunk: &Chunk<'_>) -> Vec<u8> {
        let mut w = PacketWriter::new(
            &PacketHeader::startup(self.ticks()),
            MAX_STARTUP_PACKET,
            Vec::new(),
        );
        assert!(w.push(chunk), "startup chunk too large");
        seal(self.client.default_cipher(), 0, &w.finish())
    }

    /// Opens a startup datagram addressed to session `ssid`.
    fn open_startup<'b>(&self, datagram: &'b [u8], ssid: u32, buf: &'b mut Vec<u8>) -> &'b [u8] {
        assert_eq!(unscramble_session_id(datagram), Some(ssid));
        self.client
            .default_cipher()
            .open(&datagram[4..], buf)
            .expect("server's startup packet opens")
    }

    fn run(mut self, mut records: &[u8]) {
        while let [hi, lo, rest @ ..] = records {
            let len = usize::from(u16::from_be_bytes([*hi, *lo])).min(rest.len());
            let (body, tail) = rest.split_at(len);
            records = tail;
            self.record(body);
        }
        // Let the timers run out for a while: retransmissions, keepalives, idle timeouts.
        for _ in 0..32 {
            let Some(at) = self.server.poll_timeout() else {
                break;
            };
            self.now = self.now.max(at);
            self.server.handle_timeout(self.now);
            self.drain();
        }
        if trace() {
            eprintln!("{:#?}", self.server.stats());
        }
    }

    fn record(&mut self, body: &[u8]) {
        let Some((&control, rest)) = body.split_first() else {
            self.now = self.now + Duration::from_secs(1);
            self.server.handle_timeout(self.now);
            self.drain();
            return;
        };
        let from = addr(control & 3);
        self.now = self.now + Duration::from_millis(STEPS_MS[usize::from(control >> 4)]);
        let datagram = match (control >> 2) & 3 {
            0 => rest.to_vec(),
            1 => seal(self.client.default_cipher(), 0, rest),
            2 => match &self.session {
                Some((ssid, cipher)) => seal(cipher, *ssid, rest),
                None => seal(self.client.default_cipher(), 1, rest),
            },
            _ => self.iikeying(rest),
        };
        self.server.handle_datagram(self.now, from, &datagram);
        if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
            self.server.handle_timeout(self.now);
        }
        self.drain();
    }

    /// An IIKeying with a valid cookie around fuzzer-chosen session ID, certificate and SKIC.
    fn iikeying(&self, rest: &[u8]) -> Vec<u8> {
        let mut head = [0u8; 6];
        let n = rest.len().min(6);
        head[..n].copy_from_slice(&rest[..n]);
        let rest = &rest[n..];
        let isid = u32::from_be_bytes([head[0], head[1], head[2], head[3]]);
        let cert_len = usize::from(u16::from_be_bytes([head[4], head[5]])).min(rest.len());
        let (certificate, skic) = rest.split_at(cert_len);
        let mut w = PacketWriter::new(
            &PacketHeader::startup(self.ticks()),
            MAX_STARTUP_PACKET,
            Vec::new(),
        );
        w.push(&Chunk::IIKeying {
            initiator_session_id: isid,
            cookie_echo: &self.cookie,
            certificate,
            skic,
            signature: &[0x58],
        });
        seal(self.client.default_cipher(), 0, &w.finish())
    }

    /// Takes everything the server has to say; echoes received messages on return flows.
    fn drain(&mut self) {
        loop {
            while let Some(t) = self.server.poll_transmit() {
                assert!(
                    t.payload.len() <= MAX_DATAGRAM,
                    "oversized datagram: {} bytes",
                    t.payload.len()
                );
            }
            let Some(event) = self.server.poll_event() else {
                break;
            };
            if trace() {
                eprintln!("{:?} {event:?}", self.now);
            }
            match event {
                Event::FlowOpened { session, flow, .. } => {
                    if let Ok(ours) = self.server.open_flow(
                        self.now,
                        session,
                        b"echo",
                        Some(flow),
                        Priority::BULK,
                    ) {
                        self.echo.insert((session, flow), ours);
                    }
                }
                Event::Message {
                    session,
                    flow,
                    data,
                } => {
                    if let Some(&ours) = self.echo.get(&(session, flow)) {
                        let _ = self.server.write(self.now, session, ours, data, None);
                    }
                }
                Event::FlowEnded { session, flow } => {
                    if let Some(ours) = self.echo.remove(&(session, flow)) {
                        let _ = self.server.close_flow(self.now, session, ours);
                    }
                }
                _ => {}
            }
        }
    }
}

/// `scrambled session ID | sealed packet`.
fn seal(cipher: &dyn PacketCipher, ssid: u32, packet: &[u8]) -> Vec<u8> {
    let mut out = vec![0; 4];
    cipher.seal(packet, &mut out);
    let scrambled = scramble_session_id(ssid, &out[4..]);
    out[..4].copy_from_slice(&scrambled.to_be_bytes());
    out
}

/// The first chunk of a packet the server built (must decode).
fn first_chunk(packet: &[u8]) -> Chunk<'_> {
    let (_, mut chunks) = PacketHeader::decode(packet).expect("server packet header");
    chunks
        .next()
        .expect("server packet has a chunk")
        .expect("server chunk decodes")
}
