"""The whole daily job on another warehouse kind: a demo world's history and day, and what its checks said."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

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
    home: Path,
    use_kind: Callable[[pytest.MonkeyPatch], None],
    customers: int,
    run_date: date,
    instance: dg.DagsterInstance | None = None,
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
        instance = instance or dg.DagsterInstance.ephemeral()
        history = load_history(
            run_date - timedelta(days=DAYS - 1), run_date - timedelta(days=1), instance, checks=False
        )
        assert history.success, failures(history)
        result = run_day(run_date, instance, allow_past_dates=True)
        assert result.success, failures(result)
        yield instance, result


def check_summary(result: dg.ExecuteInProcessResult) -> dict[str, dict[str, Any]]:
    """Each check of the run by name: passed, severity and the rows a gate validated (JSON-ready, so
    a run in another process can hand it over)."""
    return {
        e.event_specific_data.check_name: {
            "passed": e.event_specific_data.passed,
            "severity": e.event_specific_data.severity.value,
            "rows_validated": getattr(e.event_specific_data.metadata.get("rows_validated"), "value", None),
        }
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION"
    }


def assert_gates_passed(checks: dict[str, dict[str, Any]], gates: frozenset[str] = DAILY_GATES) -> None:
    """Every gate ran and passed, and no check of error severity failed (dbt's tests arrive as
    checks too; some only warn on the demo's dirty rows)."""
    assert gates <= set(checks), sorted(gates - set(checks))
    assert [name for name in sorted(gates) if not checks[name]["passed"]] == []
    error = dg.AssetCheckSeverity.ERROR.value
    assert [name for name, c in checks.items() if not c["passed"] and c["severity"] == error] == []


def rows_validated(checks: dict[str, dict[str, Any]], suite: str) -> int:
    """How many rows a Great Expectations gate of the run validated."""
    return checks[f"{suite}_expectations"]["rows_validated"]
