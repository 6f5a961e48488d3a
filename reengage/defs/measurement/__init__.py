"""Measurement: did the nudge work?

- ``stats``     pure statistics (z-test, Welch, beta-binomial, SRM, BH, mSPRT, CUPED, power/MDE)
- ``outcomes``  per user and campaign, counted once from their first assignment: target event
  within the attribution window after that scheduled send time (same clock for the holdout),
  deliveries, failures and opt-outs from the channel's own provider events (SendGrid's for email,
  Twilio's status callbacks and STOP replies for texts), opens and clicks (null for texts),
  times, revenue
- ``results``   per assignment day: assignments and their messages (operational counts, not users)
- ``analysis``  the day's tables: summary, comparisons with sequential decisions, SRM,
  guardrails per channel, results per channel and the pauses the intervention engine reads
  the next day
- ``display``   the words a person reads for the tables' columns, and the campaign summary as the
  report and the command line's run summary both show it
- ``report``    the self-contained HTML campaign report with plots: ``verdict`` (keep, stop or wait,
  one sentence per campaign), ``glossary`` (the statistical words in plain ones), ``plots``,
  ``channels`` (a section per channel: email, SMS)
- ``assets``    ``campaign_results``, ``campaign_measurement`` and ``campaign_report``

Warehouse tables (schema ``measurement``): campaign_results, assignment_outcomes (one row per
user and campaign, latest run only, no email), campaign_summary, campaign_comparisons, campaign_srm,
guardrail_metrics, campaign_daily, campaign_channels, campaign_settings (the settings each
campaign was measured with, which the report's verdict judges by; one set of rows per run date)
and campaign_guardrails (campaign_id, run_date, paused, reason).
"""
