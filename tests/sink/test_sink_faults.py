"""Faults injected on command (Python or HTTP) behave as a flaky SendGrid would."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sink_helpers import mail_body

from reengage_dev.sink import SinkHandle, SinkStore

REPO = Path(__file__).resolve().parents[2]


def admin(sink_url: str, method: str, spec: object = None, endpoint: str = "/__faults") -> dict:
    data = None if spec is None else json.dumps(spec).encode()
    request = urllib.request.Request(f"{sink_url}{endpoint}", data=data, method=method)
    with urllib.request.urlopen(request, timeout=5) as response:
        raw = response.read()
    return json.loads(raw) if raw else {}


def test_429_carries_retry_headers_then_clears(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"status": 429, "count": 2, "retry_after": 7})
    for _ in range(2):
        with pytest.raises(HTTPError) as caught:
            sg.client.mail.send.post(request_body=mail_body())
        error = caught.value
        assert error.status_code == 429
        assert error.headers["Retry-After"] == "7"
        assert int(error.headers["X-RateLimit-Reset"]) >= int(time.time()) + 6
        assert error.headers["X-RateLimit-Remaining"] == "0"
    assert sg.client.mail.send.post(request_body=mail_body()).status_code == 202
    assert sink.store.count_by_send_id() == {"s0": 1}


def test_faults_over_http_admin_endpoint(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    pending = admin(sink.url, "POST", [{"status": 500, "count": 1}, {"status": 503}])["pending"]
    assert [f["status"] for f in pending] == [500, 503]
    for status in (500, 503):
        with pytest.raises(HTTPError) as caught:
            sg.client.mail.send.post(request_body=mail_body())
        assert caught.value.status_code == status
        assert json.loads(caught.value.body)["errors"][0]["message"]
    assert admin(sink.url, "GET")["pending"] == []
    admin(sink.url, "POST", {"status": 500, "count": 5})
    admin(sink.url, "DELETE")
    assert sg.client.mail.send.post(request_body=mail_body()).status_code == 202
    assert sink.store.messages()[0].send_id == "s0"


@pytest.mark.parametrize("spec", [{"mode": "explode"}, {"status": 429, "retry-after": 1}, {"count": 2}])
def test_bad_fault_spec_is_400(sink: SinkHandle, spec: dict) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        admin(sink.url, "POST", spec)
    assert caught.value.code == 400
    assert admin(sink.url, "GET")["pending"] == []


def test_faults_only_hit_their_path(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"status": 500, "path": "/v3/mail/batch"})
    assert sg.client.mail.send.post(request_body=mail_body()).status_code == 202
    with pytest.raises(HTTPError):
        sg.client.mail.batch.post()
    assert sg.client.mail.batch.post().status_code == 201


def test_drop_before_storing(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"mode": "drop", "when": "before"})
    with pytest.raises((http.client.HTTPException, urllib.error.URLError, ConnectionError)):
        sg.client.mail.send.post(request_body=mail_body())
    assert sink.store.messages() == []


def test_drop_after_storing(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"mode": "drop", "when": "after"})
    with pytest.raises((http.client.HTTPException, urllib.error.URLError, ConnectionError)):
        sg.client.mail.send.post(request_body=mail_body())
    assert sink.store.count_by_send_id() == {"s0": 1}, "stored although the client never heard back"


def test_timeout_answers_late_but_stores(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"mode": "timeout", "delay": 0.6})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        sg.client.mail.send.post(request_body=mail_body(), timeout=0.2)
    deadline = time.time() + 5
    while not sink.store.messages() and time.time() < deadline:
        time.sleep(0.05)
    assert sink.store.count_by_send_id() == {"s0": 1}


def test_timeout_without_storing(sink: SinkHandle, sg: SendGridAPIClient) -> None:
    sink.inject({"mode": "timeout", "delay": 0.3, "store": False})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        sg.client.mail.send.post(request_body=mail_body(), timeout=0.1)
    time.sleep(0.5)
    assert sink.store.messages() == []


def test_cli_serves_in_another_process(tmp_path: Path) -> None:
    store_path = tmp_path / "cli.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-m", "reengage_dev.sink", "serve", "--store", str(store_path), "--port", "0"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("sink listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        sg = SendGridAPIClient(api_key="k", host=url)
        assert sg.client.mail.send.post(request_body=mail_body(2)).status_code == 202
        admin(url, "POST", {"status": 429, "retry_after": 1})
        with pytest.raises(HTTPError):
            sg.client.mail.send.post(request_body=mail_body(1))
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert SinkStore(store_path).count_by_send_id() == {"s0": 1, "s1": 1}


def test_cli_with_two_worker_processes_shares_one_store_and_stops_cleanly(tmp_path: Path) -> None:
    store_path = tmp_path / "workers.sqlite"
    command = [sys.executable, "-m", "reengage_dev.sink", "serve", "--store", str(store_path)]
    process = subprocess.Popen(
        [*command, "--port", "0", "--workers", "2"], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith("sink listening on http://127.0.0.1:"), line
        child = _only_child(process.pid)
        sg = SendGridAPIClient(api_key="k", host=line.split()[-1])
        for i in range(20):  # a new connection each time: either process may answer
            body = mail_body(1)
            body["personalizations"][0]["custom_args"]["send_id"] = f"w{i}"
            body["personalizations"][0]["to"][0]["email"] = f"w{i}@mail.example"
            assert sg.client.mail.send.post(request_body=body).status_code == 202
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0
    assert not Path(f"/proc/{child}").exists(), "the worker process is stopped with the server"
    assert SinkStore(store_path).count_by_send_id() == {f"w{i}": 1 for i in range(20)}


def _only_child(pid: int, timeout: float = 10.0) -> int:
    """The server's one worker process (it may be forked just after the 'listening' line)."""
    deadline = time.monotonic() + timeout
    while True:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            pids = [int(p) for p in children.read().split()]
        if pids or time.monotonic() > deadline:
            (child,) = pids
            return child
        time.sleep(0.05)


def test_a_storm_queues_random_faults_of_every_kind_one_waiting_per_path(sink: SinkHandle) -> None:
    # Guards the fault-storm benchmark's weather: faults keep coming while it runs, never
    # pile up behind a slow sender, and come in the kinds the benchmark claims.
    storm = {"every": [0.01, 0.02], "seed": 5, "timeout_delay": 0.2}
    started = admin(sink.url, "POST", storm, endpoint="/__storm")
    assert started["running"] is True
    sg = SendGridAPIClient(api_key="k", host=sink.url)
    outcomes = set()
    for i in range(80):
        pending = admin(sink.url, "GET")["pending"]
        assert len(pending) == len({f["path"] for f in pending}) <= 2, "one waiting fault per path at most"
        body = mail_body(1)
        body["personalizations"][0]["custom_args"]["send_id"] = f"storm{i}"
        try:
            outcomes.add(sg.client.mail.send.post(request_body=body, timeout=0.1).status_code)
        except HTTPError as error:
            outcomes.add(error.status_code)
        except (OSError, http.client.HTTPException, urllib.error.URLError):
            outcomes.add("no answer")
        time.sleep(0.01)
    stats = admin(sink.url, "DELETE", endpoint="/__storm")
    assert stats["running"] is False
    kinds = {k.removeprefix("cancel ") for k in stats["injected"]}
    assert kinds <= {
        "429",
        "429x6",
        "500",
        "502",
        "503",
        "timeout stored",
        "timeout lost",
        "drop before",
        "drop after",
    }
    assert sum(stats["injected"].values()) >= 10 and len(kinds) >= 5
    assert {429, "no answer", 202} <= outcomes
