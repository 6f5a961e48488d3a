"""The `sms_sends` step in Dagster: the list's texts of the day through Twilio, beside `campaign_sends`.

The SMS channel's definition comes with its own branch of work (reengage/channels/sms.py); until
it is registered, these tests register a channel of their own named "sms", sent by "twilio", and write
the intervention list's rows directly into a real DuckDB file, as the policy would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import dagster as dg
import duckdb
import pytest
from delivery_helpers import API_KEY, intervention_rows
from sms_helpers import SETTLE_SECONDS, number

from reengage import cli, settings
from reengage.channels import EMAIL
from reengage.defs.delivery import assets
from reengage.defs.delivery.assets import DELIVERY_STEPS, campaign_sends, past_dates_allowed, sms_sends
from reengage.defs.delivery.checks import every_message_settled, every_text_settled
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.resource import SendGridResource
from reengage.defs.delivery.sms_sender import SmsMessage, claim_id
from reengage.defs.delivery.twilio_resource import TwilioResource, twilio_from_environment
from reengage.defs.operations.delivery_notice import delivery_notice
from reengage.schema.declared import INTERVENTION_LIST
from reengage.schema.migrations import migrate
from reengage.send_ids import send_id
from reengage.warehouse import WarehouseResource
from reengage_dev.sink import SinkHandle
from reengage_dev.twilio_sink import TwilioSinkHandle

TODAY = datetime.now(UTC).date()
# The channel as this test needs it: its name, and the resource kind that sends it.
SMS_FOR_TESTS = replace(EMAIL, name="sms", contact_column="phone", contact_label="phone", sender="twilio")


@pytest.fixture(autouse=True)
def sms_channel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(assets, "CHANNELS", {"email": EMAIL, "sms": SMS_FOR_TESTS})


def sms_rows(
    run_date: date, arms: tuple[str, ...] = ("treatment", "treatment", "treatment", "holdout")
) -> list:
    """Intervention-list rows on the sms channel: a number as the contact and a rendered body."""
    send_at = datetime.combine(run_date, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    return [
        (send_id(f"s{i}", "nudge", run_date, "sms"), run_date, f"s{i}", "sms", number(i), f"Name{i}", "UTC",
         "nudge", "A", arm, None, None, f"Name{i}, your cart misses you", json.dumps({}), send_at, "10:00",
         1, 0.5)
        for i, arm in enumerate(arms)
    ]  # fmt: skip


def write_list(run_date: date, *, email: bool = True, sms: bool = True) -> None:
    with duckdb.connect(str(settings.warehouse_path())) as con:
        migrate(con)
        rows = (intervention_rows(run_date) if email else []) + (sms_rows(run_date) if sms else [])
        con.executemany(INTERVENTION_LIST.insert_values(), rows)


def twilio_for(sink: TwilioSinkHandle) -> TwilioResource:
    return TwilioResource(
        local_sink_url=sink.url,
        messages_per_second=1000,
        seconds_between_texts_to_one_number=0,
        settle_delay_seconds=SETTLE_SECONDS,
        timeout_seconds=0.5,
    )


def materialize(
    selection: list, resources: dict, *, raise_on_error: bool = True
) -> dg.ExecuteInProcessResult:
    steps = [s for s in DELIVERY_STEPS if any(getattr(a, "key", None) == dg.AssetKey(s) for a in selection)]
    return dg.materialize(
        selection,
        partition_key=TODAY.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={"warehouse": WarehouseResource(), **resources},
        run_config=past_dates_allowed(steps),  # the suite may pass midnight
        raise_on_error=raise_on_error,
    )


def metadata_of(result: dg.ExecuteInProcessResult, step: str) -> dict:
    (materialization,) = result.asset_materializations_for_node(step)
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.fixture
def both_sinks(sink: SinkHandle, twilio_sink: TwilioSinkHandle) -> Iterator[dict]:
    yield {
        "sendgrid": SendGridResource(api_key=API_KEY, host=sink.url),
        "twilio": twilio_for(twilio_sink),
    }


def test_each_step_sends_its_own_channel_of_the_list_exactly_once_and_its_check_passes(
    both_sinks: dict, sink: SinkHandle, twilio_sink: TwilioSinkHandle
) -> None:
    # Guards the two delivery steps sharing one list and one ledger: email goes to SendGrid, texts
    # to Twilio, holdouts are held, each step's settled check judges its own rows, and the
    # metadata counts without a number or a body. Before, a list with sms rows stopped delivery.
    write_list(TODAY)
    result = materialize([campaign_sends, sms_sends, every_message_settled, every_text_settled], both_sinks)
    assert result.success
    texts = {(t.to, t.body) for t in twilio_sink.store.texts()}
    assert texts == {(number(i), f"Name{i}, your cart misses you") for i in range(3)}
    assert len(sink.store.count_by_send_id()) == 3
    ledger = SendLedger(settings.ledger_path())
    assert ledger.counts(TODAY, ["sms"]) == ledger.counts(TODAY, ["email"])  # 3 accepted, 1 held each
    assert (ledger.counts(TODAY, ["sms"])["accepted"], ledger.counts(TODAY, ["sms"])["held"]) == (3, 1)
    sms_meta = metadata_of(result, "sms_sends")
    assert (sms_meta["state/accepted"], sms_meta["state/held"], sms_meta["channels"]) == (3, 1, "sms")
    assert "| nudge | A | 3 | 1 |" in sms_meta["sends_by_campaign"]
    assert "winback" not in sms_meta["sends_by_campaign"], "the email step's rows are its own"
    assert "+1555" not in repr(sms_meta) and "misses you" not in repr(sms_meta)
    checks = {(e.asset_key.path[-1], e.passed) for e in result.get_asset_check_evaluations()}
    assert checks == {("campaign_sends", True), ("sms_sends", True)}

    again = materialize([sms_sends], both_sinks)  # a rerun of the day
    assert again.success and len(twilio_sink.store.texts()) == 3


def test_without_sms_rows_the_sms_step_does_nothing_and_needs_no_twilio_settings() -> None:
    # Guards the daily job of a deployment without SMS: the step must not demand Twilio credentials.
    write_list(TODAY, sms=False)
    result = materialize([sms_sends], {"twilio": twilio_from_environment()})
    assert result.success
    meta = metadata_of(result, "sms_sends")
    assert meta["note"] == f"no sms message in the list for {TODAY}"
    assert not any(SendLedger(settings.ledger_path()).counts(TODAY, ["sms"]).values())


def test_with_sms_rows_and_no_twilio_settings_the_step_refuses_in_one_line_and_plans_nothing() -> None:
    # Guards production: without credentials and without a local sink named, nothing is planned or
    # sent (not even the held-out rows), and the failure names the settings in one line.
    write_list(TODAY, email=False)
    result = materialize([sms_sends], {"twilio": twilio_from_environment()}, raise_on_error=False)
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    error = failure.step_failure_data.error.message.strip()
    assert "TwilioResource: no Twilio credentials" in error and "\n" not in error
    assert "REENGAGE_TWILIO_LOCAL_SINK_URL" in error and "TWILIO_AUTH_TOKEN" in error
    assert not any(SendLedger(settings.ledger_path()).counts(TODAY).values()), "nothing planned"


def test_a_channel_no_step_sends_stops_both_steps_before_anything_is_planned(both_sinks: dict) -> None:
    # Guards against silent loss: a list row on a channel without a sender would be skipped by both.
    write_list(TODAY)
    with duckdb.connect(str(settings.warehouse_path())) as con:
        con.execute(
            "update interventions.intervention_list set channel = 'postcard' where customer_id = 's0'"
        )
    result = materialize([sms_sends], both_sinks, raise_on_error=False)
    assert not result.success
    assert not any(SendLedger(settings.ledger_path()).counts(TODAY).values())


def test_resolve_settles_texts_a_gone_sender_left_in_flight(
    twilio_sink: TwilioSinkHandle, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards `resolve` for SMS: a text whose sender was killed after its request is looked up at
    # Twilio (not there: sent once), with the Twilio settings of the environment, no SendGrid key.
    monkeypatch.setenv("REENGAGE_TWILIO_LOCAL_SINK_URL", twilio_sink.url)
    write_list(TODAY, email=False)
    # Killed a minute ago, so the lookup need not wait for a request still on its way.
    minute_ago = datetime.now(UTC).timestamp() - 60
    ledger = SendLedger(settings.ledger_path(), clock=lambda: minute_ago)
    rows = sms_rows(TODAY)
    texts = [SmsMessage(r[2], r[7], r[8], TODAY.isoformat(), r[4], r[12]) for r in rows[:3]]
    ledger.plan_messages(texts, send_by=[int(minute_ago) + 7200] * 3)
    ledger.register_sender("gone", host="elsewhere", pid=1, pid_started=None, run_id=None)
    ledger.finish_sender("gone")
    send_at = {t.send_id: int(minute_ago) + 900 for t in texts}
    ledger.claim([t.send_id for t in texts], claim_id(minute_ago), send_at=send_at, claimed_by="gone")
    with duckdb.connect(str(settings.warehouse_path())) as con:
        con.execute("delete from interventions.intervention_list where arm = 'holdout'")
    assert cli.main(["resolve", "--date", TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert "  not settled: none" in out.splitlines()
    assert out.splitlines()[1] == (
        "  texts: 3 texts settled after their sender stopped (found at Twilio, or not there and requeued), "
        "3 sent (0 second copies cancelled, 3 requests)"
    )
    assert "+1555" not in out and "misses you" not in out
    assert ledger.counts(TODAY)["accepted"] == 3
    assert sorted(t.to for t in twilio_sink.store.texts()) == [number(i) for i in range(3)]


def test_texts_left_in_doubt_fail_the_sms_check_and_the_notice_counts_them(
    twilio_sink: TwilioSinkHandle,
) -> None:
    # Guards "unsettled means red" for SMS: the answers to the creates are lost and Twilio cannot be
    # asked what it holds (the lookup is refused), so the texts stay in doubt; the step's blocking
    # check fails the run and the delivery notice counts them, without a number or an id.
    write_list(TODAY, email=False)
    lost = {"mode": "drop", "when": "after", "count": 3}
    refused = {"status": 403, "method": "GET", "path": "/2010-04-01/Accounts/", "count": 50}
    twilio_sink.inject(lost, refused)
    instance = dg.DagsterInstance.ephemeral()
    result = dg.materialize(
        [sms_sends, every_text_settled],
        partition_key=TODAY.isoformat(),
        instance=instance,
        resources={"warehouse": WarehouseResource(), "twilio": twilio_for(twilio_sink)},
        run_config=past_dates_allowed(["sms_sends"]),
        raise_on_error=False,
    )
    assert not result.success
    (check,) = result.get_asset_check_evaluations()
    assert (check.passed, check.metadata["in_doubt"].value) == (False, 3)
    notice = delivery_notice(instance, instance.get_run_by_id(result.run_id))
    assert notice is not None and "3 message(s) left unsettled (3 in doubt)" in notice
    assert "+1555" not in notice
