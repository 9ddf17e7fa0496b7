//! Lanes: how a fused elementwise chain runs over short contiguous runs of
//! elements (a few KiB, in L1) instead of whole blocks, reading its sources
//! where they lie (an in-memory array, a decoded chunk) with no copy.
//!
//! The graph is untyped, so the slices are type-erased: a [`Lane`] is a
//! `&[T]` that remembers `T` (by `TypeId`) and gives the slice back only as
//! that type. An elementwise node carries a [`LaneFn`] (made by [`unary`],
//! [`binary`], …) whose loop is monomorphised for its element types; a
//! reduction may carry a [`LaneFold`] that folds lanes into accumulators.

use std::any::{Any, TypeId};
use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::Region;
use ndchunk_io::Element;

use crate::error::{Error, Result};
use crate::runtime::block::Block;

/// A run of values of one element type, borrowed.
#[derive(Clone, Copy)]
pub(crate) struct Lane<'a> {
    ptr: *const u8,
    len: usize,
    ty: TypeId,
    _borrow: PhantomData<&'a [u8]>,
}

impl<'a> Lane<'a> {
    /// The lane over `values`.
    pub(crate) fn new<T: 'static>(values: &'a [T]) -> Self {
        Self {
            ptr: values.as_ptr().cast(),
            len: values.len(),
            ty: TypeId::of::<T>(),
            _borrow: PhantomData,
        }
    }

    /// The values, if they are `T`s.
    pub(crate) fn get<T: 'static>(&self) -> Option<&'a [T]> {
        // SAFETY: `ptr` and `len` come from a `&'a [T]` of the type whose
        // id is `ty` (see `new`), and that borrow lives for `'a`.
        (self.ty == TypeId::of::<T>())
            .then(|| unsafe { std::slice::from_raw_parts(self.ptr.cast::<T>(), self.len) })
    }
}

/// A run of values of one element type, borrowed mutably.
pub(crate) struct LaneMut<'a> {
    ptr: *mut u8,
    len: usize,
    ty: TypeId,
    _borrow: PhantomData<&'a mut [u8]>,
}

impl<'a> LaneMut<'a> {
    /// The values, if they are `T`s.
    pub(crate) fn get<T: 'static>(&mut self) -> Option<&mut [T]> {
        // SAFETY: as `Lane::get`; `&mut self` keeps the borrow unique.
        (self.ty == TypeId::of::<T>())
            .then(|| unsafe { std::slice::from_raw_parts_mut(self.ptr.cast::<T>(), self.len) })
    }
}

