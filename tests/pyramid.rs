//! `chunkctl pyramid` and `write_pyramid`: OME-Zarr multiscale images
//! read back by ome-zarr-py (v2 / NGFF 0.4 and v3 / NGFF 0.5), each level
//! equal to numpy's downsampling of the level before (mean, max, mode,
//! Gaussian then stride); bad input refused with nothing left behind.

#[path = "support/cli.rs"]
mod cli;
#[path = "support/counting.rs"]
mod counting;
mod support;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use ndchunk::chunking::Region;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{
    ArrayMeta, ChunkStore, ChunkStoreExt, DType, EncodedChunk, IoError, Scalar, ZarrStore,
};
use ndchunk::{write_pyramid, Array, ComputeOptions, DynArray, PyramidMethod, PyramidOptions};

use cli::{chunkctl, s};

/// A (20, 45, 38) uint16 volume with blobs and a gradient (odd sizes, so
/// levels have partial windows), in (8, 16, 16) chunks, dims z, y, x.
fn volume(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("volume.zarr");
    let shape = [20u64, 45, 38];
    let values = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[20, 45, 38]), |ix| {
        let (z, y, x) = (ix[0] as f64, ix[1] as f64, ix[2] as f64);
        let blob = ((z * 0.5).sin() * (y * 0.3).cos() * (x * 0.4).sin()).max(0.0);
        (100.0 + 3.0 * x + 900.0 * blob) as u16 / 50 * 50
    });
    let grid = ndchunk::chunking::ChunkGrid::regular(&shape, &[8, 16, 16]).unwrap();
    let mut meta = ArrayMeta::new(grid, DType::UInt16, Scalar::UInt(0));
    meta.dimension_names = Some(vec![Some("z".into()), Some("y".into()), Some("x".into())]);
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::None);
    let store = ZarrStore::create(&path, "/", &spec).unwrap();
    Array::from_ndarray(values, [8, 16, 16])
        .unwrap()
        .store(&store)
        .unwrap();
    path
}

