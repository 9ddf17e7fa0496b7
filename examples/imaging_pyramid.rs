//! The imaging user's day: from a 3-D volume larger than you would load,
//! a Gaussian blur, Otsu's threshold of the blurred volume, the connected
//! components above it (across chunks) with their sizes, boxes and
//! centroids, and an OME-Zarr pyramid of the volume for a viewer.
//!
//! ```text
//! cargo run --release --example imaging -- SRC OUT.ome.zarr [--sigma 2] [--max-mem 1GiB]
//! cargo run --release --example imaging [--depth 128]   # on a built-in volume
//! ```
//!
//! SRC is a Zarr array, or one array of an HDF5 file as `FILE:/NAME`.
//! Without SRC, a microscopy-like uint16 volume (`depth` x 512 x 512, a
//! blob in every 32-voxel cube) is written first.
//!
//! In Python (Dask, dask-image, scikit-image, ome-zarr-py):
//!
//! ```text
//! blurred = x.astype(np.float32).map_overlap(ndi.gaussian_filter, depth=8, boundary="reflect", sigma=2)
//! threshold = threshold_otsu(blurred.compute())
//! labels, n = dask_image.ndmeasure.label(blurred > threshold)
//! ```

mod support;

use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::parse_bytes;
use ndchunk::io::info::open_array;
use ndchunk::io::ChunkStore;
use ndchunk::{write_pyramid, Array, ComputeOptions, DynArray, FilterOptions, PyramidOptions};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args = support::ExampleArgs::from_env();
    let sigma: f64 = args.flag("--sigma").map_or(Ok(2.0), |s| s.parse())?;
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
            let out = scratch.path().join("volume.ome.zarr");
            (src.to_string_lossy().into_owned(), out)
        }
    };
    let store: Arc<dyn ChunkStore> = Arc::from(open_array(&src)?);
    let names: Option<Vec<String>> = store
        .meta()
        .dimension_names
        .as_ref()
        .and_then(|n| n.iter().cloned().collect());
    let volume = DynArray::from_store(store)?;
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
    println!(
        "gaussian_filter(sigma {sigma}): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let threshold = blurred.threshold_otsu(256, &options)?;
    let (labels, n) = blurred.greater(threshold as f32).label(1, &options)?;
    let mut props = labels.regionprops(n, &options)?;
    println!(
        "otsu threshold {threshold:.1}: {n} components, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    props.sort_by_key(|p| std::cmp::Reverse(p.count));
    for p in props.iter().take(5) {
        let centre: Vec<String> = p.centroid.iter().map(|c| format!("{c:.1}")).collect();
        println!(
            "  label {:>6}: {:>8} voxels, box {:?}..{:?}, centroid [{}]",
            p.label,
            p.count,
            p.bbox.start(),
            p.bbox.stop(),
            centre.join(", ")
        );
    }

    let started = Instant::now();
    let mut pyramid = PyramidOptions::new().compute(options);
    if let Some(names) = &names {
        pyramid = pyramid.axes(names);
    }
    let shapes = write_pyramid(&volume, &out, &pyramid)?;
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
