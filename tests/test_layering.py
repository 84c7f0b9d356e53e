"""The package's layers hold: no module imports a layer above its own (docs/ARCHITECTURE.md).

Every ``import`` in ``geo3d/``, lazy ones inside functions included, is checked; a new
package gets a rank here and a line in docs/ARCHITECTURE.md in the same change."""

import ast
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = os.path.join(ROOT, "geo3d")

# Bottom to top; a module may import its own layer and those below it.
RANKS = {
    "ops": 0,
    "structures": 1,
    "nn": 2,
    "losses": 2,
    "metrics": 2,
    "data": 2,
    "pooling": 3,
    "encoders": 4,
    "necks": 4,
    "heads": 4,
    "models": 5,
    "vis": 5,
    "engine": 6,
    "export": 6,
    "cli": 7,
    "benchmarks": 7,
}


def imported_layers(path: str) -> list[tuple[int, str]]:
    """``[(line, layer)]`` of the geo3d layers a file imports."""
    found = []
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "geo3d":
                names = [f"geo3d.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            parts = name.split(".")
            if parts[0] == "geo3d" and len(parts) > 1 and not parts[1].startswith("_"):
                found.append((node.lineno, parts[1]))
    return found


def package_files():
    for folder, _, files in os.walk(PACKAGE):
        for name in sorted(files):
            if name.endswith(".py"):
                yield os.path.join(folder, name)


def test_every_layer_has_a_rank():
    layers = {
        name
        for name in os.listdir(PACKAGE)
        if os.path.isdir(os.path.join(PACKAGE, name)) and not name.startswith("_")
    }
    assert layers <= set(RANKS), f"give {sorted(layers - set(RANKS))} a rank (and a doc line)"


@pytest.mark.parametrize("path", list(package_files()), ids=lambda p: os.path.relpath(p, ROOT))
def test_no_module_imports_a_layer_above_its_own(path):
    relative = os.path.relpath(path, PACKAGE).split(os.sep)
    if len(relative) == 1:
        return  # geo3d/__init__.py: the top, may import anything
    own = relative[0]
    upward = [
        (line, layer) for line, layer in imported_layers(path) if RANKS.get(layer, -1) > RANKS[own]
    ]
    assert not upward, (
        f"{os.path.relpath(path, ROOT)} ({own}, rank {RANKS[own]}) imports "
        + ", ".join(f"{layer} (rank {RANKS[layer]}) at line {line}" for line, layer in upward)
    )


def test_the_checker_sees_upward_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from geo3d.engine import run\n    from geo3d import models\n")
    assert imported_layers(str(sample)) == [(2, "engine"), (3, "models")]
