//! The filters against scipy. For each case and boundary mode, scipy
//! filters the whole array with `mode`; the kernel filters the array
//! padded by the case's halo with the same mode (numpy's `edge` for
//! scipy's `nearest`, `symmetric` for scipy's `reflect`), as the engine
//! will, and the padded rim is trimmed. A third comparison runs the
//! kernel on the unpadded array against scipy's `nearest`: the kernels'
//! cheap rim is that mode, so the whole output must agree.
//!
//! Tolerances: float32 within 4 units in the last place; float64 within
//! 1e-12 relative to the larger of scipy's value and 1e-3 of the data's
//! largest magnitude (a derivative filter's near-zero outputs carry
//! rounding errors of the data's magnitude, not their own); exact cases
//! (order statistics, and the Gaussians with the C library's `exp`) bit
//! for bit. Each comparison prints its largest differences (shown with
//! `--nocapture`).

use ndarray::{ArrayD, IxDyn, Slice};

use super::peer::{scipy, PeerFloat};
use crate::splitmix64;

/// A boundary mode of the comparison.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Mode {
    /// scipy's `nearest`: the halo repeats the edge (`np.pad` `edge`).
    Nearest,
    /// scipy's `reflect`: the halo mirrors the array, edge included
    /// (`np.pad` `symmetric`).
    Reflect,
    /// No halo: the kernel's own rim, compared with scipy's `nearest`.
    Unpadded,
}

impl Mode {
    fn scipy_name(self) -> &'static str {
        match self {
            Mode::Nearest | Mode::Unpadded => "nearest",
            Mode::Reflect => "reflect",
        }
    }
}

/// The kernel under test: the (padded) block in, the filtered block out.
pub(super) type Kernel<T> = Box<dyn Fn(ArrayD<T>) -> ArrayD<T>>;

/// One comparison: a scipy expression of `x` with `{mode}` for the mode,
/// the halo the kernel needs per axis, and the kernel.
pub(super) struct Case<T> {
    expr: String,
    halo: Vec<usize>,
    exact: bool,
    kernel: Kernel<T>,
}

/// A case whose results are compared with the rounding tolerance.
pub(super) fn case<T>(
    expr: impl Into<String>,
    halo: &[usize],
    kernel: impl Fn(ArrayD<T>) -> ArrayD<T> + 'static,
) -> Case<T> {
    Case {
        expr: expr.into(),
        halo: halo.to_vec(),
        exact: false,
        kernel: Box::new(kernel),
    }
}

/// A case whose results must be scipy's exactly.
pub(super) fn exact_case<T>(
    expr: impl Into<String>,
    halo: &[usize],
    kernel: impl Fn(ArrayD<T>) -> ArrayD<T> + 'static,
) -> Case<T> {
    Case {
        exact: true,
        ..case(expr, halo, kernel)
    }
}

/// Smooth blobs on a gradient with a little deterministic noise: three
/// Gaussian blobs, a tilt along every axis, and ±0.025 of SplitMix64 noise.
pub(super) fn field<T: PeerFloat>(shape: &[usize], seed: u64) -> ArrayD<T> {
    let unit = |k: u64| (splitmix64(seed, k) >> 11) as f64 / (1u64 << 53) as f64;
    let ndim = shape.len() as u64;
    let blobs: Vec<(Vec<f64>, f64, f64)> = (0..3u64)
        .map(|b| {
            let centre = (0..ndim).map(|d| unit(1000 + 10 * b + d)).collect();
            let width = 0.08 + 0.2 * unit(2000 + b);
            let height = 2.0 * unit(3000 + b) - 0.5;
            (centre, width, height)
        })
        .collect();
    let mut flat = 0u64;
    ArrayD::from_shape_fn(IxDyn(shape), |index| {
        let u: Vec<f64> = (0..shape.len())
            .map(|d| index[d] as f64 / shape[d].max(2) as f64)
            .collect();
        let mut v = 1.5;
        for (d, &ud) in u.iter().enumerate() {
            v += 0.7 * (d as f64 + 1.0) * ud;
        }
        for (centre, width, height) in &blobs {
            let r2: f64 = u.iter().zip(centre).map(|(a, c)| (a - c) * (a - c)).sum();
            v += height * (-r2 / (2.0 * width * width)).exp();
        }
        v += 0.05 * (unit(flat) - 0.5);
        flat += 1;
        T::narrow(v)
    })
}

