//! Rendezvous hooks (RFC 7016 §3.5.1.4–§3.5.1.7): what an endpoint may do with an IHello that
//! does not select it ([`crate::Event::UnmatchedIHello`]). The policy (whom to introduce) belongs
//! to the server; these are the mechanisms.

use std::net::SocketAddr;

use crate::endpoint::{Endpoint, ForwardError, SessionError, SessionId};
use crate::session::Control;
use crate::wire::{AddressOrigin, Chunk, PeerAddress};
use crate::Instant;

impl Endpoint {
    /// Forwards an IHello to the far end of session `via` as an FIHello carrying the initiator's
    /// observed address (RFC 7016 §3.5.1.5). The target answers the initiator directly.
    ///
    /// Errors: [`ForwardError::Session`], and [`ForwardError::ControlQueueFull`] when the
    /// session's control queue is full.
    pub fn forward_ihello(
        &mut self,
        now: Instant,
        via: SessionId,
        epd: &[u8],
        tag: &[u8],
        initiator: SocketAddr,
    ) -> Result<(), ForwardError> {
        let sess = self
            .sessions
            .get_mut(&via.0)
            .ok_or(SessionError::UnknownSession)?;
        if !sess.is_open() {
            return Err(SessionError::NotOpen.into());
        }
        let queued = sess.push_control(Control::FIHello {
            epd: epd.to_vec(),
            reply_address: PeerAddress::new(initiator, AddressOrigin::Observed),
            tag: tag.to_vec(),
        });
        if !queued {
            return Err(ForwardError::ControlQueueFull);
        }
        self.flush(now, via.0);
        Ok(())
    }

    /// Answers an IHello from `to` with a Responder Redirect listing `addresses`
    /// (RFC 7016 §3.5.1.4); an empty list tells the initiator to retry this endpoint.
    pub fn redirect(
        &mut self,
        now: Instant,
        to: SocketAddr,
        tag: &[u8],
        addresses: &[PeerAddress],
    ) {
        self.send_startup(
            now,
            to,
            0,
            &Chunk::Redirect {
                tag_echo: tag,
                addresses: addresses.to_vec(),
            },
        );
    }
}
