//! A node's element type, for the untyped planner and executor: what they
//! do with its blocks (assemble, cut, read and write chunks) and its lanes
//! (hold a block, lend a shared one, buffer lanes), made once per element
//! type by [`block_type`].

use std::marker::PhantomData;
use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk_chunking::Region;
use ndchunk_io::copy::copy_box;
use ndchunk_io::{ChunkStore, ChunkStoreExt, DType, Element};

use crate::error::{Error, Result};
use crate::runtime::block::{block, copy_out, slice_of, take, Block};
use crate::runtime::lanes::{Held, LaneBuf};

/// What the untyped planner and executor need to do with a node's blocks:
/// assemble them, cut them, turn them into bytes. One implementation per
/// element type, made generically by [`block_type`].
pub(crate) trait BlockType: Send + Sync {
    /// The element type.
    fn dtype(&self) -> DType;
    /// A block of `shape` filled with the type's default value.
    fn filled(&self, shape: &[usize]) -> Block;
    /// Copies `src` into `dst` at `at` (a region local to `dst`).
    fn assign(&self, dst: &mut Block, at: &Region, src: Block) -> Result<()>;
    /// The part `local` (local to the block) of a block, owned.
    fn cut(&self, block: Block, local: &Region) -> Result<Block>;
    /// A copy of the part `region` (local to `whole`) of a block kept
    /// whole, e.g. a materialised reduction read by a later stage.
    fn copy_region(&self, whole: &Block, region: &Region) -> Result<Block>;
    /// Writes the block as chunk `index` of `store` (of this dtype), from
    /// the block's own memory where the type has a byte view.
    fn write_chunk(&self, store: &dyn ChunkStore, index: &[u64], block: Block) -> Result<()>;
    /// The values of `store` (of this dtype) over `region`, decoded straight
    /// into the block where the chunks allow.
    fn read_store(&self, store: &dyn ChunkStore, region: &Region) -> Result<Block>;
    /// A block over `region`, held for lanes to read.
    fn hold(&self, block: Block, region: &Region) -> Result<Held>;
    /// A whole array kept as a shared block, lent to lanes (`None` when
    /// it is not in standard layout).
    fn lend(&self, whole: Arc<Block>) -> Option<Held>;
    /// A copy of the values `held` as a block (of its box's shape).
    fn held_block(&self, held: &Held) -> Result<Block>;
    /// A buffer of `len` values for lanes.
    fn lane_buffer(&self, len: usize) -> LaneBuf;
    /// A buffer filled lane by lane, as a block of `shape`.
    fn buffer_into_block(&self, buffer: LaneBuf, shape: &[usize]) -> Result<Block>;
}

struct TypeOf<T>(PhantomData<fn() -> T>);

/// The [`BlockType`] of `T`.
pub(crate) fn block_type<T: Element>() -> Arc<dyn BlockType> {
    Arc::new(TypeOf::<T>(PhantomData))
}

impl<T: Element> BlockType for TypeOf<T> {
    fn dtype(&self) -> DType {
        T::DTYPE
    }

    fn filled(&self, shape: &[usize]) -> Block {
        block(ArrayD::<T>::default(IxDyn(shape)))
    }

    fn assign(&self, dst: &mut Block, at: &Region, src: Block) -> Result<()> {
        let src = take::<T>(src, "assemble")?;
        let dst = dst
            .downcast_mut::<ArrayD<T>>()
            .ok_or_else(|| Error::Internal {
                operation: "assemble".into(),
                message: format!("expected a block of {}", T::DTYPE.name()),
            })?;
        let dst_shape: Vec<u64> = dst.shape().iter().map(|&n| n as u64).collect();
        let fits = src.shape().iter().map(|&n| n as u64).eq(at.shape());
        match (dst.as_slice_mut(), src.as_slice()) {
            // Rows of memcpy, where ndarray would copy element by element.
            (Some(to), Some(from)) if fits => copy_box(
                from,
                &at.shape(),
                &Region::from_shape(&at.shape()),
                to,
                &dst_shape,
                at.start(),
                1,
            ),
            _ => dst.slice_mut(slice_of(at).as_slice()).assign(&src),
        }
        Ok(())
    }

    fn cut(&self, block_in: Block, local: &Region) -> Result<Block> {
        let array = take::<T>(block_in, "cut")?;
        if local
            .shape()
            .iter()
            .map(|&n| n as usize)
            .eq(array.shape().iter().copied())
        {
            return Ok(block(array));
        }
        Ok(block(copy_out(&array, local)))
    }

    fn copy_region(&self, whole: &Block, region: &Region) -> Result<Block> {
        let array = whole
            .downcast_ref::<ArrayD<T>>()
            .ok_or_else(|| Error::Internal {
                operation: "read".into(),
                message: format!("expected a block of {}", T::DTYPE.name()),
            })?;
        Ok(block(copy_out(array, region)))
    }

    fn write_chunk(&self, store: &dyn ChunkStore, index: &[u64], block_in: Block) -> Result<()> {
        let mut array = take::<T>(block_in, "write")?;
        if let Some(bytes) = array.as_slice_mut().and_then(|v| T::bytes_mut(v)) {
            store.write_chunk_bytes(index, bytes)?;
            return Ok(());
        }
        let values: Vec<T> = array.iter().copied().collect();
        store.write_chunk_bytes(index, &T::to_ne_bytes(&values))?;
        Ok(())
    }

    fn read_store(&self, store: &dyn ChunkStore, region: &Region) -> Result<Block> {
        Ok(block(store.read_region::<T>(region)?))
    }

    fn hold(&self, block_in: Block, region: &Region) -> Result<Held> {
        Ok(Held::block(take::<T>(block_in, "hold")?, region))
    }

    fn lend(&self, whole: Arc<Block>) -> Option<Held> {
        Held::shared_block::<T>(whole)
    }

    fn held_block(&self, held: &Held) -> Result<Block> {
        let shape: Vec<usize> = held.shape().iter().map(|&n| n as usize).collect();
        let len = shape.iter().product();
        let values = held
            .lane(0, len)
            .get::<T>()
            .ok_or_else(|| Error::Internal {
                operation: "held_block".into(),
                message: format!("held values are not {}", T::DTYPE.name()),
            })?;
        Ok(block(
            ArrayD::from_shape_vec(IxDyn(&shape), values.to_vec()).map_err(|e| {
                Error::Internal {
                    operation: "held_block".into(),
                    message: e.to_string(),
                }
            })?,
        ))
    }

    fn lane_buffer(&self, len: usize) -> LaneBuf {
        LaneBuf::new::<T>(len)
    }

    fn buffer_into_block(&self, buffer: LaneBuf, shape: &[usize]) -> Result<Block> {
        buffer.into_block::<T>(shape)
    }
}
