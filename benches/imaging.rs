//! The imaging user's workload against Dask + scipy in the same run, on
//! the same files: a 512 MiB `(256, 1024, 1024)` uint16 volume with
//! structure (a background gradient, a blob per 32-voxel cube, a little
//! noise), chunked `(64, 256, 256)`, in Zarr v3 (blosc-zstd) and in HDF5
//! (shuffle + deflate). Three workloads:
//!
//! - a Gaussian blur (sigma 2, float32, the edge mirrored) and a count of
//!   the voxels above a threshold, from each file; each contender prints
//!   its count, which must agree;
//! - the blur thresholded and its connected components labelled across
//!   chunks (face connectivity), the labels written to Zarr, against
//!   dask-image's `ndmeasure.label` when the peer Python has it; each
//!   prints the number of components, which must agree;
//! - a 3-level pyramid from the Zarr store (level 0 copied, levels 1 and
//!   2 the 2x2x2 means of the level before; ndchunk folds them in memory
//!   as level 0 is written), to Zarr v3 with blosc-zstd.
//!
//! Each contender runs in its own process under GNU time (wall, CPU, peak
//! RSS).
//!
//! Run: `cargo bench --bench imaging`. `NDCHUNK_BENCH_DEPTH=N` sets the
//! volume's depth (default 256); `NDCHUNK_BENCH_PEERS=0` skips Python;
//! `NDCHUNK_BENCH_ONLY=blur|label|pyramid` runs one of the three.

#[path = "../src/bin/chunkctl/sample.rs"]
mod sample;
#[path = "../tests/support/mod.rs"]
mod support;
#[path = "support/timing.rs"]
mod timing;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Instant;

use ndchunk::io::hdf5::{Compression, Hdf5Store};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ChunkStore, ZarrStore};
use ndchunk::{Array, Axes, ComputeOptions, FilterOptions};
use timing::{timed, timed_within};

/// The first argument that makes this binary run one ndchunk row.
const CHILD: &str = "--imaging-child";
/// The same, for the labelling row.
const LABEL_CHILD: &str = "--label-child";
const SIGMA: f64 = 2.0;
const THRESHOLD: f32 = 4000.0;
/// Seconds dask-image's label may take before it is stopped (it ran for
/// more than 8 minutes, at 6 GB, on this volume on the 2-core machine).
const LABEL_LIMIT: u64 = 600;

/// The workload in Dask: argv[1] "zarr" or "hdf5", argv[2] the file.
const DASK: &str = r#"
import sys
import numpy as np, dask.array as da, scipy.ndimage as ndi
kind, path = sys.argv[1:3]
if kind == "zarr":
    x = da.from_zarr(path)
else:
    import h5py
    x = da.from_array(h5py.File(path, "r")["volume"], chunks=(64, 256, 256))
sigma, threshold = float(sys.argv[3]), float(sys.argv[4])
depth = int(4.0 * sigma + 0.5)
blurred = x.astype(np.float32).map_overlap(
    ndi.gaussian_filter, depth=depth, boundary="reflect", sigma=sigma, dtype=np.float32)
print(int((blurred > threshold).sum().compute()))
"#;

/// Blur, threshold and label in Dask + dask-image: argv[1] the store,
/// argv[2] the labels' store.
const DASK_LABEL: &str = r#"
import sys
import numpy as np, dask.array as da, scipy.ndimage as ndi
from dask_image import ndmeasure
src, out, sigma, threshold = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
x = da.from_zarr(src)
depth = int(4.0 * sigma + 0.5)
blurred = x.astype(np.float32).map_overlap(
    ndi.gaussian_filter, depth=depth, boundary="reflect", sigma=sigma, dtype=np.float32)
labels, n = ndmeasure.label(blurred > threshold)
da.to_zarr(labels.astype(np.uint32), out, compute=True)
print(int(n.compute()))
"#;

