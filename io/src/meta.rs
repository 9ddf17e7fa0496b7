//! `ArrayMeta`: what a store says about one array, whatever its format.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use ndchunk_chunking::ChunkGrid;

use crate::dtype::DType;

/// One element's value, wide enough for every dtype (f64 holds every f32,
/// NaN included). Equality is by value, with floats compared by their bits
/// so that a NaN fill value equals itself.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Scalar {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    UInt(u64),
    /// A float (NaN and infinities allowed).
    Float(f64),
}

impl Scalar {
    /// The native-order bytes of this value as an element of `dtype`
    /// (converted with `as`, like numpy's `astype`).
    pub fn to_ne_bytes(self, dtype: DType) -> Vec<u8> {
        macro_rules! as_bytes {
            ($t:ty) => {
                match self {
                    Scalar::Bool(b) => (b as u8 as $t).to_ne_bytes().to_vec(),
                    Scalar::Int(v) => (v as $t).to_ne_bytes().to_vec(),
                    Scalar::UInt(v) => (v as $t).to_ne_bytes().to_vec(),
                    Scalar::Float(v) => (v as $t).to_ne_bytes().to_vec(),
                }
            };
        }
        match dtype {
            DType::Bool => vec![u8::from(match self {
                Scalar::Bool(b) => b,
                Scalar::Int(v) => v != 0,
                Scalar::UInt(v) => v != 0,
                Scalar::Float(v) => v != 0.0,
            })],
            DType::Int8 => as_bytes!(i8),
            DType::Int16 => as_bytes!(i16),
            DType::Int32 => as_bytes!(i32),
            DType::Int64 => as_bytes!(i64),
            DType::UInt8 => as_bytes!(u8),
            DType::UInt16 => as_bytes!(u16),
            DType::UInt32 => as_bytes!(u32),
            DType::UInt64 => as_bytes!(u64),
            DType::Float32 => as_bytes!(f32),
            DType::Float64 => as_bytes!(f64),
        }
    }

    /// The value of one native-order element of `dtype`.
    pub fn from_ne_bytes(bytes: &[u8], dtype: DType) -> Option<Scalar> {
        macro_rules! read {
            ($t:ty, $v:ident, $conv:ty) => {
                Scalar::$v(<$t>::from_ne_bytes(
                    bytes.get(..std::mem::size_of::<$t>())?.try_into().ok()?,
                ) as $conv)
            };
        }
        Some(match dtype {
            DType::Bool => Scalar::Bool(*bytes.first()? != 0),
            DType::Int8 => read!(i8, Int, i64),
            DType::Int16 => read!(i16, Int, i64),
            DType::Int32 => read!(i32, Int, i64),
            DType::Int64 => read!(i64, Int, i64),
            DType::UInt8 => read!(u8, UInt, u64),
            DType::UInt16 => read!(u16, UInt, u64),
            DType::UInt32 => read!(u32, UInt, u64),
            DType::UInt64 => read!(u64, UInt, u64),
            DType::Float32 => read!(f32, Float, f64),
            DType::Float64 => read!(f64, Float, f64),
        })
    }
}

impl PartialEq for Scalar {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Scalar::Float(a), Scalar::Float(b)) => a.to_bits() == b.to_bits(),
            (Scalar::Bool(a), Scalar::Bool(b)) => a == b,
            (Scalar::Int(a), Scalar::Int(b)) => a == b,
            (Scalar::UInt(a), Scalar::UInt(b)) => a == b,
            _ => false,
        }
    }
}

impl std::fmt::Display for Scalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Int(v) => write!(f, "{v}"),
            Scalar::UInt(v) => write!(f, "{v}"),
            Scalar::Float(v) if *v != 0.0 && (v.abs() >= 1e16 || v.abs() < 1e-4) => {
                write!(f, "{v:e}")
            }
            Scalar::Float(v) => write!(f, "{v}"),
        }
    }
}

