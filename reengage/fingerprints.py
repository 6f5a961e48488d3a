"""Skip the rerun of a step whose inputs did not change.

After a step has written its output for run date D, it records a fingerprint of everything
that output was computed from: the content of the rows it reads (hashed inside the
warehouse, so nothing is loaded into Python), the model it applies, its configuration and
its own code. A later run of D whose step computes the same fingerprint, and finds the output
it recorded still in place, skips the work and says since which run it is unchanged. Any
difference recomputes: a changed row, a late event, a new model, an edited setting or a new
release of the step's code; so does a missing record (the first run, or a crash between the
write and the record, which therefore only costs a recomputation).

The fingerprint of rows is their count and the sum of every row's hash (DuckDB's `hash` of
the row as a struct): independent of row order, changed by any value of any selected column.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from types import ModuleType

import duckdb

from reengage.schema.declared import STEP_INPUTS
from reengage.schema.migrations import migrate, require
from reengage.warehouse import transaction

TABLE = STEP_INPUTS.name


@dataclass(frozen=True)
class Recorded:
    """The run that last computed a step's output for a run date, and from which inputs."""

    fingerprint: str
    output: str
    run_id: str
    recorded_at: datetime

    def describe(self) -> str:
        return f"unchanged since run {self.run_id} ({self.recorded_at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"


def rows_digest(con: duckdb.DuckDBPyConnection, sql: str, params: Mapping[str, object] | None = None) -> str:
    """Order-independent digest of a query's rows, computed in the warehouse: row count and hash sum."""
    count, total = con.execute(
        f"select count(*), coalesce(sum(hash(q)), 0) from ({sql}) as q", dict(params or {})
    ).fetchall()[0]
    return f"{count}:{total}"


def code_digest(*modules: ModuleType) -> str:
    """sha256 of the modules' source: a new release of a step's logic recomputes its output."""
    digest = hashlib.sha256()
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:16]


def fingerprint(**parts: object) -> str:
    """One sha256 over named parts (digests, versions, configuration), in a stable order."""
    payload = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:32]


def unchanged_since(
    con: duckdb.DuckDBPyConnection, step: str, run_date: date, inputs: str, output: str
) -> Recorded | None:
    """The run whose recorded inputs and output for `run_date` match these, or None (recompute).

    Reads only, so a step holding a read-only connection can ask before doing its work.
    """
    require(con, STEP_INPUTS)
    rows = con.execute(
        f"select fingerprint, output, run_id, recorded_at from {TABLE} where step = ? and run_date = ?",
        [step, run_date],
    ).fetchall()
    if not rows:
        return None
    recorded = Recorded(*rows[0])
    return recorded if (recorded.fingerprint, recorded.output) == (inputs, output) else None


def record(
    con: duckdb.DuckDBPyConnection, step: str, run_date: date, inputs: str, output: str, run_id: str
) -> None:
    """Remember that `run_id` computed `step`'s output for `run_date` (digest `output`) from `inputs`."""
    migrate(con)
    with transaction(con):
        con.execute(f"delete from {TABLE} where step = ? and run_date = ?", [step, run_date])
        con.execute(
            STEP_INPUTS.insert_values(["step", "run_date", "fingerprint", "output", "run_id", "recorded_at"]),
            [step, run_date, inputs, output, run_id, datetime.now(UTC)],
        )
