//! `chunkctl demo`: the main job on built-in data. Writes a climate-like
//! Zarr store (daily chunks), rechunks it to time series within a small
//! budget, and checks the result against the source.

use std::error::Error;
use std::path::PathBuf;

use clap::Args;

use ndchunk::chunking::parse_bytes;
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::{ChunkStore, Region, ZarrStore};
use ndchunk::rechunk::ZarrRechunk;
use ndchunk::sample;

use crate::rechunk::{peak_rss_bytes, summary};

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
    let temp = tempfile::tempdir()?;
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
    sample::write_climate(&src, args.hours, ZarrFormat::V3)?;
    let mut job = ZarrRechunk::new(&src, &dst, "time=-1,lat=10,lon=10");
    job.max_mem = parse_bytes(&args.max_mem)?;
    job.progress = true;
    let prepared = job.prepare()?;
    println!("{}\n", prepared.plan);
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
    // Check: a few whole time series against the formula that made them.
    let out = ZarrStore::open_dir(&dst)?;
    for (y, x) in [(0u64, 0u64), (90, 180), (179, 359), (33, 71)] {
        let region = Region::new(vec![0, y, x], vec![args.hours, y + 1, x + 1])?;
        let bytes = out.read_region_bytes(&region)?;
        for (t, v) in bytes.chunks_exact(4).enumerate() {
            let got = f32::from_ne_bytes([v[0], v[1], v[2], v[3]]);
            if got.to_bits() != sample::temperature(t as u64, y, x).to_bits() {
                return Err(format!("check failed at time {t}, lat {y}, lon {x}").into());
            }
        }
    }
    println!("checked: time series at 4 points match the source exactly");
    Ok(())
}
