//! Listing a store or file built to mislead: Zarr groups with symlink loops
//! (one, two, and one to a directory holding the store), a second name for
//! an array, stale consolidated metadata written by zarr-python, keys and
//! directory names that are paths out of the store, HDF5 files with soft
//! and external links (old-style groups, as h5py writes by default, and
//! new-style ones), and names (`..`, `../evil`) that HDF5 and netCDF-3
//! files can hold. Each listing ends, says what it did not follow or found
//! stale, and refuses a name that is a path, naming it.

#[path = "../../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};

use ndchunk_io::info::{inspect, inspect_tree, NodeInfo};
use ndchunk_io::zarr::{create_group, list_tree, write_consolidated, ZarrArraySpec, ZarrCodec};
use ndchunk_io::zarr::{ZarrFormat, ZarrStore};
use ndchunk_io::{hdf5, netcdf3, ArrayMeta, ChunkGrid, DType, IoError, Scalar};

fn paths_of(nodes: &[NodeInfo]) -> Vec<&str> {
    nodes.iter().map(|n| n.path.as_str()).collect()
}

/// A small uint8 array at `path` inside the store at `root`.
fn array(root: &Path, path: &str, format: ZarrFormat) {
    let meta = ArrayMeta::new(
        ChunkGrid::regular(&[4], &[2]).unwrap(),
        DType::UInt8,
        Scalar::UInt(0),
    );
    ZarrStore::create(
        root,
        path,
        &ZarrArraySpec::new(meta, format, ZarrCodec::None),
    )
    .unwrap();
}

/// A group `g.zarr` in `dir` with a subgroup `sub` and arrays `a` and
/// `sub/b`.
fn group(dir: &Path, format: ZarrFormat) -> PathBuf {
    let root = dir.join("g.zarr");
    create_group(&root, "", format, &Default::default()).unwrap();
    create_group(&root, "sub", format, &Default::default()).unwrap();
    array(&root, "a", format);
    array(&root, "sub/b", format);
    root
}

fn assert_unsafe(result: Result<impl std::fmt::Debug, IoError>, name: &str) {
    match result {
        Err(IoError::UnsafeName { name: got, .. }) => assert_eq!(got, name),
        other => panic!("expected UnsafeName {name:?}, got {other:?}"),
    }
}

/// One loop (`sub/up` → `..`), then a second one (`sub/again` → `.`) and a
/// link to the directory holding the store (`sub/out` → `../..`): each
/// listing holds each node once, never a nested copy, and names every link
/// it did not follow.
#[cfg(unix)]
#[test]
fn symlink_loops_are_listed_once_and_said() {
    use std::os::unix::fs::symlink;
    for format in [ZarrFormat::V2, ZarrFormat::V3] {
        let dir = tempfile::tempdir().unwrap();
        let root = group(dir.path(), format);
        // Beside the store: what a link out to its parent would pull in.
        array(dir.path(), "beside", format);
        let want = ["/", "/a", "/sub", "/sub/b"];

        symlink("..", root.join("sub/up")).unwrap();
        let tree = list_tree(&root).unwrap();
        let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, want, "{format:?}");
        assert_eq!(
            tree.warnings,
            [
                "/sub/up: a symlink back to a directory already listed (a loop); \
              not followed (it leads to /)"
            ],
            "{format:?}"
        );

        symlink(".", root.join("sub/again")).unwrap();
        symlink("../..", root.join("sub/out")).unwrap();
        let tree = list_tree(&root).unwrap();
        let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, want, "{format:?}");
        assert_eq!(
            tree.warnings,
            [
                "/sub/again: a symlink back to a directory already listed (a loop); \
                 not followed (it leads to /sub)",
                "/sub/out: a symlink to a directory that holds the store (a loop); not followed",
                "/sub/up: a symlink back to a directory already listed (a loop); \
                 not followed (it leads to /)",
            ],
            "{format:?}"
        );
        // `inspect` lists the same nodes and hands the same warnings on.
        let info = inspect_tree(&root).unwrap();
        assert_eq!(paths_of(&info.nodes), want);
        assert_eq!(info.warnings, tree.warnings);
        // Consolidating walks the same way: it ends, and agrees with the
        // listing (no warning about the consolidated metadata).
        write_consolidated(&root, format).unwrap();
        let again = list_tree(&root).unwrap();
        assert_eq!(again.warnings, tree.warnings, "{format:?}");
    }
}

/// A symlink to an array already listed (not a loop: a second name) is
/// listed once, under its first name, and said; consolidated metadata
/// lists it once too, and consolidated metadata that lists both names (as
/// zarr-python, which follows symlinks, writes it) adds no second warning.
#[cfg(unix)]
#[test]
fn a_second_name_for_a_node_is_listed_once() {
    let dir = tempfile::tempdir().unwrap();
    let root = group(dir.path(), ZarrFormat::V2);
    std::os::unix::fs::symlink("a", root.join("alias")).unwrap();
    write_consolidated(&root, ZarrFormat::V2).unwrap();
    let path = root.join(".zmetadata");
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let listed = doc["metadata"].as_object_mut().unwrap();
    assert!(listed.contains_key("a/.zarray") && !listed.contains_key("alias/.zarray"));
    let a = listed["a/.zarray"].clone();
    listed.insert("alias/.zarray".into(), a);
    std::fs::write(&path, doc.to_string()).unwrap();
    let tree = list_tree(&root).unwrap();
    let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
    assert_eq!(paths, ["/", "/a", "/sub", "/sub/b"]);
    assert_eq!(
        tree.warnings,
        ["/alias: a second name (a symlink) for /a, listed there; not followed"]
    );
}

