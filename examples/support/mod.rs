//! What the examples share: their command line, and the sample data of
//! `chunkctl demo` (one file, included here).

use std::path::{Path, PathBuf};

use ndchunk::io::zarr::ZarrFormat;

#[path = "../../src/bin/chunkctl/sample.rs"]
mod sample;

#[allow(unused_imports)]
pub use sample::write_climate_dataset;
use sample::{write_climate, Field};

/// The sample microscopy-like volume ([`sample::volume`]) of `shape` in
/// `chunks`, written to a Zarr v3 array at `path` (dims z, y, x;
/// blosc-zstd).
#[allow(dead_code)]
pub fn write_volume(path: &Path, shape: [u64; 3], chunks: [u64; 3]) -> ndchunk::Result<()> {
    use ndchunk::io::zarr::{ZarrArraySpec, ZarrCodec};
    use ndchunk::io::{ArrayMeta, DType, Scalar, ZarrStore};
    let volume = sample::volume(shape, chunks)?;
    let mut meta = ArrayMeta::new(volume.grid().clone(), DType::UInt16, Scalar::UInt(0));
    meta.dimension_names = Some(vec![Some("z".into()), Some("y".into()), Some("x".into())]);
    let codec = ZarrCodec::Blosc {
        cname: "zstd".into(),
        clevel: 3,
        shuffle: "bitshuffle".into(),
    };
    let store = ZarrStore::create(path, "/", &ZarrArraySpec::new(meta, ZarrFormat::V3, codec))?;
    volume.store(&store)?;
    Ok(())
}

/// The command line of an example program: `SRC OUT [--flag value ...]`.
#[derive(Debug, Clone)]
pub struct ExampleArgs {
    args: Vec<String>,
}

impl ExampleArgs {
    /// The process's arguments, program name left out.
    #[allow(dead_code)]
    pub fn from_env() -> Self {
        Self {
            args: std::env::args().skip(1).collect(),
        }
    }

    /// The value after `--name`, if given.
    #[allow(dead_code)]
    pub fn flag(&self, name: &str) -> Option<String> {
        self.args
            .iter()
            .position(|a| a == name)
            .and_then(|i| self.args.get(i + 1))
            .cloned()
    }

    /// SRC and OUT, when given.
    #[allow(dead_code)]
    pub fn paths(&self) -> Option<(PathBuf, PathBuf)> {
        match (self.args.first(), self.args.get(1)) {
            (Some(src), Some(out)) if !src.starts_with("--") => {
                Some((PathBuf::from(src), PathBuf::from(out)))
            }
            _ => None,
        }
    }

    /// SRC and OUT as given; without them, 60 days of sample data
    /// ([`write_climate`], Zarr v3) written to `dir/climate.zarr` (said on
    /// stdout) and `dir/<out_name>` as the output.
    #[allow(dead_code)]
    pub fn paths_or_sample(
        &self,
        dir: &Path,
        out_name: &str,
    ) -> ndchunk::Result<(PathBuf, PathBuf)> {
        if let Some(paths) = self.paths() {
            return Ok(paths);
        }
        let src = dir.join("climate.zarr");
        println!(
            "no SRC given: writing 60 days of sample data to {}",
            src.display()
        );
        write_climate(&src, 24 * 60, ZarrFormat::V3, Field::Smooth)?;
        Ok((src, dir.join(out_name)))
    }
}

/// An example's exit: its error printed as a person reads it (Display, not
/// Debug) and a failing status.
#[allow(dead_code)]
pub fn exit_with(result: Result<(), Box<dyn std::error::Error>>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
