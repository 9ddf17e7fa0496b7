//! The groups of an HDF5 or netCDF-4 file, with their attributes: listing
//! them as h5py and xarray show them, and creating them so those read the
//! same values back. The root group's attributes of a netCDF-4 file are its
//! global attributes (xarray's `Dataset.attrs`).

use std::path::Path;

use serde_json::{Map, Value};

use super::{normalize, pure, pure_create, Backend};
use crate::error::Result;

/// Every group of the HDF5 or netCDF-4 file at `path`, with its
/// attributes, read with the pure backend.
///
/// Groups are named as [`list_datasets`](super::list_datasets) names
/// datasets: paths without the leading `/`, so the root group is `""`.
/// They are sorted by path component, so the root comes first and each
/// group right before its subgroups. Attributes are what
/// [`Hdf5Store`](super::Hdf5Store) shows for a dataset's: JSON values,
/// one-element arrays unwrapped, netCDF and dimension-scale bookkeeping
/// ([`HIDDEN_ATTRIBUTES`](super::HIDDEN_ATTRIBUTES): `_NCProperties`,
/// `_nc3_strict`, …) left out, and attributes JSON cannot show
/// (references, compounds) skipped. A group reached by several hard links
/// is listed once.
///
/// ```
/// use ndchunk_io::hdf5::{create_group, list_groups, Backend};
/// use serde_json::{json, Value};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("groups.nc");
/// let attrs = |v: Value| v.as_object().cloned().unwrap_or_default();
/// create_group(&path, "", &attrs(json!({"title": "demo"})), Backend::Pure).unwrap();
/// create_group(&path, "model/run1", &attrs(json!({"members": [1, 2]})), Backend::Pure).unwrap();
///
/// let groups = list_groups(&path).unwrap();
/// let names: Vec<&str> = groups.iter().map(|(name, _)| name.as_str()).collect();
/// assert_eq!(names, ["", "model", "model/run1"]);
/// assert_eq!(groups[0].1["title"], "demo");
/// assert_eq!(groups[2].1["members"], json!([1, 2]));
/// ```
pub fn list_groups(path: &Path) -> Result<Vec<(String, Map<String, Value>)>> {
    list_groups_with(path, Backend::Pure)
}

/// [`list_groups`] with a chosen backend; both give the same result.
pub fn list_groups_with(
    path: &Path,
    backend: Backend,
) -> Result<Vec<(String, Map<String, Value>)>> {
    let mut out = match backend {
        Backend::Pure => pure::groups(path)?,
        Backend::LibHdf5 => lib_groups(path)?,
    };
    out.sort_by(|a, b| a.0.split('/').cmp(b.0.split('/')));
    super::checked_names(path, out)
}

/// Creates group `group` (a path inside the file, `/` optional; `""` or
/// `"/"` is the root group) in the HDF5 file at `path`, and sets
/// `attributes` on it.
///
/// The file is made if it does not exist; the group and any missing parent
/// groups are made; attributes the group has already keep their values
/// unless `attributes` names them, in which case they are replaced. Values
/// are written as [`Hdf5Store::create`](super::Hdf5Store::create) writes a
/// dataset's, so that h5py, netCDF4-python and xarray read them back as
/// the same values (for the root group, as the file's global attributes):
/// strings as strings (fixed-length with the pure backend, as netCDF-C
/// writes them), integers as `int64` (`uint64` past its range), other
/// numbers as `float64`, arrays of numbers or of strings as 1-D arrays,
/// booleans as `int8` 0/1 (netCDF has no boolean type), and anything else
/// (null, objects, mixed arrays) as its JSON text. With the pure backend,
/// arrays of strings are variable-length strings, which only HDF5 ≥ 2.0
/// reads (see [`Hdf5Store::create`](super::Hdf5Store::create)).
///
/// Errors, with the file left as it was: `path` exists but is not an HDF5
/// file ([`IoError::NotAStore`](crate::IoError::NotAStore)); `group` or one
/// of its parents is a dataset
/// ([`IoError::Metadata`](crate::IoError::Metadata)); with the pure
/// backend, a store of this process is still writing the file
/// ([`IoError::Storage`](crate::IoError::Storage)).
///
/// **All or nothing** (pure backend). The work is done in a hidden file
/// beside `path` (`.NAME.ndchunk-….tmp`; a copy of the file, if it exists),
/// renamed over `path` once complete; so a failure midway (a full disk, a
/// quota: [`IoError::Storage`](crate::IoError::Storage)) leaves no new
/// file behind, and an existing file byte for byte as it was. The price:
/// adding a group to an existing file copies it (cheap on filesystems that
/// share copied blocks, such as Btrfs and XFS), needs room for the copy,
/// and gives the file a new inode (other hard links keep the old content).
/// The libhdf5 backend edits the file in place.
///
/// **Order with datasets.** With the pure backend a file has one writer at
/// a time, and an [`Hdf5Store`](super::Hdf5Store) created for writing
/// holds the file until it is [`flush`](super::Hdf5Store::flush)ed or
/// dropped: create groups before creating a store in the file, or after
/// flushing it — a call in between is refused, never interleaved. The
/// libhdf5 backend has no such rule within one process.
pub fn create_group(
    path: &Path,
    group: &str,
    attributes: &Map<String, Value>,
    backend: Backend,
) -> Result<()> {
    let group = normalize(group);
    match backend {
        Backend::Pure => pure_create::create_group(path, &group, attributes),
        Backend::LibHdf5 => lib_create_group(path, &group, attributes),
    }
}

/// `a`, `a/b`, `a/b/c` for the normalized path `a/b/c` (nothing for the
/// root): the objects that must all be groups for `group` to be one.
pub(crate) fn ancestors(group: &str) -> impl Iterator<Item = &str> {
    group
        .match_indices('/')
        .map(|(at, _)| &group[..at])
        .chain((!group.is_empty()).then_some(group))
}

#[cfg(feature = "libhdf5")]
fn lib_groups(path: &Path) -> Result<Vec<(String, Map<String, Value>)>> {
    super::libhdf5::groups(path)
}

#[cfg(feature = "libhdf5")]
fn lib_create_group(path: &Path, group: &str, attributes: &Map<String, Value>) -> Result<()> {
    super::libhdf5::create_group(path, group, attributes)
}

#[cfg(not(feature = "libhdf5"))]
fn lib_groups(path: &Path) -> Result<Vec<(String, Map<String, Value>)>> {
    Err(super::no_libhdf5(path))
}

#[cfg(not(feature = "libhdf5"))]
fn lib_create_group(path: &Path, _group: &str, _attributes: &Map<String, Value>) -> Result<()> {
    Err(super::no_libhdf5(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ancestors_run_from_the_top() {
        assert_eq!(
            ancestors("a/b/c").collect::<Vec<_>>(),
            ["a", "a/b", "a/b/c"]
        );
        assert_eq!(ancestors("a").collect::<Vec<_>>(), ["a"]);
        assert_eq!(ancestors("").count(), 0);
    }
}
