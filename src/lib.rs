//! RTMFP Groups: the facade crate. Re-exports the session layer ([`rtmfp`]) and the tokio driver
//! ([`rtmfp_node`]); later issues add the Flash, NetGroup and simulator crates here.

pub use rtmfp;
pub use rtmfp_node;
