//! `histogram`, `bincount`, `threshold_otsu` and `percentile` against
//! numpy and scikit-image, on chunked arrays of structured values (smooth
//! fields, NaNs, values outside the range, a label image).

#[path = "support/random.rs"]
mod random;
mod support;

use std::path::Path;

use ndarray::{ArrayD, Dimension, IxDyn};
use ndchunk::{Array, ComputeOptions};

use random::Random;

fn quiet() -> ComputeOptions {
    ComputeOptions::new().progress(false)
}

/// A smooth field with a spike, some NaNs and a tail past 100.
fn field(shape: &[usize], seed: u64) -> ArrayD<f64> {
    let mut rng = Random::new(seed);
    ArrayD::from_shape_fn(IxDyn(shape), |ix| {
        let i = ix.slice().iter().fold(0usize, |a, &x| a * 31 + x) as f64;
        let v = 50.0 + 30.0 * (i * 0.013).sin() + 25.0 * (i * 0.0021).cos();
        match rng.below(100) {
            0 => f64::NAN,
            1 => 140.0,
            _ => v + rng.below(1000) as f64 * 0.001,
        }
    })
}

fn write_f64(path: &Path, values: &ArrayD<f64>) {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    std::fs::write(path, bytes).unwrap();
}

/// numpy's and scikit-image's answers for the arrays in argv[1]: x.bin
/// (the field, float64, shape 40 x 50 x 30), u.bin (uint16 volume, as f64).
const ORACLE: &str = r#"
import sys, os
import numpy as np
from skimage.filters import threshold_otsu
d = sys.argv[1]
x = np.fromfile(os.path.join(d, "x.bin"), dtype="<f8").reshape(40, 50, 30)
u = np.fromfile(os.path.join(d, "u.bin"), dtype="<f8").astype(np.uint16).reshape(40, 50, 30)
def out(name, values):
    np.asarray(values, dtype="<f8").tofile(os.path.join(d, name + ".out"))
for bins, lo, hi in [(1, 0, 100), (7, 10, 90), (256, 0, 150), (10, 50, 50)]:
    counts, edges = np.histogram(x, bins=bins, range=(lo, hi))
    out(f"hist-{bins}-{lo}-{hi}", np.concatenate([counts, edges]))
