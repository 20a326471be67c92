//! Identity files: the static Diffie-Hellman key behind a node's peer ID, so that a node keeps
//! its peer ID across restarts (RFC 7425 §4.3: the peer ID is the SHA-256 of the certificate,
//! which holds the public key).
//!
//! Format (text): one line `rtmfp-identity dh<group> <private exponent in hex>`.

use std::path::Path;

use rand::rngs::OsRng;
use rtmfp::crypto::dh::DhGroup;
use rtmfp::FlashProfile;

/// Errors reading or writing an identity file.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// File system error.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is not an identity file.
    #[error("not an rtmfp identity file (expected `rtmfp-identity dh2 <hex>`)")]
    Format,
    /// The key does not fit the group.
    #[error("invalid key: {0}")]
    Key(String),
}

fn group_number(g: DhGroup) -> u64 {
    g.id()
}

/// Loads the Flash client profile stored at `path`.
pub fn load(path: &Path) -> Result<FlashProfile, IdentityError> {
    let text = std::fs::read_to_string(path)?;
    let mut parts = text.split_whitespace();
    let (Some("rtmfp-identity"), Some(group), Some(key), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(IdentityError::Format);
    };
    let group: u64 = group
        .strip_prefix("dh")
        .and_then(|g| g.parse().ok())
        .ok_or(IdentityError::Format)?;
    let group = DhGroup::from_id(group).ok_or(IdentityError::Format)?;
    let key = hex::decode(key).map_err(|_| IdentityError::Format)?;
    FlashProfile::from_static_private_key(group, &key)
        .map_err(|e| IdentityError::Key(e.to_string()))
}

/// Writes the static key of `profile` to `path` (mode 0600 on Unix).
pub fn save(path: &Path, profile: &FlashProfile) -> Result<(), IdentityError> {
    let (group, key) = profile
        .static_private_key()
        .ok_or_else(|| IdentityError::Key("ephemeral profile has no static key".into()))?;
    let text = format!(
        "rtmfp-identity dh{} {}\n",
        group_number(group),
        hex::encode(key)
    );
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// Loads the identity at `path`, or creates one there (from OS randomness) if the file does
/// not exist. Without a path, a fresh identity that is not stored.
pub fn load_or_create(path: Option<&Path>) -> Result<FlashProfile, IdentityError> {
    match path {
        Some(p) if p.exists() => load(p),
        Some(p) => {
            let profile = FlashProfile::client(&mut OsRng);
            save(p, &profile)?;
            Ok(profile)
        }
        None => Ok(FlashProfile::client(&mut OsRng)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmfp::CryptoProfile;

    #[test]
    fn identity_survives_a_round_trip_through_a_file() {
        let dir = std::env::temp_dir().join(format!("rtmfp-id-{}", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let first = load_or_create(Some(&dir)).unwrap();
        let again = load_or_create(Some(&dir)).unwrap();
        assert_eq!(first.fingerprint(), again.fingerprint());
        std::fs::write(&dir, "junk").unwrap();
        assert!(matches!(load(&dir), Err(IdentityError::Format)));
        std::fs::remove_file(&dir).unwrap();
    }
}
