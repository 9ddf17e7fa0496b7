//! The HDF5 / netCDF-4 backend writing (no Python): files ndchunk writes
//! read back on every backend, whichever backend wrote them — every dtype,
//! partial edge chunks, chunks never written, fill values, attributes,
//! netCDF-4 dimension scales shared by the datasets of a file, parallel
//! writers, reads between writes, 0-d and empty arrays. What h5py and
//! xarray read of them is in `hdf5_interop.rs`.

use std::path::Path;

use ndchunk_io::hdf5::{list_datasets_with, Backend, Compression, Hdf5Store};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, DType, Region, Scalar};
use serde_json::{json, Map, Value};

/// The backends this build has: every test runs on each.
fn backends() -> Vec<Backend> {
    [Backend::Pure, Backend::LibHdf5]
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

fn whole(store: &dyn ChunkStore) -> Vec<u8> {
    let region = Region::from_shape(&store.meta().shape());
    store.read_region_bytes(&region).expect("whole array reads")
}

fn names(meta: &ArrayMeta) -> Vec<Option<String>> {
    meta.dimension_names.clone().unwrap_or_default()
}

fn dims(list: &[&str]) -> Vec<Option<String>> {
    list.iter().map(|s| Some(s.to_string())).collect()
}

/// Element `i` of an array of `dtype`, varied enough to catch swapped bytes
/// and sign errors.
fn element(dtype: DType, i: usize) -> Vec<u8> {
    let i = i as i64;
    let scalar = match dtype {
        DType::Bool => Scalar::Bool(i % 3 == 0),
        DType::Float32 | DType::Float64 => Scalar::Float((i as f64 - 17.0) * 0.37),
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => {
            Scalar::UInt((i * 97 + 3) as u64)
        }
        _ => Scalar::Int((i * 37) % 101 - 50),
    };
    scalar.to_ne_bytes(dtype)
}

fn fill_of(dtype: DType) -> Scalar {
    match dtype {
        DType::Bool => Scalar::Bool(true),
        DType::Float32 | DType::Float64 => Scalar::Float(f64::NAN),
        DType::UInt8 | DType::UInt16 | DType::UInt32 | DType::UInt64 => Scalar::UInt(7),
        _ => Scalar::Int(-9),
    }
}

/// The `_FillValue` attribute for [`fill_of`], as ndchunk spells it.
fn fill_json(dtype: DType) -> Value {
    match fill_of(dtype) {
        Scalar::Float(_) => json!("NaN"),
        Scalar::UInt(v) => json!(v),
        Scalar::Int(v) => json!(v),
        Scalar::Bool(b) => json!(b),
    }
}

fn attributes() -> Map<String, Value> {
    let Value::Object(map) = json!({
        "units": "K",
        "long_name": "a test variable",
        "scale": 0.5,
        "offset": -3,
        "big": u64::MAX,
        "valid_range": [-1.5, 2.25],
        "levels": [1, 2, 3],
        "names": ["a", "bb"],
        "flag": true,
        "nested": {"a": [1, null]},
    }) else {
        unreachable!()
    };
    map
}

/// The attributes as they read back: booleans as int8, objects as text.
fn attributes_read_back() -> Map<String, Value> {
    let mut map = attributes();
    map.insert("flag".into(), json!(1));
    map.insert("nested".into(), json!("{\"a\":[1,null]}"));
    map
}

/// Writes every chunk but the second, so one reads as the fill value.
fn write_all_but_one(store: &Hdf5Store) -> Vec<Vec<u64>> {
    let meta = store.meta().clone();
    let mut written = Vec::new();
    for (n, block) in meta.grid.all_blocks().iter().enumerate() {
        if n == 1 {
            continue;
        }
        store
            .write_chunk_bytes(&block, &chunk_values(&meta, &block))
            .unwrap();
        written.push(block);
    }
    written
}

/// The values a block holds: element `i` at C-order index `i` of the array.
fn chunk_values(meta: &ArrayMeta, block: &[u64]) -> Vec<u8> {
    let region = meta.grid.block_region(block).unwrap();
    let shape = meta.shape();
    let mut out = Vec::new();
    let rshape = region.shape();
    let count = region.num_elements() as usize;
    for k in 0..count {
        let mut rem = k;
        let mut index = 0usize;
        for axis in 0..shape.len() {
            let below: usize = rshape[axis + 1..].iter().product::<u64>() as usize;
            let at = region.start()[axis] as usize + rem / below;
            rem %= below;
            index = index * shape[axis] as usize + at;
        }
        out.extend(element(meta.dtype, index));
    }
    out
}

#[test]
fn every_dtype_round_trips_with_edge_chunks_fill_and_attributes() {
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        for compression in [
            Compression::default(),
            Compression::deflate(1),
            Compression::NONE,
        ] {
            for &dtype in &DType::ALL {
                round_trip(dir.path(), writer, compression, dtype);
            }
        }
    }
}

