"""environment.yml (conda) installs the same Python packages as pyproject.toml, and the package itself; pyproject
declares every third-party import, bounds the majors that break APIs, keeps gsplat in the `gpu` extra, and the
installed environment satisfies it."""

from __future__ import annotations

import ast
import sys
import tomllib
from importlib.metadata import packages_distributions, version

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

from conftest import REPO

PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
BOUNDED_MAJORS = ("numpy", "pandas", "dvc", "transformers")  # their next major version breaks APIs


def canonical(name: str) -> str:
    """A distribution name as pip compares it (lower case, '-' for '_' and '.')."""
    return name.lower().replace("_", "-").replace(".", "-")


def normalized(requirements: list[str]) -> dict[str, str]:
    """name (canonical) -> specifier, both normalized, so '>=9,<10' and '<10,>=9' compare equal."""
    parsed = [Requirement(line) for line in requirements]
    names = [canonical(req.name) for req in parsed]
    assert len(set(names)) == len(names), f"a package is listed twice: {sorted(names)}"
    return {name: str(SpecifierSet(str(req.specifier))) for name, req in zip(names, parsed)}


def conda_environment() -> tuple[list[str], list[str]]:
    """(conda dependencies, pip lines) of environment.yml."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda = [dep for dep in env["dependencies"] if isinstance(dep, str)]
    pip = next(dep["pip"] for dep in env["dependencies"] if isinstance(dep, dict) and "pip" in dep)
    return conda, pip


def test_pip_section_equals_pyproject_dependencies_and_test_extra():
    expected = normalized(PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"])
    _, pip = conda_environment()
    listed = normalized([line for line in pip if not line.startswith("-")])
    assert listed == expected


def test_environment_installs_the_package_and_a_supported_python():
    conda, pip = conda_environment()
    assert "--editable ." in pip or "-e ." in pip
    assert "pip" in conda
    python = next(dep for dep in conda if dep.startswith("python="))
    assert SpecifierSet(PROJECT["requires-python"]).contains(python.split("=", 1)[1] + ".0")


def declared(*extras: str) -> set[str]:
    """Canonical names of the dependencies and of the given extras of pyproject.toml."""
    lines = PROJECT["dependencies"] + [line for extra in extras for line in PROJECT["optional-dependencies"][extra]]
    return {canonical(Requirement(line).name) for line in lines}


def third_party_imports(folder) -> dict[str, set[str]]:
    """Each top-level module imported by the .py files under `folder` (not the standard library, not skeletonllm, not a
    module of tests/) -> the files importing it."""
    local = {"skeletonllm", *(path.stem for path in (REPO / "tests").glob("*.py"))}
    found = {}
    for path in sorted((REPO / folder).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in (name.split(".")[0] for name in modules):
                if module not in sys.stdlib_module_names and module not in local:
                    found.setdefault(module, set()).add(str(path.relative_to(REPO)))
    return found


@pytest.mark.parametrize("folder, extras", [("src", ("gpu",)), ("tests", ("test", "gpu"))])
def test_every_third_party_import_is_declared(folder, extras):
    distributions = packages_distributions()  # installed top-level module -> distributions
    allowed = declared(*extras)
    missing = {module: files for module, files in third_party_imports(folder).items()
               if not {canonical(name) for name in distributions.get(module, [module])} & allowed}
    assert not missing, f"imported but not declared in pyproject.toml: {missing}"


def test_gsplat_is_only_the_gpu_extra():
    assert declared("gpu") - declared() == {"gsplat"}
    assert "gsplat" not in declared("test")
    _, pip = conda_environment()
    assert "gsplat" not in normalized([line for line in pip if not line.startswith("-")])


def test_majors_that_break_apis_are_bounded_above_the_installed_one():
    specifiers = normalized(PROJECT["dependencies"])
    for name in BOUNDED_MAJORS:
        specifier = SpecifierSet(specifiers[name])
        installed = version(name)
        major = int(installed.split(".")[0])
        assert specifier.contains(installed), (name, installed, str(specifier))
        assert not specifier.contains(f"{major + 1}.0"), f"{name} {specifier} admits the next major version"


def test_the_installed_environment_satisfies_pyproject():
    for line in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]:
        requirement = Requirement(line)
        assert requirement.specifier.contains(version(requirement.name), prereleases=True), line


def test_requires_python_admits_this_interpreter_and_not_3_10():
    supported = SpecifierSet(PROJECT["requires-python"])
    assert supported.contains(f"{sys.version_info.major}.{sys.version_info.minor}.0")
    assert not supported.contains("3.10.99")  # the tests import tomllib (3.11)
