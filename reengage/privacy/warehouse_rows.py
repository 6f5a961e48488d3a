"""Delete one person's rows from every warehouse table that names them.

Runs inside the caller's transaction (with the forget-list entries and the
audit row), so the warehouse is either fully erased or untouched. Deleting
from dbt tables and incrementals is enough: their sources lose the rows too,
so no later build brings them back, and views hold nothing of their own.
"""

from __future__ import annotations

import duckdb

from reengage.privacy.identity import Identity
from reengage.privacy.keys import normalise, record_tokens
from reengage.privacy.tables import QUARANTINE, PersonalTable, quote


def delete_person(
    con: duckdb.DuckDBPyConnection, tables: list[PersonalTable], identity: Identity
) -> dict[str, int]:
    """Rows removed per table (tables with none are left out)."""
    removed: dict[str, int] = {}
    for table in tables:
        clauses, params = _match(table, identity)
        if not clauses:
            continue
        where = " or ".join(clauses)
        (count,) = con.execute(f"select count(*) from {table.name} where {where}", params).fetchall()[0]
        if count:
            con.execute(f"delete from {table.name} where {where}", params)
            removed[table.name] = int(count)
    quarantined = _delete_quarantined(con, identity)
    if quarantined:
        removed[QUARANTINE] = removed.get(QUARANTINE, 0) + quarantined
    return removed


# The SQL that normalises a column as keys.normalise does the value.
_NORMALISED_COLUMN = {
    "customer_id": "trim({})",
    "email": "lower(trim({}))",
    "anonymous_id": "trim({})",
    "phone": "trim({})",
}


def _match(table: PersonalTable, identity: Identity) -> tuple[list[str], list[str]]:
    clauses: list[str] = []
    params: list[str] = []
    for kind, wrap in _NORMALISED_COLUMN.items():
        values = sorted(identity.values_of(kind))
        if not values:
            continue
        for column in table.of_kind(kind):
            clauses.append(f"{wrap.format(quote(column))} in ({', '.join('?' * len(values))})")
            params += values
    return clauses, params


def _delete_quarantined(con: duckdb.DuckDBPyConnection, identity: Identity) -> int:
    """Quarantined records whose raw text carries one of the person's identifiers as a whole value."""
    wanted = {
        "customer_id": identity.customer_ids,
        "email": identity.emails,
        "anonymous_id": identity.anonymous_ids,
        "phone": identity.phones,
    }
    if not any(wanted.values()):
        return 0
    # A cheap substring pass in SQL first; whole-value matching in Python on what it finds.
    needles = sorted({v.lower() for values in wanted.values() for v in values})
    contains = " or ".join("strpos(lower(raw_record), ?) > 0" for _ in needles)
    hits: set[tuple[str, str, int]] = set()
    removed = 0
    for source, file, row, raw_record in con.execute(
        f"select source, file, row, raw_record from {QUARANTINE} where {contains}", needles
    ).fetchall():
        tokens = record_tokens(raw_record)
        if any(normalise(kind, t) in values for kind, values in wanted.items() if values for t in tokens):
            hits.add((source, file, row))
    where = "source = ? and file = ? and row = ?"
    for source, file, row in sorted(hits, key=str):
        (count,) = con.execute(
            f"select count(*) from {QUARANTINE} where {where}", [source, file, row]
        ).fetchall()[0]
        con.execute(f"delete from {QUARANTINE} where {where}", [source, file, row])
        removed += int(count)
    return removed
