//! The decoding error of group messages.

use rtmfp::wire::DecodeError;

/// Why a group message could not be decoded (docs/protocol/netgroup.md, "Group flows and messages"
/// to "Joining a group").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// The message has no type byte.
    #[error("empty group message")]
    Empty,
    /// A field runs past the end of the message.
    #[error("truncated group message")]
    Truncated,
    /// A field holds a value the format does not allow; the string names it.
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl From<DecodeError> for WireError {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated => WireError::Truncated,
            DecodeError::Invalid(what) => WireError::Invalid(what),
        }
    }
}
