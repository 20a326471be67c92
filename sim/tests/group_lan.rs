//! LAN discovery in the simulator (plain profile, 200 members): the group's spec names an IP
//! multicast address, members announce themselves on their LAN segment (docs/protocol/netgroup.md,
//! "LAN discovery", `docs/wire-netgroup.md` "LAN announcement") and the engine hands the segment's
//! multicast to `GroupNode::handle_lan_datagram`. Without a server, one segment holding everyone
//! delivers every post to every member exactly once; with several segments a post stays in its
//! poster's segment (multicast is scoped to the segment); a server and LAN discovery together
//! still deliver everything; LAN runs are deterministic; LAN discovery without LAN segments is
//! an error naming the field.

mod common;

use common::group;
use rtmfp_sim::runner::RunResult;
use rtmfp_sim::scenario::Scenario;

/// `nodes` slots in LAN segments of `lan_size`, joining over 2 s; 20 posts and `lookups`
/// lookups from 6 s to 12 s; 15 s of virtual time.
fn lan_swarm(nodes: u32, lan_size: u32, server: bool, lookups: u32) -> String {
    format!(
        r#"
name = "lan-swarm"
seed = 5
duration_s = 15
crypto = "plain"
[population]
nodes = {nodes}
join_spread_s = 2
lan_size = {lan_size}
[network]
topology = {{ kind = "coordinates", size_ms = 60, access_min_ms = 1, access_max_ms = 8 }}
jitter_ms = 1
[workload]
kind = "group"
posts = 20
post_bytes = 100
lookups = {lookups}
warmup_s = 6
drain_s = 3
timer_scale = 5
idle_timeout_s = 15
lan_discovery = true
server = {server}
"#
    )
}

fn run_toml(text: &str) -> RunResult {
    common::run_scenario(text, "lan.toml", None)
}

#[test]
fn serverless_one_segment_delivers_every_post_to_every_member_once() {
    let r = run_toml(&lan_swarm(200, 200, false, 0));
    let g = group(&r);
    let (c, p) = (&g.counters, &g.posts);
    let lan = g.lan.expect("LAN counters");
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    assert!(g.serverless);
    // Slot 0 is a member too: 200 members, none of them through a server.
    assert_eq!(g.members_at_end, 200);
    assert_eq!(c.join_success, 200);
    assert_eq!(g.server.clients + g.nodes.introductions, 0, "{g:?}");
    // Everyone is found by announcements, heard by the rest of the segment.
    assert!(lan.announcements_sent >= 200, "{lan:?}");
    assert!(
        lan.announcements_heard > 100 * lan.announcements_sent,
        "{lan:?}"
    );
    assert_eq!(lan.dropped(), 0, "{lan:?}");
    assert!(lan.connects_from_hints >= 200, "{lan:?}");
    assert!(r.engine.multicast_taken > 0 && r.engine.multicast_ignored == 0);
    // Announcements made while members were still joining reach empty slots: nobody hears
    // them, and they are not counted as network drops.
    assert!(r.engine.multicast_unheard > 0, "{:?}", r.engine);
    assert_eq!(r.net.drop_dead, 0, "{:?}", r.net);
    // Every post is expected at the 199 others and reaches each of them exactly once.
    assert_eq!(c.posts_sent, 20, "{c:?}");
    assert_eq!(p.expected, 20 * 199, "{p:?}");
    assert_eq!(p.unreachable, 0, "{p:?}");
    assert_eq!(p.delivered, p.expected, "{p:?}");
    assert_eq!(c.post_app_duplicates, 0);
    assert_eq!(c.post_extra_deliveries + c.post_unknown, 0, "{c:?}");
    assert_eq!(c.post_deliveries_off_segment, 0);
    assert!(g.neighbors.min >= 6.0, "{:?}", g.neighbors);
}

