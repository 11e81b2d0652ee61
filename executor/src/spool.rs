//! [`FileSpool`]: where `wesley apply` keeps the summaries and SQL of a plan's steps while
//! it runs (`wesley_planner::planfile::read`), so that its memory does not grow with them.

use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use wesley_planner::planfile::Spool;

/// A private temporary file (created in `$TMPDIR` and unlinked at once, so only this
/// process can reach it, and it is gone when the process ends), written through a buffer
/// while the plan is read and read back one step at a time. The plan file itself is never
/// read again: changing it after it was validated changes nothing the run does; and every
/// read-back is checked against the digest taken when it was written
/// (`ValidPlan::text`).
#[derive(Debug)]
pub struct FileSpool {
    file: File,
    /// Appended bytes not yet written to `file`.
    buf: Vec<u8>,
    /// Bytes written to `file`.
    written: u64,
}

/// Appends are written to the file in pieces of about this many bytes.
const BUFFER: usize = 1 << 16;

impl FileSpool {
    /// A new, empty spool. Errors are those of creating a temporary file.
    pub fn new() -> io::Result<FileSpool> {
        Ok(FileSpool {
            file: tempfile::tempfile()?,
            buf: Vec::with_capacity(BUFFER),
            written: 0,
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        (&self.file).write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

impl Spool for FileSpool {
    fn append(&mut self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.written + self.buf.len() as u64;
        self.buf.extend_from_slice(bytes);
        if self.buf.len() >= BUFFER {
            self.flush()?;
        }
        Ok(at)
    }

    fn seal(&mut self) -> io::Result<()> {
        self.flush()?;
        self.buf = Vec::new();
        Ok(())
    }

    fn read_at(&self, offset: u64, len: usize) -> io::Result<Vec<u8>> {
        let end = offset.saturating_add(len as u64);
        if end > self.written {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "beyond the end of the spool",
            ));
        }
        let mut out = vec![0; len];
        self.file.read_exact_at(&mut out, offset)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_was_appended_across_flushes() {
        let mut s = FileSpool::new().unwrap();
        let pieces: Vec<Vec<u8>> = (0..200u32)
            .map(|i| vec![(i % 251) as u8; (i as usize * 37) % 3000 + 1])
            .collect();
        let at: Vec<u64> = pieces.iter().map(|p| s.append(p).unwrap()).collect();
        s.seal().unwrap();
        for (p, &o) in pieces.iter().zip(&at) {
            assert_eq!(&s.read_at(o, p.len()).unwrap(), p);
        }
        assert!(s.read_at(*at.last().unwrap(), 1 << 20).is_err());
    }
}
