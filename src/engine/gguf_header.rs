//! A bounds-checked walk over a GGUF file's header before MLX reads it.
//! MLX's GGUF reader trusts the file; a truncated or corrupt header can
//! crash it. This checks the magic, version, every metadata entry, every
//! tensor's type and that its data lies inside the file.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// Tensor types MLX's GGUF loader reads: (id, name, block elements, block bytes).
const SUPPORTED: &[(u32, &str, u64, u64)] =
    &[(0, "F32", 1, 4), (1, "F16", 1, 2), (2, "Q4_0", 32, 18), (3, "Q4_1", 32, 20), (8, "Q8_0", 32, 34), (30, "BF16", 1, 2)];

/// Names of the other GGUF tensor types, for the error message.
fn type_name(id: u32) -> String {
    let names =
        ["F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K"];
    names.get(id as usize).map_or(format!("type {id}"), |n| (*n).to_owned())
}

/// Why a GGUF file is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    Corrupt(String),
    Unsupported(String),
}

struct Reader {
    inner: BufReader<File>,
    pos: u64,
    len: u64,
}

impl Reader {
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, HeaderError> {
        if n > self.len.saturating_sub(self.pos) {
            return Err(HeaderError::Corrupt(format!("header runs past the end of the file at byte {}", self.pos)));
        }
        let mut buf = vec![0u8; n as usize];
        self.inner.read_exact(&mut buf).map_err(|e| HeaderError::Corrupt(format!("read failed at byte {}: {e}", self.pos)))?;
        self.pos += n;
        Ok(buf)
    }

    fn u32(&mut self) -> Result<u32, HeaderError> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, HeaderError> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&b);
        Ok(u64::from_le_bytes(a))
    }

    fn string(&mut self) -> Result<String, HeaderError> {
        let n = self.u64()?;
        let b = self.bytes(n)?;
        String::from_utf8(b).map_err(|_| HeaderError::Corrupt(format!("a string before byte {} is not UTF-8", self.pos)))
    }

    /// Skips one metadata value of type `t`; returns it when it is a u32/u64
    /// (for `general.alignment`).
    fn value(&mut self, t: u32, depth: u32) -> Result<Option<u64>, HeaderError> {
        Ok(match t {
            0 | 1 | 7 => {
                self.bytes(1)?;
                None
            }
            2 | 3 => {
                self.bytes(2)?;
                None
            }
            4 => Some(u64::from(self.u32()?)),
            5 | 6 => {
                self.bytes(4)?;
                None
            }
            10 => Some(self.u64()?),
            11 | 12 => {
                self.bytes(8)?;
                None
            }
            8 => {
                self.string()?;
                None
            }
            9 if depth == 0 => {
                let item = self.u32()?;
                let n = self.u64()?;
                if n > self.len {
                    return Err(HeaderError::Corrupt(format!("an array claims {n} items")));
                }
                for _ in 0..n {
                    self.value(item, depth + 1)?;
                }
                None
            }
            other => return Err(HeaderError::Corrupt(format!("unknown metadata type {other} at byte {}", self.pos))),
        })
    }
}

/// Checks `path`; Ok when MLX can read it safely.
pub fn check(path: &Path) -> Result<(), HeaderError> {
    let file = File::open(path).map_err(|e| HeaderError::Corrupt(e.to_string()))?;
    let len = file.metadata().map_err(|e| HeaderError::Corrupt(e.to_string()))?.len();
    let mut r = Reader { inner: BufReader::new(file), pos: 0, len };
    if r.bytes(4)? != b"GGUF" {
        return Err(HeaderError::Corrupt("not a GGUF file (bad magic)".into()));
    }
    let version = r.u32()?;
    if !(2..=3).contains(&version) {
        return Err(HeaderError::Unsupported(format!("GGUF version {version} (supported: 2, 3)")));
    }
    let tensors = r.u64()?;
    let kvs = r.u64()?;
    // Each metadata entry takes at least 13 bytes (key length, one byte of
    // key, type, one byte of value) and each tensor entry at least 33
    // (name length, one byte of name, dimension count, one dimension, type,
    // offset): counts the file cannot hold are refused before any loop.
    if kvs.saturating_mul(13).saturating_add(tensors.saturating_mul(33)) > len {
        return Err(HeaderError::Corrupt(format!(
            "implausible counts for a file of {len} bytes: {tensors} tensors, {kvs} metadata entries"
        )));
    }
    let mut alignment = 32u64;
    for _ in 0..kvs {
        let key = r.string()?;
        let t = r.u32()?;
        let v = r.value(t, 0)?;
        if key == "general.alignment" {
            alignment = v.filter(|a| *a > 0 && a.is_power_of_two()).ok_or_else(|| HeaderError::Corrupt("bad general.alignment".into()))?;
        }
    }
    let mut extents = Vec::with_capacity(tensors as usize);
    for _ in 0..tensors {
        let name = r.string()?;
        let dims = r.u32()?;
        if dims == 0 || dims > 4 {
            return Err(HeaderError::Corrupt(format!("tensor {name} has {dims} dimensions")));
        }
        let mut count: u64 = 1;
        for _ in 0..dims {
            count = count.checked_mul(r.u64()?).ok_or_else(|| HeaderError::Corrupt(format!("tensor {name} is too large")))?;
        }
        let t = r.u32()?;
        let offset = r.u64()?;
        let (_, _, block, bytes) = SUPPORTED.iter().find(|s| s.0 == t).ok_or_else(|| {
            HeaderError::Unsupported(format!("tensor {name} is {} (supported: F32, F16, BF16, Q4_0, Q4_1, Q8_0)", type_name(t)))
        })?;
        if count % block != 0 {
            return Err(HeaderError::Corrupt(format!("tensor {name} does not fill whole blocks")));
        }
        extents.push((name, offset, count / block * bytes));
    }
    let data_start = r.pos.div_ceil(alignment) * alignment;
    for (name, offset, size) in extents {
        let end = data_start.checked_add(offset).and_then(|s| s.checked_add(size));
        if end.is_none_or(|e| e > len) {
            return Err(HeaderError::Corrupt(format!("tensor {name} lies past the end of the file (truncated?)")));
        }
    }
    Ok(())
}
