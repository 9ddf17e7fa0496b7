//! Connected components of one in-memory block (scipy.ndimage.label's
//! raster two-pass algorithm) and the neighbour offsets of a connectivity.

use ndarray::{ArrayD, ArrayViewD, IxDyn};

/// The neighbours of a voxel under `connectivity` (scipy's
/// `generate_binary_structure(ndim, connectivity)`: offsets in
/// `{-1, 0, 1}^ndim` with at most `connectivity` non-zero components),
/// without the voxel itself.
pub(crate) fn neighbours(ndim: usize, connectivity: usize) -> Vec<Vec<i64>> {
    let total = 3usize.pow(ndim as u32);
    (0..total)
        .map(|mut k| {
            let mut d = vec![0i64; ndim];
            for a in (0..ndim).rev() {
                d[a] = (k % 3) as i64 - 1;
                k /= 3;
            }
            d
        })
        .filter(|d| {
            let nonzero = d.iter().filter(|&&x| x != 0).count();
            nonzero > 0 && nonzero <= connectivity
        })
        .collect()
}

/// The neighbours met before a voxel in C order: those whose first
/// non-zero component is -1.
fn preceding(ndim: usize, connectivity: usize) -> Vec<Vec<i64>> {
    neighbours(ndim, connectivity)
        .into_iter()
        .filter(|d| d.iter().find(|&&x| x != 0) == Some(&-1))
        .collect()
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// The components of `mask` (true: foreground) under `connectivity`,
/// numbered 1, 2, … in the C order of their first voxel (as scipy's), and
/// their number.
pub(crate) fn label_block(mask: ArrayViewD<'_, bool>, connectivity: usize) -> (ArrayD<u32>, u32) {
    let shape = mask.shape().to_vec();
    let ndim = shape.len();
    let mask = mask.as_standard_layout();
    let values = mask.as_slice().expect("standard layout");
    let mut strides = vec![1i64; ndim];
    for a in (0..ndim.saturating_sub(1)).rev() {
        strides[a] = strides[a + 1] * shape[a + 1] as i64;
    }
    let offsets: Vec<(Vec<i64>, i64)> = preceding(ndim, connectivity)
        .into_iter()
        .map(|d| {
            let step = d.iter().zip(&strides).map(|(x, s)| x * s).sum();
            (d, step)
        })
        .collect();
    let mut labels = vec![0u32; values.len()];
    // parent[0] is unused (background).
    let mut parent: Vec<u32> = vec![0];
    let mut at = vec![0usize; ndim];
    for i in 0..values.len() {
        if values[i] {
            let mut mine = 0u32;
            for (d, step) in &offsets {
                let inside = d.iter().zip(&at).zip(&shape).all(|((&x, &p), &n)| match x {
                    -1 => p > 0,
                    1 => p + 1 < n,
                    _ => true,
                });
                if !inside {
                    continue;
                }
                let other = labels[(i as i64 + step) as usize];
                if other == 0 {
                    continue;
                }
                if mine == 0 {
                    mine = other;
                } else {
                    let (a, b) = (find(&mut parent, mine), find(&mut parent, other));
                    if a != b {
                        // The older label stays the root.
                        let (root, child) = if a < b { (a, b) } else { (b, a) };
                        parent[child as usize] = root;
                    }
                }
            }
            if mine == 0 {
                mine = parent.len() as u32;
                parent.push(mine);
            }
            labels[i] = mine;
        }
        // The next position in C order.
        for a in (0..ndim).rev() {
            at[a] += 1;
            if at[a] < shape[a] {
                break;
            }
            at[a] = 0;
        }
    }
    // Roots numbered in the order of their first voxel.
    let mut number = vec![0u32; parent.len()];
    let mut count = 0u32;
    for l in labels.iter_mut().filter(|l| **l != 0) {
        let root = find(&mut parent, *l) as usize;
        if number[root] == 0 {
            count += 1;
            number[root] = count;
        }
        *l = number[root];
    }
    let labels = ArrayD::from_shape_vec(IxDyn(&shape), labels).expect("one label per voxel");
    (labels, count)
}
