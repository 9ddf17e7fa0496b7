//! `Dataset::to_zarr`: a new Zarr store that `xarray.open_zarr` reads
//! back as the same dataset: every variable with its dimension names
//! (`dimension_names` in v3, `_ARRAY_DIMENSIONS` in v2), attributes,
//! `coordinates` naming its non-index coordinates, float fill values of
//! NaN as xarray writes them, times encoded by their `units` and
//! `calendar`, and consolidated metadata. Data variables are written in
//! one run of the engine.

use std::path::Path;

use serde_json::Value;

use super::cf_time::{CfDatetime, TimeUnits};
use super::dataset::Dataset;
use super::values::Values;
use super::Attrs;
use crate::array::{store_many, Array, DynArray};
use crate::error::{Error, Result};
use crate::exec::run::{ComputeOptions, ComputeReport};
use crate::io::zarr::{create_group, write_consolidated, ZarrArraySpec, ZarrCodec, ZarrFormat};
use crate::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};

/// How [`Dataset::to_zarr_with`] writes: the Zarr format (v3 by default,
/// as xarray with zarr-python 3), the codec (zstd level 3 by default),
/// and the engine's options for the run.
#[derive(Debug, Clone)]
pub struct ZarrWriteOptions {
    pub(crate) format: ZarrFormat,
    pub(crate) codec: ZarrCodec,
    pub(crate) compute: ComputeOptions,
}

