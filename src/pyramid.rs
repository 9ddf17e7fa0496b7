//! Image pyramids as OME-Zarr multiscale images: level 0 is the image,
//! each next level halves the spatial axes (`z`, `y`, `x`) of the one
//! before by a [`PyramidMethod`], and the group's metadata says where the
//! levels are and their scales (OME-NGFF 0.4 for Zarr v2, 0.5 for v3), so
//! napari, ome-zarr-py and Fiji read the result.
//!
//! Where the budget allows, each level is folded from the blocks of the
//! one before as they are written and held in memory (an eighth of it, in
//! 3-D), so one pass over the source makes every level; otherwise a level
//! is read back from the one written before it. The metadata is written last: a pyramid cut short is not
//! taken for a whole one.

use std::path::Path;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::rechunk::encoded_bound;
use ndchunk_chunking::Region;
use serde_json::{json, Map, Value};

use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::zarr::{create_group, ZarrArraySpec, ZarrCodec, ZarrFormat};
use crate::io::{ArrayMeta, ChunkStore, ZarrStore};
use crate::labelled::CoarsenBoundary;
use crate::ops::coarsen::{reduce_windows, reduce_windows_bytes};
use crate::ops::layout::Index;
use crate::ops::{CoarsenElement, Downsample, FilterElement, FilterOptions, PadMode};
use crate::runtime::block::slice_of;
use crate::ComputeOptions;

/// How a pyramid level is made from the one before.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PyramidMethod {
    /// The mean of each 2x2(x2) window (integers rounded half to even).
    #[default]
    Mean,
    /// A Gaussian blur of sigma 2/3 (scikit-image's `pyramid_reduce` for a
    /// factor of 2; edges mirrored as scipy's `reflect`), then every
    /// second element.
    Gaussian,
    /// The most frequent value of each window: for label images.
    Mode,
    /// The largest value of each window (sparse bright structures).
    Max,
}

impl PyramidMethod {
    /// The reduction of each 2x2(x2) window, for the methods that are one
    /// (all but the Gaussian, which reads past its window).
    fn window(self) -> Option<Downsample> {
        match self {
            PyramidMethod::Mean => Some(Downsample::Mean),
            PyramidMethod::Max => Some(Downsample::Max),
            PyramidMethod::Mode => Some(Downsample::Mode),
            PyramidMethod::Gaussian => None,
        }
    }
}

impl std::str::FromStr for PyramidMethod {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "mean" => Ok(PyramidMethod::Mean),
            "gaussian" => Ok(PyramidMethod::Gaussian),
            "mode" => Ok(PyramidMethod::Mode),
            "max" => Ok(PyramidMethod::Max),
            other => Err(Error::Invalid {
                operation: "pyramid".into(),
                message: format!("method {other:?}: give mean, gaussian, mode or max"),
            }),
        }
    }
}

/// What [`write_pyramid`] writes: a builder over the defaults.
#[derive(Debug, Clone)]
pub struct PyramidOptions {
    levels: Option<usize>,
    axes: Option<Vec<String>>,
    method: PyramidMethod,
    chunks: Option<Vec<u64>>,
    format: ZarrFormat,
    codec: ZarrCodec,
    name: String,
    compute: ComputeOptions,
}

impl Default for PyramidOptions {
    fn default() -> Self {
        Self {
            levels: None,
            axes: None,
            method: PyramidMethod::Mean,
            chunks: None,
            format: ZarrFormat::V3,
            codec: ZarrCodec::Blosc {
                cname: "zstd".into(),
                clevel: 3,
                shuffle: "bitshuffle".into(),
            },
            name: "image".into(),
            compute: ComputeOptions::new(),
        }
    }
}

impl PyramidOptions {
    /// Defaults: levels until the smallest fits one chunk, the mean,
    /// the source's chunks, Zarr v3 (OME-NGFF 0.5), blosc-zstd.
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of levels, the image included (at least 1).
    pub fn levels(mut self, levels: usize) -> Self {
        self.levels = Some(levels);
        self
    }

