"""Consent through the real path: export files -> ingest (load_day) -> the dbt models that decide consent
-> the policy engine, with one always-triggered campaign and no holdouts, so every customer the policy may
mail is chosen and everyone else carries the reason they were not.

dbt takes seconds to start and more to parse: a `ConsentWorld` keeps one warehouse path and one dbt
target folder, so the tests that rebuild it again and again reuse dbt's partial parse.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from reengage.defs.ingest.contracts import CUSTOMERS
from reengage.defs.ingest.loader import load_day
from reengage.defs.interventions.campaigns import Trigger
from reengage.defs.interventions.policy import PolicyConfig, run_policy
from tests.interventions.conftest import make_campaign
from tests.warehouse.conftest import run_dbt

RUN_DATE = date(2026, 3, 10)
NOW = datetime(2026, 3, 10, 6, tzinfo=UTC)
# Only what decides who may be mailed, and what the features need to have a row per customer.
MODELS = ["+fct_user_features", "+fct_email_suppressions", "+fct_user_responses"]
EVERYONE = make_campaign("everyone", trigger=Trigger(sql="true"))
NO_HOLDOUT = PolicyConfig(global_holdout_share=0.0)


def stamp(day: date, second: int = 0) -> str:
    """An ISO-8601 instant on `day` (08:00 UTC plus `second` seconds, so rows of a day keep their order)."""
    return (datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=8, seconds=second)).isoformat()


def customer_row(
    customer: str, day: date, /, *, consent: bool = True, second: int = 0, **fields: str
) -> dict:
    """A clean CRM row (text, as exported) of `customer` taken on `day`; `fields` overrides any column."""
    row = {
        "customer_id": customer,
        "email": f"{customer}@example.com",
        "first_name": "Ada",
        "country": "FR",
        "timezone": "Europe/Paris",
        "signup_at": "2025-01-01T00:00:00Z",
        "plan": "free",
        "lifetime_value": "10",
        "marketing_consent": "true" if consent else "false",
        "consent_updated_at": stamp(day, second),
        "updated_at": stamp(day, second),
    }
    return row | fields


def email_event_row(email: str, event: str, day: date, **fields: str) -> dict:
    """A webhook record (text, as exported) of `day`."""
    when = int(datetime.combine(day, datetime.min.time(), UTC).timestamp()) + 9 * 3600
    row = {"email": email, "event": event, "timestamp": str(when), "sg_event_id": f"{email}-{event}-{day}"}
    return row | {"run_date": day.isoformat()} | fields


@dataclass
class Decisions:
    """The policy's reason per customer (one campaign, so one decision each), and who was listed."""

    reasons: dict[str, str]
    listed: set[str]
    unverified_profiles: int


class ConsentWorld:
    def __init__(self, home: Path, *, data_tests: bool = True) -> None:
        self.home = home
        # As the daily job builds (unit tests belong to the warehouse suite); data tests can be left
        # out where a test builds many worlds and only asks who is mailed.
        self.skipped_resources = ["unit_test"] if data_tests else ["unit_test", "test"]
        self.landing = home / "landing"
        self.warehouse = home / "warehouse.duckdb"
        self.dbt_dir = home / "dbt"

    def reset(self) -> None:
        """Forget every export and the warehouse (dbt's parse is kept)."""
        shutil.rmtree(self.landing, ignore_errors=True)
        self.warehouse.unlink(missing_ok=True)

    def write_customers(self, day: date, rows: Sequence[dict | str]) -> None:
        """One CRM file; a row given as text is written as that CSV line (a broken row)."""
        self._write_csv("customers", day, CUSTOMERS.names, rows)

    def write_email_events(self, day: date, rows: Sequence[dict]) -> None:
        path = self._path("email_events", day, "jsonl")
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))

    def run(self, days: Sequence[date] = (RUN_DATE,)) -> Decisions:
        """Ingest every day's files, build the models that decide consent as of RUN_DATE, and decide."""
        con = duckdb.connect(str(self.warehouse))
        try:
            for day in days:
                for source in ("customers", "email_events"):
                    load_day(con, str(self.landing), source, day)
        finally:
            con.close()
        result = run_dbt(
            [
                "build",
                "--select",
                *MODELS,
                # only the data tests of what is built (not those that also read other models)
                "--indirect-selection",
                "cautious",
                "--exclude-resource-type",
                *self.skipped_resources,
                "--vars",
                json.dumps({"run_date": RUN_DATE.isoformat()}),
            ],
            self.warehouse,
            self.dbt_dir,
        )
        assert result.returncode == 0, result.explain()
        con = duckdb.connect(str(self.warehouse))
        try:
            run = run_policy(con, RUN_DATE, [EVERYONE], NO_HOLDOUT, NOW)
            reasons = dict(
                con.execute(
                    "select customer_id, reason from interventions.decisions where run_date = ?", [RUN_DATE]
                ).fetchall()
            )
            listed = {
                c
                for (c,) in con.execute(
                    "select customer_id from interventions.intervention_list where run_date = ?", [RUN_DATE]
                ).fetchall()
            }
        finally:
            con.close()
        return Decisions(reasons, listed, run.unverified_profiles)

    def _path(self, source: str, day: date, extension: str) -> Path:
        path = self.landing / source / f"{source}_{day.isoformat()}.{extension}"
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def _write_csv(self, source: str, day: date, columns: Sequence[str], rows: Sequence[dict | str]) -> None:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            if isinstance(row, str):
                out.write(row + "\n")
            else:
                writer.writerow([row.get(c, "") for c in columns])
        self._path(source, day, "csv").write_text(out.getvalue())
