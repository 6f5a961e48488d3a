"""Sample messages of a dry run, rendered with their blocks, for review before a campaign goes live.

    python -m reengage.defs.interventions.preview --date 2025-03-10 --samples 3

The day is decided with the real policy into session temp tables (as the preview's counts
are), then the first `per_campaign` messages each campaign would send (by send id: the same
sample on every run of the day) are scheduled and rendered by the code the daily run uses,
blocks included. Nothing is sent or written.

The output is message content: first names, the products a person left in a cart, their
progress. It is printed for the person who asked and goes nowhere else (no log, no file, no
metadata); the recipient's address is never printed, only the customer id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from reengage.channels import CHANNELS, Channel
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy.chosen import CHOSEN_TABLE, materialise_chosen
from reengage.defs.interventions.policy.config import PolicyConfig
from reengage.defs.interventions.policy.decisions import decide
from reengage.defs.interventions.policy.rendering import RENDERED_TABLE, render_chosen


@dataclass(frozen=True)
class SampleMessage:
    campaign_id: str
    customer_id: str
    channel: str
    variant: str
    template_id: str | None
    subject: str | None
    body: str | None
    template_data: str | None
    error: str | None = None  # the render error that keeps it from being sent

    def text(self) -> str:
        head = (
            f"--- {self.campaign_id} / customer {self.customer_id} / {self.channel} / variant {self.variant}"
        )
        if self.error:
            return f"{head}\nnot sent: render_error:{self.error}"
        lines = [head]
        if self.template_id:
            data = json.dumps(json.loads(self.template_data or "{}"), indent=2, sort_keys=True)
            lines += [f"SendGrid template {self.template_id}, dynamic_template_data:", data]
        else:
            if self.subject:
                lines.append(f"subject: {self.subject}")
            lines += ["body:", self.body or ""]
        return "\n".join(lines)


def sample_messages(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    per_campaign: int,
    config: PolicyConfig | None = None,
    channels: Mapping[str, Channel] = CHANNELS,
) -> list[SampleMessage]:
    """The first `per_campaign` messages each campaign would send on `run_date`, rendered.

    Writes only session temp tables; safe on a read-only connection.
    """
    config = config or PolicyConfig()
    decide(con, run_date, campaigns, config, [], channels)
    materialise_chosen(con, run_date, datetime.now(UTC), config, channels)
    # Only the sample is rendered: the day's other rows leave the (temporary) chosen table.
    con.execute(f"""
        delete from {CHOSEN_TABLE} where send_id not in (
            select send_id from {CHOSEN_TABLE} where arm = 'treatment'
            qualify row_number() over (partition by campaign_id order by send_id) <= {int(per_campaign)})""")
    failures = {(c, k): e for c, k, e in render_chosen(con, campaigns, channels, run_date=run_date)}
    rows = con.execute(f"""
        select c.campaign_id, c.customer_id, c.channel, c.variant,
               m.template_id, m.subject, m.body, m.template_data
        from {CHOSEN_TABLE} c
        left join {RENDERED_TABLE} m on m.send_id = c.send_id
        order by c.campaign_id, c.send_id""").fetchall()
    return [
        SampleMessage(*row, error=failures.get((row[1], row[0])))  # type: ignore[arg-type]
        for row in rows
    ]
