//! Every groupspec, group-ID, option-encoding, group-address and group-connect-key vector of
//! `shared/vectors/netgroup-ids.json` (docs/protocol/netgroup.md, "GroupSpecifier" to "Identities
//! and the ring", "Group handshake"), plus property tests: build → string → parse gives the same
//! string and the same group ID.

use hmac::{Hmac, Mac};
use proptest::prelude::*;
use rtmfp_netgroup::group_connect_key;
use rtmfp_netgroup::password_hash;
use rtmfp_netgroup::wire::{GroupMessage, ReportLimits};
use rtmfp_netgroup::{GroupSpecifier, PeerId};
use serde_json::Value;
use sha2::Sha256;

fn vectors() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/vectors/netgroup-ids.json"
    );
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e} (shared/ must sit beside the checkout)"));
    serde_json::from_str(&text).unwrap()
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v[k].as_str()
        .unwrap_or_else(|| panic!("missing {k} in {v}"))
}

#[test]
fn groupspecs_parse_reprint_and_hash() {
    let v = vectors();
    let specs = v["groupspecs"].as_array().unwrap();
    assert!(specs.len() >= 6);
    for spec in specs {
        let text = s(spec, "groupspec");
        let g: GroupSpecifier = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(g.to_string(), text);
        assert_eq!(g.group_txt(), s(spec, "groupTxt"), "{text}");
        assert_eq!(
            u64::from(g.min_groupspec_version()),
            spec["version"].as_u64().unwrap()
        );
        let single = rtmfp_netgroup::group_id_from_txt(&g.group_txt(), false);
        assert_eq!(hex::encode(single), s(spec, "sha256_groupTxt"));
        let double = rtmfp_netgroup::group_id_from_txt(&g.group_txt(), true);
        assert_eq!(hex::encode(double), s(spec, "sha256_sha256_groupTxt"));
        assert_eq!(hex::encode(g.group_id()), s(spec, "group_id"), "{text}");
        assert_eq!(g.name().as_deref(), Some("test"));
    }
}

