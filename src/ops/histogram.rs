//! Histograms and what is read from them: `histogram` and `bincount`
//! (numpy's), `threshold_otsu` (scikit-image's), `percentile` (numpy's
//! linear method: exact when the values fit the budget, else read from a
//! fine histogram). Each is one pass over the array: every block counts
//! into its own bins, added into one table (integer counts, so the order
//! does not matter).

use std::sync::Mutex;

use ndchunk_io::Element;
use num_traits::AsPrimitive;

use crate::array::{linspace_fn, Array};
use crate::error::{Error, Result};
use crate::ops::reduce::Axes;
use crate::ComputeOptions;

/// Integers (not floats, not booleans).
fn is_integer(dtype: ndchunk_io::DType) -> bool {
    !dtype.is_float() && dtype != ndchunk_io::DType::Bool
}

/// The most counters a histogram may have: each task counts a block into
/// its own copy beside the table they are added into, all within
/// `max_mem`.
fn most_counters(options: &ComputeOptions) -> u64 {
    let budget = options.plan_budget();
    budget.max_mem / (8 * (budget.workers + 1))
}

fn refused(operation: &str, message: String) -> Error {
    Error::Invalid {
        operation: operation.into(),
        message,
    }
}

/// numpy's edges of `bins` equal bins over `[lo, hi]` (its `linspace`).
fn edges(lo: f64, hi: f64, bins: usize) -> Vec<f64> {
    let at = linspace_fn(lo, hi, bins as u64 + 1, true);
    (0..=bins as u64).map(at).collect()
}

/// The bin of `v` among `edges` (equal bins), as numpy's `histogram`
/// finds it: by arithmetic, then corrected by one either way where
/// rounding put it on the wrong side of an edge; the last bin is closed.
fn bin_of(v: f64, edges: &[f64], scale: f64) -> Option<usize> {
    let (lo, hi) = (edges[0], edges[edges.len() - 1]);
    if !(v >= lo && v <= hi) {
        return None;
    }
    let bins = edges.len() - 1;
    let mut i = (((v - lo) * scale) as usize).min(bins - 1);
    if v < edges[i] {
        i -= 1;
    } else if i + 1 < bins && v >= edges[i + 1] {
        i += 1;
    }
    Some(i)
}

impl<T: Element + AsPrimitive<f64>> Array<T> {
    /// `numpy.histogram(x, bins, range=(lo, hi))`: the counts of `bins`
    /// equal bins over `[lo, hi]` (each half-open but the last, which is
    /// closed) and their `bins + 1` edges. Values outside the range, and
    /// NaNs, are not counted. Values are compared as `f64`: for `f32` data
    /// numpy compares in `f32`, so a value within a rounding of an edge
    /// may fall in the next bin.
    ///
    /// ```
    /// use ndchunk::{Array, ComputeOptions};
    /// let x = Array::<f64>::arange(10, [4]).unwrap();
    /// let (counts, edges) = x.histogram(3, (0.0, 9.0), &ComputeOptions::new()).unwrap();
    /// assert_eq!(counts, vec![3, 3, 4]);
    /// assert_eq!(edges, vec![0.0, 3.0, 6.0, 9.0]);
    /// ```
    pub fn histogram(
        &self,
        bins: usize,
        range: (f64, f64),
        options: &ComputeOptions,
    ) -> Result<(Vec<u64>, Vec<f64>)> {
        let (lo, hi) = range;
        if bins == 0 {
            return Err(refused("histogram", "bins must be at least 1".into()));
        }
        if !(lo.is_finite() && hi.is_finite() && lo <= hi) {
            return Err(refused(
                "histogram",
                format!("range ({lo}, {hi}) must be finite, its start not above its end"),
            ));
        }
        if bins as u64 > most_counters(options) {
            return Err(refused(
                "histogram",
                format!(
                    "{bins} bins do not fit max_mem of {} bytes (each thread counts into its own)",
                    options.plan_budget().max_mem
                ),
            ));
        }
        // numpy widens an empty range by half a unit each way.
        let (lo, hi) = if lo == hi {
            (lo - 0.5, hi + 0.5)
        } else {
            (lo, hi)
        };
        let edges = edges(lo, hi, bins);
        let scale = bins as f64 / (hi - lo);
        let total = Mutex::new(vec![0u64; bins]);
        self.for_each_block(options, |_, _, values| {
            let mut counts = vec![0u64; bins];
            for &v in values.iter() {
                if let Some(i) = bin_of(v.as_(), &edges, scale) {
                    counts[i] += 1;
                }
            }
            let mut total = total.lock().unwrap_or_else(|p| p.into_inner());
            total.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
            Ok(())
        })?;
        Ok((total.into_inner().unwrap_or_else(|p| p.into_inner()), edges))
    }

