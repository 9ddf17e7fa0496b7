//! `Element`: the Rust types behind each [`DType`], and their byte form.

use crate::dtype::DType;

/// A Rust type that is one of ndchunk's dtypes. Chunk bytes are C-order
/// elements in native byte order; these conversions are the only place
/// that knows how a `T` lies in bytes.
pub trait Element: Copy + Send + Sync + PartialEq + std::fmt::Debug + Default + 'static {
    /// The dtype tag of `Self`.
    const DTYPE: DType;

    /// Elements from native-order bytes (`bytes.len()` a multiple of the size).
    fn from_ne_bytes(bytes: &[u8]) -> Vec<Self>;

    /// Native-order bytes of `values`.
    fn to_ne_bytes(values: &[Self]) -> Vec<u8>;

    /// `values` as their bytes, to decode into in place; `None` for `bool`,
    /// whose bytes may only be 0 or 1.
    fn bytes_mut(values: &mut [Self]) -> Option<&mut [u8]>;

    /// `bytes` read in place as values, where they are aligned for `Self`
    /// and a whole number of elements; `None` otherwise, and for `bool`.
    fn cast_ne_bytes(bytes: &[u8]) -> Option<&[Self]>;
}

macro_rules! pod_element {
    ($($t:ty => $d:ident),* $(,)?) => {$(
        impl Element for $t {
            const DTYPE: DType = DType::$d;
            fn from_ne_bytes(bytes: &[u8]) -> Vec<Self> {
                // Copies, so the input need not be aligned; into a vector
                // that is not zeroed first (a pass less over a chunk).
                let chunks = bytes.chunks_exact(std::mem::size_of::<$t>());
                if !chunks.remainder().is_empty() {
                    return bytemuck::pod_collect_to_vec(bytes);
                }
                let mut values = Vec::with_capacity(chunks.len());
                values.extend(chunks.map(bytemuck::pod_read_unaligned::<$t>));
                values
            }
            fn to_ne_bytes(values: &[Self]) -> Vec<u8> {
                bytemuck::cast_slice(values).to_vec()
            }
            fn bytes_mut(values: &mut [Self]) -> Option<&mut [u8]> {
                Some(bytemuck::cast_slice_mut(values))
            }
            fn cast_ne_bytes(bytes: &[u8]) -> Option<&[Self]> {
                bytemuck::try_cast_slice(bytes).ok()
            }
        }
    )*};
}

pod_element!(
    i8 => Int8, i16 => Int16, i32 => Int32, i64 => Int64,
    u8 => UInt8, u16 => UInt16, u32 => UInt32, u64 => UInt64,
    f32 => Float32, f64 => Float64,
);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    fn from_ne_bytes(bytes: &[u8]) -> Vec<Self> {
        bytes.iter().map(|&b| b != 0).collect()
    }
    fn to_ne_bytes(values: &[Self]) -> Vec<u8> {
        values.iter().map(|&b| u8::from(b)).collect()
    }
    fn bytes_mut(_: &mut [Self]) -> Option<&mut [u8]> {
        None
    }
    fn cast_ne_bytes(_: &[u8]) -> Option<&[Self]> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::Element;

    #[test]
    fn from_ne_bytes_reads_unaligned_bytes_and_pads_a_partial_element() {
        let values: Vec<f32> = (0..1000).map(|i| i as f32 * 0.5 - 7.0).collect();
        let mut bytes = vec![0u8];
        bytes.extend_from_slice(&<f32 as Element>::to_ne_bytes(&values));
        // Starting one byte in: not aligned for f32.
        assert_eq!(<f32 as Element>::from_ne_bytes(&bytes[1..]), values);
        // A trailing partial element becomes a zero-padded element, which
        // callers catch as a wrong length.
        assert_eq!(<u16 as Element>::from_ne_bytes(&[1, 0, 2]).len(), 2);
        assert_eq!(<i64 as Element>::from_ne_bytes(&[]), Vec::<i64>::new());
    }
}
