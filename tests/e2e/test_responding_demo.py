"""The demo loop through the real daily job: a small world that answers the pipeline's mail.

One run per module (it is the slow part: history, then one real daily job per sending day, with
real dbt, Great Expectations, the sendgrid client and the local sink), so the module stays on one
pytest-xdist worker. The world (tests/fixtures/worlds/strong_cart_effect.yaml) gives cart
reminders a large effect and makes recommendation mail cause unsubscribes, so the checks below
have something to find within a few days.
"""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from reengage.warehouse import connect
from reengage_dev.demo.loop import DemoConfig, simulate
from reengage_dev.demo.scoreboard import build_scoreboard
from reengage_dev.sink.store import SinkStore

pytestmark = pytest.mark.e2e

WORLD = Path(__file__).resolve().parents[1] / "fixtures" / "worlds" / "strong_cart_effect.yaml"
LAST_DAY = date(2025, 6, 20)
CONFIG = DemoConfig(
    customers=1_500,
    history_days=21,
    sending_days=7,  # cart reminders (3-day window) of the first three days mature by the last
    seed=11,
    world=WORLD,
    last_day=LAST_DAY,
    history_checks=False,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("responding_demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REENGAGE_HOME", str(home))
        lines: list[str] = []
        run = simulate(CONFIG, say=lines.append)
        assert not run.failed, run.failed
        with connect(read_only=True) as con:
            board, _ = build_scoreboard(con, run.world, LAST_DAY, ["cart_abandonment"], 100)
        yield home, run, lines, board


@pytest.fixture(autouse=True)
def demo_home(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(demo[0]))


def _email_events(home: Path, day: date) -> pd.DataFrame:
    path = home / "landing" / "email_events" / f"email_events_{day.isoformat()}.jsonl"
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return pd.DataFrame(lines, columns=["email", "event", "send_id", "campaign_id", "run_date"])


def test_the_demo_says_one_line_per_sending_day(demo) -> None:
    # Guards the newcomer's console: progress per simulated day, not Dagster's and dbt's logs.
    home, run, lines, _ = demo
    days = [line for line in lines if line.startswith("day ")]
    assert len(days) == CONFIG.sending_days
    assert all(f"/{CONFIG.sending_days} " in line and "daily job" in line for line in days)
    assert run.log_path.stat().st_size > 10_000, "the runs' output went to the log file"


def test_reactions_to_day_ds_mail_are_in_the_exports_of_d_plus_1(demo) -> None:
    # Guards the loop's order: D's accepted mail is answered before D + 1's exports are written,
    # so the next daily job ingests the opens, clicks and bounces of the day before.
    home, run, _, _ = demo
    store = SinkStore(home / "sink.sqlite")
    for k in range(CONFIG.sending_days - 1):
        day = run.first_day + timedelta(days=k)
        sent = {m.send_id for m in store.messages(status="accepted", run_date=day.isoformat())}
        next_file = _email_events(home, day + timedelta(days=1))
        processed = set(next_file.loc[next_file["event"] == "processed", "send_id"])
        assert sent and sent <= processed, day
        assert not sent & set(_email_events(home, day)["send_id"])
    with connect(read_only=True) as con:
        delivered = con.execute(
            "select sum(delivered) from measurement.campaign_results where run_date < ?", [LAST_DAY]
        ).fetchone()[0]
    assert delivered > 0, "the pipeline measured the deliveries the world reported"


def test_an_unsubscribe_on_d_stops_mail_from_d_plus_1(demo) -> None:
    # Guards suppression through the real job: an unsubscribe the world exports with D + 1's file
    # must keep every later day's mail from that user.
    home, run, _, _ = demo
    pop = run.world.pop
    emails = dict(zip(pop.email.to_pylist(), pop.customer_id.to_pylist(), strict=True))
    first_seen: dict[str, date] = {}
    for k in range(1, CONFIG.sending_days):
        day = run.first_day + timedelta(days=k)
        frame = _email_events(home, day)
        for email in frame.loc[frame["event"].isin(["unsubscribe", "group_unsubscribe"]), "email"]:
            first_seen.setdefault(emails[email], day)
    assert len(first_seen) >= 5
    mailed_after = [
        (m.customer_id, m.run_date)
        for m in SinkStore(home / "sink.sqlite").messages(status="accepted")
        if m.customer_id in first_seen and date.fromisoformat(m.run_date) >= first_seen[m.customer_id]
    ]
    assert mailed_after == []
    with connect(read_only=True) as con:
        decided = con.execute(
            "select customer_id, run_date, reason from interventions.decisions "
            "where reason like 'suppressed:%'"
        ).fetchall()
    stopped = [c for c, d, _ in decided if c in first_seen and d >= first_seen[c]]
    assert stopped, "some unsubscribers were triggered again later and held back by the suppression"


def test_a_campaign_with_a_large_true_effect_is_measured_significant_in_its_direction(demo) -> None:
    # Guards the whole loop end to end: messages sent by the real job change the world's purchases,
    # the next days' exports carry them, and measurement finds the lift the truth says is there.
    _, _, _, board = demo
    rows = board.rows
    pooled = rows[
        (rows["campaign_id"] == "cart_abandonment") & (rows["comparison"] == "treatment_vs_holdout")
    ]
    assert len(pooled) == 1
    row = pooled.iloc[0]
    assert row.n_baseline >= 3 and row.n_variant >= 30
    assert row.true_lift > 0.3
    assert row.abs_ci_low > 0, f"measured {row.abs_lift:+.3f} [{row.abs_ci_low:+.3f}, {row.abs_ci_high:+.3f}]"


def test_the_scoreboard_compares_personal_with_generic_cart_reminders_beside_the_truth(demo) -> None:
    # Guards the personal-content check end to end: the generic variant's mail carries no cart,
    # the world credits personal content only to mail that showed the cart, and the closing table
    # shows personal against generic with the measured and the true lift.
    home, run, _, board = demo
    cart = [
        m
        for m in SinkStore(home / "sink.sqlite").messages(status="accepted")
        if m.campaign_id == "cart_abandonment"
    ]
    generic = [m for m in cart if m.variant == "generic"]
    personal = [m for m in cart if m.variant == "personal"]
    assert generic and personal
    assert all("cart_items" not in m.template_data for m in generic)
    assert all(
        m.template_data["cart_items"] and m.template_data["cart_items_fallback"] is False for m in personal
    )

    truth = pd.concat(pd.read_parquet(p) for p in sorted((home / "truth" / "messages").glob("*.parquet")))
    truth = truth[truth["campaign_id"] == "cart_abandonment"]
    assert (truth["personal_content"] == (truth["variant"] != "generic")).all()
    who = truth["customer_id"].str[4:].astype(int).to_numpy() - 1
    base = 3.0 * run.world.pop.responsiveness[who]  # the fixture world's cell, for every variant
    factor = run.world.spec.effects.personal_content_factor
    assert factor > 1
    assert np.allclose(
        truth["extra_purchases_expected"], np.where(truth["personal_content"], factor, 1.0) * base, atol=1e-5
    )

    rows = board.rows
    compared = rows[
        (rows["campaign_id"] == "cart_abandonment")
        & (rows["comparison"] == "variant_vs_control")
        & (rows["variant"] == "personal")
    ]
    assert len(compared) == 1
    row = compared.iloc[0]
    assert row.baseline == "generic" and row.n_variant > 0 and row.n_baseline > 0
    assert np.isfinite(row.true_lift) and np.isfinite(row.abs_lift)
    assert re.search(r"^cart_abandonment +personal +generic +\d+/\d+ +[+-]\d", board.describe(), re.M)
