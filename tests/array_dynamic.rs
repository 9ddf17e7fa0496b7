//! `DynArray`: arrays whose dtype is known only from the store, for every
//! dtype, through real Zarr stores; conversions with numpy's `astype`
//! semantics; the `with_dtype!` dispatch.

use std::sync::Arc;

use ndarray::{ArrayD, IxDyn};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{
    ArrayMeta, ChunkGrid, ChunkStore, DType, Element, MemoryStore, Scalar, ZarrStore,
};
use ndchunk::{with_dtype, Array, Chunks, DynArray};

/// Values 0, 1, …, n - 1 (mod 100, and `i % 2 == 1` for bool) of `T`,
/// written chunk by chunk into `store`.
fn fill<T: Element>(store: &dyn ChunkStore, value: impl Fn(u64) -> T) -> ArrayD<T> {
    let shape: Vec<usize> = store.meta().shape().iter().map(|&n| n as usize).collect();
    let n: usize = shape.iter().product();
    let whole = ArrayD::from_shape_vec(IxDyn(&shape), (0..n as u64).map(value).collect()).unwrap();
    let grid = store.meta().grid.clone();
    for index in grid.all_blocks().iter() {
        let region = grid.block_region(&index).unwrap();
        let cut: Vec<ndarray::SliceInfoElem> = region
            .start()
            .iter()
            .zip(region.stop())
            .map(|(&a, &b)| (a as usize..b as usize).into())
            .collect();
        let part = whole.slice(cut.as_slice());
        let values: Vec<T> = part.iter().copied().collect();
        store
            .write_chunk_bytes(&index, &T::to_ne_bytes(&values))
            .unwrap();
    }
    whole
}

fn meta(dtype: DType, shape: &[u64], chunks: &[u64]) -> ArrayMeta {
    let fill = match dtype {
        DType::Bool => Scalar::Bool(false),
        DType::Float32 | DType::Float64 => Scalar::Float(f64::NAN),
        _ => Scalar::Int(0),
    };
    let mut meta = ArrayMeta::new(ChunkGrid::regular(shape, chunks).unwrap(), dtype, fill);
    meta.dimension_names = Some(vec![Some("y".into()), Some("x".into())]);
    meta
}

fn element<T: Element>(i: u64) -> T {
    // The i-th value, through the bytes of a u8 (every dtype holds 0..100).
    let byte = (i % 100) as u8;
    let bytes = match T::DTYPE {
        DType::Bool => vec![byte % 2],
        DType::Float32 => (byte as f32).to_ne_bytes().to_vec(),
        DType::Float64 => (byte as f64).to_ne_bytes().to_vec(),
        d => {
            let mut b = vec![0u8; d.size()];
            let at = if cfg!(target_endian = "little") {
                0
            } else {
                d.size() - 1
            };
            b[at] = byte;
            b
        }
    };
    T::from_ne_bytes(&bytes)[0]
}

fn as_f64<T: Element>(i: u64) -> f64 {
    if T::DTYPE == DType::Bool {
        ((i % 100) % 2) as f64
    } else {
        (i % 100) as f64
    }
}

/// For one dtype: a Zarr store opened as a `DynArray`, its metadata, its
/// values through `typed`, `astype::<f64>` and a reduction, and a write
/// back into a second store of the same dtype.
fn round_trip<T: ndchunk::DynElement>(dir: &std::path::Path) {
    let dtype = T::DTYPE;
    let spec = ZarrArraySpec::new(
        meta(dtype, &[9, 14], &[4, 5]),
        ZarrFormat::V3,
        ZarrCodec::Zstd(1),
    );
    let path = dir.join(format!("{dtype}.zarr"));
    let store = ZarrStore::create(&path, "/", &spec).unwrap();
    let want = fill::<T>(&store, element::<T>);
    let a = DynArray::from_store(Arc::new(ZarrStore::open_dir(&path).unwrap())).unwrap();
    assert_eq!(a.dtype(), dtype);
    assert_eq!(a.shape(), vec![9, 14]);
    assert_eq!(a.ndim(), 2);
    assert_eq!(a.grid().chunk_shape(), vec![4, 5]);
    assert_eq!(a.typed::<T>().unwrap().compute().unwrap(), want);
    let floats = a.as_f64().compute().unwrap();
    let want_f64 =
        ArrayD::from_shape_fn(IxDyn(&[9, 14]), |i| as_f64::<T>((i[0] * 14 + i[1]) as u64));
    assert_eq!(floats, want_f64, "{dtype}");
    let total = a.as_f64().sum([0, 1], false).compute().unwrap();
    assert_eq!(total[[]], want_f64.sum(), "{dtype}");
    // Writing back: a store of the same dtype, another chunking.
    let out = dir.join(format!("{dtype}-out.zarr"));
    let spec = ZarrArraySpec::new(
        meta(dtype, &[9, 14], &[3, 14]),
        ZarrFormat::V2,
        ZarrCodec::Zstd(1),
    );
    let target = ZarrStore::create(&out, "/", &spec).unwrap();
    a.rechunk([2, 2]).store(&target).unwrap();
    let back = DynArray::from_store(Arc::new(ZarrStore::open_dir(&out).unwrap())).unwrap();
    assert_eq!(
        back.typed::<T>().unwrap().compute().unwrap(),
        want,
        "{dtype}"
    );
}

