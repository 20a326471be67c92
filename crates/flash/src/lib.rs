//! Sans-IO Flash application layer over RTMFP flows (RFC 7425 §5).
#![warn(missing_docs)]
