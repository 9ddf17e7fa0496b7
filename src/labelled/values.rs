//! The in-memory values of a coordinate: numbers of any dtype (kept
//! exactly, widened to 64 bits, with the dtype they came in) or CF
//! datetimes. Coordinates are loaded when a dataset is opened and never
//! enter a task graph; selection by label searches them here.

use std::cmp::Ordering;
use std::fmt;

use ndarray::{ArrayD, Axis, IxDyn};
use num_traits::AsPrimitive;

use super::cf_time::CfDatetime;
use super::Label;
use crate::array::{Array, DynArray, DynElement};
use crate::error::{Error, Result};
use crate::io::DType;

/// A coordinate's values, in memory.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Values {
    /// Booleans.
    Bool(ArrayD<bool>),
    /// Signed integers of `dtype`, widened to `i64`.
    Int {
        /// The values.
        data: ArrayD<i64>,
        /// The dtype they were stored in.
        dtype: DType,
    },
    /// Unsigned integers of `dtype`, widened to `u64`.
    UInt {
        /// The values.
        data: ArrayD<u64>,
        /// The dtype they were stored in.
        dtype: DType,
    },
    /// Floats of `dtype` (`float32` values are exact in `f64`).
    Float {
        /// The values.
        data: ArrayD<f64>,
        /// `float32` or `float64`.
        dtype: DType,
    },
    /// Dates and times of one CF calendar.
    Time(ArrayD<CfDatetime>),
    /// Text (group labels such as seasons: `"DJF"`).
    Text(ArrayD<String>),
}

macro_rules! each_values {
    ($values:expr, $a:ident => $body:expr) => {
        match $values {
            Values::Bool($a) => $body,
            Values::Int { data: $a, .. } => $body,
            Values::UInt { data: $a, .. } => $body,
            Values::Float { data: $a, .. } => $body,
            Values::Time($a) => $body,
            Values::Text($a) => $body,
        }
    };
}

/// `$body` on the data with the result rewrapped in the same variant.
macro_rules! map_values {
    ($values:expr, $a:ident => $body:expr) => {
        match $values {
            Values::Bool($a) => Values::Bool($body),
            Values::Int { data: $a, dtype } => Values::Int {
                data: $body,
                dtype: *dtype,
            },
            Values::UInt { data: $a, dtype } => Values::UInt {
                data: $body,
                dtype: *dtype,
            },
            Values::Float { data: $a, dtype } => Values::Float {
                data: $body,
                dtype: *dtype,
            },
            Values::Time($a) => Values::Time($body),
            Values::Text($a) => Values::Text($body),
        }
    };
}

impl Values {
    /// `float64` values (a float coordinate made by hand).
    pub fn float(data: ArrayD<f64>) -> Values {
        Values::Float {
            data,
            dtype: DType::Float64,
        }
    }

    /// Computes `array` (small: a coordinate) into memory.
    pub(crate) fn load(array: &DynArray) -> Result<Values> {
        Ok(match array {
            DynArray::Bool(a) => Values::Bool(a.compute()?),
            DynArray::Int8(a) => Values::int(a.compute()?, DType::Int8),
            DynArray::Int16(a) => Values::int(a.compute()?, DType::Int16),
            DynArray::Int32(a) => Values::int(a.compute()?, DType::Int32),
            DynArray::Int64(a) => Values::int(a.compute()?, DType::Int64),
            DynArray::UInt8(a) => Values::uint(a.compute()?, DType::UInt8),
            DynArray::UInt16(a) => Values::uint(a.compute()?, DType::UInt16),
            DynArray::UInt32(a) => Values::uint(a.compute()?, DType::UInt32),
            DynArray::UInt64(a) => Values::uint(a.compute()?, DType::UInt64),
            DynArray::Float32(a) => Values::Float {
                data: a.compute()?.mapv(f64::from),
                dtype: DType::Float32,
            },
            DynArray::Float64(a) => Values::Float {
                data: a.compute()?,
                dtype: DType::Float64,
            },
        })
    }

