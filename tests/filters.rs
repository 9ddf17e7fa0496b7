//! The filters against `scipy.ndimage` 1.17.1 (numpy 2.4.6), through the
//! public API only: `gaussian_filter` (sigma one for all axes or per axis,
//! 0 along an axis, order 1 along one axis, truncate 2.5, 3 and 4),
//! `gaussian_gradient_magnitude`, `uniform_filter`, `minimum_filter`,
//! `maximum_filter`, `median_filter` (odd and even windows, one size or
//! per axis), `sobel` along every axis and `laplace`, in each of scipy's
//! modes `reflect`, `mirror`, `nearest`, `wrap`, `grid-wrap` and `constant`
//! (cval -0.75), on 1-D, 2-D and 3-D fields and a 2-D field thinner than
//! the filters' reach, each in irregular chunks, some thinner than the
//! halo. Inputs are float32, float64 and uint16 (filtered in float32,
//! against scipy on the input cast to float32); a field is smooth blobs on
//! a gradient with a little noise. Inputs and results cross as raw
//! little-endian files; the Gaussians are also run by a scipy whose kernels
//! use the C library's `exp`. Bad arguments are errors at compute time.
//!
//! Tolerances, as measured:
//! - float32 (and uint16): every filter bit for bit.
//! - float64 minimum, maximum, median, Sobel, Laplace: bit for bit.
//! - float64 Gaussians: bit for bit against scipy with the C library's
//!   `exp`; against scipy as it is, within 4e-14 relative to the larger of
//!   scipy's value and 1e-3 of the input's largest magnitude (measured:
//!   1.4e-15 or 8 units in the last place for `gaussian_filter`, 1.3e-14 or
//!   76 for `gaussian_gradient_magnitude`, whose derivatives cancel).
//!   numpy's AVX-512 `exp` is not always correctly rounded, which moves
//!   scipy's kernel weights by a unit in the last place; without AVX-512
//!   the two agree.
//! - float64 `uniform_filter`: within 16 units in the last place (measured
//!   11). Its running sum starts at each block's halo, not at the array's
//!   start, so its rounding errors differ from scipy's, which grow with
//!   the length of the line: longer lines than these may differ more.

#[path = "support/random.rs"]
mod random;
mod support;

use std::collections::BTreeMap;
use std::fmt::Debug;

use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{Array, Chunks, FilterElement, FilterOptions, PadMode};
use num_traits::{AsPrimitive, ToPrimitive};
use serde_json::json;

use random::Random;

/// Reads `cases.json` and the inputs in argv[1], writes scipy's result of
/// case `i` to `<i>.out` (little-endian, the float type of the input:
/// float64 stays, anything else is cast to float32 first); for a case
/// marked `libm`, also to `<i>.libm` with scipy's Gaussian kernels made
/// with the C library's `exp` (Python's `math.exp`, as Rust's `f64::exp`)
/// instead of numpy's, which on CPUs with AVX-512 is not always correctly
/// rounded.
const SCIPY: &str = r#"
import json, math, os, sys
import numpy as np
from scipy import ndimage as ndi
import scipy.ndimage._filters as filters

class LibmNumpy:
    def __getattr__(self, name):
        return getattr(np, name)
    @staticmethod
    def exp(a):
        return np.vectorize(math.exp, otypes=[np.float64])(a)

d = sys.argv[1]
spec = json.load(open(os.path.join(d, "cases.json")))
xs = {name: np.fromfile(os.path.join(d, name), dtype=dt).reshape(shape)
      for name, (dt, shape) in spec["inputs"].items()}
for i, (name, expr, libm) in enumerate(spec["cases"]):
    x = xs[name]
    x = x.astype(np.float64 if x.dtype == np.float64 else np.float32)
    for numpy, suffix in [(np, "out")] + [(LibmNumpy(), "libm")] * libm:
        filters.np = numpy
        y = eval(expr, {"ndi": ndi, "x": x})
        filters.np = np
        if y.dtype != x.dtype:
            raise SystemExit(f"{expr} gave {y.dtype}, not {x.dtype}")
        y.astype(y.dtype.newbyteorder("<")).tofile(os.path.join(d, f"{i}.{suffix}"))
"#;

