//! CF encoding, the other way from [`decode`](super::decode): how a
//! variable is stored so that xarray decodes it back as it was — floats
//! packed into their encoding's integers (`scale_factor`, `add_offset`,
//! `_FillValue`), dates as numbers in their `units` and `calendar`.

use serde_json::Value;

use super::cf_time::{CfDatetime, TimeUnits};
use super::variable::TimeEncoding;
use super::Attrs;
use crate::array::kernel::{Exact, Kernel};
use crate::array::{Array, DynArray};
use crate::error::{Error, Result};
use crate::io::DType;

/// The data packed as its encoding says, as xarray's CF encoding: a
/// float variable whose encoding has an integer `dtype` with
/// `scale_factor`/`add_offset`/`_FillValue` is stored as
/// `round((x - add_offset) / scale_factor)`, NaN as the fill value, and
/// those attributes written back. Anything else is stored as it is.
pub(super) fn pack(data: &DynArray, encoding: &Attrs, attrs: &mut Attrs) -> Result<DynArray> {
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
    let packed = Kernel::CfEncode {
        scale: Exact(scale),
        offset: Exact(offset),
        missing: Exact(missing),
    }
    .apply(&[data]);
    Ok(crate::with_dtype!(target, T => DynArray::from(packed.astype::<T>())))
}

/// The `units` and `calendar` a time variable is written with: those it
/// was stored with while its encoding says so (written back as they were),
/// else (a computed result) those its numbers count in.
pub(super) fn time_attributes(time: &TimeEncoding, encoding: &Attrs, attrs: &mut Attrs) {
    attrs.insert("units".into(), Value::String(time.units.to_string()));
    let calendar = match encoding.get("units") {
        Some(_) => encoding.get("calendar").cloned(),
        None => Some(Value::String(time.calendar.name().to_string())),
    };
    if let Some(calendar) = calendar {
        attrs.insert("calendar".into(), calendar);
    }
}

/// The number a time's encoding writes NaT as: its `_FillValue` (or
/// `missing_value`), as xarray writes it back.
fn time_fill(encoding: &Attrs) -> Option<f64> {
    ["_FillValue", "missing_value"]
        .iter()
        .find_map(|key| encoding.get(*key).and_then(crate::io::attribute_number))
}

/// The `_FillValue` attribute of times encoded as `numbers`: the
/// encoding's, when they are integers and it is one (float times mark
/// NaT with NaN, the fill `create` gives every float array).
pub(super) fn time_fill_attribute(numbers: &DynArray, encoding: &Attrs) -> Option<Value> {
    let fill = time_fill(encoding)?;
    (!numbers.dtype().is_float() && whole_number(fill)).then(|| Value::from(fill as i64))
}

/// Whether `v` is a whole number an `i64` (and an `f64`) holds exactly.
fn whole_number(v: f64) -> bool {
    v.fract() == 0.0 && v.abs() < 9e15
}

/// Dates as numbers in their encoding's `units` (or, as xarray infers
/// them, the coarsest of days, hours, minutes, seconds and microseconds
/// that counts every date whole, since the first date), with the calendar's
/// name. The numbers are integers when every date is whole in the units,
/// NaT then the encoding's (whole) fill value, else (as numpy's NaT, which
/// xarray writes) int64's smallest; otherwise floats, NaT NaN: a float
/// array is written with NaN as its fill, so a finite fill number would
/// read back as a date.
pub(crate) fn encode_times(
    name: &str,
    dates: &ndarray::ArrayD<CfDatetime>,
    encoding: &Attrs,
) -> Result<(DynArray, String, String)> {
    let Some(calendar) = dates.iter().next().map(|d| d.calendar) else {
        return Err(Error::Invalid {
            operation: format!("to_zarr of {name:?}"),
            message: "an empty time coordinate has no calendar to write".into(),
        });
    };
    let units_text = match encoding.get("units").and_then(Value::as_str) {
        Some(units) => units.to_string(),
        None => infer_units(dates),
    };
    let units: TimeUnits = units_text.parse()?;
    // NaN stands for NaT until the numbers' type is known.
    let numbers = dates
        .iter()
        .map(|d| {
            if d.is_nat() {
                Ok(f64::NAN)
            } else {
                units.encode(d)
            }
        })
        .collect::<Result<Vec<f64>>>()?;
    let whole = numbers.iter().all(|&v| v.is_nan() || whole_number(v));
    let shape: Vec<u64> = dates.shape().iter().map(|&s| s as u64).collect();
    let chunks: Vec<u64> = shape.iter().map(|&s| s.max(1)).collect();
    let as_array =
        ndarray::ArrayD::from_shape_vec(dates.raw_dim(), numbers).map_err(|e| Error::Internal {
            operation: "encode_times".into(),
            message: e.to_string(),
        })?;
    let data: DynArray = if whole {
        let nat = time_fill(encoding)
            .filter(|&f| whole_number(f))
            .map_or(i64::MIN, |f| f as i64);
        let int = |v: f64| if v.is_nan() { nat } else { v as i64 };
        Array::from_values(as_array.mapv(int), chunks, name)?.into()
    } else {
        Array::from_values(as_array, chunks, name)?.into()
    };
    Ok((data, units_text, calendar.name().to_string()))
}

/// The units xarray infers for `dates`, since the first that is not NaT
/// (days since 1970-01-01 when all are).
fn infer_units(dates: &ndarray::ArrayD<CfDatetime>) -> String {
    let Some(first) = dates.iter().find(|d| !d.is_nat()) else {
        return "days since 1970-01-01 00:00:00".into();
    };
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
            dates.iter().filter(|d| !d.is_nat()).all(|d| {
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
