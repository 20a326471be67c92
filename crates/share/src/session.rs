//! Seeding and fetching one file over a joined [`NetGroup`] (`docs/file-sharing.md`).
//!
//! One loop per call reads the group's events: `ReplicationRequest`s are answered from disk
//! (one object read at a time, never the whole file), `ReplicationFetchResult`s are checked
//! against the manifest's SHA-256 and written in place, or reported with
//! `report_faulty_object`. A fetch wants at most [`ShareConfig::want_window`] file objects at
//! a time, so at most that many objects are ever in flight or waiting in the event queues,
//! whatever the file size.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rtmfp_netgroup::{GroupEvent, PeerId, ReplicationError, ReplicationMut, ReplicationStrategy};

use super::disk;
use super::layout::{manifest_chunks, Layout, Slot, MANIFEST_CHUNK};
use super::manifest::{Manifest, ManifestError, ManifestId, ManifestLimits, DEFAULT_OBJECT_SIZE};
use rtmfp_node::{NetGroup, NodeError};

/// Objects checked per blocking task while resuming (progress is reported between them).
const RESUME_BATCH: u64 = 256;

/// Settings of [`fetch`].
#[derive(Debug, Clone)]
pub struct ShareConfig {
    /// Most file objects wanted from the group at once: bounds the objects in flight and
    /// queued (memory: about this many times the object size). Default 256 (16 MiB of
    /// 64 KiB objects).
    pub want_window: usize,
    /// Order in which objects are fetched (`ReplicationMut::set_replication_strategy`, through [`NetGroup::with`]).
    /// Lowest-first walks the file from its start; rarest-first also starts its want window
    /// at a random object, so fetchers spread over the file. Default lowest-first.
    pub strategy: ReplicationStrategy,
    /// Bounds on a manifest fetched from the group.
    pub limits: ManifestLimits,
    /// Keep the intact objects of an existing output file (checked against the manifest)
    /// instead of fetching them again. Default `true`.
    pub resume: bool,
}

impl Default for ShareConfig {
    fn default() -> Self {
        ShareConfig {
            want_window: 256,
            strategy: ReplicationStrategy::LowestFirst,
            limits: ManifestLimits::default(),
            resume: true,
        }
    }
}

/// What a share session is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Phase {
    /// Fetching the manifest chunks (only the ID is known).
    #[default]
    Manifest,
    /// Checking the objects an existing output file already holds.
    Resume,
    /// Fetching file objects.
    Objects,
    /// Checking the whole file's SHA-256.
    Verify,
    /// Fetched and verified.
    Complete,
    /// Serving a complete file.
    Seeding,
}

/// Progress of a share session, passed to the caller's callback after every change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// What the session is doing.
    pub phase: Phase,
    /// File bytes held (resumed and fetched).
    pub bytes_done: u64,
    /// File size, bytes (0 until the manifest is known).
    pub bytes_total: u64,
    /// File objects held (resumed and fetched).
    pub objects_done: u64,
    /// File objects in all (0 until the manifest is known).
    pub objects_total: u64,
    /// Objects found intact in an existing output file (not fetched).
    pub objects_resumed: u64,
    /// Objects fetched and verified.
    pub objects_fetched: u64,
    /// Objects received with a wrong SHA-256 (reported faulty and fetched again).
    pub objects_faulty: u64,
    /// Manifest chunks received (manifest phase).
    pub manifest_chunks: u64,
    /// Requests answered with an object (file objects and manifest chunks).
    pub objects_served: u64,
    /// Verified objects received, per neighbour that sent them.
    pub served_from: BTreeMap<PeerId, u64>,
    /// Connected neighbours (refreshed twice a second).
    pub neighbors: usize,
}

/// Errors of the file-sharing layer.
#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    /// Reading or writing the file failed.
    #[error("file I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The group or its node refused a command or stopped.
    #[error(transparent)]
    Node(#[from] NodeError),
    /// A manifest (given, or fetched and matching its ID) does not decode.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Every object matched its hash but the whole file's SHA-256 does not match the
    /// manifest's (an inconsistent manifest, or the file changed on disk meanwhile).
    #[error("the file's SHA-256 does not match the manifest")]
    FileMismatch,
    /// The group's event stream ended (the node stopped).
    #[error("the node stopped")]
    Stopped,
}

