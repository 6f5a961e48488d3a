"""Turn chosen rows into message content: template id, rendered subject and body, template data.

This is the only per-row Python in the policy, so it does as little as it
can per row: everything that depends only on (campaign, variant) is worked
out once, each template is compiled once, and a row's Jinja context holds
only the names that template reads (Jinja copies the context per render).
Held-out rows get template data but are not rendered: they are never sent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import jinja2
import pyarrow as pa

from orchestration.defs.interventions import templating
from orchestration.defs.interventions.campaigns import Campaign

# Columns every chosen row needs besides what templates read.
ROW_COLUMNS = ("send_id", "customer_id", "campaign_id", "variant", "arm")
MESSAGE_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("send_id", "template_id", "subject", "body", "template_data")]
)
# Exceptions a template can raise on one user's data (e.g. a filter given NULL).
RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, AttributeError)


@dataclass(frozen=True)
class MessagePlan:
    """What one (campaign, variant) needs from a row, and what it makes of it."""

    template_id: str | None
    subject: str | None
    body: str | None
    autoescape: bool
    constants: Mapping[str, Any]  # template constants, overridden by the variant's data
    variant_data: Mapping[str, Any]
    data_columns: Mapping[str, str]  # template key -> row column
    variant_name: str
    reads: frozenset[str]  # names the Jinja templates read

    def data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        return {
            **self.constants,
            **{key: row.get(column) for key, column in self.data_columns.items()},
            **self.variant_data,
        }

    def context(self, row: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        """Data keys win over `variant`, which wins over features columns."""
        context: dict[str, Any] = {}
        for name in self.reads:
            if name in data:
                context[name] = data[name]
            elif name == "variant":
                context[name] = self.variant_name
            else:
                context[name] = row.get(name)
        return context


def plans(campaigns: Iterable[Campaign]) -> dict[tuple[str, str], MessagePlan]:
    out: dict[tuple[str, str], MessagePlan] = {}
    for campaign in campaigns:
        template = campaign.template
        for variant in campaign.variants:
            subject, body = campaign.subject_for(variant), campaign.body_for(variant)
            reads: set[str] = set()
            for source in (subject, body):
                if template.kind == "jinja" and source:
                    reads |= set(templating.undeclared_variables(source))
            out[(campaign.id, variant.name)] = MessagePlan(
                template_id=campaign.template_id_for(variant),
                subject=subject if template.kind == "jinja" else None,
                body=body if template.kind == "jinja" else None,
                autoescape=template.format == "html",
                constants=dict(template.constants),
                variant_data=dict(variant.data),
                data_columns=dict(template.data),
                variant_name=variant.name,
                reads=frozenset(reads),
            )
    return out


def columns_needed(campaigns: Sequence[Campaign], available: Iterable[str]) -> list[str]:
    """Row columns to fetch for rendering: fixed ones, data mappings, and names templates read."""
    wanted = set(ROW_COLUMNS)
    for plan in plans(campaigns).values():
        wanted |= set(plan.data_columns.values()) | plan.reads
    return [c for c in available if c in wanted]


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def render_messages(
    rows: Iterable[Mapping[str, Any]], campaigns: Sequence[Campaign]
) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    """Message columns per chosen row, and (customer_id, campaign_id, error type) for rows that failed."""
    by_key = plans(campaigns)
    out: dict[str, list[Any]] = {name: [] for name in MESSAGE_SCHEMA.names}
    failures: list[tuple[str, str, str]] = []
    for row in rows:
        plan = by_key[(row["campaign_id"], row["variant"])]
        data = plan.data(row)
        subject = body = None
        if row["arm"] == "treatment" and plan.subject is not None and plan.body is not None:
            context = plan.context(row, data)
            try:
                # Subjects are one line: template whitespace and newlines collapse.
                subject = " ".join(templating.render(plan.subject, context).split())
                body = templating.render(plan.body, context, autoescape=plan.autoescape)
            except RENDER_ERRORS as error:
                failures.append((row["customer_id"], row["campaign_id"], type(error).__name__))
                continue
        out["send_id"].append(row["send_id"])
        out["template_id"].append(plan.template_id)
        out["subject"].append(subject)
        out["body"].append(body)
        out["template_data"].append(json.dumps(data, default=_json_default, sort_keys=True))
    return pa.Table.from_pydict(out, schema=MESSAGE_SCHEMA), failures
