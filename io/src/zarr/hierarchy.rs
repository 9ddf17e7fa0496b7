//! Groups: the tree of a Zarr store, creating groups, and consolidated
//! metadata.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{ZarrFormat, ZarrRoot, ZarrStore};
use crate::error::{IoError, Result};

/// What a node of a store is.
#[derive(Debug)]
pub enum ZarrNodeKind {
    /// A group, with its attributes.
    Group(Map<String, Value>),
    /// An array, open (its metadata is [`ChunkStore::meta`](crate::ChunkStore::meta): opened once,
    /// for the walk and for whoever reads it), or why it cannot be opened
    /// (an unsupported dtype or codec: the tree still shows it).
    Array(Result<Arc<ZarrStore>>),
}

/// One node of a Zarr store.
#[derive(Debug)]
pub struct ZarrNode {
    /// Path inside the store (`/`, `/group/array`).
    pub path: String,
    /// Zarr v2 or v3.
    pub format: ZarrFormat,
    /// Group or array.
    pub kind: ZarrNodeKind,
}

/// The document at `key` under `root`, if there is one that parses.
fn read_json(root: &ZarrRoot, key: &str) -> Option<Value> {
    root.read_json(key).ok().flatten()
}

use super::root::node_key as key;

/// What [`list_tree`] found: the nodes, and what the caller should warn
/// about (loops not followed, names that are not UTF-8, consolidated
/// metadata that disagrees with the store).
#[derive(Debug)]
pub struct ZarrTree {
    /// Every group and array, parents before children, siblings by name.
    pub nodes: Vec<ZarrNode>,
    /// One line per thing left out or disagreeing, to show the user.
    pub warnings: Vec<String>,
}

/// Every group and array under `root`, parents before children, siblings
/// by name. Each array is opened for real (so a node that zarrs cannot read
/// shows the reason). See [`list_tree`] for the warnings.
pub fn list_nodes(root: impl Into<ZarrRoot>) -> Result<Vec<ZarrNode>> {
    Ok(list_tree(root)?.nodes)
}

/// [`list_nodes`] with its warnings. The store's directories are walked
/// (consolidated metadata can be stale: what is on disk wins, and each
/// disagreement is a warning). Directories are told apart by device and
/// inode, so a directory reached again through a symlink (a loop, or a
/// second name for one node) is entered once, and one that holds the store
/// itself (a symlink to an ancestor of `root`) not at all; each is said in
/// a warning. A name that would leave the store if joined onto it (a
/// consolidated-metadata key such as `../evil/.zarray`, a directory named
/// with a `\`) is an [`IoError::UnsafeName`].
///
/// ```
/// # #[cfg(unix)] {
/// use ndchunk_io::zarr::{create_group, list_tree, ZarrFormat};
///
/// let dir = tempfile::tempdir().unwrap();
/// let root = dir.path().join("g.zarr");
/// create_group(&root, "", ZarrFormat::V3, &Default::default()).unwrap();
/// create_group(&root, "sub", ZarrFormat::V3, &Default::default()).unwrap();
/// std::os::unix::fs::symlink("..", root.join("sub/up")).unwrap();
///
/// let tree = list_tree(&root).unwrap();
/// let paths: Vec<&str> = tree.nodes.iter().map(|n| n.path.as_str()).collect();
/// assert_eq!(paths, ["/", "/sub"]);
/// assert!(tree.warnings[0].starts_with("/sub/up: a symlink back to a directory already listed"));
/// # }
/// ```
pub fn list_tree(root: impl Into<ZarrRoot>) -> Result<ZarrTree> {
    let root = &root.into();
    root.storage()?;
    let mut tree = ZarrTree {
        nodes: Vec::new(),
        warnings: Vec::new(),
    };
    let mut walk_state = Walk {
        seen: HashMap::new(),
        holding_root: root.holding(),
        not_followed: Vec::new(),
    };
    walk(root, "", &mut tree, &mut walk_state)?;
    if let Some(listed) = consolidated_paths(root)? {
        let found: HashSet<&str> = tree
            .nodes
            .iter()
            .map(|n| n.path.trim_start_matches('/'))
            .collect();
        let listed_set: HashSet<&str> = listed.iter().map(String::as_str).collect();
        // A node under a link not followed was said already.
        let said = |p: &str| {
            walk_state
                .not_followed
                .iter()
                .any(|skipped| p == skipped || p.starts_with(&format!("{skipped}/")))
        };
        for path in listed
            .iter()
            .filter(|p| !found.contains(p.as_str()) && !said(p))
        {
            tree.warnings.push(format!(
                "/{path}: listed in the consolidated metadata but not in the store; left out"
            ));
        }
        for path in tree
            .nodes
            .iter()
            .map(|n| n.path.trim_start_matches('/'))
            .filter(|p| !listed_set.contains(p))
        {
            tree.warnings.push(format!(
                "/{path}: not in the consolidated metadata (stale: added after it was \
                 written?); included, as the store holds it"
            ));
        }
    }
    if tree.nodes.is_empty() {
        return Err(IoError::NotAStore {
            path: root.to_string(),
            reason: "no zarr.json, .zarray or .zgroup found".into(),
        });
    }
    Ok(tree)
}