    /// The image's axes by OME's names (`t`, `c`, `z`, `y`, `x`, in that
    /// order; `z`, `y`, `x` are downsampled), e.g. the source's dimension
    /// names; other names are refused. By default the last axes of `t, c,
    /// z, y, x`.
    pub fn axes<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.axes = Some(names.iter().map(|n| n.as_ref().to_string()).collect());
        self
    }

    /// How each level is made from the one before.
    pub fn method(mut self, method: PyramidMethod) -> Self {
        self.method = method;
        self
    }

    /// The chunk shape of every level (clipped to its shape).
    pub fn chunks(mut self, chunks: &[u64]) -> Self {
        self.chunks = Some(chunks.to_vec());
        self
    }

    /// Zarr v2 (OME-NGFF 0.4) or v3 (0.5).
    pub fn format(mut self, format: ZarrFormat) -> Self {
        self.format = format;
        self
    }

    /// The levels' compressor.
    pub fn codec(mut self, codec: ZarrCodec) -> Self {
        self.codec = codec;
        self
    }

    /// The image's name in the metadata.
    pub fn name(mut self, name: &str) -> Self {
        self.name = name.into();
        self
    }

    /// The budget, threads and progress of each level's run.
    pub fn compute(mut self, options: ComputeOptions) -> Self {
        self.compute = options;
        self
    }
}

/// The OME axes of an image of `ndim` dimensions: its own dimension names
/// where they are OME's (`t`, `c`, `z`, `y`, `x`, in that order), else the
/// last `ndim` of `t, c, z, y, x`.
fn axes(ndim: usize, names: Option<&[String]>) -> Result<Vec<&'static str>> {
    const ALL: [&str; 5] = ["t", "c", "z", "y", "x"];
    if !(2..=5).contains(&ndim) {
        return Err(Error::Invalid {
            operation: "pyramid".into(),
            message: format!(
                "a {ndim}-dimensional array: OME-Zarr images have 2 to 5 dimensions (t, c, z, y, x)"
            ),
        });
    }
    let named: Option<Vec<&'static str>> = names.and_then(|names| {
        names
            .iter()
            .map(|n| {
                let n = n.to_ascii_lowercase();
                ALL.iter().find(|&&a| a == n).copied()
            })
            .collect()
    });
    let in_order = |axes: &Vec<&str>| {
        let at: Vec<usize> = axes
            .iter()
            .filter_map(|a| ALL.iter().position(|b| b == a))
            .collect();
        at.windows(2).all(|w| w[0] < w[1])
    };
    match (names, named) {
        (None, _) => Ok(ALL[5 - ndim..].to_vec()),
        (Some(_), Some(axes))
            if axes.len() == ndim
                && in_order(&axes)
                && axes.iter().filter(|a| !matches!(**a, "t" | "c")).count() >= 2 =>
        {
            Ok(axes)
        }
        (Some(names), _) => Err(Error::Invalid {
            operation: "pyramid".into(),
            message: format!(
                "axes {names:?} are not OME axes: give one name per dimension among t, c, z, y, x, in that order, two of z, y, x at least"
            ),
        }),
    }
}

