//! `chunkctl rechunk` against inputs built to do damage: names that are
//! paths, destinations that reach into the source by another spelling,
//! concurrent runs, kills at every step of the cleanup, a full disk, a
//! damaged journal. Each test runs the real binary and checks two things:
//! the exact refusal (or the right result), and that a canary beside DST
//! and every byte of SRC are untouched.

#[path = "support/cli.rs"]
mod cli;
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use cli::{
    assert_same_values, chunkctl, journaled_tasks, kill_once_journaled, make_source, s, slow_job,
};
use ndchunk::io::zarr::ZarrFormat;
use ndchunk::io::DType;

/// Every file under `path` (or `path` itself) with its bytes.
fn snapshot(path: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![path.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).unwrap();
        if meta.is_dir() {
            for entry in std::fs::read_dir(&p).unwrap() {
                stack.push(entry.unwrap().path());
            }
        } else if meta.is_file() {
            files.insert(p.clone(), std::fs::read(&p).unwrap());
        }
    }
    files
}

/// A canary file in `dir`, checked by [`Guard::check`].
struct Guard {
    canary: PathBuf,
    src: PathBuf,
    before: BTreeMap<PathBuf, Vec<u8>>,
}

impl Guard {
    fn new(dir: &Path, src: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let canary = dir.join("canary.txt");
        std::fs::write(&canary, b"still here").unwrap();
        Self {
            canary,
            src: src.to_path_buf(),
            before: snapshot(src),
        }
    }

    /// The canary and every byte of SRC are as they were.
    fn check(&self) {
        assert_eq!(
            std::fs::read(&self.canary).ok().as_deref(),
            Some(&b"still here"[..]),
            "the canary beside DST was touched"
        );
        assert!(snapshot(&self.src) == self.before, "SRC changed");
    }
}

