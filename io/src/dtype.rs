//! `DType`: the element type tag carried at the dynamic edges (stores, the
//! CLI, datasets), spelled the way numpy, Zarr and HDF5 users write it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::IoError;

/// The fixed-size element types ndchunk stores and computes with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    /// `bool`, one byte.
    Bool,
    /// `int8`.
    Int8,
    /// `int16`.
    Int16,
    /// `int32`.
    Int32,
    /// `int64`.
    Int64,
    /// `uint8`.
    UInt8,
    /// `uint16`.
    UInt16,
    /// `uint32`.
    UInt32,
    /// `uint64`.
    UInt64,
    /// `float32`.
    Float32,
    /// `float64`.
    Float64,
}

impl DType {
    /// Every dtype, in a stable order.
    pub const ALL: [DType; 11] = [
        DType::Bool,
        DType::Int8,
        DType::Int16,
        DType::Int32,
        DType::Int64,
        DType::UInt8,
        DType::UInt16,
        DType::UInt32,
        DType::UInt64,
        DType::Float32,
        DType::Float64,
    ];

    /// Bytes per element.
    pub const fn size(self) -> usize {
        match self {
            DType::Bool | DType::Int8 | DType::UInt8 => 1,
            DType::Int16 | DType::UInt16 => 2,
            DType::Int32 | DType::UInt32 | DType::Float32 => 4,
            DType::Int64 | DType::UInt64 | DType::Float64 => 8,
        }
    }

    /// Whether it is a floating-point type.
    pub const fn is_float(self) -> bool {
        matches!(self, DType::Float32 | DType::Float64)
    }

    /// The numpy / Zarr v3 name (`float32`, `uint8`, `bool`).
    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::Int8 => "int8",
            DType::Int16 => "int16",
            DType::Int32 => "int32",
            DType::Int64 => "int64",
            DType::UInt8 => "uint8",
            DType::UInt16 => "uint16",
            DType::UInt32 => "uint32",
            DType::UInt64 => "uint64",
            DType::Float32 => "float32",
            DType::Float64 => "float64",
        }
    }

    /// The numpy kind character and size of a typestr (`f4` of `<f4`).
    fn code(self) -> (char, usize) {
        let kind = match self {
            DType::Bool => 'b',
            DType::Int8 | DType::Int16 | DType::Int32 | DType::Int64 => 'i',
            DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => 'u',
            DType::Float32 | DType::Float64 => 'f',
        };
        (kind, self.size())
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for DType {
    type Err = IoError;

    /// Accepts numpy names (`float32`, `uint8`, `bool`), Zarr v2 / numpy
    /// typestrs in either byte order (`<f4`, `>i2`, `|u1`, `f8`), and
    /// numpy's one-letter aliases for the common floats (`f4`, `f8`).
    fn from_str(text: &str) -> Result<Self, IoError> {
        let t = text.trim();
        if let Some(d) = DType::ALL.iter().find(|d| d.name() == t) {
            return Ok(*d);
        }
        let code = t.trim_start_matches(['<', '>', '|', '=']);
        let mut chars = code.chars();
        if let (Some(kind), Ok(size)) = (chars.next(), chars.as_str().parse::<usize>()) {
            let kind = if kind == '?' { 'b' } else { kind };
            if let Some(d) = DType::ALL.iter().find(|d| d.code() == (kind, size)) {
                return Ok(*d);
            }
        }
        if t == "?" {
            return Ok(DType::Bool);
        }
        Err(IoError::UnsupportedDType {
            dtype: text.to_string(),
        })
    }
}
