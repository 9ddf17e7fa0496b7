//! `ChunkStore`: one stored array, read and written chunk by chunk.

use ndarray::{ArrayD, ArrayViewD, IxDyn};
use ndchunk_chunking::{ChunkGrid, Region};

use crate::copy::{contiguous_run, copy_box, filled};
use crate::element::Element;
use crate::error::{IoError, Result};
use crate::meta::ArrayMeta;

/// The error of a store whose chunks cannot be copied as stored.
pub(crate) fn not_copyable(location: String) -> IoError {
    IoError::Storage {
        location,
        message: "this store's chunks cannot be copied as stored".into(),
    }
}

/// One chunk as a store holds it, encoded, read by
/// [`ChunkStore::read_encoded_chunk`]: only a store makes one, and it
/// keeps the [`encoding`](ChunkStore::encoding) of the store it was read
/// from, so that it is written only into a store of that encoding
/// ([`ChunkStore::copy_encoded_chunk_from`]).
#[derive(Debug, Clone, PartialEq)]
pub struct EncodedChunk {
    encoding: String,
    bytes: Vec<u8>,
}

impl EncodedChunk {
    pub(crate) fn new(encoding: String, bytes: Vec<u8>) -> EncodedChunk {
        EncodedChunk { encoding, bytes }
    }

    /// The encoding of the store it was read from.
    pub fn encoding(&self) -> &str {
        &self.encoding
    }

    /// The bytes as stored.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub(crate) fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// One stored array, whatever the format. Object-safe, so that stores opened
/// at run time are `Box<dyn ChunkStore>`; the typed helpers are in
/// [`ChunkStoreExt`].
///
/// Chunk bytes are the decoded elements of the chunk's region of the array
/// (edge chunks clipped to the array), C order, native byte order: a
/// rechunk moves them without knowing the dtype beyond its size. A chunk
/// never written reads as the fill value, as Zarr specifies.
pub trait ChunkStore: Send + Sync {
    /// What the store says about the array.
    fn meta(&self) -> &ArrayMeta;

    /// Where the array is, for messages (`path/to/store.zarr/temperature`).
    fn location(&self) -> String;

    /// Whether every chunk read or written is a request over the network
    /// (object storage), whose latency only many requests in flight hide:
    /// the engine then runs more tasks at once than there are cores.
    fn is_remote(&self) -> bool {
        false
    }

    /// The decoded bytes of one chunk (the fill value if never written).
    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>>;

    /// [`read_chunk_bytes`](Self::read_chunk_bytes) into `out`, whose length
    /// must be the chunk's (clipped) byte length. The default reads and
    /// copies; a store that can decode in place (Zarr) saves that copy.
    fn read_chunk_into(&self, chunk: &[u64], out: &mut [u8]) -> Result<()> {
        let bytes = self.read_chunk_bytes(chunk)?;
        self.check_length(&self.chunk_region(chunk)?, out.len())?;
        out.copy_from_slice(&bytes);
        Ok(())
    }

    /// The bytes of `part` (chunk-local coordinates) of a chunk, in C
    /// order, where the store can read a part without the whole chunk (a
    /// file of raw values); `None` where it cannot, and the chunk is read
    /// whole.
    fn read_chunk_part(&self, chunk: &[u64], part: &Region) -> Result<Option<Vec<u8>>> {
        let _ = (chunk, part);
        Ok(None)
    }

    /// Writes one whole chunk (`bytes` covers the chunk's clipped region).
    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<()>;

    /// Whether a chunk has been written.
    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool>;

    /// How the store encodes its chunks (format, dtype, chunk shape, fill
    /// value, codecs), where its chunks can be copied as stored: two
    /// stores of equal encodings hold interchangeable encoded chunks.
    /// `None` (the default) where they cannot.
    fn encoding(&self) -> Option<String> {
        None
    }

    /// One chunk as stored, encoded (`None` if never written), for
    /// [`copy_encoded_chunk_from`](Self::copy_encoded_chunk_from) into a
    /// store of the same [`encoding`](Self::encoding).
    fn read_encoded_chunk(&self, chunk: &[u64]) -> Result<Option<EncodedChunk>> {
        let _ = chunk;
        Err(not_copyable(self.location()))
    }

    /// Copies chunk `chunk` of `source` into this store as stored, without
    /// decoding it, when both encode their chunks alike (equal
    /// [`encoding`](Self::encoding) and chunk grid; else an error, and
    /// nothing is written); a chunk `source` never wrote is erased here, so
    /// it reads as the fill value in both. Returns whether one was copied.
    fn copy_encoded_chunk_from(&self, source: &dyn ChunkStore, chunk: &[u64]) -> Result<bool> {
        let _ = (source, chunk);
        Err(not_copyable(self.location()))
    }

