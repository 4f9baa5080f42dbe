//! Builds mlx-c against a prebuilt MLX and generates its Rust bindings.
//!
//! Inputs, all local (nothing is downloaded here):
//! - mlx-c sources in `crates/mlx-sys/mlx-c` (placed by `make setup` from the
//!   `mlx-sys` 0.7.0 package);
//! - a prebuilt MLX holding `include/`, `lib/libmlx.*` and
//!   `share/cmake/MLX/`: `$MLX_PREFIX` when set, else the `mlx` package inside
//!   the project venv (`$RUNNER_VENV`, set by `.cargo/config.toml`).
//!
//! Outputs: a static `mlxc`, dynamic links to `mlx` and the C++ runtime, the
//! bindings in `$OUT_DIR/bindings.rs`, and the metadata `DEP_MLX_LIBDIR`,
//! `DEP_MLX_VERSION` for dependents (the binary sets its rpath from it).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::exit;

#[path = "src/version_check.rs"]
mod version_check;

use version_check::{check_version, parse_version_header, REQUIRED_MLX};

fn fail(msg: &str) -> ! {
    // cargo shows build-script stderr on failure; keep it one readable block.
    eprintln!("\nerror: {msg}\n");
    exit(1);
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| fail("CARGO_MANIFEST_DIR is not set")))
}

fn venv_mlx(venv: &Path) -> Option<PathBuf> {
    // venv layout: lib/python3.X/site-packages/mlx (Linux and macOS)
    let lib = venv.join("lib");
    let mut found: Vec<PathBuf> = fs::read_dir(&lib)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("python3")))
        .map(|p| p.join("site-packages").join("mlx"))
        .filter(|p| p.join("include").join("mlx").join("version.h").is_file())
        .collect();
    found.sort();
    found.pop()
}

fn mlx_prefix() -> PathBuf {
    if let Some(p) = env::var_os("MLX_PREFIX") {
        let p = PathBuf::from(p);
        if !p.join("include/mlx/version.h").is_file() {
            fail(&format!("MLX_PREFIX={} has no include/mlx/version.h", p.display()));
        }
        return p;
    }
    let venv = env::var_os("RUNNER_VENV").map(PathBuf::from).unwrap_or_else(|| manifest_dir().join("../../.venv"));
    venv_mlx(&venv).unwrap_or_else(|| {
        fail(&format!(
            "no prebuilt MLX found in the venv {}.\n\
             Run `make setup` (it installs mlx[cpu]=={REQUIRED_MLX} there), or point MLX_PREFIX at a \
             directory holding include/, lib/ and share/cmake/MLX of MLX {REQUIRED_MLX}.",
            venv.display()
        ))
    })
}

/// Reads `MAJOR.MINOR.PATCH` from MLX's `version.h`.
fn mlx_version(prefix: &Path) -> String {
    let path = prefix.join("include/mlx/version.h");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", path.display())));
    parse_version_header(&text).unwrap_or_else(|e| fail(&format!("{}: {e}", path.display())))
}

fn main() {
    let manifest = manifest_dir();
    let mlx_c = manifest.join("mlx-c");
    let shim = manifest.join("shim");
    println!("cargo:rerun-if-env-changed=MLX_PREFIX");
    println!("cargo:rerun-if-env-changed=RUNNER_VENV");
    println!("cargo:rerun-if-changed=shim");
    println!("cargo:rerun-if-changed=mlx-c/CMakeLists.txt");

    if !mlx_c.join("CMakeLists.txt").is_file() {
        fail(&format!(
            "the mlx-c sources are missing at {}.\nRun `make setup`: it fetches them from the mlx-sys 0.7.0 crate.",
            mlx_c.display()
        ));
    }
    let prefix = mlx_prefix();
    let version = mlx_version(&prefix);
    if let Err(message) = check_version(&version, &prefix.display().to_string()) {
        fail(&message);
    }
    let libdir = prefix.join("lib");
    let include = prefix.join("include");
    println!("cargo:rerun-if-changed={}", include.join("mlx/version.h").display());

    // 1. mlx-c as a static library, against the prebuilt MLX.
    let dst = cmake::Config::new(&mlx_c)
        .define("MLX_C_USE_SYSTEM_MLX", "ON")
        .define("MLX_DIR", prefix.join("share/cmake/MLX"))
        .define("FETCHCONTENT_FULLY_DISCONNECTED", "ON")
        .define("MLX_C_BUILD_EXAMPLES", "OFF")
        .define("BUILD_SHARED_LIBS", "OFF")
        .define("CMAKE_BUILD_TYPE", "Release")
        .cxxflag(format!("-include {}", shim.join("format_shim.h").display()))
        .build();
    let mlxc_lib = ["lib", "lib64"]
        .iter()
        .map(|d| dst.join(d))
        .find(|d| d.join("libmlxc.a").is_file())
        .unwrap_or_else(|| fail(&format!("mlx-c built, but no libmlxc.a under {}", dst.display())));

    // 2. The half-precision accessors mlx-c leaves out off aarch64.
    let is_aarch64 = env::var("CARGO_CFG_TARGET_ARCH").is_ok_and(|a| a == "aarch64");
    if !is_aarch64 {
        cc::Build::new()
            .cpp(true)
            .std("c++20")
            .file(shim.join("half_accessors.cpp"))
            .include(&mlx_c)
            .include(&include)
            .flag_if_supported("-w")
            .compile("mlx_half_accessors");
    }

    println!("cargo:rustc-link-search=native={}", mlxc_lib.display());
    println!("cargo:rustc-link-lib=static=mlxc");
    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!("cargo:rustc-link-lib=dylib=mlx");
    let target_os = env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "macos" {
        println!("cargo:rustc-link-lib=dylib=c++");
    } else {
        println!("cargo:rustc-link-lib=dylib=stdc++");
    }
    // Seen by dependents as DEP_MLX_LIBDIR / DEP_MLX_VERSION / DEP_MLX_PREFIX.
    println!("cargo:libdir={}", libdir.display());
    println!("cargo:version={version}");
    println!("cargo:prefix={}", prefix.display());
    println!("cargo:rustc-env=RUNNER_MLX_BUILD_VERSION={version}");

    // 3. Bindings.
    let mut builder = bindgen::Builder::default()
        .rust_target("1.73.0".parse().unwrap_or_else(|_| fail("bindgen rejected the rust target")))
        .header(shim.join("bindings.h").to_string_lossy())
        .clang_arg(format!("-I{}", mlx_c.display()))
        .blocklist_function("malloc")
        .blocklist_function("realloc")
        .layout_tests(false);
    if !is_aarch64 {
        // The stand-ins from bindings.h become the types mlx-rs expects:
        // a tuple struct for float16 and a bare u16 for bfloat16.
        builder = builder
            .blocklist_type("float16_t")
            .blocklist_type("bfloat16_t")
            .raw_line("#[repr(transparent)]")
            .raw_line("#[derive(Debug, Default, Copy, Clone, PartialEq, Eq, Hash)]")
            .raw_line("pub struct float16_t(pub u16);")
            .raw_line("pub type bfloat16_t = u16;");
    }
    let bindings = builder.generate().unwrap_or_else(|e| fail(&format!("bindgen failed on the mlx-c headers: {e}")));
    let out = PathBuf::from(env::var("OUT_DIR").unwrap_or_else(|_| fail("OUT_DIR is not set")));
    bindings.write_to_file(out.join("bindings.rs")).unwrap_or_else(|e| fail(&format!("cannot write bindings: {e}")));
}
