"""Optional dependencies: imported where a feature needs them, and when missing, one line
that names the ``pip install "geo3d[extra]"`` that brings them (never a bare ImportError
from deep inside). The extras are declared in pyproject.toml."""

from __future__ import annotations

import importlib
from types import ModuleType

# top-level module -> (distribution on PyPI, the geo3d extra that installs it)
EXTRAS: dict[str, tuple[str, str]] = {
    "open3d": ("open3d", "vis"),
    "onnx": ("onnx", "export"),
    "onnxscript": ("onnxscript", "export"),
    "onnxruntime": ("onnxruntime", "export"),
    "h5py": ("h5py", "data"),
    "tensorboard": ("tensorboard", "tensorboard"),
    "spconv": ("spconv", "spconv"),
}


class MissingDependencyError(ImportError):
    """An optional dependency that a feature needs is not installed (or does not load)."""


def install_hint(module: str) -> str:
    """``pip install "geo3d[extra]"`` for a module of :data:`EXTRAS`, else ``pip install``
    of the module's own name."""
    top = module.split(".")[0]
    if top not in EXTRAS:
        return f"pip install {top}"
    distribution, extra = EXTRAS[top]
    return f'pip install "geo3d[{extra}]" (or pip install {distribution})'


def require(module: str, purpose: str) -> ModuleType:
    """Import ``module`` for ``purpose`` ("drawing", "reading x.pcd", ...) or raise a
    :class:`MissingDependencyError` whose one line says what to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        if error.name is not None and error.name.split(".")[0] == top:
            message = f"{purpose} needs {top}, which is not installed: {install_hint(top)}"
        else:  # installed, but it failed to load (a system library, a wrong build)
            detail = " ".join(str(error).split())
            message = f"{purpose} needs {top}, which is installed but does not load ({detail})"
        raise MissingDependencyError(message) from None


def available(module: str) -> bool:
    """Whether ``module`` imports (for features that are used only where present)."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
