//! RTMFP Groups: the facade crate. Re-exports the session layer ([`rtmfp`]), the tokio driver
//! ([`rtmfp_node`]) and file sharing on it ([`rtmfp_share`]); later issues add the Flash,
//! NetGroup and simulator crates here.

pub use rtmfp;
pub use rtmfp_node;
pub use rtmfp_share;
