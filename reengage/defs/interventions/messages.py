"""Turn chosen rows into message content: template id, rendered subject and body, template data.

This is the only per-row Python in the policy, so it does as little as it
can per row: everything that depends only on (campaign, variant) is worked
out once, each template is compiled once, and a row's Jinja context holds
only the names that template reads (Jinja copies the context per render).
Held-out rows get template data but are not rendered: they are never sent.

Rendering is a pure function of (campaign, variant, the values the template
reads), and those values repeat a lot (first names, categories, offers), so
each distinct combination is rendered and JSON-encoded once and reused: on
the 1,000,000-user benchmark this turns hundreds of thousands of Jinja
renders into a few thousand. Keys carry each value's type, so `1`, `1.0` and
`True` never share an entry; values that cannot be hashed, and templates
calling a global that is not a pure function (`lipsum`, `cycler`, `joiner`),
are rendered per row as before. `cache=False` renders every row (tests
compare the two).
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

from reengage.channels import CHANNELS, EMAIL, Channel
from reengage.defs.delivery.payloads import MAX_TEMPLATE_DATA_BYTES
from reengage.defs.interventions import templating
from reengage.defs.interventions.blocks import Block, block_variables, column_name, fallback_column
from reengage.defs.interventions.campaigns import Campaign

# Columns every chosen row needs besides what templates read.
ROW_COLUMNS = ("send_id", "customer_id", "campaign_id", "variant", "arm", "channel")
MESSAGE_SCHEMA = pa.schema(
    [(name, pa.string()) for name in ("send_id", "template_id", "subject", "body", "template_data")]
)
# Exceptions a template can raise on one user's data (e.g. a filter given NULL).
RENDER_ERRORS = (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, AttributeError)
# Jinja globals whose output is not a function of the context.
IMPURE_GLOBALS = frozenset({"lipsum", "cycler", "joiner"})
_UNCACHEABLE = object()


def _typed_key(values: Iterable[Any]) -> tuple[Any, ...] | object:
    """A dict key for the values, or _UNCACHEABLE when one cannot be hashed."""
    key = tuple((type(v), v) for v in values)
    try:
        hash(key)
    except TypeError:
        return _UNCACHEABLE
    return key


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
    max_segments: int | None = None  # the campaign's own limit for texts (None: the channel's)
    blocks: tuple[Block, ...] = ()  # personal blocks (blocks.py): their data is the row's own

    @property
    def read_order(self) -> tuple[str, ...]:
        return tuple(sorted(self.reads))

    @property
    def cacheable(self) -> bool:
        # A message showing blocks is the person's own: nothing to share with anyone else.
        return not self.reads & IMPURE_GLOBALS and not self.blocks

    def block_values(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """The blocks of a message that is sent (a held-out row is never sent: it gets none).

        Each block under its name (a list, empty when there is nothing to show; progress an
        object or None) and `<name>_fallback` (True when the generic fallback stands in).
        """
        if row.get("arm") != "treatment":
            return {}
        values: dict[str, Any] = {}
        for block in self.blocks:
            value = row.get(column_name(block.name))
            values[block.name] = value if value is not None or block.kind.one_object else []
            values[block.fallback_variable] = bool(row.get(fallback_column(block.name), True))
        return values

    def data(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """Template data: what SendGrid's dynamic template sees (and the list stores); a dynamic
        template's blocks are part of it, a Jinja template's are rendered into its body."""
        return {
            **self.constants,
            **{key: row.get(column) for key, column in self.data_columns.items()},
            **self.variant_data,
            **(self.block_values(row) if self.template_id else {}),
        }

    def context(self, row: Mapping[str, Any], data: Mapping[str, Any]) -> dict[str, Any]:
        """Data keys win over blocks, then `variant`, then features columns."""
        context: dict[str, Any] = {}
        blocks = self.block_values(row) if self.blocks and self.reads else {}
        for name in self.reads:
            if name in data:
                context[name] = data[name]
            elif name in blocks:
                context[name] = blocks[name]
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
                max_segments=template.max_segments,
                blocks=campaign.blocks_for(variant),
            )
    return out


def columns_needed(campaigns: Sequence[Campaign], available: Iterable[str]) -> list[str]:
    """Row columns to fetch for rendering: fixed ones, data mappings, and names templates read."""
    wanted = set(ROW_COLUMNS)
    for plan in plans(campaigns).values():
        wanted |= set(plan.data_columns.values()) | plan.reads
    return [c for c in available if c in wanted]


def _context_key(plan: MessagePlan, context: Mapping[str, Any], read_order: Sequence[str]) -> Any:
    """A dict key for the values a template reads; blocks (lists and dicts) by their JSON text, so
    people whose blocks hold the same (the same progress, the same popular products) share a render."""
    if not plan.blocks:
        return _typed_key(context[name] for name in read_order)
    blocks = block_variables(tuple(b.name for b in plan.blocks))
    plain = _typed_key(context[name] for name in read_order if name not in blocks)
    if plain is _UNCACHEABLE:
        return plain
    shown = [context[name] for name in read_order if name in blocks]
    return (plain, json.dumps(shown, default=_json_default, sort_keys=True))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return str(value)


def _render(plan: MessagePlan, context: Mapping[str, Any]) -> tuple[str, str] | str:
    """(subject, body), or the error type's name when the template fails on this context."""
    try:
        # Subjects are one line: template whitespace and newlines collapse.
        subject = " ".join(templating.render(plan.subject or "", context).split())
        body = templating.render(plan.body or "", context, autoescape=plan.autoescape)
    except RENDER_ERRORS as error:
        return type(error).__name__
    return subject, body


