//! Constructors: `linspace` against numpy bit for bit, and the seeded
//! random arrays: the same values whatever the chunking, the SplitMix64
//! reference outputs, and statistics a broken generator would fail.

mod support;

use ndarray::{ArrayD, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::splitmix64;
use ndchunk::{Array, Chunks};

/// (start, stop, num, endpoint): ordinary, reversed, long, one and zero
/// elements, a zero step (start == stop) and a step that underflows.
const LINSPACE_CASES: &[(f64, f64, u64, bool)] = &[
    (0.0, 1.0, 5, true),
    (0.0, 1.0, 5, false),
    (-3.7, 12.1, 1001, true),
    (-3.7, 12.1, 1001, false),
    (5.0, -2.0, 7, false),
    (1e-3, 7.3e5, 997, true),
    (0.1, 0.7, 3, true),
    (2.5, 9.0, 1, true),
    (2.5, 9.0, 1, false),
    (2.5, 9.0, 0, true),
    (1.0, 1.0, 6, true),
    (0.0, 5e-324, 10, true),
    (-1e308, 1e308, 11, true),
];

fn linspace_bits<T>((start, stop, num, endpoint): (f64, f64, u64, bool), chunk: u64) -> Vec<u64>
where
    T: ndchunk::Numeric + num_traits::Float + Into<f64>,
    f64: num_traits::AsPrimitive<T>,
{
    Array::<T>::linspace(start, stop, num, endpoint, [chunk.max(1)])
        .unwrap()
        .compute()
        .unwrap()
        .iter()
        .map(|&x| Into::<f64>::into(x).to_bits())
        .collect()
}

#[test]
fn linspace_matches_numpy_bit_for_bit() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let cases: Vec<serde_json::Value> = LINSPACE_CASES
        .iter()
        .map(|&(a, b, n, e)| serde_json::json!([a, b, n, e]))
        .collect();
    // Both dtypes, as float64 bit patterns (float32 values widened exactly).
    let script = r#"
import sys, json, numpy as np
out = []
for a, b, n, e in json.loads(sys.argv[1]):
    row = []
    for dt in (np.float64, np.float32):
        y = np.linspace(a, b, n, endpoint=e, dtype=dt).astype(np.float64)
        row.append(y.view(np.uint64).tolist())
    out.append(row)
print(json.dumps(out))
"#;
    let out = support::run_python(&python, script, &[serde_json::to_string(&cases).unwrap()]);
    let want: Vec<[Vec<u64>; 2]> = serde_json::from_slice(&out).unwrap();
    for (&case, [f64_bits, f32_bits]) in LINSPACE_CASES.iter().zip(want) {
        for chunk in [1, 3, case.2] {
            assert_eq!(linspace_bits::<f64>(case, chunk), f64_bits, "{case:?} f64");
            assert_eq!(linspace_bits::<f32>(case, chunk), f32_bits, "{case:?} f32");
        }
    }
}

#[test]
fn linspace_ends_and_lengths() {
    let a = Array::<f64>::linspace(-2.0, 3.0, 11, true, [4]).unwrap();
    assert_eq!(a.shape(), vec![11]);
    let v = a.compute().unwrap();
    assert_eq!((v[0], v[10], v[5]), (-2.0, 3.0, 0.5));
    let b = Array::<f64>::linspace(-2.0, 3.0, 10, false, [4]).unwrap();
    let w = b.compute().unwrap();
    assert_eq!((w[0], w[9]), (-2.0, 2.5));
    assert_eq!(
        Array::<f32>::linspace(0.0, 1.0, 0, true, [1])
            .unwrap()
            .shape(),
        vec![0]
    );
}

#[test]
fn splitmix64_gives_the_reference_outputs() {
    // splitmix64.c seeded with 1234567 (also Rosetta Code's vectors), and
    // the first output for seed 0.
    let want = [
        6457827717110365317u64,
        3203168211198807973,
        9817491932198370423,
        4593380528125082431,
        16408922859458223821,
    ];
    let got: Vec<u64> = (0..5).map(|i| splitmix64(1234567, i)).collect();
    assert_eq!(got, want);
    assert_eq!(splitmix64(0, 0), 0xE220_A839_7B1D_CDAF);
}

#[test]
fn uniform_element_i_is_output_i_of_splitmix64() {
    let a = Array::<f64>::random_uniform(99, &[3, 4, 5], [2, 3, 2])
        .unwrap()
        .compute()
        .unwrap();
    for (i, &x) in a.iter().enumerate() {
        let want = (splitmix64(99, i as u64) >> 11) as f64 / (1u64 << 53) as f64;
        assert_eq!(x, want, "element {i}");
    }
    let b = Array::<f32>::random_uniform(99, &[60], [7])
        .unwrap()
        .compute()
        .unwrap();
    for (i, &x) in b.iter().enumerate() {
        let want = (splitmix64(99, i as u64) >> 40) as f32 / (1u32 << 24) as f32;
        assert_eq!(x, want, "element {i}");
    }
}

