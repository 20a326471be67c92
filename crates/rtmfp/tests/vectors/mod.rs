//! The captured golden data in `shared/vectors` (see its README): the packet capture files and
//! their loader, shared by this crate's `crypto_vectors` test and the facade's `golden_vectors`
//! test (which includes this file with `#[path]`). The including test names the directory in
//! `VECTORS`: its manifest sits at its own depth in the checkout.

use std::path::PathBuf;

use serde_json::Value;

use super::VECTORS;

/// Every capture file, one JSON record a line.
pub const JSONL_FILES: [&str; 7] = [
    "apnic-flash13-cirrus.jsonl",
    "go-rtmfp-flash11.jsonl",
    "handshake-librtmfp-mona.jsonl",
    "netgroup-librtmfp-mona.jsonl",
    "netgroup-media-librtmfp-mona-first300.jsonl",
    "rtmfpcpp-mona-group14-fail.jsonl",
    "rtmfpcpp-mona-group2-ok.jsonl",
];

/// The path of vector file `name`; panics if it is missing.
pub fn path(name: &str) -> PathBuf {
    let p = PathBuf::from(VECTORS).join(name);
    assert!(
        p.exists(),
        "missing vector file {} (shared/ must sit beside main/)",
        p.display()
    );
    p
}

/// The records of capture file `name`, one a non-blank line.
pub fn records(name: &str) -> Vec<Value> {
    std::fs::read_to_string(path(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
