//! `chunkctl info` against stores and files that hide things: an array it
//! cannot open, a file of scalars only, HDF5 links, Zarr symlink loops and
//! stale consolidated metadata, a name that is a path. The real binary
//! prints what it can, says what it did not follow (once), and fails when
//! something cannot be shown, naming it and why.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use cli::{chunkctl, s};
use ndchunk::io::zarr::{create_group, write_consolidated, ZarrArraySpec, ZarrCodec, ZarrFormat};
use ndchunk::io::{ArrayMeta, ChunkGrid, DType, Scalar, ZarrStore};
use serde_json::Value;

fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A v2 group `g.zarr` in `dir` with a uint8 array per name, consolidated.
fn group(dir: &Path, names: &[&str]) -> PathBuf {
    let root = dir.join("g.zarr");
    create_group(&root, "", ZarrFormat::V2, &Default::default()).unwrap();
    for name in names {
        add_array(&root, name);
    }
    write_consolidated(&root, ZarrFormat::V2).unwrap();
    root
}

fn add_array(root: &Path, name: &str) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[4], &[2]).unwrap(),
        DType::UInt8,
        Scalar::UInt(0),
    );
    let spec = ZarrArraySpec::new(meta, ZarrFormat::V2, ZarrCodec::None);
    ZarrStore::create(root, name, &spec).unwrap();
}

/// An array whose metadata does not parse: the tree is printed (the good
/// array too), then the command fails naming the array and the reason;
/// `--json` the same.
#[test]
fn an_array_that_cannot_be_opened_fails_the_command_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let root = group(dir.path(), &["good", "broken"]);
    std::fs::write(root.join("broken/.zarray"), b"{ not json").unwrap();
    let out = chunkctl(&["info", s(&root)]);
    let (text, err) = texts(&out);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("  good  [zarr v2] uint8 (dim_0: 4)"),
        "{text}"
    );
    assert!(
        text.contains("  broken  [zarr v2] array that ndchunk cannot open: "),
        "{text}"
    );
    let reason = err
        .trim()
        .strip_prefix("chunkctl: error: 1 array cannot be opened: /broken (")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        !reason.is_empty() && text.contains(reason),
        "{reason}: {text}"
    );

    let out = chunkctl(&["info", s(&root), "--json"]);
    let (text, err) = texts(&out);
    assert!(!out.status.success() && err.contains("/broken ("), "{err}");
    let nodes: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert_eq!(nodes.len(), 3, "{text}");
    assert!(nodes[1]["error"].is_string() && nodes[2]["error"].is_null());
}

/// An HDF5 file holding only scalars, and a netCDF-3 one made by
/// netCDF4-python: each array is listed as a 0-d array, with a closing line
/// saying there is nothing to chunk and how to copy them.
#[test]
fn a_file_of_only_scalars_lists_them_as_0d_arrays() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (h5, nc) = (dir.path().join("s.h5"), dir.path().join("s.nc"));
    support::run_python(
        &python,
        "import sys, h5py, netCDF4, numpy as np\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['a'] = np.float64(1.5)\n\
         \x20   f['b'] = np.int32(7)\n\
         with netCDF4.Dataset(sys.argv[2], 'w', format='NETCDF3_CLASSIC') as f:\n\
         \x20   f.createVariable('a', 'f8')[...] = 1.5\n\
         \x20   f.createVariable('b', 'i4')[...] = 7\n",
        &[&h5, &nc],
    );
    for (file, format) in [(&h5, "hdf5"), (&nc, "netcdf3")] {
        let out = chunkctl(&["info", s(file)]);
        let (text, err) = texts(&out);
        assert!(out.status.success(), "{err}");
        assert!(
            text.contains(&format!("  a  [{format}] float64 0-d array (a scalar)"))
                && text.contains(&format!("  b  [{format}] int32 0-d array (a scalar)")),
            "{text}"
        );
        assert!(
            text.contains("every array is 0-d (a scalar): nothing to chunk"),
            "{text}"
        );
        let out = chunkctl(&["info", s(file), "--json"]);
        let nodes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
        let shapes: Vec<&Value> = nodes[1..].iter().map(|n| &n["shape"]).collect();
        assert_eq!(shapes, [&serde_json::json!([]), &serde_json::json!([])]);
    }
}