/// zarr-python consolidates a group, then an array is added (and, in a
/// second store, one removed) without consolidating again: the store wins,
/// and each disagreement is a warning naming the array.
#[test]
fn stale_consolidated_metadata_from_zarr_python_is_said() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    for format in [2, 3] {
        let root = dir.path().join(format!("v{format}.zarr"));
        support::run_python(
            &python,
            "import sys, zarr, numpy as np\n\
             root, fmt = sys.argv[1], int(sys.argv[2])\n\
             g = zarr.open_group(root, mode='w', zarr_format=fmt)\n\
             g.create_array('t', shape=(4,), chunks=(2,), dtype='f8')[:] = np.arange(4.0)\n\
             g.create_array('gone', shape=(4,), chunks=(2,), dtype='f8')\n\
             zarr.consolidate_metadata(root, zarr_format=fmt)\n\
             g = zarr.open_group(root, mode='r+', use_consolidated=False)\n\
             g.create_array('late', shape=(4,), chunks=(2,), dtype='i4')[:] = 7\n",
            &[root.to_str().unwrap(), &format.to_string()],
        );
        std::fs::remove_dir_all(root.join("gone")).unwrap();
        let tree = list_tree(&root).unwrap();
        let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
        assert_eq!(paths, ["/", "/late", "/t"], "v{format}");
        assert_eq!(
            tree.warnings,
            [
                "/gone: listed in the consolidated metadata but not in the store; left out",
                "/late: not in the consolidated metadata (stale: added after it was \
                 written?); included, as the store holds it",
            ],
            "v{format}"
        );
        let info = inspect_tree(&root).unwrap();
        assert_eq!(paths_of(&info.nodes), ["/", "/late", "/t"]);
        assert_eq!(info.warnings, tree.warnings);
        assert!(info.nodes[1].array.is_some(), "/late opens");
    }
}

/// A consolidated-metadata key that climbs out of the store, with a real
/// array where it points: refused as an unsafe name, in v2 `.zmetadata`
/// (as a node key and as an attributes key) and in v3's inline listing.
#[test]
fn consolidated_keys_that_leave_the_store_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = group(dir.path(), ZarrFormat::V2);
    array(dir.path(), "evil", ZarrFormat::V2);
    for key in [
        "../evil/.zarray",
        "../evil/.zattrs",
        "sub/../../evil/.zarray",
    ] {
        let doc = serde_json::json!({
            "zarr_consolidated_format": 1,
            "metadata": {".zgroup": {"zarr_format": 2}, key: {}},
        });
        std::fs::write(root.join(".zmetadata"), doc.to_string()).unwrap();
        let name = key.rsplit_once('/').unwrap().0;
        assert_unsafe(list_tree(&root), name);
        assert_unsafe(inspect(&root), name);
    }

    let root = group(&dir.path().join("v3"), ZarrFormat::V3);
    write_consolidated(&root, ZarrFormat::V3).unwrap();
    let mut doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root.join("zarr.json")).unwrap()).unwrap();
    let listed = doc["consolidated_metadata"]["metadata"]
        .as_object_mut()
        .unwrap();
    let a = listed["a"].clone();
    listed.insert("../evil".into(), a);
    std::fs::write(root.join("zarr.json"), doc.to_string()).unwrap();
    assert_unsafe(list_tree(&root), "../evil");
}

/// A directory of the store whose name is not a plain component (a `\`,
/// which is a separator elsewhere) is refused, naming it, not listed.
#[cfg(unix)]
#[test]
fn a_directory_name_that_is_a_path_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let root = group(dir.path(), ZarrFormat::V3);
    create_group(&root, "sub/up\\evil", ZarrFormat::V3, &Default::default()).unwrap();
    assert!(root
        .join("sub")
        .join("up\\evil")
        .join("zarr.json")
        .is_file());
    assert_unsafe(list_tree(&root), "sub/up\\evil");
}

