#!/usr/bin/env bash
# Installs what building and testing dist needs on a fresh Debian/Ubuntu machine, skipping what is
# already there: FFmpeg's libraries and CLI, clang (bindgen), pkg-config, OpenBLAS (dist-kernels' f32
# matmuls), a Rust toolchain, and the
# Python test clients (zarr, pandas, pyarrow) in .venv. Idempotent; used by `make test` and `make demo`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(fonts-dejavu-core pkg-config clang libclang-dev libopenblas-dev ffmpeg libavcodec-dev libavformat-dev libavutil-dev
              libswscale-dev libavdevice-dev libavfilter-dev python3-venv python3-pip)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    echo "setup: installing the Rust toolchain (rustup, 1.95)"
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --default-toolchain 1.95.0
  }
fi

if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c "import zarr, pandas, pyarrow, numpy, matplotlib" 2>/dev/null; then
  echo "setup: creating .venv with the Python test clients"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r tests/requirements.txt
fi
