//! The HDF5 / netCDF-4 backend reading on its own (no Python): the shared
//! netCDF-4 fixtures read with the layout, dims and attributes their README
//! and h5py give (the full value-by-value comparison with h5py is in
//! `hdf5_interop.rs`), both backends agree bit for bit, contiguous datasets
//! read in slabs, chunk reads run from many threads, and bad input gives
//! clear errors that name the file and the dataset, never a panic. Writing
//! is in `hdf5_write.rs`.

#[path = "../../tests/support/mod.rs"]
mod support;

mod hdf5_common;
use hdf5_common::backends;

use std::path::{Path, PathBuf};

use ndchunk_io::hdf5::{contiguous_chunks, list_datasets_with, Backend, Compression, Hdf5Store};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, ChunkStoreExt, DType, IoError, Region, Scalar};
use serde_json::json;

/// The backends this build has: every test that reads runs on each.
const NETCDF4_FIXTURES: &[&str] = &[
    "netcdf/A1B_north_america.nc",
    "netcdf/air_temperature_small.nc",
    "netcdf/uwnd_mean.nc",
    "netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc",
    "netcdf/nemo/nemo_1m_20150201-20150301_grid-T.nc",
    "netcdf/nemo/nemo_1m_20150301-20150401_grid-T.nc",
];

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

#[test]
fn fixtures_have_the_layout_dims_and_attributes_h5py_shows() {
    let Some(a1b) = support::fixture("netcdf/A1B_north_america.nc") else {
        return;
    };
    let Some(small) = support::fixture("netcdf/air_temperature_small.nc") else {
        return;
    };
    let Some(nemo) = support::fixture("netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc") else {
        return;
    };
    for backend in backends() {
        let air = Hdf5Store::open_with(&a1b, "air_temperature", backend).unwrap();
        let meta = air.meta();
        assert_eq!(meta.shape(), vec![240, 37, 49], "{backend}");
        assert_eq!(meta.dtype, DType::Float32);
        assert_eq!(
            meta.grid,
            ChunkGrid::regular(&[240, 37, 49], &[1, 37, 49]).unwrap()
        );
        assert_eq!(names(meta), dims(&["time", "latitude", "longitude"]));
        assert_eq!(meta.attributes["units"], json!("K"));
        assert_eq!(meta.fill_value, Scalar::Float(f64::from(9.96921e36f32)));
        assert!(!meta.attributes.contains_key("DIMENSION_LIST"));
        assert!(!meta.attributes.contains_key("_Netcdf4Dimid"));
        assert!(meta.codecs.is_empty());
        // A dimension with no coordinate variable gets its name too.
        let bnds = Hdf5Store::open_with(&a1b, "time_bnds", backend).unwrap();
        assert_eq!(names(bnds.meta()), dims(&["time", "bnds"]));

        // Contiguous int16, packed: one chunk, scale_factor as a number.
        let packed = Hdf5Store::open_with(&small, "/air", backend).unwrap();
        let meta = packed.meta();
        assert_eq!(meta.dtype, DType::Int16);
        assert_eq!(meta.grid.chunk_shape(), vec![20, 25, 53]);
        assert_eq!(meta.attributes["scale_factor"], json!(0.01));
        assert_eq!(meta.attributes["precision"], json!(2));
        assert_eq!(meta.fill_value, Scalar::Int(-32767));
        assert_eq!(names(meta), dims(&["time", "lat", "lon"]));
        let lat = Hdf5Store::open_with(&small, "lat", backend).unwrap();
        assert_eq!(lat.meta().attributes["_FillValue"], json!("NaN"));
        assert!(matches!(lat.meta().fill_value, Scalar::Float(v) if v.is_nan()));

        // gzip 9, and the `_FillValue` attribute as the fill value.
        let tos = Hdf5Store::open_with(&nemo, "tos", backend).unwrap();
        let meta = tos.meta();
        assert_eq!(meta.codecs, vec!["deflate(9)".to_string()]);
        assert_eq!(meta.fill_value, Scalar::Float(f64::from(1e20f32)));
        assert_eq!(names(meta), dims(&["time_counter", "y", "x"]));
        let values = tos.read_chunk::<f32>(&[0, 0, 0]).unwrap();
        assert_eq!(values.shape(), &[1, 330, 360]);
        assert!(values.iter().any(|&v| v == 1e20) && values.iter().any(|&v| v != 1e20));
    }
}

