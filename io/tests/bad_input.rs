//! Bad input gets a clear error that says where, and nothing panics.

use std::path::Path;

use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk_io::{
    ArrayMeta, ChunkGrid, ChunkStore, ChunkStoreExt, DType, IoError, Region, Scalar, ZarrStore,
};

fn small_store(root: &Path, format: ZarrFormat) -> ZarrStore {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[6, 4], &[3, 2]).unwrap(),
        DType::Float32,
        Scalar::Float(0.0),
    );
    let store = ZarrStore::create(
        root,
        "a",
        &ZarrArraySpec::new(meta, format, ZarrCodec::Zstd(3)),
    )
    .unwrap();
    for chunk in store.meta().grid.all_blocks().iter() {
        store.write_chunk_bytes(&chunk, &[1u8; 24]).unwrap();
    }
    store
}

fn chunk_file(root: &Path, format: ZarrFormat) -> std::path::PathBuf {
    match format {
        ZarrFormat::V2 => root.join("a/1.0"),
        ZarrFormat::V3 => root.join("a/c/1/0"),
    }
}

#[test]
fn corrupt_chunk_names_the_store_and_the_chunk() {
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let dir = tempfile::tempdir().unwrap();
        let store = small_store(dir.path(), format);
        std::fs::write(chunk_file(dir.path(), format), b"not zstd at all").unwrap();
        match store.read_chunk_bytes(&[1, 0]) {
            Err(IoError::CorruptChunk {
                location, chunk, ..
            }) => {
                assert!(location.ends_with("/a"), "{location}");
                assert_eq!(chunk, vec![1, 0]);
            }
            other => panic!("{format:?}: expected a corrupt-chunk error, got {other:?}"),
        }
        // The region read that touches it fails the same way; others work.
        assert!(store
            .read_region_bytes(&Region::new(vec![2, 0], vec![4, 2]).unwrap())
            .is_err());
        assert!(store.read_chunk_bytes(&[0, 0]).is_ok());
        // A truncated chunk too.
        let bytes = std::fs::read(chunk_file(dir.path(), format)).unwrap();
        std::fs::write(chunk_file(dir.path(), format), &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(
            store.read_chunk_bytes(&[1, 0]),
            Err(IoError::CorruptChunk { .. })
        ));
    }
}

#[test]
fn missing_and_malformed_metadata_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    // A directory that is not a store.
    let err = ZarrStore::open_dir(dir.path()).unwrap_err();
    assert!(matches!(err, IoError::Metadata { .. }), "{err}");
    assert!(err.to_string().contains("no zarr.json or .zarray"), "{err}");
    // A path that does not exist.
    let err = ZarrStore::open_dir(dir.path().join("nope")).unwrap_err();
    assert!(matches!(err, IoError::NotAStore { .. }), "{err}");
    // Malformed JSON.
    std::fs::write(dir.path().join("zarr.json"), b"{ not json").unwrap();
    let err = ZarrStore::open_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("not valid JSON"), "{err}");
    // Valid JSON, impossible metadata.
    std::fs::write(
        dir.path().join("zarr.json"),
        br#"{"zarr_format": 3, "node_type": "array", "shape": [4], "data_type": "float32"}"#,
    )
    .unwrap();
    assert!(matches!(
        ZarrStore::open_dir(dir.path()),
        Err(IoError::Metadata { .. })
    ));
    // A group is not an array.
    std::fs::write(
        dir.path().join("zarr.json"),
        br#"{"zarr_format": 3, "node_type": "group"}"#,
    )
    .unwrap();
    let err = ZarrStore::open_dir(dir.path()).unwrap_err();
    assert!(err.to_string().contains("group"), "{err}");
}

