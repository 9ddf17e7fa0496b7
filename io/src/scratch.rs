//! `ScratchStore`: ndchunk's private store for intermediates (rechunk
//! stages, spilled chunks). One file per chunk of raw decoded bytes, so no
//! codec cost and the page cache does the caching (a chunk deleted once
//! read for the last time may never reach the disk at all); any grid, irregular
//! ones included (which Zarr cannot hold). Each chunk is written to a
//! temporary name and renamed, so a killed writer leaves whole chunks or
//! none.

use std::path::{Path, PathBuf};

use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::owned_paths::OwnedPaths;
use crate::store::ChunkStore;
use ndchunk_chunking::Region;

/// An array of raw chunk files in one directory.
#[derive(Debug)]
pub struct ScratchStore {
    dir: PathBuf,
    meta: ArrayMeta,
    /// The directory, claimed: chunks are deleted only inside it.
    owned: OwnedPaths,
}

impl ScratchStore {
    /// Opens (creating the directory if needed) a scratch array at `dir`.
    /// Chunks already there are kept: a resumed job finds its work.
    pub fn open(dir: &Path, meta: ArrayMeta) -> Result<Self> {
        std::fs::create_dir_all(dir).map_err(|e| IoError::Storage {
            location: dir.display().to_string(),
            message: format!("cannot create the scratch directory: {e}"),
        })?;
        let mut owned = OwnedPaths::default();
        owned.claim(dir, "the scratch directory")?;
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
            owned,
        })
    }

    /// Deletes chunk `chunk`, read for the last time. An intermediate is
    /// written once and read once: deleted as soon as it is read, the
    /// scratch space a pass needs shrinks as it goes, and what the kernel
    /// has not yet written back never reaches the disk.
    pub fn discard_chunk(&self, chunk: &[u64]) -> Result<()> {
        self.meta
            .grid
            .block_region(chunk)
            .map_err(|e| self.grid_error(e))?;
        let file = self.file(chunk);
        // Only a chunk's file: never a directory that happens to have its name.
        if std::fs::symlink_metadata(&file).is_ok_and(|m| !m.is_file()) {
            return Err(IoError::Storage {
                location: self.location(),
                message: format!("chunk {chunk:?} is not a file: not deleted"),
            });
        }
        self.owned.remove(&file)
    }

    fn file(&self, chunk: &[u64]) -> PathBuf {
        let name: Vec<String> = chunk.iter().map(u64::to_string).collect();
        self.dir.join(if name.is_empty() {
            "c".to_string()
        } else {
            name.join(".")
        })
    }

    fn io_error(&self, chunk: &[u64], what: &str, e: std::io::Error) -> IoError {
        IoError::Storage {
            location: self.location(),
            message: format!("{what} chunk {chunk:?}: {e}"),
        }
    }
}

/// The contiguous runs of a box inside a C-order chunk: the box's trailing
/// axes that span the chunk whole merge into one run per position of the
/// others.
struct Rows {
    /// Elements per run.
    len: u64,
    /// Runs.
    count: u64,
    /// The first element of each run, in C order of the box's other axes:
    /// `start` plus the strides of those axes.
    outer: Vec<(u64, u64)>,
    start: u64,
}

impl Rows {
    fn of(from: &Region, chunk: &[u64]) -> Rows {
        let ndim = chunk.len();
        let mut strides = vec![1u64; ndim];
        for a in (0..ndim.saturating_sub(1)).rev() {
            strides[a] = strides[a + 1] * chunk[a + 1];
        }
        let extent = from.shape();
        // Axes from `inner` on form one run.
        let mut inner = ndim;
        let mut len = 1u64;
        while inner > 0 {
            let a = inner - 1;
            len *= extent[a];
            inner = a;
            if extent[a] != chunk[a] {
                break;
            }
        }
        let start = (0..ndim).map(|a| from.start()[a] * strides[a]).sum();
        let outer: Vec<(u64, u64)> = (0..inner).map(|a| (extent[a], strides[a])).collect();
        let count = outer.iter().map(|&(n, _)| n).product();
        Rows {
            len,
            count,
            outer,
            start,
        }
    }
}

