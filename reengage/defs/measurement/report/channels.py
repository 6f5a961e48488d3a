"""The report's results per channel: one table per channel (email, SMS), a row per campaign on it.

Read from `measurement.campaign_channels`. A campaign sending on several channels also has a row
in "all channels", the sum of its channels. Each channel's held-out users are those the campaign
would have reached on it; a lift is shown only once each arm has enough users whose window closed.
Opens and clicks that a channel cannot report (a text has none) read "n/a for texts", never 0%.
"""

from __future__ import annotations

import pandas as pd

from reengage.channels import CHANNELS
from reengage.defs.measurement.display import names, percent, points

ALL_CHANNELS = "all"
COLUMNS = (
    "campaign_id", "treated", "held_out", "sent", "delivered", "failed", "opted_out", "opt_out_rate",
    "holdout_opt_out_rate", "opened", "clicked", "click_through_rate", "conversion_by_arm", "channel_lift",
)  # fmt: skip

CHANNELS_NOTE = (
    "Each campaign's users by the channel of their first assignment. A held-out user has no channel "
    "of their own: they count under the channel the campaign would have reached them on (it is chosen "
    "before the holdout draw), so each channel's lift compares like with like. Opt-outs are delivered "
    "users who unsubscribed from an email or replied STOP to a text; the held-out share counts the "
    "same replies from held-out users, whatever message they answered. A text cannot be opened or "
    "clicked as far as the provider can tell: those figures read n/a for texts."
)


def channel_heading(channel: str) -> str:
    """The section title of one channel's table."""
    if channel == ALL_CHANNELS:
        return "By channel: all channels together"
    known = CHANNELS.get(channel)
    return f"By channel: {known.label if known and known.label else channel}"


def channel_sections(channels: pd.DataFrame, min_per_arm: int) -> dict[str, pd.DataFrame]:
    """{section title: table} for each channel with users, the product's channels first, 'all' last."""
    if not len(channels):
        return {}
    present = list(dict.fromkeys(channels["channel"]))
    order = [c for c in CHANNELS if c in present] + sorted(
        c for c in present if c not in CHANNELS and c != ALL_CHANNELS
    )
    order += [ALL_CHANNELS] if ALL_CHANNELS in present else []
    return {
        channel_heading(channel): channel_table(
            channels[channels["channel"] == channel].sort_values("campaign_id"), channel, min_per_arm
        )
        for channel in order
    }


def channel_table(rows: pd.DataFrame, channel: str, min_per_arm: int) -> pd.DataFrame:
    """One channel's rows of campaign_channels as a person reads them."""
    known = CHANNELS.get(channel)
    unreported = f"n/a for {known.message_label}" if known and not known.reports_opens_and_clicks else "n/a"

    def count(value: object) -> str:
        return unreported if value is None or pd.isna(value) else f"{int(value):,}"

    def rate(value: object, reported: object = 0) -> str:
        return unreported if reported is None or pd.isna(reported) else percent(value)

    rows = pd.DataFrame(
        [
            {
                "campaign_id": r.campaign_id,
                "treated": f"{int(r.treated):,}",
                "held_out": f"{int(r.held_out):,}",
                "sent": f"{int(r.sent):,}",
                "delivered": f"{int(r.delivered):,}",
                "failed": f"{int(r.failed):,}",
                "opted_out": f"{int(r.opted_out):,}",
                "opt_out_rate": percent(r.opt_out_rate, 2),
                "holdout_opt_out_rate": percent(r.holdout_opt_out_rate, 2),
                "opened": count(r.opened),
                "clicked": count(r.clicked),
                "click_through_rate": rate(r.click_through_rate, r.clicked),
                "conversion_by_arm": f"{percent(r.conversion_treated)} / {percent(r.conversion_held_out)}",
                "channel_lift": _lift(r, min_per_arm),
            }
            for r in rows.itertuples()
        ],
        columns=COLUMNS,
    )
    return rows.rename(columns=names(COLUMNS))


def _lift(r, min_per_arm: int) -> str:  # noqa: ANN001 (a row of campaign_channels)
    if not bool(r.enough_users) or pd.isna(r.abs_lift):
        return (
            f"not yet: {int(r.matured_treated):,} treated and {int(r.matured_held_out):,} held-out users "
            f"whose window closed (needs {min_per_arm:,} in each)"
        )
    return f"{points(r.abs_lift)} [{points(r.abs_ci_low)}, {points(r.abs_ci_high)}]"
