"""The product runs without the development package: the demo world and the local sink are never imported
by reengage/, and the code location loads when reengage_dev cannot be imported at all."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("reengage",)
# The development package, and where its parts used to live inside the product.
DOUBLES = ("reengage_dev", "reengage.demo", "reengage.sink")


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def is_double(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in DOUBLES)


def test_no_product_module_imports_the_development_package() -> None:
    # Guards the product against shipping its test doubles: the delivery resource, erasure and the
    # run summary imported the local sink, and the CLI the demo world.
    offenders = {
        f"{path.relative_to(ROOT)}: {module}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for module in imported_modules(path)
        if is_double(module)
    }
    assert offenders == set()
    assert not [p for p in ("reengage/demo", "reengage/sink") if list((ROOT / p).rglob("*.py"))]


BLOCKED_LOAD = """
import importlib.abc, sys

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if any(name == d or name.startswith(d + ".") for d in {doubles!r}):
            raise ImportError(f"{{name}} is not installed")
        return None

sys.meta_path.insert(0, Blocker())
from reengage.definitions import build_definitions

defs = build_definitions()
defs.resolve_job_def("daily_reengagement")
defs.resolve_asset_graph()
assert not [m for m in sys.modules if m.startswith("reengage_dev")]
print("loaded")
"""


def test_the_code_location_loads_without_the_development_package() -> None:
    # Guards a production install (the product's wheel alone): the definitions must load with
    # reengage_dev (and the doubles' old homes inside the product) impossible to import.
    code = BLOCKED_LOAD.format(doubles=DOUBLES)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().splitlines()[-1] == "loaded"
