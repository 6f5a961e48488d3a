"""The product's event vocabulary as Python reads it: the dbt seed `dbt_project/seeds/event_catalog.csv`.

The seed is the one definition (analysts edit it; dbt joins it onto every event as `event_kind`).
Ingest reads it to report event names nobody has described yet; the churn features and
measurement read it to know which names are purchases and which reverse one (refunds,
cancellations), and count revenue by the rule of dbt's macro `event_revenue`.
"""

from __future__ import annotations

import csv
from typing import Literal, get_args

from reengage import settings

EventKind = Literal["passive", "active", "purchase", "reversal"]
KINDS: tuple[str, ...] = get_args(EventKind)
SEED = settings.DBT_PROJECT_DIR / "seeds" / "event_catalog.csv"


def event_kinds() -> dict[str, str]:
    """Event name -> kind, as the seed says now (read on every call: it is a few lines, and an
    edited seed then counts without a restart)."""
    with SEED.open(newline="") as handle:
        kinds = {row["event_name"]: row["kind"] for row in csv.DictReader(handle)}
    unknown = sorted(set(kinds.values()) - set(KINDS))
    if unknown:
        raise ValueError(f"{SEED}: unknown event kind(s) {', '.join(unknown)}; expected {', '.join(KINDS)}")
    return kinds


def known_event_names() -> frozenset[str]:
    return frozenset(event_kinds())


def names_of_kind(kind: EventKind) -> list[str]:
    """The event names of `kind`, sorted (a stable order for queries and fingerprints)."""
    return sorted(name for name, named in event_kinds().items() if named == kind)


def is_purchase_sql(event_name: str) -> str:
    """SQL: whether the event named by the expression `event_name` is a purchase."""
    return _one_of(event_name, names_of_kind("purchase"))


def revenue_sql(event_name: str, value: str) -> str:
    """SQL: what one event adds to revenue, as dbt's macro event_revenue says (a purchase its value,
    a reversal minus its value's size, any other event null); sums of it are net revenue."""
    purchase, reversal = (
        _one_of(event_name, names_of_kind("purchase")),
        _one_of(event_name, names_of_kind("reversal")),
    )
    return f"case when {purchase} then {value} when {reversal} then -abs({value}) end"


def _one_of(expression: str, names: list[str]) -> str:
    if not names:
        return "false"
    quoted = ", ".join("'" + name.replace("'", "''") + "'" for name in names)
    return f"{expression} in ({quoted})"
