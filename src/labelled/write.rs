//! `Dataset::to_zarr`: a new Zarr store that `xarray.open_zarr` reads
//! back as the same dataset: every variable with its dimension names
//! (`dimension_names` in v3, `_ARRAY_DIMENSIONS` in v2), attributes,
//! `coordinates` naming its non-index coordinates, float fill values of
//! NaN as xarray writes them, times encoded by their `units` and
//! `calendar`, and consolidated metadata. Data variables are written in
//! one run of the engine.

use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use super::dataset::Dataset;
use super::encode::{encode_times, pack, time_attributes, time_fill_attribute};
use super::values::Values;
use super::variable::TimeEncoding;
use super::Attrs;
use crate::array::kernel::Kernel;
use crate::array::region_store::{check_region, RegionStore};
use crate::array::{
    save_publishing, store_many, store_many_plan, DynArray, Growth, Part, PlanFile, Publish,
    SavedOutput,
};
use crate::error::{Error, Result};
use crate::exec::run::{ComputeOptions, ComputeReport};
use crate::io::zarr::{write_consolidated, ZarrArraySpec, ZarrCodec, ZarrFormat, ZarrRoot};
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

    /// [`save_plan`](Self::save_plan) of an append or a region write into
    /// the store at `root`: every check `to_zarr_with` makes, then every
    /// variable written (an append's coordinates whole, the data variables
    /// in their part) planned as a part of its array, by its values where
    /// it is in memory. Nothing is written into the store when saving; the
    /// run that completes the plan grows an append's arrays and rewrites
    /// the consolidated metadata, so the store reads as before until then.
    fn save_plan_into(
        &self,
        root: &ZarrRoot,
        options: &ZarrWriteOptions,
        plan_path: &Path,
    ) -> Result<PlanFile> {
        let mut grow = Vec::new();
        let mut parts = Vec::new();
        for planned in self.parts_into(root, options)? {
            let stored_shape = ZarrStore::open(root, &planned.name)?.meta().shape();
            let array = match &planned.grow_to {
                Some(shape) => {
                    grow.push(Growth {
                        array: planned.name.clone(),
                        from: stored_shape.clone(),
                        to: shape.clone(),
                    });
                    ZarrStore::open_with_shape(root, &planned.name, shape)?
                }
                None => ZarrStore::open(root, &planned.name)?,
            };
            let array_shape = array.meta().shape();
            let region = RegionStore::new(array, &planned.start, &planned.data.shape())?;
            let part = Part {
                start: planned.start,
                array_shape,
                stored_shape,
            };
            parts.push((planned.data, region, part));
        }
        if parts.is_empty() {
            return Err(Error::Invalid {
                operation: "save_plan".into(),
                message: format!("no variable of the dataset is written into {root}"),
            });
        }
        let planned: Vec<&DynArray> = parts.iter().map(|(d, _, _)| d).collect();
        crate::array::check_recipes(&planned)?;
        let outputs: Vec<SavedOutput> = parts
            .iter()
            .map(|(d, region, part)| {
                let part = Some((region.array(), part.clone()));
                (d, region as &dyn ChunkStore, part)
            })
            .collect();
        let publish = Publish {
            root: absolute(root)?,
            zarr_format: if root.contains("zarr.json") { 3 } else { 2 },
            attributes: None,
            grow,
        };
        save_publishing(&outputs, &options.compute, plan_path, Some(publish))
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
fn absolute(root: &ZarrRoot) -> Result<String> {
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

impl Dataset {
    /// What writing into the existing store at `root` (as `options.mode`
    /// says) writes where: every check made, nothing changed.
    fn parts_into(&self, root: &ZarrRoot, options: &ZarrWriteOptions) -> Result<Vec<Planned>> {
        let fails = |message: String| Error::Invalid {
            operation: format!("to_zarr into {root}"),
            message,
        };
        if !root.exists()? {
            return Err(fails(
                "there is no store here: appending and region writes go into an existing one"
                    .into(),
            ));
        }
        let touches = |dims: &[String]| match &options.mode {
            Mode::Append(dim) => dims.contains(dim),
            Mode::Region(region) => region.iter().any(|(d, _)| dims.contains(d)),
            Mode::Create => false,
        };
        // Everything is checked before anything is changed: a refused
        // write leaves the store as it was.
        if let Mode::Append(dim) = &options.mode {
            self.check_append(root, dim)?;
        }
        for (name, var) in &self.data_vars {
            if let (Some(time), true) = (&var.time, touches(&var.dims)) {
                check_stored_time(root, name, time)?;
            }
        }
        let mut planned: Vec<Planned> = Vec::new();
        let mut write = |name: &str, dims: &[String], data: Item<'_>| -> Result<()> {
            if !touches(dims) {
                return Ok(());
            }
            let store = ZarrStore::open(root, name)
                .map_err(|e| fails(format!("variable {name:?} is not in the store ({e})")))?;
            let stored_dims = store.meta().dims_or_default();
            if stored_dims != dims {
                return Err(fails(format!(
                    "variable {name:?} has dimensions ({}) there and ({}) here",
                    stored_dims.join(", "),
                    dims.join(", ")
                )));
            }
            let is_coord = matches!(data, Item::Coord(_));
            let data = in_stored_form(name, data, store.meta())?;
            let start = match &options.mode {
                // A coordinate (in memory, small) is rewritten whole, the
                // stored values then the new: its last chunk may be partial.
                Mode::Append(dim) if is_coord => {
                    let axis = dims.iter().position(|d| d == dim).unwrap_or(0);
                    let old = Values::load(&DynArray::from_store(Arc::new(store))?)?;
                    let both = old
                        .concat(&Values::load(&data)?, axis)
                        .ok_or_else(|| fails(format!("{name:?} cannot be appended to")))?;
                    let data = both.to_dyn_array(name)?;
                    let shape = data.shape();
                    planned.push(Planned {
                        name: name.to_string(),
                        start: vec![0; shape.len()],
                        grow_to: Some(shape),
                        data,
                    });
                    return Ok(());
                }
                // A region leaves coordinates as stored: they must agree.
                Mode::Region(region) if is_coord => {
                    let mut old = Values::load(&DynArray::from_store(Arc::new(store))?)?;
                    for (dim, range) in region {
                        if let Some(axis) = dims.iter().position(|d| d == dim) {
                            let at: Vec<usize> = (range.start..range.end.max(range.start))
                                .map(|i| i as usize)
                                .filter(|&i| i < old.shape()[axis])
                                .collect();
                            old = old.select(axis, &at);
                        }
                    }
                    if old != Values::load(&data)? {
                        return Err(fails(format!(
                            "coordinate {name:?} differs from the store's in the region: a \
                             region write does not change coordinates"
                        )));
                    }
                    return Ok(());
                }
                mode => place(name, &store, dims, &data.shape(), mode)?,
            };
            let whole = start.1.clone().unwrap_or_else(|| store.meta().shape());
            check_region(
                &store.location(),
                &whole,
                &store.meta().grid.chunk_shape(),
                &start.0,
                &data.shape(),
            )?;
            planned.push(Planned {
                name: name.to_string(),
                start: start.0,
                grow_to: start.1,
                data,
            });
            Ok(())
        };
        for (name, coord) in &self.coords {
            write(name, &coord.dims, Item::Coord(&coord.values))?;
        }
        for (name, var) in &self.data_vars {
            write(name, &var.dims, Item::Data(&var.data))?;
        }
        Ok(planned)
    }
}

impl Dataset {
    /// Writes into the existing store at `root`, as `options.mode` says.
    fn write_into(&self, root: &ZarrRoot, options: &ZarrWriteOptions) -> Result<ComputeReport> {
        let planned = self.parts_into(root, options)?;
        // Arrays grown for an append go back to their shapes if the run
        // fails, so that the store reads as before (the chunks written past
        // the old end are then outside every array).
        let mut grown: Vec<(String, Vec<u64>)> = Vec::new();
        let shrink = |grown: &[(String, Vec<u64>)]| {
            for (name, shape) in grown {
                let _ = ZarrStore::resize(root, name, shape);
            }
        };
        let mut parts: Vec<(DynArray, RegionStore)> = Vec::new();
        for p in planned {
            let store = match &p.grow_to {
                Some(shape) => {
                    let before = ZarrStore::open(root, &p.name)?.meta().shape();
                    let store = ZarrStore::resize(root, &p.name, shape);
                    grown.push((p.name.clone(), before));
                    store
                }
                None => ZarrStore::open(root, &p.name),
            };
            let shape = p.data.shape();
            match store
                .map_err(Error::from)
                .and_then(|s| RegionStore::new(s, &p.start, &shape))
            {
                Ok(store) => parts.push((p.data, store)),
                Err(e) => {
                    shrink(&grown);
                    return Err(e);
                }
            }
        }
        let pairs: Vec<(&DynArray, &dyn ChunkStore)> = parts
            .iter()
            .map(|(data, store)| (data, store as &dyn ChunkStore))
            .collect();
        let report = match store_many(&pairs, &options.compute) {
            Ok(report) => report,
            Err(e) => {
                shrink(&grown);
                return Err(e);
            }
        };
        let format = if root.contains("zarr.json") {
            ZarrFormat::V3
        } else {
            ZarrFormat::V2
        };
        write_consolidated(root, format)?;
        Ok(report)
    }
}

impl Dataset {
    /// An append along `dim` must bring every stored array that has `dim`
    /// (else the store's arrays would disagree on its length), and its
    /// coordinates without `dim` must be the store's.
    fn check_append(&self, root: &ZarrRoot, dim: &str) -> Result<()> {
        let fails = |message: String| Error::Invalid {
            operation: format!("appending to {root} along {dim:?}"),
            message,
        };
        let tree = crate::io::zarr::list_tree(root)?;
        for node in &tree.nodes {
            let name = node.path.trim_start_matches('/');
            let crate::io::zarr::ZarrNodeKind::Array(Ok(store)) = &node.kind else {
                continue;
            };
            let meta = store.meta();
            if name.contains('/') || !meta.dims_or_default().iter().any(|d| d == dim) {
                continue;
            }
            if !self.data_vars.contains_key(name) && !self.coords.contains_key(name) {
                return Err(fails(format!(
                    "the store's {name:?} has {dim:?} and the dataset does not bring it"
                )));
            }
        }
        let stored = super::open::open_zarr_at(root, &super::open::OpenOptions::new())?;
        for (name, coord) in &self.coords {
            if coord.dims.iter().any(|d| d == dim) {
                continue;
            }
            if let Some(theirs) = stored.coords.get(name) {
                if theirs.values != coord.values {
                    return Err(fails(format!(
                        "coordinate {name:?} differs from the store's: appending does not change it"
                    )));
                }
            }
        }
        Ok(())
    }
}

/// A time variable goes into a stored array only with the same units and
/// calendar (its numbers are written as they are).
fn check_stored_time(root: &ZarrRoot, name: &str, time: &TimeEncoding) -> Result<()> {
    let Ok(store) = ZarrStore::open(root, name) else {
        // The write reports a missing array.
        return Ok(());
    };
    let attrs = &store.meta().attributes;
    let units = attrs.get("units").and_then(Value::as_str);
    let calendar = attrs
        .get("calendar")
        .and_then(Value::as_str)
        .map_or(Ok(crate::labelled::Calendar::Standard), str::parse);
    if units != Some(time.units.to_string().as_str()) || calendar.ok() != Some(time.calendar) {
        return Err(Error::Invalid {
            operation: format!("to_zarr of {name:?} into {root}"),
            message: format!(
                "its times are in {}, the store's in {}, {}",
                time.describe(),
                units.unwrap_or("no units"),
                attrs
                    .get("calendar")
                    .and_then(Value::as_str)
                    .unwrap_or("standard")
            ),
        });
    }
    Ok(())
}

/// What is written for one variable.
enum Item<'a> {
    Coord(&'a Values),
    Data(&'a DynArray),
}

/// The data in the stored array's form: its dtype, packing and time
/// encoding.
fn in_stored_form(name: &str, item: Item<'_>, meta: &ArrayMeta) -> Result<DynArray> {
    let mut encoding = meta.attributes.clone();
    encoding.insert("dtype".into(), Value::String(meta.dtype.name().into()));
    let data = match item {
        Item::Coord(Values::Time(dates)) => {
            let stored = meta.attributes.get("calendar").and_then(Value::as_str);
            let calendar = dates.iter().next().map(|d| d.calendar);
            if let (Some(stored), Some(calendar)) = (stored, calendar) {
                if stored.parse::<crate::labelled::Calendar>().ok() != Some(calendar) {
                    return Err(Error::Invalid {
                        operation: format!("to_zarr of {name:?}"),
                        message: format!(
                            "the store's times are in the {stored} calendar, these in {calendar}"
                        ),
                    });
                }
            }
            let mut numbers = encode_times(name, dates, &encoding)?.0;
            // Whole times mark NaT with int64's smallest, which a float
            // store holds as a (huge) number: there NaT is NaN, the float
            // fill.
            if meta.dtype.is_float() && numbers.dtype() == DType::Int64 {
                numbers = Kernel::NatAsNan.apply(&[&numbers]);
            }
            if numbers.dtype().is_float() && !meta.dtype.is_float() {
                return Err(Error::Invalid {
                    operation: format!("to_zarr of {name:?}"),
                    message: format!(
                        "these times are not whole in the store's units ({}), which it keeps as \
                         {} numbers",
                        meta.attributes
                            .get("units")
                            .and_then(Value::as_str)
                            .unwrap_or("none"),
                        meta.dtype
                    ),
                });
            }
            numbers
        }
        Item::Coord(values) => values.to_dyn_array(name)?,
        Item::Data(data) => pack(data, &encoding, &mut Attrs::new())?,
    };
    if data.dtype() == meta.dtype {
        return Ok(data);
    }
    // Floats into integers round (half to even), as xarray's encoding.
    let data = if data.dtype().is_float() && !meta.dtype.is_float() {
        Kernel::RoundHalfEven.apply(&[&data])
    } else {
        data
    };
    Ok(crate::with_dtype!(meta.dtype, T => DynArray::from(data.astype::<T>())))
}

/// One variable's write, checked: its data, where it starts in the
/// stored array, and the array's new shape when it grows.
struct Planned {
    name: String,
    data: DynArray,
    start: Vec<u64>,
    grow_to: Option<Vec<u64>>,
}

/// Where in `store` data of `shape` goes: at the end along the append
/// dimension (with the shape the array grows to), or at the region's
/// start.
fn place(
    name: &str,
    store: &ZarrStore,
    dims: &[String],
    shape: &[u64],
    mode: &Mode,
) -> Result<(Vec<u64>, Option<Vec<u64>>)> {
    let whole = store.meta().shape();
    let mut start = vec![0u64; dims.len()];
    let fails = |message: String| Error::Invalid {
        operation: format!("to_zarr of {name:?}"),
        message,
    };
    for (axis, dim) in dims.iter().enumerate() {
        if matches!(mode, Mode::Append(d) if d == dim) {
            continue;
        }
        let target = match mode {
            Mode::Region(region) => region.iter().find(|(d, _)| d == dim).map(|(_, r)| r),
            _ => None,
        };
        match target {
            Some(range) => {
                if range.end.saturating_sub(range.start) != shape[axis] {
                    return Err(fails(format!(
                        "the region {}..{} of {dim:?} holds {} values, and the data has {}",
                        range.start,
                        range.end,
                        range.end.saturating_sub(range.start),
                        shape[axis]
                    )));
                }
                start[axis] = range.start;
            }
            None if shape[axis] != whole[axis] => {
                return Err(fails(format!(
                    "{dim:?} has {} values in the store and {} here",
                    whole[axis], shape[axis]
                )))
            }
            None => {}
        }
    }
    if let Mode::Append(dim) = mode {
        let axis = dims.iter().position(|d| d == dim).unwrap_or(0);
        let chunk = store.meta().grid.chunk_shape()[axis].max(1);
        if !whole[axis].is_multiple_of(chunk) {
            return Err(fails(format!(
                "the store's {} values along {dim:?} end inside a chunk of {chunk}: appending \
                 would rewrite that chunk",
                whole[axis]
            )));
        }
        start[axis] = whole[axis];
        let mut grown = whole.clone();
        grown[axis] += shape[axis];
        return Ok((start, Some(grown)));
    }
    Ok((start, None))
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
