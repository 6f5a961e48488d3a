"""A notice when a daily run did not deliver: a quality gate blocked it, it refused the date, or it
left messages of its day unsettled (in flight, in doubt or planned).

The notice names the run date, the reason and counts (which gates failed with their
numeric results; the send ledger's counts for the day); never an address, a message
body or a key. It is built from the run's own event log, so it says exactly what the
run saw.

No `from __future__ import annotations` here: Dagster inspects the sensors' signatures.
"""

import numbers

import dagster as dg

from reengage.defs.operations.notify import send_alert

DELIVERY_KEY = dg.AssetKey(["campaign_sends"])
DELIVERY_STEP = "campaign_sends"
SETTLED_CHECK = "every_message_settled"  # defs/delivery/checks.py


def delivery_notice(instance: dg.DagsterInstance, run: dg.DagsterRun) -> str | None:
    """The notice for a finished run whose delivery was blocked or refused; None if nothing to say."""
    if not delivery_planned(instance, run):
        return None  # this run was never going to deliver (another job, or a subset without it)
    day = run.tags.get("dagster/partition", "?")
    head = f"(run {run.run_id[:8]} of {run.job_name})"
    events = instance.all_logs(
        run.run_id,
        of_type={
            dg.DagsterEventType.ASSET_CHECK_EVALUATION,
            dg.DagsterEventType.STEP_START,
            dg.DagsterEventType.ASSET_MATERIALIZATION,
        },
    )
    started = {e.step_key for e in events if e.dagster_event.event_type == dg.DagsterEventType.STEP_START}
    gates = [
        e.dagster_event.event_specific_data
        for e in events
        if e.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
        and not e.dagster_event.event_specific_data.passed
        and e.dagster_event.event_specific_data.severity == dg.AssetCheckSeverity.ERROR
    ]
    if DELIVERY_STEP not in started and gates:
        lines = [f":no_entry: Delivery blocked for {day} {head}: no message was sent."]
        lines.append(f"{len(gates)} quality gate(s) failed:")
        lines += [f"- {g.asset_key.to_user_string()} {g.check_name}{_counts(g.metadata)}" for g in gates]
        return "\n".join(lines)
    unsettled = [g for g in gates if g.asset_key == DELIVERY_KEY and g.check_name == SETTLED_CHECK]
    if unsettled:
        meta = {k: getattr(v, "value", v) for k, v in unsettled[0].metadata.items()}
        labels = {"in_flight": "in flight", "in_doubt": "in doubt", "planned": "planned, unsent"}
        parts = ", ".join(f"{meta[key]} {label}" for key, label in labels.items() if meta.get(key))
        return (
            f":warning: Delivery for {day} not settled {head}: {meta.get('unsettled', '?')} message(s) "
            f"left unsettled ({parts}).\nA later run settles them, or "
            f"`python -m reengage.cli resolve --date {day}` (docs/operations.md)."
        )
    refused = [
        e.dagster_event.event_specific_data.materialization
        for e in events
        if e.dagster_event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION
        and e.dagster_event.event_specific_data.materialization.asset_key == DELIVERY_KEY
    ]
    for materialization in refused:
        meta = {k: v.value for k, v in materialization.metadata.items()}
        if meta.get("skipped_past_date"):
            states = {k.split("/", 1)[1]: v for k, v in meta.items() if k.startswith("state/")}
            ledger = (
                ", ".join(f"{state} {n}" for state, n in sorted(states.items()) if n) or "nothing planned"
            )
            return (
                f":warning: Delivery refused for {day} {head}: {meta.get('note', 'a past date')}.\n"
                f"Send ledger for {day}: {ledger}."
            )
    return None


def delivery_planned(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the delivery step was in the run's execution plan."""
    if run.step_keys_to_execute is not None:
        return DELIVERY_STEP in run.step_keys_to_execute
    if not run.execution_plan_snapshot_id:
        return False
    plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return any(step.key == DELIVERY_STEP for step in plan.steps)


def _counts(metadata) -> str:
    """A check's numeric results (rows, thresholds, failed expectations): counts only, no values."""
    pairs = []
    for key, value in sorted(metadata.items()):
        raw = getattr(value, "value", value)
        if isinstance(raw, numbers.Number) and not isinstance(raw, bool):
            pairs.append(f"{key}={raw:g}" if isinstance(raw, float) else f"{key}={raw}")
    return f" ({', '.join(pairs)})" if pairs else ""


def _notify(context: dg.RunStatusSensorContext) -> None:
    run = context.dagster_run
    if run.tags.get("dagster/backfill") and run.status == dg.DagsterRunStatus.SUCCESS:
        # A backfill of old days is expected to refuse them; one notice per day would be noise.
        return
    text = delivery_notice(context.instance, run)
    if text:
        send_alert(text, context.log)


@dg.run_status_sensor(
    name="blocked_delivery_notice",
    run_status=dg.DagsterRunStatus.FAILURE,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Says when a daily run's delivery was stopped by a failed quality gate, with the gates "
    "and their counts, or left messages of its day unsettled, with how many in flight, in doubt and "
    "unsent (log, and REENGAGE_ALERT_WEBHOOK_URL when set).",
)
def blocked_delivery_notice(context: dg.RunStatusSensorContext) -> None:
    _notify(context)


@dg.run_status_sensor(
    name="refused_delivery_notice",
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Says when a daily run's delivery refused its run date (a past date without "
    "allow_past_dates), with the ledger's counts (log, and the webhook when set).",
)
def refused_delivery_notice(context: dg.RunStatusSensorContext) -> None:
    _notify(context)