/// The pyramid in Dask: argv[1] the source store, argv[2] the output
/// directory.
const DASK_PYRAMID: &str = r#"
import sys, os
import numpy as np, dask.array as da, zarr
from numcodecs import Blosc
src, dst = sys.argv[1:3]
os.makedirs(dst)
codec = zarr.codecs.BloscCodec(cname="zstd", clevel=3, shuffle="bitshuffle")
x = da.from_zarr(src)
for k in range(3):
    if k > 0:
        before = da.from_zarr(os.path.join(dst, str(k - 1)))
        x = da.coarsen(np.mean, before, {0: 2, 1: 2, 2: 2}, trim_excess=True).astype(np.uint16)
    x.to_zarr(os.path.join(dst, str(k)), compressors=[codec], zarr_format=3)
"#;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, kind, path] = args.as_slice() {
        if flag == CHILD {
            println!("{}", blur_and_count(kind, Path::new(path)));
            return;
        }
        if flag == LABEL_CHILD {
            println!("{}", blur_and_label(Path::new(kind), Path::new(path)));
            return;
        }
    }
    let depth: u64 = std::env::var("NDCHUNK_BENCH_DEPTH")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    let work = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (zarr, hdf5) = (
        work.path().join("volume.zarr"),
        work.path().join("volume.h5"),
    );
    let t = Instant::now();
    write_volume(&zarr, &hdf5, depth);
    println!(
        "wrote the ({depth}, 1024, 1024) uint16 volume to Zarr and HDF5 in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let python = match std::env::var("NDCHUNK_BENCH_PEERS").as_deref() {
        Ok("0") => None,
        _ => support::python_peer(),
    };
    let only = std::env::var("NDCHUNK_BENCH_ONLY").ok();
    let runs = |part: &str| only.as_deref().is_none_or(|only| only == part);
    if runs("blur") {
        blur_rows(&zarr, &hdf5, python.as_deref());
    }
    if runs("label") {
        label_rows(&zarr, work.path(), python.as_deref());
    }
    if runs("pyramid") {
        pyramid_rows(&zarr, work.path(), python.as_deref());
    }
}

/// The blur and count, from Zarr and HDF5.
fn blur_rows(zarr: &Path, hdf5: &Path, python: Option<&Path>) {
    let mut rows = Vec::new();
    for (kind, file) in [("zarr", zarr), ("hdf5", hdf5)] {
        let mut row = timed(
            &format!("ndchunk, {kind}"),
            Command::new(std::env::current_exe().unwrap()).args([CHILD, kind, path(file)]),
        );
        row.name = format!("{} (count {})", row.name, row.output.trim());
        rows.push(row);
        if let Some(python) = &python {
            let (sigma, threshold) = (SIGMA.to_string(), THRESHOLD.to_string());
            let mut row = timed(
                &format!("Dask + scipy, {kind}"),
                Command::new(python).args(["-c", DASK, kind, path(file), &sigma, &threshold]),
            );
            row.name = format!("{} (count {})", row.name, row.output.trim());
            rows.push(row);
        }
    }
    timing::print_rows(&rows);
}

/// Blur, threshold and label, against dask-image where it is installed.
fn label_rows(zarr: &Path, work: &Path, python: Option<&Path>) {
    println!("\nblur, threshold, label (face connectivity), labels to Zarr:");
    let mut row = timed(
        "ndchunk label",
        Command::new(std::env::current_exe().unwrap()).args([
            LABEL_CHILD,
            path(zarr),
            path(&work.join("labels.zarr")),
        ]),
    );
    row.name = format!("{} ({} components)", row.name, row.output.trim());
    let mut rows = vec![row];
    if let Some(python) = &python {
        let has_dask_image = Command::new(python)
            .args(["-c", "import dask_image"])
            .output()
            .is_ok_and(|o| o.status.success());
        if has_dask_image {
            let (sigma, threshold) = (SIGMA.to_string(), THRESHOLD.to_string());
            let out = work.join("dask-labels.zarr");
            let row = timed_within(
                "dask-image ndmeasure.label",
                Command::new(python).args([
                    "-c",
                    DASK_LABEL,
                    path(zarr),
                    path(&out),
                    &sigma,
                    &threshold,
                ]),
                Some(LABEL_LIMIT),
            );
            if let Some(mut row) = row {
                row.name = format!("{} ({} components)", row.name, row.output.trim());
                rows.push(row);
            }
        } else {
            println!(
                "dask-image is not installed in {}: its row is left out",
                python.display()
            );
        }
    }
    timing::print_rows(&rows);
}

