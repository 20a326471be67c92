//! File sharing over real UDP on loopback (issue 5, `docs/file-sharing.md`): a 20 MB file
//! (deterministic pseudo-random bytes) shared by one node reaches 12 fetchers intact with
//! both strategies, also when the first holder leaves mid-transfer; a partial output file is
//! completed without fetching its intact objects again; a member serving corrupted objects
//! is reported and the file still arrives intact.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{RngCore, SeedableRng};
use rtmfp_netgroup::{
    GroupConfig, GroupHandle, GroupSpecifier, PeerId, RangeSet, ReplicationStrategy,
};
use rtmfp_node::{NetGroup, Node, NodeConfig};
use rtmfp_share::{fetch, seed, FetchSource, Layout, Phase, Progress, ShareConfig, SharedFile};
use sha2::{Digest, Sha256};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

/// "20 MB": 20,000,000 bytes, 306 objects of 64 KiB (the last one shorter).
const SIZE: usize = 20_000_000;
const FETCHERS: usize = 12;

fn node_config() -> NodeConfig {
    NodeConfig {
        bind: "127.0.0.1:0".parse().unwrap(),
        group: GroupConfig::scaled(10),
        ..NodeConfig::default()
    }
}

fn spec(name: &str) -> GroupSpecifier {
    let mut s = GroupSpecifier::new(name).unwrap();
    s.set_object_replication_enabled(true);
    s.set_server_channel_enabled(true);
    s.make_unique(&mut rand::thread_rng());
    s
}

