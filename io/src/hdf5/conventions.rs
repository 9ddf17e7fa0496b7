//! The conventions both backends share: how a contiguous dataset is
//! chunked, which attributes are bookkeeping, the fill value rule, and the
//! dimension names h5netcdf and xarray give a dataset. A backend reads what
//! the file says into a [`Described`]; these rules make the [`ArrayMeta`].

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use ndchunk_chunking::ChunkGrid;

use super::attrs;
use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::{ArrayMeta, Scalar};

/// About how many bytes one chunk of a contiguous (unchunked) dataset
/// holds: large enough that a read is mostly data, small enough that a
/// handful fit a task's memory budget.
pub const CONTIGUOUS_CHUNK_BYTES: u64 = 16 << 20;

/// The chunks ndchunk reads a contiguous dataset by, which HDF5 does not
/// chunk itself: C-order slabs of about [`CONTIGUOUS_CHUNK_BYTES`] — whole
/// trailing axes, and as many rows of the first axis that does not fit
/// whole as fill the target (at least one), so that each chunk is one run
/// of bytes in the file. A dataset smaller than the target is one chunk.
pub fn contiguous_chunks(shape: &[u64], itemsize: usize) -> Vec<u64> {
    let mut chunks = vec![1u64; shape.len()];
    let mut inner = itemsize.max(1) as u64;
    for axis in (0..shape.len()).rev() {
        let len = shape[axis].max(1);
        if inner.saturating_mul(len) <= CONTIGUOUS_CHUNK_BYTES {
            chunks[axis] = len;
            inner *= len;
        } else {
            chunks[axis] = (CONTIGUOUS_CHUNK_BYTES / inner).clamp(1, len);
            break;
        }
    }
    chunks
}

/// Attributes that carry HDF5 dimension-scale and netCDF-4 bookkeeping,
/// not user metadata: the set h5netcdf hides, so ndchunk shows what xarray
/// shows.
pub const HIDDEN_ATTRIBUTES: &[&str] = &[
    "REFERENCE_LIST",
    "CLASS",
    "DIMENSION_LIST",
    "NAME",
    "_Netcdf4Dimid",
    "_Netcdf4Coordinates",
    "_nc3_strict",
    "_NCProperties",
];

/// Leaves out the [`HIDDEN_ATTRIBUTES`], as h5netcdf and xarray do, of a
/// dataset's or a group's attributes.
pub(crate) fn hide_bookkeeping(attributes: &mut Map<String, Value>) {
    attributes.retain(|k, _| !HIDDEN_ATTRIBUTES.contains(&k.as_str()));
}

/// How a netCDF-4 file marks a dimension with no coordinate variable: the
/// `NAME` of its placeholder dimension scale starts with this.
pub(crate) const NETCDF_DIMENSION_ONLY: &str =
    "This is a netCDF dimension but not a netCDF variable";

/// What a backend read about one dataset, before the rules shared by both
/// backends turn it into an [`ArrayMeta`].
pub(crate) struct Described {
    pub shape: Vec<u64>,
    /// The HDF5 chunk shape, `None` for contiguous and compact datasets.
    pub chunks: Option<Vec<u64>>,
    pub dtype: DType,
    /// The HDF5 fill value as one native-order element, if the file sets one.
    pub fill: Option<Vec<u8>>,
    /// Every attribute, bookkeeping ones included, already as JSON.
    pub attributes: Map<String, Value>,
    /// The element type of each numeric attribute in `attributes`.
    pub attribute_dtypes: BTreeMap<String, DType>,
    pub codecs: Vec<String>,
    /// Per axis, the paths of the dimension scales attached (`DIMENSION_LIST`).
    pub scales: Option<Vec<Vec<String>>>,
}

impl Described {
    /// Whether this is an HDF5 dimension scale (`CLASS` says so).
    pub fn is_scale(&self) -> bool {
        matches!(self.attributes.get("CLASS"), Some(Value::String(s)) if s == "DIMENSION_SCALE")
    }

    /// Whether this is a netCDF dimension-only scale (left out of listings).
    pub fn is_dimension_only(&self) -> bool {
        matches!(self.attributes.get("NAME"), Some(Value::String(s)) if s.starts_with(NETCDF_DIMENSION_ONLY))
    }

