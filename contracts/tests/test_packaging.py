"""The package declares exactly what it imports: the contract itself needs `requests` alone, and each extra
(`[server]`, `[testing]`) lists the distributions its modules import, no more and no fewer."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "drivenow_contracts"
PYPROJECT = tomllib.loads((PACKAGE.parents[1] / "pyproject.toml").read_text())["project"]
# module → the distribution that provides it, for everything installed here
DISTRIBUTIONS = {module: names[0] for module, names in importlib.metadata.packages_distributions().items()}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def imported(part: str) -> set[str]:
    """Distributions the modules of `part` ("" for the contract's own modules) import, anywhere in them."""
    files = sorted((PACKAGE / part).glob("*.py")) if part else sorted(PACKAGE.glob("*.py"))
    found = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top != "drivenow_contracts" and top not in sys.stdlib_module_names:
                    found.add(DISTRIBUTIONS.get(top, top).lower().replace("_", "-"))
    return found


def declared(extra: str | None) -> set[str]:
    requirements = PYPROJECT["dependencies"] if extra is None else PYPROJECT["optional-dependencies"][extra]
    return {_name(requirement) for requirement in requirements} - {"drivenow-contracts"}


def test_the_contract_itself_needs_requests_alone():
    assert declared(None) == {"requests"}
    assert imported("") == {"requests"}


@pytest.mark.parametrize("extra", ["server", "testing"])
def test_each_extra_declares_exactly_what_it_imports(extra):
    # An extra may lean on what the package and the extras it names already bring.
    inherited = declared(None) | {
        name
        for requirement in PYPROJECT["optional-dependencies"][extra]
        if _name(requirement) == "drivenow-contracts"
        for included in re.findall(r"\[([^\]]+)\]", requirement)[0].split(",")
        for name in declared(included.strip())
    }
    assert declared(extra) == imported(extra) - inherited
