//! netCDF-3 files as read-only chunk stores: the classic format (`CDF\x01`),
//! the 64-bit offset format (`CDF\x02`) and CDF-5 (`CDF\x05`, 64-bit data),
//! the files of most climate archives from before netCDF-4.
//!
//! A netCDF-3 variable is uncompressed and big-endian. A *fixed* variable is
//! one C-order block at its `begin` offset; a *record* variable (first
//! dimension unlimited) is one C-order slab per record, the slabs of all
//! record variables interleaved `recsize` bytes apart. There are no chunks
//! on disk, so the store shows a variable on the grid its caller chooses
//! and reads a chunk as positioned reads of exactly the chunk's bytes
//! (nearby runs merged into one read), then swaps them to native order.
//!
//! The default grid cuts chunks of about [`DEFAULT_CHUNK_BYTES`] that are
//! contiguous in the variable's layout: the innermost axes whole, then as
//! many steps of the next axis as fit. For a fixed variable that is one run
//! of bytes per chunk (rows of the outermost axis when a row fits); for a
//! record variable it is whole records, as many as fit, and one record per
//! chunk as soon as a record is more than half the target. Small records
//! are grouped because one chunk per record would make a `time(time)`
//! coordinate one 8-byte chunk per time step.
//!
//! A file shorter than its header says is refused as a whole when opened
//! (netCDF-C would read zeros where the bytes are missing): a truncated
//! download must not pass for data.
//!
//! The header is parsed here rather than by the `netcdf3` crate: that crate
//! reads whole variables or whole records only (it keeps the `begin`
//! offsets private), misplaces the records of a file whose only record
//! variable is a byte or short one (netCDF does not pad those), refuses a
//! variable that uses one dimension twice, does not know CDF-5, and aborts
//! the process on a header that claims 2^31 dimensions (it reserves memory
//! for counts it has not read).
//!
//! ```no_run
//! use ndchunk_io::netcdf3::{list_variables, Netcdf3Store};
//! use ndchunk_io::{ChunkStoreExt, Region};
//! # fn main() -> ndchunk_io::Result<()> {
//! let path = std::path::Path::new("coads_climatology.cdf");
//! for (name, meta) in list_variables(path)? {
//!     println!("{name}: {:?} {}", meta.shape(), meta.dtype);
//! }
//! let sst = Netcdf3Store::open(path, "SST", None)?;
//! let january = sst.read_region::<f32>(&Region::new(vec![0, 0, 0], vec![1, 90, 180]).unwrap())?;
//! # Ok(()) }
//! ```

mod header;

use std::fs::File;
use std::path::Path;

use serde_json::{Map, Value};

use ndchunk_chunking::{ChunkGrid, Region};

use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;
use crate::store::ChunkStore;

use header::{attributes_json, read_file, Layout};

/// The size a default chunk aims at: large enough that a chunk task is
/// worth scheduling, small enough that several fit a worker's budget.
pub const DEFAULT_CHUNK_BYTES: u64 = 16 << 20;

/// Runs of a chunk closer than this in the file are read with one call:
/// the OS reads whole pages anyway, and copying a page costs less than a
/// system call.
const MERGE_GAP: u64 = 4096;

/// The longest merged read and the most runs in one, which bound the
/// scratch memory of a chunk read.
const MERGE_SPAN: u64 = 4 << 20;
const MERGE_RUNS: usize = 1 << 16;

/// The three netCDF-3 variants. They differ in the width of offsets and
/// counts, which decides how large a file and a variable may be; CDF-5 adds
/// unsigned and 64-bit integer types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Netcdf3Format {
    /// `CDF\x01`, netCDF4-python's `NETCDF3_CLASSIC`: 32-bit offsets.
    Classic,
    /// `CDF\x02`, `NETCDF3_64BIT_OFFSET`: 64-bit offsets.
    Offset64,
    /// `CDF\x05`, `NETCDF3_64BIT_DATA` (PnetCDF's CDF-5): 64-bit offsets
    /// and counts, and the types `ubyte` to `uint64`.
    Data64,
}

