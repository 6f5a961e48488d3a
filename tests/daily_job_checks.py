"""The whole daily job on another warehouse kind: a demo world's history and day, and what its checks said."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import pytest

from reengage.runs import failures, load_history, run_day
from reengage_dev.demo.world import generate_world
from reengage_dev.sink import serving_local_sink
from reengage_dev.twilio_sink import serving_local_twilio_sink

DAYS = 56  # training needs 49: warm-up 28 + a week + the 14-day label horizon

# The Great Expectations gates and the volume breakers every kind's daily run must pass.
DAILY_GATES = frozenset(
    {
        "raw_customers_expectations",
        "raw_events_expectations",
        "fct_user_features_expectations",
        "fct_user_responses_expectations",
        "intervention_list_expectations",
        "events_volume_and_freshness",
        "customers_volume_and_freshness",
    }
)


@contextmanager
def demo_day_on(
    home: Path, use_kind: Callable[[pytest.MonkeyPatch], None], customers: int, run_date: date
) -> Iterator[tuple[dg.DagsterInstance, dg.ExecuteInProcessResult]]:
    """A demo world's DAYS of exports in `home`, its history loaded (raw only; the raw gates are left
    out) and its last day run, on the kind `use_kind` sets; the local sinks serve until the block ends."""
    with (
        pytest.MonkeyPatch.context() as patch,
        serving_local_sink(home / "sink.sqlite"),
        serving_local_twilio_sink(home / "twilio_sink.sqlite"),  # an example campaign texts
    ):
        patch.setenv("REENGAGE_HOME", str(home))
        use_kind(patch)
        generate_world(home, customers=customers, days=DAYS, end_date=run_date, seed=11)
        instance = dg.DagsterInstance.ephemeral()
        history = load_history(
            run_date - timedelta(days=DAYS - 1), run_date - timedelta(days=1), instance, checks=False
        )
        assert history.success, failures(history)
        result = run_day(run_date, instance, allow_past_dates=True)
        assert result.success, failures(result)
        yield instance, result


def check_evaluations(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    """Each check's evaluation in the run, by check name."""
    return {
        e.event_specific_data.check_name: e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def assert_gates_passed(result: dg.ExecuteInProcessResult, gates: frozenset[str] = DAILY_GATES) -> None:
    """Every gate ran and passed, and no check of error severity failed (dbt's tests arrive as
    checks too; some only warn on the demo's dirty rows)."""
    by_name = check_evaluations(result)
    assert gates <= set(by_name), sorted(gates - set(by_name))
    assert [name for name in sorted(gates) if not by_name[name].passed] == []
    errors = [
        e.check_name for e in by_name.values() if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR
    ]
    assert errors == []


def rows_validated(result: dg.ExecuteInProcessResult, suite: str) -> int:
    """How many rows a Great Expectations gate of the run validated."""
    return check_evaluations(result)[f"{suite}_expectations"].metadata["rows_validated"].value
