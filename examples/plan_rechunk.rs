//! Plan rechunks of two real workloads within a memory budget, and print
//! what the planner chose and why.
//!
//! - Climate: a year of hourly ERA5-like reanalysis (8760 x 721 x 1440
//!   float32), written one day per chunk, wanted as 10x10-point time series.
//! - Imaging: an electron-microscopy stack (1000 x 4096 x 4096 uint8) in
//!   one-slice chunks, wanted as 128^3 cubes for 3-d viewers and analysis.
//!
//! Run: `cargo run --release --example plan_rechunk`

mod support;

use ndchunk::chunking::rechunk::{plan_rechunk, PlanOptions};
use ndchunk::chunking::{normalize_chunks, parse_bytes, ChunkGrid, ChunkSpec, NormalizeOptions};

fn main() -> std::process::ExitCode {
    support::exit_with(run())
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let climate_shape = [8760, 721, 1440];
    let daily = ChunkGrid::regular(&climate_shape, &[24, 721, 1440])?;
    let dims = ["time", "latitude", "longitude"];
    let series = normalize_chunks(
        &ChunkSpec::parse("time=-1,latitude=10,longitude=10", &dims)?,
        &climate_shape,
        &NormalizeOptions {
            previous: Some(&daily),
            itemsize: Some(4),
            ..Default::default()
        },
    )?;
    let plan = plan_rechunk(
        &daily,
        &series,
        &PlanOptions::new(4, parse_bytes("2GiB")?).with_workers(2),
    )?;
    println!("== climate: daily chunks to time series, 2 GiB ==\n{plan}\n");

    let em_shape = [1000, 4096, 4096];
    let slices = ChunkGrid::regular(&em_shape, &[1, 4096, 4096])?;
    let cubes = ChunkGrid::regular(&em_shape, &[128, 128, 128])?;
    for budget in ["4GiB", "256MiB"] {
        let options = PlanOptions::new(1, parse_bytes(budget)?).with_workers(2);
        let plan = plan_rechunk(&slices, &cubes, &options)?;
        println!("== imaging: slices to 128^3 cubes, {budget} ==\n{plan}\n");
    }
    Ok(())
}
