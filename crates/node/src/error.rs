//! [`NodeError`]: why a call of the async NetGroup API failed.

use rtmfp_flash::netconnection::NetConnectionError;
use rtmfp_netgroup::{
    JoinError, PlayError, PostError, PublishError, ReplicationError, RouteError, StreamError,
};

use crate::driver::DriverError;

/// Errors of the async NetGroup API.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The URL is not `rtmfp://host[:port]/app`.
    #[error("bad RTMFP URL: {0}")]
    Url(String),
    /// The server host did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's error.
        source: std::io::Error,
    },
    /// The NetConnection failed, was rejected or closed (the status code and description).
    #[error("NetConnection failed: {0}")]
    Connect(String),
    /// No `NetConnection.Connect.Success` within [`crate::NodeConfig::connect_timeout`].
    #[error("NetConnection timed out")]
    ConnectTimeout,
    /// `join` of a group this node is already a member of.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// The group was left: no call can be made on it any more.
    #[error("not a member of this group (it was left)")]
    NotJoined,
    /// `post` was refused.
    #[error(transparent)]
    Post(#[from] PostError),
    /// A routed send was refused.
    #[error(transparent)]
    Route(#[from] RouteError),
    /// An object replication call was refused.
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    /// A multicast `publish` was refused.
    #[error(transparent)]
    Publish(#[from] PublishError),
    /// A call on one of our multicast streams was refused.
    #[error(transparent)]
    Stream(#[from] StreamError),
    /// A multicast `play` was refused.
    #[error(transparent)]
    Play(#[from] PlayError),
    /// The NetConnection refused to start (a bad URL).
    #[error(transparent)]
    NetConnection(#[from] NetConnectionError),
    /// The driver task stopped or the socket failed.
    #[error(transparent)]
    Driver(#[from] DriverError),
}

impl From<std::io::Error> for NodeError {
    fn from(e: std::io::Error) -> Self {
        NodeError::Driver(DriverError::Io(e))
    }
}
