//! Zarr stores written by other software (zarrs, zarr-python, z5py), read
//! by ndchunk, checked against the fixtures' documented values and against
//! what zarr-python reads from the same files.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use ndchunk_io::zarr::{list_nodes, ZarrNodeKind};
use ndchunk_io::{ChunkStore, ChunkStoreExt, DType, IoError, Region, ZarrStore};

fn arange_10x10() -> Vec<f32> {
    (0..100).map(|v| v as f32).collect()
}

fn whole(store: &ZarrStore) -> Region {
    Region::from_shape(&store.meta().shape())
}

/// The 10x10 float32 arange arrays of zarrs' test data, in every codec.
/// Codecs this build lacks (bz2, pcodec, zfpy) must fail naming the codec.
#[test]
fn zarrs_test_arrays_read_as_arange_or_name_the_missing_codec() {
    let Some(base) = support::fixture("zarr/zarrs-tests") else {
        return;
    };
    let mut read = 0;
    for dir in ["v2", "v3", "v3_zarr_python"] {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(base.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("array_") {
                continue;
            }
            match ZarrStore::open_dir(&path) {
                Ok(store) => {
                    assert_eq!(store.meta().dtype, DType::Float32, "{name}");
                    assert_eq!(store.meta().grid.chunk_shape(), vec![5, 5], "{name}");
                    let values = store.read_region::<f32>(&whole(&store)).unwrap();
                    let values: Vec<f32> = values.iter().copied().collect();
                    if name.contains("zfpy") {
                        // Lossy: within the fixture's tolerance.
                        assert!(
                            values
                                .iter()
                                .zip(arange_10x10())
                                .all(|(a, b)| (a - b).abs() <= 0.02),
                            "{dir}/{name}"
                        );
                    } else {
                        assert_eq!(values, arange_10x10(), "{dir}/{name}");
                    }
                    read += 1;
                }
                Err(IoError::UnsupportedCodec { codec, location }) => {
                    assert!(
                        [
                            "bz2",
                            "pcodec",
                            "zfpy",
                            "zfp",
                            "numcodecs.bz2",
                            "numcodecs.pcodec",
                            "numcodecs.zfpy",
                            "numcodecs.fletcher32",
                            "fletcher32"
                        ]
                        .contains(&codec.as_str()),
                        "{dir}/{name}: unexpected unsupported codec {codec}"
                    );
                    assert!(location.contains(&name), "{location}");
                }
                Err(other) => panic!("{dir}/{name}: {other}"),
            }
        }
    }
    // none, blosc, gzip, zstd in v2 (C and F), v3 and zarr-python's v3, at least.
    assert!(read >= 14, "only {read} arrays read");
}

#[test]
fn v3_attributes_and_v2_attributes_are_read() {
    let Some(base) = support::fixture("zarr/zarrs-tests") else {
        return;
    };
    let store = ZarrStore::open_dir(base.join("v3_zarr_python/array_zstd.zarr")).unwrap();
    assert_eq!(store.meta().attributes["key"], "value");
    assert!(
        store.meta().codecs.iter().any(|c| c.starts_with("zstd")),
        "{:?}",
        store.meta().codecs
    );
}

#[test]
fn sharded_array_reads_shard_by_shard() {
    let Some(root) = support::fixture("zarr/zarrs-tests/sharded_array_write_read.zarr") else {
        return;
    };
    let store = ZarrStore::open(&root, "/group/array").unwrap();
    let meta = store.meta();
    assert_eq!(meta.dtype, DType::UInt16);
    assert_eq!(meta.shape(), vec![8, 8]);
    assert_eq!(
        meta.grid.chunk_shape(),
        vec![4, 8],
        "the grid is the shards"
    );
    assert_eq!(meta.inner_chunk_shape, Some(vec![4, 4]));
    let all = store.read_region::<u16>(&whole(&store)).unwrap();
    // Chunk by chunk gives the same values as the whole region.
    for shard in meta.grid.all_blocks().iter() {
        let region = meta.grid.block_region(&shard).unwrap();
        let part = store.read_chunk::<u16>(&shard).unwrap();
        let r0 = region.start()[0] as usize;
        for ((i, j), v) in part.indexed_iter().map(|(ix, v)| ((ix[0], ix[1]), v)) {
            assert_eq!(*v, all[[r0 + i, j]]);
        }
    }
}

