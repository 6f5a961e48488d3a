"""The daily decision: for every triggered (customer, campaign), send, hold out, or why not.

Everything up to the rendered message is one set-based DuckDB query
(decisions.sql), so the cost is a few table scans whatever the number of users.
Checks apply in a fixed order and the first that fails is recorded as the reason:

1. `suppressed:<reason>`, itself in this order:
   - `no_consent`: the features' `consent_status` is `withdrawn` (the CRM
     snapshot says no, or a newer CRM row refused at ingest reads as a
     withdrawal);
   - `unverified_profile`: `consent_status` is anything but `granted` or
     `withdrawn`; `unverified` means the customer's newest CRM row was refused
     at ingest, so nobody can say whether they still agree. consent_status is
     decided in one place, dbt's int_customer_consent; only `granted` mails;
   - `<event>`: the address is in `marts.fct_email_suppressions` (bounce,
     dropped, spamreport, unsubscribe, group_unsubscribe: the first one);
   - `missing_email`, `invalid_email`: no address, or an obviously broken one.
2. `campaign_paused`: a measurement guardrail paused the campaign for D
   (only when `measurement.campaign_guardrails` exists).
3. `frequency_cap`: messages that reached the user on their local day D, or
   in the rolling 7 local days ending D, from earlier runs.
4. `cooldown`: the same campaign reached the user within its cooldown.
5. `paused_after_response`: the user responded (opened, clicked,
   unsubscribed, reported spam or converted; `marts.fct_user_responses`) to
   a message of one of these campaigns in the `response_pause_days` UTC days
   ending D. The mart must exist unless the pause is off (0 days).
6. `empty_block:<block>`: the campaign's template shows a block whose rule is
   `when_empty: skip` and the user has nothing of their own for it (an empty
   cart, say; block_data.py reads the context marts as of D). Decided before
   the winner and the holdout draw, so a held-out user whose block would have
   been empty is left out exactly like a treated one (both arms stay drawn from
   the same people), and the next campaign can take the user's day.
7. One winner per user and day, by priority, then churn score (which only
   separates campaigns once scores are per campaign), then campaign id so
   ties never depend on row order; the others are `lower_priority`.
8. `targeting:<why>`: a campaign with ranked targeting (uplift, risk,
   random; campaigns/README.md, "Targeting") did not assign its winner today.
   The winner is still this campaign's: a user's day has one winner, and
   letting the next campaign take it would make that campaign's assignments
   depend on this one's draws.
9. `global_holdout`: the assigned winner of a user in the global holdout (a
   stable share of all users, who never receive anything, so the programme as
   a whole can be measured). Only the winner is held; the user's other rows
   keep their own reasons.
10. The assigned winner is `chosen`, or `campaign_holdout` when it falls in the
    campaign's holdout share. A chosen message whose template fails on the
    user's data becomes `render_error:<type>` and is left out of the list
    (`template_data_too_large` when a SendGrid message's data is over
    MAX_TEMPLATE_DATA_BYTES).

The campaign holdout is applied to the winner (after caps, cooldown and
priority) rather than before them: a held-out row then stands for exactly
the message that would have been sent, so treatment and holdout arms pass
through the same funnel and are comparable (tests/interventions name this
guarantee). Drawing the campaign holdout before the caps, the obvious place,
would put users into the holdout who would never have been sent the
message (capped, cooled down, or won by another campaign) and hand held-out
users to the next campaign, so both arms would differ. Held-out winners are
recorded in the intervention list with arm `holdout` and count, like real
sends, towards later frequency caps and cooldowns (otherwise a held-out user
would be "chosen" again every day and shut out of every other campaign). The
global holdout is drawn at the same place for the same reasons, and its
winners, recorded in the decisions only, count towards caps and cooldowns too:
a held user then meets the rhythm a treated one does.

Every row records `treatment_probability` and `assignment_probability`: the
product, over the day's random draws (exploration, global holdout, campaign
holdout, variant), of the chance each fell the way it did, given everything
decided without chance. A global holdout row is the winner that would have been
sent, so held users are evaluation data too.

Reruns of a run date are idempotent: history only counts runs before D, the
run date's rows are replaced in one transaction, and assignments are hashes
of (salt, customer, campaign).

A run, in the order `run_policy` takes it, one module each:

- config.py: the run-time knobs (`PolicyConfig`) and `PolicyError`;
- inputs.py: which warehouse tables are read, and the refusal when a required one is missing;
- decisions.py with decisions.sql: every decision into temp tables (`decide`; dry runs stop here);
- chosen.py: the chosen rows with send id and scheduled send time;
- rendering.py: message content, and `render_error` for a template failing on a user's data;
- block_data.py: the personal blocks (cart, views, recommendations, social proof, progress) of a
  set of rows, in one query: which are empty when deciding, their content when rendering;
- persistence.py: the two tables written, the run date's rows replaced by column name in one transaction;
- run_summary.py: the counts a run reports (`PolicyRun`), never personal data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

import duckdb

from reengage.channels import CHANNELS, Channel
from reengage.defs.interventions.campaigns import Campaign
from reengage.defs.interventions.policy.chosen import CHOSEN_TABLE, materialise_chosen
from reengage.defs.interventions.policy.config import PolicyConfig, PolicyError
from reengage.defs.interventions.policy.decisions import DECISIONS_WORK_TABLE, decide
from reengage.defs.interventions.policy.persistence import write_run
from reengage.defs.interventions.policy.rendering import (
    RENDERED_TABLE,
    record_render_failures,
    render_chosen,
)
from reengage.defs.interventions.policy.run_summary import PolicyRun, summarise_run

__all__ = ["PolicyConfig", "PolicyError", "PolicyRun", "decide", "run_policy"]


def run_policy(
    con: duckdb.DuckDBPyConnection,
    run_date: date,
    campaigns: Sequence[Campaign],
    config: PolicyConfig | None = None,
    now: datetime | None = None,
    channels: Mapping[str, Channel] = CHANNELS,
) -> PolicyRun:
    """Decide, render and schedule the run date's messages and replace its rows in one transaction.

    `channels`: the channels campaigns may name (the product's registry; tests add their own).
    """
    config = config or PolicyConfig()
    now = now or datetime.now(UTC)
    notes: list[str] = []
    decide(con, run_date, campaigns, config, notes, channels)
    materialise_chosen(con, run_date, now, config, channels)

    failures = render_chosen(con, campaigns, channels, run_date=run_date)
    if failures:
        record_render_failures(con, failures)
        notes.append(f"{len(failures)} message(s) failed to render and were not listed")
    write_run(con, run_date, DECISIONS_WORK_TABLE, CHOSEN_TABLE, RENDERED_TABLE)
    return summarise_run(con, run_date, campaigns, notes)