/// The canonical specs of the vectors, rebuilt with the Flash API.
#[test]
fn groupspecs_are_built_by_the_flash_api() {
    let v = vectors();
    let find = |txt: &str| -> String {
        v["groupspecs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| s(g, "groupspec").to_string())
            .find(|g| g == txt)
            .unwrap_or_else(|| panic!("{txt} not in vectors"))
    };
    let base = || {
        let mut g = GroupSpecifier::new("test").unwrap();
        g.set_multicast_enabled(true);
        g.set_posting_enabled(true);
        g.set_server_channel_enabled(true);
        g.set_ip_multicast_member_updates_enabled(true);
        g
    };
    // README spec.
    let g = base();
    assert_eq!(
        g.to_string(),
        find("G:027f0201010103010c050e74657374011b00")
    );
    // Canonical routing + multicast (the Flash order, not runViewers.sh's).
    let mut r = base();
    r.set_routing_enabled(true);
    assert_eq!(
        r.to_string(),
        find("G:027f02010001010103010c050e74657374011b00")
    );
    assert_eq!(
        hex::encode(r.group_id()),
        "495ba5fd5542b3105a3d982141fc149d1b0261529abe3321ba039b073789019a"
    );
    // v1.
    let mut v1 = base();
    v1.set_min_groupspec_version(1).unwrap();
    assert_eq!(v1.to_string(), find("G:01010103010c050e74657374011b00"));
    // Posting password + authorization (no multicast or ipMulticastMemberUpdates).
    let mut p = GroupSpecifier::new("test").unwrap();
    p.set_posting_enabled(true);
    p.set_server_channel_enabled(true);
    p.set_posting_password(Some("secret"), None);
    assert_eq!(
        p.to_string(),
        find("G:027f02010321072bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b010c050e74657374000717736563726574")
    );
    // IP multicast extra.
    let mut m = base();
    m.add_ip_multicast_address("225.225.0.1:30303", None, None)
        .unwrap();
    assert_eq!(
        m.to_string(),
        find("G:027f0201010103010c050e74657374011b00070ae1e10001765f")
    );
    assert_eq!(m.group_id(), g.group_id());
}

#[test]
fn option_encodings() {
    let v = vectors();
    let encs = v["option_encodings"].as_array().unwrap();
    assert_eq!(encs.len(), 8);
    let mut checked = 0;
    for e in encs {
        let desc = s(e, "description");
        let want = s(e, "option_hex");
        let got = if desc.starts_with("posting password") || desc.starts_with("publish password") {
            let pw = s(e, "password");
            let salt = e["salt"].as_str();
            let mut g = GroupSpecifier::new("x").unwrap();
            g.set_min_groupspec_version(1).unwrap();
            if desc.starts_with("posting") {
                g.set_posting_password(Some(pw), salt);
            } else {
                g.set_publish_password(Some(pw), salt);
            }
            if let Some(value) = e["value_hex"].as_str() {
                assert_eq!(hex::encode(password_hash(pw, salt)), value);
            }
            hex::encode(g.core_options()[0].encoded())
        } else if desc.starts_with("posting authorization") {
            GroupSpecifier::encode_posting_authorization(s(e, "password"))
        } else if desc.starts_with("publish authorization") {
            GroupSpecifier::encode_publish_authorization(s(e, "password"))
        } else if desc.starts_with("IP multicast") {
            GroupSpecifier::encode_ip_multicast_address_spec(s(e, "address"), None, None).unwrap()
        } else if desc.starts_with("bootstrap peer") {
            let mut id = [0u8; 32];
            for (i, b) in id.iter_mut().enumerate() {
                *b = i as u8;
            }
            GroupSpecifier::encode_bootstrap_peer_id_spec(&PeerId(id))
        } else if desc.starts_with("minGroupspecVersion 2") {
            let g = GroupSpecifier::new("x").unwrap();
            hex::encode(g.core_options()[0].encoded())
        } else {
            panic!("unhandled vector {desc}");
        };
        assert_eq!(got, want, "{desc}");
        checked += 1;
    }
    assert_eq!(checked, encs.len());
}

#[test]
fn group_addresses() {
    let v = vectors();
    let addrs = v["group_addresses"].as_array().unwrap();
    assert_eq!(addrs.len(), 5);
    for a in addrs {
        let p: PeerId = s(a, "peer_id").parse().unwrap();
        assert_eq!(hex::encode(p.raw_id()), s(a, "raw_id_hex"));
        assert_eq!(p.group_address().to_hex(), s(a, "group_address"));
    }
}

#[test]
fn group_connect_key_vector() {
    let v = vectors();
    let k = &v["group_connect_key"];
    let txt = s(k, "groupTxt");
    // groupTxt is what the captured groupspec gives.
    let g: GroupSpecifier = "G:027f02010101000103010c050e74657374011b00"
        .parse()
        .unwrap();
    assert_eq!(g.group_txt(), txt);

    // Far nonces: HMAC-SHA256(shared secret, far key component).
    let secret = hex::decode(s(k, "shared_secret_hex")).unwrap();
    let nonce = |component: &str| -> Vec<u8> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&secret).unwrap();
        mac.update(&hex::decode(component).unwrap());
        mac.finalize().into_bytes().to_vec()
    };
    let init_far = hex::decode(s(k, "initiator_far_nonce_hex")).unwrap();
    let resp_far = hex::decode(s(k, "responder_far_nonce_hex")).unwrap();
    assert_eq!(nonce(s(k, "skrc_hex")), init_far);
    assert_eq!(nonce(s(k, "skic_hex")), resp_far);

    let by_init = group_connect_key(txt, &init_far);
    let by_resp = group_connect_key(txt, &resp_far);
    assert_eq!(hex::encode(by_init), s(k, "key_sent_by_initiator_hex"));
    assert_eq!(hex::encode(by_resp), s(k, "key_sent_by_responder_hex"));

    // The full GR1C 01 messages decode to these keys and re-encode byte for byte.
    let peer_a: PeerId = "e9edb73e67a185f08e8de82c0365b3d87f4576ab07580260f4acfc8cae624014"
        .parse()
        .unwrap();
    let peer_b: PeerId = "a13d16974d3db1ba5ef4e4e2f2e80b2668bb7aa46afa3cc42dc96213c870eaeb"
        .parse()
        .unwrap();
    for (field, key, recipient) in [
        ("sent_by_initiator_hex", by_init, peer_a),
        ("sent_by_responder_hex", by_resp, peer_b),
    ] {
        let bytes = hex::decode(s(&k["full_messages"], field)).unwrap();
        let GroupMessage::Connect(c) =
            GroupMessage::decode(&bytes, &ReportLimits::default()).unwrap()
        else {
            panic!("{field}: not a connect message");
        };
        assert_eq!(c.group_id, g.group_id());
        assert_eq!(c.key, key);
        assert_eq!(c.recipient, recipient);
        assert_eq!(GroupMessage::Connect(c).to_bytes(), bytes);
    }
}

