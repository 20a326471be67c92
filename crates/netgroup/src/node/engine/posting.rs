//! The posting call of [`GroupNode`].

use rtmfp::Instant;

use crate::node::events::{GroupError, GroupHandle};
use crate::node::posting::{self};

use super::GroupNode;

impl GroupNode {
    /// Flash `post(message)` (docs/protocol/netgroup.md, "Posting"): floods `message` to the group;
    /// returns its message ID (SHA-256 of the bytes). The node itself gets no Posting.Notify.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::PostingDisabled`],
    /// [`GroupError::NotAuthorized`] (posting password without a valid authorization),
    /// [`GroupError::TooLarge`], [`GroupError::Duplicate`] (identical message seen recently).
    pub fn post(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
    ) -> Result<[u8; 32], GroupError> {
        self.now = now;
        let limit = self.config.max_post_bytes;
        let r = self
            .with_group(&g, |group, io| {
                if !group.spec.posting_enabled() {
                    return Err(GroupError::PostingDisabled);
                }
                group.post(io, message).map_err(|e| match e {
                    posting::PostError::NotAuthorized => GroupError::NotAuthorized,
                    posting::PostError::TooLarge => GroupError::TooLarge {
                        size: message.len(),
                        limit,
                    },
                    posting::PostError::Duplicate(id) => GroupError::Duplicate { message_id: id },
                })
            })
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        r
    }
}
