//! Raw bindings to mlx-c 0.7.0, built against a prebuilt MLX (see build.rs).
#![allow(non_upper_case_globals)]
#![allow(non_camel_case_types)]
#![allow(non_snake_case)]
#![allow(clippy::all)]

include!(concat!(env!("OUT_DIR"), "/bindings.rs"));

#[cfg(test)]
mod version_check;

/// The MLX version this crate was compiled against (checked by build.rs).
pub const MLX_BUILD_VERSION: &str = env!("RUNNER_MLX_BUILD_VERSION");

/// mlx-rs seeds its default random key from `mach_approximate_time`, which only
/// Apple's libSystem provides. Elsewhere this supplies it: nanoseconds since
/// the Unix epoch (only used as a seed, so any monotone-enough clock will do).
#[cfg(not(target_vendor = "apple"))]
#[no_mangle]
pub extern "C" fn mach_approximate_time() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}
