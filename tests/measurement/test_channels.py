"""Measurement per channel: the daily results are grouped by channel, each user's outcome names the
channel of their first assignment, and a campaign's experiment stays one per campaign."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb

from reengage.defs.measurement.outcomes import compute_outcomes
from reengage.defs.measurement.results import compute_campaign_results

from .measurement_world import TARGETS, write_warehouse

DAY = date(2025, 6, 1)
AT = datetime(2025, 6, 1, 10)


def test_daily_results_are_grouped_by_channel_and_each_outcome_names_its_channel(tmp_path: Path) -> None:
    # Guards results that summed every channel's messages into one row per campaign and arm: a
    # campaign sending on two channels must show what each channel did.
    lists = [
        (f"s{i}", DAY, f"u{i}", f"u{i}@x.test", "win_back", "control", "treatment", AT) for i in range(5)
    ]
    sends = [
        (sid, day, cid, campaign, variant, "accepted") for sid, day, cid, _, campaign, variant, _, _ in lists
    ]
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        delivered = [(sid, contact, "delivered", AT) for sid, _, _, contact, *_ in lists]
        write_warehouse(
            con, lists, sends, delivered, events=[("u0", "purchase", AT + timedelta(hours=1), 10.0)]
        )
        # Two of the five went by another channel (a channel's own provider events are its own).
        con.execute(
            "update interventions.intervention_list set channel = 'postcard' where send_id in ('s0', 's1')"
        )
        results = compute_campaign_results(con, DAY, TARGETS)
        counted = zip(
            results["channel"], results["assigned"], results["sent"], results["converted"], strict=True
        )
        assert sorted(counted) == [("email", 3, 3, 0), ("postcard", 2, 2, 1)]
        outcomes = compute_outcomes(con, DAY, TARGETS)
        assert dict(zip(outcomes["customer_id"], outcomes["channel"], strict=True)) == {
            "u0": "postcard", "u1": "postcard", "u2": "email", "u3": "email", "u4": "email",
        }  # fmt: skip