/// Writes `image` (2 to 5 dimensions) and its downsampled levels to `dst`
/// (which must not exist) as an OME-Zarr multiscale image, level `k` in
/// the array `dst/k`; returns the levels' shapes.
///
/// ```
/// use ndchunk::{write_pyramid, Array, DynArray, PyramidOptions};
/// let image = Array::<u16>::arange(64 * 64, [1024]).unwrap().reshape(&[64, 64]).rechunk([16, 16]);
/// let dir = tempfile::tempdir().unwrap();
/// let options = PyramidOptions::new().levels(3).compute(ndchunk::ComputeOptions::new().progress(false));
/// let shapes = write_pyramid(&DynArray::from(image), &dir.path().join("image.zarr"), &options).unwrap();
/// assert_eq!(shapes, vec![vec![64, 64], vec![32, 32], vec![16, 16]]);
/// ```
pub fn write_pyramid(
    image: &DynArray,
    dst: &Path,
    options: &PyramidOptions,
) -> Result<Vec<Vec<u64>>> {
    use crate::io::DType;
    macro_rules! typed {
        ($($d:ident => $t:ty),*) => {
            match image.dtype() {
                $(DType::$d => write_levels::<$t>(&image.typed::<$t>()?, dst, options),)*
                other => Err(Error::Invalid {
                    operation: "pyramid".into(),
                    message: format!("{other} images cannot be downsampled"),
                }),
            }
        };
    }
    typed!(
        Int8 => i8, Int16 => i16, Int32 => i32, Int64 => i64,
        UInt8 => u8, UInt16 => u16, UInt32 => u32, UInt64 => u64,
        Float32 => f32, Float64 => f64
    )
}

/// The pyramid of a typed image.
fn write_levels<T>(image: &Array<T>, dst: &Path, options: &PyramidOptions) -> Result<Vec<Vec<u64>>>
where
    T: CoarsenElement + FilterElement + crate::array::DynElement,
    T::Float: num_traits::AsPrimitive<f64>,
{
    let refuse = |message: String| Error::Invalid {
        operation: "pyramid".into(),
        message,
    };
    let ndim = image.ndim();
    let axes = axes(ndim, options.axes.as_deref())?;
    if options.compute.journal_dir.is_some() {
        return Err(refuse(
            "a pyramid is written into a new directory and does not resume: leave journal_dir unset"
                .into(),
        ));
    }
    if options.method == PyramidMethod::Mode && T::DTYPE.is_float() {
        return Err(refuse(format!(
            "mode of {} values: the most frequent value is for label images (integers)",
            T::DTYPE.name()
        )));
    }
    let chunks: Vec<u64> = match &options.chunks {
        Some(c) if c.len() == ndim && !c.contains(&0) => c.clone(),
        Some(c) => {
            return Err(refuse(format!(
                "chunks {c:?} for a {ndim}-dimensional image"
            )))
        }
        None => image
            .grid()
            .axes()
            .iter()
            .map(|a| a.max_chunk().max(1))
            .collect(),
    };
    let spatial: Vec<bool> = axes.iter().map(|a| matches!(*a, "z" | "y" | "x")).collect();
    let factors: Vec<u64> = spatial.iter().map(|&s| if s { 2 } else { 1 }).collect();
    // Shapes, level by level: spatial axes halved, rounded up.
    let levels = options.levels.unwrap_or_else(|| {
        let mut shape = image.shape();
        let mut n = 1;
        while n < 16 && (0..ndim).any(|a| spatial[a] && shape[a] > chunks[a]) {
            shape = half(&shape, &factors);
            n += 1;
        }
        n
    });
    if levels == 0 {
        return Err(refuse("a pyramid has at least one level".into()));
    }
    let dst = &claim_new_directory(dst)?;
    create_group(dst, "/", options.format, &Map::new())?;
    // `dst` did not exist: all of it is this run's, removed on failure.
    let written = write_all_levels(image, dst, &chunks, &factors, &spatial, levels, options)
        .and_then(|shapes| {
            write_multiscales(dst, &axes, &factors, &shapes, options)?;
            Ok(shapes)
        });
    if written.is_err() {
        let mut owned = crate::io::owned_paths::OwnedPaths::protecting(&[]);
        if owned.claim(dst, "the destination").is_ok() {
            let _ = owned.remove(dst);
        }
    }
    written
}

