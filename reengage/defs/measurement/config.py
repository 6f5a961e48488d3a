"""Run configuration of the measurement assets (defaults are the team's conventions)."""

import dagster as dg
from pydantic import Field

# The guardrails of each channel's users, each against the limit max_<metric>: a text's provider
# reports no spam and its failures are carriers' (no bounce), and its unsubscribe is a STOP reply.
CHANNEL_GUARDRAILS: dict[str, tuple[str, ...]] = {
    "email": ("unsubscribe_rate", "spam_rate", "bounce_rate"),
    "sms": ("sms_opt_out_rate",),
}


class MeasurementConfig(dg.Config):
    alpha: float = Field(default=0.05, description="Two-sided level of every interval and test.")
    # Re-engagement messages move conversion by a few points (3 to 15 in the demo world's truth).
    # A scale far below the arms' standard error wastes evidence: at 0.02, with a 10% holdout of
    # about 100 users, no lift under about 5 standard errors could ever be declared.
    msprt_tau: float = Field(
        default=0.05,
        description="Scale of the mSPRT mixture (absolute conversion lift one hopes to detect).",
    )
    srm_threshold: float = Field(default=0.001, description="SRM chi-square p-value below which to flag.")
    min_per_arm: int = Field(
        default=100, description="Matured users needed in each arm before a sequential decision."
    )
    pre_period_days: int = Field(
        default=28, description="Days before the first assignment for the CUPED covariate."
    )
    max_unsubscribe_rate: float = Field(
        default=0.01,
        description="Share of users with a delivered message who unsubscribed within the window, "
        "in excess of the holdout's share.",
    )
    max_sms_opt_out_rate: float = Field(
        default=0.01,
        description="Share of users with a delivered text who replied STOP within the window, in excess of "
        "the share of held-out users the campaign would have texted.",
    )
    max_spam_rate: float = Field(
        default=0.002, description="Share of users with a delivered message who reported it as spam."
    )
    max_bounce_rate: float = Field(default=0.05, description="Share of mailed users with a bounce or drop.")
    min_delivered: int = Field(
        default=200,
        description="Users with a delivered message a campaign needs before a guardrail can trip.",
    )
    min_guardrail_events: int = Field(
        default=3, description="Events (e.g. spam reports) needed before a guardrail can trip."
    )
    min_per_channel_arm: int = Field(
        default=30,
        description="Users whose window closed each arm needs on a channel before the report shows that "
        "channel's lift (the held-out arm: users the campaign would have reached on it).",
    )
    pause_on_breach: bool = Field(
        default=True, description="Write paused=true so the intervention engine stops the campaign."
    )
    campaign_limits: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Per-campaign overrides, e.g. {'dormant_win_back': {'max_unsubscribe_rate': 0.02, "
        "'max_sms_opt_out_rate': 0.005}}.",
    )
    campaign_pause: dict[str, bool] = Field(
        default_factory=dict, description="Per-campaign override of pause_on_breach."
    )

    def limit(self, campaign_id: str, name: str) -> float:
        return float(self.campaign_limits.get(campaign_id, {}).get(name, getattr(self, name)))

    def pauses(self, campaign_id: str) -> bool:
        return bool(self.campaign_pause.get(campaign_id, self.pause_on_breach))