    /// The [`ArrayMeta`], by the rules in the module docs. `own_name` is the
    /// dataset's path; `dimid_name` names a netCDF dimension id (for the
    /// multi-dimensional coordinate variables that list their dimensions in
    /// `_Netcdf4Coordinates`).
    pub fn into_meta(
        self,
        location: &str,
        own_name: &str,
        dimid_name: &mut dyn FnMut(i64) -> Option<String>,
    ) -> Result<ArrayMeta> {
        let chunks = match &self.chunks {
            Some(chunks) if chunks.len() == self.shape.len() => chunks.clone(),
            _ => contiguous_chunks(&self.shape, self.dtype.size()),
        };
        let grid = ChunkGrid::regular(&self.shape, &chunks).map_err(|e| IoError::Grid {
            location: location.to_string(),
            source: e,
        })?;
        let dimension_names = self.dimension_names(own_name, dimid_name);
        let fill_value = self
            .attributes
            .get("_FillValue")
            .and_then(|v| attrs::scalar_of(v, self.dtype))
            .or_else(|| {
                self.fill
                    .as_deref()
                    .and_then(|b| Scalar::from_ne_bytes(b, self.dtype))
            })
            .unwrap_or_else(|| zero(self.dtype));
        let mut attributes = self.attributes;
        hide_bookkeeping(&mut attributes);
        let mut attribute_dtypes = self.attribute_dtypes;
        attribute_dtypes.retain(|k, _| attributes.contains_key(k));
        Ok(ArrayMeta {
            grid,
            dtype: self.dtype,
            fill_value,
            dimension_names,
            attributes,
            codecs: self.codecs,
            inner_chunk_shape: None,
            attribute_dtypes,
            fill_value_null: false,
        })
    }

    /// h5netcdf's rule: a dimension scale is its own dimension (or, with
    /// `_Netcdf4Coordinates`, has the dimensions it lists); any other
    /// dataset has the last scale attached to each axis.
    pub fn dimension_names(
        &self,
        own_name: &str,
        dimid_name: &mut dyn FnMut(i64) -> Option<String>,
    ) -> Option<Vec<Option<String>>> {
        let rank = self.shape.len();
        let is_scale = self.is_scale();
        if is_scale && rank == 1 {
            return Some(vec![Some(basename(own_name).to_string())]);
        }
        if is_scale {
            let ids: Vec<i64> = match self.attributes.get("_Netcdf4Coordinates") {
                Some(Value::Array(ids)) => ids.iter().filter_map(Value::as_i64).collect(),
                Some(id) => id.as_i64().into_iter().collect(),
                None => Vec::new(),
            };
            if ids.len() == rank {
                return Some(ids.into_iter().map(&mut *dimid_name).collect());
            }
        }
        let scales = self.scales.as_ref()?;
        if scales.len() != rank || scales.iter().all(Vec::is_empty) {
            return None;
        }
        Some(
            scales
                .iter()
                .map(|axis| axis.last().map(|p| basename(p).to_string()))
                .collect(),
        )
    }
}

/// The last component of an HDF5 path.
pub(crate) fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Zero of `dtype`, the fill value when a file names none.
fn zero(dtype: DType) -> Scalar {
    match dtype {
        DType::Bool => Scalar::Bool(false),
        DType::Float32 | DType::Float64 => Scalar::Float(0.0),
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => Scalar::UInt(0),
        DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => Scalar::Int(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_chunks_are_slabs_of_about_the_target() {
        // Small arrays are one chunk.
        assert_eq!(contiguous_chunks(&[20, 25, 53], 2), vec![20, 25, 53]);
        // Rows of 1 MiB: 16 per chunk.
        assert_eq!(contiguous_chunks(&[100, 512, 512], 4), vec![16, 512, 512]);
        // Rows larger than the target: one row, split along the next axis.
        assert_eq!(contiguous_chunks(&[3, 8192, 8192], 4), vec![1, 512, 8192]);
        assert_eq!(contiguous_chunks(&[], 8), Vec::<u64>::new());
        assert_eq!(contiguous_chunks(&[0, 10], 8), vec![1, 10]);
    }
}