/// The node paths that consolidated metadata at `root` lists (v2
/// `.zmetadata`, or `consolidated_metadata` in a v3 root `zarr.json`),
/// parents before children, siblings by name; `None` without any. Each is
/// checked to be a plain path inside the store.
fn consolidated_paths(root: &ZarrRoot) -> Result<Option<Vec<String>>> {
    let location = root.to_string();
    let listed: Option<Vec<String>> = if let Some(doc) = read_json(root, ".zmetadata") {
        match doc["metadata"].as_object() {
            Some(m) => {
                let mut nodes = Vec::new();
                for key in m.keys() {
                    // The node's path first, so that the error names what
                    // would be joined onto the store (`../evil`), then the
                    // whole key (`..`, `a/../.zattrs`).
                    let (dir, file) = key.rsplit_once('/').unwrap_or(("", key));
                    crate::check_member_path(dir, &location)?;
                    crate::check_member_path(key, &location)?;
                    if matches!(file, ".zarray" | ".zgroup") {
                        nodes.push(dir.to_string());
                    }
                }
                Some(nodes)
            }
            None => None,
        }
    } else {
        read_json(root, "zarr.json").and_then(|doc| {
            doc["consolidated_metadata"]["metadata"]
                .as_object()
                .map(|listed| {
                    std::iter::once(String::new())
                        .chain(listed.keys().map(|k| k.trim_matches('/').to_string()))
                        .collect()
                })
        })
    };
    let Some(mut paths) = listed else {
        return Ok(None);
    };
    for path in &paths {
        crate::check_member_path(path, &location)?;
    }
    paths.sort_by(|a, b| a.split('/').cmp(b.split('/')));
    paths.dedup();
    Ok(Some(paths))
}

/// What the walk has met so far.
struct Walk {
    /// Every directory entered, by identity, with the path it was entered
    /// by.
    seen: HashMap<DirId, String>,
    /// The directories that hold the store (the root's ancestors).
    holding_root: HashSet<DirId>,
    /// Paths not entered (loops, second names), said in a warning each.
    not_followed: Vec<String>,
}

