//! Zero-length dimensions end to end, as Zarr, Dask and xarray allow them:
//! a store written by zarr-python is opened, rechunked by `chunkctl` and
//! read back by zarr-python; reductions over an empty axis give numpy's
//! answers (the identity, NaN for a mean, an error for min/max).

#[path = "support/cli.rs"]
mod cli;
mod support;

use cli::{chunkctl, s};
use ndchunk::Array;

#[test]
fn a_zero_length_array_is_rechunked_and_read_back_by_zarr_python() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("empty.zarr");
    support::run_python(
        &python,
        "import sys, zarr\n\
         zarr.create_array(sys.argv[1], shape=(0, 10), chunks=(5, 5), dtype='f4',\n\
         \x20                  dimension_names=['time', 'x'])\n",
        &[&src],
    );
    let info = chunkctl(&["info", s(&src)]);
    assert!(
        info.status.success(),
        "{}",
        String::from_utf8_lossy(&info.stderr)
    );
    let dst = dir.path().join("out.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "time=-1,x=10",
        "--quiet",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shape = support::run_python(
        &python,
        "import sys, zarr\n\
         a = zarr.open_array(sys.argv[1])\n\
         print(a.shape, a[:].shape, list(a.metadata.dimension_names))\n",
        &[&dst],
    );
    assert_eq!(
        String::from_utf8_lossy(&shape).trim(),
        "(0, 10) (0, 10) ['time', 'x']"
    );
}

#[test]
fn reductions_over_an_empty_axis_give_numpys_answers() {
    let a = Array::<f64>::zeros(&[0, 4], [1, 2]).unwrap();
    let sum = a.sum([0], false).compute().unwrap();
    assert_eq!(sum.shape(), &[4]);
    assert!(sum.iter().all(|&v| v == 0.0));
    let prod = a.prod([0], false).compute().unwrap();
    assert!(prod.iter().all(|&v| v == 1.0));
    let mean = a.mean([0], false).compute().unwrap();
    assert!(mean.iter().all(|v| v.is_nan()));
    let err = a.max([0], false).compute().unwrap_err().to_string();
    assert!(err.contains("zero-size"), "{err}");
    // Along the other axis the result is itself empty.
    assert_eq!(a.sum([1], false).compute().unwrap().shape(), &[0]);
}
