//! Where a rechunk job reads, writes and keeps its work: DST (a directory,
//! or a prefix in object storage), its work directory and scratch (inside
//! DST, under `--temp`, or in `--journal` for a DST in a bucket), the
//! paths it may write and delete, and whether DST may be written at all.

use std::path::{Path, PathBuf};

use ndchunk::Result;
use ndchunk_io::info::split_array_path;
use ndchunk_io::owned_paths::{is_within, resolve, OwnedPaths};
use ndchunk_io::zarr::ZarrRoot;

use super::array::{job_error, ZarrRechunk, FINISHED_RECORD, WORK_DIR};
use super::source_state::fnv1a;

impl ZarrRechunk {
    /// The paths this job may write and delete: DST and its scratch
    /// directory, never SRC (compared by identity, not spelling).
    pub(crate) fn owned_paths(&self) -> Result<OwnedPaths> {
        // A source in object storage has nothing on this machine to keep
        // from harm; a destination there, only its local work directory
        // here to own.
        let file = if is_url(&self.src) {
            None
        } else {
            Some(split_array_path(&self.src.to_string_lossy()).0)
        };
        let mut owned =
            OwnedPaths::protecting(&file.iter().map(PathBuf::as_path).collect::<Vec<_>>());
        if is_url(&self.dst) {
            owned.claim(&self.work_dir()?, "the journal directory")?;
        } else {
            owned.claim(&self.dst, "the destination")?;
        }
        if let (Some(journal), Some(file)) = (&self.journal, &file) {
            if is_within(journal, file)? {
                return Err(job_error(
                    journal,
                    "--journal lies inside the source: choose a directory outside it",
                ));
            }
        }
        if let (Some(temp), Some(file)) = (&self.temp, &file) {
            if is_within(temp, file)? {
                return Err(job_error(
                    temp,
                    format!(
                        "--temp lies inside the source {}: scratch would be written into SRC; \
                         choose a directory outside it",
                        file.display()
                    ),
                ));
            }
        }
        owned.claim(&self.scratch_dir()?, "the scratch directory")?;
        Ok(owned)
    }

    /// Where the intermediates go: inside DST's work directory, or a
    /// directory under `--temp` named for DST, so that the same job finds
    /// it again when it resumes (one job at a time writes a DST).
    pub(crate) fn scratch_dir(&self) -> Result<PathBuf> {
        Ok(match &self.temp {
            Some(temp) => {
                let dst = if is_url(&self.dst) {
                    self.dst.clone()
                } else {
                    resolve(&self.dst)?
                };
                temp.join(format!(
                    "ndchunk-rechunk-{:016x}",
                    fnv1a(dst.to_string_lossy().as_bytes())
                ))
            }
            None => self.work_dir()?.join("scratch"),
        })
    }

    /// DST as a Zarr root: a directory, or a prefix in object storage.
    pub(crate) fn dst_root(&self) -> Result<ZarrRoot> {
        Ok(ZarrRoot::parse(&self.dst)?)
    }

    /// DST as the job's identity names it: an absolute path, or the URL
    /// (normalised) with the endpoint its requests go to, so that the same
    /// prefix of another server is another job.
    pub(crate) fn dst_place(&self) -> Result<String> {
        if !is_url(&self.dst) {
            return Ok(absolute_place(&self.dst).display().to_string());
        }
        let root = self.dst_root()?;
        Ok(format!("{root} at {}", root.endpoint().unwrap_or_default()))
    }

    /// The job's work directory (lock, manifest, journal): inside DST, or,
    /// for DST in object storage, a directory in `--journal` named for DST,
    /// so that the same job finds it again when it resumes.
    pub(crate) fn work_dir(&self) -> Result<PathBuf> {
        if !is_url(&self.dst) {
            return Ok(self.dst.join(WORK_DIR));
        }
        self.journal_entry("ndchunk-journal")
    }