fn round_trip(dir: &Path, writer: Backend, compression: Compression, dtype: DType) {
    let path = dir.join(format!(
        "{dtype}-{writer}-{:?}-{}.h5",
        compression.deflate, compression.shuffle
    ));
    let mut meta = ArrayMeta::new(
        ChunkGrid::regular(&[7, 10], &[3, 4]).unwrap(),
        dtype,
        fill_of(dtype),
    );
    meta.dimension_names = Some(vec![Some("y".into()), Some("x".into())]);
    meta.attributes = attributes();
    if dtype != DType::Bool {
        meta.attributes
            .insert("_FillValue".into(), fill_json(dtype));
    }
    let store = Hdf5Store::create_with(&path, "grp/var", &meta, compression, writer).unwrap();
    let written = write_all_but_one(&store);
    for block in meta.grid.all_blocks().iter() {
        assert_eq!(
            store.chunk_exists(&block).unwrap(),
            written.contains(&block)
        );
    }
    // Read back through the store that wrote it.
    let skipped = meta.grid.block_index(1).unwrap();
    let fill_chunk = store.read_chunk_bytes(&skipped).unwrap();
    assert_eq!(
        fill_chunk,
        fill_of(dtype)
            .to_ne_bytes(dtype)
            .repeat(fill_chunk.len() / dtype.size())
    );
    drop(store);
    for reader in backends() {
        let again = Hdf5Store::open_with(&path, "grp/var", reader).unwrap();
        let got = again.meta();
        let case = format!("{dtype}, written with {writer}, read with {reader}");
        assert_eq!(got.grid, meta.grid, "{case}");
        assert_eq!(got.dtype, dtype);
        assert_eq!(got.fill_value, fill_of(dtype), "{case}");
        assert_eq!(names(got), dims(&["y", "x"]));
        let mut expected = attributes_read_back();
        if dtype != DType::Bool {
            expected.insert("_FillValue".into(), fill_json(dtype));
        }
        if writer == Backend::Pure && reader == Backend::LibHdf5 {
            // rust-hdf5's variable-length strings need HDF5 >= 2.0.
            expected.remove("names");
        }
        assert_eq!(got.attributes, expected, "{case}");
        let expected_codecs = match compression.deflate {
            Some(level) if compression.shuffle => {
                vec!["shuffle".to_string(), format!("deflate({level})")]
            }
            Some(level) => vec![format!("deflate({level})")],
            None => vec![],
        };
        assert_eq!(got.codecs, expected_codecs, "{case}");
        for block in meta.grid.all_blocks().iter() {
            let bytes = again.read_chunk_bytes(&block).unwrap();
            if written.contains(&block) {
                assert_eq!(bytes, chunk_values(&meta, &block), "{case}: {block:?}");
            } else {
                assert_eq!(bytes, fill_chunk, "{case}");
            }
            assert_eq!(
                again.chunk_exists(&block).unwrap(),
                written.contains(&block),
                "{case}"
            );
        }
    }
}

#[test]
fn zero_dimensional_and_empty_arrays_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        zero_dimensional_and_empty(&dir.path().join(format!("shapes-{writer}.h5")), writer);
    }
}

