"""Row counts on the dbt models' materializations, counted once dbt has let go of the warehouse.

Not dagster-dbt's `fetch_row_counts()`: on DuckDB it waits for dbt to exit too, but then counts
through a dbt-duckdb adapter opened inside the Dagster process, which keeps a read-write
connection to the file for the life of the process. The daily job runs its steps in one process,
so every later step's read-only connection then fails ("a different configuration than existing
connections"), and the file stays locked for other processes.

Here the run's events are held until dbt exits, then one query through the warehouse resource
(closed at once; DuckDB file or attached PostgreSQL alike) counts every built table, and the
events go out in dbt's order, so each dbt test still follows the model it judges. Views are not
counted: counting one runs its whole query.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import dagster as dg

from reengage.spark.views import STORED as COUNTED  # what dbt keeps as a table, on every engine
from reengage.warehouse import WarehouseResource


def with_row_counts(
    events: Iterable[Any],
    manifest: Mapping[str, Any],
    warehouse: WarehouseResource,
    after_build: Callable[[], None] | None = None,
) -> Iterator[Any]:
    """Yield dbt's Dagster events in order, the materializations of tables with `dagster/row_count`.

    `after_build` runs once dbt has exited successfully, before anything is counted (on Spark, the
    views the counts read are refreshed there).
    """
    held: list[Any] = []
    try:
        for event in events:
            held.append(event)
    except Exception:
        yield from held  # what dbt built before it failed still shows up, without counts
        raise
    if after_build is not None:
        after_build()
    relations = {}
    for unique_id in filter(None, map(_unique_id, held)):
        relation = _relation(manifest, unique_id)
        if relation:
            relations[unique_id] = relation
    counts = count_rows(warehouse, relations)
    for event in held:
        count = counts.get(_unique_id(event) or "")
        yield event if count is None else event.with_metadata({**event.metadata, "dagster/row_count": count})


def count_rows(warehouse: WarehouseResource, relations: Mapping[str, str]) -> dict[str, int]:
    """Rows per model, in one statement (a `union all` of `count(*)`s)."""
    if not relations:
        return {}
    ids = list(relations)
    sql = " union all ".join(
        f"select {i} as i, count(*) as n from {relations[unique_id]}" for i, unique_id in enumerate(ids)
    )
    with warehouse.connect(read_only=True) as con:
        rows = con.execute(sql).fetchall()
    return {ids[i]: int(n) for i, n in rows}


def _unique_id(event: Any) -> str | None:
    if not isinstance(event, (dg.Output, dg.AssetMaterialization)):
        return None
    value = event.metadata.get("unique_id")
    return getattr(value, "value", value)


def _relation(manifest: Mapping[str, Any], unique_id: str) -> str | None:
    node = manifest.get("nodes", {}).get(unique_id)
    if not node or node.get("config", {}).get("materialized") not in COUNTED:
        return None
    # schema.table in the connection's default catalog: the DuckDB file, or the attached PostgreSQL.
    return f'"{node["schema"]}"."{node.get("alias") or node["name"]}"'
