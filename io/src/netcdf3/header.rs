//! The netCDF-3 header: the format signature, the dimensions, the global
//! and variable attributes and the variables, read with every count
//! checked against the bytes left in the file before anything is
//! allocated for it, then each variable's layout checked to lie in the
//! file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use serde_json::{Map, Number, Value};

use ndchunk_chunking::ChunkGrid;

use crate::dtype::DType;
use crate::error::{IoError, Result};
use crate::meta::{ArrayMeta, Scalar};

use super::{default_chunks, Netcdf3Format};

/// A netCDF external type (`nc_type`), by its code in the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NcType {
    Byte,
    Char,
    Short,
    Int,
    Float,
    Double,
    UByte,
    UShort,
    UInt,
    Int64,
    UInt64,
}

impl NcType {
    fn from_code(code: u32, format: Netcdf3Format) -> Option<Self> {
        use NcType::*;
        let ty = match code {
            1 => Byte,
            2 => Char,
            3 => Short,
            4 => Int,
            5 => Float,
            6 => Double,
            7 => UByte,
            8 => UShort,
            9 => UInt,
            10 => Int64,
            11 => UInt64,
            _ => return None,
        };
        (code <= 6 || format == Netcdf3Format::Data64).then_some(ty)
    }

    fn size(self) -> u64 {
        use NcType::*;
        match self {
            Byte | Char | UByte => 1,
            Short | UShort => 2,
            Int | UInt | Float => 4,
            Double | Int64 | UInt64 => 8,
        }
    }

    /// `None` for `char`, which is text.
    pub(super) fn dtype(self) -> Option<DType> {
        use NcType::*;
        Some(match self {
            Byte => DType::Int8,
            Char => return None,
            Short => DType::Int16,
            Int => DType::Int32,
            Float => DType::Float32,
            Double => DType::Float64,
            UByte => DType::UInt8,
            UShort => DType::UInt16,
            UInt => DType::UInt32,
            Int64 => DType::Int64,
            UInt64 => DType::UInt64,
        })
    }

    /// netCDF's default fill value for the type (`NC_FILL_*` of netcdf.h),
    /// what a variable holds where nothing was written.
    fn default_fill(self) -> Scalar {
        use NcType::*;
        match self {
            Byte => Scalar::Int(-127),
            Char => Scalar::UInt(0),
            Short => Scalar::Int(-32767),
            Int => Scalar::Int(-2_147_483_647),
            // 9.9692099683868690e+36, exactly representable in both widths.
            Float => Scalar::Float(f64::from(f32::from_bits(0x7cf0_0000))),
            Double => Scalar::Float(f64::from_bits(0x479e_0000_0000_0000)),
            UByte => Scalar::UInt(255),
            UShort => Scalar::UInt(65535),
            UInt => Scalar::UInt(4_294_967_295),
            Int64 => Scalar::Int(-9_223_372_036_854_775_806),
            UInt64 => Scalar::UInt(18_446_744_073_709_551_614),
        }
    }

    /// One big-endian element (`bytes.len() == self.size()`) as a scalar.
    fn decode(self, bytes: &[u8]) -> Scalar {
        fn be<const N: usize>(bytes: &[u8]) -> [u8; N] {
            let mut a = [0; N];
            a.copy_from_slice(&bytes[..N]);
            a
        }
        use NcType::*;
        match self {
            Byte => Scalar::Int(i64::from(i8::from_be_bytes(be(bytes)))),
            Char | UByte => Scalar::UInt(u64::from(bytes[0])),
            Short => Scalar::Int(i64::from(i16::from_be_bytes(be(bytes)))),
            Int => Scalar::Int(i64::from(i32::from_be_bytes(be(bytes)))),
            Float => Scalar::Float(f64::from(f32::from_be_bytes(be(bytes)))),
            Double => Scalar::Float(f64::from_be_bytes(be(bytes))),
            UShort => Scalar::UInt(u64::from(u16::from_be_bytes(be(bytes)))),
            UInt => Scalar::UInt(u64::from(u32::from_be_bytes(be(bytes)))),
            Int64 => Scalar::Int(i64::from_be_bytes(be(bytes))),
            UInt64 => Scalar::UInt(u64::from_be_bytes(be(bytes))),
        }
    }
}