    /// The smallest and largest values (NaNs left out; `None` when there
    /// are none), in one run.
    fn extremes(&self, options: &ComputeOptions) -> Result<Option<(f64, f64)>> {
        let x = self.astype::<f64>();
        let (lo, hi) = (x.nanmin(Axes::All, false), x.nanmax(Axes::All, false));
        let (values, _) = crate::array::compute_many(&[&lo, &hi], options)?;
        let (lo, hi) = (values[0][[]], values[1][[]]);
        Ok((!lo.is_nan()).then_some((lo, hi)))
    }

    /// Otsu's threshold, as `skimage.filters.threshold_otsu(x, nbins)`:
    /// the bin centre that best splits the histogram in two classes (the
    /// largest between-class variance). Integer arrays are counted one bin
    /// per value between their extremes, as scikit-image does whatever
    /// `bins` (up to 2^24 values; wider ones as floats); floats in `bins` equal bins between their extremes. Two
    /// passes: the extremes, then the histogram.
    pub fn threshold_otsu(&self, bins: usize, options: &ComputeOptions) -> Result<f64> {
        let Some((lo, hi)) = self.extremes(options)? else {
            return Err(refused("threshold_otsu", "the array has no values".into()));
        };
        if lo == hi {
            return Ok(lo);
        }
        // One bin per integer, unless there are more than 2^24 of them or
        // more than the budget counts.
        let most = ((1u64 << 24) as f64).min(most_counters(options) as f64);
        let (counts, centres) = if is_integer(T::DTYPE) && hi - lo < most {
            let bins = (hi - lo) as usize + 1;
            let (counts, _) = self.histogram(bins, (lo - 0.5, hi + 0.5), options)?;
            let centres = (0..bins).map(|i| lo + i as f64).collect::<Vec<_>>();
            (counts, centres)
        } else {
            let (counts, edges) = self.histogram(bins, (lo, hi), options)?;
            let centres = edges.windows(2).map(|e| (e[0] + e[1]) / 2.0).collect();
            (counts, centres)
        };
        Ok(otsu(&counts, &centres))
    }

    /// `numpy.nanpercentile(x, q)` for each `q` (0 to 100), NaNs left out:
    /// exact (numpy's linear interpolation) when the values fit `max_mem`;
    /// otherwise read from a histogram of 2^16 bins between the extremes
    /// (fewer if `max_mem` holds fewer counters): the two values numpy
    /// interpolates between are each placed within their bin, so each is
    /// within one bin width, `(max - min) / bins`, of the exact value, and
    /// so is the result.
    pub fn percentile(&self, q: &[f64], options: &ComputeOptions) -> Result<Vec<f64>> {
        if let Some(bad) = q.iter().find(|q| !(0.0..=100.0).contains(*q)) {
            return Err(refused(
                "percentile",
                format!("percentile {bad} outside 0 to 100"),
            ));
        }
        let max_mem = options.plan_budget().max_mem;
        let bytes = self.shape().iter().product::<u64>().saturating_mul(8);
        if bytes <= max_mem / 2 {
            let mut values: Vec<f64> = self
                .astype::<f64>()
                .compute_with(options)?
                .0
                .into_iter()
                .filter(|v| !v.is_nan())
                .collect();
            values.sort_by(f64::total_cmp);
            return Ok(q
                .iter()
                .map(|&q| sorted_quantile(&values, q / 100.0))
                .collect());
        }
        let Some((lo, hi)) = self.extremes(options)? else {
            return Ok(vec![f64::NAN; q.len()]);
        };
        // 2^16 bins, or as many as the budget counts.
        let bins = (1u64 << 16).min(most_counters(options)).max(1) as usize;
        let (counts, edges) = self.histogram(bins, (lo, hi), options)?;
        let n: u64 = counts.iter().sum();
        // The value of rank `k` (0-based, sorted), placed within its bin as
        // if the bin's values were evenly spread.
        let value_at = |k: u64| {
            let mut below = 0u64;
            for (i, &c) in counts.iter().enumerate() {
                if below + c > k {
                    let within = ((k - below) as f64 + 0.5) / c as f64;
                    return edges[i] + (edges[i + 1] - edges[i]) * within;
                }
                below += c;
            }
            hi
        };
        Ok(q.iter()
            .map(|&q| {
                // numpy's two neighbouring ranks, each within its bin,
                // interpolated as numpy does.
                let rank = q / 100.0 * (n - 1) as f64;
                let below = rank.floor() as u64;
                let pair = [value_at(below), value_at((below + 1).min(n - 1))];
                sorted_quantile(&pair, rank - below as f64)
            })
            .collect())
    }
}

