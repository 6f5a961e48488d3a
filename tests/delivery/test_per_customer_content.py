"""Messages rendered per customer go out 1,000 to a request, and each recipient receives exactly their own.

The content is the demo's: its campaign files rendered by the policy's own rendering code
(devkit/reengage_dev/demo/mail_day.py), delivered by the real sender through the official client
to the local sink, which applies SendGrid's substitutions as the provider would.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
from delivery_helpers import (
    API_KEY,
    FAST,
    OPTIONS,
    SHORT_TIMEOUT,
    TIMEOUT_FAULT,
    make_rendered_messages,
    received,
)
from sendgrid import SendGridAPIClient
from test_crash_points import DROP_AFTER_STORE, SLOW_ANSWER, Run, Scenario, play

from reengage import settings
from reengage.defs.delivery.assets import to_messages
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.payloads import build_mail, group_messages
from reengage.defs.delivery.sender import deliver, make_client
from reengage.defs.interventions.campaigns import load_campaigns
from reengage_dev.demo.mail_day import demo_mail_day
from reengage_dev.sink import SinkHandle, SinkStore, start_sink
from reengage_dev.sink.schema import build_validator
from reengage_dev.sink.validation import validate_mail_send

TODAY = datetime.now(UTC).date()


def expected(frame: pd.DataFrame) -> dict[str, tuple]:
    """Per send id, what its recipient must receive: the rendered subject and body, or the
    dynamic template and its data (SendGrid renders those from its own copy of the template)."""
    out = {}
    for row in frame.itertuples():
        if isinstance(row.template_id, str):
            out[row.send_id] = (None, None, row.template_id, json.loads(row.template_data))
        else:
            out[row.send_id] = (row.subject, {"text/html": row.body}, None, None)
    return out


def delivered(store: SinkStore) -> dict[str, tuple]:
    accepted = store.messages(status="accepted")
    assert not store.duplicates(), "a message was stored twice"
    return {m.send_id: (m.subject, m.content, m.template_id, m.template_data) for m in accepted}


def test_a_days_messages_for_a_per_customer_template_go_in_ceil_n_over_1000_requests(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards the regression that started this: a campaign rendering a subject and body per
    # customer sent 1.9 to 12 messages per request, one request per distinct rendering.
    day = demo_mail_day(2_500, TODAY, campaign_ids=["engaged_milestone"])
    assert day["subject"].nunique() > 100, "the template renders per customer"
    report = deliver(ledger, to_messages(day), client, options=OPTIONS, policy=FAST)
    assert report.sent_this_run == 2_500
    assert report.requests == sink.store.request_count() == math.ceil(2_500 / 1_000)
    assert delivered(sink.store) == expected(day)


def test_each_recipient_receives_exactly_their_own_rendered_subject_and_body(tmp_path: Path) -> None:
    # Guards against shared text and substitutions that rebuild someone's message wrongly, or
    # give them another recipient's part: the demo's real campaigns, rendered per customer, are
    # delivered both ways (each message alone in its request, as a per-customer rendering went
    # before; and 1,000 to a request) and every recipient must receive the same bytes both ways,
    # which are the subject and body the pipeline rendered for them.
    day = demo_mail_day(350, TODAY)
    mailing = [c.id for c in load_campaigns(settings.campaigns_dir()) if "email" in c.channels]
    assert sorted(day["campaign_id"].unique()) == sorted(mailing) and day["template_id"].isna().any()
    seen = {}
    for way, batch_size in (("one per request", 1), ("shared requests", 1_000)):
        with start_sink(tmp_path / f"{way}.sqlite") as sink:
            ledger = SendLedger(tmp_path / f"{way}-ledger.sqlite")
            client = make_client(API_KEY, sink.url)
            deliver(ledger, to_messages(day), client, options=OPTIONS, policy=FAST, batch_size=batch_size)
            seen[way] = delivered(sink.store)
            requests = sink.store.request_count()
        per_campaign = day.groupby("campaign_id").size()
        wanted = len(day) if batch_size == 1 else sum(math.ceil(n / 1_000) for n in per_campaign)
        assert requests == wanted
    assert seen["shared requests"] == seen["one per request"] == expected(day)


def test_a_full_request_of_per_customer_messages_validates_against_the_official_openapi_description() -> None:
    # Guards the request shape: per-personalization subjects and substitutions with a shared
    # content must pass SendGrid's own schema (and the rules it cannot express) at 1,000 a request.
    # welcome_onboarding's variants differ by whole lines; dormant_win_back's by words in lines.
    day = demo_mail_day(2_000, TODAY, campaign_ids=["welcome_onboarding", "dormant_win_back"])
    requests = group_messages(to_messages(day))
    assert [len(r) for r in requests] == [1_000, 1_000]
    schema = build_validator(jsonschema.FormatChecker())
    for request in requests:
        body = build_mail(request, OPTIONS, batch_id="batch-1")
        assert "subject" not in body, "subjects differ: each personalization carries its own"
        assert all(p["subject"] and p["substitutions"] for p in body["personalizations"])
        assert list(schema.iter_errors(body)) == []
        assert validate_mail_send(body, now=time.time()) == []


def test_exactly_once_holds_when_a_request_of_per_customer_messages_times_out(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    # Guards the settling of an ambiguous multi-personalization request: the timed-out request
    # (stored late by the provider) is cancelled as a whole, and every one of its messages goes
    # again in one new request, each recipient receiving their own message once.
    messages = make_rendered_messages(40)
    sink.inject(TIMEOUT_FAULT)
    report = deliver(ledger, messages, client, options=OPTIONS, policy=SHORT_TIMEOUT)
    time.sleep(TIMEOUT_FAULT["delay"])  # the late copy lands before the verdict
    assert report.accepted == 40 and report.cancels == 1 and not report.in_doubt
    cancelled = sink.store.messages(status="cancelled")
    assert len(cancelled) == 40 and len({m.x_message_id for m in cancelled}) == 1
    accepted = sink.store.messages(status="accepted")
    assert len({m.x_message_id for m in accepted}) == 1
    assert sink.store.count_by_send_id("accepted") == {m.send_id: 1 for m in messages}
    by_id = {m.send_id: (m.subject, m.content) for m in accepted}
    assert by_id == {m.send_id: received(m) for m in messages}


RENDERED_CRASHES = (
    Scenario(
        "rendered/after_post_ambiguous", (Run("after_post_ambiguous", (DROP_AFTER_STORE,)),), rendered=True
    ),
    Scenario("rendered/after_post_ok", (Run("after_post_ok"),), rendered=True),
    Scenario(
        "rendered/during_post (sink slow to answer)",
        (Run("during_post@0.3", (SLOW_ANSWER,)),),
        settle_seconds=1.0,
        rendered=True,
    ),
    Scenario(
        "rendered/after_rebatch_cancel", (Run("after_rebatch_cancel", (DROP_AFTER_STORE,)),), rendered=True
    ),
)


@pytest.mark.parametrize("scenario", RENDERED_CRASHES, ids=lambda s: s.name)
def test_sigkill_mid_request_of_per_customer_messages_never_duplicates_or_loses(
    scenario: Scenario, tmp_path: Path
) -> None:
    # Guards exactly-once for requests of many personal messages: the sender is killed inside
    # a 10-message request (crash suite, tests/delivery/test_crash_points.py), restarted, and
    # judged by the sink's record; each recipient gets their own message once.
    outcome = play(scenario, tmp_path / "run")
    assert outcome.problems == [] and (outcome.duplicates, outcome.lost) == (0, 0)
    assert outcome.killed == 1 and outcome.expired_reported == []
    store = SinkStore(tmp_path / "run" / "sink.sqlite")
    sizes = Counter(m.x_message_id for m in store.messages())
    assert max(sizes.values()) == 10, "the messages went 10 to a request"
    messages = make_rendered_messages(30)
    accepted = store.messages(status="accepted")
    assert {m.send_id: (m.subject, m.content) for m in accepted} == {m.send_id: received(m) for m in messages}
