//! A safetensors file checked before MLX reads it: the header length, the
//! JSON header, and every tensor's dtype, shape and byte range against the
//! file, so a truncated or hostile file is an error naming what is wrong
//! instead of a read past its end or an allocation of its choosing.

use std::io::Read;
use std::path::Path;

/// Largest header read (real ones are kilobytes to a few megabytes).
pub const MAX_HEADER: u64 = 100 << 20;

/// Bytes per element of the dtypes safetensors names.
fn dtype_size(dtype: &str) -> Option<u64> {
    Some(match dtype {
        "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" => 1,
        "U16" | "I16" | "F16" | "BF16" => 2,
        "U32" | "I32" | "F32" => 4,
        "U64" | "I64" | "F64" => 8,
        _ => return None,
    })
}

/// Checks the safetensors file at `path`; the error says what is wrong.
pub fn check(path: &Path) -> Result<(), String> {
    let mut f = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    let mut n = [0u8; 8];
    f.read_exact(&mut n).map_err(|_| format!("{len} bytes: too short for a safetensors header"))?;
    let header_len = u64::from_le_bytes(n);
    if header_len > MAX_HEADER || header_len.saturating_add(8) > len {
        return Err(format!("header length {header_len} does not fit the file of {len} bytes (at most {MAX_HEADER})"));
    }
    let mut text = vec![0u8; header_len as usize];
    f.read_exact(&mut text).map_err(|e| format!("header: {e}"))?;
    let header: serde_json::Map<String, serde_json::Value> =
        serde_json::from_slice(&text).map_err(|e| format!("header is not a JSON object: {e}"))?;
    let data = len - 8 - header_len;
    for (name, t) in &header {
        if name == "__metadata__" {
            continue;
        }
        let dtype = t.get("dtype").and_then(|d| d.as_str()).ok_or_else(|| format!("tensor `{name}`: no dtype"))?;
        let size = dtype_size(dtype).ok_or_else(|| format!("tensor `{name}`: unknown dtype `{dtype}`"))?;
        let shape = t.get("shape").and_then(|s| s.as_array()).ok_or_else(|| format!("tensor `{name}`: no shape"))?;
        let mut elements: u64 = 1;
        for d in shape {
            let d = d.as_u64().ok_or_else(|| format!("tensor `{name}`: shape {shape:?} is not a list of sizes"))?;
            elements = elements.checked_mul(d).ok_or_else(|| format!("tensor `{name}`: shape {shape:?} overflows"))?;
        }
        let offsets = t
            .get("data_offsets")
            .and_then(|o| o.as_array())
            .filter(|o| o.len() == 2)
            .ok_or_else(|| format!("tensor `{name}`: no data_offsets"))?;
        let (begin, end) = match (offsets[0].as_u64(), offsets[1].as_u64()) {
            (Some(b), Some(e)) if b <= e => (b, e),
            _ => return Err(format!("tensor `{name}`: data_offsets {offsets:?} are not a byte range")),
        };
        if end > data {
            return Err(format!("tensor `{name}`: bytes {begin}..{end} lie beyond the {data} data bytes of the file"));
        }
        if elements.checked_mul(size) != Some(end - begin) {
            return Err(format!(
                "tensor `{name}`: {dtype} {shape:?} needs {} bytes, its range holds {}",
                elements.saturating_mul(size),
                end - begin
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str, data: usize) -> tempfile::NamedTempFile {
        let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend(std::iter::repeat_n(0u8, data));
        let f = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(f.path(), bytes).expect("write");
        f
    }

    #[test]
    fn good_files_pass_and_hostile_ones_are_named() {
        let ok = file(r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"__metadata__":{"format":"pt"}}"#, 24);
        assert_eq!(check(ok.path()), Ok(()));
        for (header, data, needle) in [
            (r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}}"#, 10, "beyond"),
            (r#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,8]}}"#, 8, "overflows"),
            (r#"{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,8]}}"#, 8, "needs 24 bytes"),
            (r#"{"w":{"dtype":"Q9","shape":[1],"data_offsets":[0,1]}}"#, 1, "unknown dtype"),
            (r#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, 4, "not a list of sizes"),
            (r#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}"#, 8, "not a byte range"),
            (r#"[1, 2]"#, 0, "not a JSON object"),
        ] {
            let f = file(header, data);
            let e = check(f.path()).expect_err(header);
            assert!(e.contains(needle), "{header}: {e}");
        }
        let mut huge = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut huge, &u64::MAX.to_le_bytes()).expect("write");
        assert!(check(huge.path()).expect_err("huge").contains("header length"));
    }
}
