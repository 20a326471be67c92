//! Discrete-event simulator for RTMFP / NetGroup swarms (work in progress, issue 6).
#![warn(missing_docs)]
