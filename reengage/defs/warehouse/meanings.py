"""The settings behind the warehouse's stored history, so a change of meaning cannot mix into it.

The incremental models keep every earlier day's rows and rebuild only the days a run touches. A
setting that changes what those rows mean (the session gap, the dormancy thresholds, the event
catalog seed) would leave old rows in the old meaning beside new rows in the new one, with no
test failing. So every build records, per setting, a digest of the value it was built with:
each dbt var read by an incremental model or anything upstream of it (the SQL of those models and
of the project's macros they call), and each seed upstream of one. When a value differs from the
one recorded, the next build is refused before dbt starts, with one line naming the setting and
the rebuild that makes the history consistent; a full refresh rebuilds every table from the raw
data in the new meaning and records it.

Vars that change no stored meaning are left out: the run dates, and `OPERATIONAL_VARS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import duckdb

from reengage.defs.warehouse import build_state
from reengage.defs.warehouse.manifest import dbt_definition, load_manifest
from reengage.schema.declared import WAREHOUSE_MEANINGS
from reengage.schema.migrations import migrate

# How much of the late data a run takes in, when whole-table tests run, how a full build splits
# its work: none changes what a stored row means.
OPERATIONAL_VARS = frozenset({"lookback_days", "whole_table_tests_weekday", "full_build_owner_buckets"})

TABLE = WAREHOUSE_MEANINGS.name

REBUILD = (
    "rebuild the warehouse in the new meaning with the warehouse_models config full_refresh: true "
    "(docs/operations.md, Backfills), or put the setting back"
)


class MeaningChanged(RuntimeError):
    """A setting behind the stored history differs from the one the history was built with."""


def current_meanings(manifest: Mapping[str, Any] | None = None) -> dict[str, str]:
    """`dbt var <name>` / `dbt seed <name>` -> digest of its value, for what the history depends on."""
    manifest = manifest or load_manifest()
    incremental = [
        node["name"]
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "incremental"
    ]
    parts = dbt_definition(incremental, manifest)
    return {
        name: value
        for name, value in parts.items()
        if (name.startswith("dbt var ") and name.removeprefix("dbt var ") not in OPERATIONAL_VARS)
        or name.startswith("dbt seed ")
    }


def recorded_meanings(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    return dict(con.execute(f"select setting, digest from {TABLE}").fetchall())


def check(con: duckdb.DuckDBPyConnection, current: Mapping[str, str], full_refresh: bool) -> None:
    """Raise MeaningChanged when a setting the stored history was built with has another value now.

    A warehouse never built, a full refresh, and settings the history was not built with (a var a
    newer version of the models reads for the first time) pass.
    """
    if full_refresh or build_state.built_as_of(con) is None:
        return
    recorded = recorded_meanings(con)
    changed = sorted(name for name in current.keys() & recorded.keys() if current[name] != recorded[name])
    if changed:
        names = ", ".join(changed)
        raise MeaningChanged(
            f"{names} changed since the warehouse's stored history was built, so its tables would "
            f"hold rows of two meanings; nothing was built: {REBUILD}."
        )


def record(con: duckdb.DuckDBPyConnection, current: Mapping[str, str], build_id: str) -> None:
    """After a completed build: the values the stored history now has (settings it no longer reads go)."""
    migrate(con)
    now = datetime.now(UTC)
    con.execute(f"delete from {TABLE}")
    con.executemany(
        WAREHOUSE_MEANINGS.insert_values(["setting", "digest", "build_id", "recorded_at"]),
        [(name, value, build_id, now) for name, value in sorted(current.items())],
    )
