//! Startup packets (RFC 7016 §3.5.1): IHello, RHello, Redirect, IIKeying, RIKeying, Cookie
//! Change, the initiator's retransmissions, glare and override.

use std::net::SocketAddr;

use super::{CloseReason, ConnectFailure, DropReason, Endpoint, Event, SessionId};
use crate::handshake::{CookieCheck, InitiatorPhase, RetrySchedule};
use crate::session::{Role, Session, SessionParams};
use crate::wire::packet::{PacketWriter, MAX_STARTUP_PACKET};
use crate::wire::{scramble_session_id, Chunk, Mode, PacketHeader, PeerAddress};
use crate::Instant;

impl Endpoint {
    /// Seals one startup chunk with the default key and queues it (SSID `ssid`, flags `0x0b`).
    pub(crate) fn send_startup(
        &mut self,
        now: Instant,
        dst: SocketAddr,
        ssid: u32,
        chunk: &Chunk<'_>,
    ) -> Option<bytes::Bytes> {
        let header = PacketHeader::startup(Self::ticks(now));
        let cipher = self.crypto.default_cipher();
        let mut payload = crate::scratch::with_scratch(|scratch| {
            let mut w = PacketWriter::new(&header, MAX_STARTUP_PACKET, std::mem::take(scratch));
            let pushed = w.push(chunk);
            let pkt = w.finish();
            let payload = pushed.then(|| {
                let mut payload = Vec::with_capacity(pkt.len() + 4 + cipher.overhead(pkt.len()));
                payload.extend_from_slice(&[0; 4]);
                cipher.seal(&pkt, &mut payload);
                payload
            });
            *scratch = pkt;
            payload
        })?;
        let scrambled = scramble_session_id(ssid, &payload[4..]);
        payload[..4].copy_from_slice(&scrambled.to_be_bytes());
        let payload = bytes::Bytes::from(payload);
        self.transmits.push_back(super::Transmit {
            dst,
            payload: payload.clone(),
        });
        Some(payload)
    }

    pub(crate) fn send_ihellos(&mut self, now: Instant, id: u32, only: Option<SocketAddr>) {
        let Some(o) = self.openings.get(&id) else {
            return;
        };
        let (epd, tag) = (o.epd.clone(), o.tag);
        let targets: Vec<SocketAddr> = match only {
            Some(a) => vec![a],
            None => o.candidates.clone(),
        };
        for dst in targets {
            self.send_startup(
                now,
                dst,
                0,
                &Chunk::IHello {
                    epd: &epd,
                    tag: &tag,
                },
            );
        }
    }

    fn send_iikeying(&mut self, now: Instant, id: u32) {
        let Some(o) = self.openings.get(&id) else {
            return;
        };
        let InitiatorPhase::KeyingSent {
            responder,
            cookie,
            keying,
            ..
        } = &o.phase
        else {
            return;
        };
        let (dst, cookie, skic) = (*responder, cookie.clone(), keying.skic().to_vec());
        let cert = self.crypto.certificate().to_vec();
        let sig = self.crypto.signature().to_vec();
        self.send_startup(
            now,
            dst,
            0,
            &Chunk::IIKeying {
                initiator_session_id: id,
                cookie_echo: &cookie,
                certificate: &cert,
                skic: &skic,
                signature: &sig,
            },
        );
    }

    pub(crate) fn on_opening_timeout(&mut self, now: Instant, id: u32) {
        let Some(o) = self.openings.get_mut(&id) else {
            return;
        };
        if o.expired(now) {
            self.fail_opening(id, ConnectFailure::Timeout);
            return;
        }
        if now >= o.retry.next() {
            o.retry.advance(now);
            match o.phase {
                InitiatorPhase::IHelloSent => self.send_ihellos(now, id, None),
                InitiatorPhase::KeyingSent { .. } => self.send_iikeying(now, id),
            }
        }
        self.reindex(id);
    }

    fn fail_opening(&mut self, id: u32, reason: ConnectFailure) {
        if let Some(o) = self.openings.remove(&id) {
            self.by_tag.remove(&o.tag[..]);
            self.stats.connect_failures += 1;
            self.events.push_back(Event::ConnectFailed {
                session: SessionId(id),
                reason,
            });
        }
        self.reindex(id);
    }

    /// A packet with SSID 0: IHello, RHello, Redirect or IIKeying.
    pub(crate) fn on_startup(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sealed: &[u8],
    ) -> Result<(), DropReason> {
        let mut buf = std::mem::take(&mut self.open_buf);
        let result = self.on_startup_inner(now, from, sealed, &mut buf);
        self.open_buf = buf;
        result
    }

