"""What a model's features mean today, so a model trained on other meanings is retrained.

A features contract is a set of named parts, each a digest: the code that computes the
features from the warehouse (the SQL and the feature list), the types of the warehouse
columns that code reads, and the dbt definition of the tables it reads: the checksum of each
of those models and of every model and seed upstream of them, the SQL of the project's macros
they call, and the values of the dbt vars they use. A model records the contract it was
trained under; when today's differs (an analyst edits the event catalog seed, a staging model,
a window var, or a column changes type), the next daily run trains a new model instead of
applying the old one to features that no longer mean what it learned. Vars that only say
which run date to build (`manifest.PER_RUN_VARS`) are left out: they change every day.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb

from reengage.defs.warehouse.manifest import dbt_definition, digest, load_manifest
from reengage.learning import clusters, features
from reengage.tables import column_types as warehouse_column_types


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
    """The churn features (reengage/learning/features.py) as of today's code, warehouse and dbt project."""
    return FeaturesContract(
        {
            "code: reengage/learning/features.py": digest(inspect.getsource(features)),
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
    """The behaviour features (reengage/learning/clusters.py) read from the user-features mart."""
    code = [list(clusters.BEHAVIOUR_FEATURES), inspect.getsource(clusters.transform)]
    return FeaturesContract(
        {
            "code: reengage/learning/clusters.py features": digest(code),
            **column_types(con, table, list(clusters.BEHAVIOUR_FEATURES)),
            **dbt_definition(_model_names(table), load_manifest()),
        }
    )


def column_types(con: duckdb.DuckDBPyConnection, table: str, columns: Sequence[str]) -> dict[str, str]:
    """`column <table>.<name>` -> its type in the warehouse (`missing` when absent)."""
    found = warehouse_column_types(con, table)
    return {f"column {table}.{column}": found.get(column, "missing") for column in columns}


def _model_names(*tables: str) -> list[str]:
    return [table.split(".")[-1] for table in tables]
