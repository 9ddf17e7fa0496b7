//! The filters against `scipy.ndimage` (see [`harness`]): 1-D, 2-D and
//! 3-D fields and blocks thinner than the kernel, float32 and float64,
//! odd and even windows and weights, origins, a different sigma per axis,
//! modes `nearest` and `reflect`. The Gaussians are compared twice: with
//! scipy as it is (whose numpy `exp` may not be correctly rounded), within
//! the tolerance, and with scipy's kernels from the C library's `exp`,
//! exactly.
//!
//! Run with `NDCHUNK_PYTHON=<python with numpy and scipy>`.

mod harness;
mod peer;

use ndarray::ArrayD;

use super::{correlate::*, derivatives::*, kernels::*, rank::*, uniform::*};
use harness::{case, check, exact_case, field, Case, Kernel};
use peer::PeerFloat;

/// A halo of `h` along `axis` only.
fn along(ndim: usize, axis: usize, h: usize) -> Vec<usize> {
    let mut halo = vec![0; ndim];
    halo[axis] = h;
    halo
}

/// A Python list of floats, for the expressions.
fn py(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:?}")).collect();
    format!("[{}]", items.join(", "))
}

fn correlate_cases<T: PeerFloat>(ndim: usize) -> Vec<Case<T>> {
    let weights: [&[f64]; 5] = [
        &[0.3, -1.2, 0.5, 2.0, 0.1],
        &[0.25, 0.5, 1.0, -0.75],
        &[1.0 / 9.0, 2.0 / 9.0, 3.0 / 9.0, 2.0 / 9.0, 1.0 / 9.0],
        &[-0.5, -1.0, 0.0, 1.0, 0.5],
        &[0.7],
    ];
    let mut cases = Vec::new();
    for axis in 0..ndim {
        for w in weights {
            let n = w.len() as isize;
            for origin in [0, -(n / 2), (n - 1) / 2] {
                let reach = (n / 2 + origin).max(n - n / 2 - 1 - origin) as usize;
                let w = w.to_vec();
                cases.push(case(
                    format!(
                        "ndi.correlate1d(x, {}, axis={axis}, mode={{mode}}, origin={origin})",
                        py(&w)
                    ),
                    &along(ndim, axis, reach),
                    move |mut b: ArrayD<T>| {
                        correlate1d(b.view_mut(), axis, &w, origin);
                        b
                    },
                ));
            }
        }
    }
    cases
}

/// The Gaussian filters with `sigma` per axis, against scipy, or (when
/// `libm`) against scipy with the C library's `exp` for its kernels, which
/// must agree exactly.
fn gaussian_cases<T: PeerFloat>(sigma: &[f64], truncate: f64, libm: bool) -> Vec<Case<T>> {
    let case = |expr: String, halo: &[usize], kernel: Kernel<T>| {
        if libm {
            exact_case(format!("libm_exp(lambda: {expr})"), halo, kernel)
        } else {
            case(expr, halo, kernel)
        }
    };
    let ndim = sigma.len();
    let halo: Vec<usize> = sigma
        .iter()
        .map(|&s| gaussian_radius(s, truncate))
        .collect();
    let mut cases = Vec::new();
    for axis in (0..ndim).filter(|&a| sigma[a] > 0.0) {
        for order in 0..=2 {
            let (s, r) = (sigma[axis], halo[axis]);
            cases.push(case(
                format!("ndi.gaussian_filter1d(x, {s:?}, axis={axis}, order={order}, mode={{mode}}, truncate={truncate:?})"),
                &along(ndim, axis, r),
                Box::new(move |mut b: ArrayD<T>| {
                    gaussian_filter1d(b.view_mut(), axis, s, order, r);
                    b
                }),
            ));
        }
    }
    let orders: Vec<Vec<usize>> = (0..ndim)
        .map(|a| {
            (0..ndim)
                .map(|d| usize::from(d == a) * (1 + a % 2))
                .collect()
        })
        .chain([vec![0; ndim]])
        .collect();
    for order in orders {
        let sig = sigma.to_vec();
        cases.push(case(
            format!(
                "ndi.gaussian_filter(x, {}, order={order:?}, mode={{mode}}, truncate={truncate:?})",
                py(sigma)
            ),
            &halo,
            Box::new(move |mut b: ArrayD<T>| {
                gaussian_filter(b.view_mut(), &sig, &order, truncate, &|_| {});
                b
            }),
        ));
    }
    let sig = sigma.to_vec();
    cases.push(case(
        format!(
            "ndi.gaussian_gradient_magnitude(x, {}, mode={{mode}}, truncate={truncate:?})",
            py(sigma)
        ),
        &halo,
        Box::new(move |b: ArrayD<T>| {
            gaussian_gradient_magnitude(b.view(), &sig, truncate, &|_| {})
        }),
    ));
    cases
}