/// Reads the image at argv[1] with ome-zarr-py; checks each level
/// against numpy's downsampling (argv[2], the method) of the level before
/// it; prints the levels' shapes.
const CHECK: &str = r#"
import sys
import numpy as np
from scipy import ndimage as ndi
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader, Multiscales
path, method, version = sys.argv[1:4]
nodes = list(Reader(parse_url(path))())
image = next(n for n in nodes if n.specs and isinstance(n.specs[0], Multiscales))
assert image.metadata["axes"] == [{"name": a, "type": "space"} for a in "zyx"], image.metadata["axes"]
levels = [np.asarray(d) for d in image.data]
def windows(x):
    # Partial windows at the end, as the pyramid's "pad": NaN-padded.
    pad = [(0, n % 2) for n in x.shape]
    f = np.pad(x.astype(np.float64), pad, constant_values=np.nan)
    z, y, w = (n // 2 for n in f.shape)
    return f.reshape(z, 2, y, 2, w, 2).transpose(0, 2, 4, 1, 3, 5).reshape(z, y, w, 8)
def mode(v):
    v = v[~np.isnan(v)]
    values, counts = np.unique(v, return_counts=True)
    return values[np.argmax(counts)]
for before, after in zip(levels, levels[1:]):
    if method == "mean":
        want = np.round(np.nanmean(windows(before), axis=-1)).astype(before.dtype)
    elif method == "max":
        want = np.nanmax(windows(before), axis=-1).astype(before.dtype)
    elif method == "mode":
        want = np.apply_along_axis(mode, -1, windows(before)).astype(before.dtype)
    else:
        blurred = ndi.gaussian_filter(before.astype(np.float32), 2 / 3, mode="reflect")
        want = np.round(blurred[::2, ::2, ::2]).astype(before.dtype)
    assert after.shape == want.shape, (after.shape, want.shape)
    assert np.array_equal(after, want), (method, np.argwhere(after != want)[:5])
print(" ".join("x".join(map(str, l.shape)) for l in levels))
"#;

#[test]
fn chunkctl_pyramid_is_read_by_ome_zarr_py_and_each_level_is_numpys() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = volume(dir.path());
    for (method, format, version) in [
        ("mean", "v3", "0.5"),
        ("max", "v2", "0.4"),
        ("mode", "v3", "0.5"),
        ("gaussian", "v2", "0.4"),
    ] {
        let dst = dir.path().join(format!("{method}.ome.zarr"));
        let out = chunkctl(&[
            "pyramid",
            s(&src),
            s(&dst),
            "--levels",
            "3",
            "--method",
            method,
            "--format",
            format,
            "--chunks",
            "8,16,16",
            "--quiet",
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shapes = support::run_python(&python, CHECK, &[s(&dst), method, version]);
        assert_eq!(
            String::from_utf8_lossy(&shapes).trim(),
            "20x45x38 10x23x19 5x12x10",
            "{method}"
        );
    }
}

/// Each source chunk is read once, whether the levels are folded from
/// level 0's blocks as they are written (memory allows) or read back from
/// the levels on disk (it does not), and the levels are the same.
#[test]
fn levels_folded_in_memory_equal_levels_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let shape = [20u64, 45, 38];
    let values = ndarray::ArrayD::from_shape_fn(ndarray::IxDyn(&[20, 45, 38]), |ix| {
        (ix[0] * 7 + ix[1] * 3 + ix[2]) as f64 * 0.25 + ((ix[1] as f64) * 0.2).sin()
    });
    let grid = ndchunk::chunking::ChunkGrid::regular(&shape, &[8, 16, 16]).unwrap();
    let meta = ArrayMeta::new(grid, DType::Float64, Scalar::Float(0.0));
    let source = counting::Counting::holding(meta, values.view());
    let image = DynArray::from_store(source.clone()).unwrap();
    let mut levels = Vec::new();
    for max_mem in [1u64 << 30, 120_000] {
        let options = PyramidOptions::new().levels(3).compute(
            ComputeOptions::new()
                .progress(false)
                .threads(1)
                .max_mem(max_mem),
        );
        let dst = dir.path().join(format!("{max_mem}.ome.zarr"));
        write_pyramid(&image, &dst, &options).unwrap();
        let counts = source.take_reads();
        assert_eq!(counts.len(), 3 * 3 * 3, "every chunk read");
        assert!(counts.values().all(|&n| n == 1), "{max_mem}: {counts:?}");
        let read = |level: &str| {
            let store = ZarrStore::open(&dst, level).unwrap();
            let shape = store.meta().shape();
            store
                .read_region::<f64>(&Region::from_shape(&shape))
                .unwrap()
        };
        levels.push([read("0"), read("1"), read("2")]);
    }
    assert_eq!(levels[0], levels[1]);
    assert_eq!(levels[0][0], values);
    assert_eq!(levels[0][2].shape(), &[5, 12, 10]);
}

/// A store counting the chunks read as stored (encoded), over a Zarr store.
struct Spy {
    inner: ZarrStore,
    encoded_reads: AtomicUsize,
}

impl ChunkStore for Spy {
    fn meta(&self) -> &ArrayMeta {
        self.inner.meta()
    }
    fn location(&self) -> String {
        self.inner.location()
    }
    fn read_chunk_bytes(&self, chunk: &[u64]) -> Result<Vec<u8>, IoError> {
        self.inner.read_chunk_bytes(chunk)
    }
    fn write_chunk_bytes(&self, chunk: &[u64], bytes: &[u8]) -> Result<(), IoError> {
        self.inner.write_chunk_bytes(chunk, bytes)
    }
    fn chunk_exists(&self, chunk: &[u64]) -> Result<bool, IoError> {
        self.inner.chunk_exists(chunk)
    }
    fn encoding(&self) -> Option<String> {
        self.inner.encoding()
    }
    fn read_encoded_chunk(&self, chunk: &[u64]) -> Result<Option<EncodedChunk>, IoError> {
        self.encoded_reads.fetch_add(1, Ordering::Relaxed);
        self.inner.read_encoded_chunk(chunk)
    }
}

/// The test volume stored again with the pyramid's default codec (blosc
/// zstd, bitshuffle) under `dir`, behind a spy counting its encoded
/// reads, and the array over it.
fn encoded_alike_source(dir: &Path) -> (Arc<Spy>, DynArray) {
    let plain = volume(dir);
    let plain = ZarrStore::open(&plain, "/").unwrap();
    let zstd = ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "bitshuffle".into(),
    };
    let spec = ZarrArraySpec::new(plain.meta().clone(), ZarrFormat::V3, zstd);
    let path = dir.join("zstd.zarr");
    let source = ZarrStore::create(&path, "/", &spec).unwrap();
    DynArray::from_store(Arc::new(plain))
        .unwrap()
        .store(&source)
        .unwrap();
    let spy = Arc::new(Spy {
        inner: ZarrStore::open(&path, "/").unwrap(),
        encoded_reads: AtomicUsize::new(0),
    });
    let image = DynArray::from_store(spy.clone()).unwrap();
    (spy, image)
}

/// Level 0 is copied chunk for chunk, as stored, from a Zarr source with
/// the pyramid's chunks and codec (nothing encoded again), and written
/// anew when the chunks differ; the levels are the same either way.
#[test]
fn level_zero_is_copied_as_stored_when_the_source_is_encoded_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (spy, image) = encoded_alike_source(dir.path());
    let quiet = PyramidOptions::new()
        .levels(3)
        .compute(ComputeOptions::new().progress(false));
    let mut levels = Vec::new();
    for (name, options, copied) in [
        ("same.ome.zarr", quiet.clone(), 3 * 3 * 3),
        ("other.ome.zarr", quiet.clone().chunks(&[4, 16, 16]), 0),
    ] {
        let dst = dir.path().join(name);
        write_pyramid(&image, &dst, &options).unwrap();
        assert_eq!(
            spy.encoded_reads.swap(0, Ordering::Relaxed),
            copied,
            "{name}"
        );
        let read = |level: &str| {
            let store = ZarrStore::open(&dst, level).unwrap();
            let shape = store.meta().shape();
            store
                .read_region::<u16>(&Region::from_shape(&shape))
                .unwrap()
        };
        levels.push([read("0"), read("1"), read("2")]);
    }
    assert_eq!(levels[0], levels[1]);
    let whole = Region::from_shape(&spy.inner.meta().shape());
    assert_eq!(levels[0][0], spy.inner.read_region::<u16>(&whole).unwrap());
}

