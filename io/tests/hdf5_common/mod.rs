//! Shared by the HDF5 test crates: the backends this build has, the
//! attribute helpers, and the lock that keeps Python peers from inheriting a libhdf5 file lock (not
//! every crate runs peers, hence the `dead_code` allowance).
#![allow(dead_code)]

use std::sync::Mutex;

use ndchunk_io::hdf5::Backend;
use ndchunk_io::{ArrayMeta, ChunkGrid, DType, Scalar};
use serde_json::{json, Map, Value};

/// Held by each test that runs a Python peer: the HDF5 C library opens
/// files without `O_CLOEXEC`, so a peer spawned by one test while another
/// has a file open through `libhdf5` inherits that file's lock and keeps it
/// past the close, and the next open of the file fails. One test at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Takes the one-test-at-a-time lock.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The HDF5 backends of this build (`libhdf5` only with its feature).
pub fn backends() -> Vec<Backend> {
    [Backend::Pure, Backend::LibHdf5]
        .into_iter()
        .filter(|b| b.is_available())
        .collect()
}

/// A JSON object as an attribute map.
pub fn attrs(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(map) => map,
        other => panic!("not an object: {other}"),
    }
}

/// A small float32 dataset with a dimension, so netCDF readers see a
/// variable.
pub fn temperature_meta() -> ArrayMeta {
    let mut meta = ArrayMeta::new(
        ChunkGrid::regular(&[4], &[2]).unwrap(),
        DType::Float32,
        Scalar::Float(f64::NAN),
    );
    meta.dimension_names = Some(vec![Some("time".into())]);
    meta.attributes = attrs(json!({"units": "K"}));
    meta
}
