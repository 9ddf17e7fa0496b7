//! Chunk specifications: what a user asks for before it is turned into a
//! [`ChunkGrid`](crate::ChunkGrid) by [`normalize_chunks`](crate::normalize_chunks).
//!
//! The vocabulary is Dask's `chunks=` argument (an int, `-1`/`None`,
//! `"auto"`, a tuple per axis or a dict by axis), as Rust types, plus the
//! text form taken by `chunkctl rechunk --chunks`.

use std::collections::BTreeMap;
use std::fmt;

use crate::error::{ChunkingError, Result};

/// How to chunk one axis.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AxisSpec {
    /// Let [`normalize_chunks`](crate::normalize_chunks) choose, within the
    /// byte limit (Dask's `"auto"`).
    Auto,
    /// One chunk spanning the whole axis (Dask's `-1` or `None`).
    Whole,
    /// Chunks of this many elements, the last one possibly smaller (Dask's
    /// integer). A size larger than the axis gives one chunk.
    Size(u64),
    /// Explicit chunk sizes, which must add up to the axis length (Dask's
    /// tuple). Zero-size chunks are allowed.
    Sizes(Vec<u64>),
    /// Keep the previous chunks of this axis (what Dask's `rechunk` does for
    /// axes missing from a dict or given as `None`).
    Keep,
}

/// A chunk specification for a whole array.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChunkSpec {
    /// The same value for every axis, e.g. Dask's `chunks=5`, `"auto"`, `-1`.
    All(AxisSpec),
    /// One value per axis, in axis order (Dask's tuple).
    PerAxis(Vec<AxisSpec>),
    /// Values for some axes (Dask's dict). Negative keys count from the end as
    /// in Dask (`-1` is the last axis). Axes not named are [`AxisSpec::Keep`]
    /// when previous chunks are given (Dask's `rechunk`), else
    /// [`AxisSpec::Whole`] (Dask's `normalize_chunks`).
    ByAxis(BTreeMap<i64, AxisSpec>),
}

impl ChunkSpec {
    /// Parses the `--chunks` argument of `chunkctl rechunk`.
    ///
    /// Either every entry names a dimension (`time=8760,lat=10,lon=auto`;
    /// dimensions not named keep their chunks, giving [`ChunkSpec::ByAxis`]),
    /// or none does and there is exactly one entry per dimension, in order
    /// (`8760,10,10`, giving [`ChunkSpec::PerAxis`]). A value is a positive
    /// integer, `-1` (the whole axis) or `auto`. Spaces around entries,
    /// names and values are ignored.
    ///
    /// Errors name the offending entry: an empty entry, an unknown dimension
    /// (listing the known ones), a dimension named twice, named and
    /// positional entries mixed, the wrong number of positional entries, or a
    /// value that is not a positive integer, `-1` or `auto`.
    ///
    /// ```
    /// use ndchunk_chunking::{AxisSpec, ChunkSpec};
    /// let dims = ["time", "lat", "lon"];
    /// let spec = ChunkSpec::parse("time=8760, lon=auto", &dims).unwrap();
    /// assert_eq!(
    ///     spec,
    ///     ChunkSpec::ByAxis([(0, AxisSpec::Size(8760)), (2, AxisSpec::Auto)].into())
    /// );
    /// let spec = ChunkSpec::parse("8760,-1,10", &dims).unwrap();
    /// assert_eq!(
    ///     spec,
    ///     ChunkSpec::PerAxis(vec![AxisSpec::Size(8760), AxisSpec::Whole, AxisSpec::Size(10)])
    /// );
    /// let err = ChunkSpec::parse("depth=3", &dims).unwrap_err().to_string();
    /// assert!(err.contains("unknown dimension `depth`") && err.contains("time, lat, lon"));
    /// ```
    pub fn parse(text: &str, dims: &[&str]) -> Result<ChunkSpec> {
        let entries: Vec<&str> = text.split(',').map(str::trim).collect();
        if let Some(i) = entries.iter().position(|e| e.is_empty()) {
            let reason = if entries.len() == 1 {
                format!(
                    "no chunks given; expected {} or name=value pairs",
                    positional_hint(dims)
                )
            } else {
                format!("entry {} of {} is empty", i + 1, entries.len())
            };
            return Err(invalid(text, reason));
        }
        let named = entries.iter().filter(|e| e.contains('=')).count();
        if named == 0 {
            if entries.len() != dims.len() {
                return Err(invalid(
                    text,
                    format!(
                        "{} values given, expected {}; or name the dimensions, e.g. `{}=…`",
                        entries.len(),
                        positional_hint(dims),
                        dims.first().copied().unwrap_or("dim"),
                    ),
                ));
            }
            let axes = entries
                .iter()
                .zip(dims)
                .map(|(entry, dim)| parse_value(entry, entry, dim))
                .collect::<Result<_>>()?;
            return Ok(ChunkSpec::PerAxis(axes));
        }
        if named != entries.len() {
            let positional = entries
                .iter()
                .find(|e| !e.contains('='))
                .copied()
                .unwrap_or(text);
            return Err(invalid(
                positional,
                "named (`dim=value`) and positional entries cannot be mixed; name every entry or none".into(),
            ));
        }
        let mut by_axis = BTreeMap::new();
        for entry in entries {
            let (name, value) = entry
                .split_once('=')
                .map(|(n, v)| (n.trim(), v.trim()))
                .unwrap_or((entry, ""));
            if name.is_empty() {
                return Err(invalid(entry, "missing dimension name before `=`".into()));
            }
            let axis = dims.iter().position(|d| *d == name).ok_or_else(|| {
                invalid(
                    entry,
                    format!(
                        "unknown dimension `{name}`; the dimensions are: {}",
                        dims.join(", ")
                    ),
                )
            })?;
            let spec = parse_value(entry, value, name)?;
            if by_axis.insert(axis as i64, spec).is_some() {
                return Err(invalid(
                    entry,
                    format!("dimension `{name}` is given more than once"),
                ));
            }
        }
        Ok(ChunkSpec::ByAxis(by_axis))
    }
}

