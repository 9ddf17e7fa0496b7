//! Which paths a run may write into and delete.
//!
//! Paths are compared by what they name, not by how they are spelled: a
//! path is resolved through its nearest existing ancestor (symlinks and
//! `..` resolved there, the rest applied as creating it would), and
//! containment is decided by device and inode, so a bind mount, a
//! symlinked parent or `nothere/..` cannot make two spellings of one folder
//! look apart.
//!
//! Every deletion ndchunk makes (its crates and `chunkctl`) goes through
//! [`OwnedPaths::remove`], which deletes only inside a root the run claimed
//! ([`OwnedPaths::claim`]), and never a path that holds a protected one
//! (the source). [`OwnedTempDir`] is a fresh directory removed that way when
//! dropped.

use std::path::{Component, Path, PathBuf};

use crate::error::{IoError, Result};

/// A file's identity: device and inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(path: &Path) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).ok().map(|m| FileId {
        dev: m.dev(),
        ino: m.ino(),
    })
}

#[cfg(not(unix))]
fn file_id(path: &Path) -> Option<FileId> {
    // No inodes: the canonical spelling stands in for the identity.
    use std::hash::{Hash, Hasher};
    let canonical = std::fs::canonicalize(path).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    Some(FileId {
        dev: 0,
        ino: h.finish(),
    })
}

fn path_error(path: &Path, message: impl Into<String>) -> IoError {
    IoError::Storage {
        location: path.display().to_string(),
        message: message.into(),
    }
}

/// `path` resolved through its nearest existing ancestor: that ancestor
/// canonical (symlinks resolved), then the components below it that do not
/// exist yet, with `.` dropped and `..` popping as creating the path would.
pub fn resolve(path: &Path) -> Result<PathBuf> {
    let absolute =
        std::path::absolute(path).map_err(|e| path_error(path, format!("cannot resolve: {e}")))?;
    let mut existing = absolute.as_path();
    let canonical = loop {
        if let Ok(canonical) = std::fs::canonicalize(existing) {
            break canonical;
        }
        existing = existing
            .parent()
            .ok_or_else(|| path_error(path, "no part of this path exists"))?;
    };
    let rest = absolute
        .strip_prefix(existing)
        .map_err(|_| path_error(path, "cannot resolve"))?;
    let mut resolved = canonical;
    for component in rest.components() {
        match component {
            Component::Normal(name) => resolved.push(name),
            Component::ParentDir => {
                resolved.pop();
            }
            _ => {}
        }
    }
    Ok(resolved)
}

/// Whether the resolved path `inner` is `outer` or lies inside it: some
/// existing ancestor of `inner` (itself included) is the same file as
/// `outer`. `false` when `outer` does not exist.
pub fn is_within(inner: &Path, outer: &Path) -> Result<bool> {
    // `outer` as creating it would resolve it (`new/../existing`).
    let Some(outer_id) = file_id(&resolve(outer)?) else {
        return Ok(false);
    };
    let inner = resolve(inner)?;
    Ok(inner
        .ancestors()
        .filter_map(file_id)
        .any(|id| id == outer_id))
}

/// The paths a run owns (its destination, its scratch) and those it must
/// never touch (its source).
#[derive(Debug, Clone, Default)]
pub struct OwnedPaths {
    roots: Vec<PathBuf>,
    protected: Vec<PathBuf>,
}

impl OwnedPaths {
    /// A run that must never write into, nor delete, any of `protected`.
    pub fn protecting(protected: &[&Path]) -> Self {
        Self {
            roots: Vec::new(),
            protected: protected.iter().map(|p| p.to_path_buf()).collect(),
        }
    }

    /// Claims `root` (existing or not) as the run's to write and delete
    /// in; refused when it overlaps a protected path. `what` names it in
    /// the error (`the destination`, `--temp`).
    pub fn claim(&mut self, root: &Path, what: &str) -> Result<()> {
        for protected in &self.protected {
            if is_within(root, protected)? {
                return Err(path_error(
                    root,
                    format!(
                        "{what} lies inside the source {}: write somewhere else",
                        protected.display()
                    ),
                ));
            }
            if is_within(protected, root)? {
                return Err(path_error(
                    root,
                    format!(
                        "{what} holds the source {}: write somewhere else",
                        protected.display()
                    ),
                ));
            }
        }
        self.roots.push(resolve(root)?);
        Ok(())
    }

    /// Deletes `path` (a file, a symlink, or a directory and everything
    /// in it, symlinks inside removed, not followed) if it is a claimed
    /// root or lies inside one, on its resolved path, and holds no
    /// protected path. Anything else is refused and nothing is deleted. A
    /// path that does not exist is already deleted.
    pub fn remove(&self, path: &Path) -> Result<()> {
        let Ok(meta) = std::fs::symlink_metadata(path) else {
            return Ok(());
        };
        // A symlink is judged, and removed, as the link itself.
        let name = path.file_name();
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let resolved = match (meta.file_type().is_symlink(), name) {
            (true, Some(name)) => resolve(&parent)?.join(name),
            _ => resolve(path)?,
        };
        let mut owned = false;
        for root in &self.roots {
            let root_id = file_id(root);
            let inside = resolved
                .ancestors()
                .any(|a| a == root.as_path() || (root_id.is_some() && file_id(a) == root_id));
            if inside {
                owned = true;
                break;
            }
        }
        if !owned {
            return Err(path_error(
                path,
                "refusing to delete: it is not inside what this run owns",
            ));
        }
        if !meta.file_type().is_symlink() {
            for protected in &self.protected {
                if is_within(protected, &resolved)? {
                    return Err(path_error(
                        path,
                        format!(
                            "refusing to delete: it holds the source {}",
                            protected.display()
                        ),
                    ));
                }
            }
        }
        let removed = if meta.is_dir() {
            std::fs::remove_dir_all(&resolved)
        } else {
            std::fs::remove_file(&resolved)
        };
        removed.map_err(|e| path_error(path, format!("cannot remove: {e}")))
    }
}

