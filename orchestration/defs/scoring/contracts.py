"""What a model's features mean today, so a model trained on other meanings is retrained.

A features contract is a set of named parts, each a digest: the code that computes the
features from the warehouse (the SQL and the feature list), the types of the warehouse
columns that code reads, and the dbt definition of the tables it reads: the checksum of each
of those models and of every model and seed upstream of them, the SQL of the project's macros
they call, and the values of the dbt vars they use. A model records the contract it was
trained under; when today's differs (an analyst edits the event catalog seed, a staging model,
a window var, or a column changes type), the next daily run trains a new model instead of
applying the old one to features that no longer mean what it learned. Vars that only say
which run date to build (`PER_RUN_VARS`) are left out: they change every day.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml

from models import clusters, features
from orchestration.defs.warehouse.assets import dbt_project
from orchestration.defs.warehouse.manifest import load_manifest

PER_RUN_VARS = frozenset({"run_date", "start_date"})
_VAR = re.compile(r"""\bvar\(\s*['"]([A-Za-z_][A-Za-z0-9_]*)['"]""")


@dataclass(frozen=True)
class FeaturesContract:
    """Named digests; two contracts are the same when every part is."""

    parts: Mapping[str, str]

    @property
    def fingerprint(self) -> str:
        payload = json.dumps(dict(self.parts), sort_keys=True)
        return hashlib.sha256(payload.encode()).hexdigest()[:16]

    def changes_from(self, earlier: Mapping[str, str]) -> list[str]:
        """The parts that were added, removed or changed since `earlier`, by name."""
        names = sorted(set(self.parts) | set(earlier))
        return [name for name in names if self.parts.get(name) != earlier.get(name)]

    def describe_changes(self, earlier: Mapping[str, str], limit: int = 5) -> str:
        if not earlier:
            return "the model records no features contract"
        changed = self.changes_from(earlier)
        shown = ", ".join(changed[:limit]) + (
            f" and {len(changed) - limit} more" if len(changed) > limit else ""
        )
        return f"changed: {shown}"


def churn_features_contract(con: duckdb.DuckDBPyConnection) -> FeaturesContract:
    """The churn features (models/features.py) as of today's code, warehouse and dbt project."""
    return FeaturesContract(
        {
            "code: models/features.py": _digest(inspect.getsource(features)),
            **column_types(
                con,
                features.EVENTS_TABLE,
                ["customer_id", "event_ts", "is_active_action", "event_name", "value"],
            ),
            **column_types(con, features.CUSTOMERS_TABLE, ["customer_id", "signup_at", "plan"]),
            **dbt_definition(_model_names(features.EVENTS_TABLE, features.CUSTOMERS_TABLE), load_manifest()),
        }
    )


def cluster_features_contract(con: duckdb.DuckDBPyConnection, table: str) -> FeaturesContract:
    """The behaviour features (models/clusters.py) read from the user-features mart."""
    code = [list(clusters.BEHAVIOUR_FEATURES), inspect.getsource(clusters.transform)]
    return FeaturesContract(
        {
            "code: models/clusters.py features": _digest(code),
            **column_types(con, table, list(clusters.BEHAVIOUR_FEATURES)),
            **dbt_definition(_model_names(table), load_manifest()),
        }
    )


def column_types(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, str]:
    """`column <table>.<name>` -> its type in the warehouse (`missing` when absent)."""
    schema, name = table.split(".")
    found = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() and table_schema = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    )
    return {f"column {table}.{column}": str(found.get(column, "missing")) for column in columns}


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
            parts[f"dbt macro {macro['name']}"] = _digest(macro["macro_sql"])
            texts.append(macro["macro_sql"])
    project_vars = _project_vars()
    for name in sorted({n for text in texts for n in _VAR.findall(text)} - PER_RUN_VARS):
        parts[f"dbt var {name}"] = _digest(project_vars.get(name))
    return parts


def _project_vars() -> dict[str, Any]:
    project = yaml.safe_load((Path(dbt_project.project_dir) / "dbt_project.yml").read_text())
    return dict(project.get("vars") or {})


def _model_names(*tables: str) -> list[str]:
    return [table.split(".")[-1] for table in tables]


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


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]
