"""Kill the sender with SIGKILL at every crash point, restart it, and judge it by the sink's record.

Each scenario runs the real sender in its own process (the official sendgrid client
over HTTP to a live sink on 127.0.0.1, a SQLite ledger on disk), armed to die at one
crash point, optionally with sink faults queued first. Later runs may be armed too
(a crash during recovery). A final unarmed run then finishes the day. The verdict
comes from the sink's store, the provider's own record:

* every planned message is stored as accepted exactly once (no duplicate, no loss),
* except messages the final report lists as expired, by send id, with a reason saying the
  provider may have them (sent without lead time, so not cancellable): those count as not
  lost because they are reported, and must never be stored twice either,
* the ledger agrees with the store (accepted in the ledger <=> stored once), and the final
  run leaves nothing planned, in flight or in doubt.

Each restart runs with the production defaults: it must find the killed sender gone at
once (its process no longer exists), not after a five-minute timeout. Every armed run
must really have died by SIGKILL, so a crash point that is never reached (a renamed
hook) fails the suite instead of passing vacuously.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crash_driver import ENV_VAR
from delivery_helpers import SCHEDULED_SENDS, make_messages

from reengage.defs.delivery.ledger import SendLedger
from reengage_dev.sink import SinkStore, start_sink

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DRIVER = HERE / "crash_driver.py"
MESSAGES = 30
BATCH_SIZE = 10

DROP_AFTER_STORE = {"mode": "drop", "when": "after"}  # the sink stored it, the answer never comes
SLOW_ANSWER = {"mode": "timeout", "delay": 1.0}  # stores after 1 s; the sender's timeout is 0.5 s
CANCEL_ANSWER_LOST = {**DROP_AFTER_STORE, "path": SCHEDULED_SENDS}


@dataclass(frozen=True)
class Run:
    """One start of the sender: the crash point armed (None: run to the end) and faults queued first."""

    crash: str | None
    faults: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class Scenario:
    name: str
    runs: tuple[Run, ...]
    min_lead_seconds: float = 1800
    settle_seconds: float = 0.0  # wait for late (slow-answer) requests to land before judging
    concurrency: int = 1
    rendered: bool = False  # messages rendered per customer (test_per_customer_content.py)


def crash(point: str, *faults: dict[str, Any], then: tuple[Run, ...] = ()) -> Scenario:
    return Scenario(point, (Run(point, faults), *then))


def after_crash_mid_request(point: str) -> Scenario:
    """A first run dies after a 202 it never recorded; the restart dies at `point` during recovery."""
    return Scenario(f"recovery/{point}", (Run("after_post_ok"), Run(point)))


SCENARIOS: tuple[Scenario, ...] = (
    # planning
    crash("before_plan"),
    crash("ledger_plan_uncommitted"),
    crash("after_plan"),
    # before the request
    crash("before_create_batch"),
    crash("after_create_batch"),
    crash("ledger_claim_uncommitted"),
    crash("after_claim"),
    crash("ledger_record_attempt_uncommitted", {"status": 500}),  # the claim counts the first attempt
    crash("before_post"),
    # during and after the request
    Scenario(
        "during_post (sink slow to answer)", (Run("during_post@0.3", (SLOW_ANSWER,)),), settle_seconds=1.0
    ),
    crash("after_post_ambiguous", DROP_AFTER_STORE),
    crash("after_post_ok"),
    crash("ledger_mark_accepted_uncommitted"),
    crash("after_mark_accepted"),
    crash("between_batches:2"),
    # retries
    crash("after_post_rate_limited", {"status": 429, "retry_after": 0}),
    crash("during_rate_limit_wait", {"status": 429, "retry_after": 0}),
    crash("after_post_server_error", {"status": 500}),
    crash("during_backoff", {"status": 503}),
    crash("after_post_rejected", {"status": 400, "message": "The template_id is not a valid template."}),
    crash("ledger_mark_failed_uncommitted", {"status": 400, "message": "invalid"}),
    crash("during_backoff:3", {"status": 500, "count": 4}),  # transient errors are retried, never given up
    # cancel-then-resend after an ambiguous answer
    crash("before_rebatch_cancel", DROP_AFTER_STORE),
    crash("after_rebatch_cancel", DROP_AFTER_STORE),
    crash("after_rebatch_new_batch", DROP_AFTER_STORE),
    crash("ledger_rebatch_uncommitted", DROP_AFTER_STORE),
    crash("after_rebatch", DROP_AFTER_STORE),
    crash("ledger_mark_in_doubt_uncommitted", DROP_AFTER_STORE),
    crash("ledger_hold_place_uncommitted", DROP_AFTER_STORE),
    Scenario("after_post_ok of the re-send", (Run("after_post_ok", (DROP_AFTER_STORE,)),)),
    # recovery after a crash, itself crashed
    after_crash_mid_request("after_recovery"),
    after_crash_mid_request("before_recovery_cancel"),
    after_crash_mid_request("after_recovery_cancel"),
    after_crash_mid_request("ledger_release_uncommitted"),
    after_crash_mid_request("after_recovery_release"),
    Scenario(
        "recovery/cancel answer lost",
        (Run("after_post_ok"), Run("after_recovery_cancel", (CANCEL_ANSWER_LOST,))),
    ),
    Scenario("crash twice at the same point", (Run("after_post_ok"), Run("after_post_ok"))),
    # three requests in flight at once: the crash strands the others mid-request too
    Scenario("concurrent/after_post_ok:2", (Run("after_post_ok:2"),), concurrency=3),
    Scenario("concurrent/before_post:3", (Run("before_post:3"),), concurrency=3),
    # streaming: the day is planned 12 messages at a time while requests (10) go out, so a
    # crash can fall between planning chunks with part of the day sent and part unplanned
    crash("before_plan:2"),
    crash("ledger_plan_uncommitted:2"),
    crash("after_plan:3"),
    Scenario("concurrent/after_plan:2", (Run("after_plan:2"),), concurrency=3),
    Scenario("concurrent/between_batches:2", (Run("between_batches:2"),), concurrency=3),
    # without lead time a lost answer cannot be undone: expired with the reason, never resent
    Scenario("expired/after_post_ok (no lead time)", (Run("after_post_ok"),), min_lead_seconds=0),
    Scenario(
        "expired/ledger_expire_uncommitted (no lead time)",
        (Run("after_post_ok"), Run("ledger_expire_uncommitted")),
        min_lead_seconds=0,
    ),
)


@dataclass
class Outcome:
    name: str
    killed: int = 0
    duplicates: int = 0
    lost: int = 0
    expired_reported: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_driver(
    ledger: Path,
    url: str,
    crash_at: str | None,
    min_lead_seconds: float,
    concurrency: int = 1,
    rendered: bool = False,
) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    if crash_at is not None:
        env[ENV_VAR] = crash_at
    command = [sys.executable, str(DRIVER), "--ledger", str(ledger), "--sink", url]
    command += ["--messages", str(MESSAGES), "--batch-size", str(BATCH_SIZE)]
    command += ["--min-lead-seconds", str(min_lead_seconds), "--concurrency", str(concurrency)]
    command += ["--rendered"] if rendered else []
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=REPO)
    return done.returncode, done.stdout if done.returncode == 0 else done.stderr[-2000:]


def play(scenario: Scenario, workdir: Path) -> Outcome:
    outcome = Outcome(scenario.name)
    workdir.mkdir(parents=True)
    ledger_path = workdir / "send_ledger.sqlite"
    with start_sink(workdir / "sink.sqlite") as sink:
        for run in scenario.runs:
            sink.faults.clear()
            sink.inject(*run.faults)
            code, output = run_driver(
                ledger_path,
                sink.url,
                run.crash,
                scenario.min_lead_seconds,
                scenario.concurrency,
                scenario.rendered,
            )
            if code == -signal.SIGKILL:
                outcome.killed += 1
            else:
                outcome.problems.append(f"armed at {run.crash} but exited {code}: {output.strip()[-300:]}")
        sink.faults.clear()
        code, output = run_driver(
            ledger_path, sink.url, None, scenario.min_lead_seconds, rendered=scenario.rendered
        )
        if code != 0:
            outcome.problems.append(f"final run exited {code}: {output.strip()[-500:]}")
            return outcome
        report = json.loads(output.strip().splitlines()[-1])
        time.sleep(scenario.settle_seconds)
        judge(outcome, report, sink.store, SendLedger(ledger_path))
    return outcome


def judge(outcome: Outcome, report: dict[str, Any], store: SinkStore, ledger: SendLedger) -> None:
    planned = [m.send_id for m in make_messages(MESSAGES)]
    stored = store.count_by_send_id("accepted")
    expired = set(report["expired_ids"])
    outcome.expired_reported = sorted(expired)
    outcome.duplicates = sum(n - 1 for n in stored.values() if n > 1)
    outcome.lost = sum(1 for sid in planned if stored.get(sid, 0) == 0 and sid not in expired)
    if set(stored) - set(planned):
        outcome.problems.append(f"sink holds unplanned send ids: {sorted(set(stored) - set(planned))[:3]}")
    if report["expired"] != len(expired):
        outcome.problems.append("expired count and listed ids disagree")
    rows = {r.send_id: r for r in ledger.rows(send_ids=planned)}
    for sid in planned:
        row = rows.get(sid)
        if sid in expired:
            if row is None or "the provider may have it" not in (row.last_error or ""):
                outcome.problems.append(f"{sid}: expired without saying the provider may have it")
            continue
        if row is None or row.state != "accepted":
            state = row.state if row else None
            outcome.problems.append(f"{sid}: ledger says {state}, sink stored {stored.get(sid, 0)}")
    settled = report["accepted"] + report["expired"] == MESSAGES
    if not settled or report["pending"] or report["failed"] or report["in_doubt"]:
        outcome.problems.append(f"final report not settled: {report}")


def test_sigkill_at_every_crash_point_never_duplicates_or_loses(tmp_path: Path) -> None:
    points = {s.name for s in SCENARIOS}
    assert len(points) == len(SCENARIOS) and len(SCENARIOS) >= 20
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        outcomes = list(pool.map(lambda i: play(SCENARIOS[i], tmp_path / f"s{i:02d}"), range(len(SCENARIOS))))

    width = max(len(o.name) for o in outcomes)
    print(f"\n{'scenario':<{width}}  kills  dup  lost  expired(reported)")
    for o in outcomes:
        print(
            f"{o.name:<{width}}  {o.killed:>5}  {o.duplicates:>3}  {o.lost:>4}  {len(o.expired_reported):>8}"
        )
    totals = (
        len(outcomes),
        sum(o.killed for o in outcomes),
        sum(o.duplicates for o in outcomes),
        sum(o.lost for o in outcomes),
        sum(len(o.expired_reported) for o in outcomes),
    )
    scenarios, kills, duplicates, lost, expired = totals
    print(
        f"TOTAL: {scenarios} scenarios, {kills} SIGKILLs, {duplicates} duplicates, {lost} lost, "
        f"{expired} expired in doubt (all reported by send id, with the reason)"
    )

    assert [p for o in outcomes for p in (f"{o.name}: {x}" for x in o.problems)] == []
    assert totals[2:4] == (0, 0), "duplicates or losses"
    assert all(
        o.killed == sum(1 for r in s.runs if r.crash) for o, s in zip(outcomes, SCENARIOS, strict=True)
    )
    # the two no-lead-time scenarios are the only ones allowed to give messages up
    assert {o.name for o in outcomes if o.expired_reported} <= {
        s.name for s in SCENARIOS if s.name.startswith("expired/")
    }