/// Level 0 (`image`) and each next one from the one before it. Where the
/// next level fits in a quarter of the budget and its windows lie within
/// this level's chunks, it is folded from each block as the block is
/// written, and held in memory: one pass over the source makes every
/// level. Otherwise it is computed from the level written to disk.
fn write_all_levels<T>(
    image: &Array<T>,
    dst: &Path,
    chunks: &[u64],
    factors: &[u64],
    spatial: &[bool],
    levels: usize,
    options: &PyramidOptions,
) -> Result<Vec<Vec<u64>>>
where
    T: CoarsenElement + FilterElement + crate::array::DynElement,
    T::Float: num_traits::AsPrimitive<f64>,
{
    let axes: Vec<Option<String>> = axes(image.ndim(), options.axes.as_deref())?
        .iter()
        .map(|a| Some(a.to_string()))
        .collect();
    let mut shapes = Vec::with_capacity(levels);
    let mut level = image.clone();
    // The bytes of `level` when it is held in memory (folded).
    let mut held = 0u64;
    for k in 0..levels {
        let shape = level.shape();
        let level_chunks: Vec<u64> = chunks
            .iter()
            .zip(&shape)
            .map(|(&c, &n)| c.min(n).max(1))
            .collect();
        let chunked = level.rechunk(level_chunks.clone());
        let mut meta = ArrayMeta::new(chunked.grid().clone(), T::DTYPE, zero_fill(T::DTYPE));
        meta.dimension_names = Some(axes.clone());
        let mut spec = ZarrArraySpec::new(meta, options.format, options.codec.clone());
        spec.v2_nested_keys = true;
        let store: Arc<dyn ChunkStore> = Arc::new(ZarrStore::create(dst, &k.to_string(), &spec)?);
        let max_mem = options.compute.plan_budget().max_mem;
        let compute = options
            .compute
            .clone()
            .max_mem(max_mem.saturating_sub(held));
        let last = k + 1 == levels;
        let how = options.method.window().filter(|_| !last);
        // Level 0 as stored, where the source's chunks are already what
        // this store would write.
        let source = level.as_stored().filter(|source| {
            source.meta().grid == *chunked.grid()
                && source.encoding().is_some()
                && source.encoding() == store.encoding()
        });
        let folded = store_level(
            &chunked,
            store.as_ref(),
            factors,
            how,
            source.as_deref(),
            &compute,
        )?;
        shapes.push(shape);
        if !last {
            (level, held) = match folded {
                Some((next, bytes)) => (next, bytes),
                None => {
                    let written = Array::<T>::from_store(store)?;
                    (downsample(&written, factors, spatial, options.method), 0)
                }
            };
        }
    }
    Ok(shapes)
}