fn invalid(spec: &str, reason: String) -> ChunkingError {
    ChunkingError::InvalidChunkSpec {
        spec: spec.to_string(),
        reason,
    }
}

fn positional_hint(dims: &[&str]) -> String {
    match dims.len() {
        0 => "no values (the array has no dimensions)".into(),
        1 => format!("1 value (for {})", dims[0]),
        n => format!("{n} values, one per dimension ({})", dims.join(", ")),
    }
}

/// One value of a `--chunks` entry: a positive integer, `-1` or `auto`.
fn parse_value(entry: &str, value: &str, dim: &str) -> Result<AxisSpec> {
    if value.is_empty() {
        return Err(invalid(entry, format!("no value for dimension `{dim}`")));
    }
    if value.eq_ignore_ascii_case("auto") {
        return Ok(AxisSpec::Auto);
    }
    if value == "-1" {
        return Ok(AxisSpec::Whole);
    }
    let hint = "expected a positive integer, -1 (whole axis) or auto";
    if let Some(digits) = value.strip_prefix('-') {
        return Err(
            if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
                invalid(
                    entry,
                    format!("chunk size {value} for `{dim}` is negative; {hint}"),
                )
            } else {
                invalid(
                    entry,
                    format!("`{value}` for `{dim}` is not a number; {hint}"),
                )
            },
        );
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            entry,
            format!("`{value}` for `{dim}` is not a number; {hint}"),
        ));
    }
    match value.parse::<u64>() {
        Ok(0) => Err(invalid(entry, format!("chunk size 0 for `{dim}`; {hint}"))),
        Ok(n) => Ok(AxisSpec::Size(n)),
        Err(_) => Err(invalid(
            entry,
            format!("chunk size {value} for `{dim}` is too large"),
        )),
    }
}

/// At most this many explicit sizes are printed; long lists are elided.
const SHOWN_SIZES: usize = 8;

impl fmt::Display for AxisSpec {
    /// Dask's notation: `auto`, `-1`, `5`, `(3, 3, 2)`; `keep` for [`AxisSpec::Keep`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AxisSpec::Auto => f.write_str("auto"),
            AxisSpec::Whole => f.write_str("-1"),
            AxisSpec::Size(n) => write!(f, "{n}"),
            AxisSpec::Keep => f.write_str("keep"),
            AxisSpec::Sizes(sizes) => {
                f.write_str("(")?;
                for (i, s) in sizes.iter().take(SHOWN_SIZES).enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{s}")?;
                }
                if sizes.len() > SHOWN_SIZES {
                    write!(f, ", … {} chunks in all", sizes.len())?;
                } else if sizes.len() == 1 {
                    f.write_str(",")?;
                }
                f.write_str(")")
            }
        }
    }
}

impl fmt::Display for ChunkSpec {
    /// Dask's notation: `auto`, `(5, -1)`, `{0: 5, -1: auto}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChunkSpec::All(axis) => write!(f, "{axis}"),
            ChunkSpec::PerAxis(axes) => {
                f.write_str("(")?;
                for (i, axis) in axes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{axis}")?;
                }
                f.write_str(if axes.len() == 1 { ",)" } else { ")" })
            }
            ChunkSpec::ByAxis(map) => {
                f.write_str("{")?;
                for (i, (axis, spec)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{axis}: {spec}")?;
                }
                f.write_str("}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_uses_dask_notation() {
        assert_eq!(ChunkSpec::All(AxisSpec::Auto).to_string(), "auto");
        assert_eq!(
            ChunkSpec::PerAxis(vec![AxisSpec::Size(5), AxisSpec::Whole]).to_string(),
            "(5, -1)"
        );
        assert_eq!(
            ChunkSpec::PerAxis(vec![AxisSpec::Sizes(vec![4])]).to_string(),
            "((4,),)"
        );
        assert_eq!(
            ChunkSpec::ByAxis([(0, AxisSpec::Size(5)), (-1, AxisSpec::Keep)].into()).to_string(),
            "{-1: keep, 0: 5}"
        );
        assert_eq!(
            AxisSpec::Sizes(vec![1; 20]).to_string(),
            "(1, 1, 1, 1, 1, 1, 1, 1, … 20 chunks in all)"
        );
    }
}
