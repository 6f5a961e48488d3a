"""The day's sends per campaign, and failures and expiries per reason, as the delivery asset shows them.

Read from the warehouse mirror of the ledger with one grouped query each. Failure reasons are cut to
their first clause and scrubbed of addresses: Dagster metadata never holds an email address.
"""

import re
from datetime import date

import dagster as dg

from reengage.warehouse import WarehouseResource

ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")
REASON_CHARS = 80


def delivery_breakdown(warehouse: WarehouseResource, run_date: date) -> dict[str, dg.MetadataValue]:
    with warehouse.connect(read_only=True) as con:
        by_campaign = con.execute(
            "select campaign_id, variant, state, count(*) from delivery.campaign_sends "
            "where run_date = ? group by all order by all",
            [run_date],
        ).fetchall()
        reasons = {
            state: con.execute(
                "select last_error, count(*) from delivery.campaign_sends "
                "where run_date = ? and state = ? group by all",
                [run_date, state],
            ).fetchall()
            for state in ("failed", "expired")
        }
    return {
        "sends_by_campaign": dg.MetadataValue.md(campaign_table(by_campaign)),
        "failed_by_reason": dg.MetadataValue.md(reason_table(reasons["failed"], "failed")),
        "expired_by_reason": dg.MetadataValue.md(reason_table(reasons["expired"], "expired")),
    }


def campaign_table(rows: list[tuple[str, str, str, int]]) -> str:
    """Campaign and variant down, ledger state across."""
    if not rows:
        return "No sends planned for this day."
    states = sorted({state for _, _, state, _ in rows})
    cells: dict[tuple[str, str], dict[str, int]] = {}
    for campaign, variant, state, n in rows:
        cells.setdefault((campaign, variant or ""), {})[state] = n
    lines = ["| campaign | variant | " + " | ".join(states) + " |", "|---|---|" + "---|" * len(states)]
    for (campaign, variant), counts in sorted(cells.items()):
        row = " | ".join(str(counts.get(state, 0)) for state in states)
        lines.append(f"| {campaign} | {variant} | {row} |")
    return "\n".join(lines)


def reason_table(rows: list[tuple[str | None, int]], state: str = "failed") -> str:
    if not rows:
        return f"No {state} sends."
    totals: dict[str, int] = {}
    for error, n in rows:
        reason = short_reason(error)
        totals[reason] = totals.get(reason, 0) + n
    lines = ["| reason | sends |", "|---|---|"]
    lines += [f"| {reason} | {n} |" for reason, n in sorted(totals.items(), key=lambda item: -item[1])]
    return "\n".join(lines)


def short_reason(error: str | None) -> str:
    """The provider's reason without addresses, to its first clause, safe inside a Markdown table."""
    text = ADDRESS.sub("<address>", " ".join((error or "unknown").split()))
    text = re.split(r"[;\n]", text, maxsplit=1)[0][:REASON_CHARS]
    return text.replace("|", "/")