fn walk(root: &ZarrRoot, path: &str, tree: &mut ZarrTree, state: &mut Walk) -> Result<()> {
    // A directory already walked (reached again through a symlink) is a
    // loop, or a second name for one node: entered once. One holding the
    // store would list the store again from outside it: never entered.
    if let Some(id) = root.node_id(path) {
        let warning = if state.holding_root.contains(&id) {
            Some(format!(
                "/{path}: a symlink to a directory that holds the store (a loop); not followed"
            ))
        } else if let Some(first) = state.seen.get(&id) {
            let first = first.as_str();
            Some(
                if first.is_empty() || path.starts_with(&format!("{first}/")) {
                    format!(
                        "/{path}: a symlink back to a directory already listed (a loop); \
                         not followed (it leads to /{first})"
                    )
                } else {
                    format!(
                        "/{path}: a second name (a symlink) for /{first}, listed there; \
                         not followed"
                    )
                },
            )
        } else {
            state.seen.insert(id, path.to_string());
            None
        };
        if let Some(warning) = warning {
            tree.warnings.push(warning);
            state.not_followed.push(path.to_string());
            return Ok(());
        }
    }
    if describe(root, path, &mut tree.nodes) {
        return Ok(());
    }
    let (children, unreadable) = root.child_dirs(path)?;
    for name in unreadable {
        let parent = if path.is_empty() { "" } else { "/" };
        tree.warnings.push(format!(
            "{parent}{path}/{name}: a name that is not UTF-8; left out"
        ));
    }
    for child in children {
        let child_path = if path.is_empty() {
            child
        } else {
            format!("{path}/{child}")
        };
        // A directory's name is the store's to choose; before it becomes a
        // node path (joined onto DST by a copy) it must be a plain one.
        crate::check_member_path(&child_path, &root.to_string())?;
        walk(root, &child_path, tree, state)?;
    }
    Ok(())
}

/// A directory's identity (device, inode), through symlinks.
type DirId = (u64, u64);

fn array_node(root: &ZarrRoot, path: &str) -> ZarrNodeKind {
    ZarrNodeKind::Array(ZarrStore::open(root, path).map(Arc::new))
}

/// Pushes the node at `path`, if there is one; true when it is an array
/// (which has no children).
fn describe(root: &ZarrRoot, path: &str, nodes: &mut Vec<ZarrNode>) -> bool {
    let node_path = format!("/{path}");
    let v3 = read_json(root, &key(path, "zarr.json"));
    let kind_format = match &v3 {
        Some(doc) if doc["zarr_format"] == 3 => match doc["node_type"].as_str() {
            Some("array") => Some((array_node(root, &node_path), ZarrFormat::V3)),
            _ => Some((
                ZarrNodeKind::Group(doc["attributes"].as_object().cloned().unwrap_or_default()),
                ZarrFormat::V3,
            )),
        },
        Some(_) => Some((array_node(root, &node_path), ZarrFormat::V3)),
        None if root.has(&key(path, ".zarray")) => {
            Some((array_node(root, &node_path), ZarrFormat::V2))
        }
        None if root.has(&key(path, ".zgroup")) => Some((
            ZarrNodeKind::Group(
                read_json(root, &key(path, ".zattrs"))
                    .and_then(|v| v.as_object().cloned())
                    .unwrap_or_default(),
            ),
            ZarrFormat::V2,
        )),
        None => None,
    };
    let is_array = matches!(kind_format, Some((ZarrNodeKind::Array(_), _)));
    if let Some((kind, format)) = kind_format {
        nodes.push(ZarrNode {
            path: node_path,
            format,
            kind,
        });
    }
    is_array
}

/// Creates a group (and the directory) with attributes.
pub fn create_group(
    root: impl Into<ZarrRoot>,
    path: &str,
    format: ZarrFormat,
    attributes: &Map<String, Value>,
) -> Result<()> {
    let root = root.into();
    root.create_dir(path)?;
    let write = |file: &str, value: Value| root.write_json(&key(path, file), &value);
    match format {
        ZarrFormat::V3 => write(
            "zarr.json",
            json!({"zarr_format": 3, "node_type": "group", "attributes": attributes}),
        ),
        ZarrFormat::V2 => {
            write(".zgroup", json!({"zarr_format": 2}))?;
            write(".zattrs", Value::Object(attributes.clone()))
        }
    }
}

