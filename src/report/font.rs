//! The font figure text is drawn with: a TrueType file from the system,
//! registered once with plotters as `sans-serif`.

use std::path::PathBuf;
use std::sync::OnceLock;

use plotters::style::{register_font, FontStyle};

use super::ReportError;

/// Environment variable naming a `.ttf` file to use instead.
pub const FONT_ENV: &str = "RUNNER_FONT";

/// Where the usual sans-serif fonts live (Debian and Ubuntu, Fedora, Arch, macOS).
pub const FONT_PATHS: &[&str] = &[
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu-sans-fonts/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
    "/Library/Fonts/Arial.ttf",
];

fn candidates() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::env::var_os(FONT_ENV).map(PathBuf::from).into_iter().collect();
    v.extend(FONT_PATHS.iter().map(PathBuf::from));
    v
}

fn load() -> Result<PathBuf, String> {
    let paths = candidates();
    for path in &paths {
        let Ok(bytes) = std::fs::read(path) else { continue };
        // plotters keeps fonts for the life of the process.
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        if register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
            return Ok(path.clone());
        }
    }
    Err(paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "))
}

/// Registers the font on first use; the path it was read from.
pub fn ensure() -> Result<PathBuf, ReportError> {
    static FONT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    FONT.get_or_init(load).clone().map_err(|tried| ReportError::NoFont { tried })
}
