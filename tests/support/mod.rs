//! Shared by the integration tests: the shared fixtures and a Python with
//! the peer libraries. Each is skipped loudly when absent on a user's
//! machine, and required when CI says so (`NDCHUNK_REQUIRE_FIXTURES=1`,
//! `NDCHUNK_REQUIRE_PYTHON=1`), so CI never passes by skipping.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The Python packages the peers venv holds, pinned. The venv is stamped
/// with this list: a change rebuilds it on its next use.
pub const PEER_REQUIREMENTS: &[&str] = &[
    "numpy==2.4.6",
    "dask==2026.8.0",
    "zarr==3.1.6",
    "numcodecs==0.16.6",
    "xarray==2026.9.0",
    "pandas==3.1.1",
    "h5py==3.16.0",
    "netCDF4==1.7.5.1.post1",
    "scipy==1.17.1",
    "scikit-image==0.26.0",
    "ome-zarr==0.18.0",
    "hyperqueue==0.27.0",
    "moto[server]==5.2.5",
    "s3fs==2026.9.0",
];

/// Says loudly that a test did not run. Written straight to stderr:
/// libtest captures `eprintln!` of passing tests.
pub fn skip(why: &str) {
    let _ = writeln!(std::io::stderr(), "\n*** SKIPPED: {why} ***\n");
}

fn required(var: &str) -> bool {
    std::env::var(var).as_deref() == Ok("1")
}

/// `shared/fixtures` beside the checkout, or `$NDCHUNK_FIXTURES`. Test
/// crates sit at the workspace root or one level below it.
pub fn fixtures_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("NDCHUNK_FIXTURES") {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let candidates = [
        manifest.join("../shared/fixtures"),
        manifest.join("../../shared/fixtures"),
    ];
    candidates
        .iter()
        .find(|p| p.is_dir())
        .unwrap_or(&candidates[0])
        .clone()
}

/// A fixture file or directory, or `None` after a loud skip (a failure
/// under `NDCHUNK_REQUIRE_FIXTURES=1`).
pub fn fixture(relative: &str) -> Option<PathBuf> {
    let path = fixtures_dir().join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        !required("NDCHUNK_REQUIRE_FIXTURES"),
        "fixtures required but {} is missing",
        path.display()
    );
    skip(&format!("fixture {} not found", path.display()));
    None
}

/// Dask's chunking cases, or `None` after a loud skip.
pub fn dask_cases() -> Option<Vec<Value>> {
    let path = fixtures_dir().join("dask/chunking_cases.json");
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("chunking_cases.json is valid JSON")),
        Err(e) => {
            assert!(
                !required("NDCHUNK_REQUIRE_FIXTURES"),
                "fixtures required but {} is unreadable: {e}",
                path.display()
            );
            skip(&format!(
                "Dask fixture cases not found at {} ({e})",
                path.display()
            ));
            None
        }
    }
}

/// Runs `script` with the peer Python and `args`, failing the test with
/// Python's stderr if it fails; returns its stdout.
pub fn run_python<A: AsRef<std::ffi::OsStr>>(python: &Path, script: &str, args: &[A]) -> Vec<u8> {
    run_python_with_env(python, &[], script, args)
}

/// [`run_python`] with `env` added to the environment (a test server's
/// address and credentials, say).
pub fn run_python_with_env<A: AsRef<std::ffi::OsStr>>(
    python: &Path,
    env: &[(String, String)],
    script: &str,
    args: &[A],
) -> Vec<u8> {
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A Python interpreter with [`PEER_REQUIREMENTS`]: `$NDCHUNK_PYTHON` if set,
/// else a venv under the target directory, made on first use with the
/// system's `python3` and pip. `None` after a loud skip when that fails.
pub fn python_peer() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("NDCHUNK_PYTHON") {
        return Some(PathBuf::from(python));
    }
    let venv = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("py-peers");
    match ensure_venv(&venv) {
        Ok(python) => Some(python),
        Err(why) => {
            assert!(
                !required("NDCHUNK_REQUIRE_PYTHON"),
                "Python peers required but unavailable: {why}"
            );
            skip(&format!(
                "Python peers unavailable ({why}); set NDCHUNK_PYTHON or install python3"
            ));
            None
        }
    }
}

fn ensure_venv(venv: &Path) -> Result<PathBuf, String> {
    let python = venv.join("bin/python");
    let stamp = venv.join("requirements.txt");
    let wanted = PEER_REQUIREMENTS.join("\n");
    let ready = || std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str());
    if ready() {
        return Ok(python);
    }
    // One builder at a time across test binaries: the others wait for it.
    let _lock = BuildLock::acquire(&venv.with_extension("lock"))?;
    if ready() {
        return Ok(python);
    }
    let run = |cmd: &mut Command| -> Result<(), String> {
        let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{cmd:?} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    };
    let _ = std::fs::remove_dir_all(venv);
    run(Command::new("python3").arg("-m").arg("venv").arg(venv))?;
    run(Command::new(&python)
        .args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
        ])
        .args(PEER_REQUIREMENTS))?;
    std::fs::write(&stamp, &wanted).map_err(|e| e.to_string())?;
    Ok(python)
}

/// A lock file held while the venv is built; a lock older than 15 minutes
/// is taken to be left by a killed run.
struct BuildLock(PathBuf);

impl BuildLock {
    fn acquire(path: &Path) -> Result<Self, String> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
            {
                Ok(_) => return Ok(BuildLock(path.to_path_buf())),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let stale = std::fs::metadata(path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.elapsed().ok())
                        .is_some_and(|age| age.as_secs() > 900);
                    if stale {
                        let _ = std::fs::remove_file(path);
                    } else if start.elapsed().as_secs() > 1200 {
                        return Err(format!("waited 20 minutes for {}", path.display()));
                    } else {
                        std::thread::sleep(std::time::Duration::from_millis(500));
                    }
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// The little-endian `f64`s of a file a Python peer wrote
/// (`np.asarray(x, dtype="<f8").tofile(path)`).
pub fn read_f64(path: &Path) -> Vec<f64> {
    std::fs::read(path)
        .unwrap()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect()
}