    fn int<T: AsPrimitive<i64>>(data: ArrayD<T>, dtype: DType) -> Values {
        Values::Int {
            data: data.mapv(|v| v.as_()),
            dtype,
        }
    }

    fn uint<T: AsPrimitive<u64>>(data: ArrayD<T>, dtype: DType) -> Values {
        Values::UInt {
            data: data.mapv(|v| v.as_()),
            dtype,
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        each_values!(self, a => a.shape())
    }

    /// The number of values.
    pub fn len(&self) -> usize {
        each_values!(self, a => a.len())
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dtype's name as xarray shows it (`float32`, `int64`), and
    /// `datetime (<calendar>)` for times.
    pub fn type_name(&self) -> String {
        match self {
            Values::Bool(_) => "bool".into(),
            Values::Int { dtype, .. }
            | Values::UInt { dtype, .. }
            | Values::Float { dtype, .. } => dtype.name().to_string(),
            Values::Time(a) => match a.iter().next() {
                Some(t) => format!("datetime ({})", t.calendar),
                None => "datetime".into(),
            },
            Values::Text(_) => "str".into(),
        }
    }

    /// The values at `indices` along `axis`.
    pub(crate) fn select(&self, axis: usize, indices: &[usize]) -> Values {
        map_values!(self, a => a.select(Axis(axis), indices))
    }

    /// These values then `other`'s along `axis`, when both are of one kind
    /// (integers of one dtype, other numbers, or dates).
    pub(crate) fn concat(&self, other: &Values, axis: usize) -> Option<Values> {
        let join = |a: ndarray::ArrayViewD<'_, f64>, b: ndarray::ArrayViewD<'_, f64>| {
            ndarray::concatenate(Axis(axis), &[a, b]).ok()
        };
        Some(match (self, other) {
            (Values::Time(a), Values::Time(b)) => {
                Values::Time(ndarray::concatenate(Axis(axis), &[a.view(), b.view()]).ok()?)
            }
            // Integers of one signedness keep it, in the wider dtype.
            (Values::Int { data: a, dtype }, Values::Int { data: b, dtype: d }) => Values::Int {
                data: ndarray::concatenate(Axis(axis), &[a.view(), b.view()]).ok()?,
                dtype: if dtype.size() >= d.size() { *dtype } else { *d },
            },
            (Values::UInt { data: a, dtype }, Values::UInt { data: b, dtype: d }) => Values::UInt {
                data: ndarray::concatenate(Axis(axis), &[a.view(), b.view()]).ok()?,
                dtype: if dtype.size() >= d.size() { *dtype } else { *d },
            },
            (Values::Text(a), Values::Text(b)) => {
                Values::Text(ndarray::concatenate(Axis(axis), &[a.view(), b.view()]).ok()?)
            }
            (Values::Time(_) | Values::Text(_), _) | (_, Values::Time(_) | Values::Text(_)) => {
                return None
            }
            (a, b) => {
                let (x, y) = (a.to_f64()?, b.to_f64()?);
                let dtype = match (a.dtype()?, b.dtype()?) {
                    (DType::Float32, DType::Float32) => DType::Float32,
                    _ => DType::Float64,
                };
                Values::Float {
                    data: join(x.view(), y.view())?,
                    dtype,
                }
            }
        })
    }

    /// These values with NaN at the places along `axis` that `missing`
    /// marks (numbers become floats); `None` for values with no NaN (dates,
    /// booleans).
    pub(crate) fn with_nan(&self, axis: usize, missing: &[bool]) -> Option<Values> {
        if matches!(self, Values::Time(_) | Values::Bool(_) | Values::Text(_)) {
            return None;
        }
        let mut out = self.to_f64()?;
        for (k, &m) in missing.iter().enumerate() {
            if m {
                out.index_axis_mut(Axis(axis), k).fill(f64::NAN);
            }
        }
        let dtype = match self.dtype()? {
            DType::Float32 => DType::Float32,
            _ => DType::Float64,
        };
        Some(Values::Float { data: out, dtype })
    }

    /// The values without `axis` (of length 1).
    pub(crate) fn remove_axis(&self, axis: usize) -> Values {
        map_values!(self, a => a.index_axis(Axis(axis), 0).to_owned())
    }

    /// The value at `index` (a multi-index of the shape), as a label.
    pub fn get(&self, index: &[usize]) -> Option<Label> {
        let index = IxDyn(index);
        Some(match self {
            Values::Bool(a) => Label::Int(i64::from(*a.get(index)?)),
            Values::Int { data, .. } => Label::Int(*data.get(index)?),
            Values::UInt { data, .. } => Label::from(*data.get(index)?),
            Values::Float { data, .. } => Label::Float(*data.get(index)?),
            Values::Time(a) => Label::Time(*a.get(index)?),
            Values::Text(a) => Label::Text(a.get(index)?.clone()),
        })
    }

    /// How the `i`-th value of a 1-D coordinate compares with `label`;
    /// `None` when they cannot be compared (a number against a date, NaN,
    /// NaT).
    pub(crate) fn compare(&self, i: usize, label: &Label) -> Option<Ordering> {
        match (self, label) {
            (Values::Int { data, .. }, Label::Int(l)) => Some(data[[i]].cmp(l)),
            (Values::UInt { data, .. }, Label::Int(l)) => Some(if *l < 0 {
                Ordering::Greater
            } else {
                data[[i]].cmp(&(*l as u64))
            }),
            (Values::Time(a), Label::Time(t)) => {
                (!a[[i]].is_nat() && !t.is_nat()).then(|| a[[i]].cmp(t))
            }
            (Values::Text(a), Label::Text(t)) => Some(a[[i]].cmp(t)),
            (_, Label::Int(_) | Label::Float(_)) => self.number(i)?.partial_cmp(&label.number()?),
            _ => None,
        }
    }

    /// Whether the `i`-th value of a 1-D coordinate is missing (NaN, NaT):
    /// it is no label and sorts nowhere.
    pub(crate) fn is_missing(&self, i: usize) -> bool {
        match self {
            Values::Float { data, .. } => data[[i]].is_nan(),
            Values::Time(a) => a[[i]].is_nat(),
            _ => false,
        }
    }

    /// The `i`-th value of a 1-D numeric coordinate as `f64`.
    pub(crate) fn number(&self, i: usize) -> Option<f64> {
        match self {
            Values::Bool(a) => Some(f64::from(u8::from(a[[i]]))),
            Values::Int { data, .. } => Some(data[[i]] as f64),
            Values::UInt { data, .. } => Some(data[[i]] as f64),
            Values::Float { data, .. } => Some(data[[i]]),
            Values::Time(_) | Values::Text(_) => None,
        }
    }

    /// The distance between the `i`-th value and `label`, in the label's
    /// units (seconds between times), for `method="nearest"`.
    pub(crate) fn distance(&self, i: usize, label: &Label) -> Option<f64> {
        match (self, label) {
            (Values::Time(a), Label::Time(t)) => Some(a[[i]].seconds_between(t)?.abs()),
            _ => Some((self.number(i)? - label.number()?).abs()),
        }
    }

    /// Whether the values (1-D) are sorted ascending, descending, or
    /// neither (NaN or NaT anywhere counts as neither, as pandas has it).
    pub(crate) fn monotonic(&self) -> Option<Ordering> {
        let n = self.len();
        let label = |i: usize| self.get(&[i]);
        let mut direction = Ordering::Equal;
        for i in 1..n {
            let here = label(i)?;
            let step = self.compare(i - 1, &here)?;
            match (direction, step) {
                (_, Ordering::Equal) => {}
                (Ordering::Equal, s) => direction = s,
                (d, s) if d != s => return None,
                _ => {}
            }
        }
        // Ascending means each value is at least the one before.
        Some(match direction {
            Ordering::Less | Ordering::Equal => Ordering::Less,
            Ordering::Greater => Ordering::Greater,
        })
    }

    /// The values as a lazy array of their dtype, one chunk (times are an
    /// error naming `what`: no array holds dates).
    pub(crate) fn to_dyn_array(&self, what: &str) -> Result<DynArray> {
        fn one_chunk<T: DynElement>(data: ArrayD<T>, what: &str) -> Result<DynArray> {
            let shape: Vec<u64> = data.shape().iter().map(|&s| (s as u64).max(1)).collect();
            Ok(Array::from_values(data, shape, what)?.into())
        }
        let wide = match self {
            Values::Bool(a) => return one_chunk(a.clone(), what),
            Values::Int { data, .. } => one_chunk(data.clone(), what)?,
            Values::UInt { data, .. } => one_chunk(data.clone(), what)?,
            Values::Float { data, .. } => one_chunk(data.clone(), what)?,
            Values::Time(_) => {
                return Err(Error::Invalid {
                    operation: what.to_string(),
                    message: "a time coordinate has dates, which no array holds: read its values"
                        .into(),
                })
            }
            Values::Text(_) => {
                return Err(Error::Invalid {
                    operation: what.to_string(),
                    message: "a coordinate of text, which no ndchunk array holds (nor writes)"
                        .into(),
                })
            }
        };
        let dtype = self.dtype().unwrap_or(DType::Float64);
        Ok(crate::with_dtype!(dtype, T => DynArray::from(wide.astype::<T>())))
    }

    /// The values as `f64`s (`None` for times).
    pub(crate) fn to_f64(&self) -> Option<ArrayD<f64>> {
        Some(match self {
            Values::Bool(a) => a.mapv(|v| f64::from(u8::from(v))),
            Values::Int { data, .. } => data.mapv(|v| v as f64),
            Values::UInt { data, .. } => data.mapv(|v| v as f64),
            Values::Float { data, .. } => data.clone(),
            Values::Time(_) | Values::Text(_) => return None,
        })
    }

    /// The dtype of numeric values (`None` for times).
    pub(crate) fn dtype(&self) -> Option<DType> {
        match self {
            Values::Bool(_) => Some(DType::Bool),
            Values::Int { dtype, .. }
            | Values::UInt { dtype, .. }
            | Values::Float { dtype, .. } => Some(*dtype),
            Values::Time(_) | Values::Text(_) => None,
        }
    }
}

impl fmt::Display for Values {
    /// The first and last few values, as xarray's repr shows them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.len();
        let shown: Vec<usize> = if n <= 6 {
            (0..n).collect()
        } else {
            vec![0, 1, 2, n - 3, n - 2, n - 1]
        };
        let text = |flat: usize| -> String {
            let index = unravel(flat, self.shape());
            match self.get(&index) {
                Some(Label::Time(t)) => t.to_string(),
                Some(Label::Float(v)) => format_float(v),
                Some(Label::Int(v)) => v.to_string(),
                Some(Label::Text(s)) => s,
                None => String::new(),
            }
        };
        let mut parts: Vec<String> = shown.iter().map(|&i| text(i)).collect();
        if n > 6 {
            parts.insert(3, "...".into());
        }
        f.write_str(&parts.join(" "))
    }
}

/// The multi-index of C-order position `flat` in `shape`.
fn unravel(mut flat: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &len) in shape.iter().enumerate().rev() {
        if len > 0 {
            index[i] = flat % len;
            flat /= len;
        }
    }
    index
}

/// A float as numpy prints it: shortest round trip, `.0` dropped for
/// whole numbers ending in `.`.
fn format_float(v: f64) -> String {
    if v.is_nan() {
        return "nan".into();
    }
    if v.fract() == 0.0 && v.abs() < 1e16 {
        return format!("{v:.1}");
    }
    format!("{v}")
}
