//! Errors of the Flash layer's decoders and commands.

/// Why a Flash-layer message was refused. Decoders return it instead of panicking; the
/// state machines count it and drop the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlashError {
    /// The message ended before a field was complete.
    #[error("truncated message")]
    Truncated,
    /// Flow metadata is not one of the Flash signatures (docs/protocol/flash.md, "Flow metadata
    /// signatures").
    #[error("unknown flow metadata")]
    UnknownMetadata,
    /// AMF bytes are malformed, nested too deeply, or use a feature we refuse from the network
    /// (references, AVM+ switches).
    #[error("malformed AMF: {0}")]
    Amf(String),
    /// A command message does not start with a name and a transaction ID.
    #[error("not a command")]
    NotACommand,
    /// The message is larger than the configured limit.
    #[error("message of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A user control event is shorter than its type requires.
    #[error("malformed user control event")]
    UserControl,
}
