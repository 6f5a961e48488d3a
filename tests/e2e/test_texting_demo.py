"""The demo loop's texts through the real daily job: a small world that answers the pipeline's texts.

One run per module (history, then one real daily job per sending day with real dbt, Great
Expectations, the official twilio client and the local Twilio sink). Its campaigns: one that
texts everyone who agreed to texts, every day (no cooldown), half of them held out, and one that
mails everyone else (its fallback to texts finds nobody: the first campaign wins every texter's
day, its holdout included). The world
(tests/fixtures/worlds/strong_text_effect.yaml) gives the texts a large effect and many STOP
replies. Per-channel results are measurement's; these tests read what the world and the sinks
record.
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest

from reengage.defs.delivery.ledger import SendLedger
from reengage.warehouse import connect
from reengage_dev.demo.loop import DemoConfig, simulate
from reengage_dev.twilio_sink.store import TwilioSinkStore

pytestmark = pytest.mark.e2e

WORLD = Path(__file__).resolve().parents[1] / "fixtures" / "worlds" / "strong_text_effect.yaml"
LAST_DAY = date(2025, 6, 20)
CONFIG = DemoConfig(
    customers=500,
    history_days=14,
    sending_days=4,
    seed=3,
    world=WORLD,
    last_day=LAST_DAY,
    history_checks=False,
)
TEXT_EVERYONE = """\
id: text_everyone
description: A text to everyone who agreed to texts, every day.
trigger:
  sql: "true"
channel: sms
template:
  format: text
  body: "{{ first_name or 'Hi' }}, new in {{ favourite_category or 'our shop' }}. Reply STOP to opt out"
holdout_share: 0.5
priority: 10
cooldown_days: 0
attribution_window_days: 3
"""
MAIL_ELSE_TEXT = """\
id: mail_else_text
description: Everyone else, by email where they agreed to it, else by text.
trigger:
  sql: "true"
channels: [email, sms]
template:
  format: text
  subject: "Hi {{ first_name or 'there' }}"
  body: "Hi {{ first_name or 'there' }}, {{ favourite_category or 'something new' }} is waiting for you."
holdout_share: 0.1
priority: 20
cooldown_days: 0
"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("texting_demo")
    campaigns = home / "campaigns"
    campaigns.mkdir()
    (campaigns / "text_everyone.yaml").write_text(TEXT_EVERYONE)
    (campaigns / "mail_else_text.yaml").write_text(MAIL_ELSE_TEXT)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_HOME", str(home))
        patch.setenv("REENGAGE_CAMPAIGNS", str(campaigns))
        # The texts' extra visits more than double a few hundred customers' events: the volume
        # breaker is right to stop such a day, and is not what this module checks.
        patch.setenv("REENGAGE_VOLUME_EVENTS_MAX_RATIO", "50")
        lines: list[str] = []
        run = simulate(CONFIG, say=lines.append)
        assert not run.failed, run.failed
        yield home, run, lines


@pytest.fixture(autouse=True)
def demo_home(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(demo[0]))