/// Stores `level`, and in the same pass the next level in memory (each
/// window of `factors` reduced by `how`) when that fits in a quarter of
/// the budget and no window crosses a chunk of `level`. The next level
/// comes with its bytes; `None` when it was not made. Chunks of
/// `copy_from`, a store with the encoding and grid of `store`, are copied
/// as stored instead of being encoded again.
fn store_level<T: CoarsenElement>(
    level: &Array<T>,
    store: &dyn ChunkStore,
    factors: &[u64],
    how: Option<Downsample>,
    copy_from: Option<&dyn ChunkStore>,
    options: &ComputeOptions,
) -> Result<Option<(Array<T>, u64)>> {
    let next_shape = half(&level.shape(), factors);
    let max_mem = options.plan_budget().max_mem;
    let windows_within_chunks = level.grid().axes().iter().zip(factors).all(|(axis, &f)| {
        let mut at = 0;
        axis.sizes().all(|size| {
            at += size;
            at == axis.len() || at.is_multiple_of(f)
        })
    });
    let fold = how.zip(
        next_shape
            .iter()
            .try_fold(std::mem::size_of::<T>() as u64, |n, &d| n.checked_mul(d))
            .filter(|&bytes| windows_within_chunks && bytes <= max_mem / 4),
    );
    let next_bytes = fold.map_or(0, |(_, bytes)| bytes);
    let next = fold.map(|_| {
        let shape: Vec<usize> = next_shape.iter().map(|&n| n as usize).collect();
        std::sync::Mutex::new(ArrayD::<T>::from_elem(IxDyn(&shape), T::default()))
    });
    let fold_block = |region: &Region, values: &ArrayD<T>| -> Result<()> {
        let (Some((how, _)), Some(next)) = (fold, &next) else {
            return Ok(());
        };
        let reduced = reduce_windows(values, factors, how);
        let start: Vec<u64> = region
            .start()
            .iter()
            .zip(factors)
            .map(|(&s, &f)| s / f)
            .collect();
        let stop: Vec<u64> = start
            .iter()
            .zip(reduced.shape())
            .map(|(&s, &n)| s + n as u64)
            .collect();
        let within = Region::new(start, stop)?;
        let mut next = next.lock().unwrap_or_else(|p| p.into_inner());
        next.slice_mut(slice_of(&within).as_slice())
            .assign(&reduced);
        Ok(())
    };
    let run_options = options.clone().max_mem(max_mem - next_bytes);
    // What a task holds beside its block: the fold's scratch and, copying,
    // the chunk as stored (as much as its encoded bound), as a store's
    // write holds its encoded form.
    let block: Vec<u64> = level.grid().axes().iter().map(|a| a.max_chunk()).collect();
    let fold_bytes = fold.map_or(0, |(how, _)| {
        reduce_windows_bytes::<T>(&block, factors, how)
    });
    match copy_from {
        Some(source) => {
            let chunk_bytes = level
                .grid()
                .max_block_elements()
                .saturating_mul(std::mem::size_of::<T>() as u64);
            let held = encoded_bound(chunk_bytes).saturating_add(fold_bytes);
            level.for_each_block_holding(&run_options, held, |index, region, values| {
                store.copy_encoded_chunk_from(source, index)?;
                fold_block(region, &values)
            })?;
        }
        None if next.is_some() => {
            level.store_observed(store, &run_options, fold_bytes, |_, region, values| {
                fold_block(region, values)
            })?;
        }
        None => {
            level.store_with(store, &run_options)?;
        }
    }
    let Some(next) = next else {
        return Ok(None);
    };
    let next = next.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(Some((
        Array::from_ndarray(next, level.grid().chunk_shape())?,
        next_bytes,
    )))
}

/// `dst` made as a new, empty directory (its parents as needed), by its
/// resolved path (`a/../b` is `b`): refused when it exists, checked and
/// made in one step, so that nothing that was there before is ever
/// written into, nor removed on failure.
fn claim_new_directory(dst: &Path) -> Result<std::path::PathBuf> {
    let resolved = crate::io::owned_paths::resolve(dst)?;
    let fails = |e: std::io::Error| Error::Job {
        path: dst.display().to_string(),
        message: match e.kind() {
            std::io::ErrorKind::AlreadyExists => "exists: give a new path".into(),
            _ => format!("cannot create: {e}"),
        },
    };
    if let Some(parent) = resolved.parent() {
        std::fs::create_dir_all(parent).map_err(fails)?;
    }
    std::fs::create_dir(&resolved).map_err(fails)?;
    Ok(resolved)
}

/// A level from the one before it.
fn downsample<T>(x: &Array<T>, factors: &[u64], spatial: &[bool], method: PyramidMethod) -> Array<T>
where
    T: CoarsenElement + FilterElement,
    T::Float: num_traits::AsPrimitive<f64>,
{
    let how = match method.window() {
        Some(how) => how,
        None => {
            let sigma: Vec<f64> = spatial
                .iter()
                .map(|&s| if s { 2.0 / 3.0 } else { 0.0 })
                .collect();
            let blurred = x.gaussian_filter(&sigma, &FilterOptions::new().mode(PadMode::Symmetric));
            let every: Vec<Index> = factors
                .iter()
                .map(|&f| Index::range(0, i64::MAX, f as i64))
                .collect();
            return blurred.slice(&every).map("round", |v| {
                T::from_mean(num_traits::AsPrimitive::<f64>::as_(v))
            });
        }
    };
    x.coarsen(factors, how, CoarsenBoundary::Pad)
}

fn half(shape: &[u64], factors: &[u64]) -> Vec<u64> {
    shape
        .iter()
        .zip(factors)
        .map(|(&n, &f)| n.div_ceil(f))
        .collect()
}

