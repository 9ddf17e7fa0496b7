//! Named elementwise kernels: the labelled layer's own element-by-element
//! functions (CF decoding and encoding, `fillna`, `notnull`, rolling
//! windows' arithmetic, …) as one serialisable operation. A [`Kernel`] is
//! data (a name and its parameters), so an array made by one records a
//! recipe (`kernel`, the kernel as JSON, its inputs) that a plan file
//! replays through [`Kernel::apply`] in another process, where a Rust
//! closure could not be rebuilt.
//!
//! Each kernel reads its inputs as `float64` (integers and booleans
//! converted in the same step, as `astype` would; `nat_as_nan` reads
//! `int64` as it is) and gives `float64` (`float32` where said), in one
//! lane step.

use std::fmt;

use ndchunk_io::DType;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::recipe::{scalar, scalar_from};
use super::DynArray;

/// A number kept exactly in a plan file (its bits: NaN and `-0.0` too).
#[derive(Clone, Copy, PartialEq)]
pub(crate) struct Exact(pub(crate) f64);

impl fmt::Debug for Exact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl Serialize for Exact {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        scalar(self.0).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Exact {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = serde_json::Value::deserialize(d)?;
        scalar_from::<f64>(&value)
            .map(Exact)
            .map_err(serde::de::Error::custom)
    }
}

/// One elementwise kernel and its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kernel", rename_all = "snake_case")]
pub(crate) enum Kernel {
    /// CF decoding, as xarray's mask and scale/offset coders: the stored
    /// number reinterpreted in the other signedness (`_Unsigned`, on
    /// integers of `bits`), NaN where it is one of `fills`, then times
    /// `scale`, plus `offset`; in `float32` when `single` (each step
    /// rounded to it, as numpy's in-place arithmetic on `float32`).
    CfDecode {
        unsigned: Option<bool>,
        bits: u32,
        fills: Vec<Exact>,
        scale: Option<Exact>,
        offset: Option<Exact>,
        single: bool,
    },
    /// CF encoding, as xarray's: `round_half_even((x - offset) / scale)`,
    /// NaN as `missing`.
    CfEncode {
        scale: Exact,
        offset: Exact,
        missing: Exact,
    },
    /// Rounding half to even (floats into integers, as xarray's encoding).
    RoundHalfEven,
    /// `int64` times with NaT (int64's smallest) as NaN, the rest as they
    /// are, as `float64`.
    NatAsNan,
    /// NaN replaced by `value` (`fillna`).
    #[serde(rename = "fillna")]
    FillNa { value: Exact },
    /// 1 where the value is not NaN, else 0 (`notnull`, as numbers).
    #[serde(rename = "notnull")]
    NotNull,
    /// NaN where the value is 0.
    ZeroAsNan,
    /// The value squared.
    Square,
    /// numpy's variance of each element alone: 0, or NaN where it is NaN
    /// or `ddof` leaves no degrees of freedom; `float32` for `float32`.
    SpreadOfOne { ddof: u64 },
    /// A window's sum `s` where its count `n` reaches `min_count`, else
    /// NaN (inputs: sums, counts).
    WindowSum { min_count: Exact },
    /// A window's mean `s / n` where `n` reaches `min_count`, else NaN
    /// (inputs: sums, counts).
    WindowMean { min_count: Exact },
    /// `max(q - m², 0)`: a variance from the mean square `q` and the mean
    /// `m` (inputs: mean squares, means).
    Variance,
    /// `sqrt(v)` where the count `n` reaches `min_count`, else NaN
    /// (inputs: variances, counts).
    WindowStd { min_count: Exact },
}

