//! Zarr chunks copied as stored: stores whose chunks are encoded alike say
//! so by an equal `encoding()`, and a chunk copied encoded from one into
//! the other reads back as the same values. A copy between stores encoded
//! differently is refused, also when a store lies about its encoding (the
//! chunk carries the encoding it was read with); no safe call writes raw
//! bytes. Sharded arrays, other codecs and in-memory stores do not take
//! part.

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
    // A chunk the copy holds and the source never wrote is erased.
    copy.write_chunk(
        &[1, 1],
        ndarray::ArrayD::<u16>::ones(ndarray::IxDyn(&[8, 10])).view(),
    )
    .unwrap();
    for chunk in source.meta().grid.all_blocks().iter() {
        let copied = copy.copy_encoded_chunk_from(&source, &chunk).unwrap();
        assert_eq!(copied, chunk != [1, 1], "{chunk:?}");
    }
    assert!(source.read_encoded_chunk(&[1, 1]).unwrap().is_none());
    let encoded = source.read_encoded_chunk(&[0, 0]).unwrap().unwrap();
    assert_eq!(Some(encoded.encoding()), source.encoding().as_deref());
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
        let region = store.meta().grid.block_region(&[0, 0]).unwrap();
        let bytes = vec![1u8; region.shape().iter().product::<u64>() as usize * 2];
        store.write_chunk_bytes(&[0, 0], &bytes).unwrap();
        let err = base.copy_encoded_chunk_from(store, &[0, 0]).unwrap_err();
        assert!(err.to_string().contains("cannot be copied here"), "{err}");
    }
    assert!(!base.chunk_exists(&[0, 0]).unwrap());
    // A store claiming the base's encoding hands over chunks that carry
    // their own: the copy is refused all the same.
    let liar = Liar {
        inner: other_codec,
        claimed: base.encoding(),
    };
    let err = base.copy_encoded_chunk_from(&liar, &[0, 0]).unwrap_err();
    assert!(err.to_string().contains("encoded differently"), "{err}");
    assert!(!base.chunk_exists(&[0, 0]).unwrap());
    // A sharded array stores shards, not chunks: not copyable.
    let mut sharded = spec(&[16, 20], ZarrFormat::V3, zstd());
    sharded.inner_chunks = Some(vec![4, 5]);
    let sharded = ZarrStore::create(root, "sharded", &sharded).unwrap();
    assert_eq!(sharded.encoding(), None);
    assert!(sharded.read_encoded_chunk(&[0, 0]).is_err());
    let memory = MemoryStore::new("memory", base.meta().clone());
    assert_eq!(memory.encoding(), None);
    assert!(memory.copy_encoded_chunk_from(&base, &[0, 0]).is_err());
    assert!(base.copy_encoded_chunk_from(&memory, &[0, 0]).is_err());
}

/// A store saying it has another's encoding.
struct Liar {
    inner: ZarrStore,
    claimed: Option<String>,
}

impl ChunkStore for Liar {
    fn meta(&self) -> &ArrayMeta {
        self.inner.meta()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn read_chunk_bytes(&self, chunk: &[u64]) -> ndchunk_io::Result<Vec<u8>> {
        self.inner.read_chunk_bytes(chunk)
    }
    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> ndchunk_io::Result<()> {
        self.inner.write_chunk_bytes(chunk, bytes)
    }
    fn chunk_exists(&self, chunk: &[u64]) -> ndchunk_io::Result<bool> {
        self.inner.chunk_exists(chunk)
    }
    fn encoding(&self) -> Option<String> {
        self.claimed.clone()
    }
    fn read_encoded_chunk(
        &self,
        chunk: &[u64],
    ) -> ndchunk_io::Result<Option<ndchunk_io::EncodedChunk>> {
        self.inner.read_encoded_chunk(chunk)
    }
}
