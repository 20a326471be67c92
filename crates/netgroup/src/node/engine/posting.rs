//! Posting on a joined group ([`GroupMut::post`]).

use crate::node::errors::PostError;

use super::view::GroupMut;

impl GroupMut<'_> {
    /// Flash `post(message)` (docs/protocol/netgroup.md, "Posting"): floods `message` to the
    /// group; returns its message ID (SHA-256 of the bytes). The node itself gets no
    /// Posting.Notify.
    ///
    /// Errors: [`PostError::PostingDisabled`], [`PostError::NotAuthorized`] (posting password
    /// without a valid authorization), [`PostError::TooLarge`] (over
    /// `GroupConfig::max_post_bytes`), [`PostError::Duplicate`] (identical message seen
    /// recently).
    pub fn post(&mut self, message: &[u8]) -> Result<[u8; 32], PostError> {
        let r = self.with(|group, io| {
            if !group.spec.posting_enabled() {
                return Err(PostError::PostingDisabled);
            }
            group.post(io, message)
        });
        self.node.flush();
        r.unwrap_or(Err(PostError::NotJoined))
    }
}