fn zero_dimensional_and_empty(path: &Path, writer: Backend) {
    let path = path.to_path_buf();
    let scalar = ArrayMeta::new(
        ChunkGrid::regular(&[], &[]).unwrap(),
        DType::Float64,
        Scalar::Float(0.0),
    );
    let store =
        Hdf5Store::create_with(&path, "scalar", &scalar, Compression::default(), writer).unwrap();
    store.write_chunk_bytes(&[], &2.5f64.to_ne_bytes()).unwrap();
    drop(store);
    let empty = ArrayMeta::new(
        ChunkGrid::regular(&[0, 4], &[2, 4]).unwrap(),
        DType::Int32,
        Scalar::Int(0),
    );
    let store =
        Hdf5Store::create_with(&path, "empty", &empty, Compression::default(), writer).unwrap();
    store.write_chunk_bytes(&[0, 0], &[]).unwrap();
    drop(store);
    for backend in backends() {
        let s = Hdf5Store::open_with(&path, "scalar", backend).unwrap();
        assert_eq!(s.meta().shape(), Vec::<u64>::new());
        assert_eq!(s.read_chunk_bytes(&[]).unwrap(), 2.5f64.to_ne_bytes());
        let e = Hdf5Store::open_with(&path, "empty", backend).unwrap();
        assert_eq!(e.meta().shape(), vec![0, 4]);
        assert!(whole(&e).is_empty());
    }
}

#[test]
fn reads_between_writes_see_every_write() {
    let dir = tempfile::tempdir().unwrap();
    for writer in backends() {
        interleaved(&dir.path().join(format!("interleaved-{writer}.h5")), writer);
    }
}

fn interleaved(path: &Path, writer: Backend) {
    let path = path.to_path_buf();
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[4, 4], &[2, 2]).unwrap(),
        DType::Int32,
        Scalar::Int(-1),
    );
    let store = Hdf5Store::create_with(&path, "v", &meta, Compression::default(), writer).unwrap();
    let chunk = |v: i32| v.to_ne_bytes().repeat(4);
    store.write_chunk_bytes(&[0, 0], &chunk(1)).unwrap();
    assert_eq!(store.read_chunk_bytes(&[0, 0]).unwrap(), chunk(1));
    assert_eq!(store.read_chunk_bytes(&[1, 1]).unwrap(), chunk(-1));
    store.write_chunk_bytes(&[1, 1], &chunk(2)).unwrap();
    store.write_chunk_bytes(&[0, 0], &chunk(3)).unwrap();
    assert_eq!(store.read_chunk_bytes(&[0, 0]).unwrap(), chunk(3));
    assert_eq!(store.read_chunk_bytes(&[1, 1]).unwrap(), chunk(2));
    store.flush().unwrap();
    let again = Hdf5Store::open(&path, "v").unwrap();
    assert_eq!(again.read_chunk_bytes(&[1, 1]).unwrap(), chunk(2));
    assert_eq!(again.read_chunk_bytes(&[0, 1]).unwrap(), chunk(-1));
}

#[test]
fn parallel_writers_fill_every_chunk() {
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let path = dir.path().join(format!("parallel-{backend}.h5"));
        let meta = ArrayMeta::new(
            ChunkGrid::regular(&[64, 50], &[8, 7]).unwrap(),
            DType::Float32,
            Scalar::Float(0.0),
        );
        let store =
            Hdf5Store::create_with(&path, "v", &meta, Compression::default(), backend).unwrap();
        let blocks: Vec<Vec<u64>> = meta.grid.all_blocks().iter().collect();
        std::thread::scope(|s| {
            for t in 0..4 {
                let (store, blocks, meta) = (&store, &blocks, &meta);
                s.spawn(move || {
                    for block in blocks.iter().skip(t).step_by(4) {
                        store
                            .write_chunk_bytes(block, &chunk_values(meta, block))
                            .unwrap();
                    }
                });
            }
        });
        drop(store);
        let again = Hdf5Store::open(&path, "v").unwrap();
        for block in &blocks {
            assert_eq!(
                again.read_chunk_bytes(block).unwrap(),
                chunk_values(&meta, block),
                "{backend}"
            );
        }
    }
}

