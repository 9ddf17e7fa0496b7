//! `chunkctl demo`: the main job on built-in data. Writes a climate-like
//! Zarr store (daily chunks), rechunks it to time series within a small
//! budget, and checks the result against the source.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;

use crate::job::ZarrRechunk;
use ndchunk::chunking::parse_bytes;
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::{ChunkStore, ZarrStore};
use rayon::prelude::*;

use crate::rechunk::{peak_rss_bytes, summary};
use crate::sample::{self, Field};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Hours of data (8760 = a year, 2.3 GB).
    #[arg(long, default_value_t = 2160)]
    hours: u64,
    /// Memory budget of the rechunk.
    #[arg(long, default_value = "256MiB")]
    max_mem: String,
    /// Where to write (default: a temporary directory, removed after).
    #[arg(long)]
    dir: Option<PathBuf>,
}

pub fn run(args: &DemoArgs) -> Result<(), Box<dyn Error>> {
    let temp = ndchunk_io::owned_paths::OwnedTempDir::new("chunkctl-demo-")?;
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let src = dir.join("climate-daily.zarr");
    let dst = dir.join("climate-timeseries.zarr");
    // The demo never deletes: a folder left by an earlier demo in --dir
    // is the user's to remove.
    for old in [&src, &dst] {
        if old.exists() {
            return Err(format!(
                "{} already exists: remove it, or give another --dir",
                old.display()
            )
            .into());
        }
    }
    eprintln!(
        "writing {} hours of sample data to {} ...",
        args.hours,
        src.display()
    );
    sample::write_climate(&src, args.hours, ZarrFormat::V3, Field::Smooth)?;
    let mut job = ZarrRechunk::new(&src, &dst, "time=-1,lat=10,lon=10");
    job.max_mem = parse_bytes(&args.max_mem)?;
    job.progress = true;
    let prepared = job.prepare()?;
    println!("{}\n", prepared.explain());
    let outcome = prepared.run()?;
    println!(
        "{}",
        summary(
            &src.display().to_string(),
            &outcome,
            peak_rss_bytes(),
            job.max_mem
        )
    );
    // Check: every value of every time series against the formula that
    // made it, one output chunk at a time.
    let out = ZarrStore::open_dir(&dst)?;
    let grid = out.meta().grid.clone();
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    chunks
        .par_iter()
        .try_for_each(|chunk| -> Result<(), String> {
            let region = grid.block_region(chunk).map_err(|e| e.to_string())?;
            let bytes = out.read_chunk_bytes(chunk).map_err(|e| e.to_string())?;
            let (start, stop) = (region.start(), region.stop());
            let mut values = bytes.chunks_exact(4);
            for t in start[0]..stop[0] {
                for y in start[1]..stop[1] {
                    for x in start[2]..stop[2] {
                        let v = values.next().ok_or("a chunk is short")?;
                        let got = f32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
                        if got.to_bits() != sample::temperature(Field::Smooth, t, y, x).to_bits() {
                            return Err(format!("check failed at time {t}, lat {y}, lon {x}"));
                        }
                    }
                }
            }
            Ok(())
        })?;
    println!(
        "checked: all {} time series ({} values) match the source exactly",
        180 * 360,
        args.hours * 180 * 360
    );
    Ok(())
}
