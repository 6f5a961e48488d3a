"""Which rows parse.py would surely load as they are, found and typed in DuckDB over a whole file.

parse.py holds every rule and its reasons. This screen never refuses anything: it only picks
out, set-wise, rows whose every value has a plain shape that parse.py's rules accept and that
DuckDB types to exactly the value pandas gives (a timestamp with at most microseconds, a
decimal number of a few digits, a known time zone, ...). Those rows are loaded straight from
DuckDB; every other row (an odd shape, an empty required value, a value out of range) goes to
parse.py, which finds its reason. So a rule lives in parse.py once, and this screen can only be
narrower than it: tests/ingest/test_bulk_csv.py generates rows and checks that every row the
screen passes is one parse.py loads, with the same values.

The bounds and word lists are parse.py's own constants, passed in as parameters.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from reengage.catalog_values import VALID_CURRENCY, VALID_URL
from reengage.defs.ingest.contracts import Column, Contract, warehouse_lookback_days
from reengage.defs.ingest.parse import (
    EARLIEST,
    FALSE_WORDS,
    FUTURE_SLACK,
    TRUE_WORDS,
    known_timezones,
)
from reengage.emails import VALID_ADDRESS
from reengage.phones import VALID_NUMBER

# What Python's str.strip() removes (parse.py strips every value): DuckDB's trim is given the same set.
PYTHON_WHITESPACE = "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())
# The plain shapes this screen types itself; any other shape goes to parse.py. Hours stop at 23 and
# seconds at 59 (DuckDB reads 24:00:00 as the next day, pandas refuses it); fractions stop at
# microseconds (pandas keeps nanoseconds, the raw tables microseconds). The UTC offset is required:
# a value without one is parse.py's to read as UTC and count for its warning, and the instant of one
# with an offset does not depend on the connection's time zone.
PLAIN_TIMESTAMP = (
    r"[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]{1,6})?(Z|[+-](0[0-9]|1[0-3]):[0-5][0-9])"
)
PLAIN_UNIX_SECONDS = r"[0-9]{1,10}"  # whole seconds: a fraction is pandas' float arithmetic
PLAIN_NUMBER = r"-?[0-9]{1,9}(\.[0-9]{1,6})?"  # few enough digits that every parser rounds alike
PLAIN_DATE = r"(19|20)[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"  # pandas' dates end in 2262
PLAIN_BOOLEAN = r"[A-Za-z01]{1,5}"


@dataclass(frozen=True)
class Screen:
    """The SQL of one contract's screen over text columns named as the contract's columns."""

    contract: Contract
    present: frozenset[str]  # contract columns the file has; the others are empty
    # Whether a value may start or end with whitespace (bulk.py's pass over the bytes says when none
    # can): stripping every value as Python's str.strip does was a sixth of a plain file's load.
    edge_whitespace: bool = True

    def parameters(self, day: date) -> dict[str, object]:
        day_start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        lookback = day_start - timedelta(days=warehouse_lookback_days())
        return {
            "ws": PYTHON_WHITESPACE,
            "earliest": EARLIEST.to_pydatetime(),
            "late_bound": max(lookback, EARLIEST.to_pydatetime()),
            "day_end": day_start + timedelta(days=1),
            "true_words": list(TRUE_WORDS),
            "false_words": list(FALSE_WORDS),
            "timezones": sorted(known_timezones()),
        }

    def stripped_columns(self) -> list[str]:
        """Each contract column as parse.py reads it (stripped, empty as null), named `s:<column>`:
        the select list of the query the other expressions are evaluated over."""
        return [self.stripped_column(col.name) for col in self.contract.columns]

    def stripped_column(self, name: str) -> str:
        """One column of `stripped_columns`."""
        return f"{self._stripping(name)} as {self.stripped(name)}"

    def _stripping(self, name: str) -> str:
        if name not in self.present:
            return "null::varchar"
        value = _quoted(name)
        if not self.edge_whitespace:
            return f"nullif({value}, '')"
        # Python's whitespace is rare at either end: trimming the full set only where a value starts or
        # ends with a control character, a space or anything not ASCII is far cheaper.
        edged = (
            f"ord({value}) <= 32 or ord({value}) > 126 "
            f"or ord(reverse({value})) <= 32 or ord(reverse({value})) > 126"
        )
        return f"nullif(case when {edged} then trim({value}, $ws) else {value} end, '')"

    @staticmethod
    def stripped(name: str) -> str:
        """The name under which `stripped_columns` gives a column."""
        return _quoted(f"s:{name}")

    def sure(self) -> str:
        """True for a row parse.py surely loads unchanged (never null)."""
        checks = [self._plain(col) for col in self.contract.columns]
        if self.contract.at_least_one_of:
            checks.append(
                "coalesce("
                + ", ".join(self.stripped(n) for n in self.contract.at_least_one_of)
                + ") is not null"
            )
        return "coalesce(" + " and ".join(f"({c})" for c in checks) + ", false)"

    def typed(self, col: Column) -> str:
        """The value parse.py would load, for a row `sure` passes."""
        s = self.stripped(col.name)
        if col.type in ("email",) or col.lowercase:
            return f"lower({s})"
        if col.type == "currency":
            return f"upper({s})"
        if col.type in ("text", "phone", "timezone", "url"):
            return s
        if col.type == "timestamp":
            return f"try_cast({s} as timestamptz)"
        if col.type == "unix_timestamp":
            return f"to_timestamp(try_cast({s} as bigint))"
        if col.type == "boolean":
            return f"list_contains($true_words, lower({s}))"
        if col.type == "double":
            return f"try_cast({s} as double)"
        if col.type == "date":
            return f"try_cast({s} as date)"
        raise ValueError(f"unknown column type {col.type}")

    def _plain(self, col: Column) -> str:
        s = self.stripped(col.name)
        checks = [f"{s} is not null"] if col.required else []
        shape = self._shape(col, s)
        if shape:
            checks.append(f"{s} is null or ({shape})")
        if col.allowed:
            allowed = ", ".join(f"'{value}'" for value in col.allowed)
            checks.append(f"{s} is null or {self.typed(col)} in ({allowed})")
        return " and ".join(f"({c})" for c in checks) or "true"

    def _shape(self, col: Column, s: str) -> str:
        ascii_only = f"strlen({s}) = length({s})"  # lower() and the address pattern agree on ASCII
        if col.type == "text":
            return ascii_only if col.lowercase else ""
        if col.type == "email":
            return f"{ascii_only} and regexp_matches(lower({s}), '{_sql_text(VALID_ADDRESS)}')"
        if col.type == "phone":
            return f"regexp_matches({s}, '{_sql_text(VALID_NUMBER)}')"
        if col.type == "timezone":
            return f"list_contains($timezones, {s})"
        if col.type == "url":
            return f"{ascii_only} and regexp_matches({s}, '{_sql_text(VALID_URL)}')"
        if col.type == "currency":
            return f"{ascii_only} and regexp_matches(upper({s}), '{_sql_text(VALID_CURRENCY)}')"
        if col.type in ("timestamp", "unix_timestamp"):
            pattern = PLAIN_TIMESTAMP if col.type == "timestamp" else PLAIN_UNIX_SECONDS
            slack = FUTURE_SLACK.get(col.name, FUTURE_SLACK["default"])
            lower = "$late_bound" if col.name == self.contract.late_column else "$earliest"
            value = self.typed(col)
            return (
                f"regexp_full_match({s}, '{pattern}') and {value} >= {lower} "
                f"and {value} < $day_end + interval '{slack.days} days'"
            )
        if col.type == "boolean":
            return (
                f"regexp_full_match({s}, '{PLAIN_BOOLEAN}') "
                f"and (list_contains($true_words, lower({s})) or list_contains($false_words, lower({s})))"
            )
        if col.type == "double":
            bounds = [f"regexp_full_match({s}, '{PLAIN_NUMBER}')"]
            if col.min_value is not None:
                bounds.append(f"{self.typed(col)} >= {col.min_value!r}")
            if col.max_value is not None:
                bounds.append(f"{self.typed(col)} <= {col.max_value!r}")
            return " and ".join(bounds)
        if col.type == "date":
            return f"regexp_full_match({s}, '{PLAIN_DATE}') and {self.typed(col)} is not null"
        raise ValueError(f"unknown column type {col.type}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_text(text: str) -> str:
    return text.replace("'", "''")