/// `x` extended by `halo[d]` elements each side of axis `d`, as `np.pad`
/// with `edge` (Nearest) or `symmetric` (Reflect).
fn pad<T: PeerFloat>(x: &ArrayD<T>, halo: &[usize], mode: Mode) -> ArrayD<T> {
    let shape: Vec<usize> = x.shape().iter().zip(halo).map(|(n, h)| n + 2 * h).collect();
    ArrayD::from_shape_fn(IxDyn(&shape), |p| {
        let source: Vec<usize> = (0..shape.len())
            .map(|d| {
                let n = x.shape()[d] as isize;
                let i = p[d] as isize - halo[d] as isize;
                match mode {
                    Mode::Nearest | Mode::Unpadded => i.clamp(0, n - 1) as usize,
                    Mode::Reflect => {
                        let m = i.rem_euclid(2 * n);
                        (if m < n { m } else { 2 * n - 1 - m }) as usize
                    }
                }
            })
            .collect();
        x[IxDyn(&source)]
    })
}

/// `y` without `halo[d]` elements each side of axis `d`.
fn trim<T: Clone>(y: &ArrayD<T>, halo: &[usize]) -> ArrayD<T> {
    let mut view = y.view();
    for (d, &h) in halo.iter().enumerate() {
        let n = view.shape()[d];
        view.slice_axis_inplace(ndarray::Axis(d), Slice::from(h..n - h));
    }
    view.to_owned()
}

/// Runs every case in every mode on `x` and compares with scipy; `what`
/// names `x` in messages. Skips (loudly) without a Python with scipy.
pub(super) fn check<T: PeerFloat>(what: &str, x: &ArrayD<T>, cases: &[Case<T>]) {
    let modes = [Mode::Nearest, Mode::Reflect, Mode::Unpadded];
    let exprs: Vec<String> = modes
        .iter()
        .flat_map(|m| {
            let name = format!("'{}'", m.scipy_name());
            cases.iter().map(move |c| c.expr.replace("{mode}", &name))
        })
        .collect();
    let Some(wanted) = scipy(x, &exprs) else {
        return;
    };
    let scale = x.iter().fold(0.0f64, |m, v| m.max(v.widen().abs()));
    let mut results = wanted.iter().zip(&exprs);
    for &mode in &modes {
        for c in cases {
            let (want, expr) = results.next().expect("one result per expression");
            let ours = if mode == Mode::Unpadded {
                (c.kernel)(x.clone())
            } else {
                trim(&(c.kernel)(pad(x, &c.halo, mode)), &c.halo)
            };
            let label = format!("{what} {} {expr} [{mode:?}]", T::DTYPE);
            compare(&label, &ours, want, c.exact, scale);
        }
    }
}

/// Asserts `ours` equals `want` within the tolerance of `T` (exactly when
/// `exact`), and prints the largest differences found.
fn compare<T: PeerFloat>(label: &str, ours: &ArrayD<T>, want: &ArrayD<T>, exact: bool, scale: f64) {
    assert_eq!(ours.shape(), want.shape(), "{label}: shape");
    let (mut max_ulps, mut max_rel, mut differ) = (0i128, 0.0f64, 0usize);
    let mut raw_rel = 0.0f64;
    for (&a, &b) in ours.iter().zip(want.iter()) {
        let ulps = (a.ordered() - b.ordered()).abs();
        if ulps > 0 {
            differ += 1;
        }
        max_ulps = max_ulps.max(ulps);
        let (a, b) = (a.widen(), b.widen());
        let rel = (a - b).abs() / b.abs().max(scale * 1e-3).max(f64::MIN_POSITIVE);
        max_rel = max_rel.max(rel);
        raw_rel = raw_rel.max((a - b).abs() / b.abs().max(f64::MIN_POSITIVE));
    }
    // Shown with --nocapture, and for a failing test.
    eprintln!(
        "{label}: {differ}/{} differ, max {max_ulps} ulp, max rel {max_rel:.2e} (raw {raw_rel:.2e})",
        want.len()
    );
    if exact {
        assert_eq!(differ, 0, "{label}: must be exact, {max_ulps} ulp");
    } else if T::DTYPE == "float32" {
        assert!(max_ulps <= 4, "{label}: {max_ulps} ulp > 4");
    } else {
        assert!(max_rel <= 1e-12, "{label}: relative {max_rel:.3e} > 1e-12");
    }
}
