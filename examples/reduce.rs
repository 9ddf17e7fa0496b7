//! Reduces one array of a Zarr store along a dimension and writes the
//! result as a Zarr array, printing the plan and the time taken.
//!
//! ```text
//! cargo run --release --example reduce -- SRC OUT.zarr --op mean|sum|min|max|std \
//!     (--dim NAME | --axis N) [--var NAME] [--max-mem 1GiB]
//! cargo run --release --example reduce          # on built-in sample data
//! ```
//!
//! SRC is the array's directory, or a group's with `--var NAME` (an
//! xarray-written store, say). float32 and float64 arrays are reduced in
//! their own type, integer and bool arrays as float64.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use ndchunk::chunking::{parse_bytes, ChunkGrid};
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, Scalar, ZarrStore};
use ndchunk::{Array, ComputeOptions, ComputeReport, DynArray, MeanElement};

type Error = Box<dyn std::error::Error>;

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Error> {
    let args = support::ExampleArgs::from_env();
    let flag = |name: &str| args.flag(name);
    let scratch = tempfile::tempdir()?;
    let (src, out) = args.paths_or_sample(scratch.path(), "reduced.zarr")?;
    let store: Arc<dyn ChunkStore> = match flag("--var") {
        Some(var) => Arc::new(ZarrStore::open(&src, &var)?),
        None => Arc::new(ZarrStore::open_dir(&src)?),
    };
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
    if axis >= dims.len() {
        return Err(format!("--axis {axis}: the array has {} axes", dims.len()).into());
    }
    let op = flag("--op").unwrap_or_else(|| "mean".into());
    let mut options = ComputeOptions::new();
    if let Some(max_mem) = flag("--max-mem") {
        options = options.max_mem(parse_bytes(&max_mem)?);
    }
    let job = Job {
        op: &op,
        axis,
        dims: &dims,
        out: &out,
        options,
    };
    let started = Instant::now();
    let report = match DynArray::from_store(store.clone())? {
        DynArray::Float32(a) => job.run(a)?,
        DynArray::Float64(a) => job.run(a)?,
        other => job.run(other.as_f64())?,
    };
    println!(
        "{op} over {} of {} ({}): {:.3} s, {} tasks, peak {} of {} bytes budgeted -> {}",
        dims[axis],
        store.location(),
        store.meta().dtype,
        started.elapsed().as_secs_f64(),
        report.tasks_run,
        report.peak_bytes,
        report.max_mem,
        out.display()
    );
    Ok(())
}

struct Job<'a> {
    op: &'a str,
    axis: usize,
    dims: &'a [String],
    out: &'a Path,
    options: ComputeOptions,
}

impl Job<'_> {
    /// Reduces `a` and writes the result beside its dimension names.
    fn run<T: MeanElement<Mean = T>>(&self, a: Array<T>) -> Result<ComputeReport, Error> {
        let axes = [self.axis];
        let reduced = match self.op {
            "sum" => a.sum(axes, false),
            "mean" => a.mean(axes, false),
            "min" => a.min(axes, false),
            "max" => a.max(axes, false),
            "std" => a.std(axes, false, 0),
            other => return Err(format!("unknown --op {other}: mean, sum, min, max or std").into()),
        };
        print!("{}", reduced.plan_with(&self.options)?);
        // Zarr wants a regular grid: the reduced array's largest chunks.
        let grid = ChunkGrid::regular(&reduced.shape(), &reduced.grid().chunk_shape())?;
        let mut meta = ArrayMeta::new(grid, reduced.dtype(), Scalar::Float(f64::NAN));
        let mut kept = self.dims.to_vec();
        kept.remove(self.axis);
        meta.dimension_names = Some(kept.into_iter().map(Some).collect());
        let spec = ZarrArraySpec::new(meta, ZarrFormat::V3, ZarrCodec::Zstd(3));
        let target = ZarrStore::create(self.out, "/", &spec)?;
        Ok(reduced.store_with(&target, &self.options)?)
    }
}