#[test]
fn bad_input_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let quiet = PyramidOptions::new().compute(ComputeOptions::new().progress(false));
    let line = DynArray::from(Array::<u16>::arange(100, [10]).unwrap());
    let dst = dir.path().join("line.zarr");
    let e = write_pyramid(&line, &dst, &quiet).unwrap_err().to_string();
    assert!(e.contains("OME-Zarr images have 2 to 5 dimensions"), "{e}");
    assert!(!dst.exists());
    let six = DynArray::from(Array::<u8>::zeros(&[2; 6], [2; 6]).unwrap());
    let e = write_pyramid(&six, &dst, &quiet).unwrap_err().to_string();
    assert!(e.contains("6-dimensional"), "{e}");
    let float = DynArray::from(Array::<f32>::zeros(&[8, 8], [4, 4]).unwrap());
    let mode = quiet.clone().method(PyramidMethod::Mode);
    let e = write_pyramid(&float, &dst, &mode).unwrap_err().to_string();
    assert!(e.contains("mode of float32"), "{e}");
    assert!(!dst.exists());
    let resumable = quiet
        .clone()
        .compute(ComputeOptions::new().journal_dir(dir.path().join("journal")));
    let e = write_pyramid(&float, &dst, &resumable)
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not resume"), "{e}");
    assert!(!dst.exists());
    // An existing destination is never written into.
    std::fs::create_dir(&dst).unwrap();
    std::fs::write(dst.join("keep"), b"mine").unwrap();
    let image = DynArray::from(Array::<u16>::zeros(&[8, 8], [4, 4]).unwrap());
    let e = write_pyramid(&image, &dst, &quiet).unwrap_err().to_string();
    assert!(e.contains("exists"), "{e}");
    assert_eq!(std::fs::read(dst.join("keep")).unwrap(), b"mine");
    // Spelled through a folder that does not exist yet: the same folder.
    let roundabout = dir.path().join("new").join("..").join("line.zarr");
    let e = write_pyramid(&image, &roundabout, &quiet)
        .unwrap_err()
        .to_string();
    assert!(e.contains("exists"), "{e}");
    assert_eq!(std::fs::read(dst.join("keep")).unwrap(), b"mine");
    // A run that fails half way removes what it made: a source whose
    // chunk is corrupt.
    let src = volume(dir.path());
    std::fs::write(src.join("c/1/1/1"), b"not a chunk").unwrap();
    let broken: Arc<dyn ChunkStore> = Arc::new(ZarrStore::open(&src, "/").unwrap());
    let dst = dir.path().join("broken.zarr");
    let e = write_pyramid(&DynArray::from_store(broken).unwrap(), &dst, &quiet);
    assert!(e.is_err());
    assert!(!dst.exists());
    // The CLI refuses a destination inside the source.
    let inside = src.join("pyramid");
    let out = chunkctl(&["pyramid", s(&src), s(&inside), "--quiet"]);
    assert!(!out.status.success());
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("inside the source"), "{e}");
    assert!(!inside.exists());
}

/// Copying level 0 as stored holds each chunk's encoded bytes beside its
/// decoded block, and folding holds the fold's scratch: both are counted
/// in `max_mem`, so a budget that holds a block but not what is held
/// beside it is refused up front (never exceeded in flight).
#[test]
fn copying_level_zero_counts_the_encoded_chunk_in_max_mem() {
    let dir = tempfile::tempdir().unwrap();
    let (spy, image) = encoded_alike_source(dir.path());
    // A block is 8 * 16 * 16 * 2 = 4096 bytes; a task reading one holds
    // 3 * 4096 (the chunk decoded and read, the block), and copying it as
    // stored up to `encoded_bound(4096)` = 5152 more: 17440.
    for (max_mem, copied) in [(15_000u64, None), (17_440, Some(27)), (1 << 20, Some(27))] {
        let options = PyramidOptions::new().levels(1).compute(
            ComputeOptions::new()
                .progress(false)
                .threads(1)
                .max_mem(max_mem),
        );
        let dst = dir.path().join(format!("{max_mem}.ome.zarr"));
        let result = write_pyramid(&image, &dst, &options);
        let reads = spy.encoded_reads.swap(0, Ordering::Relaxed);
        match copied {
            Some(n) => {
                assert!(result.is_ok(), "{max_mem}: {result:?}");
                assert_eq!(reads, n, "{max_mem}: every chunk copied as stored");
            }
            None => {
                let e = result.unwrap_err().to_string();
                assert!(
                    e.contains("too small") && e.contains("one task needs 17.0 KiB"),
                    "{e}"
                );
                assert_eq!(reads, 0, "refused before anything is read");
            }
        }
    }
}