impl ScratchStore {
    /// The runs `rows` of chunk `chunk`, read one by one from its file,
    /// one after the other (the box's values in C order).
    fn read_rows(&self, chunk: &[u64], rows: &Rows, itemsize: usize) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let file = std::fs::File::open(self.file(chunk))
            .map_err(|e| self.io_error(chunk, "reading", e))?;
        let run = rows.len as usize * itemsize;
        let mut bytes = vec![0u8; run * rows.count as usize];
        let mut at = vec![0u64; rows.outer.len()];
        for piece in bytes.chunks_exact_mut(run.max(1)).take(rows.count as usize) {
            let offset = rows.start
                + at.iter()
                    .zip(&rows.outer)
                    .map(|(i, (_, s))| i * s)
                    .sum::<u64>();
            file.read_exact_at(piece, offset * itemsize as u64)
                .map_err(|e| self.io_error(chunk, "reading", e))?;
            for a in (0..at.len()).rev() {
                at[a] += 1;
                if at[a] < rows.outer[a].0 {
                    break;
                }
                at[a] = 0;
            }
        }
        Ok(bytes)
    }
}

impl ChunkStore for ScratchStore {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        self.dir.display().to_string()
    }

    /// A small part of a chunk (a face of it, a thin slab) is read from
    /// the file by its rows alone, not the whole file: the bytes on disk
    /// are the chunk in C order. Large parts, and parts of many short rows,
    /// are left to a whole-chunk read.
    fn read_chunk_part(&self, chunk: &[u64], part: &Region) -> Result<Option<Vec<u8>>> {
        let chunk_region = self.chunk_region(chunk)?;
        let rows = Rows::of(part, &chunk_region.shape());
        let small = part.num_elements() * 4 <= chunk_region.num_elements();
        if !small || rows.count > 4096 {
            return Ok(None);
        }
        self.read_rows(chunk, &rows, self.meta.dtype.size())
            .map(Some)
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>> {
        let region = self.chunk_region(chunk)?;
        let mut bytes = vec![0u8; self.byte_len(&region)?];
        self.read_chunk_into(chunk, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads the file straight into `out`: the bytes on disk are the
    /// decoded chunk.
    fn read_chunk_into(&self, chunk: &[u64], out: &mut [u8]) -> Result<()> {
        use std::io::Read;
        let region = self.chunk_region(chunk)?;
        self.check_length(&region, out.len())?;
        let corrupt = |reason: String| IoError::CorruptChunk {
            location: self.location(),
            chunk: chunk.to_vec(),
            reason,
        };
        let mut file = match std::fs::File::open(self.file(chunk)) {
            Ok(file) => file,
            // Every intermediate chunk is written by the pass before the one
            // that reads it: a missing one is lost data, never "fill".
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(corrupt(
                    "the intermediate chunk is missing (was the scratch directory removed?)".into(),
                ))
            }
            Err(e) => return Err(self.io_error(chunk, "reading", e)),
        };
        let on_disk = file
            .metadata()
            .map_err(|e| self.io_error(chunk, "reading", e))?
            .len();
        if on_disk != out.len() as u64 {
            return Err(corrupt(format!(
                "{on_disk} bytes on disk, {} expected",
                out.len()
            )));
        }
        file.read_exact(out)
            .map_err(|e| self.io_error(chunk, "reading", e))
    }

    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<()> {
        self.region_for_write(chunk, bytes.len())?;
        let file = self.file(chunk);
        // Appended, not `with_extension`: chunk names contain dots, and
        // `0.0.1` and `0.0.2` must not share a temporary file.
        let mut tmp = file.clone().into_os_string();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, bytes).map_err(|e| self.io_error(chunk, "writing", e))?;
        std::fs::rename(&tmp, &file).map_err(|e| self.io_error(chunk, "writing", e))
    }

    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool> {
        self.meta
            .grid
            .block_region(chunk)
            .map_err(|e| self.grid_error(e))?;
        Ok(self.file(chunk).is_file())
    }
}
