//! Names read from a store or file are data, never paths.
//!
//! A group member, an array or a consolidated-metadata key names a node
//! *inside* a container; whoever writes the file chooses it. Before such a
//! name is joined onto a directory it must be a plain relative path of
//! plain components, or `..`, an absolute path or a separator hidden in a
//! component would reach outside the destination (a dataset named `..`
//! once made a rechunk delete the folder around its output).

use crate::error::{IoError, Result};

/// Checks a member path read from a container (`/group/array`, `t2m`;
/// `/` alone or empty is the root): every `/`-separated component must be
/// non-empty and must not be `.` or `..`, nor hold a `\` or a NUL, nor
/// (on Windows) a `:`; a path may not start with `//` or a drive. `where`
/// names the container in the error.
///
/// ```
/// use ndchunk_io::check_member_path;
/// assert!(check_member_path("/era5/t2m", "data.nc").is_ok());
/// assert!(check_member_path("/", "data.nc").is_ok());
/// assert!(check_member_path("..", "data.nc").is_err());
/// assert!(check_member_path("/a/../b", "data.nc").is_err());
/// ```
pub fn check_member_path(path: &str, r#where: &str) -> Result<()> {
    let refuse = |reason: &str| {
        Err(IoError::UnsafeName {
            location: r#where.to_string(),
            name: path.to_string(),
            reason: reason.to_string(),
        })
    };
    let relative = path.strip_prefix('/').unwrap_or(path);
    if relative.is_empty() {
        return Ok(());
    }
    for component in relative.split('/') {
        match component {
            "" => return refuse("it has an empty component"),
            "." | ".." => return refuse("`.` and `..` would name a directory outside the node"),
            _ if component.contains('\0') => return refuse("it holds a NUL byte"),
            _ if component.contains('\\') => return refuse("it holds a `\\`"),
            _ if cfg!(windows) && component.contains(':') => return refuse("it holds a `:`"),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_member_path;

    #[test]
    fn plain_paths_pass() {
        for ok in [
            "", "/", "t", "/t", "g/t", "/g/h/t", "a b", "..x", "x..", ".hidden",
        ] {
            assert!(check_member_path(ok, "f").is_ok(), "{ok:?}");
        }
    }

    #[test]
    fn paths_that_leave_the_node_are_refused() {
        for bad in [
            "..", ".", "/..", "../evil", "a/../b", "a/./b", "a//b", "//abs", "a/", "x\0y",
            "..\\evil", "a\\b",
        ] {
            let e = check_member_path(bad, "f.h5").unwrap_err().to_string();
            assert!(
                e.contains("f.h5") && e.contains("unsafe name"),
                "{bad:?}: {e}"
            );
        }
    }
}
