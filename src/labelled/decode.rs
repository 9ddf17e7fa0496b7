//! CF decoding as xarray's `decode_cf` does it, on open: `_Unsigned`,
//! `_FillValue`/`missing_value` to NaN and `scale_factor`/`add_offset`
//! (lazily, in the task that reads each chunk), and times from
//! `"<unit> since <date>"` (coordinates' decoded in memory; a data
//! variable's numbers stay lazy, marked with their time encoding). What
//! decoding used moves from the attributes to the encoding, so writing
//! encodes it back.

use serde_json::Value;

use super::calendar::Calendar;
use super::cf_time::{time_encoding, CfDatetime, TimeUnits};
use super::values::Values;
use super::variable::TimeEncoding;
use super::Attrs;
use crate::array::kernel::{reinterpret, Exact, Kernel};
use crate::array::DynArray;
use crate::error::{Error, Result};
use crate::io::{attribute_number, DType};

/// The attributes CF masking and scaling reads.
const MASK_AND_SCALE: [&str; 5] = [
    "_FillValue",
    "missing_value",
    "scale_factor",
    "add_offset",
    "_Unsigned",
];

/// What a stored variable says about itself beyond its data.
pub(crate) struct Stored<'a> {
    pub name: &'a str,
    pub dtype: DType,
    pub attrs: Attrs,
    /// The element type of each numeric attribute, where the format keeps
    /// one (netCDF, HDF5); Zarr's JSON attributes have none.
    pub attribute_dtypes: &'a std::collections::BTreeMap<String, DType>,
}

/// `data` decoded by its attributes when `mask_and_scale`; returns the
/// data, the attributes left, and the encoding (what decoding used).
pub(crate) fn mask_and_scale(
    data: DynArray,
    stored: Stored<'_>,
    enabled: bool,
) -> Result<(DynArray, Attrs, Attrs)> {
    let mut attrs = stored.attrs;
    let mut encoding = Attrs::new();
    encoding.insert("dtype".into(), Value::String(stored.dtype.name().into()));
    if !enabled || stored.dtype == DType::Bool {
        return Ok((data, attrs, encoding));
    }
    let fails = |message: String| Error::Invalid {
        operation: format!("CF decoding of {:?}", stored.name),
        message,
    };
    let number = |key: &str| -> Result<Option<f64>> {
        match attrs.get(key) {
            None => Ok(None),
            Some(v) => first_number(v)
                .map(Some)
                .ok_or_else(|| fails(format!("{key} is {v}, not a number"))),
        }
    };
    let scale = number("scale_factor")?;
    let offset = number("add_offset")?;
    let unsigned = match attrs.get("_Unsigned") {
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    };
    // (value, whether it is the _FillValue: only that one is read with
    // `_Unsigned`'s signedness, as xarray's `_convert_unsigned_fill_value`)
    let mut fills: Vec<(f64, bool)> = Vec::new();
    for key in ["_FillValue", "missing_value"] {
        let is_fill = key == "_FillValue";
        match attrs.get(key) {
            None => {}
            Some(Value::Array(items)) => fills.extend(
                items
                    .iter()
                    .filter_map(attribute_number)
                    .map(|f| (f, is_fill)),
            ),
            Some(v) => fills.push((
                attribute_number(v).ok_or_else(|| fails(format!("{key} is {v}, not a number")))?,
                is_fill,
            )),
        }
    }
    for key in MASK_AND_SCALE {
        if let Some(v) = attrs.remove(key) {
            encoding.insert(key.into(), v);
        }
    }
    let bits = 8 * stored.dtype.size() as u32;
    // Reinterpretation as the other signedness, as xarray's `_Unsigned`.
    let unsigned = match (unsigned, stored.dtype.is_float()) {
        (Some(u), false) if u == is_signed(stored.dtype) => Some(u),
        _ => None,
    };
    let mut fills: Vec<f64> = fills
        .into_iter()
        .map(|(f, is_fill)| {
            if is_fill {
                reinterpret(f, unsigned, bits)
            } else {
                f
            }
        })
        .collect();
    // A NaN fill in float data masks what is NaN already.
    if stored.dtype.is_float() {
        fills.retain(|f| !f.is_nan());
    }
    if scale.is_none() && offset.is_none() && fills.is_empty() && unsigned.is_none() {
        return Ok((data, attrs, encoding));
    }
    let packed = scale.is_some() || offset.is_some();
    let out = if packed {
        packed_float_type(
            stored.dtype,
            stored.attribute_dtypes,
            scale.is_some(),
            offset.is_some(),
        )
    } else if fills.is_empty() {
        // Only a change of signedness: stay integers, as xarray.
        return Ok((
            reinterpret_array(&data, stored.dtype, unsigned),
            attrs,
            encoding,
        ));
    } else {
        promoted_float(stored.dtype)
    };
    let exact = |v: Option<f64>| v.map(Exact);
    let decode = Kernel::CfDecode {
        unsigned,
        bits,
        fills: fills.into_iter().map(Exact).collect(),
        scale: exact(scale),
        offset: exact(offset),
        single: out == DType::Float32,
    };
    let decoded = decode.apply(&[&data]);
    Ok((decoded, attrs, encoding))
}

fn is_signed(dtype: DType) -> bool {
    matches!(
        dtype,
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64
    )
}

