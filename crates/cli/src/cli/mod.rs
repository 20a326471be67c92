//! Subcommands of the `rtmfp` binary.

pub mod connect;
pub mod demo;
pub mod fetch;
pub mod flv;
pub mod group_opts;
pub mod groupspec;
pub mod join;
pub mod member;
pub mod play;
pub mod publish;
pub mod server;
pub mod share;
pub mod transfer;
