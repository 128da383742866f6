"""The package's layers import one way: core <- serving <- export; core <- gateway, launch;
everything <- cli. A module may import its own layer and the layers below it, never one
above or beside it (the gateway does not reach into export, serving never into the
gateway). Imports inside functions count too: a lazy upward import is still one."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sketch2idol"

#: layer -> the layers it may import (besides itself)
ALLOWED = {
    "core": set(),
    "serving": {"core"},
    "export": {"core", "serving"},
    "gateway": {"core"},
    "launch": {"core"},
    "cli": {"core", "serving", "export", "gateway", "launch"},
}
#: modules directly in the package: what they may import
TOP_LEVEL = {"__init__": set(), "__main__": {"cli"}}


def layer_of(module: str) -> str | None:
    """The layer of a `sketch2idol...` module name; None for other packages."""
    parts = module.split(".")
    if parts[0] != "sketch2idol":
        return None
    if len(parts) == 1 or parts[1] not in ALLOWED.keys() | TOP_LEVEL.keys():
        return "__init__"  # the package itself, or a name it defines (__version__)
    return parts[1]


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE,
                     names: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every absolute and relative import in the file, at any depth;
    `names`: also module.name for every name a `from module import name` takes (which may
    be a submodule)."""
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] if base != "sketch2idol" else \
                [f"sketch2idol.{alias.name}" for alias in node.names]
            if names and base != "sketch2idol":
                targets += [f"{base}.{alias.name}" for alias in node.names]
            found += [(node.lineno, target) for target in targets]
    return found


def upward_imports(root: Path = PACKAGE) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        own = layer_of(module_name(path, root))
        allowed = TOP_LEVEL[own] if own in TOP_LEVEL else ALLOWED.get(own)
        if allowed is None:
            problems.append(f"{path.relative_to(root.parent)}: in no layer "
                            f"(add {own!r} to tests/test_layers.py)")
            continue
        for line, target in imported_modules(path, root):
            theirs = layer_of(target)
            if theirs in (None, own, "__init__"):
                continue
            if theirs not in allowed:
                problems.append(f"{path.relative_to(root.parent)}:{line}: layer {own!r} "
                                f"imports {target} (layer {theirs!r})")
    return problems


def test_every_layer_imports_only_the_layers_below_it():
    assert upward_imports() == []


def test_every_layer_is_a_folder_of_the_package():
    folders = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    assert folders == set(ALLOWED)
    modules = {p.stem for p in PACKAGE.glob("*.py")}
    assert modules == set(TOP_LEVEL)


def test_the_check_finds_an_upward_import(tmp_path):
    """The checker itself: a core module that imports the gateway is reported, lazily too."""
    fake = tmp_path / "sketch2idol"
    (fake / "core").mkdir(parents=True)
    (fake / "__init__.py").write_text("")
    (fake / "core" / "__init__.py").write_text("")
    (fake / "core" / "bad.py").write_text(
        "def f():\n    from sketch2idol.gateway import app\n")
    (fake / "core" / "worse.py").write_text("from ..export import graphs\n")
    (fake / "core" / "fine.py").write_text("from sketch2idol.core import bad\nimport numpy\n")
    problems = upward_imports(fake)
    assert len(problems) == 2, problems
    assert "core/bad.py:2: layer 'core' imports sketch2idol.gateway" in problems[0]
    assert "core/worse.py:1: layer 'core' imports sketch2idol.export " in problems[1]


#: What the gateway never imports, in any module, lazily or not: the procedural renderer
#: (the drawing guide's sketches are rendered at export time, sketch2idol/export/guides.py)
#: and torch (the networks run in Triton).
GATEWAY_NEVER_IMPORTS = ("sketch2idol.core.data.synth", "torch")


def forbidden_imports(root: Path = PACKAGE, layer: str = "gateway",
                      forbidden: tuple[str, ...] = GATEWAY_NEVER_IMPORTS) -> list[str]:
    """`file:line: module` for every import in `layer` of a forbidden module or of one of
    its submodules (`from sketch2idol.core.data import synth` too), once per line."""
    problems = {}
    for path in sorted((root / layer).rglob("*.py")):
        for line, target in imported_modules(path, root, names=True):
            if any(target == bad or target.startswith(bad + ".") for bad in forbidden):
                problems.setdefault((path, line), f"{path.relative_to(root.parent)}:{line}: "
                                                  f"{target}")
    return list(problems.values())


def test_the_gateway_imports_neither_the_renderer_nor_torch():
    assert forbidden_imports() == []


def test_the_gateway_loads_neither_the_renderer_nor_torch_through_what_it_imports():
    """At import time, transitively: the app and every route, in a fresh interpreter."""
    modules = [module_name(path) for path in sorted((PACKAGE / "gateway").rglob("*.py"))]
    probe = (f"import importlib, sys\nfor name in {modules!r}: importlib.import_module(name)\n"
             f"print([m for m in sys.modules if m.startswith({GATEWAY_NEVER_IMPORTS!r})])")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            check=True, env={**os.environ, "PYTHONPATH": str(PACKAGE.parent)})
    assert result.stdout.strip() == "[]"


def test_the_check_finds_the_renderer_imported_by_the_gateway(tmp_path):
    fake = tmp_path / "sketch2idol"
    (fake / "gateway").mkdir(parents=True)
    (fake / "gateway" / "bad.py").write_text(
        "from sketch2idol.core.data import synth\n"
        "def f():\n    import torch.nn\n")
    (fake / "gateway" / "worse.py").write_text(
        "from ..core.data.synth import render_sample\n")
    (fake / "gateway" / "fine.py").write_text(
        "from sketch2idol.core.data import placement\nimport numpy\n")
    assert forbidden_imports(fake) == ["sketch2idol/gateway/bad.py:1: sketch2idol.core.data.synth",
                                       "sketch2idol/gateway/bad.py:3: torch.nn",
                                       "sketch2idol/gateway/worse.py:1: "
                                       "sketch2idol.core.data.synth"]


@pytest.mark.parametrize("name", ["client", "export"])
def test_no_generic_top_level_package_is_installed(name):
    text = (PACKAGE.parent / "pyproject.toml").read_text()
    assert f'"{name}*"' not in text
    assert not (PACKAGE.parent / name).exists()
