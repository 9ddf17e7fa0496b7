//! `chunkctl info`: the tree of a store, like `ncdump -h` or `zarr info`.

use std::error::Error;
use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args;
use ndchunk::chunking::format_bytes;
use ndchunk::io::info::{inspect_tree, NodeInfo};
use serde_json::{Map, Value};

#[derive(Debug, Args)]
pub struct InfoArgs {
    /// A Zarr store or array directory (v2 or v3), an HDF5/netCDF-4 or
    /// netCDF-3 file, or one dataset or group of a file (`FILE:/NAME`).
    path: PathBuf,
    /// Print the tree as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &InfoArgs) -> Result<(), Box<dyn Error>> {
    let listing = inspect_tree(&args.path)?;
    // What the listing did not follow or found stale (a Zarr store's
    // symlink loops, consolidated metadata), said on stderr.
    for warning in &listing.warnings {
        eprintln!("chunkctl: warning: {warning}");
    }
    let nodes = listing.nodes;
    if args.json {
        let out: Vec<Value> = nodes.iter().map(node_json).collect();
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        print!("{}", tree(&args.path.display().to_string(), &nodes));
        let arrays: Vec<&NodeInfo> = nodes.iter().filter(|n| n.array.is_some()).collect();
        if !arrays.is_empty()
            && arrays
                .iter()
                .all(|n| n.array.as_ref().is_some_and(|m| m.shape().is_empty()))
        {
            println!(
                "every array is 0-d (a scalar): nothing to chunk; \
                 `chunkctl rechunk --chunks ''` copies them as they are"
            );
        }
    }
    // Everything that could be shown was; an array that cannot be opened
    // still fails the command (one of an element type ndchunk does not
    // move, a string array say, is shown, not broken).
    let broken: Vec<String> = nodes
        .iter()
        .filter(|n| n.unsupported_dtype.is_none())
        .filter_map(|n| Some(format!("{} ({})", n.path, n.error.as_ref()?)))
        .collect();
    if !broken.is_empty() {
        return Err(format!(
            "{} cannot be opened: {}",
            if broken.len() == 1 {
                "1 array".to_string()
            } else {
                format!("{} arrays", broken.len())
            },
            broken.join("; ")
        )
        .into());
    }
    Ok(())
}

fn node_json(node: &NodeInfo) -> Value {
    let mut v = serde_json::to_value(node).unwrap_or(Value::Null);
    if let (Some(meta), Value::Object(map)) = (&node.array, &mut v) {
        map.insert("shape".into(), serde_json::json!(meta.shape()));
        map.insert("dims".into(), serde_json::json!(meta.dims_or_default()));
        map.insert("dtype".into(), serde_json::json!(meta.dtype.name()));
        map.insert(
            "chunk_shape".into(),
            serde_json::json!(meta.grid.chunk_shape()),
        );
        map.insert(
            "chunks_total".into(),
            serde_json::json!(node.chunks_total()),
        );
        map.insert(
            "logical_bytes".into(),
            serde_json::json!(meta.logical_bytes()),
        );
    }
    v
}

/// Attributes on one line, long values shortened.
fn short_attrs(attrs: &Map<String, Value>) -> String {
    let mut parts = Vec::new();
    for (k, v) in attrs {
        let mut text = v.to_string();
        if text.chars().count() > 40 {
            text = text.chars().take(37).collect::<String>() + "...";
        }
        parts.push(format!("{k}={text}"));
    }
    parts.join(", ")
}

fn tree(root: &str, nodes: &[NodeInfo]) -> String {
    let mut out = String::new();
    for node in nodes {
        let depth = node
            .path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .count();
        let indent = "  ".repeat(depth);
        let name = if node.path == "/" {
            root.to_string()
        } else {
            node.path.rsplit('/').next().unwrap_or("").to_string()
        };
        if let Some(target) = &node.link {
            let _ = writeln!(
                out,
                "{indent}{name}  [{}] {target} (not followed)",
                node.format
            );
            continue;
        }
        match (&node.array, &node.error) {
            (_, Some(error)) => {
                let _ = writeln!(
                    out,
                    "{indent}{name}  [{}] array that ndchunk cannot open: {error}",
                    node.format
                );
            }
            (Some(meta), None) if meta.shape().is_empty() => {
                // No axes: nothing to chunk, one value.
                let _ = writeln!(
                    out,
                    "{indent}{name}  [{}] {} 0-d array (a scalar)",
                    node.format, meta.dtype
                );
                let codecs = if meta.codecs.is_empty() {
                    "none".to_string()
                } else {
                    meta.codecs.join(" | ")
                };
                let _ = writeln!(
                    out,
                    "{indent}    no axes to chunk, codecs {codecs}, fill {}, {}",
                    meta.fill_value,
                    format_bytes(meta.logical_bytes())
                );
                if !meta.attributes.is_empty() {
                    let _ = writeln!(out, "{indent}    attrs: {}", short_attrs(&meta.attributes));
                }
            }
            (Some(meta), None) => {
                let dims: Vec<String> = meta
                    .dims_or_default()
                    .iter()
                    .zip(meta.shape())
                    .map(|(d, n)| format!("{d}: {n}"))
                    .collect();
                let _ = writeln!(
                    out,
                    "{indent}{name}  [{}] {} ({})",
                    node.format,
                    meta.dtype,
                    dims.join(", ")
                );
                let mut line = format!("chunks {:?}", meta.grid.chunk_shape());
                if let Some(inner) = &meta.inner_chunk_shape {
                    line = format!("shards {:?} of chunks {inner:?}", meta.grid.chunk_shape());
                }
                let codecs = if meta.codecs.is_empty() {
                    "none".to_string()
                } else {
                    meta.codecs.join(" | ")
                };
                let _ = writeln!(
                    out,
                    "{indent}    {line}, codecs {codecs}, fill {}",
                    meta.fill_value
                );
                let total = meta.grid.num_blocks();
                let logical = meta.logical_bytes();
                let mut storage = format!("{total} chunks");
                if let (Some(written), Some(stored)) = (node.chunks_written, node.stored_bytes) {
                    let ratio = if stored > 0 {
                        format!(" ({:.2}x)", logical as f64 / stored as f64)
                    } else {
                        String::new()
                    };
                    storage = format!(
                        "{total} chunks ({written} written), {} logical, {} stored{ratio}",
                        format_bytes(logical),
                        format_bytes(stored)
                    );
                }
                let _ = writeln!(out, "{indent}    {storage}");
                if !meta.attributes.is_empty() {
                    let _ = writeln!(out, "{indent}    attrs: {}", short_attrs(&meta.attributes));
                }
            }
            (None, None) => {
                let _ = write!(out, "{indent}{name}/  [{}] group", node.format);
                if !node.attributes.is_empty() {
                    let _ = write!(out, "  attrs: {}", short_attrs(&node.attributes));
                }
                out.push('\n');
            }
        }
    }
    out
}