fn zero_fill(dtype: crate::io::DType) -> crate::io::Scalar {
    match dtype.is_float() {
        true => crate::io::Scalar::Float(0.0),
        false => crate::io::Scalar::Int(0),
    }
}

/// The group's OME metadata: `multiscales` in the group's attributes
/// (NGFF 0.4, Zarr v2), or under `ome` (NGFF 0.5, Zarr v3).
fn write_multiscales(
    dst: &Path,
    axes: &[&str],
    factors: &[u64],
    shapes: &[Vec<u64>],
    options: &PyramidOptions,
) -> Result<()> {
    let axes_json: Vec<Value> = axes
        .iter()
        .map(|&a| {
            let kind = match a {
                "t" => "time",
                "c" => "channel",
                _ => "space",
            };
            json!({"name": a, "type": kind})
        })
        .collect();
    let datasets: Vec<Value> = (0..shapes.len())
        .map(|k| {
            let scale: Vec<f64> = factors.iter().map(|&f| (f as f64).powi(k as i32)).collect();
            json!({"path": k.to_string(), "coordinateTransformations": [{"type": "scale", "scale": scale}]})
        })
        .collect();
    let method = format!("{:?}", options.method).to_lowercase();
    let mut multiscale = json!({
        "name": options.name,
        "axes": axes_json,
        "datasets": datasets,
        "type": method,
        "metadata": {"method": format!("ndchunk {method}"), "version": env!("CARGO_PKG_VERSION")},
    });
    let mut attributes = Map::new();
    match options.format {
        ZarrFormat::V2 => {
            multiscale["version"] = json!("0.4");
            attributes.insert("multiscales".into(), json!([multiscale]));
        }
        ZarrFormat::V3 => {
            attributes.insert(
                "ome".into(),
                json!({"version": "0.5", "multiscales": [multiscale]}),
            );
        }
    }
    create_group(dst, "/", options.format, &attributes)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::{DType, MemoryStore, Scalar};

    /// The next level folded while a level is stored equals `coarsen` of
    /// it, when memory allows and no window crosses a chunk; otherwise the
    /// level is stored alone.
    #[test]
    fn next_level_is_folded_while_storing_where_it_can() {
        let values = ArrayD::from_shape_fn(IxDyn(&[15, 40, 39]), |ix| {
            (ix[0] * 70 + ix[1] * 7 + ix[2]) as u16 % 23
        });
        let level = Array::from_ndarray(values, [4, 8, 8]).unwrap();
        let options = ComputeOptions::new().progress(false);
        let store = |level: &Array<u16>| {
            let meta = ArrayMeta::new(level.grid().clone(), DType::UInt16, Scalar::UInt(0));
            MemoryStore::new("level", meta)
        };
        for how in [Downsample::Mean, Downsample::Max, Downsample::Mode] {
            let (next, bytes) = store_level(
                &level,
                &store(&level),
                &[2, 2, 2],
                Some(how),
                None,
                &options,
            )
            .unwrap()
            .expect("folded");
            let want = level.coarsen(&[2, 2, 2], how, CoarsenBoundary::Pad);
            assert_eq!(next.compute().unwrap(), want.compute().unwrap(), "{how:?}");
            assert_eq!(bytes, 8 * 20 * 20 * 2);
        }
        // A window across chunks of 3, or a next level over a quarter of
        // `max_mem`: not folded.
        let odd = level.rechunk(vec![3, 8, 8]);
        let folded = store_level(
            &odd,
            &store(&odd),
            &[2, 2, 2],
            Some(Downsample::Mean),
            None,
            &options,
        );
        assert!(folded.unwrap().is_none());
        let tight = options.clone().max_mem(20_000).threads(1);
        let folded = store_level(
            &level,
            &store(&level),
            &[2, 2, 2],
            Some(Downsample::Mean),
            None,
            &tight,
        );
        assert!(folded.unwrap().is_none());
    }
}
