//! Sample data for demos, examples and benchmarks: a climate-like field
//! written as a real Zarr store, so the first thing a user runs exercises
//! the real path.

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use ndchunk_chunking::ChunkGrid;
use ndchunk_io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk_io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};

use crate::error::Result;

/// Writes `hours` of hourly near-surface temperature on a 1-degree grid,
/// `(time, lat, lon) = (hours, 180, 360)` float32 in kelvin, one day per chunk
/// `(24, 180, 360)`, blosc-zstd level 3 with shuffle, with dimension names
/// and CF-style attributes. The values are a latitude gradient, a daily
/// cycle and noise: they compress like real data, not like zeros.
pub fn write_climate(path: &Path, hours: u64, format: ZarrFormat) -> Result<ZarrStore> {
    let shape = [hours, 180, 360];
    let grid = ChunkGrid::regular(&shape, &[24, 180, 360])?;
    let mut meta = ArrayMeta::new(grid.clone(), DType::Float32, Scalar::Float(f64::NAN));
    meta.dimension_names = Some(vec![
        Some("time".into()),
        Some("lat".into()),
        Some("lon".into()),
    ]);
    meta.attributes.insert("units".into(), "K".into());
    meta.attributes
        .insert("standard_name".into(), "air_temperature".into());
    let codec = ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "shuffle".into(),
    };
    let store = ZarrStore::create(path, "/", &ZarrArraySpec::new(meta, format, codec))?;
    let chunks: Vec<Vec<u64>> = grid.all_blocks().iter().collect();
    chunks.par_iter().try_for_each(|chunk| -> Result<()> {
        let region = grid.block_region(chunk)?;
        let t0 = region.start()[0];
        let mut bytes = Vec::with_capacity(region.num_elements() as usize * 4);
        for t in t0..region.stop()[0] {
            for y in 0..180u64 {
                for x in 0..360u64 {
                    bytes.extend_from_slice(&temperature(t, y, x).to_ne_bytes());
                }
            }
        }
        store.write_chunk_bytes(chunk, &bytes)?;
        Ok(())
    })?;
    Ok(store)
}

/// The sample field at hour `t`, latitude row `y`, longitude column `x`.
pub fn temperature(t: u64, y: u64, x: u64) -> f32 {
    let h = t as f32;
    288.0 - (y as f32 - 90.0).abs() * 0.4
        + (h * 0.2618 + x as f32 * 0.0175).sin() * 5.0
        + (t * 7919 + y * 104_729 + x * 1_299_709) as f32 % 97.0 * 0.01
}

/// The command line of an example program: `SRC OUT [--flag value ...]`.
#[derive(Debug, Clone)]
pub struct ExampleArgs {
    args: Vec<String>,
}

impl ExampleArgs {
    /// The process's arguments, program name left out.
    pub fn from_env() -> Self {
        Self {
            args: std::env::args().skip(1).collect(),
        }
    }

    /// The value after `--name`, if given.
    pub fn flag(&self, name: &str) -> Option<String> {
        self.args
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.args.get(i + 1))
            .cloned()
    }

    /// SRC and OUT as given; without them, 60 days of sample data
    /// ([`write_climate`], Zarr v3) written to `dir/climate.zarr` (said on
    /// stdout) and `dir/<out_name>` as the output.
    pub fn paths_or_sample(&self, dir: &Path, out_name: &str) -> Result<(PathBuf, PathBuf)> {
        if let (Some(src), Some(out)) = (self.args.first(), self.args.get(1)) {
            if !src.starts_with("--") {
                return Ok((PathBuf::from(src), PathBuf::from(out)));
            }
        }
        let src = dir.join("climate.zarr");
        println!(
            "no SRC given: writing 60 days of sample data to {}",
            src.display()
        );
        write_climate(&src, 24 * 60, ZarrFormat::V3)?;
        Ok((src, dir.join(out_name)))
    }
}
