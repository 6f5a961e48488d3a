"""Consent withdrawal and erasure through the real daily job: real DuckDB, dbt, Great Expectations and
the official sendgrid client over HTTP to the local sink.

Day N (yesterday) runs normally and emails some people. Before day N+1 (today):
the CRM export withdraws consent for a few of them, and an erasure request for
another one lands in `<landing>/privacy/`, while the same export still carries
that person. Day N+1 must email none of them, show the withdrawals as
suppressed with their reason, and leave no trace of the erased person anywhere
but the customer's own export files: not in a table, and not as a byte of any
file under the product's home or the Dagster home (a real instance on disk,
with the local deployment's dagster.yaml: run and event-log storage, compute logs).

Every customer's first name is made unique (`Hugo-0000007`), so that a byte
search for the erased person's name finds them and nobody else.

The world is small (300 customers, 8 days): the churn model needs 49 days of
history and is simply absent here, which the pipeline handles (no scores).
"""

from __future__ import annotations

import json
import re
import shutil
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd
import pytest
from dagster._serdes import serialize_value
from privacy_world import file_bytes, files_holding, plaintext_hits

from reengage.definitions import build_definitions
from reengage.defs.delivery.ledger import ERASED_MARKER, SendLedger
from reengage.privacy.keys import key_hash
from reengage.runs import DAILY_JOB, failures, load_history, run_day
from reengage.settings import REPO_ROOT
from reengage_dev.demo.world import generate_world
from reengage_dev.sink import serving_local_sink
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink import serving_local_twilio_sink

pytestmark = pytest.mark.e2e

RUN_DATE = datetime.now(UTC).date()
DAY_N = RUN_DATE - timedelta(days=1)
DAYS = 8
CUSTOMERS = 300
WITHDRAWALS = 10
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


def query(home: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def run_past_day(day, instance: dg.DagsterInstance) -> dg.ExecuteInProcessResult:
    """Day N is yesterday's partition; delivery sends for a past date only when told to."""
    job = build_definitions().resolve_job_def(DAILY_JOB)
    return job.execute_in_process(
        partition_key=day.isoformat(),
        instance=instance,
        raise_on_error=False,
        run_config={"ops": {"campaign_sends": {"config": {"allow_past_dates": True}}}},
    )


def edit_todays_customers(home: Path, changes: dict[str, dict[str, str]]) -> None:
    """Put a row for each customer in today's CRM export (editing theirs if there is one)."""
    path = home / "landing" / "customers" / f"customers_{RUN_DATE}.csv"
    today = pd.read_csv(path, dtype=str, keep_default_na=False)
    latest = dict(
        (row[0], row[1:])
        for row in query(
            home,
            "select customer_id, email, first_name, country, timezone, "
            "strftime(signup_at, '%Y-%m-%dT%H:%M:%SZ'), plan, cast(lifetime_value as varchar) "
            "from raw.customers "
            "qualify row_number() over (partition by customer_id order by updated_at desc) = 1",
        )
    )
    stamp = f"{RUN_DATE}T00:30:00Z"
    for customer_id, values in changes.items():
        here = today["customer_id"] == customer_id
        if here.any():
            for column, value in values.items():
                today.loc[here, column] = value
            if "marketing_consent" in values:
                today.loc[here, "consent_updated_at"] = today.loc[here, "updated_at"]
            continue
        email, first, country, tz, signup, plan, value = latest[customer_id]
        row = {
            "customer_id": customer_id,
            "email": email,
            "first_name": first,
            "country": country,
            "timezone": tz,
            "signup_at": signup,
            "plan": plan,
            "lifetime_value": value,
            "marketing_consent": "true",
            "consent_updated_at": stamp,
            "updated_at": stamp,
            **values,
        }
        today = pd.concat([today, pd.DataFrame([row])], ignore_index=True)
    today.to_csv(path, index=False)


def give_everyone_a_unique_first_name(home: Path) -> None:
    """`Hugo` becomes `Hugo-0000007` (the id's fixed-width number): no name is part of another."""
    for path in (home / "landing" / "customers").glob("customers_*.csv"):
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        frame["first_name"] = frame["first_name"] + "-" + frame["customer_id"].str.removeprefix("cus_")
        frame.to_csv(path, index=False)


def quarantine_a_record_of(home: Path, customer_id: str, day, instance: dg.DagsterInstance) -> None:
    """Re-deliver `day`'s CRM export with a broken row of the customer's (a consent that is no boolean)
    and load the day again through Dagster: raw.quarantine holds their whole raw record, and the
    run's log lines about it are in the Dagster home."""
    path = home / "landing" / "customers" / f"customers_{day}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    ((email, first, country, tz, signup, plan),) = query(
        home,
        "select email, first_name, country, timezone, strftime(signup_at, '%Y-%m-%dT%H:%M:%SZ'), plan "
        "from raw.customers where customer_id = ? order by updated_at desc limit 1",
        [customer_id],
    )
    stamp = f"{day}T23:00:00Z"
    broken = [customer_id, email, first, country, tz, signup, plan, "5", "maybe", stamp, stamp]
    broken += [""] * (len(frame.columns) - len(broken))  # no number, no SMS consent
    pd.concat([frame, pd.DataFrame([broken], columns=frame.columns)]).to_csv(path, index=False)
    reload = load_history(day, day, instance, checks=False)
    assert reload.success, failures(reload)
    quarantined = query(
        home,
        "select count(*) from raw.quarantine where source = 'customers' and _partition_date = ? "
        "and strpos(raw_record, ?) > 0",
        [day, customer_id],
    )
    assert quarantined == [(1,)]