/// Writes consolidated metadata for the store at `root`, as zarr-python's
/// `consolidate_metadata` does, so that `xarray.open_zarr` opens it with one
/// read: for v2 a `.zmetadata` file of every `.zgroup`, `.zarray` and
/// `.zattrs`; for v3 a `consolidated_metadata` entry in the root
/// `zarr.json` with every node's `zarr.json` by path (zarr-python's form;
/// not yet part of the v3 specification). The root group must exist. The
/// file is replaced atomically (written aside, then renamed), so a crash
/// never leaves a torn root document.
pub fn write_consolidated(root: impl Into<ZarrRoot>, format: ZarrFormat) -> Result<()> {
    let root = &root.into();
    let (file, doc) = match format {
        ZarrFormat::V2 => {
            let mut metadata = Map::new();
            collect_v2(root, "", &mut metadata, &mut root.holding())?;
            (
                ".zmetadata",
                json!({"metadata": metadata, "zarr_consolidated_format": 1}),
            )
        }
        ZarrFormat::V3 => {
            let Some(mut doc) = read_json(root, "zarr.json") else {
                return Err(IoError::Metadata {
                    location: root.to_string(),
                    reason: "no root zarr.json to consolidate into".into(),
                });
            };
            let mut metadata = Map::new();
            collect_v3(root, "", &mut metadata, &mut root.holding())?;
            doc["consolidated_metadata"] =
                json!({"kind": "inline", "must_understand": false, "metadata": metadata});
            ("zarr.json", doc)
        }
    };
    root.write_json(file, &doc)
}

/// Every node's `zarr.json` below `path`, keyed by path from the root; a
/// group's own entry carries an empty consolidated listing, as zarr-python
/// writes it.
fn collect_v3(
    root: &ZarrRoot,
    path: &str,
    out: &mut Map<String, Value>,
    seen: &mut HashSet<DirId>,
) -> Result<()> {
    if !first_visit(root, path, seen) {
        return Ok(());
    }
    for child in root.child_dirs(path)?.0 {
        let child = if path.is_empty() {
            child
        } else {
            format!("{path}/{child}")
        };
        let Some(mut doc) = read_json(root, &key(&child, "zarr.json")) else {
            continue;
        };
        let is_group = doc["node_type"] == "group";
        if is_group {
            doc["consolidated_metadata"] =
                json!({"kind": "inline", "must_understand": false, "metadata": {}});
        }
        out.insert(child.clone(), doc);
        if is_group {
            collect_v3(root, &child, out, seen)?;
        }
    }
    Ok(())
}

fn collect_v2(
    root: &ZarrRoot,
    path: &str,
    out: &mut Map<String, Value>,
    seen: &mut HashSet<DirId>,
) -> Result<()> {
    if !first_visit(root, path, seen) {
        return Ok(());
    }
    for file in [".zgroup", ".zarray", ".zattrs"] {
        if let Some(doc) = read_json(root, &key(path, file)) {
            let key = if path.is_empty() {
                file.to_string()
            } else {
                format!("{path}/{file}")
            };
            out.insert(key, doc);
        }
    }
    if root.has(&key(path, ".zarray")) {
        return Ok(());
    }
    let (children, _) = root.child_dirs(path)?;
    for child in children {
        collect_v2(
            root,
            &if path.is_empty() {
                child
            } else {
                format!("{path}/{child}")
            },
            out,
            seen,
        )?;
    }
    Ok(())
}

/// Whether the directory at `path` is met for the first time (then it is
/// recorded in `seen`): consolidating, as listing, enters a directory
/// reached through symlinks once, and never one holding the store (which
/// `seen` starts with), so a loop cannot make it run forever.
fn first_visit(root: &ZarrRoot, path: &str, seen: &mut HashSet<DirId>) -> bool {
    root.node_id(path).is_none_or(|id| seen.insert(id))
}
