"""Which warehouse tables name a person, found by column name rather than a list to keep up to date.

Any base table (raw, dbt tables and incrementals, scoring, interventions,
delivery, measurement, ...) with a `customer_id`, `user_id`, `email`,
`anonymous_id` or `phone` column holds personal rows; views hold nothing of their own.
`raw.quarantine` keeps whole records as text, so it is matched value by value.
A new model or Python table with one of those columns is covered without a change here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from reengage.privacy.keys import COLUMN_KINDS

QUARANTINE = "raw.quarantine"
# Our own bookkeeping holds hashes only; system schemas hold no rows of ours.
SKIPPED_SCHEMAS = ("privacy", "information_schema", "pg_catalog")


@dataclass(frozen=True)
class PersonalTable:
    """A table and its identifying columns by kind (customer_id, email, anonymous_id, phone)."""

    name: str  # schema.table, as the SQL names it
    columns: dict[str, list[str]] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[str]:
        return self.columns.get(kind, [])


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def personal_tables(con: duckdb.DuckDBPyConnection) -> list[PersonalTable]:
    """Every base table of the warehouse with an identifying column, in a stable order."""
    skipped = ", ".join("?" * len(SKIPPED_SCHEMAS))
    names = ", ".join("?" * len(COLUMN_KINDS))
    rows = con.execute(
        f"""
        select c.table_schema, c.table_name, c.column_name
        from information_schema.columns as c
        join information_schema.tables as t
            on t.table_catalog = c.table_catalog
            and t.table_schema = c.table_schema
            and t.table_name = c.table_name
        where t.table_type = 'BASE TABLE'
            and t.table_catalog = current_database()
            and c.table_schema not in ({skipped})
            and lower(c.column_name) in ({names})
        order by c.table_schema, c.table_name, c.ordinal_position
        """,
        [*SKIPPED_SCHEMAS, *COLUMN_KINDS],
    ).fetchall()
    tables: dict[str, dict[str, list[str]]] = {}
    for schema, table, column in rows:
        name = f"{quote(schema)}.{quote(table)}" if not _plain(schema, table) else f"{schema}.{table}"
        tables.setdefault(name, {}).setdefault(COLUMN_KINDS[column.lower()], []).append(column)
    return [PersonalTable(name, columns) for name, columns in tables.items()]


def _plain(*identifiers: str) -> bool:
    return all(i.isidentifier() and i == i.lower() for i in identifiers)
