"""What the daily-job tests share: a generated demo world with its history loaded, and queries of it."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from reengage.runs import failures, load_history
from reengage_dev.demo.world import generate_world
from reengage_dev.sink import serving_local_sink
from reengage_dev.twilio_sink import serving_local_twilio_sink


@contextmanager
def generated_world(
    home: Path, *, customers: int, days: int, run_date: date, seed: int
) -> Iterator[dg.DagsterInstance]:
    """A world of `days` days ending `run_date` in `home` (REENGAGE_HOME inside the block), every day
    before `run_date` loaded into the raw tables; run_date's own exports are left for its daily run.
    Local sinks storing into `home` receive the block's mail (REENGAGE_LOCAL_SINK_URL) and texts
    (REENGAGE_TWILIO_LOCAL_SINK_URL: an example campaign texts)."""
    with (
        pytest.MonkeyPatch.context() as patch,
        serving_local_sink(home / "sink.sqlite"),
        serving_local_twilio_sink(home / "twilio_sink.sqlite"),
    ):
        patch.setenv("REENGAGE_HOME", str(home))
        for name in ("REENGAGE_WAREHOUSE", "REENGAGE_LANDING", "SENDGRID_API_KEY", "REENGAGE_SENDGRID_HOST"):
            patch.delenv(name, raising=False)
        generate_world(home, customers=customers, days=days, end_date=run_date, seed=seed)
        instance = dg.DagsterInstance.ephemeral()
        history = load_history(
            run_date - timedelta(days=days - 1), run_date - timedelta(days=1), instance, checks=False
        )
        assert history.success, failures(history)
        yield instance


@contextmanager
def warnings_recorded() -> Iterator[list[warnings.WarningMessage]]:
    """Every warning raised inside the block, each time it is raised, whoever would have shown it."""
    # Great Expectations sends warnings to logging (logging.captureWarnings) when first imported; imported
    # here first, so the recorder is what the block's warnings reach, not a logger nobody reads.
    import great_expectations.validator.validator  # noqa: F401

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        yield seen


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of `sql` on the world's warehouse, opened read-only."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()