fn window_cases<T: PeerFloat>(ndim: usize, sizes: &[usize]) -> Vec<Case<T>> {
    let mut cases = Vec::new();
    for axis in 0..ndim {
        for &size in sizes {
            let halo = along(ndim, axis, size / 2);
            cases.push(case(
                format!("ndi.uniform_filter1d(x, {size}, axis={axis}, mode={{mode}})"),
                &halo,
                move |mut b: ArrayD<T>| {
                    uniform_filter1d(b.view_mut(), axis, size);
                    b
                },
            ));
            cases.push(exact_case(
                format!("ndi.minimum_filter1d(x, {size}, axis={axis}, mode={{mode}})"),
                &halo,
                move |mut b: ArrayD<T>| {
                    minimum_filter1d(b.view_mut(), axis, size);
                    b
                },
            ));
            cases.push(exact_case(
                format!("ndi.maximum_filter1d(x, {size}, axis={axis}, mode={{mode}})"),
                &halo,
                move |mut b: ArrayD<T>| {
                    maximum_filter1d(b.view_mut(), axis, size);
                    b
                },
            ));
        }
    }
    cases
}

fn median_cases<T: PeerFloat>(sizes: &[&[usize]]) -> Vec<Case<T>> {
    sizes
        .iter()
        .map(|size| {
            let size = size.to_vec();
            let halo: Vec<usize> = size.iter().map(|s| s / 2).collect();
            exact_case(
                format!("ndi.median_filter(x, size={size:?}, mode={{mode}})"),
                &halo,
                move |b: ArrayD<T>| median_filter(b.view(), &size),
            )
        })
        .collect()
}

fn derivative_cases<T: PeerFloat>(ndim: usize) -> Vec<Case<T>> {
    let ones = vec![1; ndim];
    let mut cases: Vec<Case<T>> = (0..ndim)
        .map(|axis| {
            case(
                format!("ndi.sobel(x, axis={axis}, mode={{mode}})"),
                &ones,
                move |mut b: ArrayD<T>| {
                    sobel(b.view_mut(), axis, &|_| {});
                    b
                },
            )
        })
        .collect();
    cases.push(case(
        "ndi.laplace(x, mode={mode})",
        &ones,
        |b: ArrayD<T>| laplace(b.view()),
    ));
    cases
}

#[test]
fn correlate1d_matches_scipy() {
    fn run<T: PeerFloat>() {
        check("1-d", &field::<T>(&[57], 1), &correlate_cases(1));
        check("2-d", &field::<T>(&[13, 17], 2), &correlate_cases(2));
        check("thin", &field::<T>(&[2, 3], 3), &correlate_cases(2));
    }
    run::<f32>();
    run::<f64>();
}

#[test]
fn gaussian_filters_match_scipy() {
    fn run<T: PeerFloat>() {
        for libm in [false, true] {
            let cases = |sigma: &[f64], truncate| gaussian_cases::<T>(sigma, truncate, libm);
            check("1-d", &field(&[80], 4), &cases(&[2.3], 4.0));
            check("2-d", &field(&[24, 31], 5), &cases(&[1.2, 2.5], 4.0));
            check(
                "3-d",
                &field(&[9, 12, 14], 6),
                &cases(&[0.8, 1.5, 1.1], 3.0),
            );
            check("0-sigma", &field(&[10, 15], 7), &cases(&[0.0, 1.7], 4.0));
            check("thin", &field(&[3, 2], 8), &cases(&[2.0, 1.0], 4.0));
        }
    }
    run::<f32>();
    run::<f64>();
}

#[test]
fn window_filters_match_scipy() {
    fn run<T: PeerFloat>() {
        let sizes = [1, 2, 3, 4, 7, 10];
        check("1-d", &field::<T>(&[300], 9), &window_cases(1, &sizes));
        check("2-d", &field::<T>(&[21, 26], 10), &window_cases(2, &sizes));
        check(
            "3-d",
            &field::<T>(&[7, 9, 11], 11),
            &window_cases(3, &[2, 5]),
        );
        check("thin", &field::<T>(&[3, 1], 12), &window_cases(2, &sizes));
    }
    run::<f32>();
    run::<f64>();
}

#[test]
fn median_filter_matches_scipy() {
    fn run<T: PeerFloat>() {
        check(
            "1-d",
            &field::<T>(&[61], 13),
            &median_cases(&[&[1], &[3], &[4], &[8]]),
        );
        let sizes: [&[usize]; 5] = [&[3, 3], &[2, 3], &[4, 2], &[1, 5], &[5, 4]];
        check("2-d", &field::<T>(&[19, 22], 14), &median_cases(&sizes));
        let sizes: [&[usize]; 2] = [&[3, 2, 3], &[2, 2, 2]];
        check("3-d", &field::<T>(&[6, 8, 9], 15), &median_cases(&sizes));
        check("thin", &field::<T>(&[2, 3], 16), &median_cases(&[&[5, 4]]));
    }
    run::<f32>();
    run::<f64>();
}

#[test]
fn derivative_filters_match_scipy() {
    fn run<T: PeerFloat>() {
        check("1-d", &field::<T>(&[40], 17), &derivative_cases(1));
        check("2-d", &field::<T>(&[18, 25], 18), &derivative_cases(2));
        check("3-d", &field::<T>(&[8, 10, 12], 19), &derivative_cases(3));
    }
    run::<f32>();
    run::<f64>();
}