/// An attribute: its type and its values as stored (big-endian).
#[derive(Debug)]
pub(super) struct Attr {
    name: String,
    ty: NcType,
    values: Vec<u8>,
}

impl Attr {
    /// What netCDF4-python reads: text as a string (NULs dropped, invalid
    /// UTF-8 replaced), one number as a number, several as an array. JSON
    /// has no NaN or infinities: they become "NaN", "Infinity" and
    /// "-Infinity", as in Zarr's fill values.
    fn to_json(&self) -> Value {
        if self.ty == NcType::Char {
            return Value::String(String::from_utf8_lossy(&self.values).replace('\0', ""));
        }
        let size = self.ty.size() as usize;
        let mut values: Vec<Value> = self
            .values
            .chunks_exact(size)
            .map(|bytes| match self.ty.decode(bytes) {
                Scalar::Int(v) => Value::from(v),
                Scalar::UInt(v) => Value::from(v),
                Scalar::Bool(v) => Value::from(v),
                Scalar::Float(v) => Number::from_f64(v).map_or_else(
                    || {
                        Value::from(if v.is_nan() {
                            "NaN"
                        } else if v > 0.0 {
                            "Infinity"
                        } else {
                            "-Infinity"
                        })
                    },
                    Value::Number,
                ),
            })
            .collect();
        match values.len() {
            1 => values.swap_remove(0),
            _ => Value::Array(values),
        }
    }
}

pub(super) fn attributes_json(attrs: &[Attr]) -> Map<String, Value> {
    attrs
        .iter()
        .map(|a| (a.name.clone(), a.to_json()))
        .collect()
}

#[derive(Debug)]
pub(super) struct Var {
    pub(super) name: String,
    dims: Vec<usize>,
    attrs: Vec<Attr>,
    pub(super) ty: NcType,
    begin: u64,
}

/// Where a variable's elements are: element `i` (an index per axis) is at
/// `begin + Σ i[k]·strides[k]`.
#[derive(Debug, Clone)]
pub(super) struct Layout {
    pub(super) shape: Vec<u64>,
    /// Bytes between neighbours along each axis; along the record axis, the
    /// record size.
    pub(super) strides: Vec<u64>,
    pub(super) begin: u64,
    pub(super) itemsize: u64,
}

#[derive(Debug)]
pub(super) struct Header {
    path: String,
    pub(super) format: Netcdf3Format,
    /// Name and length of each dimension; the record dimension's length is
    /// the number of records.
    dims: Vec<(String, u64)>,
    pub(super) attrs: Vec<Attr>,
    pub(super) vars: Vec<Var>,
    pub(super) layouts: Vec<Layout>,
}

impl Header {
    pub(super) fn array_meta(&self, index: usize) -> Result<ArrayMeta> {
        let var = &self.vars[index];
        let layout = &self.layouts[index];
        let dtype = var.ty.dtype().ok_or_else(|| IoError::UnsupportedDType {
            dtype: "char".into(),
        })?;
        let grid = ChunkGrid::regular(
            &layout.shape,
            &default_chunks(&layout.shape, layout.itemsize),
        )
        .map_err(|source| IoError::Grid {
            location: format!("{}/{}", self.path, var.name),
            source,
        })?;
        let fill_value = var
            .attrs
            .iter()
            .find(|a| a.name == "_FillValue" && a.ty != NcType::Char)
            .and_then(|a| a.values.get(..a.ty.size() as usize).map(|b| a.ty.decode(b)))
            .unwrap_or_else(|| var.ty.default_fill());
        // In the variable's type, so that a `_FillValue` stored as another
        // type (which netCDF-C forbids, other writers do not) says what the
        // data holds.
        let fill_value =
            Scalar::from_ne_bytes(&fill_value.to_ne_bytes(dtype), dtype).unwrap_or(fill_value);
        let mut meta = ArrayMeta::new(grid, dtype, fill_value);
        meta.dimension_names = Some(
            var.dims
                .iter()
                .map(|&d| Some(self.dims[d].0.clone()))
                .collect(),
        );
        meta.attributes = attributes_json(&var.attrs);
        meta.attribute_dtypes = var
            .attrs
            .iter()
            .filter_map(|a| Some((a.name.clone(), a.ty.dtype()?)))
            .collect();
        Ok(meta)
    }
}

