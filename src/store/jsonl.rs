//! `samples.jsonl`: one JSON object per finished sample, appended whole,
//! flushed and fsynced. A crash mid-write can leave a last line without its
//! newline (torn); reading detects it and the writer cuts it off before
//! appending, so only whole records remain.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};

use super::StoreError;

/// The whole lines of a records file, and whether a torn tail followed them.
#[derive(Debug, Clone, PartialEq)]
pub struct Lines {
    pub values: Vec<serde_json::Value>,
    /// Bytes of whole lines (the offset a torn tail starts at).
    pub whole_bytes: u64,
    /// Bytes after the last newline (0 when the file ends cleanly).
    pub torn_bytes: u64,
}

/// Reads every whole line of `path` as JSON (a missing file has none). A
/// whole line that is not JSON is corruption and an error; a tail without
/// newline is reported, not parsed.
pub fn read(path: &Path) -> Result<Lines, StoreError> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lines { values: Vec::new(), whole_bytes: 0, torn_bytes: 0 }),
        Err(e) => return Err(StoreError::Io { path: path.into(), source: e }),
    };
    let mut reader = BufReader::new(file);
    let mut values = Vec::new();
    let mut offset = 0u64;
    let mut buf = Vec::new();
    let mut line_no = 0;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).map_err(StoreError::io(path))?;
        if n == 0 {
            return Ok(Lines { values, whole_bytes: offset, torn_bytes: 0 });
        }
        if buf.last() != Some(&b'\n') {
            return Ok(Lines { values, whole_bytes: offset, torn_bytes: n as u64 });
        }
        line_no += 1;
        let value = serde_json::from_slice(&buf[..n - 1]).map_err(|e| StoreError::Corrupt {
            path: path.into(),
            line: line_no,
            message: format!("not a JSON record ({e}); the file was changed by something other than runner"),
        })?;
        values.push(value);
        offset += n as u64;
    }
}

/// Appends records to one file.
pub struct Appender {
    path: PathBuf,
    file: File,
}

impl Appender {
    /// Opens `path` for appending, first cutting off a torn tail (a record
    /// that was never completed, hence never counted). Only the holder of
    /// the lock that guards `path` may open it: a torn tail may be another
    /// writer's line in progress.
    pub fn open(path: &Path) -> Result<(Appender, u64), StoreError> {
        let lines = read(path)?;
        // O_APPEND: every line goes to the end of the file as it is at the
        // time of the write, never to a position learnt earlier.
        let file = OpenOptions::new().create(true).append(true).open(path).map_err(StoreError::io(path))?;
        if lines.torn_bytes > 0 {
            file.set_len(lines.whole_bytes).map_err(StoreError::io(path))?;
            file.sync_all().map_err(StoreError::io(path))?;
        }
        Ok((Appender { path: path.into(), file }, lines.torn_bytes))
    }

    /// Writes `value` as one line and makes it durable before returning.
    pub fn append<T: serde::Serialize>(&mut self, value: &T) -> Result<(), StoreError> {
        let mut line = Vec::new();
        push_line(&mut line, value, &self.path)?;
        self.file.write_all(&line).map_err(StoreError::io(&self.path))?;
        self.file.flush().map_err(StoreError::io(&self.path))?;
        self.file.sync_data().map_err(StoreError::io(&self.path))
    }
}

/// `value` as one JSON line appended to `out` (`path` names the file in
/// the error).
fn push_line<T: serde::Serialize>(out: &mut Vec<u8>, value: &T, path: &Path) -> Result<(), StoreError> {
    serde_json::to_writer(&mut *out, value).map_err(|e| StoreError::Corrupt {
        path: path.into(),
        line: 0,
        message: format!("record has no JSON form: {e}"),
    })?;
    out.push(b'\n');
    Ok(())
}

/// Writes `values` as a new file of JSON lines, whole or not at all.
pub fn write_new<T: serde::Serialize>(path: &Path, values: &[T]) -> Result<(), StoreError> {
    let mut text = Vec::new();
    for v in values {
        push_line(&mut text, v, path)?;
    }
    super::write_atomic(path, &text)
}

/// The raw bytes of `path` (for byte comparisons in checks).
pub fn bytes(path: &Path) -> Result<Vec<u8>, StoreError> {
    let mut v = Vec::new();
    File::open(path).and_then(|mut f| f.read_to_end(&mut v)).map_err(StoreError::io(path))?;
    Ok(v)
}
