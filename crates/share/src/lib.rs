//! File sharing over NetGroup object replication (docs/protocol/netgroup.md, "Object replication";
//! the design is ours, `docs/file-sharing.md`): `rtmfp share` / `rtmfp fetch`.
//!
//! - [`manifest`]: the file's description (size, 64 KiB objects, SHA-256 of every object and
//!   of the whole file, name), its versioned binary encoding and the manifest ID (SHA-256 of
//!   the encoding);
//! - [`layout`]: where a manifest's chunks and its file's objects live in the group's index
//!   space (a window per manifest ID, so a group can carry several files);
//! - [`seed`] / [`fetch`] (in `session`): serving a file from disk, fetching one with only
//!   its ID (manifest first, then objects checked against their hashes, faulty senders
//!   reported), resuming from a partial output file, progress through a callback.
//!
//! ```no_run
//! # async fn f(mut group: rtmfp_node::NetGroup) -> Result<(), rtmfp_share::ShareError> {
//! use rtmfp_share::{fetch, seed, FetchSource, ShareConfig};
//! let id = "00".repeat(32).parse()?;
//! let (file, _) = fetch(
//!     &mut group,
//!     FetchSource::Id(id),
//!     "out.bin".as_ref(),
//!     &ShareConfig::default(),
//!     |p| eprintln!("{} / {} bytes", p.bytes_done, p.bytes_total),
//! )
//! .await?;
//! // Keep serving it for a minute.
//! seed(&mut group, &file, tokio::time::sleep(std::time::Duration::from_secs(60)), |_| {}).await?;
//! # Ok(()) }
//! ```

mod disk;
pub mod layout;
pub mod manifest;
mod session;

pub use layout::Layout;
pub use manifest::{Manifest, ManifestError, ManifestId, ManifestLimits};
pub use session::{fetch, seed, FetchSource, Phase, Progress, ShareConfig, ShareError, SharedFile};
