"""The responding world answers the texts Twilio accepted as it answers mail, and nothing else moves.

These tests drive the world directly: texts are put into a real Twilio sink store and a real send
ledger as the SMS sender leaves them (the status callback URL carrying the send id), and the
world's answers are read back from the sms_events files it writes. The pipeline's own run over
such a world is in tests/e2e/test_texting_demo.py.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.twilio_provider import callback_url
from reengage.send_ids import send_id
from reengage_dev.demo.population import phone_numbers
from reengage_dev.demo.spec import load_spec
from reengage_dev.demo.world import World
from reengage_dev.sink.store import SinkStore
from reengage_dev.twilio_sink.store import TwilioSinkStore
from reengage_dev.twilio_sink.validation import NewMessage

END = date(2024, 3, 31)
ACCOUNT = "AC" + "1" * 32
SERVICE = "MG" + "2" * 32
CALLBACK = "https://status.example.com/twilio"
SPEC = """
sms:
  unreachable_number_share: 0.05
  undelivered_share: 0.04
  failed_share: 0.02
  median_stop_rate: 0.05
  effect_factor: 2.0
effects:
  campaigns:
    text_campaign:
      all: {all: {extra_purchases: 1.0, unsubscribe_factor: 2.0}}
"""


class Providers:
    """A home's sinks and ledger: what the daily job leaves behind for the world to answer."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.mail = SinkStore(folder / "sink.sqlite")
        self.texts = TwilioSinkStore(folder / "twilio_sink.sqlite")
        self.ledger = SendLedger(folder / "ledger.sqlite")

    def text(self, world: World, k: int, customers: np.ndarray, campaign: str = "text_campaign") -> list[str]:
        """Texts to `customers` (who must have a number) for day k at 15:00 UTC; their send ids."""
        day = world.day(k)
        at = datetime(day.year, day.month, day.day, 15, tzinfo=UTC).timestamp()
        numbers = phone_numbers(world.pop, np.asarray(customers)).to_pylist()
        customer_ids = [world.pop.customer_id[int(i)].as_py() for i in customers]
        key = {"campaign_id": campaign, "run_date": day, "channel": "sms", "variant": "control"}
        self.ledger.plan([{**key, "customer_id": customer} for customer in customer_ids])
        ids = []
        for customer, number in zip(customer_ids, numbers, strict=True):
            assert number is not None, "only customers with a number can be texted"
            sid = send_id(customer, campaign, day, "sms")
            params = {
                "send_id": sid,
                "campaign_id": campaign,
                "variant": "control",
                "run_date": day.isoformat(),
            }
            message = NewMessage(number, None, SERVICE, "Hi there", at, callback_url(CALLBACK, params), None)
            self.texts.create(ACCOUNT, message, now=at - 3600)
            ids.append(sid)
        return ids


def _world(home: Path, spec_text: str = SPEC, **options) -> World:
    spec_path = home.parent / f"{home.name}.yaml"
    spec_path.write_text(spec_text)
    return World(
        home,
        customers=options.pop("customers", 4_000),
        days=options.pop("days", 12),
        end_date=END,
        seed=5,
        spec=load_spec(spec_path),
        sending_days=options.pop("sending_days", 3),
        **options,
    )


def _texters(world: World) -> np.ndarray:
    return np.flatnonzero(world.pop.sms_consent)


def _run(world: World, providers: Providers | None, texts: dict[int, np.ndarray]) -> None:
    """The history, then each sending day: exports, the day's texts, the world's answers."""
    for k in range(world.first_sending_day):
        world.write_day(k)
    for k in range(world.first_sending_day, world.window.days):
        world.write_day(k)
        if providers is None:
            world.respond(SinkStore(world.home / "sink.sqlite"), k)
            continue
        if k in texts:
            providers.text(world, k, texts[k])
        world.respond(providers.mail, k, texts=providers.texts, ledger=providers.ledger)