#[test]
fn both_backends_read_every_fixture_identically() {
    let backends = backends();
    if backends.len() < 2 {
        support::skip("built without the `libhdf5` feature: one backend only");
        return;
    }
    for fixture in NETCDF4_FIXTURES {
        let Some(path) = support::fixture(fixture) else {
            return;
        };
        let pure = list_datasets_with(&path, Backend::Pure).unwrap();
        let lib = list_datasets_with(&path, Backend::LibHdf5).unwrap();
        assert_eq!(pure, lib, "{fixture}: listings differ");
        for (name, _) in &pure {
            let a = Hdf5Store::open_with(&path, name, Backend::Pure).unwrap();
            let b = Hdf5Store::open_with(&path, name, Backend::LibHdf5).unwrap();
            assert_eq!(whole(&a), whole(&b), "{fixture}:{name}: values differ");
            for chunk in a.meta().grid.all_blocks().iter().take(4) {
                assert_eq!(
                    a.chunk_exists(&chunk).unwrap(),
                    b.chunk_exists(&chunk).unwrap()
                );
            }
        }
    }
}

#[test]
fn listings_leave_out_netcdf_dimension_only_scales() {
    let Some(path) = support::fixture("netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc") else {
        return;
    };
    for backend in backends() {
        let listed: Vec<String> = list_datasets_with(&path, backend)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            listed,
            [
                "bounds_lat",
                "bounds_lon",
                "nav_lat",
                "nav_lon",
                "time_centered",
                "time_centered_bounds",
                "time_counter",
                "tos"
            ]
        );
        // They still open, as h5py opens them.
        let x = Hdf5Store::open_with(&path, "x", backend).unwrap();
        assert_eq!(x.meta().shape(), vec![360]);
        assert_eq!(names(x.meta()), dims(&["x"]));
    }
}