    fn on_startup_inner(
        &mut self,
        now: Instant,
        from: SocketAddr,
        sealed: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let chunks = open_startup(self.crypto.default_cipher(), sealed, buf)?;
        // One startup chunk per packet is processed (zenomt processes at most one IHello).
        for chunk in chunks {
            let Ok(chunk) = chunk else {
                self.stats.malformed_chunks += 1;
                continue;
            };
            return match chunk {
                Chunk::IHello { epd, tag } => {
                    self.on_ihello(now, from, epd, tag);
                    Ok(())
                }
                Chunk::RHello {
                    tag_echo,
                    cookie,
                    certificate,
                } => self.on_rhello(now, from, tag_echo, cookie, certificate),
                Chunk::Redirect {
                    tag_echo,
                    addresses,
                } => self.on_redirect(now, from, tag_echo, &addresses),
                Chunk::IIKeying {
                    initiator_session_id,
                    cookie_echo,
                    certificate,
                    skic,
                    ..
                } => self.on_iikeying(
                    now,
                    from,
                    initiator_session_id,
                    cookie_echo,
                    certificate,
                    skic,
                ),
                _ => Err(DropReason::Unexpected),
            };
        }
        Err(DropReason::Malformed)
    }

    fn on_ihello(&mut self, now: Instant, from: SocketAddr, epd: &[u8], tag: &[u8]) {
        if self.crypto.is_selected_by_epd(epd) {
            self.send_rhello(now, from, tag);
        } else {
            self.stats.unmatched_ihellos += 1;
            if self.events.len() < self.config.max_events {
                self.events.push_back(Event::UnmatchedIHello {
                    from,
                    epd: epd.to_vec(),
                    tag: tag.to_vec(),
                });
            }
        }
    }

    fn send_rhello(&mut self, now: Instant, to: SocketAddr, tag: &[u8]) {
        let cookie = self.cookies.make(now, &to);
        let cert = self.crypto.certificate().to_vec();
        self.send_startup(
            now,
            to,
            0,
            &Chunk::RHello {
                tag_echo: tag,
                cookie: &cookie,
                certificate: &cert,
            },
        );
    }

    /// A Forwarded IHello from a rendezvous service (RFC 7016 §3.5.1.5): answer the initiator
    /// directly with an RHello, which also opens our NAT toward it.
    pub(crate) fn on_forwarded_hello(
        &mut self,
        now: Instant,
        epd: &[u8],
        reply: SocketAddr,
        tag: &[u8],
    ) {
        if self.crypto.is_selected_by_epd(epd) {
            self.send_rhello(now, reply, tag);
        } else {
            self.stats.unmatched_ihellos += 1;
        }
    }

    fn on_rhello(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tag: &[u8],
        cookie: &[u8],
        cert: &[u8],
    ) -> Result<(), DropReason> {
        let id = *self.by_tag.get(tag).ok_or(DropReason::Unexpected)?;
        let o = self.openings.get(&id).ok_or(DropReason::Unexpected)?;
        if !matches!(o.phase, InitiatorPhase::IHelloSent) {
            return Err(DropReason::Unexpected); // a later RHello of the same attempt
        }
        if !self.crypto.certificate_selected_by_epd(cert, &o.epd) {
            return Err(DropReason::Unexpected);
        }
        let keying = match self.crypto.initiator_keying(&mut self.rng, cert) {
            Ok(k) => k,
            Err(_) => {
                self.fail_opening(id, ConnectFailure::Keying);
                return Err(DropReason::BadKeying);
            }
        };
        if let Some(o) = self.openings.get_mut(&id) {
            o.phase = InitiatorPhase::KeyingSent {
                responder: from,
                cookie: cookie.to_vec(),
                responder_certificate: cert.to_vec(),
                keying,
                cookie_changed: false,
            };
            o.retry = RetrySchedule::start(now);
        }
        self.send_iikeying(now, id);
        self.reindex(id);
        Ok(())
    }

    fn on_redirect(
        &mut self,
        now: Instant,
        from: SocketAddr,
        tag: &[u8],
        addrs: &[PeerAddress],
    ) -> Result<(), DropReason> {
        let id = *self.by_tag.get(tag).ok_or(DropReason::Unexpected)?;
        let o = self.openings.get_mut(&id).ok_or(DropReason::Unexpected)?;
        if !matches!(o.phase, InitiatorPhase::IHelloSent) {
            return Err(DropReason::Unexpected);
        }
        if addrs.is_empty() {
            self.send_ihellos(now, id, Some(from));
            return Ok(());
        }
        // `0.0.0.0:0` (origin 0) is MonaServer2's "peer is gone" (docs/protocol/session.md,
        // "Rendezvous and introduction"): never a candidate. The opening then ends at its timeout
        // unless another address answers.
        let fresh: Vec<SocketAddr> = addrs
            .iter()
            .filter(|a| !a.addr.ip().is_unspecified() && a.addr.port() != 0)
            .filter(|a| o.add_candidate(a.addr))
            .map(|a| a.addr)
            .collect();
        for a in fresh {
            self.send_ihellos(now, id, Some(a));
        }
        Ok(())
    }