/// Soft and external links in h5py's default (old-style) file: shown as
/// links, not followed, in the tree and in `--json` (kind `link`).
#[test]
fn hdf5_links_are_shown_as_links() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (file, other) = (dir.path().join("links.h5"), dir.path().join("other.h5"));
    support::run_python(
        &python,
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[2], 'w') as f:\n\
         \x20   f['b'] = np.arange(6.0)\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['a'] = np.arange(6.0)\n\
         \x20   f.create_group('g')['soft'] = h5py.SoftLink('/a')\n\
         \x20   f['g/ext'] = h5py.ExternalLink(sys.argv[2], '/b')\n",
        &[&file, &other],
    );
    let out = chunkctl(&["info", s(&file)]);
    let (text, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        text.contains("    soft  [hdf5] soft link to /a (not followed)"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "    ext  [hdf5] external link to {}:/b (not followed)",
            other.display()
        )),
        "{text}"
    );
    let out = chunkctl(&["info", s(&file), "--json"]);
    let nodes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let links: Vec<(&str, &str)> = nodes
        .iter()
        .filter(|n| n["kind"] == "link")
        .map(|n| (n["path"].as_str().unwrap(), n["link"].as_str().unwrap()))
        .collect();
    assert_eq!(links.len(), 2, "{nodes:?}");
    assert!(links.contains(&("/g/soft", "soft link to /a")), "{links:?}");
}

/// A Zarr group with a symlink loop and stale consolidated metadata:
/// listed once, each thing said once on stderr, and the command succeeds.
#[cfg(unix)]
#[test]
fn zarr_loops_and_stale_consolidated_metadata_are_warned_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = group(dir.path(), &["a"]);
    std::os::unix::fs::symlink(".", root.join("loop")).unwrap();
    add_array(&root, "late");
    let out = chunkctl(&["info", s(&root)]);
    let (text, err) = texts(&out);
    assert!(out.status.success(), "{err}");
    assert!(text.contains("  late  [zarr v2] uint8"), "{text}");
    assert!(!text.contains("loop"), "{text}");
    let warnings: Vec<&str> = err.lines().collect();
    assert_eq!(
        warnings,
        [
            "chunkctl: warning: /loop: a symlink back to a directory already listed (a loop); \
             not followed (it leads to /)",
            "chunkctl: warning: /late: not in the consolidated metadata (stale: added after \
             it was written?); included, as the store holds it",
        ],
        "{err}"
    );
}

/// A netCDF-3 variable named `../evil` (bytes written here): refused,
/// naming it and the file.
#[test]
fn a_name_that_is_a_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.nc");
    let mut bytes = b"CDF\x01\0\0\0\0\0\0\0\x0A\0\0\0\x01\0\0\0\x01x\0\0\0\0\0\0\x04".to_vec();
    bytes.extend_from_slice(&[0; 8]); // no global attributes
    bytes.extend_from_slice(b"\0\0\0\x0B\0\0\0\x01\0\0\0\x07../evil\0");
    bytes.extend_from_slice(b"\0\0\0\x01\0\0\0\0"); // dimension x
    bytes.extend_from_slice(&[0; 8]); // no attributes
    bytes.extend_from_slice(b"\0\0\0\x06\0\0\0\x20"); // double, 32 bytes
    let begin = bytes.len() as u32 + 4;
    bytes.extend_from_slice(&begin.to_be_bytes());
    bytes.extend_from_slice(&[0; 32]);
    std::fs::write(&file, bytes).unwrap();
    let out = chunkctl(&["info", s(&file)]);
    let (_, err) = texts(&out);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!(
            "{}: unsafe name \"../evil\" refused",
            file.display()
        )),
        "{err}"
    );
}
