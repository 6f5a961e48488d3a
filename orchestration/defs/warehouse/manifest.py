"""What Python reads from the dbt project's manifest: its models' enforced contracts.

A mart Python reads declares its columns once, in its dbt YAML (`data_type`, `constraints`,
`accepted_values` tests, `meta`), with `contract: enforced: true` so that dbt refuses a build
whose SQL drifts from it. Python takes the same declaration from the manifest instead of keeping
a copy, so a column renamed in dbt is renamed here too, and whatever still uses the old name
(a campaign file, a template) fails when it is loaded, naming the column.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from orchestration.defs.warehouse.assets import dbt_project, ensure_manifest


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
