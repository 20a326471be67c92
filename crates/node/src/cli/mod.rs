//! Subcommands of the `rtmfp` binary.

pub mod connect;
pub mod demo;
pub mod groupspec;
pub mod join;
pub mod server;
pub mod transfer;