#[test]
fn serverless_segments_keep_posts_and_lookups_inside_the_posters_segment() {
    // Four segments of 50: four separate groups.
    let r = run_toml(&lan_swarm(200, 50, false, 40));
    let g = group(&r);
    let (c, p) = (&g.counters, &g.posts);
    let lan = g.lan.expect("LAN counters");
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    assert_eq!(g.members_at_end, 200);
    assert!(
        lan.announcements_heard > 40 * lan.announcements_sent,
        "{lan:?}"
    );
    assert!(
        lan.announcements_heard < 50 * lan.announcements_sent,
        "{lan:?}"
    );
    // Every post reaches every member of its poster's segment (49 others) exactly once...
    assert_eq!(c.posts_sent, 20, "{c:?}");
    assert_eq!(p.expected, 20 * 49, "{p:?}");
    assert_eq!(p.delivered, p.expected, "{p:?}");
    assert_eq!(c.post_app_duplicates, 0);
    // ... and no member of another segment.
    assert_eq!(c.post_deliveries_off_segment, 0, "{c:?}");
    assert_eq!(c.post_extra_deliveries + c.post_unknown, 0, "{c:?}");
    // A segment's members estimate the segment, not the 200 slots.
    assert!(g.estimate_ratio.p50 < 2.0, "{:?}", g.estimate_ratio);
    // Lookups end at the nearest member of the sender's segment.
    assert_eq!(c.lookups_sent, 40, "{c:?}");
    assert!(c.lookups_delivered >= 38, "{c:?}");
    assert_eq!(c.lookups_correct, c.lookups_delivered, "{c:?}");
}

#[test]
fn a_server_and_lan_discovery_together_deliver_everything() {
    // Slot 0 is the server (segment 0 holds it and 49 members); 200 members.
    let r = run_toml(&lan_swarm(201, 50, true, 0));
    let g = group(&r);
    let (c, p) = (&g.counters, &g.posts);
    let lan = g.lan.expect("LAN counters");
    eprintln!("{}", rtmfp_sim::report::summary(&r, None));
    assert!(!g.serverless);
    assert_eq!(g.members_at_end, 200);
    assert_eq!(g.server.clients, 200, "{:?}", g.server);
    assert!(
        lan.announcements_heard > 0 && lan.connects_from_hints > 0,
        "{lan:?}"
    );
    // The server ignores the announcements of its segment.
    assert!(r.engine.multicast_ignored > 0, "{:?}", r.engine);
    assert_eq!(c.posts_sent, 20, "{c:?}");
    assert_eq!(p.expected, 20 * 199, "{p:?}");
    assert_eq!(p.delivered, p.expected, "{p:?}");
    assert_eq!(c.post_app_duplicates, 0);
    assert_eq!(c.post_extra_deliveries + c.post_unknown, 0, "{c:?}");
    // The server's introductions join the segments into one overlay.
    assert!(c.post_deliveries_off_segment > 0, "{c:?}");
}

#[test]
fn lan_runs_are_deterministic() {
    let text = lan_swarm(40, 10, false, 10).replace("duration_s = 15", "duration_s = 10");
    let s = Scenario::from_toml(&text, "lan.toml").unwrap();
    let run = |seed| {
        let r = common::run_with_seed(&s, seed);
        assert!(r.engine.multicast_taken > 0);
        (r.hash, r.hash_records)
    };
    let a = run(None);
    assert_eq!(a, run(None));
    assert_ne!(a.0, run(Some(6)).0);
}

#[test]
fn lan_options_without_their_prerequisites_name_the_field() {
    let err = |text: &str| {
        Scenario::from_toml(text, "bad.toml")
            .unwrap_err()
            .to_string()
    };
    let e = err("duration_s = 30\n[workload]\nkind = \"group\"\nlan_discovery = true\n");
    assert!(
        e.contains("bad.toml")
            && e.contains("workload.lan_discovery")
            && e.contains("population.lan_size"),
        "{e}"
    );
    let e = err("duration_s = 30\n[population]\nlan_size = 10\n[workload]\nkind = \"group\"\nserver = false\n");
    assert!(e.contains("workload.server"), "{e}");
    let e = err("duration_s = 30\n[workload]\nkind = \"group\"\nlan_discovery = 1\n");
    assert!(e.contains("lan_discovery"), "{e}");
    // Both set: fine.
    Scenario::from_toml(
        "duration_s = 30\n[population]\nlan_size = 10\n[workload]\nkind = \"group\"\nlan_discovery = true\nserver = false\n",
        "ok.toml",
    )
    .unwrap();
}
