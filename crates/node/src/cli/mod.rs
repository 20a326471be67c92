//! Subcommands of the `rtmfp` binary.

pub mod connect;
pub mod demo;
pub mod groupspec;
pub mod server;
pub mod transfer;