impl OwnedPaths {
    /// Deletes everything in the directory `dir` but the file `keep` (a
    /// path relative to `dir`, e.g. a lock file, so a run can clear a
    /// folder while still holding its lock), each entry through
    /// [`OwnedPaths::remove`].
    pub fn empty_keeping(&self, dir: &Path, keep: &Path) -> Result<()> {
        let mut components = keep.components();
        let first = components.next().map(|c| c.as_os_str().to_owned());
        let rest = components.as_path();
        let entries = std::fs::read_dir(dir).map_err(|e| path_error(dir, e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| path_error(dir, e.to_string()))?;
            let path = entry.path();
            if Some(entry.file_name()) != first {
                self.remove(&path)?;
            } else if !rest.as_os_str().is_empty() && path.is_dir() && !path.is_symlink() {
                self.empty_keeping(&path, rest)?;
            }
        }
        Ok(())
    }
}

/// A new directory of the run's own, deleted with everything in it (through
/// [`OwnedPaths::remove`]) when dropped: where intermediates spill.
#[derive(Debug)]
pub struct OwnedTempDir {
    path: PathBuf,
    owned: OwnedPaths,
}

impl OwnedTempDir {
    /// Creates a directory named `prefix` and a unique suffix inside
    /// `parent` (which must exist). Never an existing one: the name is
    /// taken with `create_dir`, which fails on anything already there.
    pub fn new_in(parent: &Path, prefix: &str) -> Result<OwnedTempDir> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        for _ in 0..1000 {
            let path = parent.join(format!(
                "{prefix}{}-{}-{nanos:08x}",
                std::process::id(),
                NEXT.fetch_add(1, Ordering::Relaxed)
            ));
            match std::fs::create_dir(&path) {
                Ok(()) => {
                    let mut owned = OwnedPaths::default();
                    owned.claim(&path, "a temporary directory")?;
                    return Ok(OwnedTempDir { path, owned });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(path_error(
                        &path,
                        format!("cannot create a temporary directory: {e}"),
                    ))
                }
            }
        }
        Err(path_error(parent, "no free name for a temporary directory"))
    }

    /// Creates one in the system's temporary directory (`TMPDIR`).
    pub fn new(prefix: &str) -> Result<OwnedTempDir> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for OwnedTempDir {
    fn drop(&mut self) {
        // Nothing to report to: a directory left behind is the worst case.
        let _ = self.owned.remove(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_applies_dotdot_below_the_existing_part() {
        let dir = tempfile::tempdir().unwrap();
        let base = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(base.join("src")).unwrap();
        assert_eq!(
            resolve(&base.join("src/nothere/../x")).unwrap(),
            base.join("src/x")
        );
        assert_eq!(resolve(&base.join("a/./b/..")).unwrap(), base.join("a"));
    }

    #[cfg(unix)]
    #[test]
    fn containment_sees_through_symlinks_and_dotdot() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        std::fs::create_dir(base.join("src")).unwrap();
        std::os::unix::fs::symlink(base.join("src"), base.join("link")).unwrap();
        let src = base.join("src");
        let mut owned = OwnedPaths::protecting(&[&src]);
        for dst in ["link/out", "src/nothere/../out", "link", "."] {
            let e = owned.claim(&base.join(dst), "the destination");
            assert!(e.is_err(), "{dst} was accepted");
        }
        owned.claim(&base.join("out"), "the destination").unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn remove_deletes_only_inside_claimed_roots_and_never_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        for d in ["src", "out/a", "other"] {
            std::fs::create_dir_all(base.join(d)).unwrap();
        }
        std::fs::write(base.join("src/data"), b"keep").unwrap();
        std::fs::write(base.join("other/data"), b"keep").unwrap();
        // A link inside the destination to the source: removing it removes
        // the link, never what it points to.
        std::os::unix::fs::symlink(base.join("src"), base.join("out/a/to-src")).unwrap();
        let src = base.join("src");
        let mut owned = OwnedPaths::protecting(&[&src]);
        owned.claim(&base.join("out"), "the destination").unwrap();
        assert!(owned.remove(&base.join("other")).is_err());
        assert!(owned.remove(&base.join("out/a/../../other")).is_err());
        assert!(owned.remove(&base.join("out/..")).is_err());
        owned.remove(&base.join("out/a/to-src")).unwrap();
        owned.remove(&base.join("out/a")).unwrap();
        owned.remove(&base.join("out")).unwrap();
        assert!(!base.join("out").exists());
        assert_eq!(std::fs::read(base.join("src/data")).unwrap(), b"keep");
        assert_eq!(std::fs::read(base.join("other/data")).unwrap(), b"keep");
    }

    #[test]
    fn a_temporary_directory_is_new_and_removed_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = OwnedTempDir::new_in(dir.path(), "x-").unwrap();
        let b = OwnedTempDir::new_in(dir.path(), "x-").unwrap();
        assert_ne!(a.path(), b.path());
        std::fs::create_dir_all(a.path().join("sub")).unwrap();
        std::fs::write(a.path().join("sub/f"), b"1").unwrap();
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists());
        assert!(b.path().exists());
    }
}