/// Runs `chunkctl args`, expects a failure whose stderr holds `expected`.
fn refused(args: &[&str], expected: &str) {
    let out = chunkctl(args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} succeeded");
    assert!(
        err.contains(expected),
        "{args:?}: expected `{expected}` in {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn succeeded(args: &[&str]) -> String {
    let out = chunkctl(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A mount made by a test, unmounted when dropped (even by a failing
/// assertion).
struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS… TARGET`; `None` where mounting is not allowed.
    fn new(args: &[&str], target: &Path) -> Option<Self> {
        let ok = Command::new("mount")
            .args(args)
            .arg(target)
            .output()
            .is_ok_and(|o| o.status.success());
        ok.then(|| Self(target.to_path_buf()))
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn small_source(dir: &Path) -> PathBuf {
    make_source(dir, DType::Int32, &[20, 6], &[5, 6], ZarrFormat::V3, "none")
}

/// An HDF5 file holding a dataset named `..` (h5py allows it): its name
/// would make DST's parent a member's destination. Refused before anything
/// is written; SRC, which lies in DST's parent, is untouched.
#[test]
fn hdf5_dataset_named_dotdot_is_refused() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("out");
    std::fs::create_dir_all(&out_dir).unwrap();
    let file = out_dir.join("file.h5");
    support::run_python(
        &python,
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['t'] = np.arange(12.0).reshape(3, 4)\n\
         \x20   f['..'] = np.arange(12.0).reshape(3, 4)\n",
        &[&file],
    );
    let guard = Guard::new(&out_dir, &file);
    let dst = out_dir.join("x.zarr");
    for extra in [&[][..], &["--overwrite"][..]] {
        let mut args = vec![
            "rechunk",
            s(&file),
            s(&dst),
            "--chunks",
            "dim_0=1",
            "--quiet",
        ];
        args.extend_from_slice(extra);
        refused(&args, "unsafe name \"..\" refused");
        guard.check();
        assert!(!dst.exists(), "nothing is created for a refused job");
    }
}

/// A netCDF-3 file (bytes written here) with one variable named
/// `../evil`: refused, and no `evil` folder appears beside DST.
#[test]
fn netcdf3_variable_named_dotdot_evil_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("evil.nc");
    std::fs::write(&file, netcdf3_with_variable("../evil")).unwrap();
    let out_dir = dir.path().join("out");
    let guard = Guard::new(&out_dir, &file);
    let dst = out_dir.join("x.zarr");
    refused(
        &["rechunk", s(&file), s(&dst), "--chunks", "x=2", "--quiet"],
        "unsafe name \"../evil\" refused",
    );
    guard.check();
    assert!(!dst.exists() && !out_dir.join("evil").exists());
}

/// A classic netCDF-3 file: one dimension `x` of 4, one float64 variable
/// `name(x)` holding 0, 1, 2, 3.
fn netcdf3_with_variable(name: &str) -> Vec<u8> {
    fn put_name(out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
    }
    let mut header = b"CDF\x01".to_vec();
    header.extend_from_slice(&0u32.to_be_bytes()); // numrecs
    header.extend_from_slice(&[0, 0, 0, 0x0A, 0, 0, 0, 1]); // one dimension
    put_name(&mut header, "x");
    header.extend_from_slice(&4u32.to_be_bytes());
    header.extend_from_slice(&[0; 8]); // no global attributes
    header.extend_from_slice(&[0, 0, 0, 0x0B, 0, 0, 0, 1]); // one variable
    put_name(&mut header, name);
    header.extend_from_slice(&1u32.to_be_bytes()); // one dimension: x
    header.extend_from_slice(&0u32.to_be_bytes());
    header.extend_from_slice(&[0; 8]); // no attributes
    header.extend_from_slice(&6u32.to_be_bytes()); // NC_DOUBLE
    header.extend_from_slice(&32u32.to_be_bytes()); // vsize
    let begin = header.len() as u32 + 4;
    header.extend_from_slice(&begin.to_be_bytes());
    for v in 0..4 {
        header.extend_from_slice(&f64::from(v).to_be_bytes());
    }
    header
}

/// DST reached through a symlink to SRC, through `SRC/nothere/..`, as SRC
/// itself or as its parent: refused with or without --overwrite, and
/// nothing is created inside SRC.
#[cfg(unix)]
#[test]
fn destination_inside_source_by_any_spelling_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_source(dir.path());
    let guard = Guard::new(&dir.path().join("beside"), &src);
    std::os::unix::fs::symlink(&src, dir.path().join("link")).unwrap();
    let cases = [
        (dir.path().join("link/out.zarr"), "inside the source"),
        (src.join("nothere/../out.zarr"), "inside the source"),
        (dir.path().join("link"), "inside the source"),
        (dir.path().to_path_buf(), "holds the source"),
    ];
    for (dst, expected) in &cases {
        for extra in [&[][..], &["--overwrite"][..]] {
            let mut args = vec!["rechunk", s(&src), s(dst), "--chunks", "10,3", "--quiet"];
            args.extend_from_slice(extra);
            refused(&args, expected);
            guard.check();
        }
    }
    assert!(!src.join("nothere").exists());
}

/// SRC mounted a second time (a bind mount) and given as DST with
/// --overwrite: the same folder by another path, refused. Needs root to
/// mount; skipped loudly elsewhere.
#[cfg(unix)]
#[test]
fn source_bind_mounted_as_destination_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_source(dir.path());
    let alias = dir.path().join("alias.zarr");
    std::fs::create_dir_all(&alias).unwrap();
    let Some(_mount) = Mount::new(&["--bind", s(&src)], &alias) else {
        support::skip("bind-mount test needs to mount (root)");
        return;
    };
    let guard = Guard::new(&dir.path().join("beside"), &src);
    let out = chunkctl(&[
        "rechunk",
        s(&src),
        s(&alias),
        "--chunks",
        "10,3",
        "--overwrite",
        "--quiet",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inside the source"), "{err}");
    guard.check();
}

/// `--temp` inside SRC is refused: scratch left by a kill would sit in SRC.
#[test]
fn temp_inside_source_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_source(dir.path());
    let guard = Guard::new(&dir.path().join("beside"), &src);
    let dst = dir.path().join("beside/out.zarr");
    let temp = src.join("scratch");
    refused(
        &[
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "10,3",
            "--temp",
            s(&temp),
            "--quiet",
        ],
        "--temp lies inside the source",
    );
    guard.check();
    assert!(!dst.exists() && !temp.exists());
}

/// `--overwrite` while another process runs the same job into DST: refused
/// (the running job's output is not deleted), and the first run then
/// finishes exact.
#[test]
fn overwrite_while_a_run_is_in_progress_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guard = Guard::new(dir.path(), &src);
    let mut first = Command::new(env!("CARGO_BIN_EXE_chunkctl"))
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while journaled_tasks(&dst) < 1 {
        assert!(first.try_wait().unwrap().is_none(), "finished too soon");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let mut overwrite = args.clone();
    overwrite.push("--overwrite");
    refused(&overwrite, "another chunkctl run is writing here");
    let mut restart = args.clone();
    restart.push("--restart");
    refused(&restart, "another chunkctl run is writing here");
    refused(&args, "another chunkctl run is writing here");
    assert!(first.wait().unwrap().success());
    assert_same_values(&src, &dst);
    guard.check();
}

/// Two runs of one command started at the same moment: one does the job,
/// the other is refused with a clear reason (or finds it done); never a
/// missing-file error, and DST is exact.
#[test]
fn two_runs_at_once_do_not_trip_over_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 40, "out.zarr");
    let guard = Guard::new(dir.path(), &src);
    for _ in 0..3 {
        let spawn = || {
            Command::new(env!("CARGO_BIN_EXE_chunkctl"))
                .args(&args)
                .arg("--overwrite")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        };
        let (a, b) = (spawn(), spawn());
        let outs = [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()];
        assert!(outs.iter().any(|o| o.status.success()));
        for out in outs.iter().filter(|o| !o.status.success()) {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("another chunkctl run is writing here"),
                "{err}"
            );
        }
        assert_same_values(&src, &dst);
        guard.check();
    }
}

/// A kill at each step of the final cleanup (after the metadata is
/// published, after the finished record, after the scratch is removed):
/// the same command then finishes, leaves no journal nor scratch, and a
/// further rerun writes nothing.
#[test]
fn a_kill_during_cleanup_is_finished_by_the_same_command() {
    for point in ["published", "recorded", "scratch-removed"] {
        let dir = tempfile::tempdir().unwrap();
        let src = make_source(
            dir.path(),
            DType::Float32,
            &[48, 16, 16],
            &[1, 16, 16],
            ZarrFormat::V3,
            "zstd:1",
        );
        let guard = Guard::new(dir.path(), &src);
        let dst = dir.path().join("out.zarr");
        let temp = dir.path().join("scratch");
        // A budget small enough for intermediates.
        let args = [
            "rechunk",
            s(&src),
            s(&dst),
            "--chunks",
            "48,2,2",
            "--max-mem",
            "200KiB",
            "--temp",
            s(&temp),
            "--quiet",
        ];
        let crashed = Command::new(env!("CARGO_BIN_EXE_chunkctl"))
            .args(args)
            .env("NDCHUNK_CRASH_AT", point)
            .output()
            .unwrap();
        assert!(!crashed.status.success(), "{point}: did not crash");
        let text = succeeded(&args);
        assert_same_values(&src, &dst);
        assert!(
            !dst.join(".ndchunk-rechunk").exists(),
            "{point}: journal left"
        );
        let leftovers: Vec<_> = std::fs::read_dir(&temp)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        assert!(leftovers.is_empty(), "{point}: scratch left: {leftovers:?}");
        // Run again: nothing to do, no file of DST rewritten.
        let before = snapshot(&dst);
        let mtimes: Vec<_> = before
            .keys()
            .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .collect();
        let again = succeeded(&args);
        assert!(
            again.contains("nothing written"),
            "{point}: {text} / {again}"
        );
        let after: Vec<_> = before
            .keys()
            .map(|p| std::fs::metadata(p).unwrap().modified().unwrap())
            .collect();
        assert_eq!(mtimes, after, "{point}: a rerun rewrote DST");
        assert!(snapshot(&dst) == before);
        guard.check();
    }
}

/// A journal damaged by a full disk (its manifest cut short) is reported
/// as damaged, not as another job; `--restart` starts over and ends exact.
#[test]
fn a_damaged_journal_is_reported_as_damaged() {
    let dir = tempfile::tempdir().unwrap();
    let (src, dst, args) = slow_job(dir.path(), 300, "out.zarr");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let guard = Guard::new(dir.path(), &src);
    kill_once_journaled(&args, &dst, 1);
    let manifest = dst.join(".ndchunk-rechunk/manifest.json");
    let bytes = std::fs::read(&manifest).unwrap();
    std::fs::write(&manifest, &bytes[..bytes.len() / 2]).unwrap();
    refused(&args, "the journal of the interrupted run is damaged");
    let mut restart = args.clone();
    restart.push("--restart");
    succeeded(&restart);
    assert_same_values(&src, &dst);
    guard.check();
}

/// The disk fills during a run (DST on a small tmpfs); once space is
/// made, the same command finishes and is exact. Needs root to mount;
/// skipped loudly elsewhere.
#[test]
fn a_full_disk_then_the_same_command_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_source(
        dir.path(),
        DType::Float64,
        &[64, 32, 32],
        &[1, 32, 32],
        ZarrFormat::V3,
        "none",
    );
    let small = dir.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    let Some(_mount) = Mount::new(&["-t", "tmpfs", "-o", "size=300k", "tmpfs"], &small) else {
        support::skip("full-disk test needs to mount a tmpfs (root)");
        return;
    };
    let guard = Guard::new(dir.path(), &src);
    let dst = small.join("out.zarr");
    let args = [
        "rechunk",
        s(&src),
        s(&dst),
        "--chunks",
        "64,8,8",
        "--max-mem",
        "4MiB",
        "--quiet",
    ];
    let first = chunkctl(&args);
    assert!(!first.status.success(), "the first run cannot fit 300k");
    let err = String::from_utf8_lossy(&first.stderr);
    assert!(err.contains("No space left on device"), "{err}");
    assert!(Command::new("mount")
        .args(["-o", "remount,size=64m"])
        .arg(&small)
        .status()
        .unwrap()
        .success());
    succeeded(&args);
    assert_same_values(&src, &dst);
    guard.check();
}

/// `--chunks -1,…` needs no `--` before it.
#[test]
fn negative_chunks_need_no_separator() {
    let dir = tempfile::tempdir().unwrap();
    let src = small_source(dir.path());
    let dst = dir.path().join("out.zarr");
    succeeded(&["rechunk", s(&src), s(&dst), "--chunks", "-1,3", "--quiet"]);
    assert_same_values(&src, &dst);
}

/// A file holding only scalars: a chunk spec naming a dimension is refused
/// with what to do instead, and `--chunks ''` converts them as they are.
#[test]
fn a_file_of_only_scalars_gets_a_clear_answer() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scalars.h5");
    support::run_python(
        &python,
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['a'] = np.float64(1.5)\n\
         \x20   f['b'] = np.int32(7)\n",
        &[&file],
    );
    let guard = Guard::new(&dir.path().join("beside"), &file);
    let dst = dir.path().join("beside/out.zarr");
    refused(
        &[
            "rechunk",
            s(&file),
            s(&dst),
            "--chunks",
            "time=1",
            "--quiet",
        ],
        "every array is a scalar): pass --chunks '' to convert them as they are",
    );
    assert!(!dst.exists());
    let text = succeeded(&["rechunk", s(&file), s(&dst), "--chunks", ""]);
    assert!(
        text.contains("copied /a (8 B)") && text.contains("in 1 files"),
        "{text}"
    );
    let values = support::run_python(
        &python,
        "import sys, xarray as xr\n\
         ds = xr.open_zarr(sys.argv[1])\n\
         print(float(ds.a), int(ds.b))\n",
        &[&dst],
    );
    assert_eq!(String::from_utf8_lossy(&values).trim(), "1.5 7");
    guard.check();
}

/// An array whose metadata claims 2^62 elements in chunks of one: `info`,
/// `plan` and `--dry-run` answer (no allocation proportional to the chunk
/// count, no abort); a plan that cannot fit says why.
#[test]
fn a_shape_of_2_pow_62_is_answered_not_aborted() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("huge.zarr");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("zarr.json"),
        r#"{"zarr_format":3,"node_type":"array","shape":[4611686018427387904],
            "data_type":"float32",
            "chunk_grid":{"name":"regular","configuration":{"chunk_shape":[1]}},
            "chunk_key_encoding":{"name":"default","configuration":{"separator":"/"}},
            "fill_value":0.0,"codecs":[{"name":"bytes","configuration":{"endian":"little"}}],
            "attributes":{},"dimension_names":["x"]}"#,
    )
    .unwrap();
    let guard = Guard::new(&dir.path().join("beside"), &src);
    let text = succeeded(&["info", s(&src)]);
    assert!(text.contains("4611686018427387904 chunks"), "{text}");
    let dst = dir.path().join("beside/out.zarr");
    for chunks in ["7", "1000"] {
        let text = succeeded(&["rechunk", s(&src), s(&dst), "--chunks", chunks, "--dry-run"]);
        assert!(text.contains("projected peak"), "{text}");
    }
    let text = succeeded(&[
        "plan",
        "--shape",
        "4611686018427387904",
        "--dims",
        "x",
        "--source-chunks",
        "7",
        "--chunks",
        "1000",
    ]);
    assert!(text.contains("projected peak"), "{text}");
    refused(
        &["rechunk", s(&src), s(&dst), "--chunks", "-1", "--dry-run"],
        "more than 64-bit sizes can count",
    );
    assert!(!dst.exists());
    guard.check();
}

/// A Zarr v2 group `g.zarr` holding arrays `names` (dims time, lat), with
/// consolidated metadata of them.
fn group_of(dir: &Path, names: &[&str]) -> PathBuf {
    use ndchunk::io::zarr::{create_group, write_consolidated};
    let group = dir.join("g.zarr");
    create_group(&group, "", ZarrFormat::V2, &serde_json::Map::new()).unwrap();
    for name in names {
        let array = make_source(dir, DType::Int32, &[20, 6], &[5, 6], ZarrFormat::V2, "none");
        std::fs::rename(&array, group.join(name)).unwrap();
    }
    write_consolidated(&group, ZarrFormat::V2).unwrap();
    group
}

/// Symlink loops inside a group (one, then two): listed in bounded time,
/// each said in a warning, never copied into nested folders.
#[cfg(unix)]
#[test]
fn symlink_loops_in_a_group_are_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of(dir.path(), &["a"]);
    std::fs::create_dir(group.join("sub")).unwrap();
    std::fs::write(group.join("sub/.zgroup"), r#"{"zarr_format": 2}"#).unwrap();
    std::os::unix::fs::symlink("..", group.join("sub/up")).unwrap();
    let guard = Guard::new(&dir.path().join("beside"), &group);
    for (round, extra) in [(1, None), (2, Some("sub/up2"))] {
        if let Some(link) = extra {
            std::os::unix::fs::symlink("../..", group.join(link)).unwrap();
        }
        let dst = dir.path().join(format!("beside/out{round}.zarr"));
        let out = chunkctl(&[
            "rechunk",
            s(&group),
            s(&dst),
            "--chunks",
            "time=10",
            "--quiet",
        ]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains(
                "/sub/up: a symlink back to a directory already listed (a loop); not followed"
            ),
            "{err}"
        );
        assert!(!dst.join("sub/up").exists(), "a loop was copied");
        assert_same_values(&group.join("a"), &dst.join("a"));
    }
    guard.check();
}

/// Consolidated metadata written before an array was added: the array is
/// not dropped (the store wins), and a warning names it.
#[test]
fn stale_consolidated_metadata_does_not_drop_an_array() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of(dir.path(), &["a"]);
    let late = make_source(
        dir.path(),
        DType::Int32,
        &[20, 6],
        &[5, 6],
        ZarrFormat::V2,
        "none",
    );
    std::fs::rename(&late, group.join("late")).unwrap();
    let guard = Guard::new(&dir.path().join("beside"), &group);
    let dst = dir.path().join("beside/out.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&group),
        s(&dst),
        "--chunks",
        "time=10",
        "--quiet",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("/late: not in the consolidated metadata"),
        "{err}"
    );
    assert_same_values(&group.join("late"), &dst.join("late"));
    guard.check();
}

/// A consolidated-metadata key that climbs out of the store is refused as
/// an unsafe name before anything is read from or written to its path.
#[test]
fn a_consolidated_key_that_leaves_the_store_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of(dir.path(), &["a"]);
    let doc = r#"{"zarr_consolidated_format": 1, "metadata": {".zgroup": {"zarr_format": 2},
        "../evil/.zgroup": {"zarr_format": 2}}}"#;
    std::fs::write(group.join(".zmetadata"), doc).unwrap();
    let guard = Guard::new(&dir.path().join("beside"), &group);
    let dst = dir.path().join("beside/out.zarr");
    refused(
        &[
            "rechunk",
            s(&group),
            s(&dst),
            "--chunks",
            "time=10",
            "--quiet",
        ],
        "unsafe name \"../evil\" refused",
    );
    refused(&["info", s(&group)], "unsafe name \"../evil\" refused");
    assert!(!dst.exists() && !dir.path().join("evil").exists());
    guard.check();
}

/// `chunkctl info` prints what it can, then fails naming an array it
/// cannot open.
#[test]
fn info_fails_on_an_array_it_cannot_open() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of(dir.path(), &["a", "broken"]);
    std::fs::write(group.join("broken/.zarray"), b"{ not json").unwrap();
    let out = chunkctl(&["info", s(&group)]);
    assert!(!out.status.success());
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(text.contains("a ") || text.contains("/a"), "{text}");
    assert!(err.contains("cannot be opened: /broken"), "{err}");
}

/// An HDF5 file with soft, dangling and external links: each is listed by
/// `info`, and left out of a whole-file rechunk with a warning and a line
/// in the summary, never silently.
#[test]
fn hdf5_links_are_listed_and_skipped_aloud() {
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
         \x20   f['s'] = h5py.SoftLink('/a')\n\
         \x20   f['gone'] = h5py.SoftLink('/nothere')\n\
         \x20   f['e'] = h5py.ExternalLink(sys.argv[2], '/b')\n",
        &[&file, &other],
    );
    let text = succeeded(&["info", s(&file)]);
    assert!(
        text.contains("s  [hdf5] soft link to /a (not followed)"),
        "{text}"
    );
    assert!(
        text.contains("gone  [hdf5] soft link to /nothere"),
        "{text}"
    );
    assert!(text.contains("e  [hdf5] external link to"), "{text}");
    let guard = Guard::new(&dir.path().join("beside"), &file);
    let dst = dir.path().join("beside/out.zarr");
    let out = chunkctl(&[
        "rechunk",
        s(&file),
        s(&dst),
        "--chunks",
        "dim_0=2",
        "--quiet",
    ]);
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    for name in ["/s", "/gone", "/e"] {
        assert!(err.contains(&format!("warning: {name}: ")), "{name}: {err}");
        assert!(
            text.contains(&format!("{name}: skipped (")),
            "{name}: {text}"
        );
    }
    assert!(dst.join("a/zarr.json").is_file() && !dst.join("s").exists());
    guard.check();
}

/// A bad chunk value for a group is refused before anything is created,
/// so the corrected command then runs (no DST left holding a journal).
#[test]
fn a_bad_chunk_value_for_a_group_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let group = group_of(dir.path(), &["a"]);
    let guard = Guard::new(&dir.path().join("beside"), &group);
    let dst = dir.path().join("beside/out.zarr");
    for bad in ["time=0", "time=abc", "lat=0"] {
        let out = chunkctl(&["rechunk", s(&group), s(&dst), "--chunks", bad, "--quiet"]);
        assert!(!out.status.success(), "{bad}");
        assert!(!dst.exists(), "{bad} left {}", dst.display());
    }
    succeeded(&[
        "rechunk",
        s(&group),
        s(&dst),
        "--chunks",
        "time=10",
        "--quiet",
    ]);
    assert_same_values(&group.join("a"), &dst.join("a"));
    guard.check();
}
