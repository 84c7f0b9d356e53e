"""Build geo3d and its native extension geo3d._C (the metadata is in pyproject.toml).

    pip install --no-build-isolation -e .      # torch must already be installed (pinned)
    pip wheel --no-build-isolation --no-deps -w dist .   # a wheel for this torch


- C++ CPU kernels (ops/*/*_cpu.cpp) are always built.
- CUDA kernels (ops/*/*_cuda.cu) and their torch glue (ops/*/*_cuda_glue.cpp) are built
  only where the installed torch has CUDA; nvcc alone is not enough.
- GEO3D_SKIP_NATIVE=1 builds nothing native: the plain-torch references then serve; so
  does a build without torch in its environment (pip's default build isolation), with a
  message saying how to get the kernels.
- The shipped configs (configs/*.yaml) go into the package as geo3d/configs/.

Floating-point contraction is off (-ffp-contract=off, nvcc --fmad=false) so that
distances are computed exactly as the references compute them and every kernel picks
the same points on every device.
"""

from __future__ import annotations

import glob
import os

from setuptools import find_packages, setup

ROOT = os.path.dirname(os.path.abspath(__file__))


def _native_extensions():
    if os.environ.get("GEO3D_SKIP_NATIVE", "") not in ("", "0"):
        print("geo3d: GEO3D_SKIP_NATIVE is set; not building geo3d._C")
        return [], {}
    try:
        import torch
        from torch.utils import cpp_extension
    except ImportError:
        print(
            "geo3d: torch is not importable in this build environment, so geo3d._C (the "
            "native kernels) is not built and the plain-torch references will serve. "
            "Install torch first, then: pip install --no-build-isolation ."
        )
        return [], {}

    sources = sorted(glob.glob("ops/*/*_cpu.cpp")) + ["ops/module.cpp"]
    cxx_flags = ["-O3", "-std=c++17", "-fopenmp", "-ffp-contract=off", "-fno-math-errno"]
    with_cuda = torch.version.cuda is not None and cpp_extension.CUDA_HOME is not None
    if os.environ.get("GEO3D_FORCE_CPU", "") not in ("", "0"):
        with_cuda = False
    if with_cuda:
        sources += sorted(glob.glob("ops/*/*_cuda.cu")) + sorted(glob.glob("ops/*/*_cuda_glue.cpp"))
        extension = cpp_extension.CUDAExtension(
            "geo3d._C",
            sources,
            define_macros=[("GEO3D_WITH_CUDA", None)],
            extra_compile_args={
                "cxx": cxx_flags,
                "nvcc": ["-O3", "--fmad=false", "-std=c++17", "-lineinfo"],
            },
            extra_link_args=["-fopenmp"],
        )
    else:
        extension = cpp_extension.CppExtension(
            "geo3d._C",
            sources,
            extra_compile_args={"cxx": cxx_flags},
            extra_link_args=["-fopenmp"],
        )
    print(f"geo3d: building geo3d._C with {'CPU and CUDA' if with_cuda else 'CPU'} kernels")
    build_ext = cpp_extension.BuildExtension.with_options(use_ninja=True)
    return [extension], {"build_ext": build_ext}


ext_modules, cmdclass = _native_extensions()

setup(
    packages=find_packages(include=["geo3d", "geo3d.*"]) + ["geo3d.configs"],
    package_dir={"geo3d.configs": "configs"},
    package_data={"geo3d.configs": ["*.yaml"]},
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
