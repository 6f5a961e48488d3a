"""What an uplift model learns from: a campaign's past randomized decisions and what followed them.

One row per decision of the campaign that chance could have gone either way (its recorded
`treatment_probability` strictly between 0 and 1: the day's winner, whatever the exploration,
global holdout or campaign holdout then drew, and a `control_probability` above 0: a draw could
have held it back for good) whose attribution window has closed by the end of `as_of`. Each
row carries:

- the churn features as of its run date (`reengage.learning.features.snapshot_features`: the same
  point-in-time features, with the same leakage guard, the churn model uses);
- `treated`: 1 when the row was chosen (its message was sent), 0 when a draw held it back;
- `propensity`: the recorded treatment_probability, the chance the day's draws sent it;
- `control`: 1 when a holdout (global, or the campaign's once assigned) held it back: the
  comparison arm. A row the targeting merely did not draw today is neither treated nor control:
  the campaign may send it tomorrow, inside today's window, so its outcome is not "no message";
  counting it as held back would credit the message's later effect to the comparison and
  shrink every estimated effect;
- `control_propensity`: the recorded control_probability, the chance of that;
- `converted`: 1 when the customer's `target_event` followed within the attribution window,
  counted from the time the message went or would have gone (the decision's
  scheduled_send_at_utc), so both arms run on the same clock;
- `exploration`, `run_date`, `customer_id`: for validation by day and for audits;
- `churn_probability`: the score the day's decision saw, for judging risk targeting;
- `opens_at`: when the attribution window opened (naive UTC);
- `selection_probability`: the targeting's chance of assigning the row: `propensity` divided by
  it is the share of assigned rows the holdouts leave to be sent.

A message whose template failed (`render_error:*`) was never sent and is left out: its arm was
decided by a bug, not by a draw. Rows decided before probabilities were recorded (or, later, the
control probability) have none and are left out too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import pandas as pd

from reengage.learning.features import EVENTS_TABLE, FEATURES, cutoff, fetch_frame, snapshot_features
from reengage.schema.declared import DECISIONS
from reengage.tables import column_types, utc_naive_sql

EXAMPLE_COLUMNS = (
    "run_date",
    "customer_id",
    "treated",
    "propensity",
    "control",
    "control_propensity",
    "converted",
    "exploration",
    "churn_probability",
    "selection_probability",
    "opens_at",
)

_EXAMPLES_SQL = """
with decided as (
    select run_date, customer_id, reason, treatment_probability, control_probability,
           coalesce(exploration, false) as exploration,
           churn_probability, selection_probability,
           timezone('UTC', scheduled_send_at_utc) as opens_at
    from {decisions}
    where campaign_id = $campaign
      and treatment_probability > 0 and treatment_probability < 1
      and control_probability > 0
      and scheduled_send_at_utc is not null
      and reason not like 'render_error%'
      and run_date >= $first_day and run_date <= $last_day
),
windows as (
    select *, opens_at + to_days(cast($window_days as integer)) as closes_at
    from decided
),
matured as (
    select * from windows where closes_at <= $cutoff
),
conversions as (
    select m.run_date, m.customer_id
    from matured m
    join {events} e
      on e.customer_id = m.customer_id
     and e.event_name = $target_event
     and {event_ts} > m.opens_at and {event_ts} <= m.closes_at
    group by all
)
select m.run_date, m.customer_id,
       cast(m.reason = 'chosen' as integer) as treated,
       m.treatment_probability as propensity,
       cast(m.reason in ('campaign_holdout', 'global_holdout') as integer) as control,
       m.control_probability as control_propensity,
       cast(c.customer_id is not null as integer) as converted,
       m.exploration,
       m.churn_probability,
       m.selection_probability,
       m.opens_at
from matured m
left join conversions c using (run_date, customer_id)
order by m.run_date, m.customer_id
"""


@dataclass(frozen=True)
class ExampleSpec:
    """Which decisions and outcome make a campaign's examples (its file's target and window)."""

    campaign_id: str
    target_event: str
    window_days: int


def decision_examples(
    con: duckdb.DuckDBPyConnection,
    specs: Sequence[ExampleSpec],
    as_of: date,
    lookback_days: int | None = None,
) -> dict[str, pd.DataFrame]:
    """Each campaign's matured randomized decisions up to `as_of`, with features, arm, chance and outcome.

    `lookback_days` keeps decisions made in that many days before `as_of` only (None: all). The
    features of a day are computed once for every campaign that decided on it.
    """
    end = cutoff(as_of)  # the end of as_of (UTC): nothing after it is read
    event_ts = utc_naive_sql("e.event_ts", column_types(con, EVENTS_TABLE).get("event_ts"))
    first_day = as_of - timedelta(days=lookback_days) if lookback_days is not None else date.min
    decided = {}
    for spec in specs:
        rows = fetch_frame(
            con,
            _EXAMPLES_SQL.format(decisions=DECISIONS.name, events=EVENTS_TABLE, event_ts=event_ts),
            {
                "campaign": spec.campaign_id,
                "target_event": spec.target_event,
                "window_days": spec.window_days,
                "cutoff": end.replace(tzinfo=None),
                "first_day": first_day,
                "last_day": as_of - timedelta(days=spec.window_days),
            },
        )
        rows["run_date"] = pd.to_datetime(rows["run_date"]).dt.date
        decided[spec.campaign_id] = rows
    days = sorted({day for rows in decided.values() for day in rows["run_date"]})
    features = {day: snapshot_features(con, day).drop(columns=["snapshot_date"]) for day in days}
    return {campaign: _with_features(rows, features) for campaign, rows in decided.items()}


def _with_features(rows: pd.DataFrame, features: dict[date, pd.DataFrame]) -> pd.DataFrame:
    if rows.empty:
        return pd.DataFrame(columns=[*EXAMPLE_COLUMNS, *FEATURES])
    parts = [
        day_rows.merge(features[day], on="customer_id", how="inner", validate="one_to_one")
        for day, day_rows in rows.groupby("run_date", sort=True)
    ]
    return pd.concat(parts, ignore_index=True)[[*EXAMPLE_COLUMNS, *FEATURES]]