def every_customer_email(home: Path) -> set[str]:
    emails: set[str] = set()
    for path in (home / "landing" / "customers").glob("customers_*.csv"):
        emails |= {e.strip().lower() for e in pd.read_csv(path, dtype=str, keep_default_na=False)["email"]}
    return {e for e in emails if e}


def person_patterns(customer_id: str, email: str, first_name: str, devices: list[str]) -> dict[str, bytes]:
    """Byte regexes of one person's values, as UTF-8: ids and names are fixed-width and unique here."""
    values = {"email": email, "customer id": customer_id, "first name": first_name}
    values |= {f"device {n}": device for n, device in enumerate(devices)}
    return {what: re.escape(value).encode() for what, value in values.items()}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("privacy_home")
    dagster_home = tmp_path_factory.mktemp("dagster_home")
    shutil.copyfile(REPO_ROOT / "reengage" / "dagster.local.yaml", dagster_home / "dagster.yaml")
    with pytest.MonkeyPatch.context() as patch, ExitStack() as stack:
        patch.setenv("REENGAGE_HOME", str(home))
        patch.setenv("DAGSTER_HOME", str(dagster_home))
        for name in ("REENGAGE_WAREHOUSE", "REENGAGE_LANDING", "SENDGRID_API_KEY", "REENGAGE_SENDGRID_HOST"):
            patch.delenv(name, raising=False)
        stack.enter_context(serving_local_sink(home / "sink.sqlite"))
        stack.enter_context(
            serving_local_twilio_sink(home / "twilio_sink.sqlite")
        )  # an example campaign texts
        generate_world(home, customers=CUSTOMERS, days=DAYS, end_date=RUN_DATE, seed=11)
        give_everyone_a_unique_first_name(home)
        instance = stack.enter_context(dg.DagsterInstance.get())
        history = load_history(
            RUN_DATE - timedelta(days=DAYS - 1), DAY_N - timedelta(days=1), instance, checks=False
        )
        assert history.success, failures(history)
        day_n = run_past_day(DAY_N, instance)
        assert day_n.success, failures(day_n)

        mailed = sorted(
            {(m.customer_id, m.email) for m in SinkStore(home / "sink.sqlite").messages(run_date=str(DAY_N))}
        )
        assert len(mailed) > WITHDRAWALS, "day N must email enough people for the test to mean anything"
        erased_id, erased_email = mailed[0]
        quarantine_a_record_of(home, erased_id, DAY_N, instance)
        ((erased_name,),) = query(
            home, "select distinct first_name from raw.customers where customer_id = ?", [erased_id]
        )
        withdrawn = [cid for cid, _ in mailed[1 : 1 + WITHDRAWALS]]
        devices = [
            r[0]
            for r in query(
                home,
                "select anonymous_id from raw.events where anonymous_id is not null group by 1 "
                "having bool_and(coalesce(user_id, ?) = ?) and bool_or(user_id = ?)",
                [erased_id, erased_id, erased_id],
            )
        ]
        sends_n = {r.send_id: r.state for r in SendLedger(home / "send_ledger.sqlite").rows(DAY_N)}
        person = person_patterns(erased_id, erased_email, erased_name, devices)
        before_erasure = files_holding([home, dagster_home], person, skip=(home / "landing",))

        # Before day N+1: the CRM withdraws consent, and still exports the person about to be erased.
        edit_todays_customers(
            home,
            {cid: {"marketing_consent": "false"} for cid in withdrawn} | {erased_id: {"email": erased_email}},
        )
        request = home / "landing" / "privacy" / f"erasure_requests_{RUN_DATE}.csv"
        request.parent.mkdir(parents=True)
        request.write_text(
            f"email,request_id,requested_by\n{erased_email.upper()},DSR-42,dpo@company.example\n"
        )

        day_n1 = run_day(RUN_DATE, instance)
        assert day_n1.success, failures(day_n1)
        yield {
            "home": home,
            "instance": instance,
            "runs": [history, day_n, day_n1],
            "dagster_home": dagster_home,
            "erased_id": erased_id,
            "erased_email": erased_email,
            "person": person,
            "before_erasure": before_erasure,
            "devices": devices,
            "withdrawn": withdrawn,
            "sends_n": sends_n,
        }


