//! Groups: the tree of a Zarr store, creating groups, and consolidated
//! metadata.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::{location_of, ZarrFormat, ZarrStore};
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

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

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
pub fn list_nodes(root: &Path) -> Result<Vec<ZarrNode>> {
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
pub fn list_tree(root: &Path) -> Result<ZarrTree> {
    if !root.is_dir() {
        return Err(IoError::NotAStore {
            path: root.display().to_string(),
            reason: "no such directory".into(),
        });
    }
    let mut tree = ZarrTree {
        nodes: Vec::new(),
        warnings: Vec::new(),
    };
    let mut walk_state = Walk {
        seen: HashMap::new(),
        holding_root: holding(root),
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
            path: root.display().to_string(),
            reason: "no zarr.json, .zarray or .zgroup found".into(),
        });
    }
    Ok(tree)
}

/// The node paths that consolidated metadata at `root` lists (v2
/// `.zmetadata`, or `consolidated_metadata` in a v3 root `zarr.json`),
/// parents before children, siblings by name; `None` without any. Each is
/// checked to be a plain path inside the store.
fn consolidated_paths(root: &Path) -> Result<Option<Vec<String>>> {
    let location = root.display().to_string();
    let listed: Option<Vec<String>> = if let Some(doc) = read_json(&root.join(".zmetadata")) {
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
        read_json(&root.join("zarr.json")).and_then(|doc| {
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

fn walk(root: &Path, path: &str, tree: &mut ZarrTree, state: &mut Walk) -> Result<()> {
    // A directory already walked (reached again through a symlink) is a
    // loop, or a second name for one node: entered once. One holding the
    // store would list the store again from outside it: never entered.
    if let Some(id) = dir_id(&root.join(path)) {
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
    let (children, unreadable) = child_dirs(root, path)?;
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
        crate::check_member_path(&child_path, &root.display().to_string())?;
        walk(root, &child_path, tree, state)?;
    }
    Ok(())
}

/// The identities of the directories that hold `root` (its ancestors,
/// through symlinks: `root` is canonicalised first).
fn holding(root: &Path) -> HashSet<DirId> {
    let Ok(canonical) = std::fs::canonicalize(root) else {
        return HashSet::new();
    };
    canonical.ancestors().skip(1).filter_map(dir_id).collect()
}

/// A directory's identity (device, inode), through symlinks.
type DirId = (u64, u64);

#[cfg(unix)]
fn dir_id(dir: &Path) -> Option<DirId> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

#[cfg(not(unix))]
fn dir_id(dir: &Path) -> Option<DirId> {
    use std::hash::{Hash, Hasher};
    let canonical = std::fs::canonicalize(dir).ok()?;
    let mut h = std::collections::hash_map::DefaultHasher::new();
    canonical.hash(&mut h);
    Some((0, h.finish()))
}

fn array_node(root: &Path, path: &str) -> ZarrNodeKind {
    ZarrNodeKind::Array(ZarrStore::open(root, path).map(Arc::new))
}

/// Pushes the node at `path`, if there is one; true when it is an array
/// (which has no children).
fn describe(root: &Path, path: &str, nodes: &mut Vec<ZarrNode>) -> bool {
    let dir = root.join(path);
    let node_path = format!("/{path}");
    let v3 = read_json(&dir.join("zarr.json"));
    let kind_format = match &v3 {
        Some(doc) if doc["zarr_format"] == 3 => match doc["node_type"].as_str() {
            Some("array") => Some((array_node(root, &node_path), ZarrFormat::V3)),
            _ => Some((
                ZarrNodeKind::Group(doc["attributes"].as_object().cloned().unwrap_or_default()),
                ZarrFormat::V3,
            )),
        },
        Some(_) => Some((array_node(root, &node_path), ZarrFormat::V3)),
        None if dir.join(".zarray").is_file() => {
            Some((array_node(root, &node_path), ZarrFormat::V2))
        }
        None if dir.join(".zgroup").is_file() => Some((
            ZarrNodeKind::Group(
                read_json(&dir.join(".zattrs"))
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
    root: &Path,
    path: &str,
    format: ZarrFormat,
    attributes: &Map<String, Value>,
) -> Result<()> {
    let dir = root.join(path.trim_matches('/'));
    let fail = |e: std::io::Error| IoError::Storage {
        location: location_of(root, path),
        message: format!("cannot create group: {e}"),
    };
    std::fs::create_dir_all(&dir).map_err(fail)?;
    let write =
        |file: &str, value: Value| std::fs::write(dir.join(file), value.to_string()).map_err(fail);
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
pub fn write_consolidated(root: &Path, format: ZarrFormat) -> Result<()> {
    let storage = |e: std::io::Error, what: &str| IoError::Storage {
        location: root.display().to_string(),
        message: format!("cannot write {what}: {e}"),
    };
    let (file, doc) = match format {
        ZarrFormat::V2 => {
            let mut metadata = Map::new();
            collect_v2(root, "", &mut metadata, &mut holding(root))?;
            (
                ".zmetadata",
                json!({"metadata": metadata, "zarr_consolidated_format": 1}),
            )
        }
        ZarrFormat::V3 => {
            let Some(mut doc) = read_json(&root.join("zarr.json")) else {
                return Err(IoError::Metadata {
                    location: root.display().to_string(),
                    reason: "no root zarr.json to consolidate into".into(),
                });
            };
            let mut metadata = Map::new();
            collect_v3(root, "", &mut metadata, &mut holding(root))?;
            doc["consolidated_metadata"] =
                json!({"kind": "inline", "must_understand": false, "metadata": metadata});
            ("zarr.json", doc)
        }
    };
    let aside = root.join(format!(".{file}.partial"));
    std::fs::write(
        &aside,
        serde_json::to_string_pretty(&doc).unwrap_or_default(),
    )
    .map_err(|e| storage(e, file))?;
    std::fs::rename(&aside, root.join(file)).map_err(|e| storage(e, file))
}

/// Every node's `zarr.json` below `path`, keyed by path from the root; a
/// group's own entry carries an empty consolidated listing, as zarr-python
/// writes it.
fn collect_v3(
    root: &Path,
    path: &str,
    out: &mut Map<String, Value>,
    seen: &mut HashSet<DirId>,
) -> Result<()> {
    if !first_visit(root, path, seen) {
        return Ok(());
    }
    for child in child_dirs(root, path)?.0 {
        let child = if path.is_empty() {
            child
        } else {
            format!("{path}/{child}")
        };
        let Some(mut doc) = read_json(&root.join(&child).join("zarr.json")) else {
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
    root: &Path,
    path: &str,
    out: &mut Map<String, Value>,
    seen: &mut HashSet<DirId>,
) -> Result<()> {
    if !first_visit(root, path, seen) {
        return Ok(());
    }
    let dir = root.join(path);
    for file in [".zgroup", ".zarray", ".zattrs"] {
        if let Some(doc) = read_json(&dir.join(file)) {
            let key = if path.is_empty() {
                file.to_string()
            } else {
                format!("{path}/{file}")
            };
            out.insert(key, doc);
        }
    }
    if dir.join(".zarray").is_file() {
        return Ok(());
    }
    let (children, _) = child_dirs(root, path)?;
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
fn first_visit(root: &Path, path: &str, seen: &mut HashSet<DirId>) -> bool {
    dir_id(&root.join(path)).is_none_or(|id| seen.insert(id))
}

/// The child directories of a node (names, sorted), and those whose names
/// are not UTF-8 (lossily, to name them in a warning).
fn child_dirs(root: &Path, path: &str) -> Result<(Vec<String>, Vec<String>)> {
    let mut children = Vec::new();
    let mut unreadable = Vec::new();
    let entries = std::fs::read_dir(root.join(path)).map_err(|e| IoError::Storage {
        location: location_of(root, path),
        message: e.to_string(),
    })?;
    for entry in entries.filter_map(|entry| entry.ok()) {
        if !entry.path().is_dir() {
            continue;
        }
        match entry.file_name().into_string() {
            Ok(name) if !name.starts_with('.') => children.push(name),
            Ok(_) => {}
            Err(name) => unreadable.push(name.to_string_lossy().into_owned()),
        }
    }
    children.sort();
    Ok((children, unreadable))
}
