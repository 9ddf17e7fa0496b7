//! `label` (connected components across chunks) against a flood fill of
//! the whole mask and against `scipy.ndimage.label`: the same components
//! (labels equal up to renumbering, numbered 1..=N), on random irregular
//! chunkings, every connectivity, a spiral crossing chunk faces many
//! times, a budget that spills the per-block labels; its errors.

#[path = "support/chunkings.rs"]
mod chunkings;
#[path = "support/random.rs"]
mod random;
mod support;

use std::collections::{HashMap, VecDeque};

use ndarray::{ArrayD, Dimension, IxDyn};
use ndchunk::chunking::ChunkGrid;
use ndchunk::{Array, ComputeOptions};
use proptest::prelude::*;

use chunkings::{grid_for, shape_up_to};
use random::Random;

fn quiet() -> ComputeOptions {
    ComputeOptions::new().progress(false)
}

/// The components of `mask` by breadth-first search over the whole array
/// (neighbours: offsets with at most `connectivity` non-zero components).
fn flood(mask: &ArrayD<bool>, connectivity: usize) -> (ArrayD<u32>, u32) {
    let shape = mask.shape().to_vec();
    let ndim = shape.len();
    let offsets: Vec<Vec<i64>> = (0..3usize.pow(ndim as u32))
        .map(|mut k| {
            (0..ndim)
                .map(|_| {
                    let d = (k % 3) as i64 - 1;
                    k /= 3;
                    d
                })
                .collect::<Vec<i64>>()
        })
        .filter(|d: &Vec<i64>| {
            let n = d.iter().filter(|&&x| x != 0).count();
            n > 0 && n <= connectivity
        })
        .collect();
    let mut labels = ArrayD::<u32>::zeros(IxDyn(&shape));
    let mut n = 0;
    for (start, &on) in mask.indexed_iter() {
        if !on || labels[&start] != 0 {
            continue;
        }
        n += 1;
        labels[&start] = n;
        let mut queue = VecDeque::from([start.slice().to_vec()]);
        while let Some(at) = queue.pop_front() {
            for d in &offsets {
                let next: Option<Vec<usize>> = (0..ndim)
                    .map(|a| {
                        let p = at[a] as i64 + d[a];
                        (p >= 0 && (p as usize) < shape[a]).then_some(p as usize)
                    })
                    .collect();
                let Some(next) = next else { continue };
                let ix = IxDyn(&next);
                if mask[&ix] && labels[&ix] == 0 {
                    labels[&ix] = n;
                    queue.push_back(next);
                }
            }
        }
    }
    (labels, n)
}

/// `got` and `want` are the same partition of the voxels, and `got`
/// numbers its components 1..=n.
fn same_components(got: &ArrayD<u32>, want: &ArrayD<u32>, n: u64) -> Result<(), String> {
    let (mut forward, mut backward) = (HashMap::new(), HashMap::new());
    for (g, w) in got.iter().zip(want.iter()) {
        if (*g == 0) != (*w == 0) {
            return Err(format!("background differs: {g} vs {w}"));
        }
        if *g == 0 {
            continue;
        }
        if *forward.entry(*g).or_insert(*w) != *w || *backward.entry(*w).or_insert(*g) != *g {
            return Err(format!("label {g} is not one component of the oracle's"));
        }
    }
    let mut numbers: Vec<u32> = forward.keys().copied().collect();
    numbers.sort_unstable();
    let expected: Vec<u32> = (1..=n as u32).collect();
    match numbers == expected {
        true => Ok(()),
        false => Err(format!("labels {numbers:?}, not 1..={n}")),
    }
}