fn blocking_failed(e: tokio::task::JoinError) -> ShareError {
    ShareError::Io(std::io::Error::other(e))
}

/// A file described by its manifest, held completely at `path`: what [`seed`] serves.
#[derive(Debug, Clone)]
pub struct SharedFile {
    manifest: Arc<Manifest>,
    encoded: Bytes,
    id: ManifestId,
    path: PathBuf,
}

impl SharedFile {
    /// Describes the file at `path` in 64 KiB objects (reads and hashes all of it, off the
    /// async executor).
    ///
    /// Errors: [`ShareError::Io`] (unreadable, name not UTF-8 or not usable in a manifest).
    pub async fn open(path: &Path) -> Result<SharedFile, ShareError> {
        Self::open_with(path, DEFAULT_OBJECT_SIZE).await
    }

    /// [`SharedFile::open`] with another object size (bytes, at most
    /// [`super::manifest::MAX_OBJECT_SIZE`]).
    ///
    /// Errors: as [`SharedFile::open`].
    pub async fn open_with(path: &Path, object_size: u32) -> Result<SharedFile, ShareError> {
        let p = path.to_path_buf();
        let m = tokio::task::spawn_blocking(move || Manifest::from_file(&p, object_size))
            .await
            .map_err(blocking_failed)??;
        Ok(Self::with_manifest(m, path))
    }

    /// A complete file at `path` described by `manifest` (not checked here: fetchers check
    /// every object they receive).
    pub fn with_manifest(manifest: Manifest, path: &Path) -> SharedFile {
        let encoded = Bytes::from(manifest.encode());
        SharedFile {
            id: ManifestId::of(&encoded),
            manifest: Arc::new(manifest),
            encoded,
            path: path.to_path_buf(),
        }
    }

