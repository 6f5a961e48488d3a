"""The `privacy/erasure_requests` asset on landing request files (real Dagster, DuckDB, SQLite)."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
from privacy_world import ALICE, ALICE_NEW, BOB, build_world

from reengage.defs.privacy.assets import erasure_requests
from reengage.warehouse import WarehouseResource


def materialize() -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [erasure_requests],
        partition_key="2026-03-11",
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )


def customers(home: Path) -> list[str]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return [
            r[0] for r in con.execute("select distinct customer_id from raw.customers order by 1").fetchall()
        ]
    finally:
        con.close()


def test_a_request_file_is_carried_out_once_and_reported_in_counts(isolated_home: Path) -> None:
    build_world(isolated_home)
    folder = isolated_home / "landing" / "privacy"
    folder.mkdir()
    (folder / "erasure_requests_2026-03-11.csv").write_text(f"email\n{ALICE_NEW}\n")

    first = materialize()
    second = materialize()

    assert first.success and second.success
    meta = first.get_asset_materialization_events()[0].materialization.metadata
    assert meta["requests_carried_out"].value == 1 and meta["rows_removed"].value > 0
    assert (
        second.get_asset_materialization_events()[0].materialization.metadata["requests_already_done"].value
        == 1
    )
    assert ALICE not in customers(isolated_home) and BOB in customers(isolated_home)
    shown = " ".join(str(v.value) for v in meta.values()) + " ".join(
        str(e.message) for e in first.all_events if e.message
    )
    assert ALICE_NEW not in shown and f"{ALICE}," not in shown


def test_an_unreadable_line_fails_the_run_after_the_good_lines_are_done(isolated_home: Path) -> None:
    build_world(isolated_home)
    folder = isolated_home / "landing" / "privacy"
    folder.mkdir()
    path = folder / "erasure_requests_2026-03-11.csv"
    path.write_text(f"customer_id,email\n{ALICE},\n,not-an-address\n")

    result = materialize()

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert (
        f"{path}: row 2, column email: not a valid email address" in failure.step_failure_data.error.message
    )
    assert ALICE not in customers(isolated_home), "the readable request is carried out anyway"
