//! The netCDF-3 backend on bad input: files that are not netCDF-3,
//! truncated, malformed or randomly damaged files, unsupported types and
//! misuse give clear errors and never panic.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ndchunk_io::netcdf3::{list_variables, Netcdf3Store};
use ndchunk_io::{ArrayMeta, ChunkGrid, ChunkStore, ChunkStoreExt, DType, IoError, Region, Scalar};
use proptest::prelude::*;

/// `ArrayMeta` equality with the fill value compared by its bytes: the
/// derived `==` says a NaN fill differs from itself.
fn same_meta(a: &ArrayMeta, b: &ArrayMeta) -> bool {
    let fill = |m: &ArrayMeta| m.fill_value.to_ne_bytes(m.dtype);
    let rest = |m: &ArrayMeta| {
        let mut m = m.clone();
        m.fill_value = Scalar::Int(0);
        m
    };
    fill(a) == fill(b) && rest(a) == rest(b)
}

/// A fixture looked up once per test binary, so that a property test
/// announces a missing fixture once, not once per case.
fn fixture_once(relative: &'static str) -> Option<PathBuf> {
    static FOUND: Mutex<BTreeMap<&str, Option<PathBuf>>> = Mutex::new(BTreeMap::new());
    let mut found = FOUND.lock().unwrap_or_else(|e| e.into_inner());
    found
        .entry(relative)
        .or_insert_with(|| support::fixture(relative))
        .clone()
}

/// A classic-format file from parts: fixed dimensions only (0 makes the
/// unlimited one), variables `(name, dim ids, type code, big-endian data)`
/// laid out one after another.
fn classic_file(dims: &[(&str, u32)], vars: &[(&str, &[u32], u32, &[u8])]) -> Vec<u8> {
    fn name(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u32).to_be_bytes());
        out.extend(s.as_bytes());
        out.resize(out.len().div_ceil(4) * 4, 0);
    }
    let header = |begins: &[u32]| {
        let mut h = b"CDF\x01".to_vec();
        h.extend(0u32.to_be_bytes());
        h.extend(0x0Au32.to_be_bytes());
        h.extend((dims.len() as u32).to_be_bytes());
        for (n, len) in dims {
            name(&mut h, n);
            h.extend(len.to_be_bytes());
        }
        h.extend([0; 8]);
        h.extend(0x0Bu32.to_be_bytes());
        h.extend((vars.len() as u32).to_be_bytes());
        for ((n, ids, ty, data), begin) in vars.iter().zip(begins) {
            name(&mut h, n);
            h.extend((ids.len() as u32).to_be_bytes());
            ids.iter().for_each(|i| h.extend(i.to_be_bytes()));
            h.extend([0; 8]);
            h.extend(ty.to_be_bytes());
            h.extend((data.len().div_ceil(4) as u32 * 4).to_be_bytes());
            h.extend(begin.to_be_bytes());
        }
        h
    };
    let mut begin = header(&vec![0; vars.len()]).len() as u32;
    let begins: Vec<u32> = vars
        .iter()
        .map(|v| {
            let b = begin;
            begin += v.3.len().div_ceil(4) as u32 * 4;
            b
        })
        .collect();
    let mut file = header(&begins);
    for v in vars {
        file.extend(v.3);
        file.resize(file.len().div_ceil(4) * 4, 0);
    }
    file
}

fn write_temp(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_char_variable_is_refused_and_left_out_of_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let file = write_temp(
        dir.path(),
        "text.nc",
        &classic_file(
            &[("n", 2), ("len", 3)],
            &[
                ("label", &[0, 1], 2, b"abcdef"),
                ("count", &[0], 4, &[0, 0, 0, 7, 0xff, 0xff, 0xff, 0xfe]),
            ],
        ),
    );
    let err = Netcdf3Store::open(&file, "label", None).unwrap_err();
    assert!(
        matches!(&err, IoError::UnsupportedDType { dtype } if dtype == "char"),
        "{err}"
    );
    assert!(err.to_string().contains("`char`"), "{err}");
    let listed = list_variables(&file).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].0, "count");
    let count = Netcdf3Store::open(&file, "count", None).unwrap();
    assert_eq!(
        count
            .read_chunk::<i32>(&[0])
            .unwrap()
            .into_raw_vec_and_offset()
            .0,
        vec![7, -2]
    );
}

#[test]
fn a_missing_variable_names_the_variables_there_are() {
    let Some(file) = support::fixture("netcdf/coads_climatology.cdf") else {
        return;
    };
    let err = Netcdf3Store::open(&file, "sst", None).unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, IoError::Metadata { .. }), "{text}");
    for name in ["`sst`", "SST", "AIRT", "COADSX", "TIME"] {
        assert!(text.contains(name), "{text}");
    }
}

#[test]
fn files_that_are_not_netcdf3_are_refused_as_not_a_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = vec![
        (write_temp(dir.path(), "empty.nc", b""), "too short"),
        (
            write_temp(dir.path(), "text.nc", b"netcdf x { dimensions: }"),
            "not a netCDF-3",
        ),
        (
            write_temp(dir.path(), "v9.nc", b"CDF\x09\0\0\0\0"),
            "version byte 9",
        ),
        (dir.path().to_path_buf(), ""),
        (dir.path().join("missing.nc"), ""),
    ];
    if let Some(hdf5) = support::fixture("netcdf/A1B_north_america.nc") {
        cases.push((hdf5, "HDF5"));
    }
    for (path, words) in cases {
        let err = Netcdf3Store::open(&path, "x", None).unwrap_err();
        assert!(
            matches!(err, IoError::NotAStore { .. }),
            "{}: {err}",
            path.display()
        );
        assert!(err.to_string().contains(words), "{err}");
        assert!(list_variables(&path).is_err());
    }
}

