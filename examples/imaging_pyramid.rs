//! The imaging user's day, in one run over a 3-D volume larger than you
//! would load: a Gaussian blur, the voxels above a threshold and their
//! connected components (across chunks), and an OME-Zarr pyramid of the
//! volume for a viewer.
//!
//! ```text
//! cargo run --release --example imaging_pyramid -- SRC OUT.ome.zarr [--sigma 2] [--threshold 500] [--max-mem 1GiB]
//! cargo run --release --example imaging_pyramid [--depth 128]   # on a built-in volume
//! ```
//!
//! SRC is a Zarr array, or one array of an HDF5 file as `FILE:/NAME`,
//! holding a `(z, y, x)` uint16 volume. Without SRC, a microscopy-like
//! volume (`depth` x 512 x 512, a bright blob in every 32-voxel cube on a
//! dim background) is written first.
//!
//! It prints `count: N`, the voxels of the blurred volume (float32; sigma
//! 2, scipy's `reflect` edges, `truncate` 4) above the threshold, and
//! `components: N`, the face-connected components of that mask, with the
//! largest ones' sizes and centroids. OUT gets a 4-level pyramid: level 0
//! the volume's values, levels 1 to 3 each the 2x2x2 mean of the one
//! before, all float32 (one dtype for every level, as viewers expect).
//!
//! In Python (Dask, scipy, dask-image, ome-zarr-py):
//!
//! ```text
//! blurred = x.astype(np.float32).map_overlap(ndi.gaussian_filter, depth=8, boundary="reflect", sigma=2)
//! print("count:", int((blurred > 500).sum()))
//! labels, n = dask_image.ndmeasure.label(blurred > 500)
//! ome_zarr.writer.write_image(x.astype(np.float32), group, scaler=Scaler(max_layer=3, method="local_mean"))
//! ```

mod support;

use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::parse_bytes;
use ndchunk::io::info::open_array;
use ndchunk::io::ChunkStore;
use ndchunk::{write_pyramid, Array, Axes, ComputeOptions, FilterOptions, PyramidOptions};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args = support::ExampleArgs::from_env();
    let sigma: f64 = args.flag("--sigma").map_or(Ok(2.0), |s| s.parse())?;
    let threshold: f32 = args.flag("--threshold").map_or(Ok(500.0), |s| s.parse())?;
    let mut options = ComputeOptions::new();
    if let Some(max_mem) = args.flag("--max-mem") {
        options = options.max_mem(parse_bytes(&max_mem)?);
    }
    let scratch = tempfile::tempdir()?;
    let (src, out) = match args.paths() {
        Some((src, out)) => (src.to_string_lossy().into_owned(), out),
        None => {
            let depth: u64 = args.flag("--depth").map_or(Ok(128), |d| d.parse())?;
            let src = scratch.path().join("volume.zarr");
            println!(
                "no SRC given: writing a ({depth}, 512, 512) uint16 volume to {}",
                src.display()
            );
            support::write_volume(&src, [depth, 512, 512], [64, 256, 256])?;
            (
                src.to_string_lossy().into_owned(),
                scratch.path().join("volume.ome.zarr"),
            )
        }
    };
    let store: Arc<dyn ChunkStore> = Arc::from(open_array(&src)?);
    let volume = Array::<u16>::from_store(store)?;
    if volume.ndim() != 3 {
        return Err(format!(
            "{src}: a (z, y, x) volume has 3 dimensions, not {}",
            volume.ndim()
        )
        .into());
    }
    let x: Array<f32> = volume.astype::<f32>();
    println!(
        "volume {:?}, chunks {:?}",
        x.shape(),
        x.grid().chunk_shape()
    );

    let started = Instant::now();
    let blurred = x
        .gaussian_filter(&[sigma], &FilterOptions::new())
        .persist_with(&options)?
        .0;
    let mask = blurred.greater(threshold);
    let count = mask
        .count_nonzero(Axes::All, false)
        .compute_with(&options)?
        .0[[]];
    println!("count: {count}");
    let (labels, n) = mask.label(1, &options)?;
    println!("components: {n}");
    let mut props = labels.regionprops(n, &options)?;
    props.sort_by_key(|p| std::cmp::Reverse(p.count));
    for p in props.iter().take(3) {
        let centre: Vec<String> = p.centroid.iter().map(|c| format!("{c:.1}")).collect();
        println!(
            "  label {:>6}: {:>8} voxels, centroid [{}]",
            p.label,
            p.count,
            centre.join(", ")
        );
    }
    println!(
        "blur (sigma {sigma}), threshold {threshold}, label: {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let started = Instant::now();
    let pyramid = PyramidOptions::new()
        .levels(4)
        .axes(&["z", "y", "x"])
        .compute(options);
    let shapes = write_pyramid(&x.into(), &out, &pyramid)?;
    println!(
        "pyramid of {} levels ({:?} .. {:?}) in {}: {:.1} s",
        shapes.len(),
        shapes[0],
        shapes[shapes.len() - 1],
        out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