    /// Where a group job into object storage keeps its marker and lock: a
    /// directory in `--journal` named for DST, apart from an array job's
    /// work directory for the same DST (the two never take each other's).
    pub(crate) fn group_state_dir(&self) -> Result<PathBuf> {
        self.journal_entry("ndchunk-group-journal")
    }

    /// `--journal`'s entry `{kind}-{digest of DST and its endpoint}`.
    fn journal_entry(&self, kind: &str) -> Result<PathBuf> {
        let Some(journal) = &self.journal else {
            return Err(job_error(
                &self.dst,
                "DST is in object storage, where no journal can live: pass --journal DIR, \
                 a local directory for the job's journal and intermediates (the same one \
                 to resume)",
            ));
        };
        // Named apart from `--temp`'s scratch directories (which may be
        // the same folder), for DST and the endpoint it lives at.
        Ok(journal.join(format!(
            "{kind}-{:016x}",
            fnv1a(self.dst_place()?.as_bytes())
        )))
    }
}

/// Whether a SRC or DST argument names object storage (`s3://…`) rather
/// than a path ([`ZarrRoot::parse`] then says whether it is one we read).
pub(crate) fn is_url(path: &Path) -> bool {
    path.to_str().is_some_and(|text| text.contains("://"))
}

/// `path` made absolute, a URL as it is.
pub(crate) fn absolute_place(path: &Path) -> PathBuf {
    if is_url(path) {
        return path.to_path_buf();
    }
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether this job may write into DST, decided before anything is
/// written: a DST that does not exist, is empty, or holds an interrupted
/// run (which the journal then resumes or refuses) is; with `--overwrite`
/// or `--restart`, so is a Zarr store or a folder this tool made, which is
/// then cleared under the run's lock; anything else is refused untouched.
pub(crate) fn check_destination(job: &ZarrRechunk, work: &Path) -> Result<()> {
    let dst = &job.dst;
    if is_url(dst) {
        // In object storage: an empty prefix, or one an interrupted run of
        // an array job with its work directory here wrote into (its
        // manifest, written before any chunk, then resumes it or refuses);
        // never anything else, as nothing there is known to be ours.
        if !job.dst_root()?.exists()? || work.join("manifest.json").is_file() {
            return Ok(());
        }
        return Err(job_error(
            dst,
            if job.overwrite {
                "already holds objects, and --overwrite does not delete from object storage: \
                 remove them first (aws s3 rm --recursive), or choose another destination"
            } else {
                "already holds objects; choose another destination (or remove them first)"
            },
        ));
    }
    let Ok(meta) = std::fs::symlink_metadata(dst) else {
        return Ok(());
    };
    if meta.is_dir() && (is_empty_dir(dst) || dst.join(WORK_DIR).is_dir()) {
        return Ok(());
    }
    if !job.overwrite {
        return Err(job_error(
            dst,
            "already exists; pass --overwrite to replace it",
        ));
    }
    check_replaceable(dst)
}

/// What `--overwrite` may replace: a Zarr store or a folder this tool
/// made (not a file, not a symlink, not any other folder).
pub(crate) fn check_replaceable(dst: &Path) -> Result<()> {
    if !dst.is_dir() || dst.is_symlink() || !made_by_zarr_or_us(dst) {
        return Err(job_error(
            dst,
            "is not a Zarr store nor a folder chunkctl made: --overwrite replaces only those; \
             move it away or choose another destination",
        ));
    }
    Ok(())
}

pub(crate) fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut entries| entries.next().is_none())
}

/// Whether `dir` is a Zarr store (array or group metadata at its top), a
/// folder an unfinished chunkctl job made, or empty.
pub(crate) fn made_by_zarr_or_us(dir: &Path) -> bool {
    [
        "zarr.json",
        ".zarray",
        ".zgroup",
        WORK_DIR,
        FINISHED_RECORD,
        super::group::GROUP_MARKER,
    ]
    .iter()
    .any(|name| std::fs::symlink_metadata(dir.join(name)).is_ok())
        || is_empty_dir(dir)
}
