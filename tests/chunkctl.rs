//! `chunkctl` as a user runs it: the real binary, its exit codes and output.

#[path = "support/cli.rs"]
mod cli;

use std::process::Output;

use cli::chunkctl;
use serde_json::Value;

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn version_and_help() {
    let out = chunkctl(&["--version"]);
    assert!(out.status.success());
    assert_eq!(
        stdout(&out).trim(),
        format!("chunkctl {}", env!("CARGO_PKG_VERSION"))
    );
    let out = chunkctl(&["--help"]);
    assert!(out.status.success());
    assert!(stdout(&out).contains("plan"), "{}", stdout(&out));
    let out = chunkctl(&["plan", "--help"]);
    assert!(stdout(&out).contains("--max-mem"));
}

#[test]
fn plan_on_the_built_in_example_goes_through_one_intermediate() {
    let out = chunkctl(&["plan", "--workers", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("chunks (24, 721, 1440) -> (8760, 10, 10)"),
        "{text}"
    );
    assert!(
        text.contains("strategy: through 1 intermediate store"),
        "{text}"
    );
    assert!(text.contains("rejected: direct"), "{text}");
}

#[test]
fn plan_json_is_the_plan() {
    let out = chunkctl(&[
        "plan",
        "--shape",
        "100,200",
        "--dims",
        "y,x",
        "--dtype",
        "<f8",
        "--source-chunks",
        "1,200",
        "--chunks",
        "y=-1,x=auto",
        "--chunk-bytes",
        "16KiB",
        "--max-mem",
        "1MiB",
        "--workers",
        "1",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let plan: Value = serde_json::from_str(&stdout(&out)).expect("valid JSON");
    assert_eq!(plan["itemsize"], 8);
    assert_eq!(plan["max_mem"], 1 << 20);
    assert!(plan["peak_bytes"].as_u64().unwrap() <= 1 << 20);
    // y whole (100), x auto: 16 KiB / 8 B / 100 rows = 20 columns.
    let target = &plan["target"]["axes"];
    assert_eq!(target[0]["regular"]["len"], 100);
    assert_eq!(target[0]["regular"]["chunk"], 100);
    assert_eq!(target[1]["regular"]["chunk"], 20);
}

#[test]
fn bad_input_gets_a_clear_error_and_a_failing_exit() {
    let cases: [(&[&str], &str); 6] = [
        (
            &["plan", "--chunks", "depth=3"],
            "unknown dimension `depth`",
        ),
        (&["plan", "--chunks", "10,10"], "3"),
        (&["plan", "--dtype", "<U10"], "unsupported dtype `<U10`"),
        (&["plan", "--max-mem", "10MB"], "too small"),
        (&["plan", "--max-mem", "lots"], "invalid byte size `lots`"),
        (
            &["plan", "--dims", "t,y"],
            "--dims names 2 dimensions but --shape has 3",
        ),
    ];
    for (args, expected) in cases {
        let out = chunkctl(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let err = stderr(&out);
        assert!(err.contains("chunkctl: error:"), "{args:?}: {err}");
        assert!(
            err.contains(expected),
            "{args:?}: expected `{expected}` in {err}"
        );
    }
}

mod support;

fn fixtures() -> Option<std::path::PathBuf> {
    support::fixture("zarr")
}

#[test]
fn info_shows_the_tree_of_a_zarr_store() {
    let Some(zarr) = fixtures() else { return };
    let out = chunkctl(&[
        "info",
        zarr.join("zarrs-tests/hierarchy.zarr").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("baz  [zarr v3] float64 (rows: 10000, columns: 1000)"),
        "{text}"
    );
    assert!(
        text.contains("chunks [1000, 100], codecs bytes(endian=little) | gzip(level=1), fill NaN"),
        "{text}"
    );
    assert!(
        text.contains("b/  [zarr v3] group  attrs: test_key=\"test_value\""),
        "{text}"
    );

    let out = chunkctl(&[
        "info",
        zarr.join("zarrs-tests/sharded_array_write_read.zarr")
            .to_str()
            .unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let nodes: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let array = nodes
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["kind"] == "array")
        .unwrap();
    assert_eq!(array["path"], "/group/array");
    assert_eq!(array["dtype"], "uint16");
    assert_eq!(array["chunk_shape"], serde_json::json!([4, 8]));
    assert_eq!(
        array["array"]["inner_chunk_shape"],
        serde_json::json!([4, 4])
    );
    assert_eq!(array["chunks_total"], 2);
    assert_eq!(array["chunks_written"], 2);
    assert_eq!(array["logical_bytes"], 128);
}

#[test]
fn info_reports_arrays_it_cannot_open_and_refuses_non_stores() {
    let Some(zarr) = fixtures() else { return };
    let out = chunkctl(&[
        "info",
        zarr.join("zarrs-tests/v3/cities.zarr").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("cannot open: unsupported dtype `string`"),
        "{}",
        stdout(&out)
    );
    let out = chunkctl(&["info", "/definitely/not/here"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no such file or directory"),
        "{}",
        stderr(&out)
    );
    let dir = tempfile::tempdir().unwrap();
    let out = chunkctl(&["info", dir.path().to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no zarr.json, .zarray or .zgroup"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn info_shows_the_groups_of_an_hdf5_file() {
    use ndchunk::io::hdf5::{create_group, Backend};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("groups.nc");
    let attrs = |v: Value| v.as_object().cloned().unwrap_or_default();
    let title = attrs(serde_json::json!({"title": "demo"}));
    create_group(&path, "", &title, Backend::Pure).unwrap();
    let member = attrs(serde_json::json!({"member": 3}));
    create_group(&path, "model/run1", &member, Backend::Pure).unwrap();

    let out = chunkctl(&["info", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let root = format!("{}/  [hdf5] group  attrs: title=\"demo\"\n", path.display());
    let below = "  model/  [hdf5] group\n    run1/  [hdf5] group  attrs: member=3\n";
    assert_eq!(text, root + below);

    let out = chunkctl(&["info", path.to_str().unwrap(), "--json"]);
    let nodes: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(nodes[0]["path"], "/");
    assert_eq!(nodes[0]["kind"], "group");
    assert_eq!(nodes[0]["attributes"]["title"], "demo");
}