/// One variable of a netCDF-3 file as a read-only [`ChunkStore`]. It holds
/// the file open and reads with positioned reads, so one store serves many
/// threads at once.
#[derive(Debug)]
pub struct Netcdf3Store {
    location: String,
    format: Netcdf3Format,
    meta: ArrayMeta,
    layout: Layout,
    file: File,
}

impl Netcdf3Store {
    /// Opens `variable` of the netCDF-3 file at `path`, on `grid` or, when
    /// `None`, on the default grid (see the module docs). Refuses `char`
    /// variables (text, not numbers), a grid of another shape than the
    /// variable, and a file shorter than its header says.
    pub fn open(path: &Path, variable: &str, grid: Option<ChunkGrid>) -> Result<Self> {
        let (file, header) = read_file(path)?;
        let Some(index) = header.vars.iter().position(|v| v.name == variable) else {
            let names: Vec<&str> = header.vars.iter().map(|v| v.name.as_str()).collect();
            return Err(IoError::Metadata {
                location: path.display().to_string(),
                reason: format!(
                    "no variable `{variable}`; the file has: {}",
                    if names.is_empty() {
                        "no variables".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            });
        };
        let location = format!("{}/{variable}", path.display());
        let mut meta = header.array_meta(index)?;
        if let Some(grid) = grid {
            grid.check_same_shape(&meta.grid)
                .map_err(|source| IoError::Grid {
                    location: location.clone(),
                    source,
                })?;
            meta.grid = grid;
        }
        Ok(Self {
            location,
            format: header.format,
            meta,
            layout: header.layouts[index].clone(),
            file,
        })
    }

    /// Which netCDF-3 variant the file is, for `chunkctl info`.
    pub fn format(&self) -> Netcdf3Format {
        self.format
    }

    /// The big-endian bytes of `region` (inside the variable), C order.
    fn read_be(&self, region: &Region) -> std::io::Result<Vec<u8>> {
        let layout = &self.layout;
        let item = layout.itemsize;
        let extent = region.shape();
        let mut reader = RunReader {
            file: &self.file,
            out: vec![0; to_usize(region.num_elements().saturating_mul(item))?],
            written: 0,
            run: 0,
            group: Vec::new(),
            scratch: Vec::new(),
        };
        if region.is_empty() {
            return Ok(reader.out);
        }
        // A run is the innermost axes that are contiguous on disk, whole in
        // the region but for the outermost of them.
        let ndim = extent.len();
        let (mut first, mut run, mut step) = (ndim, item, item);
        while first > 0 {
            let k = first - 1;
            if layout.strides[k] != step {
                break;
            }
            run = extent[k] * step;
            first = k;
            if extent[k] != layout.shape[k] {
                break;
            }
            step = step.saturating_mul(layout.shape[k]);
        }
        reader.run = run;
        let (start, stop) = (region.start(), region.stop());
        let base: u64 = layout.begin
            + (first..ndim)
                .map(|k| start[k] * layout.strides[k])
                .sum::<u64>();
        // Odometer over the axes outside the run, in C order: the runs come
        // in file order and fill the output one after another.
        let mut at = start[..first].to_vec();
        loop {
            let offset = base
                + at.iter()
                    .zip(&layout.strides)
                    .map(|(&i, &s)| i * s)
                    .sum::<u64>();
            reader.push(offset)?;
            let mut k = first;
            loop {
                if k == 0 {
                    reader.flush()?;
                    return Ok(reader.out);
                }
                k -= 1;
                at[k] += 1;
                if at[k] < stop[k] {
                    break;
                }
                at[k] = start[k];
            }
        }
    }

    /// Reads `region` in native order; `chunk` names the chunk for errors.
    fn read(&self, region: &Region, chunk: Option<&[u64]>) -> Result<Vec<u8>> {
        let mut bytes = self.read_be(region).map_err(|e| {
            let reason = if e.kind() == std::io::ErrorKind::UnexpectedEof {
                "the file ends before this data: it was truncated after it was opened".to_string()
            } else {
                e.to_string()
            };
            match chunk {
                Some(chunk) => IoError::CorruptChunk {
                    location: self.location(),
                    chunk: chunk.to_vec(),
                    reason,
                },
                None => IoError::Storage {
                    location: self.location(),
                    message: format!("reading region {region}: {reason}"),
                },
            }
        })?;
        big_endian_to_native(&mut bytes, self.layout.itemsize);
        Ok(bytes)
    }

    fn read_only(&self) -> IoError {
        IoError::ReadOnly {
            location: self.location(),
            reason: "ndchunk reads netCDF-3 files but does not write them; write Zarr instead"
                .into(),
        }
    }
}

impl ChunkStore for Netcdf3Store {
    fn meta(&self) -> &ArrayMeta {
        &self.meta
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>> {
        let region = self.chunk_region(chunk)?;
        self.read(&region, Some(chunk))
    }

    /// Reads exactly the region's bytes, whatever the grid: the chunks of a
    /// netCDF-3 store are a view, not a unit of storage.
    fn read_region_bytes(&self, region: &Region) -> Result<Vec<u8>> {
        // Checks the region lies in the array.
        self.meta
            .grid
            .blocks_overlapping(region)
            .map_err(|e| self.grid_error(e))?;
        self.read(region, None)
    }

    fn write_chunk_bytes(&self, _chunk: &[u64], _bytes: &[u8]) -> Result<()> {
        Err(self.read_only())
    }

    fn write_region_bytes(&self, _region: &Region, _bytes: &[u8]) -> Result<()> {
        Err(self.read_only())
    }

    /// Every chunk of a netCDF-3 variable exists: the format writes fill
    /// values, it never leaves holes.
    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool> {
        self.chunk_region(chunk)?;
        Ok(true)
    }
}

/// Every numeric variable of the netCDF-3 file at `path` with its metadata
/// on the default grid, in file order, for `chunkctl info`. `char`
/// variables (text) are left out: no ndchunk dtype holds them. A name (of
/// any variable) that is not a plain member path (`../evil`: the file's writer chooses it,
/// and callers join names onto directories) is an
/// [`IoError::UnsafeName`].
pub fn list_variables(path: &Path) -> Result<Vec<(String, ArrayMeta)>> {
    let (_, header) = read_file(path)?;
    let mut out = Vec::with_capacity(header.vars.len());
    for (index, var) in header.vars.iter().enumerate() {
        crate::check_member_path(&var.name, &path.display().to_string())?;
        if var.ty.dtype().is_some() {
            out.push((var.name.clone(), header.array_meta(index)?));
        }
    }
    Ok(out)
}

/// The variables [`list_variables`] leaves out (`char`, which is text),
/// each with its type, in file order: so that a caller converting a whole
/// file can say what it cannot carry over instead of dropping it unseen.
/// Every name is checked as [`list_variables`] checks them, so either
/// listing refuses a file holding an unsafe one.
pub fn list_unsupported(path: &Path) -> Result<Vec<(String, String)>> {
    let (_, header) = read_file(path)?;
    let mut out = Vec::new();
    for var in &header.vars {
        crate::check_member_path(&var.name, &path.display().to_string())?;
        if var.ty.dtype().is_none() {
            out.push((var.name.clone(), "char (text)".to_string()));
        }
    }
    Ok(out)
}

/// The global attributes of the netCDF-3 file at `path` (title,
/// conventions, history), which belong to no one variable.
pub fn global_attributes(path: &Path) -> Result<Map<String, Value>> {
    let (_, header) = read_file(path)?;
    Ok(attributes_json(&header.attrs))
}

/// Reads the chunk's runs, merging runs that are close in the file.
struct RunReader<'a> {
    file: &'a File,
    out: Vec<u8>,
    /// Bytes of `out` filled by flushed groups.
    written: usize,
    /// Bytes per run.
    run: u64,
    /// File offsets of the runs waiting to be read together.
    group: Vec<u64>,
    scratch: Vec<u8>,
}

impl RunReader<'_> {
    fn push(&mut self, offset: u64) -> std::io::Result<()> {
        if let (Some(&first), Some(&last)) = (self.group.first(), self.group.last()) {
            let joins = offset
                .checked_sub(last + self.run)
                .is_some_and(|gap| gap <= MERGE_GAP)
                && offset + self.run - first <= MERGE_SPAN
                && self.group.len() < MERGE_RUNS;
            if !joins {
                self.flush()?;
            }
        }
        self.group.push(offset);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let (Some(&first), Some(&last)) = (self.group.first(), self.group.last()) else {
            return Ok(());
        };
        let run = to_usize(self.run)?;
        if self.group.len() == 1 {
            read_exact_at(
                self.file,
                &mut self.out[self.written..self.written + run],
                first,
            )?;
            self.written += run;
        } else {
            self.scratch.resize(to_usize(last + self.run - first)?, 0);
            read_exact_at(self.file, &mut self.scratch, first)?;
            for &offset in &self.group {
                let from = to_usize(offset - first)?;
                self.out[self.written..self.written + run]
                    .copy_from_slice(&self.scratch[from..from + run]);
                self.written += run;
            }
        }
        self.group.clear();
        Ok(())
    }
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn to_usize(n: u64) -> std::io::Result<usize> {
    usize::try_from(n)
        .map_err(|_| std::io::Error::other("more bytes than this machine can address"))
}

/// Swaps big-endian elements of `itemsize` bytes to native order in place.
fn big_endian_to_native(bytes: &mut [u8], itemsize: u64) {
    fn swap<const N: usize>(bytes: &mut [u8]) {
        // `[u8; N]` has alignment 1, so the cast only fails on a length
        // that is not whole elements, which the callers never pass.
        if let Ok(elements) = bytemuck::try_cast_slice_mut::<u8, [u8; N]>(bytes) {
            elements.iter_mut().for_each(|e| e.reverse());
        }
    }
    if cfg!(target_endian = "big") {
        return;
    }
    match itemsize {
        2 => swap::<2>(bytes),
        4 => swap::<4>(bytes),
        8 => swap::<8>(bytes),
        _ => {}
    }
}

/// The default chunk shape (see the module docs): innermost axes whole
/// while they fit [`DEFAULT_CHUNK_BYTES`], then as many steps of the next
/// axis as fit (at least one), then one step of every outer axis.
fn default_chunks(shape: &[u64], itemsize: u64) -> Vec<u64> {
    let mut chunks = shape.to_vec();
    let mut inner = itemsize;
    for k in (0..shape.len()).rev() {
        let whole = inner.saturating_mul(shape[k]);
        if whole <= DEFAULT_CHUNK_BYTES {
            inner = whole;
            continue;
        }
        chunks[k] = (DEFAULT_CHUNK_BYTES / inner).max(1);
        chunks[..k].iter_mut().for_each(|c| *c = 1);
        break;
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIB: u64 = 1 << 20;

    #[test]
    fn default_chunks_keep_small_variables_whole() {
        assert_eq!(default_chunks(&[12, 90, 180], 4), vec![12, 90, 180]);
        assert_eq!(default_chunks(&[], 8), Vec::<u64>::new());
        assert_eq!(default_chunks(&[0, 7], 4), vec![0, 7]);
    }

    #[test]
    fn default_chunks_cut_rows_of_the_outermost_axis_to_the_target() {
        // 1 MiB rows: 16 per chunk.
        assert_eq!(default_chunks(&[100, 1024, 256], 4), vec![16, 1024, 256]);
        // 3 MiB rows: 5 rows, 15 MiB.
        assert_eq!(default_chunks(&[10, 3 * MIB], 1), vec![5, 3 * MIB]);
        // A row larger than the target: cut the next axis, one row each.
        assert_eq!(
            default_chunks(&[4, 64, 1024, 1024], 1),
            vec![1, 16, 1024, 1024]
        );
        // One element per row is more than the target: one per chunk.
        assert_eq!(default_chunks(&[3, 32 * MIB], 1), vec![1, 16 * MIB]);
        for shape in [[7u64, 3000, 5000], [100, 100, 100]] {
            let c = default_chunks(&shape, 8);
            assert!(
                c.iter().product::<u64>() * 8 <= DEFAULT_CHUNK_BYTES,
                "{c:?}"
            );
        }
    }

    #[test]
    fn big_endian_elements_become_native() {
        let mut bytes = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08];
        big_endian_to_native(&mut bytes, 4);
        let values: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        assert_eq!(values, vec![0x0102_0304, 0x0506_0708]);
        let mut bytes = [0xff, 0xfe];
        big_endian_to_native(&mut bytes, 1);
        assert_eq!(bytes, [0xff, 0xfe]);
    }
}
