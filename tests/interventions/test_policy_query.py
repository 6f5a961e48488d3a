"""The decision query kept in decisions.sql: filled completely, or not at all."""

from __future__ import annotations

import re
from importlib import resources

import pytest

from reengage.defs.interventions.policy.sql import fill_query

QUERY = "decisions.sql"
TEXT = resources.files("reengage.defs.interventions.policy").joinpath(QUERY).read_text(encoding="utf-8")
PLACEHOLDERS = sorted(set(re.findall(r"\$\{(\w+)\}", TEXT)))


def test_a_placeholder_left_unfilled_or_a_part_nobody_asks_for_is_refused_before_any_sql_runs() -> None:
    # Guards a renamed placeholder: it would leave `${...}` in the SQL, or drop the part that
    # carries a check (the frequency cap, say) without a word.
    parts = {name: "1" for name in PLACEHOLDERS}
    assert "${" not in fill_query(QUERY, **parts)
    with pytest.raises(ValueError, match=r"without a part \['max_per_week'\]"):
        fill_query(QUERY, **{k: v for k, v in parts.items() if k != "max_per_week"})
    with pytest.raises(ValueError, match=r"without a placeholder \['max_per_month'\]"):
        fill_query(QUERY, **parts, max_per_month="1")


def test_every_placeholder_of_the_decision_query_is_described_in_its_header() -> None:
    # Guards the header going stale: a reader of the SQL learns there what each generated part holds.
    header = "\n".join(line for line in TEXT.splitlines() if line.startswith("--"))
    assert len(PLACEHOLDERS) > 10
    assert [name for name in PLACEHOLDERS if not re.search(rf"^--\s+{name}\s", header, re.M)] == []