    /// The manifest ID.
    pub fn id(&self) -> ManifestId {
        self.id
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The encoded manifest (what `rtmfp share --manifest-out` writes).
    pub fn encoded_manifest(&self) -> &Bytes {
        &self.encoded
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// What [`fetch`] starts from.
#[derive(Debug, Clone)]
pub enum FetchSource {
    /// Only the manifest ID: the manifest is fetched from the group first.
    Id(ManifestId),
    /// The encoded manifest (e.g. a file written by `rtmfp share --manifest-out`); its ID
    /// is its SHA-256.
    Manifest(Bytes),
}

impl FetchSource {
    /// The manifest ID.
    pub fn id(&self) -> ManifestId {
        match self {
            FetchSource::Id(id) => *id,
            FetchSource::Manifest(b) => ManifestId::of(b),
        }
    }
}

/// Serves the complete file `file` in `group` (its manifest chunks and objects, read from
/// disk per request) until `stop` completes; `progress` sees every answered request.
/// Returns the final progress.
///
/// Errors: [`ShareError::Io`] (the file cannot be opened), [`ShareError::Node`],
/// [`ShareError::Stopped`].
pub async fn seed(
    group: &mut NetGroup,
    file: &SharedFile,
    stop: impl Future<Output = ()>,
    mut progress: impl FnMut(&Progress) + Send,
) -> Result<Progress, ShareError> {
    let f = File::open(&file.path)?;
    let mut s = Session::new(group, file.id, 0, ManifestLimits::default(), &mut progress);
    s.install_manifest(file.encoded.clone(), file.manifest.clone())
        .await?;
    let n = file.manifest.object_count();
    s.file = Some(Arc::new(f));
    s.held = vec![true; n as usize];
    s.progress.objects_done = n;
    s.progress.bytes_done = file.manifest.file_size;
    if n > 0 {
        let (a, b) = (s.layout.object_index(0), s.layout.object_index(n - 1));
        replication(s.group, move |r| r.add_have_objects(a, b)).await?;
    }
    s.progress.phase = Phase::Seeding;
    s.emit();
    s.run(|_| false, stop).await?;
    Ok(s.progress)
}

/// Fetches the file named by `source` from `group` into `out`: the manifest first (from
/// the group unless given; checked against the ID), then, after keeping what an existing
/// `out` already holds intact ([`ShareConfig::resume`]), the missing objects, each checked
/// against its SHA-256 (a bad one is reported with `report_faulty_object` and fetched
/// again), written in place and advertised at once so that this node serves it too.
/// Finally the whole file's SHA-256 is checked. `progress` sees every change.
///
/// Returns the file, ready for [`seed`], and the final progress.
///
/// Errors: [`ShareError::Io`], [`ShareError::Manifest`] (a given manifest, or the
/// group's, does not decode within `config.limits`), [`ShareError::FileMismatch`],
/// [`ShareError::Node`], [`ShareError::Stopped`].
pub async fn fetch(
    group: &mut NetGroup,
    source: FetchSource,
    out: &Path,
    config: &ShareConfig,
    mut progress: impl FnMut(&Progress) + Send,
) -> Result<(SharedFile, Progress), ShareError> {
    let strategy = config.strategy;
    replication(group, move |r| r.set_replication_strategy(strategy)).await?;
    let id = source.id();
    let mut s = Session::new(
        group,
        id,
        config.want_window.max(1),
        config.limits,
        &mut progress,
    );
    match source {
        FetchSource::Manifest(bytes) => {
            let m = Manifest::decode(&bytes, &config.limits)?;
            s.install_manifest(bytes, Arc::new(m)).await?;
        }
        FetchSource::Id(_) => {
            s.emit();
            s.wanted_chunks = 1;
            let i = s.layout.manifest_index(0);
            replication(s.group, move |r| r.add_want_objects(i, i)).await?;
            s.run(|s| s.manifest.is_some(), std::future::pending())
                .await?;
        }
    }
    let manifest = s.manifest.clone().ok_or(ShareError::Stopped)?;
    s.open_output(out, config.resume).await?;
    let n = manifest.object_count();
    if config.strategy == ReplicationStrategy::RarestFirst && n > 0 {
        s.order_start = rand::random::<u64>() % n;
    }
    s.progress.phase = Phase::Objects;
    s.emit();
    s.refill().await?;
    s.run(|s| s.progress.objects_done == n, std::future::pending())
        .await?;
    s.progress.phase = Phase::Verify;
    s.emit();
    let f = s.file.clone().ok_or(ShareError::Stopped)?;
    let (size, want) = (manifest.file_size, manifest.file_sha256);
    let got = tokio::task::spawn_blocking(move || {
        f.sync_all()?;
        disk::file_sha256(&f, size)
    })
    .await
    .map_err(blocking_failed)??;
    if got != want {
        return Err(ShareError::FileMismatch);
    }
    s.progress.phase = Phase::Complete;
    s.emit();
    let shared = SharedFile {
        manifest,
        encoded: s.encoded.clone().unwrap_or_default(),
        id,
        path: out.to_path_buf(),
    };
    Ok((shared, s.progress))
}

/// One object replication call on `group`, run in its driver task.
async fn replication<R: Send + 'static>(
    group: &NetGroup,
    f: impl FnOnce(&mut ReplicationMut<'_>) -> Result<R, ReplicationError> + Send + 'static,
) -> Result<R, NodeError> {
    Ok(group.with(move |mut g| f(&mut g.replication())).await??)
}

/// Commands whose group-level refusal is not fatal to the session (a request whose
/// neighbour left, ...): logged and ignored. Driver failures are returned.
fn tolerate(r: Result<(), NodeError>) -> Result<(), ShareError> {
    match r {
        Ok(()) | Err(NodeError::Replication(ReplicationError::UnknownRequest { .. })) => Ok(()),
        Err(e @ (NodeError::Replication(_) | NodeError::NotJoined)) => {
            tracing::debug!(error = %e, "share: command refused");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Inclusive runs of consecutive values of an ascending iterator.
fn runs(sorted: impl IntoIterator<Item = u64>) -> Vec<(u64, u64)> {
    let mut out: Vec<(u64, u64)> = Vec::new();
    for j in sorted {
        match out.last_mut() {
            Some((_, e)) if e.checked_add(1) == Some(j) => *e = j,
            _ => out.push((j, j)),
        }
    }
    out
}

struct Session<'a> {
    group: &'a mut NetGroup,
    id: ManifestId,
    layout: Layout,
    limits: ManifestLimits,
    /// Manifest chunks received (manifest phase), with their senders.
    chunks: BTreeMap<u64, (Bytes, PeerId)>,
    /// Encoded manifest length, from chunk 0.
    manifest_len: Option<u64>,
    /// Chunks `0..wanted_chunks` are wanted from the engine.
    wanted_chunks: u64,
    encoded: Option<Bytes>,
    manifest: Option<Arc<Manifest>>,
    file: Option<Arc<File>>,
    /// File objects held (verified on disk).
    held: Vec<bool>,
    /// File objects wanted from the engine and not held yet.
    wanted: BTreeSet<u64>,
    window: usize,
    order_start: u64,
    cursor: u64,
    progress: Progress,
    report: &'a mut (dyn FnMut(&Progress) + Send),
}

impl<'a> Session<'a> {
    fn new(
        group: &'a mut NetGroup,
        id: ManifestId,
        window: usize,
        limits: ManifestLimits,
        report: &'a mut (dyn FnMut(&Progress) + Send),
    ) -> Self {
        Session {
            group,
            id,
            layout: Layout::of(&id),
            limits,
            chunks: BTreeMap::new(),
            manifest_len: None,
            wanted_chunks: 0,
            encoded: None,
            manifest: None,
            file: None,
            held: Vec::new(),
            wanted: BTreeSet::new(),
            window,
            order_start: 0,
            cursor: 0,
            progress: Progress::default(),
            report,
        }
    }

    fn emit(&mut self) {
        (self.report)(&self.progress);
    }

    /// Handles events until `done` holds (checked before each) or `stop` completes.
    async fn run(
        &mut self,
        done: impl Fn(&Session<'_>) -> bool,
        stop: impl Future<Output = ()>,
    ) -> Result<(), ShareError> {
        tokio::pin!(stop);
        let mut tick = tokio::time::interval(Duration::from_millis(500));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        while !done(self) {
            tokio::select! {
                e = self.group.next_event() => match e {
                    Some(e) => self.on_event(e).await?,
                    None => return Err(ShareError::Stopped),
                },
                _ = tick.tick() => {
                    self.progress.neighbors = self.group.read(|g| g.neighbor_count()).await?;
                    self.emit();
                }
                _ = &mut stop => return Ok(()),
            }
        }
        Ok(())
    }

    async fn on_event(&mut self, e: GroupEvent) -> Result<(), ShareError> {
        match e {
            GroupEvent::ReplicationRequest {
                index, request_id, ..
            } => self.serve(index, request_id).await,
            GroupEvent::ReplicationFetchResult {
                index,
                object,
                from,
                ..
            } => match self.layout.slot(index) {
                Some(Slot::Manifest(k)) => self.on_chunk(k, object, from).await,
                Some(Slot::Object(j)) => self.on_object(j, object, from).await,
                None => Ok(()),
            },
            _ => Ok(()),
        }
    }

    /// Answers a request from the manifest or the file, or denies it.
    async fn serve(&mut self, index: u64, request_id: u64) -> Result<(), ShareError> {
        let data = match self.layout.slot(index) {
            Some(Slot::Manifest(k)) => self.encoded.as_ref().and_then(|e| {
                let start = usize::try_from(k).ok()?.checked_mul(MANIFEST_CHUNK)?;
                (start < e.len()).then(|| e.slice(start..(start + MANIFEST_CHUNK).min(e.len())))
            }),
            Some(Slot::Object(j)) if self.holds(j) => {
                let (Some(f), Some(m)) = (self.file.clone(), self.manifest.clone()) else {
                    return Ok(());
                };
                let r = tokio::task::spawn_blocking(move || disk::read_object(&f, &m, j))
                    .await
                    .map_err(blocking_failed)?;
                match r {
                    Ok(b) => Some(Bytes::from(b)),
                    Err(e) => {
                        tracing::warn!(object = j, error = %e, "share: cannot read an object");
                        None
                    }
                }
            }
            _ => None,
        };
        match data {
            Some(b) => {
                tolerate(
                    replication(self.group, move |r| r.write_requested_object(request_id, b)).await,
                )?;
                self.progress.objects_served += 1;
                self.emit();
                Ok(())
            }
            None => tolerate(
                replication(self.group, move |r| r.deny_requested_object(request_id)).await,
            ),
        }
    }

    fn holds(&self, j: u64) -> bool {
        usize::try_from(j)
            .ok()
            .and_then(|j| self.held.get(j))
            .copied()
            .unwrap_or(false)
    }

    /// A manifest chunk arrived (manifest phase).
    async fn on_chunk(&mut self, k: u64, bytes: Bytes, from: PeerId) -> Result<(), ShareError> {
        if self.encoded.is_some() || k >= self.wanted_chunks {
            return Ok(());
        }
        if bytes.len() > MANIFEST_CHUNK {
            // Bounds what the manifest phase buffers: chunks x 64 KiB.
            return self.faulty(self.layout.manifest_index(k), from).await;
        }
        if k == 0 {
            let len = match Manifest::encoded_len_from_prefix(&bytes, &self.limits) {
                Ok(len) => len,
                Err(e) => {
                    tracing::debug!(?from, error = %e, "share: bad manifest chunk 0");
                    return self.faulty(self.layout.manifest_index(0), from).await;
                }
            };
            let m = manifest_chunks(len);
            if m > self.wanted_chunks {
                let (a, b) = (
                    self.layout.manifest_index(self.wanted_chunks),
                    self.layout.manifest_index(m - 1),
                );
                replication(self.group, move |r| r.add_want_objects(a, b)).await?;
            } else if m < self.wanted_chunks {
                let (a, b) = (
                    self.layout.manifest_index(m),
                    self.layout.manifest_index(self.wanted_chunks - 1),
                );
                replication(self.group, move |r| r.remove_want_objects(a, b)).await?;
                self.chunks.retain(|c, _| *c < m);
            }
            self.wanted_chunks = m;
            self.manifest_len = Some(len);
        }
        self.chunks.insert(k, (bytes, from));
        self.progress.manifest_chunks = self.chunks.len() as u64;
        self.emit();
        let Some(len) = self.manifest_len else {
            return Ok(());
        };
        if (self.chunks.len() as u64) < self.wanted_chunks {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
        for (b, _) in self.chunks.values() {
            buf.extend_from_slice(b);
        }
        if buf.len() as u64 == len && ManifestId::of(&buf) == self.id {
            let m = Manifest::decode(&buf, &self.limits)?;
            return self.install_manifest(Bytes::from(buf), Arc::new(m)).await;
        }
        // Some chunk is wrong and the hash cannot tell which: every sender is reported (an
        // honest one costs one fault) and every chunk is fetched again.
        tracing::debug!("share: the manifest does not match its ID");
        let chunks = std::mem::take(&mut self.chunks);
        self.manifest_len = None;
        for (k, (_, from)) in chunks {
            self.faulty(self.layout.manifest_index(k), from).await?;
        }
        Ok(())
    }

    async fn faulty(&mut self, index: u64, from: PeerId) -> Result<(), ShareError> {
        self.progress.objects_faulty += 1;
        self.emit();
        tolerate(replication(self.group, move |r| r.report_faulty_object(index, from)).await)
    }

    /// The manifest is known and verified: serve it, size the state.
    async fn install_manifest(
        &mut self,
        encoded: Bytes,
        manifest: Arc<Manifest>,
    ) -> Result<(), ShareError> {
        let chunks = manifest_chunks(encoded.len() as u64);
        let (a, b) = (
            self.layout.manifest_index(0),
            self.layout.manifest_index(chunks - 1),
        );
        replication(self.group, move |r| r.add_have_objects(a, b)).await?;
        self.chunks.clear();
        self.progress.manifest_chunks = chunks;
        self.progress.objects_total = manifest.object_count();
        self.progress.bytes_total = manifest.file_size;
        self.held = vec![false; manifest.object_count() as usize];
        self.encoded = Some(encoded);
        self.manifest = Some(manifest);
        self.emit();
        Ok(())
    }

    /// Opens (or creates) the output file, keeps its intact objects, sizes it.
    async fn open_output(&mut self, out: &Path, resume: bool) -> Result<(), ShareError> {
        let m = self.manifest.clone().ok_or(ShareError::Stopped)?;
        let f = Arc::new(
            OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(out)?,
        );
        let len = f.metadata()?.len();
        let n = m.object_count();
        if resume && len > 0 {
            self.progress.phase = Phase::Resume;
            self.emit();
            let mut from = 0;
            // Past the end of the existing file nothing can be intact.
            while from < n && m.object_range(from).0 < len {
                let to = (from + RESUME_BATCH).min(n);
                let (f2, m2) = (f.clone(), m.clone());
                let intact = tokio::task::spawn_blocking(move || {
                    disk::intact_objects(&f2, &m2, len, from, to)
                })
                .await
                .map_err(blocking_failed)??;
                for j in &intact {
                    self.held[*j as usize] = true;
                    self.progress.objects_done += 1;
                    self.progress.objects_resumed += 1;
                    self.progress.bytes_done += m.object_range(*j).1 as u64;
                }
                for (a, b) in runs(intact) {
                    let (a, b) = (self.layout.object_index(a), self.layout.object_index(b));
                    replication(self.group, move |r| r.add_have_objects(a, b)).await?;
                }
                self.emit();
                from = to;
            }
        }
        f.set_len(m.file_size)?;
        self.file = Some(f);
        Ok(())
    }

    /// Wants the next file objects, up to the window.
    async fn refill(&mut self) -> Result<(), ShareError> {
        let n = self.held.len() as u64;
        let mut add = Vec::new();
        while self.wanted.len() < self.window && self.cursor < n {
            let j = (self.order_start + self.cursor) % n;
            self.cursor += 1;
            if !self.held[j as usize] && self.wanted.insert(j) {
                add.push(j);
            }
        }
        add.sort_unstable();
        for (a, b) in runs(add) {
            let (a, b) = (self.layout.object_index(a), self.layout.object_index(b));
            replication(self.group, move |r| r.add_want_objects(a, b)).await?;
        }
        Ok(())
    }

    /// A file object arrived: check, write, advertise; or report it.
    async fn on_object(&mut self, j: u64, bytes: Bytes, from: PeerId) -> Result<(), ShareError> {
        let (Some(m), Some(f)) = (self.manifest.clone(), self.file.clone()) else {
            return Ok(());
        };
        if j >= m.object_count() || self.holds(j) {
            return Ok(());
        }
        let len = bytes.len() as u64;
        let ok = tokio::task::spawn_blocking(move || {
            if !disk::object_matches(&m, j, &bytes) {
                return Ok(false);
            }
            disk::write_at(&f, &bytes, m.object_range(j).0).map(|()| true)
        })
        .await
        .map_err(blocking_failed)??;
        let index = self.layout.object_index(j);
        if !ok {
            return self.faulty(index, from).await;
        }
        self.held[j as usize] = true;
        self.wanted.remove(&j);
        self.progress.objects_done += 1;
        self.progress.objects_fetched += 1;
        self.progress.bytes_done += len;
        *self.progress.served_from.entry(from).or_default() += 1;
        replication(self.group, move |r| r.add_have_objects(index, index)).await?;
        self.refill().await?;
        self.emit();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::runs;

    #[test]
    fn runs_merge_consecutive_values() {
        assert_eq!(runs([]), vec![]);
        assert_eq!(runs([3]), vec![(3, 3)]);
        assert_eq!(runs([0, 1, 2, 5, 6, 9]), vec![(0, 2), (5, 6), (9, 9)]);
        assert_eq!(
            runs([u64::MAX - 1, u64::MAX]),
            vec![(u64::MAX - 1, u64::MAX)]
        );
    }
}
