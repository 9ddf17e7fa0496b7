//! Seeded random arrays whose values do not depend on the chunking: each
//! element's value is a function of the seed and its flat C-order index
//! (counter-based generation), so a block is generated on its own, in any
//! order, on any thread, and rechunking or re-reading never changes a value.
//!
//! The bits of element `i` are output `i` of SplitMix64 (Steele, Lea and
//! Flood 2014; Vigna's `splitmix64.c`) seeded with `seed`: the finaliser of
//! `seed + (i + 1) · γ`, which passes BigCrush and needs no state.

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::Region;
use num_traits::{AsPrimitive, Float};

use super::create::source;
use super::{Array, Chunks};
use crate::error::{Error, Result};
use crate::ops::numeric::Numeric;
use crate::runtime::block::shape_of;

/// SplitMix64's increment, 2^64 / φ.
const GAMMA: u64 = 0x9E37_79B9_7F4A_7C15;

/// Output `counter` (from 0) of SplitMix64 seeded with `seed`.
///
/// ```
/// // The reference outputs for seed 1234567 (Rosetta Code, splitmix64.c).
/// assert_eq!(ndchunk::splitmix64(1234567, 0), 6457827717110365317);
/// assert_eq!(ndchunk::splitmix64(1234567, 4), 16408922859458223821);
/// ```
pub fn splitmix64(seed: u64, counter: u64) -> u64 {
    let mut z = seed.wrapping_add(counter.wrapping_add(1).wrapping_mul(GAMMA));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A uniform float64 in `[0, 1)`: the top 53 bits, scaled.
fn unit_f64(bits: u64) -> f64 {
    (bits >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The float types random arrays are made of: `f32` and `f64`.
pub trait RandomFloat: Numeric + Float {
    /// A uniform value in `[0, 1)` from 64 random bits, using as many of
    /// them as the mantissa holds (so it never rounds up to 1).
    fn unit(bits: u64) -> Self;
}

impl RandomFloat for f32 {
    fn unit(bits: u64) -> Self {
        (bits >> 40) as f32 * (1.0 / (1u32 << 24) as f32)
    }
}

impl RandomFloat for f64 {
    fn unit(bits: u64) -> Self {
        unit_f64(bits)
    }
}

/// A standard normal value for element `i`: the Box-Muller transform of
/// the uniforms of counters `2k` and `2k + 1`, `k = i / 2`; an even `i`
/// takes the cosine, an odd one the sine, so both outputs are used.
fn standard_normal(seed: u64, i: u64) -> f64 {
    let k = i >> 1;
    // 1 - u lies in (0, 1]: the logarithm is finite.
    let u1 = 1.0 - unit_f64(splitmix64(seed, 2 * k));
    let u2 = unit_f64(splitmix64(seed, 2 * k + 1));
    let r = (-2.0 * u1.ln()).sqrt();
    let theta = std::f64::consts::TAU * u2;
    if i & 1 == 0 {
        r * theta.cos()
    } else {
        r * theta.sin()
    }
}

/// The block `region` of an array of `shape`, element by element from its
/// flat C-order index, a row (along the last axis) at a time.
fn from_flat_index<T>(shape: &[u64], region: &Region, f: impl Fn(u64) -> T) -> Result<ArrayD<T>> {
    let extent = region.shape();
    let ndim = extent.len();
    let mut values = Vec::with_capacity(region.num_elements() as usize);
    match extent.split_last() {
        None => values.push(f(0)),
        Some((&row_len, outer)) => {
            for row in 0..region.num_elements().checked_div(row_len).unwrap_or(0) {
                let (mut rest, mut stride) = (row, shape[ndim - 1]);
                let mut flat = region.start()[ndim - 1];
                for a in (0..ndim - 1).rev() {
                    flat += (region.start()[a] + rest % outer[a]) * stride;
                    rest /= outer[a];
                    stride *= shape[a];
                }
                values.extend((flat..flat + row_len).map(&f));
            }
        }
    }
    ArrayD::from_shape_vec(IxDyn(&shape_of(region)), values).map_err(|e| Error::Internal {
        operation: "random".into(),
        message: format!("{e}"),
    })
}

impl<T: RandomFloat> Array<T>
where
    f64: AsPrimitive<T>,
{
    /// Uniform values in `[0, 1)`, seeded: the element at flat C-order
    /// index `i` is `splitmix64(seed, i)` scaled (its top 53 bits for
    /// `f64`, 24 for `f32`), whatever the chunking.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f64>::random_uniform(7, &[4, 6], [3, 4]).unwrap();
    /// let b = Array::<f64>::random_uniform(7, &[4, 6], [4, 1]).unwrap();
    /// let (a, b) = (a.compute().unwrap(), b.compute().unwrap());
    /// assert_eq!(a, b);
    /// assert!(a.iter().all(|&x| (0.0..1.0).contains(&x)));
    /// ```
    pub fn random_uniform(seed: u64, shape: &[u64], chunks: impl Into<Chunks>) -> Result<Array<T>> {
        let grid = chunks.into().resolve(shape, T::DTYPE.size())?;
        let whole = shape.to_vec();
        let name = format!("random_uniform(seed={seed})");
        let args = serde_json::json!({ "seed": seed, "shape": shape, "grid": grid });
        Ok(source(name, grid, 0, move |region: &Region| {
            from_flat_index(&whole, region, |i| T::unit(splitmix64(seed, i)))
        })
        .recorded("random_uniform", args, Vec::new()))
    }

    /// Normal values of mean `mean` and standard deviation `std`, seeded:
    /// the element at flat C-order index `i` is `mean + std · z`, `z` the
    /// Box-Muller transform of counters `2⌊i/2⌋` and `2⌊i/2⌋ + 1` (cosine
    /// for even `i`, sine for odd), computed in float64, whatever the
    /// chunking.
    ///
    /// ```
    /// use ndchunk::Array;
    /// let a = Array::<f32>::random_normal(1, 10.0, 2.0, &[100_000], [30_000]).unwrap();
    /// let mean = a.mean(&[0], false).compute().unwrap().into_raw_vec_and_offset().0[0];
    /// assert!((mean - 10.0).abs() < 0.05);
    /// ```
    pub fn random_normal(
        seed: u64,
        mean: f64,
        std: f64,
        shape: &[u64],
        chunks: impl Into<Chunks>,
    ) -> Result<Array<T>> {
        let grid = chunks.into().resolve(shape, T::DTYPE.size())?;
        let whole = shape.to_vec();
        let name = format!("random_normal(seed={seed}, {mean:?}, {std:?})");
        let args = serde_json::json!({
            "seed": seed,
            "mean": super::recipe::scalar(mean),
            "std": super::recipe::scalar(std),
            "shape": shape,
            "grid": grid,
        });
        Ok(source(name, grid, 0, move |region: &Region| {
            from_flat_index(&whole, region, |i| {
                (mean + std * standard_normal(seed, i)).as_()
            })
        })
        .recorded("random_normal", args, Vec::new()))
    }
}
