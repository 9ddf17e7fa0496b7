//! `chunkctl pyramid`: an image (a Zarr array, or one array of an HDF5 or
//! netCDF file) and its downsampled levels as an OME-Zarr multiscale
//! image, through [`ndchunk::write_pyramid`].

use std::error::Error;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;

use ndchunk::chunking::parse_bytes;
use ndchunk::io::info::{open_array, split_array_path};
use ndchunk::io::owned_paths::OwnedPaths;
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::ChunkStore;
use ndchunk::{write_pyramid, ComputeOptions, DynArray, PyramidOptions};

#[derive(Debug, Args)]
pub struct PyramidArgs {
    /// The image: a Zarr array (a directory), or FILE:/NAME for an array of
    /// an HDF5 or netCDF file. 2 to 5 dimensions; dimension names t, c, z,
    /// y, x are used as OME axes, else the last axes of (t, c, z, y, x).
    src: PathBuf,
    /// The OME-Zarr image to write (must not exist): level k in DST/k.
    dst: PathBuf,
    /// Levels, the image included (default: until the smallest level
    /// fits one chunk).
    #[arg(long)]
    levels: Option<usize>,
    /// How each level is made from the one before: mean, gaussian (blur,
    /// then every second voxel), mode (label images), max.
    #[arg(long, default_value = "mean")]
    method: String,
    /// Chunk shape of every level, e.g. `64,256,256` (default: the
    /// source's).
    #[arg(long)]
    chunks: Option<String>,
    /// Zarr v3 (OME-NGFF 0.5) or v2 (OME-NGFF 0.4).
    #[arg(long, value_parser = ["v2", "v3"], default_value = "v3")]
    format: String,
    /// Compressor of the levels: none, zstd:LEVEL, gzip:LEVEL, zlib:LEVEL
    /// (v2), blosc:CNAME:LEVEL:SHUFFLE (default: blosc:zstd:3:bitshuffle).
    #[arg(long)]
    codec: Option<String>,
    /// Memory budget.
    #[arg(long, default_value = "1GiB")]
    max_mem: String,
    /// Worker threads (default: the number of cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: &PyramidArgs) -> Result<(), Box<dyn Error>> {
    let spec = args.src.to_string_lossy().into_owned();
    let store: Arc<dyn ChunkStore> = Arc::from(open_array(&spec)?);
    // DST may not lie inside the source (nor hold it: it does not exist).
    let (source_file, _) = split_array_path(&spec);
    OwnedPaths::protecting(&[source_file.as_path()]).claim(&args.dst, "DST")?;
    let names: Option<Vec<String>> = store
        .meta()
        .dimension_names
        .as_ref()
        .and_then(|names| names.iter().cloned().collect());
    let image = DynArray::from_store(store)?;
    let mut compute = ComputeOptions::new()
        .max_mem(parse_bytes(&args.max_mem)?)
        .progress(!args.quiet);
    if let Some(threads) = args.threads {
        compute = compute.threads(threads);
    }
    let format = match args.format.as_str() {
        "v2" => ZarrFormat::V2,
        _ => ZarrFormat::V3,
    };
    let mut options = PyramidOptions::new()
        .method(args.method.parse()?)
        .format(format)
        .compute(compute);
    // The source's dimension names where they are OME's axes; otherwise
    // the default axes, said aloud.
    if let Some(names) = &names {
        let ome = names
            .iter()
            .all(|n| ["t", "c", "z", "y", "x"].contains(&n.to_ascii_lowercase().as_str()));
        if ome {
            options = options.axes(names);
        } else {
            eprintln!(
                "chunkctl: warning: dimension names {names:?} are not OME axes (t, c, z, y, x): \
                 taking the image's last axes as z, y, x"
            );
        }
    }
    if let Some(levels) = args.levels {
        options = options.levels(levels);
    }
    if let Some(codec) = &args.codec {
        options = options.codec(codec.parse()?);
    }
    if let Some(chunks) = &args.chunks {
        let shape: Vec<u64> = chunks
            .split(',')
            .map(|c| c.trim().parse::<u64>())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("--chunks {chunks:?}: {e} (give sizes like 64,256,256)"))?;
        options = options.chunks(&shape);
    }
    let started = Instant::now();
    let shapes = write_pyramid(&image, &args.dst, &options)?;
    if !args.quiet {
        for (k, shape) in shapes.iter().enumerate() {
            println!("level {k}: {shape:?}");
        }
        println!(
            "wrote {} levels to {} in {:.1} s",
            shapes.len(),
            args.dst.display(),
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}
