//! Writing attributes with rust-hdf5, to a dataset or a group alike: the
//! JSON values become HDF5 attributes as [`super::attrs`] says, and text is
//! a fixed-length string, as netCDF-C writes it.
//!
//! rust-hdf5 gives datasets an attribute builder (`new_attr`) and groups
//! setter methods (`set_attr_*`); [`AttrSink`] is the one form both offer,
//! so one writer serves both.

use rust_hdf5::types::VarLenUnicode;
use rust_hdf5::{DatatypeMessage, H5Dataset, H5Group, H5Type};
use serde_json::{Map, Value};

use super::attrs::{scalar_of, AttrValue};
use super::conventions::HIDDEN_ATTRIBUTES;
use crate::dtype::DType;

/// An HDF5 object that takes attributes: a dataset or a group.
pub(crate) trait AttrSink {
    /// A scalar attribute of an explicit datatype (`value` is its bytes).
    fn set_typed(
        &self,
        key: &str,
        datatype: DatatypeMessage,
        value: Vec<u8>,
    ) -> rust_hdf5::Result<()>;

    /// Numbers: a scalar dataspace for one value with `scalar`, else 1-D.
    fn set_numbers<T: H5Type>(
        &self,
        key: &str,
        values: &[T],
        scalar: bool,
    ) -> rust_hdf5::Result<()>;

    /// A 1-D array of variable-length UTF-8 strings.
    fn set_texts(&self, key: &str, items: &[&str]) -> rust_hdf5::Result<()>;
}

impl AttrSink for H5Dataset {
    fn set_typed(
        &self,
        key: &str,
        datatype: DatatypeMessage,
        value: Vec<u8>,
    ) -> rust_hdf5::Result<()> {
        self.set_attr_typed(key, datatype, value)
    }

    fn set_numbers<T: H5Type>(
        &self,
        key: &str,
        values: &[T],
        scalar: bool,
    ) -> rust_hdf5::Result<()> {
        match values {
            [one] if scalar => self
                .new_attr::<T>()
                .shape(())
                .create(key)?
                .write_numeric(one),
            _ => self
                .new_attr::<T>()
                .shape([values.len()])
                .create(key)?
                .write_array(values),
        }
    }

    fn set_texts(&self, key: &str, items: &[&str]) -> rust_hdf5::Result<()> {
        self.new_attr::<VarLenUnicode>()
            .shape([items.len()])
            .create(key)?
            .write_string_array(items)
    }
}

impl AttrSink for H5Group {
    fn set_typed(
        &self,
        key: &str,
        datatype: DatatypeMessage,
        value: Vec<u8>,
    ) -> rust_hdf5::Result<()> {
        self.set_attr_typed(key, datatype, value)
    }

    fn set_numbers<T: H5Type>(
        &self,
        key: &str,
        values: &[T],
        scalar: bool,
    ) -> rust_hdf5::Result<()> {
        match values {
            [one] if scalar => self.set_attr_numeric(key, one),
            _ => self.set_attr_array_numeric(key, values),
        }
    }

    fn set_texts(&self, key: &str, items: &[&str]) -> rust_hdf5::Result<()> {
        self.set_attr_string_array(key, items)
    }
}

/// Writes `attributes` to `target`, leaving out the bookkeeping ones
/// ([`HIDDEN_ATTRIBUTES`], `_ARRAY_DIMENSIONS`) that the writers make
/// themselves. `fill_dtype` is a dataset's dtype: its `_FillValue` is
/// written in it, as netCDF requires (a group has none, and a `_FillValue`
/// there is an ordinary attribute).
pub(crate) fn write_attributes(
    target: &impl AttrSink,
    attributes: &Map<String, Value>,
    fill_dtype: Option<DType>,
) -> std::result::Result<(), String> {
    for (key, value) in attributes {
        if HIDDEN_ATTRIBUTES.contains(&key.as_str()) || key == "_ARRAY_DIMENSIONS" {
            continue;
        }
        let done = match fill_dtype {
            Some(dtype) if key == "_FillValue" => {
                let Some(scalar) = scalar_of(value, dtype) else {
                    return Err(format!("_FillValue {value} is not a number"));
                };
                write_fill(target, dtype, &scalar.to_ne_bytes(dtype))
            }
            _ => write_attribute(target, key, &AttrValue::from_json(value)),
        };
        done.map_err(|e| format!("attribute {key}: {e}"))?;
    }
    Ok(())
}

/// `_FillValue` as a one-element array of the dataset's own type.
fn write_fill(target: &impl AttrSink, dtype: DType, bytes: &[u8]) -> rust_hdf5::Result<()> {
    fn typed<T: H5Type + bytemuck::Pod>(
        target: &impl AttrSink,
        bytes: &[u8],
    ) -> rust_hdf5::Result<()> {
        let value: T = bytemuck::pod_read_unaligned(bytes);
        target.set_numbers("_FillValue", &[value], false)
    }
    match dtype {
        DType::Bool | DType::UInt8 => typed::<u8>(target, bytes),
        DType::Int8 => typed::<i8>(target, bytes),
        DType::Int16 => typed::<i16>(target, bytes),
        DType::Int32 => typed::<i32>(target, bytes),
        DType::Int64 => typed::<i64>(target, bytes),
        DType::UInt16 => typed::<u16>(target, bytes),
        DType::UInt32 => typed::<u32>(target, bytes),
        DType::UInt64 => typed::<u64>(target, bytes),
        DType::Float32 => typed::<f32>(target, bytes),
        DType::Float64 => typed::<f64>(target, bytes),
    }
}

fn write_attribute(target: &impl AttrSink, key: &str, value: &AttrValue) -> rust_hdf5::Result<()> {
    match value {
        // A fixed-length string, as netCDF-C writes text: rust-hdf5's
        // variable-length strings declare a base type HDF5 before 2.0
        // cannot convert, so they would be unreadable there.
        AttrValue::Text(s) => {
            let mut bytes = s.as_bytes().to_vec();
            if bytes.is_empty() {
                bytes.push(0);
            }
            let datatype = DatatypeMessage::FixedString {
                size: bytes.len() as u32,
                padding: 1,
                charset: u8::from(!s.is_ascii()),
            };
            target.set_typed(key, datatype, bytes)
        }
        // Arrays of strings have no fixed-length form in rust-hdf5: they are
        // variable-length, which HDF5 2.0 (h5py, netCDF4-python wheels)
        // reads but HDF5 1.x cannot.
        AttrValue::Texts(items) => {
            let items: Vec<&str> = items.iter().map(String::as_str).collect();
            target.set_texts(key, &items)
        }
        AttrValue::Ints { values, scalar } => target.set_numbers(key, values, *scalar),
        AttrValue::UInts { values, scalar } => target.set_numbers(key, values, *scalar),
        AttrValue::Floats { values, scalar } => target.set_numbers(key, values, *scalar),
        AttrValue::Flags { values, scalar } => target.set_numbers(key, values, *scalar),
    }
}