@pytest.fixture(autouse=True)
def world_home(world, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(world["home"]))


def test_consent_withdrawn_in_the_crm_stops_email_at_the_next_run(world) -> None:
    home, withdrawn = world["home"], world["withdrawn"]
    sent_today = {m.customer_id for m in SinkStore(home / "sink.sqlite").messages(run_date=str(RUN_DATE))}
    assert sent_today, "day N+1 must still email somebody, or the check below proves nothing"
    assert sent_today.isdisjoint(withdrawn)
    planned = {
        r.customer_id
        for r in SendLedger(home / "send_ledger.sqlite").rows(RUN_DATE)
        if r.state in ("planned", "in_flight", "accepted")
    }
    assert planned.isdisjoint(withdrawn)
    consent = dict(
        query(
            home,
            f"select customer_id, marketing_consent from marts.fct_user_features "
            f"where customer_id in ({', '.join('?' * len(withdrawn))})",
            withdrawn,
        )
    )
    assert consent == dict.fromkeys(withdrawn, False)


def test_withdrawn_people_are_held_back_with_the_no_consent_reason(world) -> None:
    withdrawn = world["withdrawn"]
    decided = query(
        world["home"],
        f"select customer_id, outcome, reason from interventions.decisions where run_date = ? "
        f"and customer_id in ({', '.join('?' * len(withdrawn))})",
        [RUN_DATE, *withdrawn],
    )
    assert decided, "some of yesterday's recipients must still be candidates today"
    assert {(outcome, reason) for _, outcome, reason in decided} == {("suppressed", "suppressed:no_consent")}
    changes = query(
        world["home"],
        "select customer_id from staging.stg_crm__consent_changes "
        "where channel = 'email' and not consent and previous_consent and cast(observed_at as date) = ?",
        [RUN_DATE],
    )
    assert set(withdrawn) <= {c for (c,) in changes}


def test_the_erased_person_is_in_no_table_ledger_or_sink(world) -> None:
    home = world["home"]
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        control = plaintext_hits(con, [world["withdrawn"][0]])
        hits = plaintext_hits(con, [world["erased_id"], world["erased_email"], *world["devices"]])
    finally:
        con.close()
    assert "raw.customers.customer_id" in control, "the scan must find a person who is there"
    assert hits == []
    assert world["devices"], "the erased person's own devices are part of the check"

    sink_bytes = file_bytes(home / "sink.sqlite")
    assert world["erased_email"].encode() not in sink_bytes
    assert re.search(re.escape(world["erased_id"]).encode() + rb"(?![0-9])", sink_bytes) is None
    ledger_bytes = file_bytes(home / "send_ledger.sqlite")
    assert re.search(re.escape(world["erased_id"]).encode() + rb"(?![0-9])", ledger_bytes) is None


