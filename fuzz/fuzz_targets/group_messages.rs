//! NetGroup decoders on arbitrary bytes: groupspec strings, GR group messages (handshake,
//! reports with bounded member lists), LAN announcements, replication frames, multicast media
//! messages and fragments (re-encoded, and a decoded map queried). None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rtmfp_netgroup::replication::frames::{Frame, FrameLimits};
use rtmfp_netgroup::multicast::{Fragment, MediaControl};
use rtmfp_netgroup::lan::LanAnnouncement;
use rtmfp_netgroup::wire::{GroupMessage, ReportLimits};
use rtmfp_netgroup::GroupSpecifier;

fuzz_target!(|data: &[u8]| {
    let _ = GroupMessage::decode(data, &ReportLimits::default());
    let limits = FrameLimits {
        max_ranges: 4096,
        max_object_bytes: 1 << 20,
    };
    if let Ok(f) = Frame::decode(&bytes::Bytes::copy_from_slice(data), &limits) {
        let _ = f.encode(limits.max_ranges);
    }
    if let Ok(m) = MediaControl::decode(data) {
        let _ = m.encode();
        if let MediaControl::Map(map) = m {
            let _ = (map.holds(map.last / 2), map.oldest_described());
        }
    }
    if let Ok(f) = Fragment::decode(&bytes::Bytes::copy_from_slice(data)) {
        let _ = f.encode();
    }
    if let Ok(a) = LanAnnouncement::decode(data) {
        let _ = a.is_for("G:0101");
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(spec) = text.parse::<GroupSpecifier>() {
            let _ = spec.group_id();
            let _ = spec.to_string();
        }
    }
});
