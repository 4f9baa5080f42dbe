//! Gives every binary and test of this package an rpath to the prebuilt MLX
//! library directory, so `runner` finds libmlx without LD_LIBRARY_PATH.
//! The directory comes from the mlx-sys build (`links = "mlx"` metadata).
fn main() {
    println!("cargo:rerun-if-env-changed=DEP_MLX_LIBDIR");
    match std::env::var("DEP_MLX_LIBDIR") {
        Ok(dir) => {
            println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
            println!("cargo:rustc-env=RUNNER_MLX_LIBDIR={dir}");
        }
        Err(_) => {
            eprintln!("error: mlx-sys did not publish its library directory (DEP_MLX_LIBDIR)");
            std::process::exit(1);
        }
    }
}