/// An elementwise kernel over lanes: `out[i] = f(ins[0][i], ins[1][i], …)`,
/// every lane of the same length.
pub(crate) type LaneFn = dyn Fn(&[Lane<'_>], &mut LaneMut<'_>) -> Result<()> + Send + Sync;

/// How a reduction folds lanes of its input into a task's accumulator
/// (one value per element of the partial result, keepdims shape).
pub(crate) trait LaneFold: Send + Sync {
    /// A fresh accumulator for `n` output elements.
    fn start(&self, n: usize) -> Box<dyn Any + Send>;
    /// Folds `lane` into the accumulator: all of it into element `at`
    /// (`across == false`: the lane runs along reduced axes), or element
    /// `i` into element `at + i` (`across == true`: along kept axes).
    fn fold(&self, acc: &mut dyn Any, at: usize, lane: Lane<'_>, across: bool) -> Result<()>;
    /// The accumulator as the reduction's partial block of `shape`.
    fn finish(&self, acc: Box<dyn Any + Send>, shape: &[usize]) -> Result<Block>;
}

fn mismatch(operation: &str) -> Error {
    Error::Internal {
        operation: operation.to_string(),
        message: "a lane of another element type".into(),
    }
}

/// The values of a lane as `T`s, or an internal error naming `operation`.
pub(crate) fn typed<'a, T: 'static>(lane: &Lane<'a>, operation: &str) -> Result<&'a [T]> {
    lane.get::<T>().ok_or_else(|| mismatch(operation))
}

/// The lane kernel of `f` applied to every element.
pub(crate) fn unary<T: Element, U: Element>(
    name: &str,
    f: Arc<impl Fn(T) -> U + Send + Sync + 'static>,
) -> Arc<LaneFn> {
    let op = name.to_string();
    Arc::new(move |ins: &[Lane<'_>], out: &mut LaneMut<'_>| {
        let [x] = ins else {
            return Err(mismatch(&op));
        };
        let x = typed::<T>(x, &op)?;
        let out = out.get::<U>().ok_or_else(|| mismatch(&op))?;
        for (o, &x) in out.iter_mut().zip(x) {
            *o = f(x);
        }
        Ok(())
    })
}

/// The lane kernel of `f` applied to pairs of elements.
pub(crate) fn binary<T: Element, S: Element, U: Element>(
    name: &str,
    f: Arc<impl Fn(T, S) -> U + Send + Sync + 'static>,
) -> Arc<LaneFn> {
    let op = name.to_string();
    Arc::new(move |ins: &[Lane<'_>], out: &mut LaneMut<'_>| {
        let [x, y] = ins else {
            return Err(mismatch(&op));
        };
        let (x, y) = (typed::<T>(x, &op)?, typed::<S>(y, &op)?);
        let out = out.get::<U>().ok_or_else(|| mismatch(&op))?;
        for ((o, &x), &y) in out.iter_mut().zip(x).zip(y) {
            *o = f(x, y);
        }
        Ok(())
    })
}

/// The lane kernel of `f` applied to triples of elements.
pub(crate) fn ternary<A: Element, B: Element, C: Element, U: Element>(
    name: &str,
    f: impl Fn(A, B, C) -> U + Send + Sync + 'static,
) -> Arc<LaneFn> {
    let op = name.to_string();
    Arc::new(move |ins: &[Lane<'_>], out: &mut LaneMut<'_>| {
        let [a, b, c] = ins else {
            return Err(mismatch(&op));
        };
        let (a, b, c) = (
            typed::<A>(a, &op)?,
            typed::<B>(b, &op)?,
            typed::<C>(c, &op)?,
        );
        let out = out.get::<U>().ok_or_else(|| mismatch(&op))?;
        for (((o, &a), &b), &c) in out.iter_mut().zip(a).zip(b).zip(c) {
            *o = f(a, b, c);
        }
        Ok(())
    })
}

/// The values of a box of an array (C order), kept alive while lanes of
/// them are read: an in-memory array whole, an earlier stage's result, one
/// decoded chunk, or a block a task evaluated. Lanes are cut at element
/// offsets into the box. Clones share the values.
#[derive(Clone)]
pub(crate) struct Held {
    /// Owns the memory `ptr` points into (never moved out of, never
    /// mutated while held).
    _owner: Arc<dyn Any + Send + Sync>,
    ptr: *const u8,
    len: usize,
    size: usize,
    ty: TypeId,
    origin: Vec<u64>,
    shape: Vec<u64>,
}

// SAFETY: `ptr` points into the heap memory `_owner` owns, which is
// `Send + Sync` and only read through `Held`.
unsafe impl Send for Held {}
unsafe impl Sync for Held {}

impl Held {
    /// Values at `ptr` (`len` of them, C order over the box at `origin`
    /// of `shape`), which `owner` keeps alive and unmoved.
    fn new<T: Element>(
        owner: Arc<dyn Any + Send + Sync>,
        (ptr, len): (*const T, usize),
        origin: &[u64],
        shape: &[u64],
    ) -> Self {
        debug_assert_eq!(len as u64, shape.iter().product::<u64>());
        Self {
            ptr: ptr.cast(),
            len,
            size: std::mem::size_of::<T>(),
            ty: TypeId::of::<T>(),
            origin: origin.to_vec(),
            shape: shape.to_vec(),
            _owner: owner,
        }
    }

    /// A whole array (origin 0) that `owner` keeps (a heap buffer stays
    /// where it is when its owner moves); `None` unless it is in standard
    /// (C) layout.
    fn whole<T: Element>(owner: Arc<dyn Any + Send + Sync>, array: &ArrayD<T>) -> Option<Self> {
        let values = array.as_slice()?;
        let shape: Vec<u64> = array.shape().iter().map(|&n| n as u64).collect();
        let origin = vec![0; shape.len()];
        let at = (values.as_ptr(), values.len());
        Some(Self::new(owner, at, &origin, &shape))
    }

    /// A whole in-memory array, shared.
    pub(crate) fn array<T: Element>(data: Arc<ArrayD<T>>) -> Option<Self> {
        Self::whole(data.clone(), &data)
    }

    /// A whole array kept as a block (an earlier stage's result), shared;
    /// `None` unless it is an `ArrayD<T>` in standard layout.
    pub(crate) fn shared_block<T: Element>(whole: Arc<Block>) -> Option<Self> {
        Self::whole(whole.clone(), whole.downcast_ref::<ArrayD<T>>()?)
    }

    /// A block over `region`, owned.
    pub(crate) fn block<T: Element>(block: ArrayD<T>, region: &Region) -> Self {
        let block = if block.is_standard_layout() {
            block
        } else {
            block.as_standard_layout().into_owned()
        };
        let values = block.as_slice().expect("standard layout");
        let at = (values.as_ptr(), values.len());
        Self::new(Arc::new(block), at, region.start(), &region.shape())
    }

    /// Decoded native-order bytes of the values over `region`, read in
    /// place where they are aligned (else copied once).
    pub(crate) fn bytes<T: Element>(bytes: Vec<u8>, region: &Region) -> Result<Self> {
        let expected = region.num_elements() as usize * std::mem::size_of::<T>();
        if bytes.len() != expected {
            return Err(Error::Invalid {
                operation: "read".into(),
                message: format!(
                    "a chunk decoded to {} bytes where {expected} were expected",
                    bytes.len()
                ),
            });
        }
        let Some(values) = T::cast_ne_bytes(&bytes) else {
            let values = ArrayD::from_shape_vec(
                IxDyn(&crate::runtime::block::shape_of(region)),
                T::from_ne_bytes(&bytes),
            )
            .expect("length checked");
            return Ok(Self::block(values, region));
        };
        let at = (values.as_ptr(), values.len());
        Ok(Self::new(
            Arc::new(bytes),
            at,
            region.start(),
            &region.shape(),
        ))
    }

    /// Where the box starts, in the array.
    pub(crate) fn origin(&self) -> &[u64] {
        &self.origin
    }

    /// The box's shape.
    pub(crate) fn shape(&self) -> &[u64] {
        &self.shape
    }

    /// Asks the CPU to start loading the `len` values from `offset` into
    /// cache (where it can; clamped to the box), so that reading memory
    /// overlaps the arithmetic on the lane before.
    pub(crate) fn prefetch(&self, offset: usize, len: usize) {
        #[cfg(target_arch = "x86_64")]
        {
            let end = (offset + len).min(self.len) * self.size;
            let mut at = offset.min(self.len) * self.size;
            while at < end {
                // SAFETY: in bounds of the owner's buffer; a prefetch never
                // faults and changes no value.
                unsafe {
                    use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
                    _mm_prefetch::<_MM_HINT_T0>(self.ptr.add(at).cast());
                }
                at += 64;
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (offset, len);
    }

    /// The `len` values from element `offset` of the box (C order).
    pub(crate) fn lane(&self, offset: usize, len: usize) -> Lane<'_> {
        assert!(offset + len <= self.len, "a lane outside its values");
        Lane {
            // SAFETY: in bounds (checked above) of the owner's buffer.
            ptr: unsafe { self.ptr.add(offset * self.size) },
            len,
            ty: self.ty,
            _borrow: PhantomData,
        }
    }
}

/// A typed buffer for one step's values (a lane's worth, reused from lane
/// to lane), or a task's output filled lane by lane.
pub(crate) struct LaneBuf {
    values: Box<dyn Any + Send>,
    ptr: *mut u8,
    len: usize,
    size: usize,
    ty: TypeId,
}

// SAFETY: `ptr` points into the `Vec` `values` owns; access goes through
// `&self`/`&mut self`.
unsafe impl Send for LaneBuf {}

impl LaneBuf {
    /// `len` default values of `T`.
    pub(crate) fn new<T: Element>(len: usize) -> Self {
        let mut values = vec![T::default(); len];
        let ptr = values.as_mut_ptr().cast();
        Self {
            values: Box::new(values),
            ptr,
            len,
            size: std::mem::size_of::<T>(),
            ty: TypeId::of::<T>(),
        }
    }

    /// The first `len` values.
    pub(crate) fn lane(&self, len: usize) -> Lane<'_> {
        assert!(len <= self.len, "a lane longer than its buffer");
        Lane {
            ptr: self.ptr,
            len,
            ty: self.ty,
            _borrow: PhantomData,
        }
    }

    /// The `len` values from `offset`, to write.
    pub(crate) fn lane_mut(&mut self, offset: usize, len: usize) -> LaneMut<'_> {
        assert!(offset + len <= self.len, "a lane outside its buffer");
        LaneMut {
            // SAFETY: in bounds (checked above) of the buffer.
            ptr: unsafe { self.ptr.add(offset * self.size) },
            len,
            ty: self.ty,
            _borrow: PhantomData,
        }
    }

    /// Copies `src` (of the buffer's type) to `offset`.
    pub(crate) fn write(&mut self, offset: usize, src: Lane<'_>) -> Result<()> {
        if src.ty != self.ty || offset + src.len > self.len {
            return Err(mismatch("write"));
        }
        // SAFETY: same element type, in bounds, and `src` borrows other
        // memory (a `&mut self` is held here).
        unsafe {
            std::ptr::copy_nonoverlapping(
                src.ptr,
                self.ptr.add(offset * self.size),
                src.len * self.size,
            )
        };
        Ok(())
    }

    /// The values as an array of `shape`.
    pub(crate) fn into_block<T: Element>(self, shape: &[usize]) -> Result<Block> {
        let values = self
            .values
            .downcast::<Vec<T>>()
            .map_err(|_| mismatch("assemble"))?;
        let array = ArrayD::from_shape_vec(IxDyn(shape), *values).map_err(|_| Error::Internal {
            operation: "assemble".into(),
            message: "a buffer of another length".into(),
        })?;
        Ok(Box::new(array))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lanes_give_their_values_back_only_as_their_type() {
        let v = vec![1.0f64, 2.0, 3.0];
        let lane = Lane::new(&v);
        assert_eq!(lane.get::<f64>(), Some(&v[..]));
        assert!(lane.get::<u64>().is_none());
        assert!(lane.get::<f32>().is_none());
    }

    #[test]
    fn kernels_and_buffers_compute_in_place() {
        let f = binary::<f64, f64, f64>("add", Arc::new(|x, y| x + y));
        let (a, b) = (vec![1.0, 2.0, 3.0], vec![10.0, 20.0, 30.0]);
        let mut out = LaneBuf::new::<f64>(4);
        f(&[Lane::new(&a), Lane::new(&b)], &mut out.lane_mut(1, 3)).unwrap();
        assert!(f(&[Lane::new(&a)], &mut out.lane_mut(0, 3)).is_err());
        let wrong = vec![1u8; 3];
        assert!(f(&[Lane::new(&a), Lane::new(&wrong)], &mut out.lane_mut(0, 3)).is_err());
        let block = out.into_block::<f64>(&[4]).unwrap();
        let array = crate::runtime::block::take::<f64>(block, "t").unwrap();
        assert_eq!(array.as_slice().unwrap(), &[0.0, 11.0, 22.0, 33.0]);
    }

    #[test]
    fn held_values_are_read_at_offsets_in_their_box() {
        let region = Region::new(vec![2, 0], vec![4, 3]).unwrap();
        let values: Vec<f32> = (0..6).map(|i| i as f32).collect();
        let mut bytes = vec![0u8];
        bytes.extend(<f32 as Element>::to_ne_bytes(&values));
        // Misaligned bytes are copied once; aligned ones read in place.
        let unaligned = Held::bytes::<f32>(bytes[1..].to_vec(), &region).unwrap();
        assert_eq!(unaligned.lane(2, 3).get::<f32>().unwrap(), &[2.0, 3.0, 4.0]);
        assert_eq!(unaligned.origin(), &[2, 0]);
        assert!(Held::bytes::<f32>(vec![0; 5], &region).is_err());
        let whole = Held::array(Arc::new(ArrayD::from_elem(IxDyn(&[2, 2]), 7i32))).unwrap();
        assert_eq!(whole.lane(1, 3).get::<i32>().unwrap(), &[7, 7, 7]);
        assert_eq!(whole.shape(), &[2, 2]);
    }
}