impl Default for ZarrWriteOptions {
    fn default() -> Self {
        ZarrWriteOptions {
            format: ZarrFormat::V3,
            codec: ZarrCodec::Zstd(3),
            compute: ComputeOptions::new().progress(false),
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
}

impl Dataset {
    /// Writes the dataset as a new Zarr store at `path` (which must not
    /// exist: nothing is overwritten), with the default
    /// [`ZarrWriteOptions`].
    pub fn to_zarr(&self, path: impl AsRef<Path>) -> Result<ComputeReport> {
        self.to_zarr_with(path, &ZarrWriteOptions::default())
    }

    /// [`Dataset::to_zarr`] with `options`. Each array is chunked as its
    /// data is (an irregular chunking becomes the regular one of its first
    /// chunks, which Zarr needs).
    pub fn to_zarr_with(
        &self,
        path: impl AsRef<Path>,
        options: &ZarrWriteOptions,
    ) -> Result<ComputeReport> {
        let root = path.as_ref();
        if root.exists() {
            return Err(Error::Invalid {
                operation: "to_zarr".into(),
                message: format!(
                    "{} already exists: to_zarr writes a new store and overwrites nothing",
                    root.display()
                ),
            });
        }
        let format = options.format;
        create_group(root, "", format, &self.attrs)?;
        let mut arrays: Vec<(DynArray, ZarrStore)> = Vec::new();
        for (name, coord) in &self.coords {
            let mut attrs = coord.attrs.clone();
            let data = match &coord.values {
                Values::Time(dates) => {
                    let (numbers, units, calendar) = encode_times(name, dates, &coord.encoding)?;
                    attrs.insert("units".into(), Value::String(units));
                    attrs.insert("calendar".into(), Value::String(calendar));
                    numbers
                }
                values => values.to_dyn_array(name)?,
            };
            let store = create(root, name, &data, &coord.dims, attrs, options)?;
            arrays.push((data, store));
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
            let store = create(root, name, &data, &var.dims, attrs, options)?;
            arrays.push((data, store));
        }
        let pairs: Vec<(&DynArray, &dyn ChunkStore)> = arrays
            .iter()
            .map(|(data, store)| (data, store as &dyn ChunkStore))
            .collect();
        let report = store_many(&pairs, &options.compute)?;
        write_consolidated(root, format)?;
        Ok(report)
    }
}

/// Creates the array `name` for `data` along `dims`.
fn create(
    root: &Path,
    name: &str,
    data: &DynArray,
    dims: &[String],
    mut attrs: Attrs,
    options: &ZarrWriteOptions,
) -> Result<ZarrStore> {
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
    Ok(ZarrStore::create(root, name, &spec)?)
}

/// The data packed as its encoding says, as xarray's CF encoding: a
/// float variable whose encoding has an integer `dtype` with
/// `scale_factor`/`add_offset`/`_FillValue` is stored as
/// `round((x - add_offset) / scale_factor)`, NaN as the fill value, and
/// those attributes written back. Anything else is stored as it is.
fn pack(data: &DynArray, encoding: &Attrs, attrs: &mut Attrs) -> Result<DynArray> {
    let target = encoding
        .get("dtype")
        .and_then(Value::as_str)
        .and_then(|d| d.parse::<DType>().ok());
    let number = |key: &str| encoding.get(key).and_then(Value::as_f64);
    let (scale, offset) = (number("scale_factor"), number("add_offset"));
    let fill = number("_FillValue").or_else(|| number("missing_value"));
    let Some(target) = target else {
        return Ok(data.clone());
    };
    let packable = data.dtype().is_float()
        && !target.is_float()
        && target != DType::Bool
        && !encoding.contains_key("_Unsigned")
        && (scale.is_some() || offset.is_some() || fill.is_some());
    if !packable {
        return Ok(data.clone());
    }
    for key in ["scale_factor", "add_offset", "_FillValue", "missing_value"] {
        if let Some(v) = encoding.get(key) {
            attrs.insert(key.into(), v.clone());
        }
    }
    let (scale, offset) = (scale.unwrap_or(1.0), offset.unwrap_or(0.0));
    let missing = fill.unwrap_or(0.0);
    let packed = data.as_f64().map("cf_encode", move |x| {
        if x.is_nan() {
            missing
        } else {
            ((x - offset) / scale).round_ties_even()
        }
    });
    Ok(crate::with_dtype!(target, T => DynArray::from(DynArray::from(packed).astype::<T>())))
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

/// Dates as numbers in their encoding's `units` (or, as xarray infers
/// them, the coarsest of days, hours, minutes, seconds and microseconds
/// that counts every date whole, since the first date), with the calendar's
/// name.
fn encode_times(
    name: &str,
    dates: &ndarray::ArrayD<CfDatetime>,
    encoding: &Attrs,
) -> Result<(DynArray, String, String)> {
    let Some(first) = dates.iter().next() else {
        return Err(Error::Invalid {
            operation: format!("to_zarr of {name:?}"),
            message: "an empty time coordinate has no calendar to write".into(),
        });
    };
    let calendar = first.calendar;
    let units_text = match encoding.get("units").and_then(Value::as_str) {
        Some(units) => units.to_string(),
        None => infer_units(dates, first),
    };
    let units: TimeUnits = units_text.parse()?;
    let numbers = dates
        .iter()
        .map(|d| units.encode(d))
        .collect::<Result<Vec<f64>>>()?;
    let whole = numbers.iter().all(|v| v.fract() == 0.0 && v.abs() < 9e15);
    let shape: Vec<u64> = dates.shape().iter().map(|&s| s as u64).collect();
    let chunks: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    let as_array =
        ndarray::ArrayD::from_shape_vec(dates.raw_dim(), numbers).map_err(|e| Error::Internal {
            operation: "encode_times".into(),
            message: e.to_string(),
        })?;
    let data: DynArray = if whole {
        Array::from_ndarray(as_array.mapv(|v| v as i64), chunks)?.into()
    } else {
        Array::from_ndarray(as_array, chunks)?.into()
    };
    Ok((data, units_text, calendar.name().to_string()))
}

fn infer_units(dates: &ndarray::ArrayD<CfDatetime>, first: &CfDatetime) -> String {
    const UNITS: [(&str, f64); 5] = [
        ("days", 86_400.0),
        ("hours", 3_600.0),
        ("minutes", 60.0),
        ("seconds", 1.0),
        ("microseconds", 1e-6),
    ];
    let unit = UNITS
        .iter()
        .find(|(_, seconds)| {
            dates.iter().all(|d| {
                d.seconds_between(first)
                    .is_some_and(|s| (s / seconds).fract() == 0.0)
            })
        })
        .map_or("microseconds", |(u, _)| u);
    let reference = first;
    format!(
        "{unit} since {:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        reference.year,
        reference.month,
        reference.day,
        reference.hour,
        reference.minute,
        reference.second,
        reference.microsecond
    )
}
