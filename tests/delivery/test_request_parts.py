"""The parts of one request that stand alone: which personalizations a rejection names, and the pool
that keeps requests in flight."""

from __future__ import annotations

import threading

import pytest

from reengage.defs.delivery.outcomes import Outcome, refused_personalizations
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.request import AbortRun
from reengage.defs.delivery.request_pool import RequestPool


def rejection(*fields: str) -> Outcome:
    errors = tuple({"field": field, "message": "invalid to address ann@x.example"} for field in fields)
    return Outcome("rejected", 400, "HTTP 400", errors=errors)


def test_a_rejection_naming_single_personalizations_refuses_only_those_with_the_address_masked() -> None:
    # Guards partial rejection: only the named messages fail, the rest of the request goes again.
    refused = refused_personalizations(rejection("personalizations.2.to", "personalizations.0"), count=3)
    assert refused == {
        2: ["HTTP 400: personalizations.2.to: invalid to address <address>"],
        0: ["HTTP 400: personalizations.0: invalid to address <address>"],
    }


@pytest.mark.parametrize(
    "fields",
    [
        ("from.email",),
        ("personalizations.1.to", "subject"),
        ("personalizations.3.to",),
        ("personalizations",),
    ],
)
def test_a_rejection_about_the_whole_request_or_a_missing_index_refuses_every_message(
    fields: tuple[str, ...],
) -> None:
    # Guards against failing the wrong messages when the provider's errors are not per message.
    assert refused_personalizations(rejection(*fields), count=3) == {}


def test_an_abort_stops_the_requests_not_yet_started_and_is_kept_for_the_report() -> None:
    # Guards the bad-key stop: after the provider refuses the key, no further request is tried.
    sent: list[int] = []

    def send_group(group: list[OutboundMessage]) -> None:
        sent.append(len(sent))
        if len(sent) == 2:
            raise AbortRun("mail send refused: HTTP 401")

    pool = RequestPool(send_group, concurrency=1)
    for _ in range(4):
        pool.send([])
    pool.close()
    assert sent == [0, 1]
    assert pool.stopped and str(pool.abort) == "mail send refused: HTTP 401"


def test_a_pool_never_holds_more_requests_in_flight_than_its_concurrency() -> None:
    # Guards flat memory and the provider's connection count: `send` waits for a free slot.
    in_flight = peak = 0
    lock = threading.Lock()
    release = threading.Event()

    def send_group(group: list[OutboundMessage]) -> None:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        release.wait(0.05)
        with lock:
            in_flight -= 1

    pool = RequestPool(send_group, concurrency=3)
    for _ in range(12):
        pool.send([])
    pool.close()
    assert peak <= 3


def test_an_unexpected_error_in_a_worker_is_raised_on_the_caller_s_thread() -> None:
    # Guards against a worker's crash passing silently and the run reporting success.
    def send_group(group: list[OutboundMessage]) -> None:
        raise RuntimeError("ledger is gone")

    pool = RequestPool(send_group, concurrency=2)
    pool.send([])
    with pytest.raises(RuntimeError, match="ledger is gone"):
        pool.close()