impl<T: Element + AsPrimitive<u64> + AsPrimitive<f64> + PartialOrd + Default> Array<T> {
    /// `numpy.bincount(x, minlength)`: how many times each value 0, 1, …
    /// occurs in an array of non-negative integers (a label image: the
    /// size of each label), at least `minlength` counts. A negative value
    /// is an error, as in numpy.
    pub fn bincount(&self, minlength: usize, options: &ComputeOptions) -> Result<Vec<u64>> {
        if !is_integer(T::DTYPE) {
            return Err(refused(
                "bincount",
                format!("{} values: bincount counts integers", T::DTYPE.name()),
            ));
        }
        let most = most_counters(options);
        let too_many = |n: u64| {
            refused(
                "bincount",
                format!(
                    "{n} counts do not fit max_mem of {} bytes",
                    options.plan_budget().max_mem
                ),
            )
        };
        if minlength as u64 > most {
            return Err(too_many(minlength as u64));
        }
        let total = Mutex::new(vec![0u64; minlength]);
        self.for_each_block(options, |_, _, values| {
            let mut counts: Vec<u64> = Vec::new();
            for &v in values.iter() {
                if v < T::default() {
                    let v: f64 = v.as_();
                    return Err(refused("bincount", format!("negative value {v}")));
                }
                let i: u64 = v.as_();
                if i >= most {
                    return Err(too_many(i.saturating_add(1)));
                }
                let i = i as usize;
                if i >= counts.len() {
                    counts.resize(i + 1, 0);
                }
                counts[i] += 1;
            }
            let mut total = total.lock().unwrap_or_else(|p| p.into_inner());
            if total.len() < counts.len() {
                total.resize(counts.len(), 0);
            }
            total.iter_mut().zip(counts).for_each(|(t, c)| *t += c);
            Ok(())
        })?;
        Ok(total.into_inner().unwrap_or_else(|p| p.into_inner()))
    }
}

/// scikit-image's Otsu threshold from counts and bin centres.
fn otsu(counts: &[u64], centres: &[f64]) -> f64 {
    let n = counts.len();
    let hist: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    let cumsum = |v: &mut dyn Iterator<Item = f64>| -> Vec<f64> {
        let mut acc = 0.0;
        v.map(|x| {
            acc += x;
            acc
        })
        .collect()
    };
    let weight1 = cumsum(&mut hist.iter().copied());
    let mut weight2 = cumsum(&mut hist.iter().rev().copied());
    weight2.reverse();
    let weighted: Vec<f64> = hist.iter().zip(centres).map(|(h, c)| h * c).collect();
    let mean1: Vec<f64> = cumsum(&mut weighted.iter().copied())
        .iter()
        .zip(&weight1)
        .map(|(s, w)| s / w)
        .collect();
    let mut mean2: Vec<f64> = cumsum(&mut weighted.iter().rev().copied())
        .iter()
        .zip(weight2.iter().rev())
        .map(|(s, w)| s / w)
        .collect();
    mean2.reverse();
    let mut best = (f64::NEG_INFINITY, 0usize);
    for i in 0..n - 1 {
        let v = weight1[i] * weight2[i + 1] * (mean1[i] - mean2[i + 1]).powi(2);
        // numpy's argmax: the first of equal maxima; NaN (empty classes)
        // never wins.
        if v > best.0 {
            best = (v, i);
        }
    }
    centres[best.1]
}

/// numpy's `quantile(sorted, q)` with the `linear` method on sorted
/// values (NaN when there are none): the two nearest values interpolated
/// from the nearer one, as numpy's `_lerp`.
pub(crate) fn sorted_quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let position = q * (sorted.len() - 1) as f64;
    let (below, frac) = (position.floor() as usize, position.fract());
    match sorted.get(below + 1) {
        Some(&above) if frac >= 0.5 => above - (above - sorted[below]) * (1.0 - frac),
        Some(&above) if frac > 0.0 => sorted[below] + (above - sorted[below]) * frac,
        _ => sorted[below],
    }
}