counts, edges = np.histogram(u, bins=100, range=(0, 40000))
out("hist-u", np.concatenate([counts, edges]))
out("bincount", np.bincount(u.ravel() // 100, minlength=500))
out("otsu", [threshold_otsu(u), threshold_otsu(np.nan_to_num(x, nan=0.0)), threshold_otsu(u.astype(np.float32), nbins=64)])
out("percentile", np.nanpercentile(x, [0, 2.5, 50, 97.5, 100]))
"#;

#[test]
fn histograms_thresholds_and_percentiles_equal_numpy_and_scikit_image() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let shape = [40usize, 50, 30];
    let x = field(&shape, 1);
    // A uint16 volume: a gradient with bright blobs.
    let u: ArrayD<u16> = ArrayD::from_shape_fn(IxDyn(&shape), |ix| {
        let (z, y, w) = (ix[0] as f64, ix[1] as f64, ix[2] as f64);
        let blob = ((z * 0.3).sin() * (y * 0.2).cos() * (w * 0.25).sin()).max(0.0);
        (1000.0 + 20.0 * z + 30000.0 * blob) as u16
    });
    write_f64(&dir.path().join("x.bin"), &x);
    write_f64(&dir.path().join("u.bin"), &u.mapv(f64::from));
    support::run_python(&python, ORACLE, &[dir.path().as_os_str()]);
    let oracle = |name: &str| support::read_f64(&dir.path().join(format!("{name}.out")));

    let lazy = Array::from_ndarray(x.clone(), [7, 13, 30]).unwrap();
    for (bins, lo, hi) in [
        (1, 0.0, 100.0),
        (7, 10.0, 90.0),
        (256, 0.0, 150.0),
        (10, 50.0, 50.0),
    ] {
        let (counts, edges) = lazy.histogram(bins, (lo, hi), &quiet()).unwrap();
        let want = oracle(&format!("hist-{bins}-{lo}-{hi}"));
        let got: Vec<f64> = counts.iter().map(|&c| c as f64).chain(edges).collect();
        assert_eq!(got, want, "histogram({bins}, ({lo}, {hi}))");
    }
    let volume = Array::from_ndarray(u.clone(), [16, 16, 16]).unwrap();
    let (counts, edges) = volume.histogram(100, (0.0, 40000.0), &quiet()).unwrap();
    let got: Vec<f64> = counts.iter().map(|&c| c as f64).chain(edges).collect();
    assert_eq!(got, oracle("hist-u"));

    let hundreds = volume.map("div 100", |v| v / 100);
    let counts = hundreds.bincount(500, &quiet()).unwrap();
    let got: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
    assert_eq!(got, oracle("bincount"));

    let otsu = oracle("otsu");
    assert_eq!(volume.threshold_otsu(256, &quiet()).unwrap(), otsu[0]);
    let filled = lazy.map("nan_to_num", |v| if v.is_nan() { 0.0 } else { v });
    assert_eq!(filled.threshold_otsu(256, &quiet()).unwrap(), otsu[1]);
    // float32 data, 64 bins: bin centres computed in f64 here, in f32 by
    // numpy.
    let float = volume.astype::<f32>().threshold_otsu(64, &quiet()).unwrap();
    assert!(
        (float - otsu[2]).abs() <= otsu[2] * 1e-6,
        "{float} vs {}",
        otsu[2]
    );

    let q = [0.0, 2.5, 50.0, 97.5, 100.0];
    let exact = lazy.percentile(&q, &quiet()).unwrap();
    assert_eq!(exact, oracle("percentile"));
    // A budget too small for the values: from a histogram of 2^16 bins,
    // within one bin.
    // (480 kB of values, more than half the budget; 57600 bins fit.)
    let small = quiet().max_mem(900_000).threads(1);
    let approximate = lazy.percentile(&q, &small).unwrap();
    let width = 150.0 / 57_600.0; // the values span less than 150
    for (a, e) in approximate.iter().zip(&exact) {
        assert!((a - e).abs() <= 2.0 * width, "{a} vs {e}");
    }
}

#[test]
fn bad_arguments_are_clear_errors() {
    let x = Array::<f64>::arange(10, [3]).unwrap();
    let e = x
        .histogram(0, (0.0, 1.0), &quiet())
        .unwrap_err()
        .to_string();
    assert!(e.contains("histogram") && e.contains("bins"), "{e}");
    let e = x
        .histogram(4, (2.0, 1.0), &quiet())
        .unwrap_err()
        .to_string();
    assert!(e.contains("range"), "{e}");
    let e = x.percentile(&[101.0], &quiet()).unwrap_err().to_string();
    assert!(e.contains("percentile 101"), "{e}");
    let negative = Array::<i32>::arange(10, [3])
        .unwrap()
        .map("minus 5", |v| v - 5);
    let e = negative.bincount(0, &quiet()).unwrap_err().to_string();
    assert!(e.contains("negative value -5"), "{e}");
    let e = x.bincount(0, &quiet()).unwrap_err().to_string();
    assert!(e.contains("bincount counts integers"), "{e}");
    // Counters beyond the budget: refused, not allocated.
    let small = quiet().max_mem(1 << 20).threads(2);
    let e = x
        .histogram(1 << 20, (0.0, 1.0), &small)
        .unwrap_err()
        .to_string();
    assert!(e.contains("bins do not fit max_mem"), "{e}");
    let huge = Array::<u64>::full(&[4], u64::MAX, [2]).unwrap();
    let e = huge.bincount(0, &small).unwrap_err().to_string();
    assert!(e.contains("counts do not fit max_mem"), "{e}");
    // A wide integer range: Otsu's bins fall back to `bins` equal ones.
    let wide = Array::<i64>::arange(1000, [100])
        .unwrap()
        .map("spread", |v| v * 1_000_000);
    let t = wide.threshold_otsu(16, &small).unwrap();
    assert!(t > 0.0 && t < 999e6, "{t}");
    let nan = Array::<f64>::full(&[4], f64::NAN, [2]).unwrap();
    let e = nan.threshold_otsu(8, &quiet()).unwrap_err().to_string();
    assert!(e.contains("no values"), "{e}");
}