fn arb_spec() -> impl Strategy<Value = GroupSpecifier> {
    (
        "[a-zA-Z0-9 _\\-éü]{1,200}",
        any::<[bool; 7]>(),
        1u32..=2,
        proptest::option::of(("[a-z]{1,12}", proptest::option::of("[a-z]{0,6}"))),
        proptest::option::of("[a-z]{1,12}"),
        proptest::collection::vec(any::<[u8; 32]>(), 0..3),
        proptest::collection::vec((any::<[u8; 4]>(), any::<u16>()), 0..3),
        any::<Option<u64>>(),
    )
        .prop_map(
            |(name, flags, version, posting_pw, publish_pw, peers, mcast, unique)| {
                let mut g = GroupSpecifier::new(&name).unwrap();
                g.set_routing_enabled(flags[0]);
                g.set_multicast_enabled(flags[1]);
                g.set_object_replication_enabled(flags[2]);
                g.set_posting_enabled(flags[3]);
                g.set_server_channel_enabled(flags[4]);
                g.set_peer_to_peer_disabled(flags[5]);
                g.set_ip_multicast_member_updates_enabled(flags[6]);
                g.set_min_groupspec_version(version).unwrap();
                if let Some((pw, salt)) = &posting_pw {
                    g.set_posting_password(Some(pw), salt.as_deref());
                }
                g.set_publish_password(publish_pw.as_deref(), None);
                for p in &peers {
                    g.add_bootstrap_peer(&PeerId(*p));
                }
                for (ip, port) in &mcast {
                    let a = std::net::SocketAddr::from((*ip, *port)).to_string();
                    g.add_ip_multicast_address(&a, None, None).unwrap();
                }
                if let Some(seed) = unique {
                    use rand_chacha::rand_core::SeedableRng;
                    g.make_unique(&mut rand_chacha::ChaCha8Rng::seed_from_u64(seed));
                }
                g
            },
        )
}

proptest! {
    #[test]
    fn build_print_parse_round_trip(g in arb_spec()) {
        let text = g.to_string();
        let p: GroupSpecifier = text.parse().unwrap();
        prop_assert_eq!(p.to_string(), text.clone());
        prop_assert_eq!(p.group_id(), g.group_id());
        prop_assert_eq!(p.group_txt(), g.group_txt());
        prop_assert_eq!(&p, &g);
        // Without authorizations: same identity.
        let w: GroupSpecifier = g.groupspec_without_authorizations().parse().unwrap();
        prop_assert_eq!(w.group_id(), g.group_id());
        prop_assert_eq!(
            format!("{}{}", g.groupspec_without_authorizations(), g.authorizations()),
            text
        );
    }

    #[test]
    fn parse_never_panics(s in "G:[0-9a-f]{0,80}") {
        if let Ok(g) = s.parse::<GroupSpecifier>() {
            prop_assert_eq!(g.to_string(), s);
            let _ = g.group_id();
        }
    }

    #[test]
    fn parse_arbitrary_text_never_panics(s in "\\PC{0,40}") {
        let _ = s.parse::<GroupSpecifier>();
    }
}
