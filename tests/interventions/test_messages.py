"""Rendering once per distinct (campaign, variant, values read) gives exactly the per-row result."""

from __future__ import annotations

import json
import random
from datetime import date

from reengage import settings
from reengage.defs.interventions.campaigns import Template, load_campaigns
from reengage.defs.interventions.messages import render_messages

from .conftest import make_campaign


def test_cached_rendering_is_identical_to_rendering_every_row() -> None:
    rng = random.Random(3)
    campaigns = [
        *load_campaigns(settings.campaigns_dir()),
        make_campaign("typed", template=Template(subject="{{ first_name }}", body="{{ lifetime_value }}")),
        make_campaign("fragile", template=Template(subject="{{ first_name.upper() }}", body="x")),
        make_campaign(  # an unhashable value read by the template: rendered per row
            "listy",
            template=Template(
                subject="{{ tags | join(',') }} {{ first_name }}", body="b", constants={"tags": ["a"]}
            ),
        ),
        make_campaign("noise", template=Template(subject="{{ lipsum(1) }}", body="{{ first_name }}")),
    ]
    rows = []
    for i in range(3000):
        campaign = rng.choice(campaigns)
        rows.append(
            {
                "send_id": f"s{i}",
                "customer_id": f"c{i}",
                "campaign_id": campaign.id,
                "variant": rng.choice(campaign.variants).name,
                "arm": rng.choice(["treatment"] * 9 + ["holdout"]),
                "first_name": rng.choice(["Ada", "<b>Eve</b>", None, "Noor", 1, True, 1.0]),
                "favourite_category": rng.choice(["books", "toys", None]),
                "enthusiast_category": rng.choice(["books", None]),
                "lifetime_value": rng.choice([250.0, 900.5, 1, True, None]),
                "run_date": date(2025, 3, 10),
            }
        )
    cached, cached_failures = render_messages(rows, campaigns)
    plain, plain_failures = render_messages(rows, campaigns, cache=False)
    assert cached_failures == plain_failures and cached_failures
    noise = {r["send_id"] for r in rows if r["campaign_id"] == "noise"}
    cached_rows = [r for r in cached.to_pylist() if r["send_id"] not in noise]
    assert cached_rows == [r for r in plain.to_pylist() if r["send_id"] not in noise]
    assert len(cached) == len(plain) == len(rows) - len(cached_failures)
    typed = {r["send_id"]: r["subject"] for r in cached.to_pylist()}
    for row in rows:
        if row["campaign_id"] == "typed" and row["arm"] == "treatment":
            assert typed[row["send_id"]] == ("" if row["first_name"] is None else str(row["first_name"]))


def test_the_engine_gives_every_listed_row_exactly_its_own_per_row_rendering() -> None:
    import duckdb

    from reengage.defs.interventions.messages import columns_needed
    from reengage.defs.interventions.policy import PolicyConfig, run_policy
    from reengage.defs.interventions.policy.chosen import CHOSEN_TABLE
    from reengage.defs.interventions.policy.inputs import table_columns
    from reengage.defs.interventions.policy.rendering import BLOCKS_TABLE

    from .conftest import (
        user,
        write_context_marts,
        write_features,
        write_responses,
        write_sms_suppressions,
        write_suppressions,
    )

    rng = random.Random(5)
    con = duckdb.connect()
    write_suppressions(con)
    write_sms_suppressions(con)  # a shipped campaign texts: dbt builds both suppression marts
    write_responses(con)
    write_features(
        con,
        [
            user(
                f"u{i}",
                first_name=rng.choice(["Ada", "<i>Bo</i>", None, "Noor"]),
                favourite_category=rng.choice(["books", "toys", None]),
                lifetime_value=rng.choice([250.0, 900.5, 1200.0]),
                segment=rng.choice(["engaged", "dormant"]),
                dormancy_stage=rng.choice(["active", "dormant"]),
                purchases_90d=rng.choice([0, 5]),
                **{
                    flag: rng.random() < 0.3 for flag in ("cart_abandoned", "browse_abandoned", "is_new_user")
                },
                is_at_risk=rng.random() < 0.2,
                is_high_value=rng.random() < 0.5,
                category_enthusiast=rng.random() < 0.3,
            )
            for i in range(600)
        ],
        as_of=date(2025, 3, 10),
    )
    # Half the people have a cart and recent views to show; the others' cart and browse reminders skip.
    write_context_marts(
        con,
        date(2025, 3, 10),
        carts={f"u{i}": i % 4 for i in range(0, 600, 2)},
        views={f"u{i}": 2 for i in range(0, 600, 3)},
    )
    campaigns = [
        *load_campaigns(settings.campaigns_dir()),
        make_campaign("fragile", 100, template=Template(subject="{{ first_name.upper() }}", body="x")),
    ]
    result = run_policy(con, date(2025, 3, 10), campaigns, PolicyConfig(global_holdout_share=0.0))
    wanted = columns_needed(campaigns, table_columns(con, CHOSEN_TABLE))
    blocks = [c for c in table_columns(con, BLOCKS_TABLE) if c.startswith("block__")]
    rows = [
        dict(zip([*wanted, *blocks], r, strict=True))
        for r in con.execute(
            f"select {', '.join(f'c.{w}' for w in wanted)}, {', '.join(f'b.{k}' for k in blocks)}"
            f" from {CHOSEN_TABLE} c left join {BLOCKS_TABLE} b using (customer_id, campaign_id)"
        ).fetchall()
    ]
    expected, failures = render_messages(rows, campaigns, cache=False)
    listed = con.execute(
        "select send_id, template_id, subject, body, template_data from interventions.intervention_list"
    ).fetchall()
    assert sorted(listed) == sorted(tuple(r.values()) for r in expected.to_pylist())
    assert len({c for c, _, _ in failures}) == len(failures) > 0
    errors = con.execute(
        "select customer_id, campaign_id, reason from interventions.decisions where outcome = 'render_error'"
    ).fetchall()
    assert sorted(errors) == sorted((c, k, f"render_error:{e}") for c, k, e in failures)
    assert len({r[2] for r in listed if r[2]}) > 5 and result.treatment > 100
    skipped = con.execute(
        "select count(*) from interventions.decisions where reason = 'empty_block:cart_items'"
    ).fetchone()[0]
    shown = [json.loads(r[4])["cart_items"] for r in listed if r[1] and "cart_items" in r[4]]
    assert skipped > 0 and shown and all(1 <= len(items) <= 3 for items in shown)
