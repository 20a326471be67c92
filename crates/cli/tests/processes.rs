//! Loopback integration with the `rtmfp` binary as separate processes (issue 3): a server, a
//! node B that waits, and a node A that opens a peer-to-peer session to B by peer ID through
//! the server and exchanges messages both ways; a wrong application path is rejected; two
//! `rtmfp join` members post and route to each other; `rtmfp share` serves a file that
//! `rtmfp fetch` gets with the printed command (exit status 0, same bytes); a file published
//! with `rtmfp publish` comes back byte for byte from `rtmfp play`.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

struct Proc {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
            .args(args)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rtmfp");
        let out: ChildStdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Proc { child, lines }
    }

    /// The first line starting with `prefix`, within 20 s.
    fn expect(&self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) if l.starts_with(prefix) => return l,
                Ok(_) => {}
                Err(_) => panic!("no line starting with {prefix:?}"),
            }
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(extra: &[&str]) -> (Proc, String) {
    let mut args = vec!["server", "--bind", "127.0.0.1:0", "--stats-interval", "0"];
    args.extend_from_slice(extra);
    let server = Proc::start(&args);
    let line = server.expect("listening ");
    let addr = line.split_whitespace().nth(1).unwrap().to_string();
    (server, addr)
}

#[test]
fn two_processes_meet_through_the_server_and_talk_both_ways() {
    let (_server, addr) = start_server(&[]);
    let url = format!("rtmfp://{addr}/app");
    let b = Proc::start(&["connect", &url, "--bind", "127.0.0.1:0"]);
    let b_id = b
        .expect("near-id ")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(b.expect("status "), "status NetConnection.Connect.Success");
    let a = Proc::start(&[
        "connect",
        &url,
        "--bind",
        "127.0.0.1:0",
        "--peer",
        &b_id,
        "--message",
        "ping",
    ]);
    let a_id = a
        .expect("near-id ")
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_string();
    assert_eq!(a.expect("status "), "status NetConnection.Connect.Success");
    let open = a.expect("p2p-open ");
    assert!(open.contains(&b_id), "{open}");
    // B got A's message, A got B's reply.
    assert_eq!(
        b.expect("message "),
        format!("message {a_id} ping from {a_id}")
    );
    assert_eq!(
        a.expect("message "),
        format!("message {b_id} reply from {b_id}")
    );
    a.expect("exchange-complete");
}

#[test]
fn wrong_application_path_is_rejected() {
    let (_server, addr) = start_server(&["--app", "good"]);
    let c = Proc::start(&[
        "connect",
        &format!("rtmfp://{addr}/bad"),
        "--bind",
        "127.0.0.1:0",
    ]);
    assert_eq!(c.expect("status "), "status NetConnection.Connect.Rejected");
}

