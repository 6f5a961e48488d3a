"""Counts of a run's decisions for people: Dagster metadata, logs and dry-run previews.

Only campaign ids, outcomes, reasons and counts leave the warehouse here, never
an email address or a message body.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from reengage.defs.interventions.policy.persistence import DECISIONS_TABLE
from reengage.tables import as_frame

# Columns of the Markdown table, in the order the policy applies its checks.
REASON_ORDER = (
    "chosen",
    "campaign_holdout",
    "global_holdout",
    "targeting",
    "lower_priority",
    "empty_block",
    "paused_after_response",
    "cooldown",
    "frequency_cap",
    "campaign_paused",
    "suppressed",
    "render_error",
)


def preview(con: duckdb.DuckDBPyConnection, run_date: date, table: str = DECISIONS_TABLE) -> pd.DataFrame:
    """Decisions of `run_date` counted by campaign and reason.

    `table` can be the stored `interventions.decisions` or the temp table that
    `policy.decide` leaves behind, so a dry run and the stored run compare alike.
    """
    return as_frame(
        con.execute(
            f"""
        select campaign_id, outcome, reason, count(*) as n
        from {table}
        where run_date = ?
        group by all
        order by campaign_id, outcome, reason""",
            [run_date],
        )
    )


def _column(reason: str) -> str:
    return reason.split(":", 1)[0]


def counts_markdown(counts: pd.DataFrame) -> str:
    """Campaigns down, reasons across (suppression reasons summed), totals last."""
    if counts.empty:
        return "_No candidates: no campaign triggered for anyone._"
    frame = counts.assign(column=counts["reason"].map(_column))
    table = frame.pivot_table(index="campaign_id", columns="column", values="n", aggfunc="sum", fill_value=0)
    ordered = [c for c in REASON_ORDER if c in table.columns] + sorted(set(table.columns) - set(REASON_ORDER))
    table = table[ordered]
    table["total"] = table.sum(axis=1)
    table.loc["total"] = table.sum(axis=0)
    header = "| campaign | " + " | ".join(table.columns) + " |"
    rule = "|---|" + "---:|" * len(table.columns)
    lines = [header, rule]
    for campaign, row in table.iterrows():
        lines.append(f"| {campaign} | " + " | ".join(str(int(v)) for v in row) + " |")
    return "\n".join(lines)


def suppression_counts(counts: pd.DataFrame) -> dict[str, int]:
    """Candidates suppressed, by suppression reason (no_consent, bounce, ...)."""
    suppressed = counts[counts["reason"].str.startswith("suppressed:")]
    grouped = suppressed.groupby(suppressed["reason"].str.removeprefix("suppressed:"))["n"].sum()
    return {str(k): int(v) for k, v in grouped.items()}
