//! Sample data for `chunkctl demo`, the examples and the benchmarks (which
//! include this file): a climate-like field written as a real Zarr store,
//! so the first thing a user runs exercises the real path. Not library
//! API: it is built from the public API only.

use std::path::Path;

use rayon::prelude::*;

use ndchunk::chunking::ChunkGrid;
use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkStore, DType, Scalar, ZarrStore};
use ndchunk::{
    map_blocks, Array, BlockSpec, Calendar, CfDatetime, ComputeOptions, Coord, DataArray, Dataset,
    Result, TimeUnits, Values, ZarrWriteOptions,
};

/// What the sample field looks like to a codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(dead_code)] // each includer uses its own part
pub enum Field {
    /// Smooth in space and time, as reanalysis temperature is: compresses
    /// about 2:1 with blosc-zstd-3-shuffle, like the real thing.
    Smooth,
    /// The smooth field plus position-hashed noise of up to 1 K: compresses
    /// much worse, and is about twice as slow to copy.
    Noisy,
}

/// Writes `hours` of hourly near-surface temperature on a 1-degree grid,
/// `(time, lat, lon) = (hours, 180, 360)` float32 in kelvin, one day per chunk
/// `(24, 180, 360)`, blosc-zstd level 3 with shuffle, with dimension names
/// and CF-style attributes. The values are a latitude gradient, a daily
/// cycle and travelling waves ([`Field`] says whether noise is added).
#[allow(dead_code)]
pub fn write_climate(
    path: &Path,
    hours: u64,
    format: ZarrFormat,
    field: Field,
) -> Result<ZarrStore> {
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
                    bytes.extend_from_slice(&temperature(field, t, y, x).to_ne_bytes());
                }
            }
        }
        store.write_chunk_bytes(chunk, &bytes)?;
        Ok(())
    })?;
    Ok(store)
}

/// The sample field at hour `t`, latitude row `y`, longitude column `x`.
#[allow(dead_code)]
pub fn temperature(field: Field, t: u64, y: u64, x: u64) -> f32 {
    let (h, lat, lon) = (t as f32, y as f32, x as f32);
    let smooth = 288.0 - (lat - 90.0).abs() * 0.4
        + (h * 0.2618 + lon * 0.0175).sin() * 5.0
        + (lon * 0.052 + lat * 0.07 - h * 0.011).sin() * 3.0
        + (lat * 0.1 - h * 0.0029).cos() * 2.0;
    match field {
        Field::Smooth => smooth,
        Field::Noisy => smooth + (t * 7919 + y * 104_729 + x * 1_299_709) as f32 % 97.0 * 0.01,
    }
}

/// `hours` of the smooth field ([`temperature`]) as an xarray dataset:
/// `t2m(time, lat, lon)` float32 on a 1-degree grid in daily chunks
/// (blosc-zstd, Zarr v3), with CF time (hours since 2001-01-01), lat and
/// lon; computed block by block and written by the engine.
#[allow(dead_code)]
pub fn write_climate_dataset(path: &Path, hours: u64) -> Result<()> {
    let shape = [hours, 180, 360];
    let zeros = Array::<f32>::zeros(&shape, [24, 180, 360])?;
    let field = map_blocks("sample", &[&zeros], &BlockSpec::new(), |_, info| {
        let (start, stop) = (info.region.start(), info.region.stop());
        ndarray::Array::from_shape_fn(
            (
                (stop[0] - start[0]) as usize,
                (stop[1] - start[1]) as usize,
                (stop[2] - start[2]) as usize,
            ),
            |(t, y, x)| {
                temperature(
                    Field::Smooth,
                    start[0] + t as u64,
                    start[1] + y as u64,
                    start[2] + x as u64,
                )
            },
        )
        .into_dyn()
    });
    let units: TimeUnits = "hours since 2001-01-01".parse()?;
    let times = (0..hours)
        .map(|h| units.decode(h as f64, Calendar::Standard))
        .collect::<ndchunk::Result<Vec<CfDatetime>>>()?;
    let axis = |n: usize, first: f64| {
        Values::float(ndarray::Array1::from_shape_fn(n, |i| first + i as f64).into_dyn())
    };
    let mut attrs = ndchunk::Attrs::new();
    attrs.insert("units".into(), "K".into());
    let t2m = DataArray::new(field, &["time", "lat", "lon"])?
        .with_attrs(attrs)
        .with_coord(
            "time",
            Coord::new(&["time"], Values::Time(ndarray::arr1(&times).into_dyn()))?,
        )?
        .with_coord("lat", Coord::new(&["lat"], axis(180, -89.5))?)?
        .with_coord("lon", Coord::new(&["lon"], axis(360, 0.5))?)?;
    let codec = ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "shuffle".into(),
    };
    let write = ZarrWriteOptions::new()
        .format(ZarrFormat::V3)
        .codec(codec)
        .compute(ComputeOptions::new().progress(true));
    Dataset::new()
        .with_var("t2m", t2m)?
        .to_zarr_with(path, &write)?;
    Ok(())
}

/// A microscopy-like uint16 volume of `shape`, chunked `chunks`, made
/// block by block when computed: a background rising along z and x, one
/// bright blob (a cell, a nucleus) of random size and place in each
/// 32-voxel cube, and a little position-hashed noise, as light-sheet or
/// EM data looks to a codec and to a filter.
#[allow(dead_code)]
pub fn volume(shape: [u64; 3], chunks: [u64; 3]) -> Result<Array<u16>> {
    let zeros = Array::<u16>::zeros(&shape, chunks)?;
    Ok(map_blocks(
        "sample volume",
        &[&zeros],
        &BlockSpec::new(),
        move |_, info| {
            let (start, stop) = (info.region.start(), info.region.stop());
            let dims = (
                (stop[0] - start[0]) as usize,
                (stop[1] - start[1]) as usize,
                (stop[2] - start[2]) as usize,
            );
            ndarray::Array::from_shape_fn(dims, |(z, y, x)| {
                voxel(
                    [
                        start[0] + z as u64,
                        start[1] + y as u64,
                        start[2] + x as u64,
                    ],
                    shape,
                )
            })
            .into_dyn()
        },
    ))
}

/// The sample volume's value at `at`.
fn voxel(at: [u64; 3], shape: [u64; 3]) -> u16 {
    const CELL: u64 = 32;
    let hash = |a: u64, b: u64, c: u64| {
        let mut h = a.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ b.wrapping_mul(0xC2B2_AE3D_27D4_EB4F)
            ^ c.wrapping_mul(0x1656_67B1_9E37_79F9);
        h ^= h >> 31;
        h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
        h ^ (h >> 29)
    };
    let background =
        100.0 + 150.0 * at[0] as f64 / shape[0] as f64 + 200.0 * at[2] as f64 / shape[2] as f64;
    let cell = [at[0] / CELL, at[1] / CELL, at[2] / CELL];
    let h = hash(cell[0], cell[1], cell[2]);
    let radius = 4.0 + (h % 9) as f64;
    let mut d2 = 0.0;
    for (k, &c) in cell.iter().enumerate() {
        let jitter = ((h >> (8 + 8 * k)) % 13) as f64 - 6.0;
        let centre = (c * CELL) as f64 + CELL as f64 / 2.0 + jitter;
        d2 += (at[k] as f64 - centre).powi(2);
    }
    let blob = match d2 < radius * radius {
        true => (3000 + (h >> 40) % 20_000) as f64 * (1.0 - d2 / (radius * radius)),
        false => 0.0,
    };
    let noise = (hash(at[0], at[1], at[2]) % 64) as f64;
    (background + blob + noise) as u16
}
