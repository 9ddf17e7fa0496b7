//! Where arrays come from: in-memory ndarrays, chunk stores (read lazily),
//! constants and ranges (generated per block, never held whole). Seeded
//! random arrays are in `random.rs`.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::{normalize_chunks, ChunkGrid, ChunkSpec, NormalizeOptions, Region};
use ndchunk_io::{ChunkStore, ChunkStoreExt, Element, IoError};
use num_traits::{AsPrimitive, Float};

use super::recipe::{scalar, values_hex, Args};
use super::Array;
use crate::error::Result;
use crate::graph::{HoldFn, Node, NodeKind};
use crate::ops::numeric::Numeric;
use crate::runtime::block::{block, shape_of, slice_of};
use crate::runtime::block_type::block_type;
use crate::runtime::lanes::Held;

/// The most values [`Array::from_values`] puts in a plan file.
pub(crate) const INLINE_ELEMENTS: usize = 1 << 20;

/// How to chunk a new array: a chunk shape (`[100, 100]`), a Dask-style
/// [`ChunkSpec`] (`auto`, `-1`, explicit sizes), or a ready [`ChunkGrid`].
#[derive(Debug, Clone)]
pub enum Chunks {
    /// One chunk size per axis (the last chunk along an axis may be smaller).
    Shape(Vec<u64>),
    /// Dask's `chunks=` vocabulary, resolved with `normalize_chunks`.
    Spec(ChunkSpec),
    /// Exactly this grid (its shape must be the array's).
    Grid(ChunkGrid),
}

impl From<Vec<u64>> for Chunks {
    fn from(shape: Vec<u64>) -> Self {
        Chunks::Shape(shape)
    }
}

impl From<&[u64]> for Chunks {
    fn from(shape: &[u64]) -> Self {
        Chunks::Shape(shape.to_vec())
    }
}

impl<const N: usize> From<[u64; N]> for Chunks {
    fn from(shape: [u64; N]) -> Self {
        Chunks::Shape(shape.to_vec())
    }
}

impl From<ChunkSpec> for Chunks {
    fn from(spec: ChunkSpec) -> Self {
        Chunks::Spec(spec)
    }
}

impl From<&ChunkSpec> for Chunks {
    fn from(spec: &ChunkSpec) -> Self {
        Chunks::Spec(spec.clone())
    }
}

impl From<ChunkGrid> for Chunks {
    fn from(grid: ChunkGrid) -> Self {
        Chunks::Grid(grid)
    }
}

impl Chunks {
    /// The grid of an array of `shape` with `itemsize`-byte elements.
    pub fn resolve(self, shape: &[u64], itemsize: usize) -> Result<ChunkGrid> {
        let grid = match self {
            Chunks::Shape(chunk) => ChunkGrid::regular(shape, &chunk)?,
            Chunks::Spec(spec) => {
                let options = NormalizeOptions {
                    itemsize: Some(itemsize as u64),
                    ..NormalizeOptions::default()
                };
                normalize_chunks(&spec, shape, &options)?
            }
            Chunks::Grid(grid) => grid,
        };
        grid.check_same_shape(&ChunkGrid::regular(shape, shape)?)?;
        Ok(grid)
    }
}

pub(super) fn source<T: Element>(
    name: impl Into<String>,
    grid: ChunkGrid,
    scratch_bytes: u64,
    read: impl Fn(&Region) -> Result<ArrayD<T>> + Send + Sync + 'static,
) -> Array<T> {
    lending_source(name, grid, scratch_bytes, read, None, None)
}

/// A source that can also lend its values where they lie ([`HoldFn`]).
fn lending_source<T: Element>(
    name: impl Into<String>,
    grid: ChunkGrid,
    scratch_bytes: u64,
    read: impl Fn(&Region) -> Result<ArrayD<T>> + Send + Sync + 'static,
    hold: Option<Arc<HoldFn>>,
    store: Option<Arc<dyn ChunkStore>>,
) -> Array<T> {
    let read = move |region: &Region| read(region).map(block);
    Array::from_node(Node::new(
        name,
        grid,
        block_type::<T>(),
        NodeKind::Source {
            read: Arc::new(read),
            scratch_bytes,
            hold,
            store,
        },
    ))
}

impl<T: Element> Array<T> {
    /// An array over an in-memory ndarray (shared, not copied until read).
    pub fn from_ndarray(data: ArrayD<T>, chunks: impl Into<Chunks>) -> Result<Array<T>> {
        let shape: Vec<u64> = data.shape().iter().map(|&n| n as u64).collect();
        let grid = chunks.into().resolve(&shape, T::DTYPE.size())?;
        let data = Arc::new(data);
        let whole = data.clone();
        let hold = move |_: &Region| Ok(Held::array(whole.clone()));
        let read = move |region: &Region| Ok(data.slice(slice_of(region).as_slice()).to_owned());
        Ok(lending_source(
            "from_ndarray",
            grid,
            0,
            read,
            Some(Arc::new(hold)),
            None,
        )
        .local_only(
            "`from_ndarray` reads an array in this process's memory: this plan can only run in \
             this process (write the data to a store and read it with `from_store`)",
        ))
    }