#[test]
fn peer_id_is_kept_in_the_identity_file() {
    let path = std::env::temp_dir().join(format!("rtmfp-proc-id-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
            .args(["peer-id", "--identity", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success());
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let first = run();
    assert_eq!(first.len(), 64);
    assert_eq!(run(), first);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn the_main_job_demo_converges_posts_and_routes() {
    let out = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args(["demo", "--nodes", "8", "--posts", "4", "--routes", "8"])
        .args(["--replicate-mb", "2", "--stream-secs", "4"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("every member got each exactly once: true"),
        "{text}"
    );
    assert!(
        text.contains("routing: 8/8 sendToNearest delivered, 8 at the truly nearest member"),
        "{text}"
    );
    assert!(text.contains("to 7 others in"), "{text}");
    assert!(text.contains("every copy intact: true"), "{text}");
    assert!(
        text.contains("every data message delivered, the last included: true"),
        "{text}"
    );
}

#[test]
fn a_file_published_as_a_stream_is_played_back_byte_for_byte() {
    let (_server, addr) = start_server(&[]);
    let url = format!("rtmfp://{addr}/app");
    let spec = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args([
            "groupspec",
            "--name",
            "tv",
            "--multicast",
            "--server-channel",
            "--unique",
        ])
        .output()
        .expect("rtmfp groupspec");
    let spec = String::from_utf8(spec.stdout).unwrap().trim().to_string();
    let dir = std::env::temp_dir().join(format!("rtmfp-stream-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let input = dir.join("in.bin");
    let output = dir.join("out.bin");
    let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 + i / 991) as u8).collect();
    std::fs::write(&input, &data).unwrap();
    let common = [
        "--group",
        spec.as_str(),
        "--server",
        url.as_str(),
        "--timer-scale",
        "10",
    ];
    let out = output.to_str().unwrap();
    let mut play_args = vec!["play", "live", "-o", out, "--exit-after", "60"];
    play_args.extend_from_slice(&common);
    let player = Proc::start(&play_args);
    let inp = input.to_str().unwrap();
    let mut pub_args = vec![
        "publish", "live", "--file", inp, "--rate", "400", "--linger", "3",
    ];
    pub_args.extend_from_slice(&common);
    let publisher = Proc::start(&pub_args);
    let played = player.expect("played ");
    assert!(played.contains("continuity 1.0000"), "{played}");
    publisher.expect("published 200000 bytes");
    assert_eq!(std::fs::read(&output).unwrap(), data, "played bytes differ");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_join_processes_post_and_route_through_a_group() {
    let (_server, addr) = start_server(&[]);
    let url = format!("rtmfp://{addr}/app");
    let spec = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args(["groupspec", "--name", "chat", "--posting", "--routing"])
        .args(["--server-channel", "--unique"])
        .output()
        .expect("rtmfp groupspec");
    let spec = String::from_utf8(spec.stdout).unwrap().trim().to_string();
    assert!(spec.starts_with("G:"), "{spec}");
    let common = ["--server", url.as_str(), "--timer-scale", "10"];
    let mut b_args = vec!["join", spec.as_str()];
    b_args.extend_from_slice(&common);
    let b = Proc::start(&b_args);
    let b_address = b.expect("group-address ")["group-address ".len()..].to_string();
    b.expect("NetGroup.Connect.Success");
    let route = format!("{b_address}=hello nearest");
    let mut a_args = vec!["join", spec.as_str(), "--post", "hello group"];
    a_args.extend_from_slice(&["--send-nearest", route.as_str()]);
    a_args.extend_from_slice(&common);
    let a = Proc::start(&a_args);
    a.expect("NetGroup.Neighbor.Connect");
    b.expect("post hello group");
    let sent = b.expect("sendto ");
    assert!(sent.ends_with(": hello nearest"), "{sent}");
}

#[test]
fn share_and_fetch_processes_move_a_file() {
    let (_server, addr) = start_server(&[]);
    let url = format!("rtmfp://{addr}/app");
    let dir = std::env::temp_dir().join(format!("rtmfp-proc-share-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let src = dir.join("data.bin");
    let data: Vec<u8> = (0..1_000_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&src, &data).unwrap();
    let spec = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args([
            "groupspec",
            "--name",
            "files",
            "--replication",
            "--server-channel",
        ])
        .arg("--unique")
        .output()
        .expect("rtmfp groupspec");
    let spec = String::from_utf8(spec.stdout).unwrap().trim().to_string();
    let src_s = src.to_str().unwrap();
    let sharer = Proc::start(&[
        "share",
        src_s,
        "--group",
        &spec,
        "--server",
        &url,
        "--timer-scale",
        "10",
    ]);
    let id = sharer.expect("manifest-id ")["manifest-id ".len()..].to_string();
    let cmd = sharer.expect("  rtmfp fetch ");
    assert!(cmd.contains(&id) && cmd.contains("-o data.bin"), "{cmd}");
    let out = dir.join("out.bin");
    let fetched = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args(["fetch", &id, "--group", &spec, "--server", &url])
        .args(["--timer-scale", "10", "--timeout", "60", "-o"])
        .arg(&out)
        .stdin(Stdio::null())
        .output()
        .expect("rtmfp fetch");
    let stdout = String::from_utf8_lossy(&fetched.stdout);
    assert!(fetched.status.success(), "fetch failed: {stdout}");
    assert!(stdout.contains("ok "), "{stdout}");
    assert_eq!(std::fs::read(&out).unwrap(), data);
    // An ID nobody serves: exit status 1 after the timeout.
    let none = Command::new(env!("CARGO_BIN_EXE_rtmfp"))
        .args([
            "fetch",
            &"ab".repeat(32),
            "--group",
            &spec,
            "--server",
            &url,
        ])
        .args(["--timeout", "1", "-o"])
        .arg(dir.join("none.bin"))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("rtmfp fetch");
    assert_eq!(none.status.code(), Some(1));
    let _ = std::fs::remove_dir_all(&dir);
}
