//! Moving n-dimensional blocks of elements between C-order byte buffers.
//! Rows along the last axis are contiguous on both sides (longer where the
//! box spans whole trailing axes), so the copy is a loop of `memcpy`s, one
//! per row.

use ndchunk_chunking::Region;

/// Copies the box `from` (chunk-local coordinates inside `src`, a C-order
/// buffer of shape `src_shape`) into `dst` (shape `dst_shape`) with its
/// first element at `to_start`; an element is `itemsize` slots of `S`
/// (its bytes in a byte buffer; 1 in a typed slice). Panics if the box does
/// not fit either buffer (a broken caller invariant, never user input).
pub fn copy_box<S: Copy>(
    src: &[S],
    src_shape: &[u64],
    from: &Region,
    dst: &mut [S],
    dst_shape: &[u64],
    to_start: &[u64],
    itemsize: usize,
) {
    let extent = from.shape();
    let from_start = from.start();
    let ndim = extent.len();
    assert!(
        src_shape.len() == ndim
            && dst_shape.len() == ndim
            && from_start.len() == ndim
            && to_start.len() == ndim
    );
    if extent.contains(&0) {
        return;
    }
    for axis in 0..ndim {
        assert!(
            from_start[axis] + extent[axis] <= src_shape[axis],
            "copy_box: source box out of bounds"
        );
        assert!(
            to_start[axis] + extent[axis] <= dst_shape[axis],
            "copy_box: destination box out of bounds"
        );
    }
    if ndim == 0 {
        dst[..itemsize].copy_from_slice(&src[..itemsize]);
        return;
    }
    let strides = |shape: &[u64]| {
        let mut s = vec![itemsize; ndim];
        for i in (0..ndim - 1).rev() {
            s[i] = s[i + 1] * shape[i + 1] as usize;
        }
        s
    };
    let (src_strides, dst_strides) = (strides(src_shape), strides(dst_shape));
    // Trailing axes the box spans whole on both sides are one longer row.
    let mut inner = ndim - 1;
    while inner > 0 && extent[inner] == src_shape[inner] && extent[inner] == dst_shape[inner] {
        inner -= 1;
    }
    let row = extent[inner] as usize * src_strides[inner];
    let start = |first: &[u64], strides: &[usize]| -> usize {
        (0..ndim).map(|i| first[i] as usize * strides[i]).sum()
    };
    let (mut s, mut d) = (
        start(from_start, &src_strides),
        start(to_start, &dst_strides),
    );
    // Odometer over the outer axes, moving both offsets by their strides
    // (rows as short as 40 bytes are common: the loop must stay cheap).
    let mut at = vec![0u64; inner];
    loop {
        dst[d..d + row].copy_from_slice(&src[s..s + row]);
        let mut axis = inner;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            at[axis] += 1;
            s += src_strides[axis];
            d += dst_strides[axis];
            if at[axis] < extent[axis] {
                break;
            }
            at[axis] = 0;
            s -= extent[axis] as usize * src_strides[axis];
            d -= extent[axis] as usize * dst_strides[axis];
        }
    }
}

/// The byte range `part` (local to a C-order buffer of `shape`) covers,
/// when it is one contiguous run: whole along every axis after the first
/// it does not span, and one element thick along every axis before it.
pub fn contiguous_run(
    part: &Region,
    shape: &[u64],
    itemsize: usize,
) -> Option<std::ops::Range<usize>> {
    let extent = part.shape();
    let ndim = shape.len();
    // The first axis (from the end) where the part is not whole.
    let partial = (0..ndim).rev().find(|&a| extent[a] != shape[a]);
    if let Some(k) = partial {
        if (0..k).any(|a| extent[a] > 1) {
            return None;
        }
    }
    let mut offset = 0u64;
    for (a, &start) in part.start().iter().enumerate() {
        offset = offset * shape[a] + start;
    }
    let start = offset as usize * itemsize;
    Some(start..start + part.num_elements() as usize * itemsize)
}