fn case() -> impl Strategy<Value = (Vec<usize>, ChunkGrid, u64, usize)> {
    shape_up_to(12).prop_flat_map(|shape| {
        let ndim = shape.len();
        (
            Just(shape.clone()),
            grid_for(&shape),
            any::<u64>(),
            1..=ndim,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn components_equal_a_flood_fill_of_the_whole_mask((shape, grid, seed, connectivity) in case()) {
        let mut rng = Random::new(seed);
        let density = 30 + rng.below(40);
        let mask = ArrayD::from_shape_fn(IxDyn(&shape), |_| rng.below(100) < density);
        let (want, n_want) = flood(&mask, connectivity);
        let lazy = Array::from_ndarray(mask, grid).unwrap();
        let (labels, n) = lazy.label(connectivity, &quiet()).unwrap();
        prop_assert_eq!(n, u64::from(n_want));
        let got = labels.compute().unwrap();
        let checked = same_components(&got, &want, n);
        prop_assert!(checked.is_ok(), "{:?}", checked);
    }
}

/// A square spiral, one voxel wide, winding in to the centre: one
/// component that crosses every chunk face many times.
fn spiral(n: usize) -> ArrayD<bool> {
    let mut mask = ArrayD::from_elem(IxDyn(&[n, n]), false);
    let (mut lo, mut hi) = (0usize, n - 1);
    while lo + 2 <= hi {
        for x in lo..=hi {
            mask[[lo, x]] = true;
            mask[[hi, x]] = true;
        }
        for y in lo..=hi {
            mask[[y, hi]] = true;
        }
        for y in lo + 2..=hi {
            mask[[y, lo]] = true;
        }
        // The way in.
        mask[[lo + 2, lo + 1]] = true;
        lo += 2;
        hi -= 2;
    }
    mask
}

#[test]
fn a_spiral_across_many_chunks_is_one_component() {
    let mask = spiral(61);
    let (want, n_want) = flood(&mask, 1);
    assert_eq!(n_want, 1);
    let lazy = Array::from_ndarray(mask.clone(), [7, 5]).unwrap();
    let (labels, n) = lazy.label(1, &quiet()).unwrap();
    assert_eq!(n, 1);
    same_components(&labels.compute().unwrap(), &want, n).unwrap();
    // A helix in 3-D: the spiral stacked, one layer per quarter turn.
    let volume = ArrayD::from_shape_fn(IxDyn(&[9, 61, 61]), |ix| {
        let (z, y, x) = (ix[0], ix[1], ix[2]);
        mask[[y, x]] && (z % 2 == 0 || (y + x + z) % 5 == 0)
    });
    let (want, n_want) = flood(&volume, 3);
    let lazy = Array::from_ndarray(volume, [2, 6, 7]).unwrap();
    let (labels, n) = lazy.label(3, &quiet()).unwrap();
    assert_eq!(n, u64::from(n_want));
    same_components(&labels.compute().unwrap(), &want, n).unwrap();
}

#[test]
fn labels_kept_on_disk_when_the_budget_is_small() {
    let mut rng = Random::new(7);
    let mask = ArrayD::from_shape_fn(IxDyn(&[64, 64, 64]), |_| rng.below(100) < 45);
    let (want, n_want) = flood(&mask, 1);
    let lazy = Array::from_ndarray(mask, [16, 16, 16]).unwrap();
    // The labels are 1 MiB; the budget keeps a fraction of them, beside
    // the 352,800 bytes of planes either side of the 144 block faces that
    // label holds while joining.
    let options = quiet().max_mem(512 << 10);
    let (labels, n) = lazy.label(1, &options).unwrap();
    assert_eq!(n, u64::from(n_want));
    let (got, report) = labels.compute_with(&options).unwrap();
    assert!(report.peak_bytes <= 512 << 10);
    same_components(&got, &want, n).unwrap();
}

/// scipy's labels of the blobs of [`support`]'s peer, as uint32 bytes.
const SCIPY: &str = r#"
import sys
import numpy as np
from scipy import ndimage as ndi
mask = np.fromfile(sys.argv[1], dtype=np.uint8).reshape(40, 50, 60).astype(bool)
for connectivity in (1, 2, 3):
    structure = ndi.generate_binary_structure(3, connectivity)
    labels, n = ndi.label(mask, structure=structure)
    labels.astype("<u4").tofile(f"{sys.argv[2]}/{connectivity}.bin")
    # Per scipy label: count, bbox (start, stop per axis), centroid.
    index = np.arange(1, n + 1)
    counts = np.bincount(labels.ravel(), minlength=n + 1)[1:]
    boxes = [[s.start for s in o] + [s.stop for s in o] for o in ndi.find_objects(labels)]
    centroids = ndi.center_of_mass(mask, labels, index)
    table = np.column_stack([counts, np.array(boxes), np.array(centroids)]).astype("<f8")
    table.tofile(f"{sys.argv[2]}/{connectivity}.props")
"#;

#[test]
fn components_equal_scipy() {
    let Some(python) = support::python_peer() else {
        return;
    };
    // Blobs and threads: components that touch by faces, edges, corners.
    let mut rng = Random::new(11);
    let mask = ArrayD::from_shape_fn(IxDyn(&[40, 50, 60]), |ix| {
        let (z, y, x) = (ix[0] as f64, ix[1] as f64, ix[2] as f64);
        let wave = (z * 0.4).sin() + (y * 0.3).cos() + (x * 0.25).sin();
        wave > 0.9 || rng.below(100) < 6
    });
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mask.bin");
    let bytes: Vec<u8> = mask.iter().map(|&b| u8::from(b)).collect();
    std::fs::write(&input, bytes).unwrap();
    support::run_python(&python, SCIPY, &[input.as_os_str(), dir.path().as_os_str()]);
    let lazy = Array::from_ndarray(mask, [13, 17, 11]).unwrap();
    for connectivity in 1..=3 {
        let raw = std::fs::read(dir.path().join(format!("{connectivity}.bin"))).unwrap();
        let scipy: Vec<u32> = raw
            .chunks_exact(4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let want = ArrayD::from_shape_vec(IxDyn(&[40, 50, 60]), scipy).unwrap();
        let n_want = want.iter().copied().max().unwrap_or(0);
        let (labels, n) = lazy.label(connectivity, &quiet()).unwrap();
        assert_eq!(n, u64::from(n_want), "connectivity {connectivity}");
        let got = labels.compute().unwrap();
        same_components(&got, &want, n).unwrap();
        // regionprops against scipy's count, find_objects, center_of_mass,
        // row by row through the label correspondence.
        let raw = std::fs::read(dir.path().join(format!("{connectivity}.props"))).unwrap();
        let table: Vec<f64> = raw
            .chunks_exact(8)
            .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
            .collect();
        let theirs_of: HashMap<u32, u32> =
            got.iter().zip(want.iter()).map(|(&g, &w)| (g, w)).collect();
        let props = labels.regionprops(n, &quiet()).unwrap();
        assert_eq!(props.len() as u64, n);
        for p in props {
            let row = &table[(theirs_of[&p.label] as usize - 1) * 10..][..10];
            assert_eq!(p.count as f64, row[0]);
            let bbox: Vec<f64> = p
                .bbox
                .start()
                .iter()
                .chain(p.bbox.stop())
                .map(|&v| v as f64)
                .collect();
            assert_eq!(bbox, row[1..7].to_vec());
            for a in 0..3 {
                assert!(
                    (p.centroid[a] - row[7 + a]).abs() < 1e-9,
                    "{:?} vs {:?}",
                    p.centroid,
                    &row[7..]
                );
            }
        }
    }
}

#[test]
fn connectivity_out_of_range_is_refused() {
    let mask = Array::from_ndarray(ArrayD::from_elem(IxDyn(&[4, 4]), true), [2, 2]).unwrap();
    for c in [0, 3] {
        let e = mask.label(c, &quiet()).unwrap_err().to_string();
        assert!(e.contains("label") && e.contains("connectivity"), "{e}");
    }
    // More labels than the budget can measure: refused, not allocated.
    let (labels, _) = mask.label(1, &quiet()).unwrap();
    let e = labels
        .regionprops(u64::MAX / 2, &quiet().max_mem(1 << 20))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("regionprops") && e.contains("do not fit max_mem"),
        "{e}"
    );
}

/// The bytes of the planes either side of every block face of a 64 x 64
/// mask in 8 x 8 chunks: per face two planes of uint32 labels, one voxel
/// wider on the other axis on each side within the array.
fn face_bytes_64_by_8() -> u64 {
    // Per axis 7 x 8 faces: 2 planes of 10 voxels (8 at the edges + 1).
    let per_axis: u64 = (0..7u64)
        .flat_map(|_| (0..8u64).map(|j| if j == 0 || j == 7 { 9 } else { 10 }))
        .map(|wide| 2 * wide * 4)
        .sum();
    2 * per_axis
}

#[test]
fn a_budget_too_small_for_the_faces_is_refused_naming_label() {
    let mut rng = Random::new(3);
    let mask = ArrayD::from_shape_fn(IxDyn(&[64, 64]), |_| rng.below(100) < 50);
    let (want, n_want) = flood(&mask, 2);
    let lazy = Array::from_ndarray(mask, [8, 8]).unwrap();
    let faces = face_bytes_64_by_8();
    // The per-block labelling fits, but not beside the faces' planes.
    let e = lazy
        .label(2, &quiet().threads(1).max_mem(faces))
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("label: max_mem") && e.contains(&format!("{faces} bytes")),
        "{e}"
    );
    // The planes and one face task beside them: joined within it.
    let e = lazy
        .label(2, &quiet().threads(1).max_mem(faces + 64))
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("label: max_mem"), "{e}");
    let (labels, n) = lazy
        .label(2, &quiet().threads(1).max_mem(faces + (4 << 10)))
        .unwrap();
    assert_eq!(n, u64::from(n_want));
    same_components(&labels.compute().unwrap(), &want, n).unwrap();
}