#[test]
fn chunks_read_from_many_threads_match_one_thread() {
    let Some(path) = support::fixture("netcdf/A1B_north_america.nc") else {
        return;
    };
    for backend in backends() {
        let store = Hdf5Store::open_with(&path, "air_temperature", backend).unwrap();
        let blocks: Vec<Vec<u64>> = store.meta().grid.all_blocks().iter().collect();
        let serial: Vec<Vec<u8>> = blocks
            .iter()
            .map(|b| store.read_chunk_bytes(b).unwrap())
            .collect();
        let threads = 8;
        let parallel: Vec<Vec<(usize, Vec<u8>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..threads)
                .map(|t| {
                    let (store, blocks) = (&store, &blocks);
                    s.spawn(move || {
                        (t..blocks.len())
                            .step_by(threads)
                            .map(|i| (i, store.read_chunk_bytes(&blocks[i]).unwrap()))
                            .collect()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut seen = 0;
        for (i, bytes) in parallel.into_iter().flatten() {
            assert_eq!(bytes, serial[i], "{backend}: chunk {:?}", blocks[i]);
            seen += 1;
        }
        assert_eq!(seen, blocks.len());
    }
}

#[test]
fn stores_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Hdf5Store>();
    let dir = tempfile::tempdir().unwrap();
    let boxed: Box<dyn ChunkStore> = Box::new(
        Hdf5Store::create(
            &dir.path().join("x.h5"),
            "x",
            &ArrayMeta::new(
                ChunkGrid::regular(&[2], &[2]).unwrap(),
                DType::UInt8,
                Scalar::UInt(0),
            ),
            Compression::NONE,
        )
        .unwrap(),
    );
    assert_eq!(boxed.meta().shape(), vec![2]);
}

// ---------------------------------------------------------------------------
// Bad input.

/// The error's message, checked to name the file and the dataset.
fn names_place(err: &IoError, path: &Path, dataset: &str) -> String {
    let text = err.to_string();
    assert!(
        text.contains(&path.display().to_string()) && text.contains(dataset),
        "error does not name {}:{dataset}: {text}",
        path.display()
    );
    text
}

fn copy_truncated(from: &Path, to: &Path, len: usize) -> PathBuf {
    let bytes = std::fs::read(from).unwrap();
    std::fs::write(to, &bytes[..len.min(bytes.len())]).unwrap();
    to.to_path_buf()
}

/// Everything a file holds, read dataset by dataset and chunk by chunk:
/// the errors met (each checked to name the file, and the dataset for
/// dataset errors). Panics are failures.
fn read_everything(path: &Path, datasets: &[String], backend: Backend) -> Vec<String> {
    let mut errors = Vec::new();
    if let Err(e) = list_datasets_with(path, backend) {
        errors.push(names_place(&e, path, ""));
    }
    for name in datasets {
        match Hdf5Store::open_with(path, name, backend) {
            Err(e) => errors.push(names_place(&e, path, name)),
            Ok(store) => {
                for block in store.meta().grid.all_blocks().iter() {
                    if let Err(e) = store.read_chunk_bytes(&block) {
                        assert!(matches!(e, IoError::CorruptChunk { .. }), "{e}");
                        errors.push(names_place(&e, path, name));
                    }
                }
            }
        }
    }
    errors
}

#[test]
fn truncated_files_give_errors_naming_file_and_dataset() {
    let Some(nemo) = support::fixture("netcdf/nemo/nemo_1m_20150101-20150201_grid-T.nc") else {
        return;
    };
    let datasets: Vec<String> = list_datasets_with(&nemo, Backend::Pure)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let len = std::fs::metadata(&nemo).unwrap().len() as usize;
    for (k, cut) in [100, 2_000, 20_000, len / 3, len / 2, len - 1000]
        .into_iter()
        .enumerate()
    {
        let path = copy_truncated(&nemo, &dir.path().join(format!("cut{k}.nc")), cut);
        for backend in backends() {
            let errors = std::panic::catch_unwind(|| read_everything(&path, &datasets, backend))
                .unwrap_or_else(|_| panic!("{backend} panicked on a file cut at {cut}"));
            assert!(
                !errors.is_empty(),
                "{backend}: a file cut at {cut} of {len} read without error"
            );
            if cut <= 2_000 {
                let err = Hdf5Store::open_with(&path, "tos", backend).unwrap_err();
                names_place(&err, &path, "tos");
            }
        }
    }
}

/// Corrupt bytes in a file's metadata and chunks give errors (or wrong
/// values where no checksum guards them), never a panic. The pure backend
/// only: HDF5 1.10's C library crashes (SIGSEGV) on some of these files,
/// which no Rust code can catch.
#[test]
fn corrupted_files_never_panic_the_pure_backend() {
    let Some(uwnd) = support::fixture("netcdf/uwnd_mean.nc") else {
        return;
    };
    let bytes = std::fs::read(&uwnd).unwrap();
    let datasets: Vec<String> = list_datasets_with(&uwnd, Backend::Pure)
        .unwrap()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut failed = 0;
    for k in 0..120 {
        let mut corrupt = bytes.clone();
        // Mostly the metadata at the front, sometimes anywhere.
        let span = if k % 4 == 0 { corrupt.len() } else { 32 << 10 };
        for _ in 0..4 {
            let at = (next() % span as u64) as usize;
            corrupt[at] ^= (next() % 255 + 1) as u8;
        }
        let path = dir.path().join(format!("corrupt{k}.nc"));
        std::fs::write(&path, &corrupt).unwrap();
        let errors = std::panic::catch_unwind(|| read_everything(&path, &datasets, Backend::Pure))
            .unwrap_or_else(|_| panic!("the pure backend panicked on corruption {k}"));
        failed += usize::from(!errors.is_empty());
    }
    assert!(
        failed > 10,
        "only {failed} of 120 corrupted files gave an error"
    );
}

#[test]
fn missing_datasets_and_files_that_are_not_hdf5_are_refused() {
    let Some(a1b) = support::fixture("netcdf/A1B_north_america.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("notes.nc");
    std::fs::write(&text, "CDF\u{1}this is netCDF-3, not HDF5").unwrap();
    let empty = dir.path().join("empty.h5");
    std::fs::write(&empty, b"").unwrap();
    let absent = dir.path().join("absent.h5");
    for backend in backends() {
        let err = Hdf5Store::open_with(&a1b, "air_temp", backend).unwrap_err();
        let msg = names_place(&err, &a1b, "air_temp");
        assert!(
            msg.contains("air_temperature"),
            "should list what the file has: {msg}"
        );
        assert!(matches!(err, IoError::Metadata { .. }));
        for path in [&text, &empty, &absent] {
            let err = Hdf5Store::open_with(path, "v", backend).unwrap_err();
            assert!(matches!(err, IoError::NotAStore { .. }), "{err}");
            names_place(&err, path, "v");
        }
        assert!(list_datasets_with(&text, backend).is_err());
    }
}

#[test]
fn wrong_dtypes_are_refused_with_the_place() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("strings.h5");
    {
        let file = rust_hdf5::H5File::create(&path).unwrap();
        file.write_vlen_strings("names", &["a", "bb"]).unwrap();
        let ds = file
            .new_dataset::<f32>()
            .shape([3usize])
            .create("values")
            .unwrap();
        ds.write_raw(&[1.0f32, 2.0, 3.0]).unwrap();
        file.close().unwrap();
    }
    for backend in backends() {
        let err = Hdf5Store::open_with(&path, "names", backend).unwrap_err();
        assert!(matches!(err, IoError::UnsupportedDType { .. }), "{err}");
        names_place(&err, &path, "names");
        // Left out of listings, which still list the rest.
        let listed: Vec<String> = list_datasets_with(&path, backend)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(listed, ["values"]);
        let values = Hdf5Store::open_with(&path, "values", backend).unwrap();
        let err = values.read_chunk::<f64>(&[0]).unwrap_err();
        assert!(matches!(err, IoError::WrongDType { .. }), "{err}");
        names_place(&err, &path, "values");
        assert_eq!(
            values
                .read_chunk::<f32>(&[0])
                .unwrap()
                .iter()
                .copied()
                .collect::<Vec<_>>(),
            vec![1.0, 2.0, 3.0]
        );
        let err = values.write_chunk_bytes(&[0], &[0; 12]).unwrap_err();
        assert!(matches!(err, IoError::ReadOnly { .. }), "{err}");
        names_place(&err, &path, "values");
    }
}

#[test]
fn bad_creations_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for backend in backends() {
        let path = dir.path().join(format!("made-{backend}.h5"));
        let meta = ArrayMeta::new(
            ChunkGrid::regular(&[4], &[2]).unwrap(),
            DType::UInt16,
            Scalar::UInt(0),
        );
        Hdf5Store::create_with(&path, "v", &meta, Compression::NONE, backend).unwrap();
        let err =
            Hdf5Store::create_with(&path, "/v", &meta, Compression::NONE, backend).unwrap_err();
        assert!(matches!(err, IoError::Metadata { .. }), "{err}");
        names_place(&err, &path, "v");
        let irregular = ArrayMeta::new(
            ChunkGrid::from_sizes(&[vec![1u64, 3]]).unwrap(),
            DType::UInt16,
            Scalar::UInt(0),
        );
        let err =
            Hdf5Store::create_with(&path, "w", &irregular, Compression::NONE, backend).unwrap_err();
        names_place(&err, &path, "w");
        let text = dir.path().join(format!("text-{backend}.h5"));
        std::fs::write(&text, "not hdf5").unwrap();
        let err =
            Hdf5Store::create_with(&text, "v", &meta, Compression::NONE, backend).unwrap_err();
        assert!(matches!(err, IoError::NotAStore { .. }), "{err}");
        assert_eq!(
            std::fs::read(&text).unwrap(),
            b"not hdf5",
            "the file was changed"
        );
        let store = Hdf5Store::create_with(&path, "u", &meta, Compression::NONE, backend).unwrap();
        let err = store.write_chunk_bytes(&[0], &[0; 3]).unwrap_err();
        assert!(matches!(err, IoError::WrongLength { .. }), "{err}");
        assert!(store.write_chunk_bytes(&[5], &[0; 4]).is_err());
    }
}

#[test]
fn contiguous_datasets_read_in_slabs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("contiguous.h5");
    let shape = [70usize, 300, 200];
    {
        let file = rust_hdf5::H5File::create(&path).unwrap();
        let ds = file
            .new_dataset::<f32>()
            .shape(shape)
            .create("big")
            .unwrap();
        let values: Vec<f32> = (0..shape.iter().product::<usize>())
            .map(|i| i as f32)
            .collect();
        ds.write_raw(&values).unwrap();
        file.close().unwrap();
    }
    for backend in backends() {
        let store = Hdf5Store::open_with(&path, "big", backend).unwrap();
        let chunks = contiguous_chunks(&[70, 300, 200], 4);
        assert_eq!(chunks, vec![69, 300, 200]);
        assert_eq!(
            store.meta().grid,
            ChunkGrid::regular(&[70, 300, 200], &chunks).unwrap()
        );
        let last = store.read_chunk::<f32>(&[1, 0, 0]).unwrap();
        assert_eq!(last.shape(), &[1, 300, 200]);
        assert_eq!(last[[0, 0, 0]], (69 * 300 * 200) as f32);
        let region = Region::new(vec![68, 299, 10], vec![70, 300, 12]).unwrap();
        let got = store.read_region::<f32>(&region).unwrap();
        assert_eq!(got[[1, 0, 1]], (69 * 60000 + 299 * 200 + 11) as f32);
    }
}
