"""The extension is built and registered the way the design says."""

import os
import subprocess
import sys

import pytest
import torch

from geo3d import ops
from geo3d.ops import _library

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_native_cpu_kernels_are_loaded():
    # CI builds the extension; a silent fallback to the references would hide a broken build.
    assert ops.native_available(), f"geo3d._C not loaded: {_library.native_error}"
    for name in _library.SCHEMAS:
        assert _library.has_native_kernel(name, "cpu"), name


def test_every_op_has_cuda_dispatch():
    # A native CUDA kernel or the reference: a CUDA tensor never meets a missing kernel.
    for name in _library.SCHEMAS:
        assert torch._C._dispatch_has_kernel_for_dispatch_key(f"geo3d::{name}", "CUDA"), name


def test_disabling_native_falls_back_to_references_with_one_warning():
    code = (
        "import warnings, torch\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import geo3d\n"
        "print(sum('native kernels unavailable' in str(w.message) for w in caught))\n"
        "x = torch.rand(2, 50, 3)\n"
        "print(geo3d.ops.farthest_point_sample(x, 4).shape)\n"
        "print(geo3d.ops.native_available())\n"
    )
    env = dict(os.environ, GEO3D_DISABLE_NATIVE="1")
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "torch.Size([2,", "4])", "False"]


@pytest.mark.skipif(
    subprocess.run(["which", "nvcc"], capture_output=True).returncode != 0, reason="no nvcc"
)
def test_every_cuda_source_compiles_without_cuda_torch():
    result = subprocess.run(
        [sys.executable, os.path.join(ROOT, "tools", "check_cuda_sources.py")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok") >= 8


def test_skip_native_environment_variable_builds_no_extension():
    env = dict(os.environ, GEO3D_SKIP_NATIVE="1")
    result = subprocess.run(
        [sys.executable, "setup.py", "--name"], capture_output=True, text=True, env=env, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "not building geo3d._C" in result.stdout


def test_ruff_lint_is_clean():
    ruff = pytest.importorskip("ruff")  # noqa: F841  (installed with the dev requirements)
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "geo3d", "tools", "tests", "setup.py"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean_without_skip_markers():
    """One line length (pyproject's 100, enforced by lint too) and ``ruff format`` as is,
    with no formatter exemption markers (skip or off comments)."""
    pytest.importorskip("ruff")
    paths = ["geo3d", "tools", "tests", "setup.py"]
    result = subprocess.run(
        [sys.executable, "-m", "ruff", "format", "--check", *paths],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    marker = "# fmt: " + "skip"  # split so that this file does not match itself
    exempt = []
    for folder in paths:
        for base, _, files in os.walk(os.path.join(ROOT, folder)):
            for name in files:
                if name.endswith(".py"):
                    text = open(os.path.join(base, name)).read()
                    if marker in text or "# fmt: " + "off" in text:
                        exempt.append(os.path.relpath(os.path.join(base, name), ROOT))
    assert not exempt, f"formatting exemptions in {exempt}"
