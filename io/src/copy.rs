//! Moving n-dimensional blocks of elements between C-order byte buffers.
//! Rows along the last axis are contiguous on both sides, so the copy is a
//! loop of `memcpy`s, one per row.

use ndchunk_chunking::Region;

/// Copies the box `from` (chunk-local coordinates inside `src`, a C-order
/// buffer of shape `src_shape`) into `dst` (shape `dst_shape`) with its
/// first element at `to_start`; elements are `itemsize` bytes. Panics if the
/// box does not fit either buffer (a broken caller invariant, never user
/// input).
pub fn copy_box(
    src: &[u8],
    src_shape: &[u64],
    from: &Region,
    dst: &mut [u8],
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
    let row = extent[ndim - 1] as usize * itemsize;
    let offset = |start: &[u64], at: &[u64], strides: &[usize]| -> usize {
        (0..ndim)
            .map(|i| (start[i] + at[i]) as usize * strides[i])
            .sum()
    };
    // Odometer over all axes but the last.
    let mut at = vec![0u64; ndim];
    loop {
        let s = offset(from_start, &at, &src_strides);
        let d = offset(to_start, &at, &dst_strides);
        dst[d..d + row].copy_from_slice(&src[s..s + row]);
        let mut axis = ndim - 1;
        loop {
            if axis == 0 {
                return;
            }
            axis -= 1;
            at[axis] += 1;
            if at[axis] < extent[axis] {
                break;
            }
            at[axis] = 0;
        }
    }
}

/// A buffer of `elements` copies of one element's bytes.
pub fn filled(element: &[u8], elements: u64) -> Vec<u8> {
    if element.iter().all(|&b| b == 0) {
        return vec![0; element.len() * elements as usize];
    }
    element.repeat(elements as usize)
}
