"""Campaign triggers and audience filters as SQL boolean expressions.

The policy engine selects every campaign's candidates in one set-based query,
so each campaign compiles to a WHERE clause over the flat `base` relation
(features plus `churn_probability`). Literal values come from YAML and are
quoted here; analyst-written `sql` predicates are bound against an empty
table with the features contract at load time, so a typo in a column name is
reported with its file and line instead of failing the daily run.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import duckdb

from reengage.defs.interventions.schema import FEATURE_COLUMNS, SCORE_COLUMNS

if TYPE_CHECKING:
    from reengage.defs.interventions.campaigns import Audience, Trigger


def sql_literal(value: object) -> str:
    """Quote a Python scalar as a SQL literal (strings get doubled single quotes)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _in_list(expression: str, values: Iterable[str]) -> str:
    return f"{expression} in ({', '.join(sql_literal(v) for v in values)})"


def _all_of(parts: list[str]) -> str:
    if not parts:
        return "true"
    return "coalesce(" + " and ".join(f"({p})" for p in parts) + ", false)"


def trigger_sql(trigger: Trigger) -> str:
    """Every condition given in a trigger must hold; a NULL anywhere means not triggered."""
    parts: list[str] = []
    if trigger.segments:
        parts.append(_in_list("segment", trigger.segments))
    parts.extend(f"coalesce({flag}, false)" for flag in trigger.flags)
    if trigger.dormancy_stages:
        parts.append(_in_list("dormancy_stage", trigger.dormancy_stages))
    if trigger.min_churn_score is not None:
        parts.append(f"churn_probability >= {sql_literal(float(trigger.min_churn_score))}")
    if trigger.sql is not None:
        # Newlines keep a trailing `--` comment in the predicate from eating the parenthesis.
        parts.append(f"\n{trigger.sql}\n")
    return _all_of(parts)


def audience_sql(audience: Audience) -> str:
    parts: list[str] = []
    if audience.countries:
        parts.append(_in_list("upper(country)", [c.upper() for c in audience.countries]))
    if audience.plans:
        parts.append(_in_list("lower(plan)", [p.lower() for p in audience.plans]))
    if audience.segments:
        parts.append(_in_list("segment", audience.segments))
    if audience.min_lifetime_value is not None:
        parts.append(f"lifetime_value >= {sql_literal(float(audience.min_lifetime_value))}")
    if audience.max_lifetime_value is not None:
        parts.append(f"lifetime_value <= {sql_literal(float(audience.max_lifetime_value))}")
    if audience.min_tenure_days is not None:
        parts.append(f"tenure_days >= {sql_literal(int(audience.min_tenure_days))}")
    return _all_of(parts)


def check_predicate(predicate: str) -> str | None:
    """Why `predicate` is not a usable boolean over the features contract, or None if it is."""
    if ";" in predicate:
        return "sql predicate must not contain ';' (one boolean expression, no statements)"
    columns = {**FEATURE_COLUMNS, **SCORE_COLUMNS}
    con = duckdb.connect()
    try:
        con.execute(
            "create table base (" + ", ".join(f'"{name}" {kind}' for name, kind in columns.items()) + ")"
        )
        types = con.sql(f"select (\n{predicate}\n) as p from base").types
    except duckdb.Error as error:
        first_line = str(error).strip().splitlines()[0]
        return f"sql predicate does not bind against the features columns: {first_line}"
    finally:
        con.close()
    if str(types[0]).upper() != "BOOLEAN":
        return f"sql predicate must be a boolean expression, got {types[0]}"
    return None