/// scipy's modes (as keyword arguments) and ours (numpy's names).
const MODES: [(&str, PadMode<f64>); 6] = [
    ("mode='reflect'", PadMode::Symmetric),
    ("mode='mirror'", PadMode::Reflect),
    ("mode='nearest'", PadMode::Edge),
    ("mode='wrap'", PadMode::Wrap),
    ("mode='grid-wrap'", PadMode::Wrap),
    ("mode='constant', cval=-0.75", PadMode::Constant(-0.75)),
];

/// A filter and its arguments: sigma (one for all axes, or per axis),
/// order and truncate; window sizes; the Sobel axis.
#[derive(Debug)]
enum Filter {
    Gaussian(&'static [f64], &'static [usize], f64),
    GradientMagnitude(&'static [f64], f64),
    Uniform(&'static [u64]),
    Minimum(&'static [u64]),
    Maximum(&'static [u64]),
    Median(&'static [u64]),
    Sobel(usize),
    Laplace,
}
use Filter::*;

/// One value as a Python scalar, several as a list.
fn py<V: Debug>(values: &[V]) -> String {
    match values {
        [one] => format!("{one:?}"),
        _ => format!("{values:?}"),
    }
}

impl Filter {
    /// scipy's expression of `x`, with `mode`'s keyword arguments.
    fn scipy(&self, mode: &str) -> String {
        match self {
            Gaussian(s, o, t) => format!(
                "ndi.gaussian_filter(x, {}, order={}, truncate={t:?}, {mode})",
                py(s),
                py(o)
            ),
            GradientMagnitude(s, t) => format!(
                "ndi.gaussian_gradient_magnitude(x, {}, truncate={t:?}, {mode})",
                py(s)
            ),
            Uniform(n) => format!("ndi.uniform_filter(x, size={}, {mode})", py(n)),
            Minimum(n) => format!("ndi.minimum_filter(x, size={}, {mode})", py(n)),
            Maximum(n) => format!("ndi.maximum_filter(x, size={}, {mode})", py(n)),
            Median(n) => format!("ndi.median_filter(x, size={}, {mode})", py(n)),
            Sobel(a) => format!("ndi.sobel(x, axis={a}, {mode})"),
            Laplace => format!("ndi.laplace(x, {mode})"),
        }
    }

    /// Ours, computed.
    fn run<T: FilterElement>(&self, x: &Array<T>, mode: PadMode<f64>) -> ArrayD<T::Float> {
        let o = FilterOptions::new().mode(mode);
        let y = match self {
            Gaussian(s, order, t) => x.gaussian_filter(s, &o.truncate(*t).order(order)),
            GradientMagnitude(s, t) => x.gaussian_gradient_magnitude(s, &o.truncate(*t)),
            Uniform(n) => x.uniform_filter(n, &o),
            Minimum(n) => x.minimum_filter(n, &o),
            Maximum(n) => x.maximum_filter(n, &o),
            Median(n) => x.median_filter(n, &o),
            Sobel(a) => x.sobel(*a, &o),
            Laplace => x.laplace(&o),
        };
        y.compute().unwrap_or_else(|e| panic!("{self:?}: {e}"))
    }

    /// The tolerance class.
    fn class(&self) -> &'static str {
        match self {
            Gaussian(..) | GradientMagnitude(..) => "gaussian",
            Uniform(_) => "uniform",
            _ => "exact",
        }
    }
}

/// A field's shape, its irregular chunking, the filters run on it.
type Layout = (&'static [usize], &'static [&'static [u64]], Vec<Filter>);

/// 1-D, 2-D, 3-D and a 2-D field thinner than the reach. Chunks of 1 to 3
/// elements sit between larger ones, so halos (up to 10 elements) span
/// several neighbours, and past the thin axis's edge several reflections.
fn layouts() -> Vec<Layout> {
    vec![
        (
            &[90],
            &[&[1, 2, 20, 1, 3, 40, 23]],
            vec![
                Gaussian(&[2.5], &[0], 4.0),
                Gaussian(&[1.2], &[1], 2.5),
                GradientMagnitude(&[1.5], 4.0),
                Uniform(&[4]),
                Uniform(&[7]),
                Minimum(&[4]),
                Minimum(&[7]),
                Maximum(&[6]),
                Maximum(&[5]),
                Median(&[4]),
                Median(&[5]),
                Sobel(0),
                Laplace,
            ],
        ),
        (
            &[26, 33],
            &[&[2, 1, 11, 3, 9], &[5, 1, 1, 14, 12]],
            vec![
                Gaussian(&[1.7], &[0], 4.0),
                Gaussian(&[0.0, 1.3], &[0], 4.0),
                Gaussian(&[1.5, 2.2], &[1, 0], 3.0),
                GradientMagnitude(&[1.2, 2.0], 4.0),
                Uniform(&[3, 6]),
                Uniform(&[2]),
                Minimum(&[3, 6]),
                Maximum(&[2, 5]),
                Median(&[3, 2]),
                Sobel(0),
                Sobel(1),
                Laplace,
            ],
        ),
        (
            &[11, 14, 16],
            &[&[1, 6, 4], &[3, 1, 8, 2], &[7, 2, 1, 6]],
            vec![
                Gaussian(&[0.8, 2.0, 1.1], &[0], 3.0),
                Gaussian(&[1.0], &[0, 0, 1], 4.0),
                GradientMagnitude(&[1.0], 2.5),
                Uniform(&[2, 5, 3]),
                Minimum(&[2, 5, 3]),
                Maximum(&[4, 1, 3]),
                Median(&[3, 2, 3]),
                Sobel(0),
                Sobel(1),
                Sobel(2),
                Laplace,
            ],
        ),
        (
            &[3, 30],
            &[&[1, 2], &[4, 1, 25]],
            vec![
                Gaussian(&[2.0, 1.0], &[0], 4.0),
                GradientMagnitude(&[2.0], 4.0),
                Uniform(&[5, 4]),
                Minimum(&[5, 4]),
                Maximum(&[7, 2]),
                Median(&[4, 3]),
                Sobel(0),
                Laplace,
            ],
        ),
    ]
}

/// Smooth blobs on a gradient with a little deterministic noise: three
/// Gaussian blobs, a tilt along every axis, ±0.025 of SplitMix64 noise.
/// Values lie between about 0 and 10.
fn field(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = Random::new(seed);
    let mut unit = move || (rng.next() >> 11) as f64 / (1u64 << 53) as f64;
    let blobs: Vec<(Vec<f64>, f64, f64)> = (0..3)
        .map(|_| {
            let centre = shape.iter().map(|_| unit()).collect();
            (centre, 0.08 + 0.2 * unit(), 2.0 * unit() - 0.5)
        })
        .collect();
    ArrayD::from_shape_fn(IxDyn(shape), |ix| {
        let u: Vec<f64> = (0..shape.len())
            .map(|d| ix[d] as f64 / shape[d].max(2) as f64)
            .collect();
        let mut v = 1.5;
        for (d, ud) in u.iter().enumerate() {
            v += 0.7 * (d + 1) as f64 * ud;
        }
        for (centre, width, height) in &blobs {
            let r2: f64 = u.iter().zip(centre).map(|(a, c)| (a - c) * (a - c)).sum();
            v += height * (-r2 / (2.0 * width * width)).exp();
        }
        v + 0.05 * (unit() - 0.5)
    })
}

/// An input element type: numpy's name, and the field's values in it.
trait Input: FilterElement {
    const NUMPY: &'static str;
    fn from_field(v: f64) -> Self;
    fn le_bytes(self) -> Vec<u8>;
}

macro_rules! input {
    ($($t:ty: $numpy:literal, $from:expr;)*) => {$(
        impl Input for $t {
            const NUMPY: &'static str = $numpy;
            fn from_field(v: f64) -> Self {
                ($from)(v)
            }
            fn le_bytes(self) -> Vec<u8> {
                self.to_le_bytes().to_vec()
            }
        }
    )*};
}

input! {
    f32: "<f4", |v| v as f32;
    f64: "<f8", |v| v;
    u16: "<u2", |v: f64| (v * 6000.0).round() as u16;
}

/// The distance in units in the last place of `f32` (`single`) or `f64`.
fn ulps(a: f64, b: f64, single: bool) -> u64 {
    let ordered = |v: f64| -> i128 {
        if single {
            let b = (v as f32).to_bits() as i32;
            i128::from(if b < 0 { i32::MIN - b } else { b })
        } else {
            let b = v.to_bits() as i64;
            i128::from(if b < 0 { i64::MIN - b } else { b })
        }
    };
    (ordered(a) - ordered(b)).unsigned_abs() as u64
}

/// |a - b| relative to the larger of |b| and `floor`: 0 where equal (NaN
/// and NaN included), infinite where one only is NaN.
fn rel_error(a: f64, b: f64, floor: f64) -> f64 {
    if a == b || (a.is_nan() && b.is_nan()) {
        0.0
    } else if a.is_nan() || b.is_nan() {
        f64::INFINITY
    } else {
        (a - b).abs() / b.abs().max(floor)
    }
}

/// How far ours may be from scipy's: bit for bit, within `n` units in
/// the last place, or within a relative error (see the module's doc).
#[derive(Clone, Copy, Debug)]
enum Tolerance {
    Exact,
    Ulps(u64),
    Rel(f64),
}

/// The tolerance of a class of filters in `f32` (`single`) or `f64`.
fn tolerance(class: &str, single: bool) -> Tolerance {
    match (class, single) {
        ("gaussian", false) => Tolerance::Rel(4e-14),
        ("uniform", false) => Tolerance::Ulps(16),
        _ => Tolerance::Exact,
    }
}

/// The largest differences found in a class of cases.
#[derive(Default)]
struct Worst {
    cases: usize,
    inexact: usize,
    ulps: u64,
    rel: f64,
    at: String,
}

/// Reads a result of the script: `f32`s (`single`) or `f64`s.
fn read_floats(path: &std::path::Path, single: bool) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    match single {
        true => bytes
            .chunks_exact(4)
            .map(|b| f64::from(f32::from_le_bytes(b.try_into().unwrap())))
            .collect(),
        false => bytes
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect(),
    }
}

/// Every filter on every layout in every mode, on inputs of type `T`,
/// against scipy; the Gaussians also against scipy with the C library's
/// `exp`, exactly. Prints the largest differences per class (shown with
/// `--nocapture` or on failure) and fails on any beyond the tolerance.
fn compare<T: Input>() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let single = std::mem::size_of::<T::Float>() == 4;
    let (mut inputs, mut exprs, mut ours) = (serde_json::Map::new(), vec![], vec![]);
    for (k, (shape, chunks, filters)) in layouts().into_iter().enumerate() {
        let data = field(shape, k as u64 + 1).mapv(T::from_field);
        let name = format!("in{k}");
        let bytes: Vec<u8> = data.iter().flat_map(|&v| v.le_bytes()).collect();
        std::fs::write(dir.path().join(&name), bytes).unwrap();
        inputs.insert(name.clone(), json!([T::NUMPY, shape]));
        let scale = data
            .iter()
            .map(|&v| AsPrimitive::<T::Float>::as_(v).to_f64().unwrap().abs())
            .fold(0.0, f64::max);
        let grid = ChunkGrid::from_sizes(chunks).unwrap();
        let x = Array::from_ndarray(data, Chunks::Grid(grid)).unwrap();
        for filter in &filters {
            for (py_mode, mode) in MODES {
                let expr = filter.scipy(py_mode);
                let y = filter.run(&x, mode);
                let got: Vec<f64> = y.iter().map(|v| v.to_f64().unwrap()).collect();
                let label = format!("{} {shape:?} {expr}", T::NUMPY);
                exprs.push(json!([name, expr, filter.class() == "gaussian"]));
                ours.push((label, filter.class(), got, scale));
            }
        }
    }
    let spec = json!({"inputs": inputs, "cases": exprs});
    std::fs::write(dir.path().join("cases.json"), spec.to_string()).unwrap();
    support::run_python(&python, SCIPY, &[dir.path()]);

    let mut worst: BTreeMap<String, Worst> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, (label, class, got, scale)) in ours.into_iter().enumerate() {
        let mut against = vec![("scipy", tolerance(class, single), "out")];
        if class == "gaussian" {
            against.push(("scipy with libm exp", Tolerance::Exact, "libm"));
        }
        for (what, tol, suffix) in against {
            let want = read_floats(&dir.path().join(format!("{i}.{suffix}")), single);
            assert_eq!(got.len(), want.len(), "{label}: size");
            let (mut n_ulps, mut rel) = (0u64, 0.0f64);
            for (&a, &b) in got.iter().zip(&want) {
                n_ulps = n_ulps.max(ulps(a, b, single));
                rel = rel.max(rel_error(a, b, 1e-3 * scale));
            }
            let w = worst.entry(format!("{} {class} vs {what}", T::NUMPY));
            let w = w.or_default();
            w.cases += 1;
            w.inexact += usize::from(n_ulps > 0);
            w.rel = w.rel.max(rel);
            if n_ulps > w.ulps {
                (w.ulps, w.at) = (n_ulps, label.clone());
            }
            let ok = match tol {
                Tolerance::Exact => n_ulps == 0,
                Tolerance::Ulps(n) => n_ulps <= n,
                Tolerance::Rel(r) => rel <= r,
            };
            if !ok {
                failures.push(format!(
                    "{label} vs {what}: {n_ulps} ulp, rel {rel:.2e}, beyond {tol:?}"
                ));
            }
        }
    }
    for (class, w) in &worst {
        let (n, inexact, u, rel, at) = (w.cases, w.inexact, w.ulps, w.rel, &w.at);
        eprintln!("{class}: {n} cases, {inexact} inexact, max {u} ulp, max rel {rel:.2e} {at}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn float32_matches_scipy() {
    compare::<f32>();
}

#[test]
fn float64_matches_scipy() {
    compare::<f64>();
}

/// Integers are filtered in float32: scipy's result on the input cast to
/// float32.
#[test]
fn uint16_matches_scipy_on_float32() {
    compare::<u16>();
}

/// Bad arguments build an array (no panic) whose computation is an error
/// naming the operation and what is wrong.
#[test]
fn bad_arguments_are_errors_at_compute_time() {
    let x = Array::from_ndarray(field(&[6, 7], 9), Chunks::Shape(vec![4, 3])).unwrap();
    let o = FilterOptions::new();
    let fails = |y: Array<f64>, operation: &str, message: &str| {
        let err = y.compute().expect_err(operation).to_string();
        assert!(
            err.starts_with(operation) && err.contains(message),
            "{operation}: {err:?} does not name the operation or say {message:?}"
        );
    };
    let (gauss, ggm) = ("gaussian_filter", "gaussian_gradient_magnitude");
    let (mean, min, max) = ("uniform_filter", "minimum_filter", "maximum_filter");
    fails(x.gaussian_filter(&[-1.0], &o), gauss, "above 0, not -1");
    fails(x.gaussian_filter(&[1.0, f64::NAN], &o), gauss, "not NaN");
    fails(x.gaussian_filter(&[0.0], &o), gauss, "0 along every axis");
    fails(x.gaussian_filter(&[1.0; 3], &o), gauss, "3 values of sigma");
    let three_orders = x.gaussian_filter(&[1.0], &o.clone().order(&[1, 0, 0]));
    fails(three_orders, gauss, "3 values of order");
    let no_reach = x.gaussian_filter(&[1.0], &o.clone().truncate(0.0));
    fails(no_reach, gauss, "truncate must be above 0");
    let infinite = x.gaussian_gradient_magnitude(&[f64::INFINITY], &o);
    fails(infinite, ggm, "not inf");
    let three_sigmas = x.gaussian_gradient_magnitude(&[1.0; 3], &o);
    fails(three_sigmas, ggm, "3 values of sigma");
    fails(x.uniform_filter(&[0], &o), mean, "at least 1");
    fails(x.uniform_filter(&[], &o), mean, "0 values of size");
    fails(x.minimum_filter(&[3, 0], &o), min, "at least 1");
    fails(x.maximum_filter(&[0, 2], &o), max, "at least 1");
    fails(x.median_filter(&[0], &o), "median_filter", "at least 1");
    let three_sizes = x.median_filter(&[3; 3], &o);
    fails(three_sizes, "median_filter", "3 values of size");
    fails(x.sobel(2, &o), "sobel", "axis 2 is out of bounds");
}
