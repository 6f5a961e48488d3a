"""What Python reads from the dbt project's manifest: its models' enforced contracts.

A mart Python reads declares its columns once, in its dbt YAML (`data_type`, `constraints`,
`accepted_values` tests, `meta`), with `contract: enforced: true` so that dbt refuses a build
whose SQL drifts from it. Python takes the same declaration from the manifest instead of keeping
a copy, so a column renamed in dbt is renamed here too, and whatever still uses the old name
(a campaign file, a template) fails when it is loaded, naming the column.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from reengage.defs.warehouse.project import dbt_project, ensure_manifest

# Vars that only say which run date to build: they change every day and change no meaning.
PER_RUN_VARS = frozenset({"run_date", "start_date"})
_VAR = re.compile(r"""\bvar\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


def load_manifest() -> dict[str, Any]:
    """The project's manifest, parsed first when missing or older than the project's files."""
    path = ensure_manifest(dbt_project)
    return _read_manifest(path, path.stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _read_manifest(path: Path, mtime_ns: int) -> dict[str, Any]:  # mtime: reread after a parse
    return json.loads(path.read_text())


class ContractMissing(RuntimeError):
    """A model Python reads has no enforced contract (or a column of it no declared type)."""


def model_node(model: str, manifest: dict[str, Any] | None = None) -> dict[str, Any]:
    manifest = manifest or load_manifest()
    for node in manifest["nodes"].values():
        if node["resource_type"] == "model" and node["name"] == model:
            return node
    raise ContractMissing(f"dbt model {model} is not in the project")


def contract_columns(model: str, manifest: dict[str, Any] | None = None) -> dict[str, str]:
    """Column name -> declared data_type, in the order the model's YAML declares them."""
    node = model_node(model, manifest)
    if not node["config"].get("contract", {}).get("enforced"):
        raise ContractMissing(f"dbt model {model}: Python reads it, so its contract must be enforced")
    columns = {name: column.get("data_type") for name, column in node["columns"].items()}
    untyped = [name for name, kind in columns.items() if not kind]
    if untyped:
        raise ContractMissing(f"dbt model {model}: columns without a data_type: {', '.join(untyped)}")
    return columns


def accepted_values(model: str, column: str, manifest: dict[str, Any] | None = None) -> list[Any]:
    """The values the model's `accepted_values` test on `column` allows, in the YAML's order."""
    manifest = manifest or load_manifest()
    model_id = model_node(model, manifest)["unique_id"]
    for node in manifest["nodes"].values():
        test = node.get("test_metadata") or {}
        if (
            node["resource_type"] == "test"
            and test.get("name") == "accepted_values"
            and node.get("column_name") == column
            and node.get("attached_node") == model_id
        ):
            return list(test["kwargs"]["values"])
    raise ContractMissing(f"dbt model {model}: column {column} has no accepted_values test")


def columns_marked(model: str, key: str, manifest: dict[str, Any] | None = None) -> list[str]:
    """The model's columns whose YAML `meta` sets `key` to true, in the YAML's order."""
    node = model_node(model, manifest)
    return [name for name, column in node["columns"].items() if (column.get("meta") or {}).get(key)]


def dbt_definition(models: Iterable[str], manifest: Mapping[str, Any]) -> dict[str, str]:
    """Digests of the dbt definition behind `models`: each node upstream, its macros, its vars."""
    nodes = manifest["nodes"]
    wanted = {
        uid for uid, node in nodes.items() if node["resource_type"] == "model" and node["name"] in models
    }
    closure = _upstream(wanted, manifest["parent_map"]) | wanted
    parts: dict[str, str] = {}
    macros: set[str] = set()
    texts: list[str] = []
    for uid in sorted(closure):
        node = nodes.get(uid)
        if node is None:  # a source: its columns are the warehouse's part of the contract
            continue
        parts[f"dbt {node['resource_type']} {node['name']}"] = node["checksum"]["checksum"]
        macros |= set(node.get("depends_on", {}).get("macros", []))
        texts.append(node.get("raw_code") or "")
    project = manifest["metadata"]["project_name"]
    for uid in sorted(_macro_closure(macros, manifest["macros"])):
        macro = manifest["macros"][uid]
        if macro["package_name"] == project:
            parts[f"dbt macro {macro['name']}"] = digest(macro["macro_sql"])
            texts.append(macro["macro_sql"])
    values = project_vars()
    for name in sorted({n for text in texts for n in _VAR.findall(text)} - PER_RUN_VARS):
        parts[f"dbt var {name}"] = digest(values.get(name))
    return parts


def project_vars() -> dict[str, Any]:
    project = yaml.safe_load((Path(dbt_project.project_dir) / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def _upstream(start: set[str], parent_map: Mapping[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(start)
    while todo:
        for parent in parent_map.get(todo.pop(), []):
            if parent not in seen:
                seen.add(parent)
                todo.append(parent)
    return seen


def _macro_closure(start: set[str], macros: Mapping[str, Any]) -> set[str]:
    """The macros called, directly or not, including each one's adapter.dispatch implementations."""
    implementations: dict[str, list[str]] = {}
    for uid, macro in macros.items():
        if "__" in macro["name"]:
            dispatched = f"{macro['package_name']}.{macro['name'].split('__', 1)[1]}"
            implementations.setdefault(dispatched, []).append(uid)
    seen: set[str] = set()
    todo = [m for m in start if m in macros]
    while todo:
        uid = todo.pop()
        if uid in seen:
            continue
        seen.add(uid)
        macro = macros[uid]
        todo += [m for m in macro.get("depends_on", {}).get("macros", []) if m in macros]
        todo += implementations.get(f"{macro['package_name']}.{macro['name']}", [])
    return seen


def digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
