//! Attribute values between HDF5 and JSON, the rules both backends share.
//!
//! Reading: numbers stay numbers (an `f32` becomes the `f64` of the same
//! value), strings stay strings, one-element arrays become scalars (netCDF
//! stores every attribute as an array; netCDF4-python and xarray show
//! length-1 ones as scalars), and non-finite floats become the strings
//! `"NaN"`, `"Infinity"`, `"-Infinity"` (Zarr's spelling), since JSON has
//! no numbers for them.
//!
//! Writing ([`AttrValue::from_json`]): strings as variable-length UTF-8,
//! integers as `int64` (`uint64` past its range), other numbers as
//! `float64`, booleans as `int8` 0/1 (netCDF has no boolean), arrays of one
//! kind as 1-D arrays, and anything else (null, objects, mixed or nested
//! arrays) as its JSON text.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use super::conventions::HIDDEN_ATTRIBUTES;
use crate::dtype::DType;
use crate::meta::Scalar;

/// A JSON value for one float, non-finite ones spelled as Zarr spells them.
pub(crate) fn float_value(v: f64) -> Value {
    match Number::from_f64(v) {
        Some(n) => Value::Number(n),
        None if v.is_nan() => Value::String("NaN".into()),
        None if v > 0.0 => Value::String("Infinity".into()),
        None => Value::String("-Infinity".into()),
    }
}

/// The value as one element of `dtype` (a `_FillValue`), or `None` when it
/// is not a number (or a one-element array of one).
pub(crate) fn scalar_of(v: &Value, dtype: DType) -> Option<Scalar> {
    if let Value::Array(items) = v {
        return match items.as_slice() {
            [one] => scalar_of(one, dtype),
            _ => None,
        };
    }
    if let Value::Bool(b) = v {
        return Some(Scalar::Bool(*b));
    }
    Some(match dtype {
        DType::Float32 | DType::Float64 => Scalar::Float(crate::meta::attribute_number(v)?),
        DType::Bool => Scalar::Bool(crate::meta::attribute_number(v)? != 0.0),
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => match v {
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => Scalar::UInt(u),
                (None, Some(i)) => Scalar::Int(i),
                _ => Scalar::Float(n.as_f64()?),
            },
            _ => return None,
        },
        _ => match v {
            Value::Number(n) => match (n.as_i64(), n.as_u64()) {
                (Some(i), _) => Scalar::Int(i),
                (None, Some(u)) => Scalar::UInt(u),
                _ => Scalar::Float(n.as_f64()?),
            },
            _ => return None,
        },
    })
}

/// An attribute's elements as one JSON value: a scalar for one element,
/// else an array.
pub(crate) fn collapse(mut items: Vec<Value>) -> Value {
    if items.len() == 1 {
        items.pop().unwrap_or(Value::Null)
    } else {
        Value::Array(items)
    }
}

/// How a number is laid out in an attribute's bytes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NumberLayout {
    /// Bytes per element (1, 2, 4 or 8).
    pub size: usize,
    /// `i` signed, `u` unsigned, `f` IEEE float, `b` boolean.
    pub kind: char,
    /// Stored big-endian.
    pub big_endian: bool,
}

/// The elements of a numeric attribute's raw bytes, or `None` for a layout
/// this does not know (a half float, a 3-byte integer).
pub(crate) fn numbers(raw: &[u8], layout: NumberLayout) -> Option<Vec<Value>> {
    let size = layout.size;
    if !matches!(size, 1 | 2 | 4 | 8) {
        return None;
    }
    raw.chunks_exact(size)
        .map(|elem| {
            let mut bytes = [0u8; 8];
            if layout.big_endian {
                for (i, b) in elem.iter().rev().enumerate() {
                    bytes[i] = *b;
                }
            } else {
                bytes[..size].copy_from_slice(elem);
            }
            let unsigned = u64::from_le_bytes(bytes);
            let bits = size * 8;
            Some(match layout.kind {
                'b' => Value::Bool(unsigned != 0),
                'u' => Value::from(unsigned),
                'i' => {
                    let shift = 64 - bits;
                    Value::from(((unsigned << shift) as i64) >> shift)
                }
                'f' if size == 4 => float_value(f64::from(f32::from_bits(unsigned as u32))),
                'f' if size == 8 => float_value(f64::from_bits(unsigned)),
                _ => return None,
            })
        })
        .collect()
}

/// A fixed-length string element without its padding: HDF5 pads with NULs
/// or spaces, and netCDF often fills the whole width.
pub(crate) fn fixed_string(elem: &[u8], space_padded: bool) -> String {
    let end = elem.iter().position(|&b| b == 0).unwrap_or(elem.len());
    let text = String::from_utf8_lossy(&elem[..end]);
    if space_padded {
        text.trim_end_matches(' ').to_string()
    } else {
        text.into_owned()
    }
}

/// What to write for one JSON attribute value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    /// A variable-length UTF-8 string.
    Text(String),
    /// A 1-D array of variable-length UTF-8 strings.
    Texts(Vec<String>),
    /// `int64` values; `scalar` for a scalar dataspace.
    Ints { values: Vec<i64>, scalar: bool },
    /// `uint64` values (integers past `i64`).
    UInts { values: Vec<u64>, scalar: bool },
    /// `float64` values.
    Floats { values: Vec<f64>, scalar: bool },
    /// `int8` 0/1 values (booleans).
    Flags { values: Vec<i8>, scalar: bool },
}

