"""A hand-built warehouse with weeks of campaign history and known effects.

Campaign ``win_back`` (control 'control', variant 'bold', holdout 20%): control converts
at the baseline plus 3 points, 'bold' at the baseline plus 9 points, so 'bold' should be
declared a winner against control and both should beat the holdout.
Campaign ``spammy`` (one variant, holdout 10%): no effect on conversion, but 4% of the
delivered messages unsubscribe, so its guardrail trips.
Nobody's email address reaches any output table; the addresses are fake anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import duckdb
import numpy as np
import pandas as pd

from reengage.defs.measurement.analysis import CampaignPlan

RUN_DATE = date(2025, 6, 30)
DAYS = 40
PLANS = {
    "win_back": CampaignPlan(
        "win_back", 0.2, {"control": 1.0, "bold": 1.0}, "control", "Win back", "purchase", 7
    ),
    "spammy": CampaignPlan("spammy", 0.1, {"control": 1.0}, "control", "Too many mails", "purchase", 3),
}
TARGETS = pd.DataFrame(
    [
        {
            "campaign_id": p.campaign_id,
            "target_event": p.target_event,
            "attribution_window_days": p.attribution_window_days,
        }
        for p in PLANS.values()
    ]
)
BASELINE = 0.08
EFFECT = {("win_back", "control"): 0.03, ("win_back", "bold"): 0.09, ("spammy", "control"): 0.0}


@dataclass
class World:
    run_date: date
    customers: int
    assignments: int


def build_world(con: duckdb.DuckDBPyConnection, run_date: date = RUN_DATE, per_day: int = 120, seed: int = 5):
    rng = np.random.default_rng(seed)
    lists, sends, emails, events, activity = [], [], [], [], []
    n_customers = 0
    for offset in range(DAYS, -1, -1):
        day = run_date - timedelta(days=offset)
        for campaign, plan in PLANS.items():
            for _ in range(per_day if campaign == "win_back" else per_day // 2):
                cid = f"c{n_customers:05d}"
                n_customers += 1
                email = f"user{n_customers}@example.test"
                arm = "holdout" if rng.random() < plan.holdout_share else "treatment"
                names = list(plan.weights)
                variant = names[int(rng.integers(len(names)))]
                at = datetime.combine(day, datetime.min.time()) + timedelta(hours=int(rng.integers(6, 20)))
                send_id = f"{campaign}:{day}:{cid}"
                lists.append((send_id, day, cid, email, campaign, variant, arm, at))
                active_days = int(rng.poisson(4))
                for k in rng.choice(28, size=min(active_days, 28), replace=False):
                    activity.append((cid, day - timedelta(days=int(k) + 1), 3))
                propensity = BASELINE * active_days / 4  # pre-period activity predicts conversion (CUPED)
                if arm == "treatment":
                    sends.append((send_id, day, cid, campaign, variant, "accepted"))
                    bounced = rng.random() < 0.01
                    if bounced:
                        emails.append((send_id, email, "bounce", at + timedelta(minutes=1)))
                    else:
                        emails.append((send_id, email, "delivered", at + timedelta(minutes=1)))
                        if rng.random() < 0.3:
                            emails.append((send_id, email, "open", at + timedelta(hours=2)))
                            if rng.random() < 0.3:
                                emails.append((send_id, email, "click", at + timedelta(hours=3)))
                        unsub = 0.04 if campaign == "spammy" else 0.002
                        if rng.random() < unsub:
                            emails.append((send_id, email, "unsubscribe", at + timedelta(hours=5)))
                    propensity += EFFECT[(campaign, variant)]
                if rng.random() < propensity:
                    hours = float(rng.uniform(1, 24 * plan.attribution_window_days - 1))
                    events.append((cid, "purchase", at + timedelta(hours=hours), float(rng.gamma(2, 30))))
                # noise: a purchase before the send and one long after the window never count
                if rng.random() < 0.2:
                    events.append((cid, "purchase", at - timedelta(hours=2), 10.0))
                    events.append(
                        (cid, "purchase", at + timedelta(days=plan.attribution_window_days + 2), 10.0)
                    )
    write_warehouse(con, lists, sends, emails, events, activity)
    # later activity (for retention) and today's features (for the dormancy plot)
    after = [
        (cid, d + timedelta(days=k), 1)
        for (_, d, cid, *_rest) in lists
        for k in range(1, 15)
        if rng.random() < 0.25 and d + timedelta(days=k) <= run_date
    ]
    con.register(
        "_after", pd.DataFrame(after, columns=["customer_id", "activity_date", "active_action_count"])
    )
    con.execute(
        "insert into marts.fct_user_daily_activity select distinct a.* from _after as a "
        "anti join marts.fct_user_daily_activity as f using (customer_id, activity_date)"
    )
    con.unregister("_after")
    stages = rng.choice(["active", "cooling", "dormant", "lapsed"], size=n_customers, p=[0.5, 0.2, 0.2, 0.1])
    con.register(
        "_features",
        pd.DataFrame(
            {
                "customer_id": [f"c{i:05d}" for i in range(n_customers)],
                "as_of_date": run_date,
                "dormancy_stage": stages,
            }
        ),
    )
    con.execute("create or replace table marts.fct_user_features as select * from _features")
    con.unregister("_features")
    return World(run_date, n_customers, len(lists))


INTERVENTION_COLUMNS = [
    "send_id",
    "run_date",
    "customer_id",
    "contact",  # an email address: every message of this world is an email
    "campaign_id",
    "variant",
    "arm",
    "send_at",
]


def write_warehouse(
    con: duckdb.DuckDBPyConnection,
    lists: list[tuple],
    sends: list[tuple] = (),
    emails: list[tuple] = (),
    events: list[tuple] = (),
    activity: list[tuple] = (),
) -> None:
    """The tables measurement reads, from rows shaped as the pipeline writes them.

    `lists`: (send_id, run_date, customer_id, email address, campaign_id, variant, arm, send_at UTC);
    `sends`: (send_id, run_date, customer_id, campaign_id, variant, state);
    `emails`: (send_id, email, event, event_at); `events`: (customer_id, event_name, event_ts,
    value); `activity`: (customer_id, activity_date, active_action_count). A table without rows
    is not created: measurement reads a missing one as empty.
    """
    for schema in ("interventions", "delivery", "staging", "intermediate", "marts"):
        con.execute(f"create schema if not exists {schema}")
    frames = {
        "interventions.intervention_list": pd.DataFrame(lists, columns=INTERVENTION_COLUMNS),
        "delivery.campaign_sends": pd.DataFrame(
            sends, columns=["send_id", "run_date", "customer_id", "campaign_id", "variant", "state"]
        ),
        "staging.stg_sendgrid__email_events": pd.DataFrame(
            emails, columns=["send_id", "email", "event", "event_at"]
        ),
        "intermediate.int_events_stitched": pd.DataFrame(
            events, columns=["customer_id", "event_name", "event_ts", "value"]
        ),
        "marts.fct_user_daily_activity": pd.DataFrame(
            activity, columns=["customer_id", "activity_date", "active_action_count"]
        ).drop_duplicates(["customer_id", "activity_date"]),
    }
    for name, df in frames.items():
        if not len(df):
            continue
        con.register("_frame", df)
        if name == "interventions.intervention_list":
            con.execute(
                f"create or replace table {name} as select * exclude (send_at), 'email' as channel, "
                "timezone('UTC', send_at) as scheduled_send_at_utc from _frame"
            )
        else:
            con.execute(f"create or replace table {name} as select * from _frame")
        con.unregister("_frame")


CAMPAIGN_FILES = {
    "win_back.yaml": """
id: win_back
description: Win back
enabled: true
trigger:
  dormancy_stage: dormant
channel: email
template:
  subject: "We miss you"
  body: "<p>Come back</p>"
variants:
  - {name: control, weight: 1, control: true}
  - {name: bold, weight: 1}
holdout_share: 0.2
priority: 10
cooldown_days: 7
attribution_window_days: 7
target_event: purchase
""",
    "spammy.yaml": """
id: spammy
description: Too many mails
enabled: true
trigger:
  dormancy_stage: cooling
channel: email
template:
  subject: "Hello again"
  body: "<p>News</p>"
holdout_share: 0.1
priority: 20
cooldown_days: 1
attribution_window_days: 3
target_event: purchase
""",
}


def write_campaign_files(folder) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in CAMPAIGN_FILES.items():
        (folder / name).write_text(text.lstrip())