#[test]
fn truncated_files_are_refused_whole() {
    let Some(file) = support::fixture("netcdf/hgt_djf.nc") else {
        return;
    };
    let bytes = std::fs::read(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // In the header, at the end of the header, in the data, one byte short.
    for len in [2, 7, 100, 1000, 3000, bytes.len() / 2, bytes.len() - 1] {
        let path = write_temp(dir.path(), "cut.nc", &bytes[..len]);
        let err = Netcdf3Store::open(&path, "z", None).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("truncated") || text.contains("cut short") || text.contains("too short"),
            "{len}: {text}"
        );
        assert!(list_variables(&path).is_err(), "{len}");
    }
}

#[test]
fn a_file_cut_after_opening_gives_a_chunk_error() {
    let Some(file) = support::fixture("netcdf/hgt_djf.nc") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = write_temp(dir.path(), "shrinks.nc", &std::fs::read(&file).unwrap());
    let store = Netcdf3Store::open(&path, "z", None).unwrap();
    let f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    f.set_len(5000).unwrap();
    match store.read_chunk_bytes(&[0, 0, 0, 0]) {
        Err(IoError::CorruptChunk { chunk, reason, .. }) => {
            assert_eq!(chunk, vec![0, 0, 0, 0]);
            assert!(reason.contains("truncated"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn malformed_headers_are_refused_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        // Counts of 2^31 - 1 dimensions: refused before anything is allocated.
        (
            [
                b"CDF\x01\0\0\0\0\0\0\0\x0a\x7f\xff\xff\xff".as_slice(),
                &[0; 64],
            ]
            .concat(),
            "cut short",
        ),
        (
            classic_file(&[("t", 0), ("u", 0)], &[]),
            "two unlimited dimensions",
        ),
        (
            classic_file(&[("x", 2), ("t", 0)], &[("v", &[0, 1], 4, &[])]),
            "unlimited dimension other than first",
        ),
        (
            classic_file(&[("x", 2)], &[("v", &[0], 7, &[1, 2])]),
            "unknown type code 7",
        ),
        (
            classic_file(&[("x", 2)], &[("v", &[3], 4, &[0; 8])]),
            "dimension id 3",
        ),
    ];
    for (bytes, words) in cases {
        let path = write_temp(dir.path(), "bad.nc", &bytes);
        let err = list_variables(&path).unwrap_err();
        assert!(matches!(err, IoError::Metadata { .. }), "{err}");
        assert!(err.to_string().contains(words), "{words}: {err}");
    }
}

#[test]
fn wrong_dtypes_grids_chunks_and_writes_are_clear_errors() {
    let Some(file) = support::fixture("netcdf/hgt_djf.nc") else {
        return;
    };
    let z = Netcdf3Store::open(&file, "z", None).unwrap();
    let err = z.read_chunk::<f32>(&[0, 0, 0, 0]).unwrap_err();
    assert!(
        matches!(
            err,
            IoError::WrongDType {
                actual: DType::Float64,
                requested: DType::Float32,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("hgt_djf.nc/z"), "{err}");
    assert!(matches!(
        z.read_chunk_bytes(&[1, 0, 0, 0]),
        Err(IoError::Grid { .. })
    ));
    assert!(matches!(
        z.read_chunk_bytes(&[0, 0]),
        Err(IoError::Grid { .. })
    ));
    assert!(matches!(
        z.read_region_bytes(&Region::new(vec![0, 0, 0, 40], vec![1, 1, 1, 50]).unwrap()),
        Err(IoError::Grid { .. })
    ));
    let wrong = ChunkGrid::regular(&[64, 1, 29, 49], &[1, 1, 29, 49]).unwrap();
    assert!(matches!(
        Netcdf3Store::open(&file, "z", Some(wrong)),
        Err(IoError::Grid { .. })
    ));

    let chunk = z.read_chunk::<f64>(&[0, 0, 0, 0]).unwrap();
    let err = z.write_chunk(&[0, 0, 0, 0], chunk.view()).unwrap_err();
    assert!(matches!(err, IoError::ReadOnly { .. }), "{err}");
    let err = z
        .write_region_bytes(&Region::new(vec![0; 4], vec![0; 4]).unwrap(), &[])
        .unwrap_err();
    assert!(matches!(err, IoError::ReadOnly { .. }), "{err}");
    assert!(z.chunk_exists(&[0, 0, 0, 0]).unwrap());
    assert_eq!(z.written_chunks().unwrap(), vec![vec![0, 0, 0, 0]]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Cut or scribbled on anywhere in the header or data, a file opens
    /// with an error or reads without one; nothing panics.
    #[test]
    fn damaged_files_never_panic(
        cut_permille in proptest::option::of(0u64..1000),
        flips in proptest::collection::vec((0usize..1600, any::<u8>()), 0..4),
    ) {
        let Some(file) = fixture_once("netcdf/hgt_djf.nc") else {
            return Ok(());
        };
        let mut bytes = std::fs::read(&file).unwrap();
        for (at, value) in flips {
            if at < bytes.len() {
                bytes[at] = value;
            }
        }
        if let Some(permille) = cut_permille {
            bytes.truncate((bytes.len() as u64 * permille / 1000) as usize);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = write_temp(dir.path(), "damaged.nc", &bytes);
        if let Ok(vars) = list_variables(&path) {
            for (name, meta) in vars {
                let store = Netcdf3Store::open(&path, &name, None).unwrap();
                prop_assert!(same_meta(store.meta(), &meta));
                for chunk in meta.grid.all_blocks().iter().take(64) {
                    store.read_chunk_bytes(&chunk).unwrap();
                }
            }
        }
    }
}
