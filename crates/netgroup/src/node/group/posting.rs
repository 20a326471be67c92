//! Posting in one group (docs/protocol/netgroup.md, "Posting"): a new post floods to every
//! connected neighbour.

use super::Group;
use crate::id::PeerId;
use crate::node::io::Io;

impl Group {
    /// `post` (docs/protocol/netgroup.md, "Posting"): returns the message ID.
    pub fn post(
        &mut self,
        io: &mut Io<'_>,
        message: &[u8],
    ) -> Result<[u8; 32], crate::node::posting::PostError> {
        let (id, frame) = self.posting.post(io.now, message)?;
        let to: Vec<PeerId> = self.connected().into_iter().map(|(_, p)| p).collect();
        let n = self.flood(io, &to, &frame);
        self.info.posting_send_data_bytes += (n * frame.len()) as u64;
        Ok(id)
    }
}
