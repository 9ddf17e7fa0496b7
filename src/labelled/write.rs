//! `Dataset::to_zarr`: a new Zarr store that `xarray.open_zarr` reads
//! back as the same dataset: every variable with its dimension names
//! (`dimension_names` in v3, `_ARRAY_DIMENSIONS` in v2), attributes,
//! `coordinates` naming its non-index coordinates, float fill values of
//! NaN as xarray writes them, times encoded by their `units` and
//! `calendar`, and consolidated metadata. Data variables are written in
//! one run of the engine.

use serde_json::Value;
use std::ops::Range;

use super::dataset::Dataset;
use super::encode::{encode_times, pack, time_attributes, time_fill_attribute};
use super::values::Values;
use super::Attrs;
use crate::array::{
    save_publishing, store_many, store_many_plan, DynArray, PlanFile, Publish, SavedOutput,
};
use crate::error::{Error, Result};
use crate::exec::run::{ComputeOptions, ComputeReport};
use crate::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat, ZarrRoot};
use crate::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
use std::path::Path;

/// How [`Dataset::to_zarr_with`] writes: the Zarr format (v3 by default,
/// as xarray with zarr-python 3), the codec (zstd level 3 by default),
/// and the engine's options for the run.
#[derive(Debug, Clone)]
pub struct ZarrWriteOptions {
    pub(crate) format: ZarrFormat,
    pub(crate) codec: ZarrCodec,
    pub(crate) compute: ComputeOptions,
    pub(crate) mode: Mode,
}

/// Where the data goes: a new store, the end of an existing one along a
/// dimension, or a region of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mode {
    Create,
    Append(String),
    Region(Vec<(String, Range<u64>)>),
}

impl Default for ZarrWriteOptions {
    fn default() -> Self {
        ZarrWriteOptions {
            format: ZarrFormat::V3,
            codec: ZarrCodec::Zstd(3),
            compute: ComputeOptions::new().progress(false),
            mode: Mode::Create,
        }
    }
}

impl ZarrWriteOptions {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }

    /// Zarr v2 or v3.
    pub fn format(mut self, format: ZarrFormat) -> Self {
        self.format = format;
        self
    }

    /// The compressor of every array.
    pub fn codec(mut self, codec: ZarrCodec) -> Self {
        self.codec = codec;
        self
    }

    /// The engine's options (memory budget, threads, progress).
    pub fn compute(mut self, options: ComputeOptions) -> Self {
        self.compute = options;
        self
    }

    /// Append to an existing store along `dim` (xarray's `mode="a",
    /// append_dim=dim`): each variable with that dimension grows by the
    /// dataset's length along it, written in the store's dtype and
    /// encoding (times in its units and calendar, packing by its
    /// `scale_factor`/`add_offset`); variables without it are left as
    /// stored (their coordinates must be the store's). The dataset must
    /// bring every stored array along `dim`; times must be whole in the
    /// stored units. A data variable's length along `dim` in the store must
    /// end on a chunk boundary, so that no written chunk is rewritten;
    /// coordinates (small, in memory) are rewritten whole. All is checked
    /// before anything changes, and a run that fails puts the arrays'
    /// shapes back.
    pub fn append(mut self, dim: &str) -> Self {
        self.mode = Mode::Append(dim.to_string());
        self
    }

    /// Write into `range` of `dim` of an existing store (xarray's
    /// `region=`; call again for more dimensions): each data variable with
    /// one of the region's dimensions is written there, in the store's
    /// dtype and encoding; the others are left as stored, and coordinates
    /// must equal the store's there. The region must fall on chunk
    /// boundaries (or end at the array's end).
    pub fn region(mut self, dim: &str, range: Range<u64>) -> Self {
        match &mut self.mode {
            Mode::Region(dims) => dims.push((dim.to_string(), range)),
            mode => *mode = Mode::Region(vec![(dim.to_string(), range)]),
        }
        self
    }
}

impl Dataset {
    /// Writes the dataset as a new Zarr store at `path` (which must not
    /// exist: nothing is overwritten), with the default
    /// [`ZarrWriteOptions`]. `path` is a directory or an
    /// `s3://bucket/store.zarr` URL (see [`ZarrRoot`] for credentials).
    pub fn to_zarr(&self, path: impl AsRef<Path>) -> Result<ComputeReport> {
        self.to_zarr_with(path, &ZarrWriteOptions::default())
    }

