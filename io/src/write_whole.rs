//! Writing a small file whole or not at all.

use std::path::{Path, PathBuf};

/// Writes `bytes` to `path` whole or not at all: into a file beside it
/// (`.NAME.PID.tmp`, named for this process, so two writers never share
/// one), then renamed over `path`, so a kill or a full disk never leaves a
/// torn file. Nothing is deleted: if the rename fails, the error names the
/// file left beside `path`.
pub fn write_whole(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let aside = aside_of(path);
    std::fs::write(&aside, bytes)?;
    std::fs::rename(&aside, path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("{e} (the new contents are left in {})", aside.display()),
        )
    })
}

fn aside_of(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.{}.tmp", std::process::id()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_file_is_replaced_whole_and_nothing_is_left_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(dir.path().join("plan.tmp"), b"theirs").unwrap();
        super::write_whole(&path, b"one").unwrap();
        super::write_whole(&path, b"two").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"two");
        assert_eq!(
            std::fs::read(dir.path().join("plan.tmp")).unwrap(),
            b"theirs"
        );
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
