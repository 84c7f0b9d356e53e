"""Check that every CUDA source compiles on a machine without CUDA torch.

- each ``ops/*/*_cuda.cu`` with ``nvcc -c`` (plain CUDA C++: no torch headers);
- each ``ops/*/*_cuda_glue.cpp`` with ``g++ -fsyntax-only`` against torch's headers
  (CPU wheels ship the c10/cuda headers but not one generated file, written here empty).

    python tools/check_cuda_sources.py      # exit 1 on the first failure
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cuda_home() -> str | None:
    """The CUDA toolkit's root: $CUDA_HOME, else the folder holding nvcc's include/."""
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        return None
    candidates = [os.environ.get("CUDA_HOME", ""), "/usr/local/cuda"]
    candidates.append(os.path.dirname(os.path.dirname(os.path.realpath(nvcc))))
    for candidate in candidates:
        if candidate and os.path.exists(os.path.join(candidate, "include", "cuda_runtime.h")):
            return candidate
    return candidates[-1]


def compile_kernel(path: str, out_dir: str) -> subprocess.CompletedProcess:
    obj = os.path.join(out_dir, os.path.basename(path) + ".o")
    cmd = ["nvcc", "-c", "-std=c++17", "-O3", "--fmad=false", path, "-o", obj]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)


def check_glue(path: str, generated_dir: str) -> subprocess.CompletedProcess:
    import torch.utils.cpp_extension as cpp

    includes = cpp.include_paths()
    cmd = ["g++", "-std=c++17", "-fsyntax-only", f"-I{generated_dir}"]
    cmd += [f"-I{p}" for p in includes]
    cmd += [f"-I{os.path.join(cuda_home(), 'include')}", f"-I{sysconfig.get_paths()['include']}"]
    return subprocess.run(cmd + [path], capture_output=True, text=True, cwd=ROOT)


def main() -> int:
    if cuda_home() is None:
        print("nvcc not found: nothing to check")
        return 0
    kernels = sorted(glob.glob(os.path.join(ROOT, "ops/*/*_cuda.cu")))
    glue = sorted(glob.glob(os.path.join(ROOT, "ops/*/*_cuda_glue.cpp")))
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        generated = os.path.join(tmp, "c10/cuda/impl")
        os.makedirs(generated)
        open(os.path.join(generated, "cuda_cmake_macros.h"), "w").close()
        checks = [(path, "nvcc -c", compile_kernel) for path in kernels]
        checks += [(path, "g++ -fsyntax-only", check_glue) for path in glue]
        for path, label, check in checks:
            result = check(path, tmp)
            status = "ok  " if result.returncode == 0 else "FAIL"
            print(f"{status} {label} {os.path.relpath(path, ROOT)}")
            if result.returncode:
                failures += 1
                print(result.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
