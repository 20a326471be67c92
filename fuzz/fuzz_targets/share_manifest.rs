//! The file-sharing manifest decoder (`crates/share/src/manifest.rs`,
//! `docs/file-sharing.md`) on arbitrary bytes: it may refuse anything but never panic, never
//! allocate beyond the input and the object bound, and what it accepts re-encodes to the
//! same bytes (one encoding per manifest, so the ID names the content). The header reader
//! that sizes a manifest from its first chunk must agree with the decoder.
//!
//! The module is compiled from its source file here (it depends on `sha2` and `thiserror`
//! only), which keeps tokio and the CLI out of the fuzz build.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[allow(dead_code)]
#[path = "../../crates/share/src/manifest.rs"]
mod manifest;

use manifest::{Manifest, ManifestId, ManifestLimits};

fuzz_target!(|data: &[u8]| {
    let limits = ManifestLimits { max_objects: 4096 };
    let len = Manifest::encoded_len_from_prefix(data, &limits);
    if let Ok(m) = Manifest::decode(data, &limits) {
        let again = m.encode();
        assert_eq!(again, data, "a decoded manifest re-encodes to its bytes");
        assert_eq!(len, Ok(data.len() as u64));
        assert_eq!(m.id(), ManifestId::of(data));
        for j in 0..m.object_count() {
            let (offset, n) = m.object_range(j);
            assert!(offset + n as u64 <= m.file_size && n > 0);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(id) = text.parse::<ManifestId>() {
            assert_eq!(id.to_string(), text.trim().to_ascii_lowercase());
        }
    }
});
