//! Writing results: to a file atomically (a temporary file renamed over it), or to
//! standard output.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Writes `text` to `path` atomically, or to stdout when `path` is `None` or `-`.
pub fn write(path: Option<&Path>, text: &str) -> std::io::Result<()> {
    match path {
        Some(p) if p.as_os_str() != "-" => write_atomic(p, text.as_bytes()),
        _ => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other,
            }
        }
    }
}

/// Writes a file so that readers see either the old or the new content, never a mix: a
/// temporary file in the same directory (tempfile), synced, then renamed over it. A path
/// that names something other than a regular file (`/dev/null`, a FIFO, a terminal) is
/// written to directly: renaming over it would replace the device with a file. A
/// symbolic link is followed, so the link stays and its target is replaced.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let target: PathBuf = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            return f.write_all(bytes).and_then(|_| f.flush());
        }
        Ok(_) => std::fs::canonicalize(path)?,
        Err(_) => path.to_path_buf(),
    };
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".wesley-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(&target).map(|_| ()).map_err(|e| e.error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_files_and_leaves_devices_and_links_alone() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("out.json");
        write_atomic(&file, b"one").unwrap();
        write_atomic(&file, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "two");
        // Something that is not a regular file (a FIFO here, /dev/null in real life) is
        // written to, not replaced by a file.
        let fifo = dir.path().join("pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        write_atomic(&fifo, b"through the pipe").unwrap();
        assert_eq!(reader.join().unwrap(), "through the pipe");
        assert!(
            !std::fs::metadata(&fifo).unwrap().is_file(),
            "the FIFO was replaced by a file"
        );
        // A link keeps pointing at its target, which gets the new content.
        let link = dir.path().join("link.json");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        write_atomic(&link, b"three").unwrap();
        assert!(std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "three");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
    }
}