    fn on_iikeying(
        &mut self,
        now: Instant,
        from: SocketAddr,
        isid: u32,
        cookie: &[u8],
        cert: &[u8],
        skic: &[u8],
    ) -> Result<(), DropReason> {
        match self.cookies.check(now, &from, cookie) {
            CookieCheck::Invalid => return Err(DropReason::BadCookie),
            CookieCheck::AddressChanged => {
                let fresh = self.cookies.make(now, &from);
                self.stats.cookie_changes += 1;
                self.send_startup(
                    now,
                    from,
                    isid,
                    &Chunk::CookieChange {
                        old_cookie: cookie,
                        new_cookie: &fresh,
                    },
                );
                return Ok(());
            }
            CookieCheck::Valid => {}
        }
        // Duplicate IIKeying: answer with the stored RIKeying (docs/protocol/session.md, "Handshake
        // retransmission and glare").
        if let Some(&k) = self.by_far.get(&(from, isid)) {
            if let Some(sess) = self.sessions.get(&k.session) {
                if k.skic_digest == crate::session::skic_digest(skic) {
                    if let Some(rik) = sess.rikeying().cloned() {
                        self.stats.rikeying_retransmits += 1;
                        self.transmits.push_back(super::Transmit {
                            dst: from,
                            payload: rik,
                        });
                    }
                    return Ok(());
                }
            }
        }
        // Override: same address and identical certificate replaces a stale session (§4.3.7).
        // Sessions keep the certificate's fingerprint only, which identifies it.
        let fingerprint = crate::crypto::certificate_fingerprint(cert);
        let mut stale: Vec<u32> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.far_addr == from && s.far_fingerprint == fingerprint && s.is_open())
            .map(|(id, _)| *id)
            .collect();
        // In ID order: they are closed (and reported) in this order.
        stale.sort_unstable();
        // Glare (RFC 7016 §3.5.1.3): we are opening toward this peer too.
        let mut reuse = None;
        let near = self.crypto.certificate().to_vec();
        let glare: Option<u32> = self.openings.iter().find_map(|(id, o)| {
            let toward = match &o.phase {
                InitiatorPhase::KeyingSent {
                    responder_certificate,
                    ..
                } => responder_certificate.as_slice() == cert,
                InitiatorPhase::IHelloSent => {
                    crate::crypto::cert::Epd::parse(&o.epd).is_ok_and(|e| e.fingerprint.is_some())
                        && self.crypto.certificate_selected_by_epd(cert, &o.epd)
                }
            };
            toward.then_some(*id)
        });
        if let Some(oid) = glare {
            if near.as_slice() <= cert {
                return Err(DropReason::Glare); // we win: our IIKeying will prevail
            }
            if let Some(o) = self.openings.remove(&oid) {
                self.by_tag.remove(&o.tag[..]);
            }
            self.reindex(oid);
            reuse = Some(oid);
        }
        if reuse.is_none() && self.sessions.len() + self.openings.len() >= self.config.max_sessions
        {
            return Err(DropReason::Limit);
        }
        let keyed = self
            .crypto
            .responder_keying(&mut self.rng, cert, skic)
            .map_err(|_| DropReason::BadKeying)?;
        for id in stale {
            if let Some(s) = self.remove_session(id) {
                self.forget_keying(id, &s);
                self.events.push_back(Event::SessionClosed {
                    session: SessionId(id),
                    reason: CloseReason::Replaced,
                });
            }
            self.reindex(id);
        }
        let sid = match reuse {
            Some(id) => id,
            None => self.allocate_session_id().ok_or(DropReason::Limit)?,
        };
        let sig = self.crypto.signature().to_vec();
        let rik = self.send_startup(
            now,
            from,
            isid,
            &Chunk::RIKeying {
                responder_session_id: sid,
                skrc: &keyed.skrc,
                signature: &sig,
            },
        );
        let session = Session::new(
            now,
            SessionParams {
                id: SessionId(sid),
                role: Role::Responder,
                far_session_id: isid,
                far_addr: from,
                far_fingerprint: fingerprint,
                keys: keyed.keys,
                rikeying: rik,
            },
            &self.config,
        );
        let far_fingerprint = session.far_fingerprint;
        self.insert_session(sid, Box::new(session));
        self.by_far.insert(
            (from, isid),
            crate::session::KeyingRecord {
                session: sid,
                skic_digest: crate::session::skic_digest(skic),
            },
        );
        self.stats.opened_as_responder += 1;
        self.events.push_back(Event::SessionOpened {
            session: SessionId(sid),
            far_addr: from,
            far_fingerprint,
            role: Role::Responder,
        });
        self.reindex(sid);
        Ok(())
    }

    /// A packet for an opening session (its SSID is our initiator session ID): RIKeying or
    /// Cookie Change, sealed with the default key.
    pub(crate) fn on_opening_packet(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: u32,
        sealed: &[u8],
    ) -> Result<(), DropReason> {
        let mut buf = std::mem::take(&mut self.open_buf);
        let result = self.on_opening_inner(now, from, id, sealed, &mut buf);
        self.open_buf = buf;
        result
    }

    fn on_opening_inner(
        &mut self,
        now: Instant,
        from: SocketAddr,
        id: u32,
        sealed: &[u8],
        buf: &mut Vec<u8>,
    ) -> Result<(), DropReason> {
        let mut chunks = open_startup(self.crypto.default_cipher(), sealed, buf)?;
        let chunk = chunks
            .next()
            .ok_or(DropReason::Malformed)?
            .map_err(|_| DropReason::Malformed)?;
        match chunk {
            Chunk::RIKeying {
                responder_session_id,
                skrc,
                ..
            } => {
                if responder_session_id == 0 {
                    return Err(DropReason::Malformed);
                }
                let Some(o) = self.openings.remove(&id) else {
                    return Err(DropReason::Unexpected);
                };
                self.by_tag.remove(&o.tag[..]);
                let InitiatorPhase::KeyingSent {
                    responder,
                    responder_certificate,
                    keying,
                    ..
                } = o.phase
                else {
                    self.reindex(id);
                    return Err(DropReason::Unexpected);
                };
                let _ = from;
                let keys = match keying.complete(skrc) {
                    Ok(k) => k,
                    Err(_) => {
                        // Count as a failure of this attempt (e.g. the responder answered in a
                        // DH group we did not select; vectors rtmfpcpp-mona-group14-fail).
                        self.openings.insert(
                            id,
                            crate::handshake::Opening {
                                phase: InitiatorPhase::IHelloSent,
                                ..o
                            },
                        );
                        self.fail_opening(id, ConnectFailure::Keying);
                        return Err(DropReason::BadKeying);
                    }
                };
                let session = Session::new(
                    now,
                    SessionParams {
                        id: SessionId(id),
                        role: Role::Initiator,
                        far_session_id: responder_session_id,
                        far_addr: responder,
                        far_fingerprint: crate::crypto::certificate_fingerprint(
                            &responder_certificate,
                        ),
                        keys,
                        rikeying: None,
                    },
                    &self.config,
                );
                let far_fingerprint = session.far_fingerprint;
                self.insert_session(id, Box::new(session));
                self.stats.opened_as_initiator += 1;
                self.events.push_back(Event::SessionOpened {
                    session: SessionId(id),
                    far_addr: responder,
                    far_fingerprint,
                    role: Role::Initiator,
                });
                self.flush(now, id);
                Ok(())
            }
            Chunk::CookieChange {
                old_cookie,
                new_cookie,
            } => {
                let o = self.openings.get_mut(&id).ok_or(DropReason::Unexpected)?;
                let InitiatorPhase::KeyingSent {
                    cookie,
                    cookie_changed,
                    ..
                } = &mut o.phase
                else {
                    return Err(DropReason::Unexpected);
                };
                if *cookie_changed || cookie.as_slice() != old_cookie {
                    return Err(DropReason::Unexpected);
                }
                *cookie = new_cookie.to_vec();
                *cookie_changed = true;
                self.send_iikeying(now, id);
                Ok(())
            }
            _ => Err(DropReason::Unexpected),
        }
    }
}

/// Opens a startup packet with the default cipher and checks its mode (RFC 7016 §2.2.4):
/// returns its chunks.
fn open_startup<'b>(
    cipher: &dyn crate::crypto::PacketCipher,
    sealed: &'b [u8],
    buf: &'b mut Vec<u8>,
) -> Result<crate::wire::ChunkIter<'b>, DropReason> {
    let packet = cipher.open(sealed, buf).map_err(|_| DropReason::Decrypt)?;
    let (header, chunks) = PacketHeader::decode(packet).map_err(|_| DropReason::Malformed)?;
    if header.mode != Mode::Startup {
        return Err(DropReason::BadMode);
    }
    Ok(chunks)
}
