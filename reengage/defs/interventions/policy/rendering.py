"""Message content for the chosen rows, each distinct message rendered once; failures stay per row."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import duckdb
import pyarrow as pa

from reengage.channels import CHANNELS, Channel
from reengage.defs.interventions.blocks import column_name, fallback_column
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.messages import columns_needed, plans, render_messages
from reengage.defs.interventions.policy.block_data import blocks_sql, with_blocks
from reengage.defs.interventions.policy.chosen import CHOSEN_TABLE
from reengage.defs.interventions.policy.decisions import DECISIONS_WORK_TABLE
from reengage.defs.interventions.policy.inputs import table_columns
from reengage.defs.interventions.predicates import sql_literal

REPRESENTATIVES_TABLE = "_interventions_representatives"
RENDERED_TABLE = "_interventions_rendered"
BLOCKS_TABLE = "_interventions_blocks"

# (customer_id, campaign_id, error type) of a message whose template failed on the user's data.
RenderFailure = tuple[str, str, str]
_FAILURES_SCHEMA = pa.schema(
    [("customer_id", pa.string()), ("campaign_id", pa.string()), ("error", pa.string())]
)


def _failures_table(failures: Sequence[RenderFailure]) -> pa.Table:
    return pa.Table.from_pylist(
        [{"customer_id": c, "campaign_id": k, "error": e} for c, k, e in failures], schema=_FAILURES_SCHEMA
    )


def _block_columns(
    con: duckdb.DuckDBPyConnection, campaigns: Sequence[Campaign], run_date: date
) -> list[str]:
    """Read the blocks of the messages to be sent into BLOCKS_TABLE; its columns to render with.

    Only treatment rows of variants that show blocks: a held-out message is never sent, and a
    `blocks: false` variant's message leaves them out, so their blocks are never read.
    """
    showing = with_blocks(campaigns)
    if not showing:
        return []
    variants = " or ".join(
        f"(campaign_id = {sql_literal(c.id)} and variant in "
        f"({', '.join(sql_literal(v.name) for v in c.variants if v.shows_blocks) or 'null'}))"
        for c in showing
    )
    rows = f"(select * from {CHOSEN_TABLE} where arm = 'treatment' and ({variants}))"
    con.execute(f"create or replace temp table {BLOCKS_TABLE} as {blocks_sql(rows, showing, run_date)}")
    names = dict.fromkeys(b.name for c in showing for b in c.template.blocks)
    return [column for name in names for column in (column_name(name), fallback_column(name))]


def render_chosen(
    con: duckdb.DuckDBPyConnection,
    campaigns: Sequence[Campaign],
    channels: Mapping[str, Channel] = CHANNELS,
    *,
    run_date: date | None = None,
) -> list[RenderFailure]:
    """Render each distinct message once and give every chosen row its group's result.

    A message is a function of (campaign, variant, arm, the row columns its
    templates and data mapping read): rows equal on those form a group (SQL
    partition semantics: NULLs equal), the group's smallest send id is
    rendered in Python by the same code as ever, and the result is copied to
    the group in SQL. Templates that read a per-row value (`send_id`, say) or
    an impure global simply form one group per row. Fills RENDERED_TABLE and
    returns (customer_id, campaign_id, error) for every row whose group failed, a body over its
    channel's limits (`channels`) included. Blocks (blocks.py) are read as of `run_date` (the
    chosen rows' own run date when not given) and joined to each row.
    """
    available = table_columns(con, CHOSEN_TABLE)
    if run_date is None and with_blocks(campaigns):
        found = con.execute(f"select min(run_date) from {CHOSEN_TABLE}").fetchone()
        run_date = found[0] if found else None
    block_columns = _block_columns(con, campaigns, run_date) if run_date is not None else []
    parts = []
    for (campaign_id, variant), plan in plans(campaigns).items():
        keys = sorted((set(plan.reads) | set(plan.data_columns.values())) & set(available))
        if not plan.cacheable:
            keys = sorted({*keys, "send_id"})
        # The channel too: its limits (an SMS body's segments) decide whether the same text fails.
        partition = ", ".join(["arm", "channel", *(f'"{k}"' for k in keys)])
        parts.append(f"""
            select send_id, min(send_id) over (partition by {partition}) as representative
            from {CHOSEN_TABLE}
            where campaign_id = {sql_literal(campaign_id)} and variant = {sql_literal(variant)}""")
    empty = "select null::varchar as send_id, null::varchar as representative where false"
    con.execute(
        f"create or replace temp table {REPRESENTATIVES_TABLE} as {' union all '.join(parts) or empty}"
    )
    wanted = columns_needed(campaigns, available)
    join_blocks = (
        f"left join {BLOCKS_TABLE} b on b.customer_id = c.customer_id and b.campaign_id = c.campaign_id"
        if block_columns
        else ""
    )
    cursor = con.execute(f"""
        select {", ".join([*(f'c."{w}"' for w in wanted), *(f"b.{k}" for k in block_columns)])}
        from {CHOSEN_TABLE} c
        {join_blocks}
        where c.send_id in (select representative from {REPRESENTATIVES_TABLE})""")
    names = [*wanted, *block_columns]
    rows = (dict(zip(names, values, strict=True)) for values in cursor.fetchall())
    messages, failed = render_messages(rows, campaigns, channels=channels)
    con.register("_interventions_rendered_representatives", messages)
    try:
        con.execute(f"""
            create or replace temp table {RENDERED_TABLE} as
            select r.send_id, m.template_id, m.subject, m.body, m.template_data
            from {REPRESENTATIVES_TABLE} r
            join _interventions_rendered_representatives m on m.send_id = r.representative""")
    finally:
        con.unregister("_interventions_rendered_representatives")
    if not failed:
        return []
    con.register("_interventions_failed_representatives", _failures_table(failed))
    try:
        return con.execute(f"""
            select c.customer_id, c.campaign_id, f.error
            from _interventions_failed_representatives f
            join {CHOSEN_TABLE} rep on rep.customer_id = f.customer_id and rep.campaign_id = f.campaign_id
            join {REPRESENTATIVES_TABLE} r on r.representative = rep.send_id
            join {CHOSEN_TABLE} c on c.send_id = r.send_id
            order by c.campaign_id, c.customer_id""").fetchall()
    finally:
        con.unregister("_interventions_failed_representatives")


def record_render_failures(con: duckdb.DuckDBPyConnection, failures: Sequence[RenderFailure]) -> None:
    """A template that breaks on one user's data must not stop everyone else's messages."""
    con.register("_interventions_render_failures", _failures_table(failures))
    try:
        con.execute(f"""
            update {DECISIONS_WORK_TABLE} d
            set outcome = 'render_error', reason = 'render_error:' || f.error, arm = null
            from _interventions_render_failures f
            where d.customer_id = f.customer_id and d.campaign_id = f.campaign_id""")
    finally:
        con.unregister("_interventions_render_failures")