#[test]
fn datasets_added_to_a_file_share_its_dimension_scales() {
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let path = dir.path().join(format!("dataset-{backend}.nc"));
        let mut time = ArrayMeta::new(
            ChunkGrid::regular(&[5], &[5]).unwrap(),
            DType::Float64,
            Scalar::Float(0.0),
        );
        time.dimension_names = Some(dims(&["time"]));
        time.attributes
            .insert("units".into(), json!("days since 2000-01-01"));
        let store =
            Hdf5Store::create_with(&path, "time", &time, Compression::NONE, backend).unwrap();
        store
            .write_chunk_bytes(&[0], &chunk_values(&time, &[0]))
            .unwrap();
        drop(store);
        let mut tas = ArrayMeta::new(
            ChunkGrid::regular(&[5, 3], &[2, 3]).unwrap(),
            DType::Float32,
            Scalar::Float(f64::NAN),
        );
        tas.dimension_names = Some(dims(&["time", "station"]));
        let store =
            Hdf5Store::create_with(&path, "tas", &tas, Compression::default(), backend).unwrap();
        store
            .write_region_bytes(
                &Region::from_shape(&[5, 3]),
                &(0..15)
                    .flat_map(|i| element(DType::Float32, i))
                    .collect::<Vec<_>>(),
            )
            .unwrap();
        drop(store);
        let mut pr = tas.clone();
        pr.dimension_names = Some(vec![Some("time".into()), None]);
        Hdf5Store::create_with(&path, "pr", &pr, Compression::default(), backend).unwrap();
        let mut wrong = tas.clone();
        wrong.dimension_names = Some(dims(&["station", "time"]));
        let err = Hdf5Store::create_with(&path, "bad", &wrong, Compression::default(), backend)
            .unwrap_err();
        assert!(err.to_string().contains("station"), "{err}");
        for read in backends() {
            let listed: Vec<(String, Vec<Option<String>>)> = list_datasets_with(&path, read)
                .unwrap()
                .into_iter()
                .map(|(n, m)| (n, m.dimension_names.unwrap_or_default()))
                .collect();
            assert_eq!(
                listed,
                vec![
                    ("pr".to_string(), vec![Some("time".to_string()), None]),
                    ("tas".to_string(), dims(&["time", "station"])),
                    ("time".to_string(), dims(&["time"])),
                ],
                "written with {backend}, read with {read}"
            );
            let t = Hdf5Store::open_with(&path, "time", read).unwrap();
            assert_eq!(t.meta().attributes["units"], json!("days since 2000-01-01"));
            assert_eq!(t.read_chunk_bytes(&[0]).unwrap(), chunk_values(&time, &[0]));
        }
    }
}

#[test]
fn a_file_being_written_is_refused_until_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("busy.h5");
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[4], &[2]).unwrap(),
        DType::UInt8,
        Scalar::UInt(0),
    );
    let first = Hdf5Store::create(&path, "a", &meta, Compression::NONE).unwrap();
    first.write_chunk_bytes(&[0], &[1, 2]).unwrap();
    // rust-hdf5 writes the superblock on close: until then the file must
    // not be mistaken for a non-HDF5 file.
    for err in [
        Hdf5Store::create(&path, "b", &meta, Compression::NONE).unwrap_err(),
        Hdf5Store::open(&path, "a").unwrap_err(),
    ] {
        assert!(err.to_string().contains("flush or drop it first"), "{err}");
    }
    first.flush().unwrap();
    Hdf5Store::create(&path, "b", &meta, Compression::NONE).unwrap();
    let a = Hdf5Store::open(&path, "a").unwrap();
    assert_eq!(a.read_chunk_bytes(&[0]).unwrap(), [1, 2]);
    // The first store writes again after its flush.
    first.write_chunk_bytes(&[1], &[3, 4]).unwrap();
    drop(first);
    assert_eq!(whole(&Hdf5Store::open(&path, "a").unwrap()), [1, 2, 3, 4]);
}
