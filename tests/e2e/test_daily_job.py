"""The whole daily graph on a small generated world: real DuckDB, dbt, Great Expectations, scikit-learn,
and the official sendgrid client over HTTP to the local sink.

One world is built per module (dbt and model training are the slow parts); each test
reads what that run left behind, or reruns a step and checks nothing changed.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster._core.storage.tags import REPOSITORY_LABEL_TAG
from daily_world import generated_world, query, warnings_recorded

from reengage.learning.send_hour import SendHourConfig, choose_hours, read_customers
from reengage.runs import failures, run_day
from reengage.tables import as_frame
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink.store import TwilioSinkStore

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()  # read at import: runs pass allow_past_dates past midnight
DAYS = 56  # training needs 49: warm-up 28 + a week + the 14-day label horizon


@pytest.fixture(scope="module")
def run_warnings() -> list[warnings.WarningMessage]:
    """The warnings the daily run raised (filled by `world`)."""
    return []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, run_warnings: list[warnings.WarningMessage]):
    home = tmp_path_factory.mktemp("e2e_home")
    with generated_world(home, customers=1_500, days=DAYS, run_date=RUN_DATE, seed=11) as instance:
        refuse_two_of_todays_crm_rows(home / "landing" / "customers")
        with warnings_recorded() as seen:
            result = run_day(RUN_DATE, instance, allow_past_dates=True)
        run_warnings.extend(seen)
        assert result.success, failures(result)
        yield home, instance, result


# Two customers of the first snapshot re-stated today in rows ingest refuses (consent in doubt): one withdraws
# consent with a word ingest does not read as a boolean, the other has a time zone nobody knows.
REFUSED_TODAY = {
    "opted_out": {"marketing_consent": "opted_out"},
    "unknown_zone": {"timezone": "Mars/Olympus_Mons"},
}


def refuse_two_of_todays_crm_rows(folder: Path) -> dict[str, str]:
    """Append the REFUSED_TODAY rows to today's CRM export; returns the damaged customer per kind."""
    first = pd.read_csv(sorted(folder.glob("customers_*.csv"))[0], dtype=str, keep_default_na=False)
    today = folder / f"customers_{RUN_DATE}.csv"
    changed_today = set(pd.read_csv(today, dtype=str)["customer_id"])
    chosen = first[(first["marketing_consent"] == "true") & ~first["customer_id"].isin(changed_today)].head(2)
    rows = chosen.assign(updated_at=f"{RUN_DATE}T05:00:00Z").reset_index(drop=True)
    for index, damage in enumerate(REFUSED_TODAY.values()):
        for column, value in damage.items():
            rows.loc[index, column] = value
    with today.open("a") as out:
        rows.to_csv(out, header=False, index=False)
    return dict(zip(REFUSED_TODAY, rows["customer_id"], strict=True))


