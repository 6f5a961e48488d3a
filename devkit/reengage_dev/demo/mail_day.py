"""A day of the demo's mail without running the daily job, for delivery benchmarks and tests.

The demo's own campaign files (`campaigns/`) rendered by the policy's rendering code
(`render_messages`) for customers like the demo world's (its first names, one in ten
without one, its product categories, purchase counts and lifetime values), as rows of
`interventions.intervention_list` in the treatment arm, ordered by send id as the
delivery asset reads them. Customers take the campaigns in turn; the variant is the
policy's hash of (salt, customer, campaign). Who gets which campaign on a real day is
the daily job's decision; here only the content has to be the demo's.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from reengage import settings
from reengage.defs.interventions.campaigns import Campaign, load_campaigns
from reengage.defs.interventions.hashing import bucket
from reengage.defs.interventions.messages import render_messages
from reengage.defs.interventions.policy import PolicyConfig
from reengage.send_ids import send_id
from reengage_dev.demo.catalog import CATEGORIES, CATEGORY_WEIGHTS
from reengage_dev.demo.population import FIRST_NAMES

SALT = PolicyConfig().salt


def _variant(campaign: Campaign, customer_id: str) -> str:
    """The policy's variant draw (policy._variant_sql), in Python."""
    draw = bucket(SALT, "variant", customer_id, campaign.id)
    total = sum(v.weight for v in campaign.variants)
    running = 0.0
    for variant in campaign.variants[:-1]:
        running += variant.weight
        if draw < running / total:
            return variant.name
    return campaign.variants[-1].name


def demo_mail_day(
    customers: int,
    run_date: date,
    *,
    seed: int = 7,
    campaign_ids: Sequence[str] | None = None,
    campaigns_dir: Path | None = None,
) -> pd.DataFrame:
    """Intervention-list rows (treatment) of one day: one email for each of `customers`, from
    every enabled campaign of the folder that mails (texts-only ones left out) or only those in
    `campaign_ids`."""
    campaigns_dir = campaigns_dir or settings.campaigns_dir()
    campaigns = [
        c
        for c in load_campaigns(campaigns_dir)
        if c.enabled and "email" in c.channels and (campaign_ids is None or c.id in campaign_ids)
    ]
    if not campaigns:
        raise ValueError(f"no enabled campaign that mails among {campaign_ids} in {campaigns_dir}")
    rng = np.random.default_rng(seed)
    names = np.array(FIRST_NAMES, dtype=object)[rng.integers(0, len(FIRST_NAMES), customers)]
    names[rng.random(customers) < 0.1] = None
    favourite = rng.choice(np.array(CATEGORIES, dtype=object), customers, p=CATEGORY_WEIGHTS)
    enthusiast = np.where(rng.random(customers) < 0.5, favourite, None)
    purchases = rng.poisson(4.0, customers) + 3
    lifetime_value = np.round(rng.lognormal(6.0, 0.8, customers), 2)
    hours = rng.integers(8, 20, customers)
    midnight = datetime.combine(run_date, datetime.min.time(), tzinfo=UTC)
    rows = []
    for i in range(customers):
        campaign = campaigns[i % len(campaigns)]
        customer_id = f"demo{i:07d}"
        rows.append(
            {
                "send_id": send_id(customer_id, campaign.id, run_date),
                "customer_id": customer_id,
                "campaign_id": campaign.id,
                "variant": _variant(campaign, customer_id),
                "arm": "treatment",
                "run_date": run_date,
                "first_name": names[i],
                "favourite_category": favourite[i],
                "enthusiast_category": enthusiast[i],
                "purchases_90d": int(purchases[i]),
                "lifetime_value": float(lifetime_value[i]),
                "email": f"{(names[i] or 'customer').lower()}.{i}@example.com",
                "channel": "email",
                "scheduled_send_at_utc": midnight + timedelta(hours=int(hours[i])),
            }
        )
    rendered, failed = render_messages(rows, campaigns)
    if failed:
        raise ValueError(f"{len(failed)} demo message(s) failed to render: {sorted({e for *_, e in failed})}")
    frame = pd.DataFrame(rows).merge(rendered.to_pandas(), on="send_id")
    frame["contact"] = frame["email"]  # the list's contact key: the address, on the email channel
    frame["template_data"] = frame["template_data"].map(lambda text: json.dumps(json.loads(text)))
    return frame.sort_values("send_id", ignore_index=True)
