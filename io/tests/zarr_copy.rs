//! Zarr chunks copied as stored: stores whose chunks are encoded alike say
//! so by an equal `encoding()`, and a chunk read encoded from one and
//! written into the other reads back as the same values. Sharded arrays,
//! other codecs and in-memory stores do not take part.

use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk_io::{
    ArrayMeta, ChunkGrid, ChunkStore, ChunkStoreExt, DType, MemoryStore, Region, Scalar, ZarrStore,
};

fn spec(shape: &[u64], format: ZarrFormat, codec: ZarrCodec) -> ZarrArraySpec {
    let grid = ChunkGrid::regular(shape, &[8, 10]).unwrap();
    ZarrArraySpec::new(
        ArrayMeta::new(grid, DType::UInt16, Scalar::UInt(0)),
        format,
        codec,
    )
}

fn zstd() -> ZarrCodec {
    ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "bitshuffle".into(),
    }
}

#[test]
fn chunks_copied_as_stored_read_back_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let mut named = spec(&[16, 20], ZarrFormat::V3, zstd());
    named.meta.dimension_names = Some(vec![Some("y".into()), Some("x".into())]);
    let source = ZarrStore::create(root, "source", &named).unwrap();
    let values = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[16, 20]), |ix| {
        (ix[0] * 100 + ix[1]) as u16
    });
    // Three of the four chunks written; chunk [1, 1] never.
    for chunk in [[0u64, 0], [0, 1], [1, 0]] {
        let region = source.meta().grid.block_region(&chunk).unwrap();
        let part = values.slice_each_axis(|a| {
            let i = a.axis.index();
            ndarray::Slice::from(region.start()[i] as usize..region.stop()[i] as usize)
        });
        source.write_chunk(&chunk, part).unwrap();
    }
    let copy = ZarrStore::create(root, "copy", &spec(&[16, 20], ZarrFormat::V3, zstd())).unwrap();
    assert!(source.encoding().is_some());
    assert_eq!(
        source.encoding(),
        copy.encoding(),
        "names and attributes do not count"
    );
    for chunk in source.meta().grid.all_blocks().iter() {
        if let Some(encoded) = source.read_encoded_chunk(&chunk).unwrap() {
            copy.write_encoded_chunk(&chunk, encoded).unwrap();
        }
    }
    assert!(source.read_encoded_chunk(&[1, 1]).unwrap().is_none());
    let whole = Region::from_shape(&[16, 20]);
    assert_eq!(
        copy.read_region::<u16>(&whole).unwrap(),
        source.read_region::<u16>(&whole).unwrap()
    );
    assert!(!copy.chunk_exists(&[1, 1]).unwrap());
    assert!(
        copy.read_encoded_chunk(&[5, 0]).is_err(),
        "a chunk outside the grid"
    );
}

#[test]
fn stores_encoded_differently_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let base = ZarrStore::create(root, "base", &spec(&[16, 20], ZarrFormat::V3, zstd())).unwrap();
    let other_codec = ZarrStore::create(
        root,
        "none",
        &spec(&[16, 20], ZarrFormat::V3, ZarrCodec::None),
    )
    .unwrap();
    let v2 = ZarrStore::create(root, "v2", &spec(&[16, 20], ZarrFormat::V2, zstd())).unwrap();
    let mut float = spec(&[16, 20], ZarrFormat::V3, zstd());
    float.meta.dtype = DType::Int16;
    let int16 = ZarrStore::create(root, "int16", &float).unwrap();
    let mut bigger_chunks = spec(&[16, 20], ZarrFormat::V3, zstd());
    bigger_chunks.meta.grid = ChunkGrid::regular(&[16, 20], &[16, 10]).unwrap();
    let bigger = ZarrStore::create(root, "bigger", &bigger_chunks).unwrap();
    for store in [&other_codec, &v2, &int16, &bigger] {
        assert_ne!(base.encoding(), store.encoding(), "{}", store.location());
    }
    // A sharded array stores shards, not chunks: not copyable.
    let mut sharded = spec(&[16, 20], ZarrFormat::V3, zstd());
    sharded.inner_chunks = Some(vec![4, 5]);
    let sharded = ZarrStore::create(root, "sharded", &sharded).unwrap();
    assert_eq!(sharded.encoding(), None);
    assert!(sharded.read_encoded_chunk(&[0, 0]).is_err());
    let memory = MemoryStore::new("memory", base.meta().clone());
    assert_eq!(memory.encoding(), None);
    assert!(memory.write_encoded_chunk(&[0, 0], vec![1, 2]).is_err());
}