@pytest.fixture(autouse=True)
def world_home(world, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point each test at the module's world (the suite-wide fixture gives every test an empty home)."""
    monkeypatch.setenv("REENGAGE_HOME", str(world[0]))


def test_every_stage_produced_rows_for_the_run_date(world) -> None:
    home, _, _ = world
    for table, where in [
        ("raw.customers", ""),
        ("raw.events", f"where _partition_date = '{RUN_DATE}'"),
        ("marts.fct_sessions", ""),
        ("marts.fct_user_features", ""),
        ("scoring.churn_scores", f"where run_date = '{RUN_DATE}'"),
        ("interventions.decisions", f"where run_date = '{RUN_DATE}'"),
        ("interventions.intervention_list", f"where run_date = '{RUN_DATE}'"),
        ("delivery.campaign_sends", f"where run_date = '{RUN_DATE}'"),
        ("measurement.campaign_results", ""),
    ]:
        assert query(home, f"select count(*) from {table} {where}")[0][0] > 0, table


# Warnings a library raises about its own code, whatever a project does, as (where, how it starts):
# Dagster's definitions loader calls functions Dagster itself marks as preview, and dagster-dbt reads
# the deprecated context.op inside its dbt command. The last is Dagster's note that a job holding
# assets with different backfill policies is backfilled one run date per run: the daily job holds
# ingest and dbt (one run over a backfilled range) and the per-day assets, as it must, and Dagster
# has no way to give a job a policy of its own, so it says so at every load.
LIBRARIES_OWN = (
    ("dagster/components/core/defs_module.py", "Function `load_definitions_from_module` is"),
    ("dagster/_core/definitions/module_loaders/load_defs_from_module.py", "Function `load_definitions_from"),
    ("dagster_dbt/asset_utils.py", "AssetExecutionContext.op is deprecated"),
    ("dagster/_core/definitions/unresolved_asset_job_definition.py", "Asset job daily_reengagement materi"),
)


def test_the_daily_run_raises_no_warning(world, run_warnings: list[warnings.WarningMessage]) -> None:
    """A newcomer's first run shows no warning: none from the project's code, none from a library
    over how the project calls it (a pandas deprecation DuckDB's `.df()` tripped on every query)."""
    shown = [
        f"{w.category.__name__} at {w.filename}:{w.lineno}: {w.message}"
        for w in run_warnings
        if not any(
            w.filename.endswith(where) and str(w.message).startswith(start) for where, start in LIBRARIES_OWN
        )
    ]
    assert not shown, "\n".join(shown)


def test_quality_checks_ran_and_passed_on_the_raw_tables(world) -> None:
    _, _, result = world
    evaluations = [
        e.event_specific_data
        for e in result.all_events
        if e.event_type_value == "ASSET_CHECK_EVALUATION" and e.event_specific_data.asset_key.path[0] == "raw"
    ]
    assert {tuple(e.asset_key.path) for e in evaluations} >= {("raw", "customers"), ("raw", "events")}
    assert all(e.passed for e in evaluations), [e.check_name for e in evaluations if not e.passed]


def test_the_days_state_checks_ran_and_a_good_day_is_green(world) -> None:
    # Guards "the UI tells the state of the day": scores, settlement, SRM and guardrails are checks the
    # real job runs (the outcomes themselves are tested in tests/scoring, delivery and measurement).
    _, _, result = world
    verdicts = {
        (e.asset_key.to_user_string(), e.check_name): e.passed for e in result.get_asset_check_evaluations()
    }
    assert {
        key: verdicts.get(key)
        for key in [
            ("churn_scores", "every_customer_scored"),
            ("campaign_sends", "every_message_settled"),
            ("campaign_measurement", "no_sample_ratio_mismatch"),
        ]
    } == {
        ("churn_scores", "every_customer_scored"): True,
        ("campaign_sends", "every_message_settled"): True,
        ("campaign_measurement", "no_sample_ratio_mismatch"): True,
    }
    assert ("campaign_measurement", "no_guardrail_breached") in verdicts


def test_the_days_run_and_the_history_load_are_listed_on_their_jobs_pages(world) -> None:
    # Guards the job page saying "No runs found" after the demo: runs started from Python lacked the
    # code location's label the UI lists a job's runs by, and the history load was an unnamed asset job.
    _, instance, result = world
    on_the_page = {REPOSITORY_LABEL_TAG: "__repository__@reengage"}
    daily = instance.get_runs(dg.RunsFilter(job_name="daily_reengagement", tags=on_the_page))
    assert result.run_id in {run.run_id for run in daily}
    assert {run.tags["dagster/partition"] for run in daily} == {RUN_DATE.isoformat()}
    assert len(instance.get_runs(dg.RunsFilter(job_name="reengagement_backfill", tags=on_the_page))) == 1
    assert "__ASSET_JOB" not in {run.job_name for run in instance.get_runs()}


def test_every_treated_message_reached_the_sink_exactly_once(world) -> None:
    # Mail to the mail sink by send id; texts to the Twilio sink, each listed number and body once
    # (a text carries its send id only in its callback URL's query).
    home, _, _ = world
    treated_mail = {
        row[0]
        for row in query(
            home,
            "select send_id from interventions.intervention_list"
            " where run_date = ? and arm = 'treatment' and channel = 'email'",
            [RUN_DATE],
        )
    }
    accepted = SinkStore(home / "sink.sqlite").count_by_send_id()
    assert treated_mail, "the demo world should trigger some campaign"
    assert set(accepted) == treated_mail
    assert set(accepted.values()) == {1}
    listed_texts = sorted(
        query(
            home,
            "select contact, body from interventions.intervention_list"
            " where run_date = ? and arm = 'treatment' and channel = 'sms'",
            [RUN_DATE],
        )
    )
    texted = sorted((text.to, text.body) for text in TwilioSinkStore(home / "twilio_sink.sqlite").texts())
    assert texted == listed_texts


def test_each_campaigns_mail_goes_1000_to_a_request_and_each_recipient_receives_their_own(world) -> None:
    # Guards the daily job's sending: campaigns rendered per customer went out one request per
    # distinct rendering; now one request per campaign and started thousand, and what the sink
    # delivers (substitutions applied) is exactly the subject and body rendered for each person.
    home, _, _ = world
    rows = query(
        home,
        "select send_id, campaign_id, template_id, subject, body, template_data "
        "from interventions.intervention_list where run_date = ? and arm = 'treatment' and channel = 'email'",
        [RUN_DATE],
    )
    accepted = {m.send_id: m for m in SinkStore(home / "sink.sqlite").messages(status="accepted")}
    per_campaign = Counter(campaign for _, campaign, *_ in rows)
    assert any(template is None for _, _, template, *_ in rows), "some campaign renders per customer"
    assert len({accepted[row[0]].x_message_id for row in rows}) == sum(
        math.ceil(n / 1_000) for n in per_campaign.values()
    )
    for send_id, _, template_id, subject, body, data in rows:
        message = accepted[send_id]
        if template_id is None:
            assert (message.subject, message.content) == (subject, {"text/html": body})
        else:
            assert (message.template_id, message.template_data) == (template_id, json.loads(data))


def test_nobody_without_consent_or_with_a_suppression_was_chosen(world) -> None:
    home, _, _ = world
    offenders = query(
        home,
        """
        select count(*)
        from interventions.intervention_list as l
        left join marts.fct_user_features as f using (customer_id)
        left join marts.fct_email_suppressions as s on s.email = l.contact and l.channel = 'email'
        left join marts.fct_sms_suppressions as t on t.phone = l.contact and l.channel = 'sms'
        where l.run_date = ?
          and (l.channel not in ('email', 'sms')
               or (l.channel = 'email'
                   and (not coalesce(f.marketing_consent, false)
                        or f.consent_status is distinct from 'granted' or s.email is not null))
               or (l.channel = 'sms'
                   and (f.sms_consent_status is distinct from 'granted' or t.phone is not null)))
        """,
        [RUN_DATE],
    )[0][0]
    assert offenders == 0


def test_todays_refused_crm_rows_hold_their_customers_back_and_the_run_counts_them(world) -> None:
    # Guards consent failing safe through the whole daily job: today's refused CRM rows (REFUSED_TODAY) hold
    # their customers back (the test above: nobody but `granted` is listed) and the run says how many.
    home, _, result = world
    status = dict(
        query(
            home,
            """
            select r.refusal_reason, c.consent_status
            from staging.stg_crm__refused_customers as r
            join intermediate.int_customer_consent as c using (customer_id)
            where r.partition_date = ?
            """,
            [RUN_DATE],
        )
    )
    assert status == {"not a boolean (true/false)": "withdrawn", "not a known IANA timezone": "unverified"}
    unverified = query(
        home, "select count(*) from marts.fct_user_features where consent_status = 'unverified'"
    )[0][0]
    metadata = result.asset_materializations_for_node("intervention_list")[0].metadata
    assert metadata["unverified_profiles"].value == unverified >= 1


def test_held_out_users_are_recorded_and_never_sent(world) -> None:
    home, _, _ = world
    held = query(
        home,
        "select count(*), count(*) filter (where s.state = 'held') from interventions.intervention_list l "
        "join delivery.campaign_sends s using (send_id) where l.run_date = ? and l.arm = 'holdout'",
        [RUN_DATE],
    )[0]
    assert held[0] > 0 and held[0] == held[1]


def test_measurement_counts_match_the_ledger(world) -> None:
    home, _, _ = world
    measured = query(
        home,
        "select sum(sent), sum(assigned) from measurement.campaign_results where run_date = ?",
        [RUN_DATE],
    )[0]
    ledger = query(
        home,
        "select count(*) filter (where state = 'accepted'), count(*) "
        "from delivery.campaign_sends where run_date = ?",
        [RUN_DATE],
    )[0]
    assert measured == ledger


DECISIONS_SQL = (
    "select send_id, variant, arm, scheduled_send_at_utc from interventions.intervention_list "
    "where run_date = ? order by send_id"
)


@pytest.fixture(scope="module")
def rerun(world):
    """The same day run a second time on the same exports, with what the first run had left behind."""
    home, instance, _ = world
    before = query(home, DECISIONS_SQL, [RUN_DATE])
    requests_before = SinkStore(home / "sink.sqlite").request_count()
    result = run_day(RUN_DATE, instance, allow_past_dates=True)
    assert result.success, failures(result)
    return before, requests_before, result


def test_rerunning_the_day_sends_nothing_twice_and_keeps_the_same_decisions_and_send_times(
    world, rerun
) -> None:
    home, _, _ = world
    before, requests_before, _ = rerun
    after = query(home, DECISIONS_SQL, [RUN_DATE])
    store = SinkStore(home / "sink.sqlite")
    assert before == after
    assert store.request_count() == requests_before
    assert store.duplicates() == {}


def materialization(result: dg.ExecuteInProcessResult, asset: str) -> dict[str, object]:
    (event,) = [e for e in result.get_asset_materialization_events() if e.asset_key == dg.AssetKey([asset])]
    return {k: v.value for k, v in event.step_materialization_data.materialization.metadata.items()}


def test_the_first_run_fits_the_models_and_a_rerun_of_the_unchanged_day_recomputes_nothing(
    world, rerun
) -> None:
    # Guards the daily job's cost: it retrained the churn model and refitted the clusters every day,
    # and a rerun of the same day repeated scoring, clusters, send hours and the report.
    _, _, first = world
    _, _, again = rerun
    assert materialization(first, "churn_model")["cold_start"] is True  # a new install: the first run trains
    assert materialization(first, "behaviour_cluster_model")["cold_start"] is True
    assert materialization(again, "churn_model")["trained"] is False
    assert materialization(again, "behaviour_cluster_model")["fitted"] is False
    for asset in ("churn_scores", "behaviour_clusters", "preferred_send_hours", "campaign_report"):
        assert f"unchanged since run {first.run_id}" in materialization(again, asset).get("unchanged", ""), (
            asset
        )


def test_preferred_send_hours_are_the_local_hours_of_each_customers_own_activity(world) -> None:
    # Guards the send hours against the warehouse's naive UTC timestamps: read as local times they
    # moved every customer outside UTC by twice their offset. The expected hours are computed here
    # from the stitched events with Python's own time zones, then chosen by the same rule.
    home, _, _ = world
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        customers = read_customers(con)
        events = as_frame(
            con.execute(
                "select customer_id, event_ts from intermediate.int_events_stitched "
                "where customer_id is not null and event_ts >= ? and event_ts < ?",
                [RUN_DATE - timedelta(days=89), RUN_DATE + timedelta(days=1)],
            )
        )
        stored = as_frame(
            con.execute(
                "select customer_id, preferred_local_hour, source from scoring.preferred_send_hours "
                "where run_date = ? order by customer_id",
                [RUN_DATE],
            )
        )
    finally:
        con.close()
    zones = customers.set_index("customer_id")["timezone"].fillna("UTC")
    assert (zones != "UTC").any(), "the test world should have customers outside UTC"
    events = events[events["customer_id"].isin(zones.index)]
    local_slots = pd.concat(
        pd.DataFrame(
            {
                "customer_id": group["customer_id"],
                "slot": pd.to_datetime(group["event_ts"])
                .dt.tz_localize("UTC")
                .dt.tz_convert(zone)
                .dt.tz_localize(None)
                .dt.floor("h"),
            }
        )
        for zone, group in events.groupby(events["customer_id"].map(zones))
    )
    slots = (
        local_slots.drop_duplicates()
        .assign(local_hour=lambda f: f["slot"].dt.hour)
        .groupby(["customer_id", "local_hour"])
        .size()
        .reset_index(name="slots")
    )
    expected = choose_hours(slots, customers, SendHourConfig())
    assert stored["customer_id"].tolist() == expected["customer_id"].tolist()
    assert stored["preferred_local_hour"].tolist() == expected["preferred_local_hour"].tolist()
    assert stored["source"].tolist() == expected["source"].tolist()
