#!/usr/bin/env bash
# Sets up everything geo3d needs on a fresh Debian machine, idempotently:
# the system libraries Open3D loads, a virtual environment in .venv with torch
# pinned (an unpinned torch pulls several GB of CUDA wheels), the Python
# dependencies, and the native extension geo3d._C built in place.
#
#   bash tools/setup_env.sh          # set up (safe to run again)
#   GEO3D_SKIP_DEV=1 bash tools/setup_env.sh   # without the benchmark peers and test tools
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
venv="$root/.venv"
python_bin="${PYTHON:-python3}"

say() { printf '[setup] %s\n' "$*"; }

# 1. System libraries that `import open3d` needs (shared/NOTES.md).
system_packages=(libgl1 libegl1 libegl-mesa0 libgl1-mesa-dri libusb-1.0-0 libgomp1)
missing=()
for package in "${system_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
    say "missing system packages ${missing[*]} and not root: install them, then run this again" >&2
    exit 1
  fi
  sudo_cmd=""; [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  say "installing system packages: ${missing[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# 2. The virtual environment.
if [ ! -x "$venv/bin/python" ]; then
  say "creating $venv"
  "$python_bin" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

# 3. Python dependencies; the constraints file pins torch for every resolver step.
stamp="$venv/.geo3d-requirements"
want="$(cat requirements.txt requirements-dev.txt constraints.txt | sha256sum | cut -c1-16)${GEO3D_SKIP_DEV:+-nodev}"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  say "installing torch and the Python dependencies"
  "${pip[@]}" install -q -c constraints.txt torch==2.13.0
  "${pip[@]}" install -q -c constraints.txt -r requirements.txt
  if [ -z "${GEO3D_SKIP_DEV:-}" ]; then
    "${pip[@]}" install -q -c constraints.txt -r requirements-dev.txt
  fi
  echo "$want" > "$stamp"
else
  say "Python dependencies up to date"
fi

# 4. The native extension, rebuilt only when a source changed.
sources_hash="$({ find ops setup.py -type f \( -name '*.cpp' -o -name '*.h' -o -name '*.cu' -o -name '*.cuh' -o -name 'setup.py' \) -print0; printf '%s\0' pyproject.toml; } | sort -z | xargs -0 cat | sha256sum | cut -c1-16)"
build_stamp="$venv/.geo3d-build"
if [ ! -f "$build_stamp" ] || [ "$(cat "$build_stamp")" != "$sources_hash" ] || ! ls geo3d/_C*.so >/dev/null 2>&1; then
  say "building geo3d._C (C++ kernels; CUDA where torch has CUDA)"
  MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${pip[@]}" install -q --no-build-isolation --no-deps -e .
  echo "$sources_hash" > "$build_stamp"
else
  say "geo3d._C up to date"
fi
say "ready: $venv/bin/python"
