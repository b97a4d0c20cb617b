//! Crash-safe file writing.

use std::fs::File;
use std::io::BufWriter;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{io_err, Result};

/// Makes temporary names unique between the threads of one process too.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Writes `path` through a temporary sibling (`.tmp-PID-SEQ-NAME`, in the same directory), fsyncs it
/// and renames it into place, so readers see either the old file, no file, or the whole new file;
/// never a partial one.
pub(crate) fn write_atomically(path: &Path, write: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let dir = path.parent().expect("file paths have a parent");
    let tmp = dir.join(format!(
        ".tmp-{}-{}-{}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed),
        path.file_name().expect("file name").to_string_lossy()
    ));
    let file = File::create(&tmp).map_err(io_err(&tmp))?;
    let mut buf = BufWriter::new(file);
    let result = write(&mut buf).and_then(|()| {
        let file = buf.into_inner().map_err(|e| io_err(&tmp)(e.into_error()))?;
        file.sync_all().map_err(io_err(&tmp))
    });
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    std::fs::rename(&tmp, path).map_err(io_err(path))?;
    sync_dir(dir);
    Ok(())
}

/// [`write_atomically`] of a byte string.
pub(crate) fn write_bytes_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomically(path, |w| w.write_all(bytes).map_err(io_err(path)))
}

/// Makes a rename durable. Best effort: not every filesystem supports fsync on directories.
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}