/// A buffer of `elements` copies of one element's bytes.
pub fn filled(element: &[u8], elements: u64) -> Vec<u8> {
    if element.iter().all(|&b| b == 0) {
        return vec![0; element.len() * elements as usize];
    }
    element.repeat(elements as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Element-by-element reference: the box at `from` of `src` lands at
    /// `to` of `dst`.
    fn reference(
        src: &[u8],
        src_shape: &[u64],
        from: &Region,
        dst: &mut [u8],
        dst_shape: &[u64],
        to: &[u64],
        itemsize: usize,
    ) {
        let linear = |shape: &[u64], at: &[u64]| {
            at.iter().zip(shape).fold(0u64, |n, (&i, &len)| n * len + i) as usize
        };
        let extent = from.shape();
        let total: u64 = extent.iter().product();
        for k in 0..total {
            let mut rest = k;
            let mut local = vec![0u64; extent.len()];
            for axis in (0..extent.len()).rev() {
                local[axis] = rest % extent[axis];
                rest /= extent[axis];
            }
            let s: Vec<u64> = local.iter().zip(from.start()).map(|(a, b)| a + b).collect();
            let d: Vec<u64> = local.iter().zip(to).map(|(a, b)| a + b).collect();
            let (s, d) = (
                linear(src_shape, &s) * itemsize,
                linear(dst_shape, &d) * itemsize,
            );
            dst[d..d + itemsize].copy_from_slice(&src[s..s + itemsize]);
        }
    }

    /// Source shape, box extent, destination shape, box start in each.
    type Case = (Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>, Vec<u64>);

    /// A shape, a box inside it, and a destination shape holding the box.
    fn case() -> impl Strategy<Value = Case> {
        prop::collection::vec((1u64..6, 0u64..3, 0u64..3), 1..5).prop_flat_map(|axes| {
            let src_shape: Vec<u64> = axes.iter().map(|a| a.0 + a.1).collect();
            let extent: Vec<u64> = axes.iter().map(|a| a.0).collect();
            let dst_shape: Vec<u64> = axes.iter().map(|a| a.0 + a.2).collect();
            let from = src_shape
                .iter()
                .zip(&extent)
                .map(|(&s, &e)| 0..=s - e)
                .collect::<Vec<_>>();
            let to = dst_shape
                .iter()
                .zip(&extent)
                .map(|(&s, &e)| 0..=s - e)
                .collect::<Vec<_>>();
            (Just(src_shape), Just(extent), Just(dst_shape), from, to)
        })
    }

    proptest! {
        #[test]
        fn copies_the_box_like_element_by_element(
            (src_shape, extent, dst_shape, from, to) in case(),
            itemsize in prop::sample::select(vec![1usize, 2, 4, 8]),
        ) {
            let n = |shape: &[u64]| shape.iter().product::<u64>() as usize * itemsize;
            let src: Vec<u8> = (0..n(&src_shape)).map(|i| (i % 251) as u8).collect();
            let stop: Vec<u64> = from.iter().zip(&extent).map(|(a, e)| a + e).collect();
            let region = Region::new(from.clone(), stop).unwrap();
            let mut got = vec![0xAAu8; n(&dst_shape)];
            let mut want = got.clone();
            copy_box(&src, &src_shape, &region, &mut got, &dst_shape, &to, itemsize);
            reference(&src, &src_shape, &region, &mut want, &dst_shape, &to, itemsize);
            prop_assert_eq!(got, want);
        }
    }

    proptest! {
        /// `contiguous_run` is exactly the run of linear indices the part
        /// covers, whenever those indices are one run.
        #[test]
        fn contiguous_runs_are_exactly_the_parts_bytes(
            dims in prop::collection::vec((1u64..5, 0u64..5, 0u64..5), 1..4),
        ) {
            let shape: Vec<u64> = dims.iter().map(|d| d.0).collect();
            let start: Vec<u64> = dims.iter().map(|d| d.1 % d.0).collect();
            let stop: Vec<u64> = dims.iter().zip(&start).map(|(d, &s)| s + 1 + d.2 % (d.0 - s)).collect();
            let part = Region::new(start, stop).unwrap();
            let mut linear: Vec<u64> = Vec::new();
            let total: u64 = shape.iter().product();
            for i in 0..total {
                let mut rest = i;
                let mut inside = true;
                for a in (0..shape.len()).rev() {
                    let x = rest % shape[a];
                    rest /= shape[a];
                    inside &= part.range(a).contains(&x);
                }
                if inside {
                    linear.push(i);
                }
            }
            let one_run = linear.windows(2).all(|w| w[1] == w[0] + 1);
            match contiguous_run(&part, &shape, 4) {
                Some(run) => {
                    prop_assert!(one_run);
                    prop_assert_eq!(run, linear[0] as usize * 4..(linear[linear.len() - 1] as usize + 1) * 4);
                }
                None => prop_assert!(!one_run),
            }
        }
    }
}
