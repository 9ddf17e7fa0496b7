//! What the source looked like when a job read it: one line per file or
//! object that holds its chunks (size, version, path), so that a resumed or
//! repeated job can tell an unchanged source from a rewritten one, chunk by
//! chunk, instead of mixing old and new data.
//!
//! A Zarr array is its directory's files (metadata and every chunk or
//! shard), each versioned by its modification time, or its objects in a
//! bucket, each versioned by its ETag; an array inside an HDF5/netCDF file
//! is the whole file (one entry: such files change as a whole). A file
//! rewritten with the same size within the file system's timestamp
//! resolution is not seen; every other rewrite is.

use std::collections::BTreeMap;
use std::path::Path;

use ndchunk_io::info::split_array_path;
use ndchunk_io::zarr::ZarrRoot;

use super::places::is_url;

use ndchunk::{Error, Result};

/// The files of a source, by path relative to it: `(size, version)`, the
/// version a modification time in ns or an object's ETag (no spaces).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SourceState {
    files: BTreeMap<String, (u64, String)>,
}

fn state_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Job {
        path: path.display().to_string(),
        message: message.into(),
    }
}

fn stamp(path: &Path, meta: &std::fs::Metadata) -> Result<(u64, String)> {
    let modified = meta
        .modified()
        .map_err(|e| state_error(path, e.to_string()))?
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    Ok((meta.len(), modified.to_string()))
}

impl SourceState {
    /// Reads the state of `src` (a Zarr array directory or URL, or
    /// `FILE:/NAME`).
    pub(crate) fn of(src: &Path) -> Result<Self> {
        let listed = |root: ZarrRoot, path: &str| -> Result<Self> {
            let files = root
                .list_objects(path)?
                .into_iter()
                .map(|o| (o.key, (o.size, o.version.replace(' ', "_"))))
                .collect();
            Ok(Self { files })
        };
        if is_url(src) {
            return listed(ZarrRoot::parse(src)?, "");
        }
        let (file, inner) = split_array_path(&src.to_string_lossy());
        let meta = std::fs::metadata(&file).map_err(|e| state_error(&file, e.to_string()))?;
        if meta.is_file() {
            let files = BTreeMap::from([(String::new(), stamp(&file, &meta)?)]);
            return Ok(Self { files });
        }
        listed(ZarrRoot::from(file), inner.as_deref().unwrap_or_default())
    }

    /// How many files differ between two states (changed, added or
    /// removed).
    pub(crate) fn changed_since(&self, earlier: &Self) -> usize {
        let changed = self
            .files
            .iter()
            .filter(|(name, stamp)| earlier.files.get(*name) != Some(stamp))
            .count();
        let removed = earlier
            .files
            .keys()
            .filter(|name| !self.files.contains_key(*name))
            .count();
        changed + removed
    }

    /// The state as text, one `size mtime path` line per file.
    pub(crate) fn to_text(&self) -> String {
        self.files
            .iter()
            .map(|(name, (size, version))| format!("{size} {version} {name}\n"))
            .collect()
    }

    /// Parses [`Self::to_text`]; `None` if the text is damaged.
    pub(crate) fn from_text(text: &str) -> Option<Self> {
        let mut files = BTreeMap::new();
        for line in text.split_inclusive('\n') {
            let line = line.strip_suffix('\n')?;
            let mut parts = line.splitn(3, ' ');
            let size = parts.next()?.parse().ok()?;
            let version = parts.next()?.to_string();
            files.insert(parts.next()?.to_string(), (size, version));
        }
        Some(Self { files })
    }

    /// A short digest of the state, kept with a finished destination.
    pub(crate) fn digest(&self) -> String {
        format!("{:016x}", fnv1a(self.to_text().as_bytes()))
    }
}

/// FNV-1a: a stable, dependency-free digest (not against an adversary:
/// against an accident).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::SourceState;

    #[test]
    fn a_rewritten_chunk_is_seen_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let array = dir.path().join("a.zarr");
        std::fs::create_dir_all(array.join("c/0")).unwrap();
        std::fs::write(array.join("zarr.json"), b"{}").unwrap();
        std::fs::write(array.join("c/0/0"), b"1234").unwrap();
        std::fs::write(array.join("c/0/1"), b"5678").unwrap();
        let before = SourceState::of(&array).unwrap();
        assert_eq!(
            SourceState::from_text(&before.to_text()),
            Some(before.clone())
        );
        assert_eq!(SourceState::of(&array).unwrap().changed_since(&before), 0);
        std::fs::write(array.join("c/0/1"), b"567890").unwrap();
        let mut owned = ndchunk_io::owned_paths::OwnedPaths::default();
        owned.claim(&array, "the test array").unwrap();
        owned.remove(&array.join("c/0/0")).unwrap();
        let after = SourceState::of(&array).unwrap();
        assert_eq!(after.changed_since(&before), 2);
        assert_ne!(after.digest(), before.digest());
        assert_eq!(SourceState::from_text("12 34"), None);
    }
}
