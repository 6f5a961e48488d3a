"""The uplift stage in Dagster: a campaign's model fitted from its own decisions, promoted, applied daily.

A hand-made world: 3,000 customers whose January purchases fix their `purchases_90d` through
February; every February day 40% of them are the campaign's contenders, 80% of those sent
(recorded treatment_probability 0.8). The message brings a purchase within two days to 40% of
the customers with two or more January purchases, and to nobody else: a learner that reads the
features finds them.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import pandas as pd
import pytest

from reengage import settings
from reengage.defs.measurement.targeting import latest_estimates, targeting_estimates
from reengage.defs.scoring.uplift import uplift_scores
from reengage.learning.uplift import registry as uplift_registry
from reengage.schema.migrations import migrate
from reengage.tables import as_frame
from reengage.warehouse import WarehouseResource

FIRST_DAY = date(2025, 2, 1)
DAYS = 24
RUN_DATE = FIRST_DAY + timedelta(days=DAYS)  # 2025-02-25: decisions to 02-22 have matured (3-day window)
CUSTOMERS = 3000

CAMPAIGN = """\
id: {id}
description: Cart reminder.
trigger:
  flag: cart_abandoned
channel: email
template:
  subject: "Hi"
  body: "<p>Hi</p>"
holdout_share: 0.2
priority: 10
cooldown_days: 0
attribution_window_days: 3
targeting:
  mode: uplift
  budget: {{share: 0.3}}
