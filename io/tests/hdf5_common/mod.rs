//! Shared by the HDF5 test crates: the backends this build has, and the
//! lock that keeps Python peers from inheriting a libhdf5 file lock (not
//! every crate runs peers, hence the `dead_code` allowance).
#![allow(dead_code)]

use std::sync::Mutex;

use ndchunk_io::hdf5::Backend;

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