fn irregular(shape: &[u64]) -> ChunkGrid {
    // Cuts at 1, 3, 6, 10, ... along every axis.
    let sizes: Vec<Vec<u64>> = shape
        .iter()
        .map(|&n| {
            let mut sizes = Vec::new();
            let (mut at, mut k) = (0, 1);
            while at < n {
                sizes.push(k.min(n - at));
                at += k;
                k += 1;
            }
            if sizes.is_empty() {
                sizes.push(0);
            }
            sizes
        })
        .collect();
    ChunkGrid::from_sizes(&sizes).unwrap()
}

/// The same array under several chunkings, and as a flat array reshaped.
fn same_under_any_chunking<T: ndchunk::io::Element>(make: impl Fn(&[u64], Chunks) -> Array<T>) {
    let shape = [17u64, 23, 5];
    let whole = make(&shape, Chunks::Shape(shape.to_vec()))
        .compute()
        .unwrap();
    let chunkings = [
        Chunks::Shape(vec![4, 7, 2]),
        Chunks::Shape(vec![1, 23, 1]),
        Chunks::Shape(vec![17, 1, 5]),
        Chunks::Grid(irregular(&shape)),
    ];
    for chunks in chunkings {
        let described = format!("{chunks:?}");
        let a = make(&shape, chunks);
        assert_eq!(a.compute().unwrap(), whole, "{described}");
        // Through a rechunk, too.
        let b = a.rechunk([5, 5, 5]);
        assert_eq!(b.compute().unwrap(), whole, "{described} rechunked");
    }
    let n: u64 = shape.iter().product();
    let flat = make(&[n], Chunks::Shape(vec![100])).compute().unwrap();
    let shape_usize: Vec<usize> = shape.iter().map(|&x| x as usize).collect();
    assert_eq!(
        flat.into_shape_with_order(IxDyn(&shape_usize)).unwrap(),
        whole,
        "element (i, j, k) is element i·23·5 + j·5 + k of the flat array"
    );
}

#[test]
fn random_values_do_not_depend_on_the_chunking() {
    same_under_any_chunking(|s, c| Array::<f64>::random_uniform(5, s, c).unwrap());
    same_under_any_chunking(|s, c| Array::<f32>::random_uniform(5, s, c).unwrap());
    same_under_any_chunking(|s, c| Array::<f64>::random_normal(5, 1.0, 3.0, s, c).unwrap());
    same_under_any_chunking(|s, c| Array::<f32>::random_normal(5, -1.0, 0.5, s, c).unwrap());
}

#[test]
fn random_arrays_of_zero_dimensions_and_empty_axes() {
    let scalar = Array::<f64>::random_uniform(3, &[], Chunks::Shape(vec![]))
        .unwrap()
        .compute()
        .unwrap();
    assert_eq!(scalar.ndim(), 0);
    assert_eq!(
        scalar.iter().next().copied(),
        Some((splitmix64(3, 0) >> 11) as f64 / (1u64 << 53) as f64)
    );
    let empty = Array::<f32>::random_normal(3, 0.0, 1.0, &[4, 0, 2], [2, 1, 2]).unwrap();
    assert_eq!(empty.compute().unwrap().shape(), &[4, 0, 2]);
}

fn sample<T: ndchunk::io::Element + Into<f64>>(a: Array<T>) -> Vec<f64> {
    a.compute().unwrap().iter().map(|&x| x.into()).collect()
}

#[test]
fn different_seeds_give_different_values() {
    let seeds = [0u64, 1, 2, 1 << 63, u64::MAX];
    let samples: Vec<Vec<f64>> = seeds
        .iter()
        .map(|&s| sample(Array::<f64>::random_uniform(s, &[10_000], [3000]).unwrap()))
        .collect();
    for i in 0..seeds.len() {
        for j in 0..i {
            let equal = samples[i]
                .iter()
                .zip(&samples[j])
                .filter(|(a, b)| a == b)
                .count();
            assert_eq!(equal, 0, "seeds {} and {}", seeds[i], seeds[j]);
            // Nor shifted copies of each other (one stream a lag of another).
            let shifted = samples[i][1..]
                .iter()
                .zip(&samples[j])
                .filter(|(a, b)| a == b)
                .count();
            assert_eq!(shifted, 0, "seeds {} and {} shifted", seeds[i], seeds[j]);
        }
    }
    assert_eq!(
        sample(Array::<f64>::random_normal(1, 0.0, 1.0, &[100], [7]).unwrap()),
        sample(Array::<f64>::random_normal(1, 0.0, 1.0, &[100], [100]).unwrap()),
    );
    assert_ne!(
        sample(Array::<f64>::random_normal(1, 0.0, 1.0, &[100], [7]).unwrap()),
        sample(Array::<f64>::random_normal(2, 0.0, 1.0, &[100], [7]).unwrap()),
    );
}

