"""SQL text the policy's modules share: typed literals, and the queries kept in .sql files beside them."""

from __future__ import annotations

from datetime import UTC, date, datetime
from functools import cache
from importlib import resources
from string import Template


def date_literal(value: date) -> str:
    return f"date '{value.isoformat()}'"


def instant_literal(value: datetime) -> str:
    """A timestamptz literal; a naive datetime is read as UTC."""
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return f"timestamptz '{aware.astimezone(UTC).isoformat()}'"


@cache
def _query_template(name: str) -> Template:
    template = Template(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))
    if not template.is_valid():
        raise ValueError(f"{name}: a '$' that is not a ${{placeholder}}")
    return template


def fill_query(name: str, **parts: str) -> str:
    """The query in the file `name` beside this module, each `${placeholder}` replaced by its part.

    Strict both ways: a placeholder without a part, or a part without a placeholder, raises,
    so a renamed placeholder can neither leave `${...}` in the SQL nor silently drop a check.
    """
    template = _query_template(name)
    placeholders = set(template.get_identifiers())
    unfilled, unused = sorted(placeholders - set(parts)), sorted(set(parts) - placeholders)
    if unfilled or unused:
        raise ValueError(
            f"{name}: placeholders without a part {unfilled}, parts without a placeholder {unused}"
        )
    return template.substitute(parts)
