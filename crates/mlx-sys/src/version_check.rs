//! Reading MLX's version from its `version.h`, shared by build.rs (which
//! refuses a mismatch) and the crate's tests.

/// The MLX release whose C++ API mlx-c 0.7.0 was written against.
pub const REQUIRED_MLX: &str = "0.32.2";

/// `MAJOR.MINOR.PATCH` from the text of MLX's `include/mlx/version.h`.
pub fn parse_version_header(text: &str) -> Result<String, String> {
    let field = |name: &str| -> Result<u32, String> {
        text.lines()
            .find_map(|l| l.trim().strip_prefix("#define ")?.strip_prefix(name)?.trim().parse::<u32>().ok())
            .ok_or_else(|| format!("version.h defines no {name}"))
    };
    Ok(format!("{}.{}.{}", field("MLX_VERSION_MAJOR")?, field("MLX_VERSION_MINOR")?, field("MLX_VERSION_PATCH")?))
}

/// Ok for the required version; otherwise the message that says what to install.
pub fn check_version(found: &str, location: &str) -> Result<(), String> {
    if found == REQUIRED_MLX {
        return Ok(());
    }
    Err(format!(
        "found MLX {found} at {location}, but mlx-c 0.7.0 (mlx-rs 0.33.0) needs MLX {REQUIRED_MLX} exactly.\n\
         Install it with: .venv/bin/pip install 'mlx[cpu]=={REQUIRED_MLX}' (Linux; 'mlx[cuda12]=={REQUIRED_MLX}' \
         for NVIDIA GPUs) or 'mlx=={REQUIRED_MLX}' (macOS), or run `make setup`."
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEADER: &str = "#pragma once\n#define MLX_VERSION_MAJOR 0\n#define MLX_VERSION_MINOR 32\n#define MLX_VERSION_PATCH 4\n";

    #[test]
    fn reads_the_version_header() {
        assert_eq!(parse_version_header(HEADER).unwrap(), "0.32.4");
        assert!(parse_version_header("#define MLX_VERSION_MAJOR 0\n").is_err());
    }

    #[test]
    fn a_mismatched_mlx_is_refused_with_the_version_to_install() {
        let msg = check_version("0.32.4", "/x/mlx").unwrap_err();
        assert!(msg.contains("found MLX 0.32.4 at /x/mlx"), "{msg}");
        assert!(msg.contains("mlx[cpu]==0.32.2"), "{msg}");
        assert!(check_version("0.32.2", "/x/mlx").is_ok());
    }
}