impl AttrValue {
    /// The HDF5 form of a JSON attribute value (see the module docs).
    pub(crate) fn from_json(value: &Value) -> AttrValue {
        match value {
            Value::String(s) => AttrValue::Text(s.clone()),
            Value::Bool(b) => AttrValue::Flags {
                values: vec![i8::from(*b)],
                scalar: true,
            },
            Value::Number(_) => Self::numeric(std::slice::from_ref(value), true)
                .unwrap_or_else(|| AttrValue::Text(value.to_string())),
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
                AttrValue::Texts(
                    items
                        .iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect(),
                )
            }
            Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_boolean) => {
                AttrValue::Flags {
                    values: items
                        .iter()
                        .map(|v| i8::from(v.as_bool() == Some(true)))
                        .collect(),
                    scalar: false,
                }
            }
            Value::Array(items) => {
                Self::numeric(items, false).unwrap_or_else(|| AttrValue::Text(value.to_string()))
            }
            Value::Null | Value::Object(_) => AttrValue::Text(value.to_string()),
        }
    }

    /// Numbers as the narrowest of int64, uint64 and float64 that holds
    /// them all; `None` unless every item is a number.
    fn numeric(items: &[Value], scalar: bool) -> Option<AttrValue> {
        if items.is_empty() || !items.iter().all(Value::is_number) {
            return None;
        }
        if let Some(values) = items.iter().map(Value::as_i64).collect::<Option<Vec<_>>>() {
            return Some(AttrValue::Ints { values, scalar });
        }
        if let Some(values) = items.iter().map(Value::as_u64).collect::<Option<Vec<_>>>() {
            return Some(AttrValue::UInts { values, scalar });
        }
        let values = items
            .iter()
            .map(Value::as_f64)
            .collect::<Option<Vec<_>>>()?;
        Some(AttrValue::Floats { values, scalar })
    }
}

/// The element type each numeric attribute of `attributes` is written in
/// (see the module docs), as a reader of the written file finds it: the
/// bookkeeping attributes the writers skip and text are not listed, and a
/// dataset's `_FillValue` is in `fill_dtype`.
pub(crate) fn written_dtypes(
    attributes: &Map<String, Value>,
    fill_dtype: Option<DType>,
) -> BTreeMap<String, DType> {
    attributes
        .iter()
        .filter(|(key, _)| {
            !HIDDEN_ATTRIBUTES.contains(&key.as_str()) && key.as_str() != "_ARRAY_DIMENSIONS"
        })
        .filter_map(|(key, value)| {
            let dtype = match (fill_dtype, AttrValue::from_json(value)) {
                (Some(dtype), _) if key == "_FillValue" => dtype,
                (_, AttrValue::Ints { .. }) => DType::Int64,
                (_, AttrValue::UInts { .. }) => DType::UInt64,
                (_, AttrValue::Floats { .. }) => DType::Float64,
                (_, AttrValue::Flags { .. }) => DType::Int8,
                (_, AttrValue::Text(_) | AttrValue::Texts(_)) => return None,
            };
            Some((key.clone(), dtype))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn numbers_decode_both_byte_orders_and_signs() {
        let le = NumberLayout {
            size: 2,
            kind: 'i',
            big_endian: false,
        };
        assert_eq!(
            numbers(&(-2i16).to_le_bytes(), le).unwrap(),
            vec![json!(-2)]
        );
        let be = NumberLayout {
            size: 4,
            kind: 'f',
            big_endian: true,
        };
        assert_eq!(
            numbers(&1.5f32.to_be_bytes(), be).unwrap(),
            vec![json!(1.5)]
        );
        assert_eq!(
            numbers(
                &f64::NAN.to_le_bytes(),
                NumberLayout {
                    size: 8,
                    kind: 'f',
                    big_endian: false
                }
            )
            .unwrap(),
            vec![json!("NaN")]
        );
        let u = NumberLayout {
            size: 8,
            kind: 'u',
            big_endian: false,
        };
        assert_eq!(
            numbers(&u64::MAX.to_le_bytes(), u).unwrap(),
            vec![json!(u64::MAX)]
        );
    }

    #[test]
    fn fill_values_come_from_numbers_and_nan_strings() {
        assert_eq!(
            scalar_of(&json!([1e20]), DType::Float32),
            Some(Scalar::Float(1e20))
        );
        assert!(
            matches!(scalar_of(&json!("NaN"), DType::Float64), Some(Scalar::Float(v)) if v.is_nan())
        );
        assert_eq!(
            scalar_of(&json!(-32767), DType::Int16),
            Some(Scalar::Int(-32767))
        );
        assert_eq!(scalar_of(&json!("K"), DType::Int16), None);
        assert_eq!(scalar_of(&json!([1, 2]), DType::Int16), None);
    }

    #[test]
    fn json_values_map_to_hdf5_kinds() {
        assert_eq!(
            AttrValue::from_json(&json!("K")),
            AttrValue::Text("K".into())
        );
        assert_eq!(
            AttrValue::from_json(&json!([1, 2])),
            AttrValue::Ints {
                values: vec![1, 2],
                scalar: false
            }
        );
        assert_eq!(
            AttrValue::from_json(&json!([1, 2.5])),
            AttrValue::Floats {
                values: vec![1.0, 2.5],
                scalar: false
            }
        );
        assert_eq!(
            AttrValue::from_json(&json!({"a": 1})),
            AttrValue::Text("{\"a\":1}".into())
        );
        assert_eq!(
            AttrValue::from_json(&json!(["a", "b"])),
            AttrValue::Texts(vec!["a".into(), "b".into()])
        );
        assert_eq!(
            AttrValue::from_json(&json!([])),
            AttrValue::Text("[]".into())
        );
    }

    #[test]
    fn fixed_strings_lose_their_padding() {
        assert_eq!(fixed_string(b"K\0\0", false), "K");
        assert_eq!(fixed_string(b"ab  ", true), "ab");
    }
}