def _sms_events(home: Path) -> dict[str, list[dict]]:
    folder = home / "landing" / "sms_events"
    return {
        p.stem.removeprefix("sms_events_"): [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(folder.glob("sms_events_*.jsonl"))
    }


def _digest(home: Path) -> dict[str, str]:
    return {
        str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((home / "landing").rglob("*"))
        if p.is_file()
    }


def test_each_text_is_answered_with_its_callbacks_in_the_exports_of_the_next_day_and_later(tmp_path) -> None:
    # Guards the loop's order and the contract for texts: day D's texts get their queued, sent and
    # final status callbacks (and a STOP reply for some) in the sms_events exports of D + 1, never
    # of D, which the pipeline already read, with the send id from the status callback URL; from
    # the first answer on every day has a file, empty or not (the source is required once it exists).
    world = _world(tmp_path / "w")
    providers = Providers(tmp_path / "providers")
    first = world.first_sending_day
    sent = {first: _texters(world)[:1000]}
    _run(world, providers, sent)
    events = _sms_events(tmp_path / "w")
    assert sorted(events) == [world.day(k).isoformat() for k in range(first + 1, world.window.days)]
    assert events[world.day(first + 2).isoformat()] == []
    records = [r for day in events.values() for r in day]
    statuses = pd.DataFrame([r for r in records if r["MessageStatus"] != "received"])
    truth = pq.read_table(
        tmp_path / "w" / "truth" / "texts" / f"texts_{world.day(first)}.parquet"
    ).to_pandas()
    assert len(truth) == 1000 and set(statuses["send_id"]) == set(truth["send_id"])
    assert (statuses.groupby("send_id").size() == 3).all()
    final = statuses[~statuses["MessageStatus"].isin(["queued", "sent"])].set_index("send_id")
    assert final["MessageStatus"].to_dict() == truth.set_index("send_id")["status"].to_dict()
    assert set(final.loc[final["MessageStatus"] != "delivered", "ErrorCode"]) <= {
        "30003",
        "30005",
        "30006",
        "30008",
    }
    numbers = dict(
        zip(
            world.pop.customer_id.to_pylist(),
            phone_numbers(world.pop, np.arange(world.pop.n)).to_pylist(),
            strict=True,
        )
    )
    recipients = truth.set_index("send_id")["customer_id"].map(numbers)
    assert final["To"].to_dict() == recipients.to_dict()
    stops = [r for r in records if r.get("OptOutType") == "STOP"]
    stopped = truth[truth["stop_replied"]]
    assert len(stops) == len(stopped) > 0
    assert {r["From"] for r in stops} == set(stopped["customer_id"].map(numbers))
    assert all(providers.texts.opted_out(r["From"]) for r in stops), "the sink refuses them from now on"
    assert (truth.loc[truth["stop_replied"], "status"] == "delivered").all()


def test_delivery_and_stop_replies_follow_the_specifications_shares(tmp_path) -> None:
    # Guards the world's truth for texts: unreachable numbers always fail for good, other texts are
    # undelivered or failed with the specification's shares, and STOP replies follow the people's
    # rates times the campaign's unsubscribe_factor.
    world = _world(tmp_path / "w", customers=6_000, days=3, sending_days=1)
    providers = Providers(tmp_path / "providers")
    texted = _texters(world)
    _run(world, providers, {world.first_sending_day: texted})
    truth = pq.read_table(next((tmp_path / "w" / "truth" / "texts").glob("*.parquet"))).to_pandas()
    unreachable = world.sms_traits.unreachable[texted]
    n = len(texted)
    assert abs(unreachable.mean() - 0.05) < 4 * np.sqrt(0.05 * 0.95 / n)
    codes = truth["error_code"].to_numpy()
    assert set(codes[unreachable]) <= {30005, 30006} and (truth["status"][unreachable] == "undelivered").all()
    reachable = truth[~unreachable]
    for status, share in (("failed", 0.02), ("undelivered", 0.04)):
        observed = (reachable["status"] == status).mean()
        assert abs(observed - share) < 4 * np.sqrt(share * (1 - share) / len(reachable)), (status, observed)
    delivered = truth["status"] == "delivered"
    expected = np.minimum(world.sms_traits.stop_rate[texted] * 2.0, 1.0)[delivered.to_numpy()]
    observed = truth.loc[delivered, "stop_replied"].sum()
    assert abs(observed - expected.sum()) < 4 * np.sqrt(np.sum(expected * (1 - expected)))


def test_the_same_seed_and_the_same_texts_give_byte_identical_exports(tmp_path) -> None:
    # Guards determinism: SIDs, event ids and times come from the seed and the send id, never from
    # the sink's random SIDs or the wall clock.
    texters = _texters(_world(tmp_path / "probe", days=2, sending_days=1))
    plan = {9: texters[:300], 10: texters[200:600]}
    for name in ("one", "two"):
        _run(_world(tmp_path / name), Providers(tmp_path / f"{name}_providers"), plan)
    assert _digest(tmp_path / "one") == _digest(tmp_path / "two")
    _run(_world(tmp_path / "three"), Providers(tmp_path / "three_providers"), {**plan, 9: texters[:301]})
    assert _digest(tmp_path / "three") != _digest(tmp_path / "one")


def test_a_world_nobody_texts_writes_exactly_what_it_wrote_without_a_twilio_sink(tmp_path) -> None:
    # Guards seeded worlds without SMS campaigns: the texts' traits and draws are on streams of
    # their own and no sms_events file appears, so the exports stay byte for byte as they were.
    _run(_world(tmp_path / "without"), None, {})
    _run(_world(tmp_path / "with"), Providers(tmp_path / "providers"), {})
    assert _digest(tmp_path / "with") == _digest(tmp_path / "without")
    assert not (tmp_path / "with" / "landing" / "sms_events").exists()


def test_delivered_texts_bring_purchase_visits_from_sms_and_undelivered_ones_nothing(tmp_path) -> None:
    # Guards the behaviour change through the email's effect model: a delivered text brings extra
    # purchase visits with channel sms (extra_purchases times sms.effect_factor, in the truth), an
    # undelivered one does nothing; the truth of the assignment finds each text by its send id.
    world = _world(tmp_path / "w", days=14, sending_days=5)
    providers = Providers(tmp_path / "providers")
    first = world.first_sending_day
    texted = _texters(world)[:1000]
    _run(world, providers, {first: texted})
    truth = pq.read_table(
        tmp_path / "w" / "truth" / "texts" / f"texts_{world.day(first)}.parquet"
    ).to_pandas()
    delivered = truth["status"] == "delivered"
    expected = world.pop.responsiveness[texted] * 2.0
    assert np.allclose(
        truth.loc[delivered, "extra_purchases_expected"], np.round(expected[delivered.to_numpy()], 6)
    )
    assert (truth.loc[~delivered, "extra_purchases_expected"] > 0).all()  # the cell's, had it arrived
    events = pd.concat(
        pq.read_table(tmp_path / "w" / "landing" / "events" / f"events_{world.day(k)}.parquet").to_pandas()
        for k in range(first + 1, world.window.days)
    )
    from_texts = events[(events["channel"] == "sms") & (events["event_name"] == "purchase")]
    buyers = set(from_texts["user_id"])
    assert len(buyers) > 200
    assert buyers <= set(truth.loc[delivered, "customer_id"])
    start = int(datetime(*world.day(first).timetuple()[:3], 15, tzinfo=UTC).timestamp() * 1000)
    without, with_text = world.conversion_truth(
        texted,
        list(truth["send_id"]),
        np.ones(len(texted), bool),
        np.full(len(texted), start),
        np.full(len(texted), start + 3 * 86_400_000),
    )
    assert (with_text[delivered.to_numpy()] > without[delivered.to_numpy()]).all()
    assert np.allclose(with_text[~delivered.to_numpy()], without[~delivered.to_numpy()])


def test_a_text_whose_callback_url_names_no_send_id_is_refused_with_a_reason(tmp_path) -> None:
    # Guards a demo run without a status callback URL: the world cannot tell such a text's campaign.
    world = _world(tmp_path / "w", days=4, sending_days=1)
    providers = Providers(tmp_path / "providers")
    for k in range(4):
        world.write_day(k)
    number = phone_numbers(world.pop, _texters(world)[:1]).to_pylist()[0]
    providers.texts.create(ACCOUNT, NewMessage(number, None, SERVICE, "Hi", None, None, None), now=0.0)
    with pytest.raises(ValueError, match="REENGAGE_TWILIO_STATUS_CALLBACK_URL"):
        world.respond(providers.mail, 3, texts=providers.texts, ledger=providers.ledger)