    /// [`Dataset::to_zarr`] with `options`. Each array is chunked as its
    /// data is (an irregular chunking becomes the regular one of its first
    /// chunks, which Zarr needs). The arrays are written first, then the
    /// group's document and consolidated metadata: until the run is
    /// complete, `path` is no Zarr group, and xarray does not open it.
    pub fn to_zarr_with(
        &self,
        path: impl AsRef<Path>,
        options: &ZarrWriteOptions,
    ) -> Result<ComputeReport> {
        let root = &ZarrRoot::parse(path)?;
        if options.mode != Mode::Create {
            return self.write_into(root, options);
        }
        let new = self.new_store(root, options, "to_zarr")?;
        let arrays = new.create(root)?;
        let report = store_many(&pairs(&arrays), &options.compute)?;
        new.publish.write()?;
        Ok(report)
    }

    /// Plans [`Dataset::to_zarr_with`] at `path` and writes the plan to
    /// `plan_path` as a [`PlanFile`], which any process loads and runs,
    /// whole or as shards
    /// ([`ComputeOptions::shard`](crate::ComputeOptions::shard), then
    /// [`finish_shards`](crate::ComputeOptions::finish_shards)), writing
    /// what `to_zarr_with` writes here. Its stages run as shards, each
    /// after the one before (see [`PlanFile`]), or whole in any one
    /// process.
    ///
    /// A new store: saving creates its arrays and writes the coordinates
    /// (small, in memory) at once; the plan holds the data variables. The
    /// run that completes the plan (a whole [`PlanFile::run`], or the one
    /// with `finish_shards`) writes the group's document and consolidated
    /// metadata last: until then `path` is no Zarr group, so xarray does
    /// not open it.
    ///
    /// An append ([`ZarrWriteOptions::append`]): saving makes every check
    /// `to_zarr_with` makes and writes nothing into the store; the plan
    /// writes the grown coordinates (held in the file by their values) and
    /// the data variables' new chunks past the arrays' stored end, where
    /// no reader sees them. The run that
    /// completes the plan sets the arrays' new shapes, then rewrites the
    /// consolidated metadata: until then the store reads as before. An
    /// append is made once: once the arrays' shapes have changed (by this
    /// plan's finished run, or by someone else), the plan is refused
    /// when loaded. A region write ([`ZarrWriteOptions::region`]): the
    /// plan writes the data variables' chunks in the region, and its
    /// completing run rewrites the consolidated metadata.
    ///
    /// Refused, before anything is written, when a data variable reads
    /// something only this process can make (see [`PlanFile`]: a Rust
    /// closure, data in memory), naming the operation, or when
    /// `to_zarr_with` would refuse the write.
    ///
    /// ```
    /// # fn main() -> ndchunk::Result<()> {
    /// use ndchunk::{open_zarr, Array, ComputeOptions, DataArray, Dataset, PlanFile, ZarrWriteOptions};
    /// let dir = tempfile::tempdir().unwrap();
    /// // `n` days of `value` in chunks of two days.
    /// let days = |n: u64, value: f32| -> ndchunk::Result<Dataset> {
    ///     let t = DataArray::new(Array::full(&[n, 3], value, [2, 3])?, &["time", "x"])?;
    ///     Dataset::new().with_var("t", t)
    /// };
    /// let store = dir.path().join("t.zarr");
    /// days(4, 1.0)?.to_zarr(&store)?;
    /// let append = ZarrWriteOptions::new().append("time");
    /// days(2, 2.0)?.save_plan(&store, &append, dir.path().join("plan.json"))?;
    /// // Saved, not run: the store reads as before.
    /// assert_eq!(open_zarr(&store)?.get("t")?.shape(), [4, 3]);
    /// // Any process (here, this one) runs it; the run that completes it
    /// // makes the append visible.
    /// PlanFile::load(dir.path().join("plan.json"))?.run(&ComputeOptions::new().progress(false))?;
    /// let t = open_zarr(&store)?.get("t")?.values::<f32>()?;
    /// assert_eq!((t.shape(), t[[5, 2]]), (&[6, 3][..], 2.0));
    /// # Ok(())
    /// # }
    /// ```
    pub fn save_plan(
        &self,
        path: impl AsRef<Path>,
        options: &ZarrWriteOptions,
        plan_path: impl AsRef<Path>,
    ) -> Result<PlanFile> {
        let root = &ZarrRoot::parse(path)?;
        let folder = plan_path
            .as_ref()
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
        if folder.is_some_and(|folder| !folder.is_dir()) {
            return Err(Error::Invalid {
                operation: "save_plan".into(),
                message: format!(
                    "{}: no such folder for the plan file",
                    plan_path.as_ref().display()
                ),
            });
        }
        if self.data_vars.is_empty() {
            return Err(Error::Invalid {
                operation: "save_plan".into(),
                message: "the dataset has no data variables: nothing to plan".into(),
            });
        }
        if options.mode != Mode::Create {
            return self.save_plan_into(root, options, plan_path.as_ref());
        }
        let new = self.new_store(root, options, "save_plan")?;
        let data_vars = || new.arrays.iter().filter(|a| !a.is_coord);
        let planned: Vec<&DynArray> = data_vars().map(|a| &a.data).collect();
        crate::array::check_recipes(&planned)?;
        let metas: Vec<(&DynArray, &ArrayMeta)> =
            data_vars().map(|a| (&a.data, &a.spec.meta)).collect();
        store_many_plan(&metas, &options.compute)?.check()?;
        let arrays = new.create(root)?;
        let (coords, data): (Vec<_>, Vec<_>) = arrays.iter().partition(|(_, _, coord)| *coord);
        store_many(&pairs(&coords), &here_only(options))?;
        let mut publish = new.publish;
        publish.root = absolute(root)?;
        let outputs: Vec<SavedOutput> = pairs(&data)
            .into_iter()
            .map(|(a, s)| (a, s, None))
            .collect();
        save_publishing(
            &outputs,
            &options.compute,
            plan_path.as_ref(),
            Some(publish),
        )
    }

