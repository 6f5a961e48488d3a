"""Two sender processes deliver the same run date at once, through a storm of faults: each message once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from crash_driver import ENV_VAR
from delivery_helpers import FAST, OPTIONS, make_messages
from sendgrid import SendGridAPIClient

from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.sender import deliver
from reengage_dev.sink import SinkHandle, start_sink

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
MESSAGES = 200


def test_two_processes_in_a_fault_storm_store_each_message_once(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV_VAR}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    with start_sink(tmp_path / "sink.sqlite") as sink:
        sink.inject(
            {"status": 429, "count": 4, "retry_after": 0},
            {"status": 500, "count": 3},
            {"mode": "drop", "when": "after", "count": 2},
            {"mode": "timeout", "delay": 1.0, "count": 2},
            {"status": 503, "count": 2},
            {"mode": "drop", "when": "before", "count": 2},
        )
        command = [
            sys.executable, str(HERE / "crash_driver.py"), "--ledger", str(tmp_path / "ledger.sqlite"),
            "--sink", sink.url, "--messages", str(MESSAGES), "--batch-size", "10",
            "--concurrency", "3", "--max-retries", "20",
        ]  # fmt: skip
        senders = [
            subprocess.Popen(command, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True) for _ in "ab"
        ]
        outputs = [s.communicate(timeout=120)[0] for s in senders]
        assert [s.returncode for s in senders] == [0, 0]
        time.sleep(1.0)  # let the slow answers' late copies land before judging
        reports = [json.loads(out.strip().splitlines()[-1]) for out in outputs]
        stored = sink.store.count_by_send_id()
    assert stored == {m.send_id: 1 for m in make_messages(MESSAGES)}
    assert sum(r["sent_this_run"] for r in reports) == MESSAGES, "each message sent by exactly one of them"
    counts = SendLedger(tmp_path / "ledger.sqlite").counts()
    assert (counts["accepted"], counts["in_doubt"], counts["planned"], counts["in_flight"]) == (
        MESSAGES,
        0,
        0,
        0,
    )


def test_concurrent_requests_in_one_sender_stop_on_abort_and_lose_nothing(
    sink: SinkHandle, ledger: SendLedger, client: SendGridAPIClient
) -> None:
    messages = make_messages(60)
    sink.inject({"status": 401, "message": "The provided authorization grant is invalid"})
    first = deliver(ledger, messages, client, options=OPTIONS, policy=FAST, batch_size=10, concurrency=3)
    assert first.problems and first.accepted + first.pending == 60 and first.failed == 0
    second = deliver(ledger, messages, client, options=OPTIONS, policy=FAST, batch_size=10, concurrency=3)
    assert second.accepted == 60 and second.complete
    assert sink.store.count_by_send_id() == {m.send_id: 1 for m in messages}
