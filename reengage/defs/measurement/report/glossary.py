"""The report's statistical words, each in one or two plain sentences (the report's Glossary section)."""

from __future__ import annotations

GLOSSARY: tuple[tuple[str, str], ...] = (
    (
        "holdout",
        "Users chosen at random to get no message. Comparing the users who got the campaign with them "
        "shows what the campaign itself changed.",
    ),
    (
        "users whose window closed",
        "Users whose attribution window (the days after their first scheduled send in which a conversion "
        "counts) has ended. Only they are compared, because someone whose window is still open may "
        "still convert.",
    ),
    (
        "lift",
        "How much higher the conversion rate is than the group it is compared with, in percentage points "
        "(pts): 10% against 8% is a lift of +2.0 pts.",
    ),
    (
        "relative lift",
        "The lift as a share of the rate it is compared with: +2.0 pts on 8% is +25%. An interval of it "
        "wider than 200 points (a compared-with rate near zero makes any lift a huge multiple of it) reads "
        "'too wide to read': the lift in points beside it is the figure to read.",
    ),
    (
        "95% interval",
        "The range the true lift most likely lies in. When it includes zero, the campaign may make no "
        "difference at all.",
    ),
    (
        "p-value",
        "How often a difference at least this large would appear by chance if the campaign changed nothing. "
        "Small (below 0.05) means chance is an unlikely explanation.",
    ),
    (
        "adjusted p-value",
        "The p-value corrected for the many comparisons in this report (Benjamini-Hochberg): the more "
        "comparisons one reads, the more often one of them looks good by luck alone.",
    ),
    (
        "chance to beat control",
        "The probability that this variant's true conversion rate is higher than that of the group it is "
        "compared with (the holdout or the control variant), given the conversions so far. A guide, not a "
        "decision.",
    ),
    (
        "variance-reduced lift",
        "The lift estimated again taking into account how active each user was in the 28 days before "
        "(CUPED). It removes some of the noise, so it is usually more precise than the plain lift.",
    ),
    (
        "sequential test",
        "The test that decides (mSPRT). It stays correct although the report is read every day, which an "
        "ordinary test does not: it declares a winner (or harm) only once the evidence is strong enough, "
        "and says 'no difference yet' or 'insufficient data' before that. Its always-valid interval is "
        "wider than the 95% interval for the same reason.",
    ),
    (
        "sample ratio check",
        "Whether the numbers of users in each group match the split the campaign file plans. A mismatch "
        "means users were assigned in a way the plan did not intend, and every result of the campaign is "
        "held until the cause is found.",
    ),
    (
        "guardrail",
        "A limit on harm, per channel: for email the share of users who unsubscribed (beyond the "
        "holdout's), reported spam or bounced; for texts the share who replied STOP (beyond the "
        "holdout's), under its own limit. A campaign over a limit is paused the next day.",
    ),
    (
        "by channel",
        "A campaign's results for the users it reached on one channel (email or SMS). Held-out users get "
        "no message, so they count under the channel the campaign would have used for them; each "
        "channel's lift compares its treated users with those held-out users only.",
    ),
    (
        "opt-out",
        "A user whose message was delivered and who unsubscribed (email) or replied STOP (a text's "
        "unsubscribe). Either way they are never sent that channel's messages again.",
    ),
    (
        "n/a for texts",
        "Opens and clicks exist only for email: a text reports whether it was delivered, not whether it was "
        "read, so those figures are missing for texts rather than zero.",
    ),
)