async fn server() -> String {
    let (url, handle) = rtmfp_node::spawn_embedded_server("127.0.0.1:0".parse().unwrap(), "share")
        .await
        .unwrap();
    // Keep the server for the whole test.
    std::mem::forget(handle);
    url
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!(
            "rtmfp-share-{tag}-{}-{:x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn content(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    rand_chacha::ChaCha8Rng::seed_from_u64(seed).fill_bytes(&mut v);
    v
}

/// `size` pseudo-random bytes (from `seed`) written to `dir/source.bin` and described.
async fn source_file(dir: &TempDir, size: usize, seed: u64) -> (Vec<u8>, PathBuf, SharedFile) {
    let data = content(size, seed);
    let path = dir.path("source.bin");
    std::fs::write(&path, &data).unwrap();
    let file = SharedFile::open(&path).await.unwrap();
    (data, path, file)
}

fn sha_of(path: &Path) -> [u8; 32] {
    Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// A member: node and group.
async fn member(url: &str, spec: &GroupSpecifier) -> (Node, NetGroup) {
    let node = Node::connect_with(url, node_config()).await.unwrap();
    let group = node.join(spec).await.unwrap();
    (node, group)
}

/// Fetchers running in tasks: each fetches into `dir/out-<i>`, reports its final fetch
/// progress, then keeps serving until `stop` turns true.
struct Fetchers {
    done: Vec<oneshot::Receiver<Progress>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    finished: Arc<AtomicUsize>,
}

fn spawn_fetchers(
    groups: Vec<NetGroup>,
    source: FetchSource,
    dir: &TempDir,
    config: ShareConfig,
    stop: watch::Receiver<bool>,
) -> Fetchers {
    let finished = Arc::new(AtomicUsize::new(0));
    let mut done = Vec::new();
    let mut tasks = Vec::new();
    for (i, mut g) in groups.into_iter().enumerate() {
        let out = dir.path(&format!("out-{i}"));
        let mut stop = stop.clone();
        let (tx, rx) = oneshot::channel();
        let (source, config, finished) = (source.clone(), config.clone(), finished.clone());
        done.push(rx);
        tasks.push(tokio::spawn(async move {
            let (file, p) = fetch(&mut g, source, &out, &config, |_| {})
                .await
                .unwrap_or_else(|e| panic!("fetcher {i}: {e}"));
            assert_eq!(p.phase, Phase::Complete);
            finished.fetch_add(1, Ordering::SeqCst);
            let _ = tx.send(p);
            let until = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            seed(&mut g, &file, until, |_| {}).await.unwrap();
        }));
    }
    Fetchers {
        done,
        tasks,
        finished,
    }
}

impl Fetchers {
    /// Every fetcher's final progress; panics after `limit`.
    async fn wait(&mut self, limit: Duration) -> Vec<Progress> {
        let end = Instant::now() + limit;
        let mut out = Vec::new();
        for (i, rx) in self.done.iter_mut().enumerate() {
            match tokio::time::timeout_at(end, rx).await {
                Ok(Ok(p)) => out.push(p),
                Ok(Err(_)) => panic!("fetcher {i} failed"),
                Err(_) => panic!("fetcher {i} not done after {limit:?}"),
            }
        }
        out
    }

    async fn stop(self, stop: watch::Sender<bool>) {
        let _ = stop.send(true);
        for t in self.tasks {
            t.await.unwrap();
        }
    }
}

/// One run: a seed and [`FETCHERS`] fetchers knowing only the manifest ID; with `leave`,
/// the seed leaves once its neighbours hold every manifest chunk and object between them.
async fn swarm(strategy: ReplicationStrategy, leave: bool) {
    let t0 = Instant::now();
    let url = server().await;
    let dir = TempDir::new("swarm");
    let (_, src, file) = source_file(&dir, SIZE, 20).await;
    let spec = spec("share-swarm");
    let (seed_node, mut seed_group) = member(&url, &spec).await;
    let id = file.id();
    let n = file.manifest().object_count();
    let chunks = file.encoded_manifest().len().div_ceil(65536) as u64;
    let g = seed_group.id();
    let served = Arc::new(AtomicU64::new(0));
    let (stop_seed, seed_stop) = oneshot::channel::<()>();
    let seed_task = {
        let served = served.clone();
        let file = file.clone();
        tokio::spawn(async move {
            let until = async move {
                let _ = seed_stop.await;
            };
            seed(&mut seed_group, &file, until, |p| {
                served.store(p.objects_served, Ordering::SeqCst)
            })
            .await
            .unwrap();
            seed_group.close().await.unwrap();
        })
    };
    let mut nodes = Vec::new();
    let mut groups = Vec::new();
    for _ in 0..FETCHERS {
        let (node, group) = member(&url, &spec).await;
        nodes.push(node);
        groups.push(group);
    }
    let t_start = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let config = ShareConfig {
        strategy,
        ..ShareConfig::default()
    };
    let mut fetchers = spawn_fetchers(groups, FetchSource::Id(id), &dir, config, stop_rx);
    let layout = Layout::of(&id);
    let mut left_at = None;
    let mut stop_seed = Some(stop_seed);
    if leave {
        wait_haves(&seed_node, g, "objects never all held by others", |haves| {
            let held = |i: u64| haves.iter().any(|(_, h)| h.contains(i));
            (0..chunks).all(|k| held(layout.manifest_index(k)))
                && (0..n).all(|j| held(layout.object_index(j)))
        })
        .await;
        let done = fetchers.finished.load(Ordering::SeqCst);
        let _ = stop_seed.take().unwrap().send(());
        assert!(done < FETCHERS, "everyone finished before the seed left");
        left_at = Some((t_start.elapsed(), done, served.load(Ordering::SeqCst)));
    }
    let progress = fetchers.wait(Duration::from_secs(180)).await;
    let took = t_start.elapsed();
    if let Some(s) = stop_seed {
        let _ = s.send(());
    }
    seed_task.await.unwrap();
    fetchers.stop(stop_tx).await;
    let want = sha_of(&src);
    for (i, p) in progress.iter().enumerate() {
        assert_eq!(
            sha_of(&dir.path(&format!("out-{i}"))),
            want,
            "fetcher {i}: output differs"
        );
        assert_eq!(p.objects_fetched, n, "fetcher {i}: {p:?}");
        assert_eq!(p.objects_faulty, 0, "fetcher {i}: {p:?}");
    }
    let served = served.load(Ordering::SeqCst);
    let total = n * FETCHERS as u64;
    let from_peers: u64 = progress
        .iter()
        .flat_map(|p| p.served_from.values())
        .sum::<u64>();
    assert_eq!(from_peers, total);
    eprintln!(
        "{strategy:?}{}: {FETCHERS} x {SIZE} bytes in {:.1} s ({:.1} MB/s delivered in all); \
         the seed served {served} requests for {total} objects ({:.0} %); setup {:.1} s{}",
        if leave { ", seed leaving" } else { "" },
        took.as_secs_f64(),
        (SIZE * FETCHERS) as f64 / took.as_secs_f64() / 1e6,
        100.0 * served as f64 / total as f64,
        (t_start - t0).as_secs_f64(),
        left_at.map_or(String::new(), |(t, d, s)| format!(
            "; it left at {:.1} s having served {s}, {d} fetchers done",
            t.as_secs_f64()
        )),
    );
    drop(nodes);
    drop(seed_node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_megabytes_reach_twelve_fetchers_lowest_first() {
    swarm(ReplicationStrategy::LowestFirst, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_megabytes_reach_twelve_fetchers_rarest_first() {
    swarm(ReplicationStrategy::RarestFirst, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_megabytes_arrive_after_the_seed_leaves_rarest_first() {
    swarm(ReplicationStrategy::RarestFirst, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_megabytes_arrive_after_the_seed_leaves_lowest_first() {
    swarm(ReplicationStrategy::LowestFirst, true).await;
}

/// Polls `node`'s view of its neighbours' have sets in group `g` until `done` holds; panics
/// with `what` after 120 s.
async fn wait_haves(
    node: &Node,
    g: GroupHandle,
    what: &str,
    done: impl Fn(&[(PeerId, RangeSet)]) -> bool,
) {
    let end = Instant::now() + Duration::from_secs(120);
    loop {
        let haves = node
            .handle()
            .call(move |x, _| x.group(g).map(|v| v.neighbor_have_objects()))
            .await
            .unwrap()
            .unwrap();
        if done(&haves) {
            return;
        }
        assert!(Instant::now() < end, "{what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until `group`'s node has `n` neighbours that advertised a non-empty have set.
async fn wait_for_holders(node: &Node, group: &NetGroup, n: usize) {
    wait_haves(node, group.id(), "holders not seen", |haves| {
        haves.iter().filter(|(_, h)| !h.is_empty()).count() >= n
    })
    .await;
}

/// Serves `file` in `group` until the returned sender fires; the task returns the objects
/// served.
fn spawn_seed(
    mut group: NetGroup,
    file: SharedFile,
) -> (oneshot::Sender<()>, tokio::task::JoinHandle<u64>) {
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let until = async move {
            let _ = rx.await;
        };
        let p = seed(&mut group, &file, until, |_| {}).await.unwrap();
        p.objects_served
    });
    (tx, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partial_output_file_is_completed_not_fetched_again() {
    let url = server().await;
    let dir = TempDir::new("resume");
    let size = 3_000_000; // 46 objects
    let (data, src, file) = source_file(&dir, size, 21).await;
    let n = file.manifest().object_count();
    assert_eq!(n, 46);
    // A previous run got the first 2,000,000 bytes (objects 0..=29 whole, 30 in part), and
    // object 5 was damaged since.
    let out = dir.path("out.bin");
    let mut partial = data[..2_000_000].to_vec();
    partial[5 * 65536 + 100] ^= 1;
    std::fs::write(&out, &partial).unwrap();
    let spec = spec("share-resume");
    let (_seed_node, seed_group) = member(&url, &spec).await;
    let (stop, seed_task) = spawn_seed(seed_group, file.clone());
    let (node, mut group) = member(&url, &spec).await;
    wait_for_holders(&node, &group, 1).await;
    // Start from the manifest file (`rtmfp fetch <manifest-file>`).
    let source = FetchSource::Manifest(file.encoded_manifest().clone());
    let phases = Arc::new(std::sync::Mutex::new(Vec::new()));
    let ph = phases.clone();
    let (_, p) = fetch(
        &mut group,
        source.clone(),
        &out,
        &ShareConfig::default(),
        move |p| {
            let mut v = ph.lock().unwrap();
            if v.last() != Some(&p.phase) {
                v.push(p.phase);
            }
        },
    )
    .await
    .unwrap();
    assert_eq!(sha_of(&out), sha_of(&src));
    assert_eq!(p.objects_resumed, 29, "{p:?}");
    assert_eq!(p.objects_fetched, n - 29, "{p:?}");
    assert_eq!(p.objects_done, n);
    assert_eq!(p.bytes_done, size as u64);
    assert_eq!(
        *phases.lock().unwrap(),
        vec![
            Phase::Manifest,
            Phase::Resume,
            Phase::Objects,
            Phase::Verify,
            Phase::Complete
        ]
    );
    // Again on the complete file: nothing is fetched. A longer file is cut to size.
    let mut longer = data.clone();
    longer.extend_from_slice(b"trailing bytes");
    std::fs::write(&out, &longer).unwrap();
    let (_, again) = fetch(&mut group, source, &out, &ShareConfig::default(), |_| {})
        .await
        .unwrap();
    assert_eq!((again.objects_resumed, again.objects_fetched), (n, 0));
    assert_eq!(sha_of(&out), sha_of(&src));
    let _ = stop.send(());
    let served = seed_task.await.unwrap();
    assert_eq!(served, n - 29, "the seed served only the missing objects");
    drop(node);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_serving_corrupted_objects_is_reported_and_the_file_arrives_intact() {
    let url = server().await;
    let dir = TempDir::new("faulty");
    let (data, src, file) = source_file(&dir, 2_000_000, 22).await; // 31 objects
    let n = file.manifest().object_count();
    // The liar announces the real manifest but serves a damaged copy.
    let mut bad = data.clone();
    for j in 0..n as usize {
        bad[j * 65536] ^= 0x55;
    }
    let bad_path = dir.path("damaged.bin");
    std::fs::write(&bad_path, &bad).unwrap();
    let liar_file = SharedFile::with_manifest(file.manifest().clone(), &bad_path);
    assert_eq!(liar_file.id(), file.id());
    let spec = spec("share-faulty");
    let (_seed_node, seed_group) = member(&url, &spec).await;
    let (liar_node, liar_group) = member(&url, &spec).await;
    let liar = liar_node.peer_id();
    let (stop_seed, seed_task) = spawn_seed(seed_group, file.clone());
    let (stop_liar, liar_task) = spawn_seed(liar_group, liar_file);
    let (node, mut group) = member(&url, &spec).await;
    wait_for_holders(&node, &group, 2).await;
    let out = dir.path("out.bin");
    let (_, p) = fetch(
        &mut group,
        FetchSource::Id(file.id()),
        &out,
        &ShareConfig::default(),
        |_| {},
    )
    .await
    .unwrap();
    assert_eq!(sha_of(&out), sha_of(&src));
    assert!(p.objects_faulty > 0, "the liar was never asked: {p:?}");
    assert_eq!(p.objects_fetched, n);
    assert!(!p.served_from.contains_key(&liar), "{p:?}");
    let g = group.id();
    let faults = node
        .handle()
        .call(move |x, _| x.group(g).map(|v| v.replication_faults()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(faults, vec![(liar, p.objects_faulty as u32)]);
    // The application checks hashes after the engine handed the object over, so the engine
    // may ask the liar again before the reports that exclude it arrive (the exact bound,
    // max_faults_per_neighbor plus what is in flight, holds in the in-memory test where the
    // application reacts at once). Under load here: 7 to 10 of 31.
    assert!(p.objects_faulty < n, "{p:?}");
    let _ = stop_seed.send(());
    let _ = stop_liar.send(());
    let (_, liar_served) = (seed_task.await.unwrap(), liar_task.await.unwrap());
    eprintln!(
        "liar served {liar_served} requests, {} reported faulty",
        p.objects_faulty
    );
    drop(node);
}