    /// The decoded bytes of any region, read from the chunks it touches and
    /// only those.
    fn read_region_bytes(&self, region: &Region) -> Result<Vec<u8>> {
        let mut out = vec![0u8; self.byte_len(region)?];
        self.read_region_into(region, &mut out)?;
        Ok(out)
    }

    /// [`read_region_bytes`](Self::read_region_bytes) into `out` (C order,
    /// the region's shape). A chunk that is one contiguous run of `out`
    /// (a whole chunk spanning the region's trailing axes) is read straight
    /// into it ([`read_chunk_into`](Self::read_chunk_into)); the others are
    /// read aside and copied row by row.
    fn read_region_into(&self, region: &Region, out: &mut [u8]) -> Result<()> {
        let grid = &self.meta().grid;
        let itemsize = self.meta().dtype.size();
        self.check_length(region, out.len())?;
        let blocks = grid
            .blocks_overlapping(region)
            .map_err(|e| self.grid_error(e))?;
        let shape = region.shape();
        for chunk in blocks.iter() {
            let chunk_region = grid.block_region(&chunk).map_err(|e| self.grid_error(e))?;
            let Some(common) = chunk_region.intersect(region) else {
                continue;
            };
            let to = common
                .relative_to(region)
                .expect("intersection lies in the region");
            if common == chunk_region {
                if let Some(run) = contiguous_run(&to, &shape, itemsize) {
                    self.read_chunk_into(&chunk, &mut out[run])?;
                    continue;
                }
            }
            let from = common
                .relative_to(&chunk_region)
                .expect("intersection lies in the chunk");
            if let Some(part) = self.read_chunk_part(&chunk, &from)? {
                let whole = Region::from_shape(&from.shape());
                copy_box(
                    &part,
                    &from.shape(),
                    &whole,
                    out,
                    &shape,
                    to.start(),
                    itemsize,
                );
                continue;
            }
            let bytes = self.read_chunk_bytes(&chunk)?;
            copy_box(
                &bytes,
                &chunk_region.shape(),
                &from,
                out,
                &shape,
                to.start(),
                itemsize,
            );
        }
        Ok(())
    }

    /// Writes a region made of whole chunks.
    fn write_region_bytes(&self, region: &Region, bytes: &[u8]) -> Result<()> {
        let grid = &self.meta().grid;
        let itemsize = self.meta().dtype.size();
        self.check_length(region, bytes.len())?;
        let blocks = grid
            .blocks_overlapping(region)
            .map_err(|e| self.grid_error(e))?;
        let shape = region.shape();
        for chunk in blocks.iter() {
            let chunk_region = grid.block_region(&chunk).map_err(|e| self.grid_error(e))?;
            if !region.contains(&chunk_region) {
                return Err(IoError::NotChunkAligned {
                    location: self.location(),
                    region: region.to_string(),
                });
            }
            let from = chunk_region.relative_to(region).expect("checked above");
            let mut chunk_bytes = vec![0u8; self.byte_len(&chunk_region)?];
            copy_box(
                bytes,
                &shape,
                &from,
                &mut chunk_bytes,
                &chunk_region.shape(),
                &vec![0; shape.len()],
                itemsize,
            );
            self.write_chunk_bytes(&chunk, &chunk_bytes)?;
        }
        Ok(())
    }

    /// The chunks that have been written, in C order.
    fn written_chunks(&self) -> Result<Vec<Vec<u64>>> {
        let mut out = Vec::new();
        for chunk in self.meta().grid.all_blocks().iter() {
            if self.chunk_exists(&chunk)? {
                out.push(chunk);
            }
        }
        Ok(out)
    }

    /// The (clipped) region of `chunk`, or a located error.
    fn chunk_region(&self, chunk: &[u64]) -> Result<Region> {
        self.meta()
            .grid
            .block_region(chunk)
            .map_err(|e| self.grid_error(e))
    }

    /// The region of `chunk`, checked against the `len` bytes about to be
    /// written to it.
    fn region_for_write(&self, chunk: &[u64], len: usize) -> Result<Region> {
        let region = self.chunk_region(chunk)?;
        self.check_length(&region, len)?;
        Ok(region)
    }

    /// A grid error, located.
    fn grid_error(&self, source: ndchunk_chunking::ChunkingError) -> IoError {
        IoError::Grid {
            location: self.location(),
            source,
        }
    }

    /// Bytes of `region`'s decoded elements, or an error naming the
    /// region when they cannot be counted or addressed (past `isize::MAX`,
    /// what any allocation may hold).
    fn byte_len(&self, region: &Region) -> Result<usize> {
        let itemsize = self.meta().dtype.size();
        region_byte_len(region, itemsize).ok_or_else(|| {
            self.grid_error(ndchunk_chunking::ChunkingError::TooManyBytes {
                what: "the region",
                shape: region.shape(),
                itemsize: itemsize as u64,
            })
        })
    }

