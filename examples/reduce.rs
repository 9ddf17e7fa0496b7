//! Reduces one array of a Zarr store along a dimension and writes the
//! result as a Zarr array, printing the plan and the time taken.
//!
//! ```text
//! cargo run --release --example reduce -- SRC OUT.zarr --op mean|sum|min|max|std \
//!     (--dim NAME | --axis N) [--max-mem 1GiB]
//! cargo run --release --example reduce          # on built-in sample data
//! ```

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::{parse_bytes, ChunkGrid};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let scratch = tempfile::tempdir()?;
    let (src, out) = match (args.first(), args.get(1)) {
        (Some(src), Some(out)) if !src.starts_with("--") => {
            (PathBuf::from(src), PathBuf::from(out))
        }
        _ => {
            let src = scratch.path().join("climate.zarr");
            println!(
                "no SRC given: writing 60 days of sample data to {}",
                src.display()
            );
            ndchunk::sample::write_climate(&src, 24 * 60, ZarrFormat::V3)?;
            (src, scratch.path().join("reduced.zarr"))
        }
    };
    let op = flag("--op").unwrap_or_else(|| "mean".into());
    let max_mem = flag("--max-mem").map(|m| parse_bytes(&m)).transpose()?;
    let store = Arc::new(ZarrStore::open_dir(&src)?);
    if store.meta().dtype != DType::Float32 {
        return Err(format!("{}: this example reduces float32 arrays", store.location()).into());
    }
    let dims = store.meta().dims_or_default();
    let axis = match (flag("--axis"), flag("--dim")) {
        (Some(n), _) => n.parse::<usize>()?,
        (None, dim) => {
            let dim = dim.unwrap_or_else(|| dims[0].clone());
            dims.iter()
                .position(|d| *d == dim)
                .ok_or(format!("no dimension `{dim}` in {dims:?}"))?
        }
    };
    let a = Array::<f32>::from_store(store.clone())?;
    let reduced = match op.as_str() {
        "sum" => a.sum(&[axis], false),
        "mean" => a.mean(&[axis], false),
        "min" => a.min(&[axis], false),
        "max" => a.max(&[axis], false),
        "std" => a.std(&[axis], false, 0),
        other => return Err(format!("unknown --op {other}: mean, sum, min, max or std").into()),
    };
    print!("{}", reduced.explain()?);
    let mut meta = ArrayMeta::new(
        reduced.grid().clone(),
        DType::Float32,
        Scalar::Float(f64::NAN),
    );
    let mut kept = dims.clone();
    kept.remove(axis);
    meta.dimension_names = Some(kept.into_iter().map(Some).collect());
    meta.grid = ChunkGrid::regular(&reduced.shape(), &reduced.grid().chunk_shape())?;
    let target = ZarrStore::create(
        &out,
        "/",
        &ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3)),
    )?;
    let started = Instant::now();
    let options = ComputeOptions {
        max_mem,
        ..ComputeOptions::default()
    };
    let report = reduced.store_with(&target, &options)?;
    println!(
        "{op} over {} of {}: {:.3} s, {} tasks, peak {} of {} bytes budgeted -> {}",
        dims[axis],
        src.display(),
        started.elapsed().as_secs_f64(),
        report.tasks_run,
        report.peak_bytes,
        report.max_mem,
        out.display()
    );
    Ok(())
}
