"""The policy's two warehouse tables, and replacing one run date's rows in both at once.

The tables are declared in `reengage.schema.declared` (DECISIONS, INTERVENTION_LIST); here
each declared column gets the work-table expression that fills it, and the insert names every
column, so a table whose columns stand in another order (built by an earlier version, or by
hand) still gets every value in the right column.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import duckdb

from reengage.defs.interventions.policy.sql import date_literal
from reengage.schema.declared import DECISIONS, INTERVENTION_LIST, Table
from reengage.warehouse import transaction

DECISIONS_TABLE = DECISIONS.name
LIST_TABLE = INTERVENTION_LIST.name

# What fills each column of the day's decisions (write_run's `decisions_table` has every one by name).
DECISION_SOURCES = {name: name for name in DECISIONS.names}
# What fills each list column: the chosen rows (`c`, write_run's `chosen_table`) joined to their
# messages (`m`).
LIST_SOURCES = {
    "send_id": "c.send_id",
    "run_date": "c.run_date",
    "customer_id": "c.customer_id",
    "channel": "c.channel",
    "contact": "c.contact",
    "first_name": "c.first_name",
    # The zone the message is scheduled in: the features' zone when valid, else the default.
    "timezone": "c.send_timezone",
    "campaign_id": "c.campaign_id",
    "variant": "c.variant",
    "arm": "c.arm",
    "template_id": "m.template_id",
    "subject": "m.subject",
    "body": "m.body",
    "template_data": "m.template_data",
    "scheduled_send_at_utc": "c.scheduled_send_at_utc",
    "scheduled_send_at_local": "c.scheduled_send_at_local",
    "priority": "c.priority",
    "churn_probability": "c.churn_probability",
}


def _insert_by_name(table: Table, sources: Mapping[str, str], rows: str) -> str:
    """Insert naming every declared column, never relying on the order the table keeps them in.

    A declared column without a source is a KeyError here, before anything is written.
    """
    values = ", ".join(sources[name] for name in table.names)
    return f"insert into {table.name} ({table.column_list()})\nselect {values}\n{rows}"


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
        con.execute(f"delete from {DECISIONS_TABLE} where run_date = {d}")
        con.execute(
            _insert_by_name(
                DECISIONS, DECISION_SOURCES, f"from {decisions_table}\norder by campaign_id, customer_id"
            )
        )
        con.execute(f"delete from {LIST_TABLE} where run_date = {d}")
        con.execute(
            _insert_by_name(
                INTERVENTION_LIST,
                LIST_SOURCES,
                f"from {chosen_table} c\njoin {rendered_table} m on m.send_id = c.send_id\n"
                "order by c.campaign_id, c.customer_id",
            )
        )