/// A 3-level pyramid, against Dask's coarsen.
fn pyramid_rows(zarr: &Path, work: &Path, python: Option<&Path>) {
    println!("\n3-level pyramid (2x2x2 means) of the Zarr volume:");
    let mut rows = vec![timed(
        "chunkctl pyramid --levels 3",
        Command::new(env!("CARGO_BIN_EXE_chunkctl")).args([
            "pyramid",
            path(zarr),
            path(&work.join("ndchunk.ome.zarr")),
            "--levels",
            "3",
            "--quiet",
        ]),
    )];
    if let Some(python) = &python {
        rows.push(timed(
            "Dask coarsen + to_zarr",
            Command::new(python).args([
                "-c",
                DASK_PYRAMID,
                path(zarr),
                path(&work.join("dask-pyramid")),
            ]),
        ));
    }
    timing::print_rows(&rows);
}

/// The sample volume written to a Zarr v3 store and an HDF5 file.
fn write_volume(zarr: &Path, hdf5: &Path, depth: u64) {
    let volume = sample::volume([depth, 1024, 1024], [64, 256, 256]).unwrap();
    let mut meta = ndchunk::io::ArrayMeta::new(
        volume.grid().clone(),
        ndchunk::io::DType::UInt16,
        ndchunk::io::Scalar::UInt(0),
    );
    meta.dimension_names = Some(vec![Some("z".into()), Some("y".into()), Some("x".into())]);
    let codec = ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "bitshuffle".into(),
    };
    let spec = ZarrArraySpec::new(meta.clone(), ZarrFormat::V3, codec);
    let zarr_store: Arc<dyn ChunkStore> = Arc::new(ZarrStore::create(zarr, "/", &spec).unwrap());
    let compression = Compression::deflate(4).with_shuffle();
    let hdf5_store = Hdf5Store::create(hdf5, "volume", &meta, compression).unwrap();
    let options = ComputeOptions::new().progress(false);
    let volume = ndchunk::DynArray::from(volume);
    let pairs: [(&ndchunk::DynArray, &dyn ChunkStore); 2] =
        [(&volume, zarr_store.as_ref()), (&volume, &hdf5_store)];
    ndchunk::store_many(&pairs, &options).unwrap();
    hdf5_store.flush().unwrap();
}

/// ndchunk's row: the blur and the count, from `kind` ("zarr" or "hdf5").
fn blur_and_count(kind: &str, file: &Path) -> i64 {
    let store: Arc<dyn ChunkStore> = match kind {
        "zarr" => Arc::new(ZarrStore::open(file, "/").unwrap()),
        _ => Arc::new(Hdf5Store::open(file, "volume").unwrap()),
    };
    let x = Array::<u16>::from_store(store).unwrap();
    let blurred = x.gaussian_filter(&[SIGMA], &FilterOptions::new());
    let count = blurred.greater(THRESHOLD).count_nonzero(Axes::All, false);
    let options = ComputeOptions::new().max_mem(1 << 30).progress(false);
    count.compute_with(&options).unwrap().0[[]]
}

/// ndchunk's labelling row: the blur above the threshold labelled, the
/// labels stored; the number of components.
fn blur_and_label(src: &Path, out: &Path) -> u64 {
    let store: Arc<dyn ChunkStore> = Arc::new(ZarrStore::open(src, "/").unwrap());
    let x = Array::<u16>::from_store(store).unwrap();
    let options = ComputeOptions::new().max_mem(1 << 30).progress(false);
    let mask = x
        .gaussian_filter(&[SIGMA], &FilterOptions::new())
        .greater(THRESHOLD);
    let (labels, n) = mask.label(1, &options).unwrap();
    let meta = ndchunk::io::ArrayMeta::new(
        labels.grid().clone(),
        ndchunk::io::DType::UInt32,
        ndchunk::io::Scalar::UInt(0),
    );
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
    let store = ZarrStore::create(out, "/", &spec).unwrap();
    labels.store_with(&store, &options).unwrap();
    n
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}