    /// Errors unless `len` bytes is exactly `region`'s size.
    fn check_length(&self, region: &Region, len: usize) -> Result<()> {
        let expected = self.byte_len(region)?;
        if len != expected {
            return Err(IoError::WrongLength {
                location: self.location(),
                expected,
                got: len,
            });
        }
        Ok(())
    }
}

/// Bytes of `region` at `itemsize` bytes per element, `None` past what one
/// allocation may hold (`isize::MAX`).
pub(crate) fn region_byte_len(region: &Region, itemsize: usize) -> Option<usize> {
    let shape = region.shape();
    let elements = if shape.contains(&0) {
        0
    } else {
        shape.iter().try_fold(1u64, |n, &l| n.checked_mul(l))?
    };
    let bytes = elements.checked_mul(itemsize as u64)?;
    isize::try_from(bytes).ok().map(|b| b as usize)
}

/// A chunk that was never written: the fill value over the chunk's region.
pub fn fill_chunk(
    meta: &ArrayMeta,
    grid: &ChunkGrid,
    chunk: &[u64],
) -> Result<Vec<u8>, ndchunk_chunking::ChunkingError> {
    let region = grid.block_region(chunk)?;
    Ok(filled(
        &meta.fill_value.to_ne_bytes(meta.dtype),
        region.num_elements(),
    ))
}

/// Typed reads and writes over any [`ChunkStore`]: the dtype is checked
/// once, then the bytes become an `ndarray`.
pub trait ChunkStoreExt: ChunkStore {
    /// One chunk as an array of its (clipped) shape.
    fn read_chunk<T: Element>(&self, chunk: &[u64]) -> Result<ArrayD<T>> {
        self.check_dtype::<T>()?;
        let region = self.chunk_region(chunk)?;
        to_array(&region, &self.read_chunk_bytes(chunk)?)
    }

    /// Any region as an array.
    fn read_region<T: Element>(&self, region: &Region) -> Result<ArrayD<T>> {
        self.check_dtype::<T>()?;
        let mut values = vec![T::default(); self.byte_len(region)? / T::DTYPE.size().max(1)];
        // Decoded straight into the array where `T` has a byte view.
        match T::bytes_mut(&mut values) {
            Some(out) => self.read_region_into(region, out)?,
            None => return to_array(region, &self.read_region_bytes(region)?),
        }
        let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
        Ok(
            ArrayD::from_shape_vec(IxDyn(&shape), values)
                .expect("a region's values fill its shape"),
        )
    }

    /// Writes one chunk.
    fn write_chunk<T: Element>(&self, chunk: &[u64], data: ArrayViewD<'_, T>) -> Result<()> {
        self.check_dtype::<T>()?;
        let region = self.chunk_region(chunk)?;
        check_shape(self, &region, data.shape())?;
        self.write_chunk_bytes(chunk, &T::to_ne_bytes(&contiguous(data)))
    }

    /// Writes a region made of whole chunks.
    fn write_region<T: Element>(&self, region: &Region, data: ArrayViewD<'_, T>) -> Result<()> {
        self.check_dtype::<T>()?;
        check_shape(self, region, data.shape())?;
        self.write_region_bytes(region, &T::to_ne_bytes(&contiguous(data)))
    }

    /// Errors unless the array holds `T`.
    fn check_dtype<T: Element>(&self) -> Result<()> {
        if self.meta().dtype != T::DTYPE {
            return Err(IoError::WrongDType {
                location: self.location(),
                actual: self.meta().dtype,
                requested: T::DTYPE,
            });
        }
        Ok(())
    }
}

impl<S: ChunkStore + ?Sized> ChunkStoreExt for S {}

fn to_array<T: Element>(region: &Region, bytes: &[u8]) -> Result<ArrayD<T>> {
    let shape: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
    Ok(
        ArrayD::from_shape_vec(IxDyn(&shape), T::from_ne_bytes(bytes))
            .expect("a region's bytes fill its shape"),
    )
}

fn contiguous<T: Element>(data: ArrayViewD<'_, T>) -> Vec<T> {
    data.iter().copied().collect()
}

fn check_shape<S: ChunkStore + ?Sized>(store: &S, region: &Region, shape: &[usize]) -> Result<()> {
    let expected: Vec<usize> = region.shape().iter().map(|&n| n as usize).collect();
    if expected != shape {
        return Err(IoError::WrongLength {
            location: store.location(),
            expected: expected.iter().product::<usize>() * store.meta().dtype.size(),
            got: shape.iter().product::<usize>() * store.meta().dtype.size(),
        });
    }
    Ok(())
}