    /// Every array of a new store at `root`, with its data and metadata,
    /// and the group to publish: what cannot be written (text, an empty
    /// time axis, a store already there) is refused before anything is
    /// created.
    fn new_store(
        &self,
        root: &ZarrRoot,
        options: &ZarrWriteOptions,
        operation: &str,
    ) -> Result<NewStore> {
        if root.exists()? {
            return Err(Error::Invalid {
                operation: operation.into(),
                message: format!(
                    "{root} already exists: {operation} writes a new store and overwrites nothing"
                ),
            });
        }
        let mut arrays = Vec::new();
        for (name, coord) in &self.coords {
            let mut attrs = coord.attrs.clone();
            let data = match &coord.values {
                Values::Time(dates) => {
                    let (numbers, units, calendar) = encode_times(name, dates, &coord.encoding)?;
                    attrs.insert("units".into(), Value::String(units));
                    attrs.insert("calendar".into(), Value::String(calendar));
                    if let Some(fill) = time_fill_attribute(&numbers, &coord.encoding) {
                        attrs.insert("_FillValue".into(), fill);
                    }
                    numbers
                }
                values => values.to_dyn_array(name)?,
            };
            let spec = spec(&data, &coord.dims, attrs, options)?;
            arrays.push(NewArray {
                name: name.clone(),
                data,
                spec,
                is_coord: true,
            });
        }
        for (name, var) in &self.data_vars {
            let mut attrs = var.attrs.clone();
            let non_index: Vec<&str> = self
                .coords
                .iter()
                .filter(|(c, coord)| {
                    !(coord.dims.len() == 1 && &coord.dims[0] == *c)
                        && coord.dims.iter().all(|d| var.dims.contains(d))
                })
                .map(|(c, _)| c.as_str())
                .collect();
            if !non_index.is_empty() {
                attrs.insert("coordinates".into(), Value::String(non_index.join(" ")));
            }
            let data = pack(&var.data, &var.encoding, &mut attrs)?;
            if let Some(time) = &var.time {
                time_attributes(time, &var.encoding, &mut attrs);
            }
            let spec = spec(&data, &var.dims, attrs, options)?;
            arrays.push(NewArray {
                name: name.clone(),
                data,
                spec,
                is_coord: false,
            });
        }
        let publish = Publish {
            root: root.to_string(),
            zarr_format: match options.format {
                ZarrFormat::V2 => 2,
                ZarrFormat::V3 => 3,
            },
            attributes: Some(self.attrs.clone()),
            grow: Vec::new(),
        };
        Ok(NewStore { arrays, publish })
    }
}

