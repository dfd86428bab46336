"""The project's promises about itself: one dependency list, README's commands, CI's command."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PYPI = {"pytorch": "torch"}


def split(requirement: str) -> tuple[str, str]:
    name, spec = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), spec.replace(" ", "")


def test_environment_yml_agrees_with_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = dict(split(r) for r in project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    declared = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            declared.update(split(r) for r in dep["pip"] if not r.startswith("-"))
        else:
            name, spec = split(dep)
            if name not in ("python", "pip"):
                declared[CONDA_TO_PYPI.get(name, name)] = spec
    assert declared == wanted


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make lab" in readme
    assert re.search(r"^make test$", ci, re.M)


def test_the_declared_torch_floor_is_the_torch_under_test():
    """The floor is a promise only a run at the floor keeps: CI installs the floor's release (this
    machine's pip constraints), so the floor's major.minor must be the torch these tests run on."""
    import torch

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    floor = dict(split(r) for r in project["dependencies"])["torch"]
    assert floor.startswith(">=")
    wanted = tuple(int(v) for v in floor[2:].split(".")[:2])
    running = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2])
    assert running == wanted, (f"tests run on torch {torch.__version__}, but pyproject declares torch{floor}: "
                               f"raise the floor to what is tested, or test at the floor")
