//! Subcommands of the `rtmfp` binary.

pub mod connect;
pub mod demo;
pub mod fetch;
pub mod groupspec;
pub mod join;
pub mod member;
pub mod server;
pub mod share;
pub mod transfer;
