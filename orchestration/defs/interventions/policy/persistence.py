"""The policy's two warehouse tables, and replacing one run date's rows in both at once.

Each column is declared once, with its type and the work-table expression that
fills it; the DDL and the insert both come from that declaration, and the insert
names its columns, so a table whose columns stand in another order (built by an
earlier version, or by hand) still gets every value in the right column.
"""

from __future__ import annotations

from datetime import date
from typing import NamedTuple

import duckdb

from orchestration.defs.interventions.policy.sql import date_literal
from orchestration.warehouse import transaction

DECISIONS_TABLE = "interventions.decisions"
LIST_TABLE = "interventions.intervention_list"


class Column(NamedTuple):
    name: str
    type: str  # with its constraint, as in the DDL
    source: str  # what fills it, over the work tables the insert reads


# Filled from the day's decisions (write_run's `decisions_table`), which have every one under its name.
DECISION_COLUMNS = (
    Column("run_date", "date not null", "run_date"),
    Column("customer_id", "varchar not null", "customer_id"),
    Column("campaign_id", "varchar not null", "campaign_id"),
    Column("outcome", "varchar not null", "outcome"),
    Column("reason", "varchar not null", "reason"),
    Column("priority", "integer not null", "priority"),
    Column("churn_probability", "double", "churn_probability"),
)
# Filled from the chosen rows (`c`, write_run's `chosen_table`) joined to their messages (`m`).
LIST_COLUMNS = (
    Column("send_id", "varchar not null", "c.send_id"),
    Column("run_date", "date not null", "c.run_date"),
    Column("customer_id", "varchar not null", "c.customer_id"),
    Column("email", "varchar not null", "c.email"),
    Column("first_name", "varchar", "c.first_name"),
    # The zone the message is scheduled in: the features' zone when valid, else the default.
    Column("timezone", "varchar not null", "c.send_timezone"),
    Column("campaign_id", "varchar not null", "c.campaign_id"),
    Column("variant", "varchar not null", "c.variant"),
    Column("arm", "varchar not null", "c.arm"),
    Column("template_id", "varchar", "m.template_id"),
    Column("subject", "varchar", "m.subject"),
    Column("body", "varchar", "m.body"),
    Column("template_data", "varchar not null", "m.template_data"),
    Column("scheduled_send_at_utc", "timestamptz not null", "c.scheduled_send_at_utc"),
    Column("scheduled_send_at_local", "varchar not null", "c.scheduled_send_at_local"),
    Column("priority", "integer not null", "c.priority"),
    Column("churn_probability", "double", "c.churn_probability"),
)


def _ddl(table: str, columns: tuple[Column, ...]) -> str:
    body = ",\n".join(f"    {c.name} {c.type}" for c in columns)
    return f"create table if not exists {table} (\n{body}\n)"


def _insert_by_name(table: str, columns: tuple[Column, ...], rows: str) -> str:
    """Insert naming every target column, never relying on the order the table keeps them in."""
    names = ", ".join(c.name for c in columns)
    sources = ", ".join(c.source for c in columns)
    return f"insert into {table} ({names})\nselect {sources}\n{rows}"


DECISIONS_DDL = _ddl(DECISIONS_TABLE, DECISION_COLUMNS)
LIST_DDL = _ddl(LIST_TABLE, LIST_COLUMNS)


def write_run(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    decisions_table: str,
    chosen_table: str,
    rendered_table: str,
) -> None:
    """Replace the run date's decisions and list together, or neither.

    The three tables are the run's work tables: its decisions, its chosen rows and their
    rendered messages (one per send_id).
    """
    d = date_literal(run_date)
    with transaction(con):
        con.execute("create schema if not exists interventions")
        con.execute(DECISIONS_DDL)
        con.execute(LIST_DDL)
        con.execute(f"delete from {DECISIONS_TABLE} where run_date = {d}")
        con.execute(
            _insert_by_name(
                DECISIONS_TABLE,
                DECISION_COLUMNS,
                f"from {decisions_table}\norder by campaign_id, customer_id",
            )
        )
        con.execute(f"delete from {LIST_TABLE} where run_date = {d}")
        con.execute(
            _insert_by_name(
                LIST_TABLE,
                LIST_COLUMNS,
                f"from {chosen_table} c\njoin {rendered_table} m on m.send_id = c.send_id\n"
                "order by c.campaign_id, c.customer_id",
            )
        )
