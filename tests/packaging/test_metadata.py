"""The package metadata (pyproject.toml) and the pinned set-up (requirements*.txt,
constraints.txt) cannot drift apart: every declared dependency is pinned to a version it
accepts, every pin is declared, and the version lives in one place."""

import importlib.metadata
import os

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

import geo3d
from geo3d.optional import EXTRAS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Pinned for a reproducible set-up but not geo3d's own requirements (a dependency's pin).
TRANSITIVE_PINS = {"cumm": "spconv's kernel library, pinned with spconv"}


def project():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as handle:
        return tomllib.load(handle)["project"]


def pins(name: str) -> dict[str, str]:
    found = {}
    with open(os.path.join(ROOT, name)) as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if line:
                requirement = Requirement(line)
                (spec,) = requirement.specifier
                assert spec.operator == "==", f"{name}: {line} is not pinned with =="
                found[canonicalize_name(requirement.name)] = spec.version
    return found


def declared() -> dict[str, list[Requirement]]:
    """Every requirement of the metadata by group ('core' and each extra), self-references
    (geo3d[...]) left out."""
    meta = project()
    groups = {"core": meta["dependencies"], **meta["optional-dependencies"]}
    return {
        group: [r for r in map(Requirement, items) if canonicalize_name(r.name) != "geo3d"]
        for group, items in groups.items()
    }


def test_every_declared_dependency_is_pinned_to_an_accepted_version():
    pinned = {**pins("requirements-dev.txt"), **pins("requirements.txt")}
    for group, requirements in declared().items():
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in pinned, f"{requirement} ({group}) has no pin in requirements*.txt"
            assert requirement.specifier.contains(pinned[name], prereleases=True), (
                f"{requirement} ({group}) does not accept the pinned {name}=={pinned[name]}"
            )


def test_core_dependencies_are_in_requirements_txt():
    runtime = pins("requirements.txt")
    for requirement in declared()["core"]:
        assert canonicalize_name(requirement.name) in runtime, requirement


def test_every_pin_is_declared():
    names = {canonicalize_name(r.name) for group in declared().values() for r in group}
    for file in ("requirements.txt", "requirements-dev.txt"):
        for name in pins(file):
            assert name in names or name in TRANSITIVE_PINS, (
                f"{file} pins {name}, which pyproject.toml declares nowhere"
            )


def test_torch_pin_is_the_same_everywhere():
    assert pins("constraints.txt")["torch"] == pins("requirements.txt")["torch"]


def test_extras_named_by_the_code_exist():
    extras = {
        group: {canonicalize_name(r.name) for r in reqs} for group, reqs in declared().items()
    }
    for module, (distribution, extra) in EXTRAS.items():
        assert canonicalize_name(distribution) in extras.get(extra, set()), (
            f"geo3d.optional sends {module} users to geo3d[{extra}], which lacks {distribution}"
        )
    all_extras = project()["optional-dependencies"]["all"]
    assert all(name in all_extras[0] for name in ("vis", "export", "data", "tensorboard"))


def test_version_and_entry_point():
    meta = project()
    assert "version" in meta["dynamic"] and "version" not in meta
    assert meta["scripts"] == {"geo3d": "geo3d.cli:main"}
    try:
        installed = importlib.metadata.version("geo3d")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("geo3d runs from the source tree without an install")
    assert installed == geo3d.__version__, (
        "the installed metadata is stale: pip install --no-build-isolation -e ."
    )
