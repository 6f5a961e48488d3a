"""Dry-run preview: D against D-1 by campaign and reason, without sending or writing anything."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from reengage import settings
from reengage.defs.interventions.campaigns import load_campaigns
from reengage.defs.interventions.hashing import bucket
from reengage.defs.interventions.policy import PolicyConfig, run_policy
from reengage.defs.interventions.preview import ALL, main, preview_diff

from .conftest import (
    record_sends,
    user,
    write_context_marts,
    write_features,
    write_responses,
    write_sms_suppressions,
    write_suppressions,
)

D = date(2025, 3, 10)
BEFORE = D - timedelta(days=1)
SALT = PolicyConfig().salt
REPO = Path(__file__).resolve().parents[2]


def ids(
    prefix: str, n: int, campaign: str, share: float, drawn: tuple[date, float] | None = None
) -> list[str]:
    """Customer ids outside the default global holdout and outside `campaign`'s holdout.

    `drawn` (day, budget share): also inside the random draw of a campaign whose targeting has
    nothing to rank by yet, so it assigns its budget at random on that day.
    """
    out, i = [], 0
    while len(out) < n:
        cid = f"{prefix}{i}"
        assigned = drawn is None or bucket(SALT, "explore", cid, campaign, drawn[0]) < drawn[1]
        if (
            bucket(SALT, "global", cid) >= 0.05
            and bucket(SALT, "holdout", cid, campaign) >= share
            and assigned
        ):
            out.append(cid)
        i += 1
    return out


# The shipped cart campaign targets by uplift with a budget of 60%: without a model, drawn at random.
CART = ids("cart", 3, "cart_abandonment", 0.1, drawn=(BEFORE, 0.6))
NEW = ids("new", 2, "welcome_onboarding", 0.1)
BROWSE = ids("browse", 2, "browse_abandonment", 0.1)


def build(path: Path) -> None:
    """D-1 stored and delivered; overnight one new user bounces and two browsers appear."""
    con = duckdb.connect(str(path))
    con.execute("set timezone = 'UTC'")
    write_suppressions(con)
    write_sms_suppressions(con)  # a shipped campaign texts: dbt builds both suppression marts
    write_responses(con)
    people = [user(c, cart_abandoned=True) for c in CART] + [user(c, is_new_user=True) for c in NEW]
    write_features(con, people, as_of=[BEFORE, D, D + timedelta(days=5)])
    write_context_marts(
        con, [BEFORE, D, D + timedelta(days=5)], carts=dict.fromkeys(CART, 2), views=dict.fromkeys(BROWSE, 3)
    )
    campaigns = load_campaigns(settings.campaigns_dir())
    run_policy(con, BEFORE, campaigns, PolicyConfig(), datetime(2025, 3, 9, tzinfo=UTC))
    record_sends(con, BEFORE)
    write_suppressions(con, [(f"{NEW[0]}@example.com", "Bounce")])
    write_features(
        con,
        [*people, *(user(c, browse_abandoned=True) for c in BROWSE)],
        as_of=[BEFORE, D, D + timedelta(days=5)],
    )
    con.close()


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    build(path)
    return path


def fingerprint(path: Path) -> tuple[str, list]:
    with duckdb.connect(str(path), read_only=True) as con:
        rows = con.execute(
            "select 'd', run_date, count(*) from interventions.decisions group by all union all"
            " select 'l', run_date, count(*) from interventions.intervention_list group by all order by all"
        ).fetchall()
    return hashlib.sha256(path.read_bytes()).hexdigest(), rows


EXPECTED = {
    # (campaign, reason): (count on D, count on D-1)
    ("cart_abandonment", "chosen"): (0, 3),
    ("cart_abandonment", "cooldown"): (3, 0),
    ("welcome_onboarding", "chosen"): (0, 2),
    ("welcome_onboarding", "cooldown"): (1, 0),
    ("welcome_onboarding", "suppressed:bounce"): (1, 0),
    ("browse_abandonment", "chosen"): (2, 0),
    (ALL, "chosen"): (2, 5),
}


def test_the_command_prints_d_against_the_stored_day_before_and_writes_nothing(warehouse: Path) -> None:
    before = fingerprint(warehouse)
    done = subprocess.run(
        [sys.executable, "-m", "reengage.defs.interventions.preview", "--date", D.isoformat(),
         "--warehouse", str(warehouse)],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("Dry run for 2025-03-10: 2 message(s) would be sent, 0 held out")
    assert "2025-03-09 (stored run)" in out
    table = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[-1].lstrip("+-").isdigit() and parts[-2].isdigit():
            campaign = " ".join(parts[:-4])
            table[(campaign, parts[-4])] = (int(parts[-3]), int(parts[-2]), parts[-1])
    for key, (now, then) in EXPECTED.items():
        change = now - then
        assert table[key] == (now, then, f"+{change}" if change > 0 else str(change)), key
    assert "@" not in out and "<p>" not in out
    assert fingerprint(warehouse) == before  # read-only: not a byte changed


def test_preview_diff_leaves_interventions_untouched_even_on_a_writable_connection(warehouse: Path) -> None:
    _, rows = fingerprint(warehouse)
    con = duckdb.connect(str(warehouse))
    diff = preview_diff(con, D, load_campaigns(settings.campaigns_dir()))
    tables = con.execute(
        "select table_name, temporary from duckdb_tables() where schema_name = 'interventions'"
    ).fetchall()
    con.close()
    assert sorted(tables) == [("decisions", False), ("intervention_list", False)]
    assert fingerprint(warehouse)[1] == rows  # no rows for D, D-1 unchanged
    for (campaign, reason), (now, then) in EXPECTED.items():
        assert diff.count(campaign, reason) == now and diff.count(campaign, reason, previous=True) == then
    assert diff.would_send() == 2 and diff.previous_source == "stored run"
    assert "| browse_abandonment | chosen | 2 | 0 | +2 |" in diff.markdown()


def test_without_a_stored_day_before_both_days_are_dry_runs(warehouse: Path, capsys) -> None:
    assert main(["--date", (D + timedelta(days=5)).isoformat(), "--warehouse", str(warehouse)]) == 0
    out = capsys.readouterr().out
    assert "2025-03-14 (dry run)" in out
    assert "caps and cooldowns on 2025-03-15 cannot count its messages" in out
    con = duckdb.connect(str(warehouse), read_only=True)
    explicit = preview_diff(con, D, load_campaigns(settings.campaigns_dir()), previous="dry_run")
    con.close()
    # A dry run of D-1 sees today's features (no history kept), so the browsers count there too.
    assert explicit.previous_source == "dry run"
    assert explicit.count("browse_abandonment", "chosen", previous=True) == 2
    assert explicit.count("cart_abandonment", "chosen", previous=True) == 3


def test_the_command_fails_cleanly_without_a_warehouse(tmp_path: Path, capsys) -> None:
    assert main(["--date", "2025-03-10", "--warehouse", str(tmp_path / "missing.duckdb")]) == 2
    assert "no warehouse" in capsys.readouterr().err


def test_samples_render_each_campaigns_first_messages_with_their_blocks_and_write_nothing(
    warehouse: Path,
) -> None:
    before = fingerprint(warehouse)
    done = subprocess.run(
        [sys.executable, "-m", "reengage.defs.interventions.preview", "--date", D.isoformat(),
         "--warehouse", str(warehouse), "--samples", "1"],
        cwd=REPO, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    samples = done.stdout.split("Sample messages of 2025-03-10 (at most 1 per campaign)", 1)[1]
    # D sends the two browsers only (the carts are cooling down): one sample, its recent views shown
    headers = re.findall(r"--- (\w+) / customer (\w+) / email / variant control", samples)
    assert len(headers) == 1 and headers[0][0] == "browse_abandonment" and headers[0][1] in BROWSE
    shown = headers[0][1]
    assert f"Product 1 of {shown}" in samples and f"Product 3 of {shown}" in samples
    assert not [c for c in BROWSE if c != shown and c in samples]  # one per campaign, nobody else's
    assert "@" not in samples  # never the address
    assert fingerprint(warehouse) == before
