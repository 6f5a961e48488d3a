"""The day's listed rows before rendering: every chosen row (both arms) with its send id and send time."""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from orchestration.defs.interventions.policy.config import PolicyConfig
from orchestration.defs.interventions.policy.decisions import BASE_TABLE, DECISIONS_WORK_TABLE
from orchestration.defs.interventions.policy.inputs import table_columns
from orchestration.defs.interventions.policy.sql import date_literal, instant_literal
from orchestration.defs.interventions.scheduling import local_text_sql, scheduled_utc_sql
from orchestration.send_ids import send_id_sql

CHOSEN_TABLE = "_interventions_chosen"


def materialise_chosen(
    con: duckdb.DuckDBPyConnection, run_date: date, now: datetime, config: PolicyConfig
) -> None:
    """Chosen rows (both arms) with every features column, send id and scheduled time, in CHOSEN_TABLE."""
    decision_columns = set(table_columns(con, DECISIONS_WORK_TABLE))
    shadowed = sorted((decision_columns | {"email"}) & set(table_columns(con, BASE_TABLE)))
    scheduled = scheduled_utc_sql(
        "send_timezone", "preferred_local_hour", date_literal(run_date), instant_literal(now), config.window()
    )
    # The send time is a function of (zone, preferred hour) only: computed once per distinct pair
    # (a few hundred) instead of once per message, then joined back.
    con.execute(f"""
        create or replace temp table {CHOSEN_TABLE} as
        with chosen as (
            select d.*, trim(b.email) as email, b.* exclude ({", ".join(shadowed)}),
                   {send_id_sql("d.customer_id", "d.campaign_id", "d.run_date")} as send_id
            from {DECISIONS_WORK_TABLE} d
            join {BASE_TABLE} b on b.customer_id = d.customer_id
            where d.arm is not null
        ),
        slots as (
            select send_timezone, preferred_local_hour, {scheduled} as scheduled_send_at_utc
            from (select distinct send_timezone, preferred_local_hour from chosen)
        ),
        local_slots as (
            select *, {local_text_sql("send_timezone", "scheduled_send_at_utc")} as scheduled_send_at_local
            from slots
        )
        select c.*, s.scheduled_send_at_utc, s.scheduled_send_at_local
        from chosen c
        join local_slots s
          on s.send_timezone = c.send_timezone
         and coalesce(s.preferred_local_hour, -1) = coalesce(c.preferred_local_hour, -1)""")
