"""Staging keeps a file's judged rows on disk during its load, and leaves nothing behind afterwards."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from reengage import settings
from reengage.defs.ingest.contracts import CUSTOMERS
from reengage.defs.ingest.loader import load_day
from reengage.defs.ingest.reader import IngestError
from reengage.defs.ingest.staging import StagedFile

D = date(2026, 3, 10)
HEADER = (
    "customer_id,email,first_name,country,timezone,signup_at,plan,lifetime_value,"
    "marketing_consent,consent_updated_at,updated_at"
)


def a_dead_pid() -> int:
    pid = 4_000_000
    while True:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        except PermissionError:
            pass
        pid += 1


def test_a_load_removes_what_a_crashed_load_staged_and_its_own_staging(tmp_path: Path) -> None:
    """Staged rows are exported personal data: none may outlive the load that wrote them."""
    staging = settings.home() / "ingest_staging"
    crashed = staging / f"customers-{a_dead_pid()}-x1"
    running = staging / f"customers-{os.getpid()}-x2"  # a load still running in a live process
    for folder in (crashed, running):
        folder.mkdir(parents=True)
        (folder / "rows-000000.parquet").write_bytes(b"c1@example.com")
    landing = tmp_path / "landing" / "customers"
    landing.mkdir(parents=True)
    row = "c1,c1@example.com,Ann,DE,Europe/Berlin,2026-01-05T09:00:00Z,free,1,true,,2026-03-10T07:00:00Z"
    (landing / f"customers_{D}.csv").write_text(f"{HEADER}\n{row}\n")
    with duckdb.connect() as con:
        assert load_day(con, str(tmp_path / "landing"), "customers", D).rows_loaded == 1
    assert sorted(p.name for p in staging.iterdir()) == [running.name]


def test_a_value_staging_cannot_store_fails_the_file_without_showing_the_value(tmp_path: Path) -> None:
    staged = StagedFile(tmp_path, CUSTOMERS, D, "customers.csv", datetime.now(UTC))
    good = pd.DataFrame({name: pd.Series([None], dtype=object) for name in CUSTOMERS.names})
    good["marketing_consent"] = pd.Series(["ann.lee@example.com"], dtype=object)  # not a boolean
    good.insert(0, "_source_row", [1])
    with pytest.raises(IngestError) as raised:
        staged.add_rows(good)
    assert str(raised.value).startswith("customers.csv: could not stage the parsed rows (")
    assert "ann.lee" not in str(raised.value)