#[test]
fn fletcher32_v2_array_reads_or_names_its_codec() {
    let Some(path) = support::fixture("zarr/zarrs-tests/zarr_python_compat/fletcher32.zarr") else {
        return;
    };
    match ZarrStore::open_dir(&path) {
        Ok(store) => {
            let values = store.read_region::<u16>(&whole(&store)).unwrap();
            assert!(values.iter().copied().eq(0..10000u16));
        }
        Err(IoError::UnsupportedCodec { codec, .. }) => assert_eq!(codec, "fletcher32"),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn string_arrays_are_refused_as_unsupported_dtype() {
    let Some(base) = support::fixture("zarr/zarrs-tests") else {
        return;
    };
    for path in [
        "zarr_python_compat/cities_v2.zarr",
        "zarr_python_compat/cities_v3.zarr",
        "v3/cities.zarr",
    ] {
        match ZarrStore::open_dir(base.join(path)) {
            Err(IoError::UnsupportedDType { dtype }) => assert!(!dtype.is_empty(), "{path}"),
            other => panic!("{path}: expected an unsupported dtype, got {other:?}"),
        }
    }
}

#[test]
fn draft_v3_store_is_refused_not_misread() {
    let Some(root) = support::fixture("zarr/zarr_implementations/zarrita.zr3") else {
        return;
    };
    let err = ZarrStore::open_dir(&root).unwrap_err().to_string();
    assert!(err.contains("draft"), "{err}");
    for array in ["raw", "gzip", "blosc/lz4"] {
        assert!(ZarrStore::open(&root, array).is_err(), "{array}");
    }
}

/// The astronaut image in four codecs, with edge chunks (100x100x1 chunks
/// over 512x512x3): all four equal each other and what zarr-python reads.
#[test]
fn zarr_implementations_image_is_identical_in_every_codec_and_to_zarr_python() {
    let Some(root) = support::fixture("zarr/zarr_implementations/zarr.zr") else {
        return;
    };
    let mut images = Vec::new();
    for codec in ["raw", "gzip", "zlib", "blosc"] {
        let store = ZarrStore::open(&root, codec).unwrap();
        assert_eq!(store.meta().shape(), vec![512, 512, 3]);
        assert_eq!(store.meta().grid.chunk_shape(), vec![100, 100, 1]);
        images.push(store.read_region_bytes(&whole(&store)).unwrap());
    }
    assert!(images.windows(2).all(|w| w[0] == w[1]));
    // Not a blank image.
    assert!(images[0].iter().filter(|&&b| b != 0).count() > 100_000);
    let Some(python) = support::python_peer() else {
        return;
    };
    let reference = zarr_python_bytes(&python, &root.join("raw"));
    assert_eq!(images[0], reference);
}

/// What zarr-python reads from an array directory, as raw C-order bytes.
fn zarr_python_bytes(python: &Path, array: &Path) -> Vec<u8> {
    support::run_python(
        python,
        "import sys, zarr, numpy; a = zarr.open_array(sys.argv[1], mode='r'); sys.stdout.buffer.write(numpy.ascontiguousarray(a[...]).tobytes())",
        &[array],
    )
}

#[test]
fn every_readable_fixture_array_matches_zarr_python() {
    let Some(base) = support::fixture("zarr/zarrs-tests") else {
        return;
    };
    let Some(python) = support::python_peer() else {
        return;
    };
    // The tree's arrays are open stores: read through them, nothing opens
    // an array twice (open_zarr reads the tree's).
    let mut compared = 0;
    let path = base.join("v3_zarr_python/array_blosc.zarr");
    for node in list_nodes(&path).unwrap() {
        if let ZarrNodeKind::Array(Ok(store)) = node.kind {
            assert_eq!(
                store.read_region_bytes(&whole(&store)).unwrap(),
                zarr_python_bytes(&python, &path)
            );
            compared += 1;
        }
    }
    assert_eq!(compared, 1);
    for dir in [
        "v2/array_blosc_C.zarr",
        "v2/array_none_F.zarr",
        "v3/array_blosc_transpose.zarr",
        "v3_zarr_python/array_gzip.zarr",
    ] {
        let path = base.join(dir);
        let store = ZarrStore::open_dir(&path).unwrap();
        assert_eq!(
            store.read_region_bytes(&whole(&store)).unwrap(),
            zarr_python_bytes(&python, &path),
            "{dir}"
        );
    }
}

#[test]
fn hierarchy_lists_groups_and_arrays() {
    let Some(root) = support::fixture("zarr/zarrs-tests/hierarchy.zarr") else {
        return;
    };
    let nodes = list_nodes(&root).unwrap();
    assert_eq!(nodes[0].path, "/");
    assert!(matches!(nodes[0].kind, ZarrNodeKind::Group(_)));
    assert!(
        nodes
            .iter()
            .any(|n| matches!(n.kind, ZarrNodeKind::Array(_))),
        "{nodes:?}"
    );
    let paths: Vec<&str> = nodes.iter().map(|n| n.path.as_str()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted, "parents before children, siblings by name");
}