#[test]
fn every_dtype_from_a_zarr_store_and_back() {
    let dir = tempfile::tempdir().unwrap();
    for dtype in DType::ALL {
        with_dtype!(dtype, T => round_trip::<T>(dir.path()));
    }
}

#[test]
fn typed_refuses_another_dtype_and_store_checks_the_dtype() {
    let a = DynArray::from(Array::<i16>::ones(&[4], [2]).unwrap());
    let e = a.typed::<i32>().unwrap_err().to_string();
    assert!(e.contains("int16") && e.contains("int32"), "{e}");
    let store = MemoryStore::new(
        "f",
        ArrayMeta::new(
            ChunkGrid::regular(&[4], &[2]).unwrap(),
            DType::Float32,
            Scalar::Float(0.0),
        ),
    );
    let e = a.store(&store).unwrap_err().to_string();
    assert!(e.contains("int16") || e.contains("float32"), "{e}");
    assert!(a.astype::<f32>().store(&store).is_ok());
}

#[test]
fn astype_follows_numpy_unsafe_casting() {
    let x = ArrayD::from_shape_vec(
        IxDyn(&[8]),
        vec![-2.7, -0.0, 0.0, 0.5, 1.9, 300.0, f64::NAN, 1e20],
    )
    .unwrap();
    let a = DynArray::from(Array::from_ndarray(x.clone(), [3]).unwrap());
    let ints = a
        .astype::<i32>()
        .compute()
        .unwrap()
        .into_raw_vec_and_offset()
        .0;
    assert_eq!(ints, vec![-2, 0, 0, 0, 1, 300, 0, i32::MAX]);
    let bytes = a
        .astype::<u8>()
        .compute()
        .unwrap()
        .into_raw_vec_and_offset()
        .0;
    assert_eq!(bytes, vec![0, 0, 0, 0, 1, 255, 0, 255]);
    let bools = a
        .astype::<bool>()
        .compute()
        .unwrap()
        .into_raw_vec_and_offset()
        .0;
    assert_eq!(
        bools,
        vec![true, false, false, true, true, true, true, true]
    );
    let back = DynArray::from(
        Array::from_ndarray(
            ArrayD::from_shape_vec(IxDyn(&[3]), vec![true, false, true]).unwrap(),
            [2],
        )
        .unwrap(),
    );
    assert_eq!(
        back.astype::<f32>()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1.0, 0.0, 1.0]
    );
    assert_eq!(
        back.astype::<i64>()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![1, 0, 1]
    );
    assert_eq!(
        back.astype::<bool>()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![true, false, true]
    );
    // Integers to integers wrap, as numpy's astype.
    let wide = DynArray::from(
        Array::from_ndarray(
            ArrayD::from_shape_vec(IxDyn(&[3]), vec![-1i64, 256, 70000]).unwrap(),
            [3],
        )
        .unwrap(),
    );
    assert_eq!(
        wide.astype::<u16>()
            .compute()
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![65535, 256, 4464]
    );
    // The same dtype is the same array, not a new operation.
    let same = a.astype::<f64>();
    let plan = same.plan().unwrap();
    assert!(
        !plan
            .stages()
            .iter()
            .any(|s| s.fused().iter().any(|op| op.contains("astype"))),
        "{plan}"
    );
}

#[test]
fn rechunk_keeps_the_dtype_and_the_plan_is_explained() {
    let a = DynArray::from(Array::<u32>::arange(100, [7]).unwrap());
    let b = a.rechunk(Chunks::Shape(vec![25]));
    assert_eq!(b.dtype(), DType::UInt32);
    assert_eq!(b.grid().chunk_shape(), vec![25]);
    assert_eq!(
        b.typed::<u32>().unwrap().compute().unwrap(),
        a.typed::<u32>().unwrap().compute().unwrap()
    );
    assert!(!b.explain().unwrap().is_empty());
}

#[test]
fn with_dtype_binds_the_rust_type_of_every_dtype() {
    for dtype in DType::ALL {
        let (name, size) =
            with_dtype!(dtype, T => (<T as Element>::DTYPE, std::mem::size_of::<T>()));
        assert_eq!((name, size), (dtype, dtype.size()));
    }
}