/// Opens and parses a file; the header must describe data that the file
/// holds in full.
pub(super) fn read_file(path: &Path) -> Result<(File, Header)> {
    let not_a_store = |reason: String| IoError::NotAStore {
        path: path.display().to_string(),
        reason,
    };
    let file = File::open(path).map_err(|e| not_a_store(e.to_string()))?;
    let metadata = file.metadata().map_err(|e| not_a_store(e.to_string()))?;
    if metadata.is_dir() {
        return Err(not_a_store("a directory, not a netCDF-3 file".into()));
    }
    let len = metadata.len();
    let mut reader = HeaderReader {
        input: BufReader::new(&file),
        pos: 0,
        len,
        wide: false,
    };
    let format = reader.magic().map_err(not_a_store)?;
    reader.wide = format == Netcdf3Format::Data64;
    let header =
        parse(reader, format, path.display().to_string()).map_err(|reason| IoError::Metadata {
            location: path.display().to_string(),
            reason,
        })?;
    Ok((file, header))
}

/// Reads the header's big-endian fields, never past the end of the file:
/// each count is checked against the bytes left before anything is
/// allocated for it.
struct HeaderReader<R> {
    input: R,
    pos: u64,
    len: u64,
    /// CDF-5: counts are 8 bytes.
    wide: bool,
}

type Parse<T> = std::result::Result<T, String>;

impl<R: Read> HeaderReader<R> {
    fn bytes(&mut self, n: u64, what: &str) -> Parse<Vec<u8>> {
        let left = self.len - self.pos;
        if n > left {
            return Err(format!(
                "the header is cut short: {what} needs {n} bytes at offset {}, the file has {left} more",
                self.pos
            ));
        }
        let size = usize::try_from(n).map_err(|_| format!("{what}: {n} bytes"))?;
        let mut buf = vec![0; size];
        self.input
            .read_exact(&mut buf)
            .map_err(|e| format!("reading {what} at offset {}: {e}", self.pos))?;
        self.pos += n;
        Ok(buf)
    }

    fn array<const N: usize>(&mut self, what: &str) -> Parse<[u8; N]> {
        let bytes = self.bytes(N as u64, what)?;
        let mut a = [0; N];
        a.copy_from_slice(&bytes);
        Ok(a)
    }

    fn u32(&mut self, what: &str) -> Parse<u32> {
        self.array(what).map(u32::from_be_bytes)
    }

    /// A `NON_NEG`: a non-negative 32-bit integer, 64-bit in CDF-5.
    fn count(&mut self, what: &str) -> Parse<u64> {
        let value = if self.wide {
            i64::from_be_bytes(self.array(what)?)
        } else {
            i64::from(i32::from_be_bytes(self.array(what)?))
        };
        u64::try_from(value).map_err(|_| format!("{what} is negative ({value})"))
    }

    /// A count field that may be all ones (`numrecs` while streaming, the
    /// `vsize` of a variable over 4 GiB): `None` then.
    fn count_or_unknown(&mut self, what: &str) -> Parse<Option<u64>> {
        let raw = if self.wide {
            u64::from_be_bytes(self.array(what)?)
        } else {
            u64::from(self.u32(what)?)
        };
        let all_ones = if self.wide {
            u64::MAX
        } else {
            u64::from(u32::MAX)
        };
        let max = if self.wide {
            i64::MAX as u64
        } else {
            i32::MAX as u64
        };
        match raw {
            r if r == all_ones => Ok(None),
            r if r <= max => Ok(Some(r)),
            r => Err(format!("{what} is negative ({r:#x})")),
        }
    }

    fn padding(&mut self, n: u64, what: &str) -> Parse<()> {
        self.bytes((4 - n % 4) % 4, what).map(drop)
    }

