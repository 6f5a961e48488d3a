"""Kill the SMS sender with SIGKILL at every crash point, restart it, judge it by the Twilio sink's record.

As the email crash suite (test_crash_points.py), with the SMS sender in its own process (the
official twilio client over HTTP to a live Twilio sink, a SQLite ledger on disk), armed to die at
one point, optionally with sink faults queued first; later runs may be armed too (a crash during
recovery); a final unarmed run finishes the day. The verdict comes from the sink's store:

* every planned text is held exactly once, live (never a second uncancelled copy: no duplicate)
  and none is missing (no loss), unless the final report lists it as expired, by send id, with a
  reason saying the provider may have it;
* the ledger agrees (accepted for every text held), and the final run leaves nothing unsettled.

Every armed run must really have died by SIGKILL, so a crash point that is never reached fails the
suite instead of passing vacuously.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crash_driver import run_armed
from sms_helpers import live_copies, make_texts
from test_crash_points import Outcome, Run, summarize

from reengage.defs.delivery.ledger import SendLedger
from reengage_dev.twilio_sink import TwilioSinkStore, start_twilio_sink

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
DRIVER = HERE / "sms_crash_driver.py"
TEXTS = 12

DROP_AFTER_STORE = {"mode": "drop", "when": "after"}  # Twilio stored it, the answer never comes
DROP_BEFORE_STORE = {"mode": "drop", "when": "before"}  # lost before Twilio stored it
SLOW_ANSWER = {"mode": "timeout", "delay": 1.0}  # stores after 1 s; the sender's timeout is 0.5 s


@dataclass(frozen=True)
class Scenario:
    name: str
    runs: tuple[Run, ...]
    concurrency: int = 1


def crash(point: str, *faults: dict[str, Any]) -> Scenario:
    return Scenario(point, (Run(point, faults),))


def then(first: Run, point: str) -> Scenario:
    """A first run dies as `first` says; the restart dies at `point` while settling what it left."""
    return Scenario(f"recovery after {first.crash}/{point}", (first, Run(point)))


SCENARIOS: tuple[Scenario, ...] = (
    # planning
    crash("before_plan"),
    crash("ledger_plan_uncommitted"),
    crash("after_plan"),
    crash("before_plan:2"),
    # before the request
    crash("before_claim"),
    crash("ledger_claim_uncommitted"),
    crash("after_claim"),
    crash("before_post"),
    crash("ledger_record_attempt_uncommitted", {"status": 429, "retry_after": 0}),
    # during and after the request
    Scenario("during_post (Twilio slow to answer)", (Run("during_post@0.3", (SLOW_ANSWER,)),)),
    crash("after_post_ok"),
    crash("ledger_mark_accepted_uncommitted"),
    crash("after_mark_accepted"),
    crash("between_batches:3"),
    # definite answers
    crash("after_post_rate_limited", {"status": 429, "retry_after": 0}),
    crash("during_rate_limit_wait", {"status": 429, "retry_after": 1}),
    crash("after_post_rejected", {"status": 400, "message": "refused"}),
    crash("ledger_mark_failed_uncommitted", {"status": 400, "message": "refused"}),
    # settling an ambiguous answer by lookup
    crash("after_post_ambiguous", DROP_AFTER_STORE),
    crash("ledger_mark_in_doubt_uncommitted", DROP_AFTER_STORE),
    crash("before_find", DROP_AFTER_STORE),
    crash("after_find", DROP_AFTER_STORE),
    crash("after_settle_accepted", DROP_AFTER_STORE),
    crash("after_find:1", DROP_BEFORE_STORE),  # not found: the next step would resend
    crash("ledger_rebatch_uncommitted", DROP_BEFORE_STORE),
    crash("after_rebatch", DROP_BEFORE_STORE),
    Scenario("after_post_ambiguous (a 500)", (Run("after_post_ambiguous", ({"status": 500},)),)),
    Scenario("after_post_ok of the resend", (Run("after_post_ok", (DROP_BEFORE_STORE,)),)),
    # recovery after a crash, itself crashed
    then(Run("after_post_ok"), "after_recovery"),
    then(Run("after_post_ok"), "before_find"),
    then(Run("after_post_ok"), "after_recovery_settle"),
    then(Run("before_post"), "after_recovery_settle"),
    then(Run("before_post"), "ledger_release_uncommitted"),
    Scenario("crash twice at the same point", (Run("after_post_ok"), Run("after_post_ok"))),
    # three texts in flight at once: the crash strands the others mid-request too
    Scenario("concurrent/after_post_ok:2", (Run("after_post_ok:2"),), concurrency=3),
    Scenario("concurrent/before_post:3", (Run("before_post:3"),), concurrency=3),
)


def run_driver(ledger: Path, url: str, crash_at: str | None, concurrency: int = 1) -> tuple[int, str]:
    command = [sys.executable, str(DRIVER), "--ledger", str(ledger), "--sink", url]
    command += ["--messages", str(TEXTS), "--concurrency", str(concurrency)]
    return run_armed(command, crash_at, REPO, timeout=120)


def play(scenario: Scenario, workdir: Path) -> Outcome:
    outcome = Outcome(scenario.name)
    workdir.mkdir(parents=True)
    ledger_path = workdir / "send_ledger.sqlite"
    sink = start_twilio_sink(workdir / "twilio.sqlite")
    try:
        for run in scenario.runs:
            sink.faults.clear()
            sink.inject(*run.faults)
            code, output = run_driver(ledger_path, sink.url, run.crash, scenario.concurrency)
            if code == -signal.SIGKILL:
                outcome.killed += 1
            else:
                outcome.problems.append(f"armed at {run.crash} but exited {code}: {output.strip()[-300:]}")
        sink.faults.clear()
        code, output = run_driver(ledger_path, sink.url, None)
        if code != 0:
            outcome.problems.append(f"final run exited {code}: {output.strip()[-500:]}")
            return outcome
        time.sleep(1.2)  # a slow request of a killed run lands by now
        judge(outcome, json.loads(output.strip().splitlines()[-1]), sink.store, SendLedger(ledger_path))
    finally:
        sink.stop()
    return outcome


def judge(outcome: Outcome, report: dict[str, Any], store: TwilioSinkStore, ledger: SendLedger) -> None:
    texts = make_texts(TEXTS)
    held = live_copies(store)
    expired = set(report["expired_ids"])
    outcome.expired_reported = sorted(expired)
    outcome.duplicates = sum(n - 1 for n in held.values() if n > 1)
    outcome.lost = sum(1 for t in texts if held[(t.to, t.body)] == 0 and t.send_id not in expired)
    if set(held) - {(t.to, t.body) for t in texts}:
        outcome.problems.append("Twilio holds a text nobody planned")
    rows = {r.send_id: r for r in ledger.rows(send_ids=[t.send_id for t in texts])}
    for text in texts:
        row = rows.get(text.send_id)
        if text.send_id in expired:
            if row is None or "the provider may have it" not in (row.last_error or ""):
                outcome.problems.append(f"{text.send_id}: expired without saying the provider may have it")
        elif row is None or row.state != "accepted":
            outcome.problems.append(f"{text.send_id}: ledger says {row.state if row else None}")
    if report["accepted"] + report["expired"] != TEXTS or report["pending"] or report["in_doubt"]:
        outcome.problems.append(f"final report not settled: {report}")


def test_sigkill_at_every_sms_crash_point_never_duplicates_or_loses(tmp_path: Path) -> None:
    names = Counter(s.name for s in SCENARIOS)
    assert max(names.values()) == 1 and len(SCENARIOS) >= 30
    with ThreadPoolExecutor(max_workers=min(6, os.cpu_count() or 2)) as pool:
        outcomes = list(pool.map(lambda i: play(SCENARIOS[i], tmp_path / f"s{i:02d}"), range(len(SCENARIOS))))

    _, _, duplicates, lost, _ = summarize(outcomes)

    assert [p for o in outcomes for p in (f"{o.name}: {x}" for x in o.problems)] == []
    assert (duplicates, lost) == (0, 0), "duplicates or losses"
    assert all(
        o.killed == sum(1 for r in s.runs if r.crash) for o, s in zip(outcomes, SCENARIOS, strict=True)
    )
    assert not any(o.expired_reported for o in outcomes), (
        "with the lead, every text is settled, none given up"
    )