def render_messages(
    rows: Iterable[Mapping[str, Any]],
    campaigns: Sequence[Campaign],
    cache: bool = True,
    channels: Mapping[str, Channel] = CHANNELS,
) -> tuple[pa.Table, list[tuple[str, str, str]]]:
    """Message columns per chosen row, and (customer_id, campaign_id, error type) for rows that failed:
    a template error, or a body over the row's channel's limits (`too_long:<n>_segments`)."""
    by_key = plans(campaigns)
    orders = {key: (plan.read_order, tuple(plan.data_columns.values())) for key, plan in by_key.items()}
    rendered: dict[tuple[Any, ...], tuple[str, str] | str] = {}
    encoded: dict[tuple[Any, ...], str] = {}
    out: dict[str, list[Any]] = {name: [] for name in MESSAGE_SCHEMA.names}
    failures: list[tuple[str, str, str]] = []
    for row in rows:
        plan_key = (row["campaign_id"], row["variant"])
        plan = by_key[plan_key]
        read_order, data_order = orders[plan_key]
        data = plan.data(row)
        subject = body = None
        if row["arm"] == "treatment" and plan.body is not None:
            context = plan.context(row, data)
            values = _context_key(plan, context, read_order)
            if cache and not plan.reads & IMPURE_GLOBALS and values is not _UNCACHEABLE:
                memo_key = (plan_key, values)
                result = rendered.get(memo_key)
                if result is None:
                    result = rendered[memo_key] = _render(plan, context)
            else:
                result = _render(plan, context)
            if isinstance(result, str):
                failures.append((row["customer_id"], row["campaign_id"], result))
                continue
            subject, body = result
            limits = channels[row.get("channel") or EMAIL.name].limits
            too_long = limits.too_long(body, plan.max_segments)
            if too_long is not None:  # a body over the channel's limit is refused, never cut
                failures.append((row["customer_id"], row["campaign_id"], too_long))
                continue
            if not limits.needs_subject:
                subject = None
        data_values = _typed_key(row.get(column) for column in data_order)
        if cache and data_values is not _UNCACHEABLE and not plan.blocks:
            json_key = (plan_key, data_values)
            text = encoded.get(json_key)
            if text is None:
                text = encoded[json_key] = json.dumps(data, default=_json_default, sort_keys=True)
        else:
            text = json.dumps(data, default=_json_default, sort_keys=True)
        # ASCII (json.dumps escapes the rest), so characters are bytes: the size SendGrid receives.
        if plan.template_id and row["arm"] == "treatment" and len(text) > MAX_TEMPLATE_DATA_BYTES:
            failures.append((row["customer_id"], row["campaign_id"], "template_data_too_large"))
            continue
        out["send_id"].append(row["send_id"])
        out["template_id"].append(plan.template_id)
        out["subject"].append(subject)
        out["body"].append(body)
        out["template_data"].append(text)
    return pa.Table.from_pydict(out, schema=MESSAGE_SCHEMA), failures
