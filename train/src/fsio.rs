//! Atomic file writes: write a temporary file beside the target, fsync it,
//! rename it over the target, fsync the directory. A killed process leaves
//! either the old file or the new one, never half of one.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// A temporary path beside `path` (same directory, so rename is atomic).
pub fn temp_beside(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Flushes a file's contents to disk.
pub fn sync_file(path: &Path) -> Result<()> {
    File::open(path).and_then(|f| f.sync_all()).map_err(Error::io(path))
}

/// Flushes a directory entry (after a rename into it).
pub fn sync_dir(dir: &Path) -> Result<()> {
    // Directories can be fsynced on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(f) => {
            let _ = f.sync_all();
            Ok(())
        }
        Err(e) => Err(Error::io(dir)(e)),
    }
}

/// Renames `from` over `to` and syncs the directory.
pub fn commit(from: &Path, to: &Path) -> Result<()> {
    fs::rename(from, to).map_err(Error::io(to))?;
    sync_dir(to.parent().unwrap_or(Path::new(".")))
}

/// Writes `bytes` to `path` atomically.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = temp_beside(path);
    let result = (|| {
        let mut f = File::create(&tmp).map_err(Error::io(&tmp))?;
        f.write_all(bytes).and_then(|()| f.sync_all()).map_err(Error::io(&tmp))?;
        commit(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_whole_files_and_leaves_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        let err = write_atomic(&dir.path().join("missing/x"), b"").unwrap_err().to_string();
        assert!(err.contains("missing"), "{err}");
    }
}
