//! The errors of the endpoint's commands, one type per operation: each command returns only
//! the errors it can produce.

/// Why [`crate::Endpoint::connect`] refused to start opening a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnectError {
    /// No address was given to send the IHello to.
    #[error("no address to connect to")]
    NoAddress,
    /// `Config::max_sessions` sessions (open or opening) exist already.
    #[error("too many sessions")]
    TooManySessions,
}

/// Why a command naming a session could not run on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// No session, open or opening, has that handle.
    #[error("unknown session")]
    UnknownSession,
    /// The session is still opening, or closing or closed.
    #[error("session not open")]
    NotOpen,
}

/// Why [`crate::Endpoint::open_flow`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum OpenFlowError {
    /// The session cannot take a flow.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The session holds the most sending flows it may (4,096).
    #[error("too many open flows in this session")]
    TooManyFlows,
}

/// Why [`crate::Endpoint::write`] refused a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The session cannot take it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No sending flow of ours has that ID in the session.
    #[error("unknown flow")]
    UnknownFlow,
    /// The flow's send buffer is full: retry after acknowledgements.
    #[error("send buffer full")]
    BufferFull,
    /// The flow is closing, closed or rejected by the far end.
    #[error("flow closed")]
    FlowClosed,
}

/// Why [`crate::Endpoint::close_flow`] or [`crate::Endpoint::reject_flow`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FlowError {
    /// The session cannot take it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// No flow of that direction has that ID in the session.
    #[error("unknown flow")]
    UnknownFlow,
}

/// Why [`crate::Endpoint::forward_ihello`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ForwardError {
    /// The session to forward through cannot take it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The session's queue of control chunks is full (64): the FIHello was not queued.
    #[error("control queue full")]
    ControlQueueFull,
}