    /// [`Array::from_ndarray`] for the labelled layer's own small
    /// in-memory arrays (coordinates' values, masks of labels): the values
    /// are the recipe (`values`, their bytes held in a plan file), so a
    /// plan reading them runs in any process. More than
    /// [`INLINE_ELEMENTS`] values stay local, said as `what`.
    pub(crate) fn from_values(
        data: ArrayD<T>,
        chunks: impl Into<Chunks>,
        what: &str,
    ) -> Result<Array<T>> {
        let n = data.len();
        let shape: Vec<u64> = data.shape().iter().map(|&n| n as u64).collect();
        let grid = chunks.into().resolve(&shape, T::DTYPE.size())?;
        if n > INLINE_ELEMENTS {
            let array = Array::from_ndarray(data, Chunks::Grid(grid))?;
            return Ok(array.local_only(format!(
                "{what} holds {n} values in this process's memory, more than a plan file holds \
                 ({INLINE_ELEMENTS}): this plan can only run in this process"
            )));
        }
        // Small: a copy kept for the recipe, written only if a plan is.
        let data = Arc::new(data);
        let array = Array::from_ndarray((*data).clone(), Chunks::Grid(grid.clone()))?;
        let args = move || {
            serde_json::json!({
                "shape": shape,
                "grid": grid,
                "bytes": values_hex(&data.iter().cloned().collect::<Vec<T>>()),
            })
        };
        Ok(array.recorded_with("values", Args::Lazy(Box::new(args)), Vec::new()))
    }

    /// The store this array reads as it is, chunk for chunk (an array
    /// from [`Array::from_store`] with no operation after it).
    pub(crate) fn as_stored(&self) -> Option<Arc<dyn ChunkStore>> {
        match self.node.kind() {
            NodeKind::Source { store, .. } => store.clone(),
            _ => None,
        }
    }

    /// An array over a chunk store, with the store's chunks. Reads nothing
    /// now; each task reads the chunks its block needs.
    pub fn from_store(store: Arc<dyn ChunkStore>) -> Result<Array<T>> {
        let meta = store.meta();
        if meta.dtype != T::DTYPE {
            return Err(IoError::WrongDType {
                location: store.location(),
                actual: meta.dtype,
                requested: T::DTYPE,
            }
            .into());
        }
        let grid = meta.grid.clone();
        // A region read decodes one chunk at a time beside its result
        // (plus the chunk's encoded bytes, at most as large).
        let scratch = grid
            .max_block_elements()
            .saturating_mul(2 * T::DTYPE.size() as u64);
        let name = format!("from_store({})", store.location());
        let as_stored = store.clone();
        let recorded = store.clone();
        let chunks = grid.clone();
        let whole_chunk = move |region: &Region| {
            chunks
                .block_of(region.start())
                .filter(|index| chunks.block_region(index).is_ok_and(|r| r == *region))
        };
        // One whole chunk is lent as the store decoded it, read in place.
        let (lender, is_chunk) = (store.clone(), whole_chunk.clone());
        let hold = move |region: &Region| {
            let Some(index) = is_chunk(region) else {
                return Ok(None);
            };
            let bytes = lender.read_chunk_bytes(&index)?;
            let expected = region.num_elements() as usize * T::DTYPE.size();
            if bytes.len() != expected {
                return Err(IoError::WrongLength {
                    location: lender.location(),
                    expected,
                    got: bytes.len(),
                }
                .into());
            }
            Ok(Some(Held::bytes::<T>(bytes, region)?))
        };
        let read = move |region: &Region| {
            let Some(index) = whole_chunk(region) else {
                // Several chunks (or parts): those that are contiguous runs
                // of the block are decoded straight into it.
                return Ok(store.read_region::<T>(region)?);
            };
            // A whole chunk is decoded by the store into bytes of its own
            // and copied once into the block (decoding into a zeroed block
            // costs a pass more: codecs decode into their own buffer).
            let bytes = store.read_chunk_bytes(&index)?;
            let values = T::from_ne_bytes(&bytes);
            ArrayD::from_shape_vec(IxDyn(&shape_of(region)), values).map_err(|_| {
                IoError::WrongLength {
                    location: store.location(),
                    expected: region.num_elements() as usize * T::DTYPE.size(),
                    got: bytes.len(),
                }
                .into()
            })
        };
        Ok(lending_source(
            name,
            grid,
            scratch,
            read,
            Some(Arc::new(hold)),
            Some(as_stored),
        )
        .recorded_source(recorded))
    }

