//! Shared setup of the loopback tests: an embedded rendezvous server and node settings with
//! the group engine's timers shortened.

#![allow(dead_code)]

use std::net::SocketAddr;

use rtmfp_netgroup::{GroupConfig, ReceiveMode};
use rtmfp_node::NodeConfig;

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

pub fn group_config() -> GroupConfig {
    GroupConfig {
        auto_forward: true,
        receive_mode: ReceiveMode::Nearest,
        ..GroupConfig::scaled(10)
    }
}

pub fn node_config() -> NodeConfig {
    NodeConfig {
        bind: loopback(),
        group: group_config(),
        ..NodeConfig::default()
    }
}

/// Starts an embedded rendezvous server on loopback for the whole test; returns its URL.
pub async fn server() -> String {
    let (url, handle) = rtmfp_node::spawn_embedded_server(loopback(), "test")
        .await
        .unwrap();
    // Keep the server for the whole test.
    std::mem::forget(handle);
    url
}