/// Integers of `dtype` reinterpreted as the other signedness.
fn reinterpret_array(data: &DynArray, dtype: DType, unsigned: Option<bool>) -> DynArray {
    let target = match (dtype, unsigned) {
        (DType::Int8, Some(true)) => DType::UInt8,
        (DType::Int16, Some(true)) => DType::UInt16,
        (DType::Int32, Some(true)) => DType::UInt32,
        (DType::Int64, Some(true)) => DType::UInt64,
        (DType::UInt8, Some(false)) => DType::Int8,
        (DType::UInt16, Some(false)) => DType::Int16,
        (DType::UInt32, Some(false)) => DType::Int32,
        (DType::UInt64, Some(false)) => DType::Int64,
        _ => return data.clone(),
    };
    // Rust's `as` between integers of one width is the reinterpretation.
    crate::with_dtype!(target, T => DynArray::from(data.astype::<T>()))
}

/// xarray's `_choose_float_dtype` for packed data: the type of
/// `scale_factor`/`add_offset` when both are one float type (`float64` for
/// 32-bit integers), `float64` when only an offset is given, else the
/// scale's type. A Zarr attribute is a Python float: `float64`.
fn packed_float_type(
    dtype: DType,
    attribute_dtypes: &std::collections::BTreeMap<String, DType>,
    scale: bool,
    offset: bool,
) -> DType {
    let type_of = |key: &str| attribute_dtypes.get(key).copied().unwrap_or(DType::Float64);
    let scale_type = scale.then(|| type_of("scale_factor"));
    let offset_type = offset.then(|| type_of("add_offset"));
    match (scale_type, offset_type) {
        (Some(s), Some(o)) if s == o && s.is_float() => {
            if dtype.size() == 4 && !dtype.is_float() {
                DType::Float64
            } else {
                s
            }
        }
        (_, Some(_)) => DType::Float64,
        (Some(s), None) if s.is_float() => s,
        _ => DType::Float64,
    }
}

/// xarray's `maybe_promote` for masked data: floats of up to 4 bytes and
/// integers of up to 2 become `float32`, the rest `float64`.
pub(crate) fn promoted_float(dtype: DType) -> DType {
    if (dtype.is_float() && dtype.size() <= 4) || (!dtype.is_float() && dtype.size() <= 2) {
        DType::Float32
    } else {
        DType::Float64
    }
}

/// A number, or the first of an array of numbers (netCDF attributes are
/// arrays; xarray reads a packing attribute's first element).
fn first_number(v: &Value) -> Option<f64> {
    match v {
        Value::Array(items) => items.first().and_then(attribute_number),
        v => attribute_number(v),
    }
}

/// A coordinate's values with times decoded when `decode_times` and its
/// attributes say `"<unit> since <date>"` (NaN, a masked time, and int64's
/// smallest are NaT, as xarray decodes them); `units` and `calendar` then
/// move to the encoding.
pub(crate) fn decode_times(
    name: &str,
    values: Values,
    attrs: &mut Attrs,
    encoding: &mut Attrs,
    enabled: bool,
) -> Result<Values> {
    if values.to_f64().is_none() {
        return Ok(values);
    }
    let Some(time) = time_variable(name, attrs, encoding, enabled)? else {
        return Ok(values);
    };
    Ok(Values::Time(dates(
        name,
        &values,
        &time.units,
        time.calendar,
    )?))
}

/// A data variable's time encoding when `decode_times` and its attributes
/// say `"<unit> since <date>"` (its data, numbers, stay lazy and stored as
/// they are); `units` and `calendar` then move to the encoding.
pub(crate) fn time_variable(
    name: &str,
    attrs: &mut Attrs,
    encoding: &mut Attrs,
    enabled: bool,
) -> Result<Option<TimeEncoding>> {
    if !enabled {
        return Ok(None);
    }
    let Some((units, calendar)) = time_encoding(attrs).map_err(|e| Error::Invalid {
        operation: format!("decoding the times of {name:?}"),
        message: e.to_string(),
    })?
    else {
        return Ok(None);
    };
    for key in ["units", "calendar"] {
        if let Some(v) = attrs.remove(key) {
            encoding.insert(key.into(), v);
        }
    }
    Ok(Some(TimeEncoding { units, calendar }))
}

/// The dates `values` (numbers) count in `units` of `calendar`: NaN, and
/// int64's smallest (numpy's NaT, as xarray writes one without a fill),
/// are NaT.
pub(crate) fn dates(
    name: &str,
    values: &Values,
    units: &TimeUnits,
    calendar: Calendar,
) -> Result<ndarray::ArrayD<CfDatetime>> {
    let fails = |message: String| Error::Invalid {
        operation: format!("decoding the times of {name:?}"),
        message,
    };
    let Some(mut numbers) = values.to_f64() else {
        return Err(fails(format!(
            "{} values are not numbers",
            values.type_name()
        )));
    };
    if let Values::Int {
        data,
        dtype: DType::Int64,
    } = values
    {
        numbers.zip_mut_with(data, |v, &raw| {
            if raw == i64::MIN {
                *v = f64::NAN
            }
        });
    }
    let dates = numbers
        .iter()
        .map(|&v| units.decode(v, calendar).map_err(|e| fails(e.to_string())))
        .collect::<Result<Vec<_>>>()?;
    ndarray::ArrayD::from_shape_vec(numbers.raw_dim(), dates).map_err(|e| Error::Internal {
        operation: "decode_times".into(),
        message: e.to_string(),
    })
}