/// Soft and external links, made by h5py in an old-style file (symbol
/// tables: h5py's default) and in a new-style one (link messages): each is
/// a node of kind `link` saying where it points, never an array and never
/// absent; the datasets they point to are listed once, where they are.
#[test]
fn hdf5_soft_and_external_links_are_listed_as_links() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other.h5");
    for libver in ["earliest", "latest"] {
        let file = dir.path().join(format!("links-{libver}.h5"));
        support::run_python(
            &python,
            "import sys, h5py, numpy as np\n\
             with h5py.File(sys.argv[2], 'w') as f:\n\
             \x20   f['b'] = np.arange(6.0)\n\
             with h5py.File(sys.argv[1], 'w', libver=sys.argv[3]) as f:\n\
             \x20   f['a'] = np.arange(6.0)\n\
             \x20   f['soft'] = h5py.SoftLink('/a')\n\
             \x20   g = f.create_group('g')\n\
             \x20   g['x'] = np.arange(3.0)\n\
             \x20   g['soft'] = h5py.SoftLink('/g/x')\n\
             \x20   g['dangling'] = h5py.SoftLink('/nothere')\n\
             \x20   f['ext'] = h5py.ExternalLink(sys.argv[2], '/b')\n",
            &[file.to_str().unwrap(), other.to_str().unwrap(), libver],
        );
        let nodes = inspect(&file).unwrap();
        let listed: Vec<(&str, &str, Option<&str>)> = nodes
            .iter()
            .map(|n| (n.path.as_str(), n.kind, n.link.as_deref()))
            .collect();
        let external = format!("external link to {}:/b", other.display());
        assert_eq!(
            listed,
            [
                ("/", "group", None),
                ("/a", "array", None),
                ("/ext", "link", Some(external.as_str())),
                ("/g", "group", None),
                ("/g/dangling", "link", Some("soft link to /nothere")),
                ("/g/soft", "link", Some("soft link to /g/x")),
                ("/g/x", "array", None),
                ("/soft", "link", Some("soft link to /a")),
            ],
            "{libver}"
        );
        assert_eq!(hdf5::list_links(&file).unwrap().len(), 4, "{libver}");
        // One group's tree keeps the links under it.
        let spec = PathBuf::from(format!("{}:/g", file.display()));
        let below: Vec<String> = inspect(&spec)
            .unwrap()
            .into_iter()
            .map(|n| n.path)
            .collect();
        assert_eq!(below, ["/g", "/g/dangling", "/g/soft", "/g/x"], "{libver}");
    }
}

/// h5py stores a dataset and a group named `..` (HDF5 path syntax cannot
/// reach them, its link names can hold them): every listing refuses the
/// file, naming `..`.
#[test]
fn hdf5_members_named_dotdot_are_refused() {
    let Some(python) = support::python_peer() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (dataset, group) = (dir.path().join("dataset.h5"), dir.path().join("group.h5"));
    support::run_python(
        &python,
        "import sys, h5py, numpy as np\n\
         with h5py.File(sys.argv[1], 'w') as f:\n\
         \x20   f['t'] = np.arange(4.0)\n\
         \x20   f['..'] = np.arange(4.0)\n\
         with h5py.File(sys.argv[2], 'w') as f:\n\
         \x20   f.create_group('g').create_group('..')['t'] = np.arange(4.0)\n",
        &[&dataset, &group],
    );
    assert_unsafe(hdf5::list_datasets(&dataset), "..");
    assert_unsafe(inspect(&dataset), "..");
    assert_unsafe(hdf5::list_groups(&group), "g/..");
    assert_unsafe(hdf5::list_datasets(&group), "g/../t");
    assert_unsafe(inspect(&group), "g/..");
}

/// A classic netCDF-3 file (bytes written here: netCDF-C refuses such a
/// name) with a dimension `x` of 4 and one variable `name(x)` of type
/// `nc_type` (6: double, 2: char).
fn netcdf3_with_variable(name: &str, nc_type: u32) -> Vec<u8> {
    fn put_name(out: &mut Vec<u8>, name: &str) {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.resize(out.len().next_multiple_of(4), 0);
    }
    let itemsize: u32 = if nc_type == 6 { 8 } else { 1 };
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
    header.extend_from_slice(&nc_type.to_be_bytes());
    header.extend_from_slice(&(4 * itemsize).to_be_bytes()); // vsize
    let begin = header.len() as u32 + 4;
    header.extend_from_slice(&begin.to_be_bytes());
    header.resize(header.len() + 4 * itemsize as usize, 0);
    header
}

/// A netCDF-3 variable named `../evil` (numeric, or text, which listings
/// show as unsupported): refused by every listing, naming it; the same
/// bytes with a plain name list.
#[test]
fn netcdf3_variable_named_dotdot_evil_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    for nc_type in [6, 2] {
        let file = dir.path().join(format!("evil-{nc_type}.nc"));
        std::fs::write(&file, netcdf3_with_variable("../evil", nc_type)).unwrap();
        assert_unsafe(netcdf3::list_variables(&file), "../evil");
        assert_unsafe(netcdf3::list_unsupported(&file), "../evil");
        assert_unsafe(inspect(&file), "../evil");
        let e = inspect(&file).unwrap_err().to_string();
        assert!(
            e.contains("evil-") && e.contains("unsafe name \"../evil\" refused"),
            "{e}"
        );

        let plain = dir.path().join(format!("plain-{nc_type}.nc"));
        std::fs::write(&plain, netcdf3_with_variable("evil", nc_type)).unwrap();
        assert_eq!(paths_of(&inspect(&plain).unwrap()), ["/", "/evil"]);
    }
}