    fn name(&mut self, what: &str) -> Parse<String> {
        let n = self.count(what)?;
        let bytes = self.bytes(n, what)?;
        self.padding(n, what)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// A list's tag and count; `ABSENT` (zero tag, zero count) is empty.
    fn list(&mut self, tag: u32, what: &str) -> Parse<u64> {
        let found = self.u32(what)?;
        let n = self.count(what)?;
        match found {
            0 if n == 0 => Ok(0),
            t if t == tag => Ok(n),
            t => Err(format!(
                "expected the {what} (tag {tag:#x}, or an absent list) at offset {}, found tag {t:#x} and count {n}",
                self.pos
            )),
        }
    }

    fn nc_type(&mut self, format: Netcdf3Format, what: &str) -> Parse<NcType> {
        let code = self.u32(what)?;
        NcType::from_code(code, format)
            .ok_or_else(|| format!("{what}: unknown type code {code} for {format:?}"))
    }

    fn attrs(&mut self, format: Netcdf3Format, owner: &str) -> Parse<Vec<Attr>> {
        let n = self.list(0x0C, &format!("attribute list of {owner}"))?;
        let mut attrs = Vec::new();
        for _ in 0..n {
            let name = self.name(&format!("an attribute name of {owner}"))?;
            let what = format!("attribute `{name}` of {owner}");
            let ty = self.nc_type(format, &what)?;
            let nelems = self.count(&what)?;
            let size = nelems
                .checked_mul(ty.size())
                .ok_or_else(|| format!("{what} claims {nelems} values"))?;
            let values = self.bytes(size, &what)?;
            self.padding(size, &what)?;
            attrs.push(Attr { name, ty, values });
        }
        Ok(attrs)
    }

    /// `CDF` and the version byte.
    fn magic(&mut self) -> Parse<Netcdf3Format> {
        if self.len < 4 {
            return Err(format!("{} bytes: too short to be a netCDF file", self.len));
        }
        let magic = self.array::<4>("the format signature")?;
        match magic {
            [b'C', b'D', b'F', 1] => Ok(Netcdf3Format::Classic),
            [b'C', b'D', b'F', 2] => Ok(Netcdf3Format::Offset64),
            [b'C', b'D', b'F', 5] => Ok(Netcdf3Format::Data64),
            [b'C', b'D', b'F', v] => Err(format!(
                "netCDF-3 version byte {v} is unknown (1: classic, 2: 64-bit offset, 5: CDF-5)"
            )),
            [0x89, b'H', b'D', b'F'] => {
                Err("an HDF5 file (netCDF-4?), not netCDF-3: open it with the HDF5 backend".into())
            }
            _ => Err(format!(
                "not a netCDF-3 file: it starts with {magic:02x?}, not `CDF`"
            )),
        }
    }
}

fn parse<R: Read>(mut r: HeaderReader<R>, format: Netcdf3Format, path: String) -> Parse<Header> {
    let numrecs = r.count_or_unknown("the number of records")?;

    let n = r.list(0x0A, "dimension list")?;
    let mut dims = Vec::new();
    for _ in 0..n {
        let name = r.name("a dimension name")?;
        let len = r.count(&format!("the length of dimension `{name}`"))?;
        dims.push((name, len));
    }
    let unlimited: Vec<usize> = (0..dims.len()).filter(|&d| dims[d].1 == 0).collect();
    let record_dim = match unlimited.as_slice() {
        [] => None,
        [d] => Some(*d),
        [a, b, ..] => {
            return Err(format!(
                "two unlimited dimensions (`{}` and `{}`); netCDF-3 allows one",
                dims[*a].0, dims[*b].0
            ))
        }
    };

    let attrs = r.attrs(format, "the file")?;

    let n = r.list(0x0B, "variable list")?;
    let mut vars = Vec::new();
    for _ in 0..n {
        let name = r.name("a variable name")?;
        let what = format!("variable `{name}`");
        let ndims = r.count(&what)?;
        let mut var_dims = Vec::new();
        for _ in 0..ndims {
            let id = r.count(&what)?;
            match usize::try_from(id).ok().filter(|&d| d < dims.len()) {
                Some(d) => var_dims.push(d),
                None => {
                    return Err(format!(
                        "{what} uses dimension id {id}, but there are {} dimensions",
                        dims.len()
                    ))
                }
            }
        }
        if var_dims.iter().skip(1).any(|&d| Some(d) == record_dim) {
            return Err(format!(
                "{what} uses the unlimited dimension other than first"
            ));
        }
        let var_attrs = r.attrs(format, &what)?;
        let ty = r.nc_type(format, &what)?;
        // The size field is all ones for variables over 4 GiB in the
        // 32-bit formats; the layout is computed from the shape instead.
        r.count_or_unknown(&what)?;
        let begin = if format == Netcdf3Format::Classic {
            r.count(&format!("the offset of {what}"))?
        } else {
            let raw = i64::from_be_bytes(r.array(&format!("the offset of {what}"))?);
            u64::try_from(raw).map_err(|_| format!("the offset of {what} is negative"))?
        };
        vars.push(Var {
            name,
            dims: var_dims,
            attrs: var_attrs,
            ty,
            begin,
        });
    }

    let layouts = layouts(&mut dims, &vars, numrecs, record_dim, r.len)?;
    Ok(Header {
        path,
        format,
        dims,
        attrs,
        vars,
        layouts,
    })
}

/// Shapes, strides and extents of every variable, each checked to lie in
/// the file; sets the record dimension's length to the number of records.
fn layouts(
    dims: &mut [(String, u64)],
    vars: &[Var],
    numrecs: Option<u64>,
    record_dim: Option<usize>,
    file_len: u64,
) -> Parse<Vec<Layout>> {
    let is_record = |v: &Var| record_dim.is_some_and(|r| v.dims.first() == Some(&r));
    let overflow = |v: &Var| format!("variable `{}` is larger than 2^64 bytes", v.name);
    // Bytes of one record of a record variable, or of a whole fixed one.
    let fixed_lens: Vec<u64> = dims.iter().map(|d| d.1).collect();
    let slab_bytes = |v: &Var| -> Parse<u64> {
        let skip = usize::from(is_record(v));
        v.dims[skip..]
            .iter()
            .try_fold(v.ty.size(), |n, &d| n.checked_mul(fixed_lens[d]))
            .ok_or_else(|| overflow(v))
    };
    // Records hold each record variable's slab padded to 4 bytes, except
    // when there is one record variable: then netCDF does not pad.
    let record_vars: Vec<&Var> = vars.iter().filter(|v| is_record(v)).collect();
    let recsize = match record_vars.as_slice() {
        [only] => slab_bytes(only)?,
        many => many.iter().try_fold(0u64, |sum, v| {
            let slab = slab_bytes(v)?;
            sum.checked_add(slab.div_ceil(4) * 4)
                .ok_or_else(|| overflow(v))
        })?,
    };
    let numrecs = match numrecs {
        Some(n) => n,
        // Streaming: the records run to the end of the file.
        None => match record_vars.iter().map(|v| v.begin).min() {
            Some(begin_rec) if recsize > 0 => file_len.saturating_sub(begin_rec) / recsize,
            _ => 0,
        },
    };
    if let Some(d) = record_dim {
        dims[d].1 = numrecs;
    }
    let mut out = Vec::with_capacity(vars.len());
    for v in vars {
        let shape: Vec<u64> = v.dims.iter().map(|&d| dims[d].1).collect();
        let mut strides = vec![0; shape.len()];
        let mut step = v.ty.size();
        for k in (0..shape.len()).rev() {
            strides[k] = step;
            step = step.saturating_mul(shape[k]);
        }
        let slab = slab_bytes(v)?;
        let end = if shape.contains(&0) {
            Some(v.begin)
        } else if is_record(v) {
            strides[0] = recsize;
            (numrecs - 1)
                .checked_mul(recsize)
                .and_then(|n| n.checked_add(slab))
                .and_then(|n| n.checked_add(v.begin))
        } else {
            v.begin.checked_add(slab)
        };
        match end {
            Some(end) if end <= file_len => {}
            Some(end) => {
                return Err(format!(
                    "the file is truncated: variable `{}` ends at byte {end}, the file has {file_len} bytes",
                    v.name
                ))
            }
            None => return Err(overflow(v)),
        }
        out.push(Layout {
            shape,
            strides,
            begin: v.begin,
            itemsize: v.ty.size(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_fill_values_are_netcdf_h() {
        assert_eq!(
            NcType::Float.default_fill().to_ne_bytes(DType::Float32),
            (9.969_209_968_386_869e36_f64 as f32).to_ne_bytes()
        );
        assert_eq!(
            NcType::Float.default_fill().to_ne_bytes(DType::Float32),
            0x7cf0_0000_u32.to_ne_bytes()
        );
        assert_eq!(
            NcType::Double.default_fill().to_ne_bytes(DType::Float64),
            0x479e_0000_0000_0000_u64.to_ne_bytes()
        );
    }
}
