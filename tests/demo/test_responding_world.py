"""The responding world answers the mail the provider accepted, and nothing else moves.

These tests drive the world directly: messages are put into a real sink store (the same SQLite
file the local SendGrid sink writes) as the sender would, and the world's answers are read back
from the landing files it writes. The pipeline's own run over such a world is in
tests/e2e/test_responding_demo.py.
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

from reengage_dev.demo.keyed import codes_key
from reengage_dev.demo.spec import load_spec
from reengage_dev.demo.world import World
from reengage_dev.sink.rendering import Delivered
from reengage_dev.sink.store import Recipient, SinkStore

END = date(2024, 3, 31)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "worlds"
# Strong effects of every kind, so a leak from one user to another would show: extra visits
# (cart), put-off users whose own sessions are thinned (browse), and many unsubscribes.
MIXED = """
effects:
  campaigns:
    cart_abandonment:
      all: {all: 2.0}
    browse_abandonment:
      all: {all: {activity_factor: 0.2, unsubscribe_factor: 30}}
"""


def _world(home: Path, spec_text: str = MIXED, customers: int = 1_200, **options) -> World:
    spec_path = home.parent / f"{home.name}.yaml"
    spec_path.write_text(spec_text)
    return World(
        home,
        customers=customers,
        days=options.pop("days", 20),
        end_date=END,
        seed=5,
        spec=load_spec(spec_path),
        sending_days=options.pop("sending_days", 4),
        **options,
    )


def _mail(store: SinkStore, world: World, k: int, customers: np.ndarray, hour: int = 10) -> list[str]:
    """Record messages to `customers` for day k as the sender would (one request); returns send ids."""
    day = world.day(k)
    send_at = int(datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp())
    recipients, send_ids = [], []
    for i in customers:
        customer = world.pop.customer_id[int(i)].as_py()
        campaign = ("cart_abandonment", "browse_abandonment")[int(i) % 2]
        send_id = hashlib.sha256(f"{customer}|{campaign}|{day}".encode()).hexdigest()[:32]
        send_ids.append(send_id)
        args = {
            "send_id": send_id,
            "customer_id": customer,
            "campaign_id": campaign,
            "variant": "control",
            "run_date": day.isoformat(),
        }
        recipients.append(Recipient(f"{customer}@example.com", send_at, args))
    store.record_request(f"request-{k}", None, recipients, now=float(send_at - 3600))
    return send_ids


def _run(world: World, store: SinkStore, mail: dict[int, np.ndarray]) -> dict[int, list[str]]:
    """The history, then each sending day: exports, the day's mail, the world's answers."""
    for k in range(world.first_sending_day):
        world.write_day(k)
    sent = {}
    for k in range(world.first_sending_day, world.window.days):
        world.write_day(k)
        sent[k] = _mail(store, world, k, mail.get(k, np.zeros(0, int)))
        world.respond(store, k)
    return sent


def _read(home: Path, source: str, day: date) -> pd.DataFrame:
    folder = home / "landing" / source
    path = next(folder.glob(f"{source}_{day.isoformat()}.*"))
    if path.suffix == ".parquet":
        return pq.read_table(path).to_pandas()
    if path.suffix == ".csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    return pd.read_json(path, lines=True, dtype=False) if path.stat().st_size else pd.DataFrame()


def _rows_by_customer(home: Path, world: World) -> dict[str, dict[str, list[str]]]:
    """Every row of every landing file, as text, grouped by the customer it belongs to."""
    emails = {
        e: c for c, e in zip(world.pop.customer_id.to_pylist(), world.pop.email.to_pylist(), strict=True)
    }
    devices = world.anon_ids.to_pylist()
    device_owner = {
        devices[i]: world.pop.customer_id[i % world.pop.n].as_py() for i in range(2 * world.pop.n)
    }
    grouped: dict[str, dict[str, list[str]]] = {}
    for k in range(world.window.days):
        day = world.day(k)
        for source in ("customers", "events", "email_events"):
            frame = _read(home, source, day)
            if not len(frame):
                continue
            if source == "customers":
                owner = frame["customer_id"]
            elif source == "events":
                owner = frame["user_id"].fillna(frame["anonymous_id"].map(device_owner))
            else:
                owner = frame["email"].map(emails)
            text = frame.astype(object).map(repr).agg("|".join, axis=1)
            for who, line in zip(owner, text, strict=True):
                if pd.isna(who):
                    continue
                grouped.setdefault(str(who), {}).setdefault(source, []).append(f"{day}|{line}")
    return grouped


def test_a_users_exports_never_depend_on_another_users_message(tmp_path: Path) -> None:
    # Guards the keyed draws: with one shared random stream, mailing user A shifts every later
    # draw of the day, so B's (or a held-out user's) sessions, purchases and bad rows would change.
    rng = np.random.default_rng(1)
    base = _world(tmp_path / "a")
    everyone = rng.permutation(base.pop.n)
    mailed, added = everyone[:300], everyone[300:600]
    days = range(base.first_sending_day, base.window.days)
    _run(base, SinkStore(tmp_path / "a.sqlite"), {k: mailed for k in days})
    more = _world(tmp_path / "b")
    shuffled = rng.permutation(np.concatenate([mailed, added]))  # the provider's order must not matter
    _run(more, SinkStore(tmp_path / "b.sqlite"), {k: shuffled for k in days})

    before, after = _rows_by_customer(tmp_path / "a", base), _rows_by_customer(tmp_path / "b", more)
    added_ids = {base.pop.customer_id[int(i)].as_py() for i in added}
    unchanged = [c for c in set(before) | set(after) if c not in added_ids]
    assert len(unchanged) > 800
    assert [c for c in unchanged if before.get(c) != after.get(c)] == []
    assert sum(before.get(c) != after.get(c) for c in added_ids) > 100, "the added mail changed its users"


def test_reactions_to_day_ds_mail_appear_in_the_exports_of_the_following_days(tmp_path: Path) -> None:
    # Guards the order of the loop: answers to D's mail must reach D + 1's files (D's were read
    # already), carry the send's custom args, and the extra visits must come on later days.
    world = _world(tmp_path / "w")
    store = SinkStore(tmp_path / "sink.sqlite")
    first = world.first_sending_day
    for k in range(first):
        world.write_day(k)
    world.write_day(first)
    mailed = np.arange(0, 400)
    send_ids = _mail(store, world, first, mailed)
    answers = world.respond(store, first)
    for k in range(first + 1, world.window.days):
        world.write_day(k)

    day, next_day = world.day(first), world.day(first + 1)
    assert not set(send_ids) & set(_read(tmp_path / "w", "email_events", day).get("send_id", []))
    emails = _read(tmp_path / "w", "email_events", next_day)
    processed = emails[emails["event"] == "processed"]
    assert set(processed["send_id"]) == set(send_ids)
    assert set(processed["run_date"]) == {day.isoformat()}
    assert set(processed["campaign_id"]) == {"cart_abandonment", "browse_abandonment"}
    assert {"delivered", "open", "click", "unsubscribe"} <= set(emails["event"])
    stamped = pd.to_datetime(processed["timestamp"], unit="s", utc=True)
    assert (stamped >= pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=10)).all()

    visits = pd.concat(
        [_read(tmp_path / "w", "events", world.day(k)) for k in range(first + 1, world.window.days)]
    )
    bought = visits[(visits["channel"] == "email") & (visits["event_name"] == "purchase")]
    buyers = set(bought["user_id"])
    cart = {world.pop.customer_id[int(i)].as_py() for i in mailed if i % 2 == 0}
    assert answers.extra_visits > 200 and len(buyers & cart) > 100
    assert (bought["event_ts"] >= pd.Timestamp(next_day, tz="UTC")).all()


def test_the_same_seed_and_the_same_mail_give_byte_identical_exports(tmp_path: Path) -> None:
    # Guards determinism of the answers: message ids, event ids and delays come from the seed and
    # the send id, never from the sink's random X-Message-Id or the order of requests.
    def digest(home: Path) -> dict[str, str]:
        return {
            str(p.relative_to(home)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((home / "landing").rglob("*"))
            if p.is_file()
        }

    mail = {16: np.arange(0, 300), 17: np.arange(100, 500)}
    first = _world(tmp_path / "one")
    _run(first, SinkStore(tmp_path / "one.sqlite"), mail)
    second = _world(tmp_path / "two")
    _run(second, SinkStore(tmp_path / "two.sqlite"), mail)
    assert digest(tmp_path / "one") == digest(tmp_path / "two")
    other = _world(tmp_path / "three")
    _run(other, SinkStore(tmp_path / "three.sqlite"), {16: np.arange(0, 301), 17: np.arange(100, 500)})
    assert digest(tmp_path / "three") != digest(tmp_path / "one")


def test_a_day_cannot_be_answered_out_of_order(tmp_path: Path) -> None:
    # Guards the loop's contract: answers written after day D + 1's files would be lost.
    world = _world(tmp_path / "w", days=6, sending_days=2)
    store = SinkStore(tmp_path / "sink.sqlite")
    for k in range(5):
        world.write_day(k)
    with pytest.raises(ValueError, match="answer day 3"):
        world.respond(store, 3)
    world.respond(store, 4)
    with pytest.raises(ValueError, match="day 6 cannot be written next|day 5 comes first"):
        world.write_day(6)


def test_mail_to_a_customer_of_another_world_is_refused_with_a_reason(tmp_path: Path) -> None:
    # Guards a home reused across worlds: a stale sink store must not be answered silently.
    world = _world(tmp_path / "w", days=6, sending_days=2)
    store = SinkStore(tmp_path / "sink.sqlite")
    for k in range(5):
        world.write_day(k)
    args = {"send_id": "0" * 32, "customer_id": "cus_9999999", "campaign_id": "x", "variant": "v"}
    store.record_request(
        "r", None, [Recipient("x@example.com", None, {**args, "run_date": "2024-03-30"})], 0.0
    )
    with pytest.raises(ValueError, match="cus_9999999.*not in this world"):
        world.respond(store, 4)


def test_the_truths_conversion_probabilities_match_what_the_exports_show(tmp_path: Path) -> None:
    # Guards the true lift printed beside the measured one: the closed form in truth.py must agree
    # with the purchases the world actually writes, for mailed and unmailed users alike.
    effect = "{extra_purchases: 1.0, activity_factor: 0.5}"
    spec = f"effects:\n  campaigns:\n    all:\n      all:\n        all: {effect}\n"
    world = _world(tmp_path / "w", spec_text=spec, customers=12_000, days=24, sending_days=8, dirty_share=0.0)
    store = SinkStore(tmp_path / "sink.sqlite")
    first = world.first_sending_day
    for k in range(first + 1):
        world.write_day(k)
    everyone = np.random.default_rng(3).permutation(world.pop.n)
    mailed, held = np.sort(everyone[:5000]), np.sort(everyone[5000:10000])
    send_ids = _mail(store, world, first, mailed, hour=15)
    world.respond(store, first)
    for k in range(first + 1, world.window.days):
        world.write_day(k)

    events = pd.concat(
        [_read(tmp_path / "w", "events", world.day(k)) for k in range(first, world.window.days)]
    )
    bought = events[(events["event_name"] == "purchase") & events["user_id"].notna()]
    when = (bought["event_ts"] - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(milliseconds=1)
    start = int(datetime(*world.day(first).timetuple()[:3], 15, tzinfo=UTC).timestamp() * 1000)
    for days in (1, 3, 7):  # a one-day window holds under half of the extra visits
        end = start + days * 86_400_000
        converted = set(bought.loc[(when > start) & (when <= end), "user_id"])
        for who, ids, sent in ((mailed, send_ids, True), (held, ["0" * 32] * len(held), False)):
            _, p = world.conversion_truth(
                who, ids, np.full(len(who), sent), np.full(len(who), start), np.full(len(who), end)
            )
            observed = np.mean([world.pop.customer_id[int(i)].as_py() in converted for i in who])
            standard_error = np.sqrt(np.sum(p * (1 - p))) / len(who)
            assert abs(observed - p.mean()) < 4 * standard_error, (days, sent, observed, p.mean())


def test_the_true_uplift_of_a_message_not_yet_sent_is_what_sending_it_brings(tmp_path: Path) -> None:
    # Guards the oracle and the realised gain of the uplift benchmark: the uplift the world states
    # for a hypothetical message, and its chances of a conversion without and with it (the
    # benchmark's estimate on expected outcomes), must equal what its truth shows once that very
    # message is sent and answered, for every kind of user (helped, put off, dead mailbox).
    spec = (
        "effects:\n  campaigns:\n    all:\n      all:\n"
        "        steady: 0.5\n        decaying: {activity_factor: 0.4}\n        all: 0.1\n"
    )
    world = _world(tmp_path / "w", spec_text=spec, customers=3_000, days=12, sending_days=4)
    store = SinkStore(tmp_path / "sink.sqlite")
    first = world.first_sending_day
    for k in range(first + 1):
        world.write_day(k)
    who = np.arange(0, world.pop.n, 2)  # every other customer: cart_abandonment, as _mail names it
    day = world.day(first)
    send = int(datetime(day.year, day.month, day.day, 15, tzinfo=UTC).timestamp() * 1000)
    ids = [world.pop.customer_id[int(i)].as_py() for i in who]
    hypothesis = (ids, "cart_abandonment", "control", [day] * len(ids), np.full(len(ids), send), 3)
    predicted = world.uplift_truth(*hypothesis)
    if_held, if_sent = world.outcome_truth(*hypothesis)
    send_ids = _mail(store, world, first, who, hour=15)
    world.respond(store, first)
    without, with_message = world.conversion_truth(
        who,
        send_ids,
        np.ones(len(who), bool),
        np.full(len(who), send),
        np.full(len(who), send + 3 * 86_400_000),
    )
    bounced = with_message == without
    assert np.allclose(predicted[~bounced], (with_message - without)[~bounced])
    assert np.allclose(if_held, without) and np.allclose(if_sent[~bounced], with_message[~bounced])
    assert (predicted > 0.01).any() and (predicted < -0.001).any()


# What a message's SendGrid template data may show, and whether that is the user's own items.
SHOWN = {
    "own_cart": (
        {"first_name": "Ada", "cart_items": [{"name": "Boots"}], "cart_items_fallback": False},
        True,
    ),
    "own_progress": ({"progress": {"order_count": 3}, "progress_fallback": False}, True),
    "popular_instead": ({"recommended": [{"name": "Hat"}], "recommended_fallback": True}, False),
    "nothing_to_show": ({"social_proof": [], "social_proof_fallback": False}, False),
    "generic": ({"first_name": "Ada", "incentive": "none"}, False),
    "rendered_body": (None, False),  # a Jinja message: its content is text, not data
}


def test_personal_content_multiplies_only_the_effect_of_messages_that_showed_the_users_own_items(
    tmp_path: Path,
) -> None:
    # Guards the truth personal content is measured against: the factor must follow what each
    # message showed, as the provider stored it, and the truth must hold the numbers behaviour used.
    spec = (
        "effects:\n  personal_content: {factor: 2.5}\n"
        "  campaigns:\n    cart_abandonment:\n      all: {all: 0.5}\n"
    )
    world = _world(tmp_path / "w", spec_text=spec, customers=600, days=12, sending_days=2)
    assert world.spec.effects.personal_content_factor == 2.5
    store = SinkStore(tmp_path / "sink.sqlite")
    first = world.first_sending_day
    for k in range(first + 1):
        world.write_day(k)
    day = world.day(first)
    send_at = int(datetime(day.year, day.month, day.day, 10, tzinfo=UTC).timestamp())
    recipients, shown_by_send_id = [], {}
    for i in range(240):
        label = list(SHOWN)[i % len(SHOWN)]
        data, _ = SHOWN[label]
        customer = world.pop.customer_id[i].as_py()
        send_id = hashlib.sha256(f"{customer}|{label}".encode()).hexdigest()[:32]
        shown_by_send_id[send_id] = label
        args = {
            "send_id": send_id,
            "customer_id": customer,
            "campaign_id": "cart_abandonment",
            "variant": "personal" if SHOWN[label][1] else "generic",
            "run_date": day.isoformat(),
        }
        delivered = (
            Delivered(None, None, "d-" + "0" * 32, json.dumps(data))
            if data is not None
            else Delivered("Your cart", json.dumps({"text/html": "<p>Boots</p>"}), None, None)
        )
        recipients.append(Recipient(f"{customer}@example.com", send_at, args, delivered))
    store.record_request("request", None, recipients, now=float(send_at - 3600))
    world.respond(store, first)

    truth = pq.read_table(tmp_path / "w" / "truth" / "messages" / f"messages_{day}.parquet").to_pandas()
    truth["label"] = truth["send_id"].map(shown_by_send_id)
    assert (truth["personal_content"] == truth["label"].map(lambda label: SHOWN[label][1])).all()
    who = truth["customer_id"].str[4:].astype(int).to_numpy() - 1
    factor = np.where(truth["personal_content"], 2.5, 1.0)
    expected = 0.5 * factor * world.pop.responsiveness[who]
    assert np.allclose(truth["extra_purchases_expected"], expected, atol=1e-6)
    # The truth's numbers are the ones behaviour and the true lift use.
    codes = np.frombuffer("".join(truth["send_id"]).encode(), np.uint8).reshape(len(truth), 32)
    recorded = world.sent.effect(world.sent.find(codes_key(codes))).extra
    assert np.allclose(recorded, truth["extra_purchases_expected"], atol=1e-6)
