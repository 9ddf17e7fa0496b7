//! scipy as the filters' test oracle: a Python with numpy and scipy runs
//! `scipy.ndimage` expressions on an array sent as JSON and sends the
//! results back. Values cross as their IEEE bit patterns (integers), so
//! nothing is lost to decimal printing or parsing.
//!
//! The interpreter is `$NDCHUNK_PYTHON`, else the peers venv the
//! integration tests build (`target/tmp/py-peers`, which needs `scipy`
//! installed besides its pinned packages). Without one that imports scipy
//! the tests are skipped loudly, and fail under `NDCHUNK_REQUIRE_PYTHON=1`.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use ndarray::{ArrayD, IxDyn};
use serde_json::{json, Value};

use super::super::FilterFloat;

/// An element type sent to Python by its bits.
pub(super) trait PeerFloat: FilterFloat + std::fmt::Debug {
    /// numpy's name of the type.
    const DTYPE: &'static str;
    /// The bit pattern, widened to `u64`.
    fn bits(self) -> u64;
    /// The value of a bit pattern.
    fn from_bits(bits: u64) -> Self;
    /// The bit pattern as an integer increasing with the value, so the
    /// distance in units in the last place is a difference.
    fn ordered(self) -> i128;
}

impl PeerFloat for f32 {
    const DTYPE: &'static str = "float32";
    fn bits(self) -> u64 {
        u64::from(self.to_bits())
    }
    fn from_bits(bits: u64) -> Self {
        f32::from_bits(u32::try_from(bits).expect("a 32-bit pattern"))
    }
    fn ordered(self) -> i128 {
        let b = self.to_bits() as i32;
        i128::from(if b < 0 { i32::MIN - b } else { b })
    }
}

impl PeerFloat for f64 {
    const DTYPE: &'static str = "float64";
    fn bits(self) -> u64 {
        self.to_bits()
    }
    fn from_bits(bits: u64) -> Self {
        f64::from_bits(bits)
    }
    fn ordered(self) -> i128 {
        let b = self.to_bits() as i64;
        i128::from(if b < 0 { i64::MIN - b } else { b })
    }
}

/// Reads the request on stdin, evaluates each expression with `x`, `np`,
/// `ndi` (`scipy.ndimage`) and `libm_exp` in scope, writes the results.
/// `libm_exp(f)` runs `f` with `scipy.ndimage`'s Gaussian kernels computed
/// with the C library's `exp` (Python's `math.exp`, as Rust's `f64::exp`)
/// instead of numpy's, which on CPUs with AVX-512 is not always correctly
/// rounded.
const SCRIPT: &str = r#"
import json, math, sys
import numpy as np
from scipy import ndimage as ndi
import scipy.ndimage._filters as filters

class LibmNumpy:
    def __getattr__(self, name):
        return getattr(np, name)
    @staticmethod
    def exp(a):
        return np.vectorize(math.exp, otypes=[np.float64])(a)

def libm_exp(f):
    saved, filters.np = filters.np, LibmNumpy()
    try:
        return f()
    finally:
        filters.np = saved

req = json.load(sys.stdin)
dt = np.dtype(req["dtype"])
ut = np.uint32 if dt == np.float32 else np.uint64
x = np.array(req["bits"], dtype=ut).view(dt).reshape(req["shape"])
out = []
for e in req["exprs"]:
    y = np.ascontiguousarray(eval(e, {"np": np, "ndi": ndi, "libm_exp": libm_exp, "x": x.copy()}))
    if y.dtype != dt:
        raise SystemExit(f"{e} gave {y.dtype}, not {dt}")
    out.append({"shape": list(y.shape), "bits": y.reshape(-1).view(ut).tolist()})
json.dump(out, sys.stdout)
"#;

/// The interpreter, if one imports scipy; the reason otherwise.
fn interpreter() -> &'static Result<PathBuf, String> {
    static PYTHON: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let python = std::env::var_os("NDCHUNK_PYTHON")
            .map(PathBuf::from)
            .unwrap_or_else(|| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/tmp/py-peers/bin/python")
            });
        if !python.exists() {
            return Err(format!("no Python at {}", python.display()));
        }
        let out = Command::new(&python)
            .args(["-c", "import numpy, scipy.ndimage"])
            .output()
            .map_err(|e| format!("cannot run {}: {e}", python.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} cannot import scipy ({}); pip install scipy into it",
                python.display(),
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no message")
            ));
        }
        Ok(python)
    })
}

/// The results of `exprs` (scipy expressions of `x`) on `x`, or `None`
/// after a loud skip (said once per test binary) when no Python with scipy is found (a failure under
/// `NDCHUNK_REQUIRE_PYTHON=1`). Fails the test if Python fails.
pub(super) fn scipy<T: PeerFloat>(x: &ArrayD<T>, exprs: &[String]) -> Option<Vec<ArrayD<T>>> {
    let python = match interpreter() {
        Ok(python) => python,
        Err(why) => {
            assert!(
                std::env::var("NDCHUNK_REQUIRE_PYTHON").as_deref() != Ok("1"),
                "Python with scipy required but unavailable: {why}"
            );
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "\n*** SKIPPED: the filters' scipy comparisons ({why}); set NDCHUNK_PYTHON ***\n"
                );
            });
            return None;
        }
    };
    let request = json!({
        "dtype": T::DTYPE,
        "shape": x.shape(),
        "bits": x.iter().map(|v| v.bits()).collect::<Vec<_>>(),
        "exprs": exprs,
    });
    let mut child = Command::new(python)
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let mut stdin = child.stdin.take().expect("piped stdin");
    let body = request.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(body.as_bytes()));
    let out = child.wait_with_output().expect("python runs");
    writer
        .join()
        .expect("writer thread")
        .expect("request written");
    assert!(
        out.status.success(),
        "python failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&out.stdout).expect("JSON results");
    Some(
        results
            .iter()
            .map(|r| {
                let shape: Vec<usize> = r["shape"]
                    .as_array()
                    .expect("shape")
                    .iter()
                    .map(|d| d.as_u64().expect("extent") as usize)
                    .collect();
                let values: Vec<T> = r["bits"]
                    .as_array()
                    .expect("bits")
                    .iter()
                    .map(|b| T::from_bits(b.as_u64().expect("bit pattern")))
                    .collect();
                ArrayD::from_shape_vec(IxDyn(&shape), values).expect("shape matches")
            })
            .collect(),
    )
}
