"""The dependencies layer's pins (src/requirements.txt, which src/Makefile installs with
--no-deps): the versions the tests run with (constraints.txt), every package the functions'
dependencies need on Lambda's python3.12 arm64, and nothing else -- so a build months later
ships what was tested, and no test or local-mode package reaches Lambda."""

from __future__ import annotations

import functools
import tomllib
from importlib.metadata import distribution
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "src" / "requirements.txt"
LAMBDA = {  # the markers of Lambda's runtime (template.yaml: python3.12, arm64)
    "python_version": "3.12",
    "python_full_version": "3.12.0",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "aarch64",
    "os_name": "posix",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
}


def pins(path: Path) -> dict[NormalizedName, Version]:
    """`name==version` lines (comments and blank lines aside), by normalised name."""
    found: dict[NormalizedName, Version] = {}
    for line in path.read_text().splitlines():
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        requirement = Requirement(text)
        [spec] = requirement.specifier
        assert spec.operator == "==", f"{path.name}: {text} is not pinned"
        name = canonicalize_name(requirement.name)
        assert name not in found, f"{path.name}: {name} twice"
        found[name] = Version(spec.version)
    return found


@functools.cache
def layer() -> dict[NormalizedName, Version]:
    return pins(LAYER)


def needs(name: str) -> list[Requirement]:
    """What a package needs on Lambda, without extras (read from the test venv's copy, which
    is the pinned version: checked below)."""
    environment = {**default_environment(), **LAMBDA, "extra": ""}
    requires = distribution(name).requires or []
    return [
        r
        for r in map(Requirement, requires)
        if r.marker is None or r.marker.evaluate(environment)  # type: ignore[arg-type]
    ]


def test_the_layer_pins_the_versions_the_tests_run_with() -> None:
    constraints = pins(ROOT / "constraints.txt")
    drifted = {
        name: (str(version), str(constraints.get(name)))
        for name, version in layer().items()
        if constraints.get(name) != version
    }
    assert not drifted  # name: (layer, constraints.txt)
    for name, version in layer().items():  # the metadata read below is of that version
        assert Version(distribution(name).version) == version, name


def test_the_layer_holds_what_the_functions_import() -> None:
    """pyproject.toml's dependencies (what fanmail imports) are the layer's roots, pinned alike."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in layer(), f"{name} is not in {LAYER.name}"
        assert requirement.specifier.contains(layer()[name]), text


def test_the_layer_is_closed_and_holds_nothing_else() -> None:
    """Every requirement of every pinned package is pinned, at a version it accepts (pip
    resolves nothing with --no-deps, so a missing one would be missing in Lambda); every pin is
    needed by the functions' dependencies (moto, pytest and the like stay out)."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    roots = {canonicalize_name(Requirement(text).name) for text in project["dependencies"]}
    reached: set[NormalizedName] = set()
    todo = sorted(roots)
    while todo:
        name = todo.pop()
        if name in reached:
            continue
        reached.add(name)
        for requirement in needs(name):
            wanted = canonicalize_name(requirement.name)
            assert wanted in layer(), f"{name} needs {requirement}: not in {LAYER.name}"
            assert requirement.specifier.contains(layer()[wanted], prereleases=True), (
                f"{name} needs {requirement}; {LAYER.name} pins {layer()[wanted]}"
            )
            todo.append(wanted)
    assert set(layer()) == reached, sorted(set(layer()) - reached)


def test_the_build_installs_the_pins_alone() -> None:
    recipe = (ROOT / "src" / "Makefile").read_text()
    target = recipe.split("\nbuild-DependenciesLayer:", 1)[1].split("\n\n", 1)[0]
    install = target.replace("\\\n", " ")  # the command's continued lines, joined
    [command] = [line for line in install.splitlines() if "pip install" in line]
    assert "--no-deps" in command.split() and "-r requirements.txt" in command
