//! `to_zarr_with` into an existing store: an append along a dimension or
//! a region write, checked whole before anything changes (`parts_into`
//! says what goes where), then run here (`write_into`) or saved as a plan
//! file (`save_plan_into`, every variable a part of its array, nothing
//! written until a process runs it).

use std::sync::Arc;

use serde_json::Value;

use super::dataset::Dataset;
use super::encode::{encode_times, pack};
use super::values::Values;
use super::variable::TimeEncoding;
use super::write::{absolute, Mode, ZarrWriteOptions};
use super::Attrs;
use crate::array::kernel::Kernel;
use crate::array::region_store::{check_region, RegionStore};
use crate::array::{
    save_publishing, store_many, DynArray, Growth, Part, PlanFile, Publish, SavedOutput,
};
use crate::error::{Error, Result};
use crate::exec::run::ComputeReport;
use crate::io::zarr::{write_consolidated, ZarrFormat, ZarrRoot};
use crate::io::{ArrayMeta, ChunkStore, DType, ZarrStore};
use std::path::Path;

impl Dataset {
    /// [`save_plan`](Self::save_plan) of an append or a region write into
    /// the store at `root`: every check `to_zarr_with` makes, then every
    /// variable written (an append's coordinates whole, the data variables
    /// in their part) planned as a part of its array, by its values where
    /// it is in memory. Nothing is written into the store when saving; the
    /// run that completes the plan grows an append's arrays and rewrites
    /// the consolidated metadata, so the store reads as before until then.
    pub(super) fn save_plan_into(
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
    pub(super) fn write_into(
        &self,
        root: &ZarrRoot,
        options: &ZarrWriteOptions,
    ) -> Result<ComputeReport> {
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