/// A new store's arrays, not yet created, and its group.
struct NewStore {
    arrays: Vec<NewArray>,
    publish: Publish,
}

/// One array of a new store.
struct NewArray {
    name: String,
    data: DynArray,
    spec: ZarrArraySpec,
    is_coord: bool,
}

impl NewStore {
    /// Creates every array (no group document yet): each with its data
    /// and whether it is a coordinate.
    fn create(&self, root: &ZarrRoot) -> Result<Vec<(DynArray, ZarrStore, bool)>> {
        self.arrays
            .iter()
            .map(|a| {
                let store = ZarrStore::create(root.clone(), &a.name, &a.spec)?;
                Ok((a.data.clone(), store, a.is_coord))
            })
            .collect()
    }
}

/// `options`' engine options for a write of this process alone (a saved
/// plan's coordinates): not in the journal or as a shard of the plan the
/// options may name.
fn here_only(options: &ZarrWriteOptions) -> ComputeOptions {
    let mut here = options.compute.clone();
    (here.journal_dir, here.shard, here.finish_shards) = (None, None, false);
    here
}

/// The store's root as other processes reach it: a directory by its
/// absolute path.
pub(super) fn absolute(root: &ZarrRoot) -> Result<String> {
    let text = root.to_string();
    if text.contains("://") {
        return Ok(text);
    }
    let dir = std::fs::canonicalize(&text).map_err(|e| Error::Job {
        path: text.clone(),
        message: e.to_string(),
    })?;
    Ok(dir.display().to_string())
}

/// Arrays and their stores, as `store_many` takes them.
fn pairs<A: std::borrow::Borrow<(DynArray, ZarrStore, bool)>>(
    arrays: &[A],
) -> Vec<(&DynArray, &dyn ChunkStore)> {
    arrays
        .iter()
        .map(|a| {
            let (data, store, _) = a.borrow();
            (data, store as &dyn ChunkStore)
        })
        .collect()
}

/// The Zarr array `data` along `dims` is written as.
fn spec(
    data: &DynArray,
    dims: &[String],
    mut attrs: Attrs,
    options: &ZarrWriteOptions,
) -> Result<ZarrArraySpec> {
    let dtype = data.dtype();
    let grid = regular(data)?;
    // Floats are filled (and masked) with NaN, as xarray writes them;
    // packed integers with their `_FillValue`.
    let packed_fill = attrs.get("_FillValue").and_then(Value::as_f64);
    let fill = match packed_fill {
        _ if dtype.is_float() => {
            attrs.insert("_FillValue".into(), Value::String("NaN".into()));
            Scalar::Float(f64::NAN)
        }
        Some(fill) => Scalar::Int(fill as i64),
        None => match dtype {
            DType::Bool => Scalar::Bool(false),
            _ => Scalar::Int(0),
        },
    };
    let mut meta = ArrayMeta::new(grid, dtype, fill);
    meta.dimension_names = Some(dims.iter().cloned().map(Some).collect());
    meta.attributes = attrs;
    let mut spec = ZarrArraySpec::new(meta, options.format, options.codec.clone());
    // An integer array without a fill value masks nothing when read back.
    spec.v2_null_fill = !dtype.is_float() && packed_fill.is_none();
    Ok(spec)
}

/// The data's chunking if regular, else the regular one of its first
/// chunks.
fn regular(data: &DynArray) -> Result<crate::chunking::ChunkGrid> {
    let shape = data.shape();
    let chunks: Vec<u64> = data
        .grid()
        .chunk_shape()
        .iter()
        .map(|&c| c.max(1))
        .collect();
    crate::chunking::ChunkGrid::regular(&shape, &chunks).map_err(|e| Error::Invalid {
        operation: "to_zarr".into(),
        message: e.to_string(),
    })
}