"""


def _world(path: Path, seed: int = 3) -> None:
    rng = np.random.default_rng(seed)
    customers = [f"c{i:04d}" for i in range(CUSTOMERS)]
    january = rng.integers(0, 4, CUSTOMERS)  # purchases in January: 2 or more = helped
    events = [
        (c, "purchase", pd.Timestamp("2025-01-05") + pd.Timedelta(days=int(k) * 3), True, 10.0)
        for c, n in zip(customers, january, strict=True)
        for k in range(n)
    ]
    decisions = []
    for d in range(DAYS):
        day = FIRST_DAY + timedelta(days=d)
        contenders = rng.random(CUSTOMERS) < 0.4
        treated = rng.random(CUSTOMERS) < 0.8
        converts = rng.random(CUSTOMERS)
        for i in np.flatnonzero(contenders):
            sent = bool(treated[i])
            decisions.append((day, customers[i], "chosen" if sent else "campaign_holdout", 0.8))
            helped = sent and january[i] >= 2
            if converts[i] < (0.45 if helped else 0.05):
                events.append(
                    (customers[i], "purchase", pd.Timestamp(day) + pd.Timedelta(hours=30), True, 10.0)
                )
    events_frame = pd.DataFrame(events, columns=["customer_id", "event_name", "event_ts", "active", "value"])
    decided = pd.DataFrame(decisions, columns=["run_date", "customer_id", "reason", "chance"])
    with duckdb.connect(str(path)) as con:
        con.execute("set timezone = 'UTC'")
        con.register("events_frame", events_frame)
        con.register("decided", decided)
        migrate(con)
        con.execute("""
            create schema intermediate; create schema staging;
            create table intermediate.int_events_stitched as
                select customer_id, event_name, event_ts, active as is_active_action, value from events_frame;
            create table staging.stg_crm__customers as
                select distinct 'c' || lpad(cast(i as varchar), 4, '0') as customer_id,
                       timestamptz '2024-12-01 00:00:00+00' as signup_at, 'free' as plan
                from range(3000) t(i)""")
        con.execute("""
            insert into interventions.decisions (run_date, customer_id, campaign_id, channel, outcome,
                reason, priority, treatment_probability, selection_probability, control_probability,
                exploration, targeting, scheduled_send_at_utc)
            select run_date, customer_id, 'upl', 'email', split_part(reason, '_', -1), reason, 10, chance,
                   1.0, 1 - chance, false, 'rules',
                   timezone('UTC', cast(run_date as timestamp) + interval 10 hour)
            from decided""")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("uplift_world") / "warehouse.duckdb"
    _world(path)
    return path


@pytest.fixture
def home(world: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    shutil.copy(world, tmp_path / "warehouse.duckdb")
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    (campaigns / "upl.yaml").write_text(CAMPAIGN.format(id="upl"))
    (campaigns / "young.yaml").write_text(CAMPAIGN.format(id="young"))  # no decisions yet
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    monkeypatch.setenv("REENGAGE_CAMPAIGNS", str(campaigns))
    return tmp_path


def _materialize(home: Path, asset: dg.AssetsDefinition, day: date, config: dict | None = None):
    result = dg.materialize(
        [asset],
        partition_key=day.isoformat(),
        resources={"warehouse": WarehouseResource(path=str(home / "warehouse.duckdb"))},
        run_config={"ops": {asset.key.to_user_string(): {"config": config}}} if config else None,
    )
    assert result.success
    return result.asset_materializations_for_node(asset.key.to_user_string())[0].metadata


def test_an_uplift_campaign_gets_a_promoted_model_from_its_own_decisions_and_daily_predictions(home) -> None:
    # Guards the stage the policy ranks by: without it an uplift campaign never leaves its cold
    # start. The model must be fitted from the campaign's matured randomized decisions, promoted
    # because it ranks the helped above the rest, and applied to every customer for the day.
    metadata = _materialize(home, uplift_scores, RUN_DATE, {"bootstrap": 200})
    done = metadata["campaigns"].value
    assert "promoted:" in done["upl"]["fit"] and done["upl"]["model_version"].startswith("uplift-")
    assert "99% interval" in done["upl"]["fit"]  # the daily job judges at 99%: it tries weekly
    assert done["young"]["model_version"] == "none" and done["young"]["fit"].startswith("not fitted:")
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        scores = as_frame(
            con.execute(
                "select s.customer_id, s.predicted_uplift, count(e.customer_id) filter ("
                "  where e.event_ts < timestamp '2025-02-01') as january"
                " from scoring.uplift_scores s"
                " left join intermediate.int_events_stitched e using (customer_id)"
                " where s.run_date = ? and s.campaign_id = 'upl' group by all",
                [RUN_DATE],
            )
        )
    assert len(scores) == CUSTOMERS
    helped = scores[scores["january"] >= 2]["predicted_uplift"].mean()
    others = scores[scores["january"] < 2]["predicted_uplift"].mean()
    assert helped > others + 0.1
    current = uplift_registry.current_version(settings.model_dir() / "uplift", "upl")
    assert current == done["upl"]["model_version"]


def test_a_fitted_campaign_is_not_refitted_until_its_refit_is_due(home) -> None:
    # Guards against a promotion test a day: a no-effect campaign tried daily would pass one by
    # chance. The next day applies the model it has; a week later a new candidate is fitted.
    _materialize(home, uplift_scores, RUN_DATE, {"bootstrap": 200})
    next_day = _materialize(home, uplift_scores, RUN_DATE + timedelta(days=1), {"bootstrap": 200})
    upl = next_day["campaigns"].value["upl"]
    assert upl["fit"].startswith(f"last fitted on {RUN_DATE}") and upl["customers_scored"] == CUSTOMERS
    forced = _materialize(
        home, uplift_scores, RUN_DATE + timedelta(days=1), {"bootstrap": 200, "retrain": True}
    )
    assert forced["campaigns"].value["upl"]["fit"].startswith("fitted uplift-")


def test_each_campaigns_targetings_are_judged_and_uplift_comes_out_ahead_where_the_message_helps_some(home):
    # Guards "a policy judged before it goes live" in the daily run: the campaign's candidates are
    # judged on its logged decisions and stored for the report and the preview.
    metadata = _materialize(home, targeting_estimates, RUN_DATE)
    assert "judged on" in metadata["why"].value["upl"]
    assert "fewer than" in metadata["why"].value["young"]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        judged = latest_estimates(con, RUN_DATE).set_index("targeting")
    uplift, risk = judged.loc["uplift, 30% a day"], judged.loc["churn risk, 30% a day"]
    assert uplift["incremental_per_1000_low"] > risk["incremental_per_1000"]
    assert uplift["sends_per_1000"] == pytest.approx(0.3 * 800, rel=0.05)
    again = _materialize(home, targeting_estimates, RUN_DATE + timedelta(days=1))
    assert again["why"].value["upl"] == "judged within the last 7 days"


def test_a_campaign_is_not_judged_on_fewer_than_three_days_of_decisions(home) -> None:
    # Guards a judgement that would stand for a week: on one or two days uplift cannot be
    # cross-fitted over whole days, and the judgement would not be repeated until seven days later.
    metadata = _materialize(home, targeting_estimates, FIRST_DAY + timedelta(days=4))  # 02-01 and 02-02
    assert metadata["why"].value["upl"] == "matured decisions of 2 day(s), fewer than the 3 needed"
    later = _materialize(home, targeting_estimates, FIRST_DAY + timedelta(days=5))
    assert later["why"].value["upl"].startswith("judged on")