#[test]
fn unsupported_codec_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let doc = r#"{"zarr_format": 3, "node_type": "array", "shape": [4], "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [2]}},
        "chunk_key_encoding": {"name": "default"}, "fill_value": 0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "superzip"}]}"#;
    std::fs::write(dir.path().join("zarr.json"), doc).unwrap();
    match ZarrStore::open_dir(dir.path()) {
        Err(IoError::UnsupportedCodec { codec, .. }) => assert_eq!(codec, "superzip"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn wrong_dtype_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_store(dir.path(), ZarrFormat::V3);
    match store.read_chunk::<f64>(&[0, 0]) {
        Err(IoError::WrongDType {
            actual, requested, ..
        }) => {
            assert_eq!((actual, requested), (DType::Float32, DType::Float64));
        }
        other => panic!("{other:?}"),
    }
    let data = ndarray::ArrayD::<i32>::zeros(ndarray::IxDyn(&[3, 2]));
    assert!(matches!(
        store.write_chunk(&[0, 0], data.view()),
        Err(IoError::WrongDType { .. })
    ));
}

#[test]
fn writes_outside_the_array_or_of_the_wrong_size_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_store(dir.path(), ZarrFormat::V2);
    assert!(matches!(
        store.write_chunk_bytes(&[2, 0], &[0u8; 24]),
        Err(IoError::Grid { .. })
    ));
    assert!(matches!(
        store.write_chunk_bytes(&[0, 0, 0], &[0u8; 24]),
        Err(IoError::Grid { .. })
    ));
    assert!(matches!(
        store.write_chunk_bytes(&[0, 0], &[0u8; 23]),
        Err(IoError::WrongLength { .. })
    ));
    let outside = Region::new(vec![4, 0], vec![8, 4]).unwrap();
    assert!(matches!(
        store.write_region_bytes(&outside, &[0u8; 64]),
        Err(IoError::WrongLength { .. }) | Err(IoError::Grid { .. })
    ));
    assert!(matches!(
        store.read_region_bytes(&outside),
        Err(IoError::Grid { .. })
    ));
    // A region that cuts chunks cannot be written whole-chunk.
    let partial = Region::new(vec![0, 0], vec![2, 4]).unwrap();
    assert!(matches!(
        store.write_region_bytes(&partial, &[0u8; 32]),
        Err(IoError::NotChunkAligned { .. })
    ));
    // Nothing was changed by the refused writes.
    assert_eq!(store.read_chunk_bytes(&[0, 0]).unwrap(), vec![1u8; 24]);
}

#[test]
fn bad_codec_specs_are_errors() {
    for bad in [
        "zstd:99",
        "blosc:snappy",
        "blosc:lz4:5:sideways",
        "lzma",
        "gzip:x",
        "",
    ] {
        assert!(bad.parse::<ZarrCodec>().is_err(), "{bad}");
    }
    assert_eq!(
        "blosc:zstd:3:bitshuffle".parse::<ZarrCodec>().unwrap(),
        ZarrCodec::Blosc {
            cname: "zstd".into(),
            clevel: 3,
            shuffle: "bitshuffle".into()
        }
    );
    // zlib has no v3 codec.
    let dir = tempfile::tempdir().unwrap();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[4], &[2]).unwrap(),
        DType::UInt8,
        Scalar::UInt(0),
    );
    assert!(ZarrStore::create(
        dir.path(),
        "z",
        &ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zlib(5))
    )
    .is_err());
}

/// An array being written is not an array to anyone else until published.
#[test]
fn unpublished_arrays_do_not_look_finished() {
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let dir = tempfile::tempdir().unwrap();
        let meta = ArrayMeta::new(
            ChunkGrid::regular(&[6, 4], &[3, 2]).unwrap(),
            DType::Float32,
            Scalar::Float(0.0),
        );
        let store = ZarrStore::create_unpublished(
            dir.path(),
            "a",
            &ZarrArraySpec::new(meta, format, ZarrCodec::Zstd(3)),
        )
        .unwrap();
        store.write_chunk_bytes(&[0, 0], &[1u8; 24]).unwrap();
        assert!(
            ZarrStore::open(dir.path(), "a").is_err(),
            "{format:?}: visible before publish"
        );
        store.publish().unwrap();
        let reopened = ZarrStore::open(dir.path(), "a").unwrap();
        assert_eq!(reopened.read_chunk_bytes(&[0, 0]).unwrap(), vec![1u8; 24]);
    }
}