def _query(sql: str, params: list | None = None) -> list[tuple]:
    with connect(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def _sms_events(home: Path) -> pd.DataFrame:
    rows = [
        {**json.loads(line), "file_day": path.stem.removeprefix("sms_events_")}
        for path in sorted((home / "landing" / "sms_events").glob("*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    return pd.DataFrame(rows)


def _texts_truth(home: Path) -> pd.DataFrame:
    return pd.concat(
        pq.read_table(p).to_pandas() for p in sorted((home / "truth" / "texts").glob("*.parquet"))
    )


def test_each_of_the_demos_texts_reaches_the_twilio_sink_exactly_once(demo) -> None:
    # Guards the demo's second sink: the daily job in the demo's process texts through the local
    # Twilio sink the loop started, every accepted text of the ledger once, and the world answers
    # each exactly once.
    home, run, lines = demo
    texts = TwilioSinkStore(home / "twilio_sink.sqlite").texts()
    sent = [dict(parse_qsl(urlsplit(t.status_callback).query))["send_id"] for t in texts if t.status_callback]
    assert len(sent) == len(texts) == len(set(sent)) > 50
    accepted = {
        r.send_id for r in SendLedger(home / "send_ledger.sqlite").rows(channels=["sms"], state="accepted")
    }
    assert set(sent) == accepted
    listed = _query(
        "select count(*) from interventions.intervention_list where channel = 'sms' and arm = 'treatment'"
    )[0][0]
    assert listed >= len(accepted)
    assert sorted(_texts_truth(home)["send_id"]) == sorted(sent)
    days = [line for line in lines if line.startswith("day ")]
    assert len(days) == CONFIG.sending_days and " texts: " in days[0]
    ledger = SendLedger(home / "send_ledger.sqlite")
    assert {r.campaign_id for r in ledger.rows(channels=["sms"])} == {"text_everyone"}
    assert "mail_else_text" in {r.campaign_id for r in ledger.rows(channels=["email"], state="accepted")}


def test_the_worlds_answers_land_as_sms_events_and_load(demo) -> None:
    # Guards the world's answers against the contract: every callback and STOP reply the world
    # exported for the days the pipeline ran is loaded into raw.sms_events, none refused, and
    # the staging keeps each once with the send id it came with.
    home, run, _ = demo
    events = _sms_events(home)
    ran = events[events["file_day"] <= LAST_DAY.isoformat()]
    assert len(ran) > 100 and set(ran["MessageStatus"]) >= {
        "queued",
        "sent",
        "delivered",
        "undelivered",
        "received",
    }
    assert _query("select count(*) from raw.sms_events")[0][0] == len(ran)
    assert _query("select count(*) from raw.quarantine where source = 'sms_events'") == [(0,)]
    staged = _query("select count(*), count(send_id) from staging.stg_twilio__sms_events")
    assert staged == [(len(ran), int(ran["send_id"].notna().sum()))]
    # Each text's callbacks name its campaign, so its answers pause like an email's.
    assert _query(
        "select count(*) from staging.stg_twilio__sms_events"
        " where send_id is not null and campaign_id is null"
    ) == [(0,)]
    answers = _query(
        "select campaign_id, count(*) from marts.fct_user_responses where channel = 'sms' group by all"
    )
    assert len(answers) == 1 and answers[0][0] == "text_everyone" and answers[0][1] > 0


def test_a_number_that_replied_stop_is_suppressed_and_never_texted_again(demo) -> None:
    # Guards the texts' opt-out through the real job: a STOP the world exports with day D's file
    # puts the number in fct_sms_suppressions and keeps it off every list from D on, although the
    # campaign triggers for everyone every day.
    home, run, _ = demo
    events = _sms_events(home)
    stops = events[(events["OptOutType"] == "STOP") & (events["file_day"] < LAST_DAY.isoformat())]
    first_stop = stops.groupby("From")["file_day"].min()
    assert len(first_stop) >= 3
    suppressed = dict(_query("select phone, suppression_reason from marts.fct_sms_suppressions"))
    assert all(suppressed.get(number) == "stop_reply" for number in first_stop.index)
    listed_after = _query(
        "select contact, run_date from interventions.intervention_list where channel = 'sms'"
    )
    again = [(n, d) for n, d in listed_after if n in first_stop.index and d.isoformat() >= first_stop[n]]
    assert again == []
    texted = {t.to for t in TwilioSinkStore(home / "twilio_sink.sqlite").texts()}
    assert set(first_stop.index) <= texted


def test_a_text_with_a_large_true_effect_lifts_conversions_over_its_holdout(demo) -> None:
    # Guards the whole loop for texts: texts sent by the real job change the world's purchases,
    # the next days' exports carry them (visits from channel sms), and the texted arm converts
    # more than the held-out arm, as the world's truth says it must.
    home, run, _ = demo
    first = run.first_day
    arms = _query(
        "select customer_id, arm from interventions.intervention_list "
        "where campaign_id = 'text_everyone' and run_date = ?",
        [first],
    )
    assert sum(arm == "holdout" for _, arm in arms) >= 10 and sum(arm == "treatment" for _, arm in arms) >= 10
    events = pd.concat(
        pq.read_table(home / "landing" / "events" / f"events_{first + timedelta(days=k)}.parquet").to_pandas()
        for k in range(1, CONFIG.sending_days)
    )
    buyers = set(events.loc[events["event_name"] == "purchase", "user_id"].dropna())
    rate = {
        arm: sum(c in buyers for c, a in arms if a == arm) / sum(a == arm for _, a in arms)
        for arm in ("treatment", "holdout")
    }
    assert rate["treatment"] > rate["holdout"] + 0.3, rate
    truth = _texts_truth(home)
    first_texts = truth[(truth["campaign_id"] == "text_everyone") & (truth["run_date"] == first)]
    assert (first_texts.loc[first_texts["status"] == "delivered", "extra_purchases_expected"] > 0).all()
    assert events["channel"].eq("sms").any()
