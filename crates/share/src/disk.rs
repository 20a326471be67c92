//! Positioned file I/O for the file-sharing layer (blocking: callers run these in
//! `tokio::task::spawn_blocking`): object reads for serving, verified writes for fetching,
//! the resume scan and the whole-file check. Nothing buffers more than one object (or 1 MiB
//! for the whole-file hash).

use std::fs::File;
use std::io;

use sha2::{Digest, Sha256};

use super::manifest::Manifest;

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(unix)]
pub fn read_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.read_exact_at(buf, offset)
}

/// Writes all of `buf` at `offset`.
#[cfg(unix)]
pub fn write_at(f: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    f.write_all_at(buf, offset)
}

/// Reads exactly `buf.len()` bytes at `offset`.
#[cfg(windows)]
pub fn read_at(f: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `buf` at `offset`.
#[cfg(windows)]
pub fn write_at(f: &File, mut buf: &[u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match f.seek_write(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                buf = &buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Object `j` of `m` read from `f`.
pub fn read_object(f: &File, m: &Manifest, j: u64) -> io::Result<Vec<u8>> {
    let (offset, len) = m.object_range(j);
    let mut buf = vec![0u8; len];
    read_at(f, &mut buf, offset)?;
    Ok(buf)
}

/// Whether `bytes` are object `j` of `m` (length and SHA-256).
pub fn object_matches(m: &Manifest, j: u64, bytes: &[u8]) -> bool {
    let (_, len) = m.object_range(j);
    let Some(want) = usize::try_from(j).ok().and_then(|j| m.object_sha256.get(j)) else {
        return false;
    };
    bytes.len() == len && Sha256::digest(bytes).as_slice() == want
}

/// The objects `from..to` of `m` that `f` (currently `file_len` bytes long) already holds
/// intact: the resume check.
pub fn intact_objects(
    f: &File,
    m: &Manifest,
    file_len: u64,
    from: u64,
    to: u64,
) -> io::Result<Vec<u64>> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; m.object_size as usize];
    for j in from..to.min(m.object_count()) {
        let (offset, len) = m.object_range(j);
        if offset + len as u64 > file_len {
            break;
        }
        read_at(f, &mut buf[..len], offset)?;
        if object_matches(m, j, &buf[..len]) {
            out.push(j);
        }
    }
    Ok(out)
}

/// SHA-256 of the first `len` bytes of `f`, read 1 MiB at a time.
pub fn file_sha256(f: &File, len: u64) -> io::Result<[u8; 32]> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut at = 0u64;
    while at < len {
        let n = (len - at).min(buf.len() as u64) as usize;
        read_at(f, &mut buf[..n], at)?;
        h.update(&buf[..n]);
        at += n as u64;
    }
    Ok(h.finalize().into())
}
