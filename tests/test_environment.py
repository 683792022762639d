"""environment.yml (conda) installs the same Python packages as pyproject.toml, and the package itself."""

from __future__ import annotations

import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import REPO


def normalized(requirements: list[str]) -> dict[str, str]:
    """name (canonical) -> specifier, both normalized, so '>=9,<10' and '<10,>=9' compare equal."""
    parsed = [Requirement(line) for line in requirements]
    names = [req.name.lower().replace("_", "-") for req in parsed]
    assert len(set(names)) == len(names), f"a package is listed twice: {sorted(names)}"
    return {name: str(SpecifierSet(str(req.specifier))) for name, req in zip(names, parsed)}


def conda_environment() -> tuple[list[str], list[str]]:
    """(conda dependencies, pip lines) of environment.yml."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep)
    return conda, pip


def test_pip_section_equals_pyproject_dependencies_and_test_extra():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    expected = normalized(project["dependencies"] + project["optional-dependencies"]["test"])
    _, pip = conda_environment()
    listed = normalized([line for line in pip if not line.startswith("-")])
    assert listed == expected


def test_environment_installs_the_package_and_a_supported_python():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    conda, pip = conda_environment()
    assert "--editable ." in pip or "-e ." in pip
    assert "pip" in conda
    python = next(dep for dep in conda if dep.startswith("python="))
    assert SpecifierSet(project["requires-python"]).contains(python.split("=", 1)[1] + ".0")
