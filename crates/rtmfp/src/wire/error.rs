//! The decoding error of every wire decoder.

/// Why a received structure could not be decoded. Decoding never panics and never allocates
/// in proportion to a length field: a field longer than the bytes left is `Truncated`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Fewer bytes remain than the structure needs.
    #[error("truncated input")]
    Truncated,
    /// A field holds a value the format does not allow; the string names the field.
    #[error("invalid {0}")]
    Invalid(&'static str),
}