impl Kernel {
    /// The operation's name in plans and errors.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Kernel::CfDecode { .. } => "cf_decode",
            Kernel::CfEncode { .. } => "cf_encode",
            Kernel::RoundHalfEven => "round_half_even",
            Kernel::NatAsNan => "nat_as_nan",
            Kernel::FillNa { .. } => "fillna",
            Kernel::NotNull => "notnull",
            Kernel::ZeroAsNan => "zero_as_nan",
            Kernel::Square => "square",
            Kernel::SpreadOfOne { .. } => "spread_of_one",
            Kernel::WindowSum { .. } => "window_sum",
            Kernel::WindowMean { .. } => "window_mean",
            Kernel::Variance => "variance",
            Kernel::WindowStd { .. } => "window_std",
        }
    }

    /// This kernel over `inputs` (one, or two for the window kernels and
    /// `variance`, which take `float64` arrays of one shape or shapes that
    /// broadcast). A wrong number or type of inputs gives an array that
    /// is an error when planned.
    pub(crate) fn apply(&self, inputs: &[&DynArray]) -> DynArray {
        let name = self.name();
        let origins = inputs.iter().map(|a| super::each_origin(a)).collect();
        let args = serde_json::to_value(self).unwrap_or_default();
        let arity = match self {
            Kernel::WindowSum { .. }
            | Kernel::WindowMean { .. }
            | Kernel::Variance
            | Kernel::WindowStd { .. } => 2,
            _ => 1,
        };
        let Some(&x) = inputs.first().filter(|_| inputs.len() == arity) else {
            let grid = inputs.first().map_or_else(
                || ndchunk_chunking::ChunkGrid::regular(&[], &[]).expect("a 0-d grid"),
                |a| a.grid().clone(),
            );
            let message = format!("takes {arity} arrays, given {}", inputs.len());
            return crate::ops::elementwise::invalid::<f64>(name, grid, message).into();
        };
        let out = match self.clone() {
            Kernel::CfDecode {
                unsigned,
                bits,
                fills,
                scale,
                offset,
                single,
            } => {
                let decode = MaskScale {
                    unsigned,
                    bits,
                    fills: fills.iter().map(|f| f.0).collect(),
                    scale: scale.map(|s| s.0),
                    offset: offset.map(|o| o.0),
                    single,
                };
                if single {
                    DynArray::from(x.map_f64(name, move |v| decode.apply(v) as f32))
                } else {
                    DynArray::from(x.map_f64(name, move |v| decode.apply(v)))
                }
            }
            Kernel::CfEncode {
                scale,
                offset,
                missing,
            } => {
                let (scale, offset, missing) = (scale.0, offset.0, missing.0);
                DynArray::from(x.map_f64(name, move |v| {
                    if v.is_nan() {
                        missing
                    } else {
                        ((v - offset) / scale).round_ties_even()
                    }
                }))
            }
            Kernel::RoundHalfEven => DynArray::from(x.map_f64(name, f64::round_ties_even)),
            Kernel::NatAsNan => match x.typed::<i64>() {
                Ok(ints) => {
                    DynArray::from(
                        ints.map(name, |v| if v == i64::MIN { f64::NAN } else { v as f64 }),
                    )
                }
                Err(_) => wrong_type(name, x, "int64"),
            },
            Kernel::FillNa { value } => {
                let value = value.0;
                DynArray::from(x.map_f64(name, move |v| if v.is_nan() { value } else { v }))
            }
            Kernel::NotNull => {
                DynArray::from(x.map_f64(name, |v| if v.is_nan() { 0.0 } else { 1.0 }))
            }
            Kernel::ZeroAsNan => {
                DynArray::from(x.map_f64(name, |v| if v == 0.0 { f64::NAN } else { v }))
            }
            Kernel::Square => DynArray::from(x.map_f64(name, |v| v * v)),
            Kernel::SpreadOfOne { ddof } => {
                let spread = move |v: f64| {
                    if ddof > 0 || v.is_nan() {
                        f64::NAN
                    } else {
                        0.0
                    }
                };
                if x.dtype() == DType::Float32 {
                    DynArray::from(x.map_f64(name, move |v| spread(v) as f32))
                } else {
                    DynArray::from(x.map_f64(name, spread))
                }
            }
            Kernel::WindowSum { min_count }
            | Kernel::WindowMean { min_count }
            | Kernel::WindowStd { min_count } => {
                let min = min_count.0;
                let (Ok(a), Ok(n)) = (x.typed::<f64>(), inputs[1].typed::<f64>()) else {
                    return wrong_type(name, x, "float64");
                };
                DynArray::from(match self {
                    Kernel::WindowSum { .. } => {
                        a.zip_with(n, name, move |s, n| if n >= min { s } else { f64::NAN })
                    }
                    Kernel::WindowMean { .. } => {
                        a.zip_with(n, name, move |s, n| if n >= min { s / n } else { f64::NAN })
                    }
                    _ => a.zip_with(
                        n,
                        name,
                        move |v, n| {
                            if n >= min {
                                v.sqrt()
                            } else {
                                f64::NAN
                            }
                        },
                    ),
                })
            }
            Kernel::Variance => {
                let (Ok(q), Ok(m)) = (x.typed::<f64>(), inputs[1].typed::<f64>()) else {
                    return wrong_type(name, x, "float64");
                };
                DynArray::from(q.zip_with(m, name, |q, m| (q - m * m).max(0.0)))
            }
        };
        out.recorded("kernel", args, origins)
    }
}

/// An array that is an error when planned: `name` over inputs of the
/// wrong type.
fn wrong_type(name: &str, x: &DynArray, wanted: &str) -> DynArray {
    let message = format!("takes {wanted} arrays, given {}", x.dtype());
    crate::ops::elementwise::invalid::<f64>(name, x.grid().clone(), message).into()
}

/// [`Kernel::CfDecode`]'s arithmetic.
#[derive(Clone)]
struct MaskScale {
    unsigned: Option<bool>,
    bits: u32,
    fills: Vec<f64>,
    scale: Option<f64>,
    offset: Option<f64>,
    single: bool,
}

impl MaskScale {
    fn apply(&self, x: f64) -> f64 {
        let v = reinterpret(x, self.unsigned, self.bits);
        if self
            .fills
            .iter()
            .any(|&f| f == v || (f.is_nan() && v.is_nan()))
        {
            return f64::NAN;
        }
        let round = |v: f64| if self.single { v as f32 as f64 } else { v };
        let mut v = round(v);
        if let Some(s) = self.scale {
            v = round(v * round(s));
        }
        if let Some(o) = self.offset {
            v = round(v + round(o));
        }
        v
    }
}

/// `v`, an integer of `bits`, read in the other signedness when
/// `unsigned` says so (xarray's `_Unsigned`).
pub(crate) fn reinterpret(v: f64, unsigned: Option<bool>, bits: u32) -> f64 {
    if unsigned.is_none() {
        return v;
    }
    let span = (bits as f64).exp2();
    match unsigned {
        Some(true) if v < 0.0 => v + span,
        Some(false) if v >= span / 2.0 => v - span,
        _ => v,
    }
}