/// The number a JSON attribute value holds: a number, a boolean (0 or 1),
/// a non-finite float as Zarr spells it (`"NaN"`, `"Infinity"`,
/// `"-Infinity"`) or numpy does (`"nan"`, `"inf"`, `"-inf"`), or a
/// one-element array of one (netCDF stores every attribute as an array).
///
/// ```
/// use ndchunk_io::attribute_number;
/// assert_eq!(attribute_number(&serde_json::json!([0.5])), Some(0.5));
/// assert!(attribute_number(&serde_json::json!("NaN")).unwrap().is_nan());
/// assert_eq!(attribute_number(&serde_json::json!("K")), None);
/// ```
pub fn attribute_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::String(s) => match s.as_str() {
            "NaN" | "nan" => Some(f64::NAN),
            "Infinity" | "inf" => Some(f64::INFINITY),
            "-Infinity" | "-inf" => Some(f64::NEG_INFINITY),
            _ => None,
        },
        Value::Array(items) if items.len() == 1 => attribute_number(&items[0]),
        _ => None,
    }
}

/// The description of one stored array: enough to plan over it, show it
/// (`chunkctl info`) and recreate it elsewhere.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArrayMeta {
    /// The array's chunks (and through them its shape). For a sharded Zarr
    /// array these are the shards: the unit a task reads or writes whole.
    pub grid: ChunkGrid,
    /// The element type.
    pub dtype: DType,
    /// What a chunk that was never written reads as.
    pub fill_value: Scalar,
    /// Dimension names (Zarr v3 `dimension_names`, v2 `_ARRAY_DIMENSIONS`,
    /// netCDF dimensions); `None` where a format has none.
    pub dimension_names: Option<Vec<Option<String>>>,
    /// User attributes (Zarr's attributes, HDF5 attributes), without the
    /// keys the format uses for itself (`_ARRAY_DIMENSIONS`).
    pub attributes: Map<String, Value>,
    /// The codec chain for display, outermost last (e.g. `["bytes<", "zstd(3)"]`).
    pub codecs: Vec<String>,
    /// Chunks inside one shard (Zarr v3 sharding), when sharded.
    pub inner_chunk_shape: Option<Vec<u64>>,
    /// The element type of each numeric attribute, where the format stores
    /// one (HDF5, netCDF-3): xarray's CF decoding picks float32 or float64
    /// by the type of `scale_factor`/`add_offset`. Empty for Zarr (JSON
    /// attributes have no type).
    #[serde(default)]
    pub attribute_dtypes: BTreeMap<String, DType>,
    /// Zarr v2's `"fill_value": null`: unwritten chunks read as
    /// `fill_value`, and xarray masks nothing by it.
    #[serde(default)]
    pub fill_value_null: bool,
}

impl ArrayMeta {
    /// A plain description: no names, no attributes (nor their types), no
    /// codecs, a fill value that is not Zarr's `null`.
    pub fn new(grid: ChunkGrid, dtype: DType, fill_value: Scalar) -> Self {
        Self {
            grid,
            dtype,
            fill_value,
            dimension_names: None,
            attributes: Map::new(),
            codecs: Vec::new(),
            inner_chunk_shape: None,
            attribute_dtypes: BTreeMap::new(),
            fill_value_null: false,
        }
    }

    /// The array shape.
    pub fn shape(&self) -> Vec<u64> {
        self.grid.shape()
    }

    /// Bytes of the whole array, decoded.
    pub fn logical_bytes(&self) -> u64 {
        self.shape()
            .iter()
            .fold(self.dtype.size() as u64, |n, &l| n.saturating_mul(l))
    }

    /// The dimension names with `dim_<i>` where a name is missing.
    pub fn dims_or_default(&self) -> Vec<String> {
        (0..self.grid.ndim())
            .map(|i| {
                self.dimension_names
                    .as_ref()
                    .and_then(|names| names.get(i).cloned().flatten())
                    .unwrap_or_else(|| format!("dim_{i}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_without_the_newer_fields_still_reads() {
        let mut meta = ArrayMeta::new(
            ChunkGrid::regular(&[4], &[2]).unwrap(),
            DType::Int16,
            Scalar::Int(-1),
        );
        let mut old = serde_json::to_value(&meta).unwrap();
        let fields = old.as_object_mut().unwrap();
        assert!(fields.remove("attribute_dtypes").is_some());
        assert!(fields.remove("fill_value_null").is_some());
        assert_eq!(serde_json::from_value::<ArrayMeta>(old).unwrap(), meta);

        meta.attribute_dtypes
            .insert("scale_factor".into(), DType::Float32);
        meta.fill_value_null = true;
        let text = serde_json::to_string(&meta).unwrap();
        assert_eq!(serde_json::from_str::<ArrayMeta>(&text).unwrap(), meta);
    }
}