def test_no_file_of_the_product_or_of_dagster_keeps_a_byte_of_the_erased_person(world) -> None:
    # Guards the DuckDB file keeping deleted rows in its freed blocks: SQL found nothing after the
    # erasure, but `grep -a` found the person's address, id and name in warehouse.duckdb, a whole
    # quarantined raw record among them. The landing folder holds the customer's own exports, the
    # truth folder the simulated world's hidden truth written beside them: neither is the product's.
    home, dagster_home = world["home"], world["dagster_home"]
    before = world["before_erasure"]
    assert any(hit.startswith("warehouse.duckdb: ") for hit in before), before
    assert any(hit.startswith("sink.sqlite") for hit in before), before
    # Every store the run writes is searched: Dagster's runs, event logs and compute logs, the
    # Data Docs, the report; the warehouse, ledger and sink with whatever WAL they have.
    for written in ("history/runs.db", "history/runs", "storage"):
        assert (dagster_home / written).exists(), written
    assert list(dagster_home.glob("storage/*/compute_logs/*.out"))
    assert list((home / "data_docs").rglob("*.html")) and list((home / "reports").glob("*.html"))
    assert files_holding([home, dagster_home], world["person"], skip=(home / "landing", home / "truth")) == []


def test_the_ledger_still_knows_every_send_so_reruns_send_nothing_twice(world) -> None:
    ledger = SendLedger(world["home"] / "send_ledger.sqlite")
    after = {r.send_id: r for r in ledger.rows(DAY_N)}
    assert {sid: r.state for sid, r in after.items()} == world["sends_n"]
    assert ERASED_MARKER in {r.customer_id for r in after.values()}
    assert SinkStore(world["home"] / "sink.sqlite").duplicates() == {}


def test_the_re_export_was_dropped_at_ingest_and_counted(world) -> None:
    day_n1 = world["runs"][2]
    customers = [
        e.materialization.metadata
        for e in day_n1.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["raw", "customers"])
    ]
    assert customers[0]["rows_dropped_erased_people"].value >= 1
    privacy = [
        e.materialization.metadata
        for e in day_n1.get_asset_materialization_events()
        if e.asset_key == dg.AssetKey(["privacy", "erasure_requests"])
    ]
    assert privacy[0]["requests_carried_out"].value == 1


def test_the_erasure_is_audited_without_plaintext(world) -> None:
    rows = query(
        world["home"],
        "select request_id, subject_hash, subject_kind, requested_by, rows_removed, rows_removed_by_table "
        "from privacy.erasure_audit",
    )
    assert len(rows) == 1
    request_id, subject_hash, kind, requested_by, removed, by_table = rows[0]
    assert (request_id, kind, requested_by) == ("DSR-42", "email", "dpo@company.example")
    assert subject_hash == key_hash("email", world["erased_email"])
    tables = json.loads(by_table)
    assert removed == sum(tables.values()) and {
        "raw.customers",
        "sink.messages",
        "ledger.send_ledger",
    } <= set(tables)


def test_no_address_reached_dagster_logs_or_metadata(world) -> None:
    emails = every_customer_email(world["home"])
    instance = world["instance"]
    leaked = set()
    for run in world["runs"]:
        for entry in instance.all_logs(run.run_id):
            leaked |= {m.lower() for m in EMAIL.findall(serialize_value(entry))} & emails
    assert leaked == set()


def test_reloading_old_exports_does_not_bring_the_person_back(world) -> None:
    history = load_history(DAY_N - timedelta(days=2), DAY_N, world["instance"])
    assert history.success, failures(history)
    con = duckdb.connect(str(world["home"] / "warehouse.duckdb"), read_only=True)
    try:
        assert plaintext_hits(con, [world["erased_id"], world["erased_email"]]) == []
    finally:
        con.close()
