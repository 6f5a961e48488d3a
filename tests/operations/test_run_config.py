"""Retries, the run queue and the delivery pool are where the operations docs say they are."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.tags import TagConcurrencyLimitsCounter  # the counter the run queue daemon uses

from reengage.definitions import build_definitions
from reengage.defs.warehouse.assets import model_key

REPO = Path(__file__).resolve().parents[2]
TEMPLATE = REPO / "reengage" / "dagster.local.yaml"


@pytest.fixture(scope="module")
def graph():
    return build_definitions().resolve_asset_graph()


def retry_policy(graph, key: dg.AssetKey) -> dg.RetryPolicy | None:
    node = graph.get(key)
    return node.assets_def.op.retry_policy


def test_flaky_steps_retry_with_backoff_and_jitter_and_delivery_never_does(graph) -> None:
    for key in [dg.AssetKey(["raw", s]) for s in ("customers", "events", "email_events")] + [
        model_key("fct_user_features")
    ]:
        policy = retry_policy(graph, key)
        assert policy is not None and policy.max_retries >= 1, key.to_user_string()
        assert policy.backoff == dg.Backoff.EXPONENTIAL and policy.jitter == dg.Jitter.PLUS_MINUS
    for name in ("campaign_sends", "sms_sends", "churn_model", "intervention_list", "campaign_results"):
        assert retry_policy(graph, dg.AssetKey([name])) is None, f"{name} must not be retried blindly"


def test_the_delivery_steps_are_in_the_sendgrid_pool(graph) -> None:
    # Guards one delivering step at a time: the SMS step shares the email step's pool.
    for name in ("campaign_sends", "sms_sends"):
        assert graph.get(dg.AssetKey([name])).assets_def.op.pool == "sendgrid_delivery", name


def test_the_local_instance_queues_one_run_per_day_and_one_delivery_at_a_time(tmp_path: Path) -> None:
    shutil.copyfile(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:  # what DAGSTER_HOME=tmp_path loads
        config = instance.get_concurrency_config()
        assert type(instance.run_coordinator).__name__ == "QueuedRunCoordinator"
    assert config.pool_config.default_pool_limit == 1
    assert config.pool_config.pool_granularity.value == "run"
    assert config.run_queue_config.max_concurrent_runs == 1
    limits = config.run_queue_config.tag_concurrency_limits

    def run(run_id: str, day: str) -> dg.DagsterRun:
        return dg.DagsterRun(job_name="daily_reengagement", run_id=run_id, tags={"dagster/partition": day})

    # With a run for 2026-03-10 in progress, a second run for that day waits; another day may start
    # (when max_concurrent_runs is raised, e.g. on PostgreSQL).
    counter = TagConcurrencyLimitsCounter(limits, [run("a", "2026-03-10")])
    assert counter.is_blocked(run("b", "2026-03-10"))
    assert not counter.is_blocked(run("c", "2026-03-09"))


def test_the_local_instance_opens_the_ui_without_the_welcome_pop_up(tmp_path: Path) -> None:
    # Guards the newsletter prompt shown by `reengage ui` in every new browser: noise at start.
    shutil.copyfile(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        assert instance.nux_enabled is False


def test_the_local_instance_gets_the_template_once_and_keeps_its_own_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reengage.local_instance import local_dagster_home

    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dagster_home"))
    home = local_dagster_home()
    assert (home / "dagster.yaml").read_text() == TEMPLATE.read_text()
    (home / "dagster.yaml").write_text("# mine\n")
    local_dagster_home()
    assert (home / "dagster.yaml").read_text() == "# mine\n", "a home's own config is kept"