struct Moments {
    mean: f64,
    std: f64,
    skew: f64,
    excess_kurtosis: f64,
    lag1: f64,
}

fn moments(x: &[f64]) -> Moments {
    let n = x.len() as f64;
    let mean = x.iter().sum::<f64>() / n;
    let central = |p: i32| x.iter().map(|v| (v - mean).powi(p)).sum::<f64>() / n;
    let var = central(2);
    let lag1 = x
        .windows(2)
        .map(|w| (w[0] - mean) * (w[1] - mean))
        .sum::<f64>()
        / (n - 1.0)
        / var;
    Moments {
        mean,
        std: var.sqrt(),
        skew: central(3) / var.powf(1.5),
        excess_kurtosis: central(4) / (var * var) - 3.0,
        lag1,
    }
}

const N: u64 = 100_000;

/// Bounds are about 5 standard errors of each statistic at n = 10^5.
#[test]
fn uniform_statistics() {
    for seed in [0u64, 42] {
        for x in [
            sample(Array::<f64>::random_uniform(seed, &[N], [12_345]).unwrap()),
            sample(Array::<f32>::random_uniform(seed, &[250, 400], [64, 64]).unwrap()),
        ] {
            assert!(x.iter().all(|&v| (0.0..1.0).contains(&v)));
            let m = moments(&x);
            assert!((m.mean - 0.5).abs() < 0.0046, "mean {}", m.mean);
            assert!(
                (m.std - (1.0f64 / 12.0).sqrt()).abs() < 0.0025,
                "std {}",
                m.std
            );
            assert!(m.lag1.abs() < 0.016, "lag-1 correlation {}", m.lag1);
            // Chi-square over 100 equal bins: 99 degrees of freedom, so
            // 160 is beyond its 99.9999 % quantile.
            let mut bins = [0u64; 100];
            for &v in &x {
                bins[(v * 100.0) as usize] += 1;
            }
            let expected = x.len() as f64 / 100.0;
            let chi2: f64 = bins
                .iter()
                .map(|&c| (c as f64 - expected).powi(2) / expected)
                .sum();
            assert!(chi2 < 160.0, "chi-square {chi2}");
            // The low bits count too: a generator that only varies its top
            // bits fails this.
            let odd = x
                .iter()
                .filter(|&&v| ((v * (1u64 << 24) as f64) as u64) & 1 == 1)
                .count() as f64;
            assert!(
                (odd / x.len() as f64 - 0.5).abs() < 0.008,
                "odd fraction {odd}"
            );
        }
    }
}

#[test]
fn normal_statistics() {
    let (mean, std) = (3.0, 2.0);
    for x in [
        sample(Array::<f64>::random_normal(7, mean, std, &[N], [9999]).unwrap()),
        sample(Array::<f32>::random_normal(8, mean, std, &[500, 200], [33, 200]).unwrap()),
    ] {
        let m = moments(&x);
        assert!((m.mean - mean).abs() < 0.032, "mean {}", m.mean);
        assert!((m.std - std).abs() < 0.023, "std {}", m.std);
        assert!(m.skew.abs() < 0.04, "skewness {}", m.skew);
        assert!(
            m.excess_kurtosis.abs() < 0.08,
            "excess kurtosis {}",
            m.excess_kurtosis
        );
        // Neighbours share a Box-Muller pair; they must still be uncorrelated.
        assert!(m.lag1.abs() < 0.016, "lag-1 correlation {}", m.lag1);
        let within = |k: f64| {
            x.iter().filter(|&&v| ((v - mean) / std).abs() < k).count() as f64 / x.len() as f64
        };
        assert!(
            (within(1.0) - 0.682_689).abs() < 0.0075,
            "within 1 sd: {}",
            within(1.0)
        );
        assert!(
            (within(2.0) - 0.954_500).abs() < 0.0035,
            "within 2 sd: {}",
            within(2.0)
        );
        assert!(
            (within(3.0) - 0.997_300).abs() < 0.001,
            "within 3 sd: {}",
            within(3.0)
        );
    }
}

#[test]
fn random_arrays_compose_lazily() {
    let a = Array::<f64>::random_uniform(1, &[1000, 100], [100, 100]).unwrap();
    let b = Array::<f64>::random_normal(2, 0.0, 1.0, &[1000, 100], [300, 50]).unwrap();
    let lazy = (&a * 2.0 + &b).sum([0], false).compute().unwrap();
    let (x, y) = (a.compute().unwrap(), b.compute().unwrap());
    let eager: ArrayD<f64> = (x * 2.0 + y).sum_axis(ndarray::Axis(0));
    for (p, q) in lazy.iter().zip(eager.iter()) {
        assert!((p - q).abs() < 1e-9, "{p} vs {q}");
    }
}