    /// An array of `shape` where every element is `value`; blocks are made
    /// when needed.
    pub fn full(shape: &[u64], value: T, chunks: impl Into<Chunks>) -> Result<Array<T>> {
        let grid = chunks.into().resolve(shape, T::DTYPE.size())?;
        let args = serde_json::json!({ "shape": shape, "value": scalar(value), "grid": grid });
        Ok(source(
            format!("full({value:?})"),
            grid,
            0,
            move |region: &Region| Ok(ArrayD::from_elem(IxDyn(&shape_of(region)), value)),
        )
        .recorded("full", args, Vec::new()))
    }
}

impl<T: Numeric> Array<T> {
    /// Zeros.
    pub fn zeros(shape: &[u64], chunks: impl Into<Chunks>) -> Result<Array<T>> {
        Self::full(shape, T::ZERO, chunks)
    }

    /// Ones.
    pub fn ones(shape: &[u64], chunks: impl Into<Chunks>) -> Result<Array<T>> {
        Self::full(shape, T::ONE, chunks)
    }

    /// `0, 1, …, n - 1` as a 1-d array (numpy's `arange(n)`).
    pub fn arange(n: u64, chunks: impl Into<Chunks>) -> Result<Array<T>>
    where
        u64: AsPrimitive<T>,
    {
        let grid = chunks.into().resolve(&[n], T::DTYPE.size())?;
        let args = serde_json::json!({ "n": n, "grid": grid });
        Ok(source("arange", grid, 0, move |region: &Region| {
            let values: Vec<T> = region.range(0).map(|i| i.as_()).collect();
            Ok(ArrayD::from_shape_vec(IxDyn(&[values.len()]), values)
                .unwrap_or_else(|_| ArrayD::default(IxDyn(&[0]))))
        })
        .recorded("arange", args, Vec::new()))
    }
}

impl<T: Numeric + Float> Array<T>
where
    f64: AsPrimitive<T>,
{
    /// `num` evenly spaced values from `start` to `stop` (included when
    /// `endpoint`), as numpy's `linspace(start, stop, num, endpoint)`: the
    /// same float64 arithmetic (`i * step + start`, the last value set to
    /// `stop`), so the float64 values equal numpy's bit for bit; a float32
    /// array holds those values rounded, as `linspace(..., dtype=float32)`.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::linspace(0.0, 1.0, 5, true, [2]).unwrap();
    /// assert_eq!(a.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 0.25, 0.5, 0.75, 1.0]);
    /// let b = Array::<f64>::linspace(0.0, 1.0, 4, false, [4]).unwrap();
    /// assert_eq!(b.compute().unwrap().into_raw_vec_and_offset().0, vec![0.0, 0.25, 0.5, 0.75]);
    /// ```
    pub fn linspace(
        start: f64,
        stop: f64,
        num: u64,
        endpoint: bool,
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        let grid = chunks.into().resolve(&[num], T::DTYPE.size())?;
        let value = linspace_fn(start, stop, num, endpoint);
        let name = format!("linspace({start:?}, {stop:?}, {num})");
        let args = serde_json::json!({
            "start": scalar(start), "stop": scalar(stop), "num": num, "endpoint": endpoint,
            "grid": grid,
        });
        Ok(source(name, grid, 0, move |region: &Region| {
            let values: Vec<T> = region.range(0).map(|i| value(i).as_()).collect();
            Ok(ArrayD::from_shape_vec(IxDyn(&[values.len()]), values)
                .unwrap_or_else(|_| ArrayD::default(IxDyn(&[0]))))
        })
        .recorded("linspace", args, Vec::new()))
    }
}

/// Element `i` of numpy's `linspace`, in numpy's order of operations
/// (numpy 2, `numpy/_core/function_base.py`): `y = arange(num) * step +
/// start`, except that a step that underflows to zero is applied as
/// `arange(num) / div * delta`, an undefined step (`div == 0`) as
/// `arange(num) * delta`, and the last value is `stop` exactly.
pub(crate) fn linspace_fn(start: f64, stop: f64, num: u64, endpoint: bool) -> impl Fn(u64) -> f64 {
    let div = if endpoint { num.saturating_sub(1) } else { num };
    let delta = stop - start;
    let step = delta / div as f64;
    move |i: u64| {
        let x = i as f64;
        if endpoint && num > 1 && i == num - 1 {
            stop
        } else if div == 0 {
            x * delta + start
        } else if step == 0.0 {
            x / div as f64 * delta + start
        } else {
            x * step + start
        }
    }
}
