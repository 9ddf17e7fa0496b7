//! Names for the dimensions of HDF5 datasets without dimension scales, as
//! netCDF-C (xarray's `netcdf4` engine) gives them: `phony_dim_<n>`, one
//! per length per group, shared by the group's datasets. netCDF-C numbers
//! dimensions file-wide: the real ones (dimension scales) first, then the
//! phony ones as it meets them, visiting each group's subgroups (by name)
//! before its own datasets (by name). An axis takes the group's first
//! dimension of its length that the dataset does not use already (a real
//! one included), else a new phony one.

use std::cmp::Ordering;
use std::collections::HashMap;

use crate::io::hdf5::DatasetLayout;
use crate::io::ArrayMeta;

/// The dimension names of each dataset (by path) that lacks a name on some
/// axis, given every dataset of the file (of any element type: netCDF-C
/// counts strings too), its 1-D dimension scales (path, length; strings
/// too) and its groups (paths, `""` the root).
pub(crate) fn phony_dims(
    datasets: &[(String, DatasetLayout)],
    scales: &[(String, u64)],
    groups: &[String],
) -> HashMap<String, Vec<String>> {
    let mut out = HashMap::new();
    let mut order: Vec<&String> = groups.iter().collect();
    order.sort_by(|a, b| post_order(a, b));
    let mut next = scales.len();
    for group in order {
        // The group's dimensions, real then phony: (name, length).
        let mut dims: Vec<(String, u64)> = scales
            .iter()
            .filter(|(path, _)| parent(path) == group)
            .map(|(path, len)| (basename(path).to_string(), *len))
            .collect();
        for (path, layout) in datasets.iter().filter(|(p, _)| parent(p) == group) {
            let ndim = layout.shape.len();
            if !names_missing(layout.dimension_names.as_deref(), ndim) {
                continue;
            }
            let given = layout.dimension_names.clone().unwrap_or_default();
            let mut names: Vec<Option<String>> = (0..ndim)
                .map(|axis| given.get(axis).cloned().flatten())
                .collect();
            for (axis, &len) in layout.shape.iter().enumerate() {
                if names[axis].is_some() {
                    continue;
                }
                let free = dims
                    .iter()
                    .find(|(name, l)| *l == len && !names.contains(&Some(name.clone())));
                let name = match free {
                    Some((name, _)) => name.clone(),
                    None => {
                        let name = format!("phony_dim_{next}");
                        next += 1;
                        dims.push((name.clone(), len));
                        name
                    }
                };
                names[axis] = Some(name);
            }
            out.insert(path.clone(), names.into_iter().flatten().collect());
        }
    }
    out
}

/// Whether some axis of the dataset has no dimension name.
pub(crate) fn lacks_names(meta: &ArrayMeta) -> bool {
    names_missing(meta.dimension_names.as_deref(), meta.grid.ndim())
}

/// Whether some of `ndim` axes has no name in `names`.
fn names_missing(names: Option<&[Option<String>]>, ndim: usize) -> bool {
    match names {
        Some(names) => names.iter().any(Option::is_none),
        None => ndim > 0,
    }
}

/// The group holding `path` (`""` for the root).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn basename(path: &str) -> &str {
    path.rsplit_once('/').map_or(path, |(_, b)| b)
}

/// Groups in the order netCDF-C visits them: subgroups before their
/// parent, siblings by name.
fn post_order(a: &str, b: &str) -> Ordering {
    let parts = |p: &str| -> Vec<String> {
        p.split('/')
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect()
    };
    let (a, b) = (parts(a), parts(b));
    match a.iter().zip(&b).find(|(x, y)| x != y) {
        Some((x, y)) => x.cmp(y),
        // One is the other's ancestor: the deeper comes first.
        None => b.len().cmp(&a.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_visited_children_first_siblings_by_name() {
        let mut groups: Vec<&str> = vec!["", "b", "a", "a/c"];
        groups.sort_by(|x, y| post_order(x, y));
        assert_eq!(groups, ["a/c", "a", "b", ""]);
    }
}
