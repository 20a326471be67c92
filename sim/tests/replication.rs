//! Object replication in the simulator (plain profile, 200 members): one seeder, every other
//! member wants a 32-object file; every live member ends up holding every object, each checked
//! against the object's bytes on arrival, in a sane multiple of the upload-capacity bound; with
//! 5 % loss and churn every member alive at the end completes.

mod common;

use rtmfp_sim::group::replication::ReplicationReport;
use rtmfp_sim::runner::RunResult;

/// 200 members (slot 0 is the server, slot 1 the seeder) join over 2 s on a transit-stub
/// topology; members upload at 2 Mbit/s, the seeder at 4 Mbit/s; a 512 KiB file of 32 objects
/// of 16 KiB is wanted from 8 s on.
fn swarm(extra: &str, duration_s: u32) -> String {
    format!(
        r#"
name = "replication"
seed = 8
duration_s = {duration_s}
crypto = "plain"
[population]
nodes = 201
join_spread_s = 2
upload_kbps = 2000
[network]
topology = {{ kind = "transit_stub", transit_domains = 3, routers_per_transit = 3, stubs_per_transit_router = 2, routers_per_stub = 3 }}
jitter_ms = 1
{extra}
[workload]
kind = "group"
warmup_s = 8
drain_s = 2
timer_scale = 5
idle_timeout_s = 15
[workload.replication]
bytes = 524288
object_bytes = 16384
start_s = 8
seed_upload_kbps = 4000
serve_backlog_s = 0.5
"#
    )
}

fn run_toml(text: &str) -> RunResult {
    common::run_scenario(text, "replication.toml", None)
}

fn replication(r: &RunResult) -> &ReplicationReport {
    r.group
        .as_ref()
        .and_then(|g| g.replication.as_ref())
        .expect("a replication run")
}

#[test]
fn every_member_gets_every_object_within_a_multiple_of_the_bound() {
    let r = run_toml(&swarm("", 25));
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    let x = replication(&r);
    let c = &x.counters;
    assert_eq!(x.objects, 32);
    assert_eq!(
        x.bound.members, 199,
        "every member wants the file from the start"
    );
    // Every member holds every object, each one checked against the object's bytes when it
    // arrived, and its engine's have set agrees.
    assert_eq!((x.members_at_end, x.complete_at_end), (199, 199));
    assert_eq!(c.objects_received, 199 * 32);
    assert_eq!(c.corrupt, 0);
    assert_eq!(c.duplicates, 0);
    assert_eq!(x.have_set_mismatches, 0);
    // Upload capacity bounds the run: T_min = 199 × 4.19 Mbit / 402 Mbit/s ≈ 2.1 s.
    let t_min = x.bound.t_min_s;
    assert!((2.0..2.2).contains(&t_min), "{:?}", x.bound);
    let ratio = x.ratio_to_bound.expect("completed");
    assert!((1.0..8.0).contains(&ratio), "time / T_min = {ratio}");
    // Members, not the seeder, carry most of the file.
    assert!(x.seeder_share < 0.3, "{}", x.seeder_share);
    assert!(c.bytes_served_by_others > c.bytes_served_by_seeders);
    // The progress series reaches 1.
    let last = x.progress.last().expect("progress rows");
    assert_eq!((last.fraction_held, last.members_complete), (1.0, 199));
}

#[test]
fn with_five_percent_loss_and_churn_every_member_alive_at_the_end_completes() {
    let churn = r#"loss = 0.05
[churn]
session = { dist = "exponential", mean_s = 60 }
offline_mean_s = 3
crash_fraction = 0.5
until_s = 20"#;
    let r = run_toml(&swarm(churn, 40));
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    let x = replication(&r);
    let c = &x.counters;
    assert!(r.net.drop_loss > 0);
    assert!(r.engine.leaves + r.engine.crashes >= 15, "{:?}", r.engine);
    assert!(
        c.members_started > 199,
        "rejoined members want the file again"
    );
    // Every live member but the server and the seeder is in the group and wants the file.
    assert_eq!(x.members_at_end, r.live_at_end - 2);
    assert!(x.members_at_end >= 190, "{}", x.members_at_end);
    assert_eq!(x.complete_at_end, x.members_at_end);
    assert!(x.all_live_full_s.is_some());
    assert_eq!(c.corrupt, 0);
    assert_eq!(x.have_set_mismatches, 0);
}
