"""Erasure reaches the Twilio sink: the person's texts, their status history, STOP replies and opt-out
are deleted, and the number is gone from the store's files, while everybody else's texts stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from reengage.privacy.erasure import registered_stores
from reengage_dev.twilio_sink import Outcomes, Rates, start_twilio_sink
from reengage_dev.twilio_sink.erasure import erase_numbers
from reengage_dev.twilio_sink.local import STORE_FILE
from tests.sink.sink_helpers import MovableClock
from tests.twilio_sink.conftest import client_for
from tests.twilio_sink.test_twilio_sink_messages import schedule

ERASED, KEPT = "+4915100099901", "+4915100099902"


def files_hold(store: Path, text: str) -> bool:
    return any(text.encode() in path.read_bytes() for path in store.parent.glob(f"{store.name}*"))


def test_an_erasure_deletes_the_numbers_texts_and_stop_and_leaves_no_trace_in_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Guards the privacy promise for texts: after an erasure no file of the sink holds the number or
    # its messages, and a second erasure removes nothing.
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    store = tmp_path / STORE_FILE
    clock = MovableClock(1_800_000_000.0)
    everyone_stops = Outcomes(Rates(stop=1.0))
    with start_twilio_sink(store, clock=clock, outcomes=everyone_stops) as sink:
        twilio = client_for(sink)
        schedule(twilio, clock, to=ERASED, body="Secret offer for the erased", ahead=600)
        schedule(twilio, clock, to=KEPT, body="Offer for the kept", ahead=600)
        clock.advance(600 + 40 + 6 * 3600)
        sink.store.advance(clock.now, everyone_stops)
        assert sink.store.opted_out(ERASED) and files_hold(store, ERASED)

        removed = erase_numbers(["erased@example.com"], ["c-1"], [ERASED])

        assert removed > 0
        assert not sink.store.opted_out(ERASED) and sink.store.opted_out(KEPT)
        assert [t.to for t in sink.store.texts()] == [KEPT]
        assert erase_numbers([], [], [ERASED]) == 0
    assert not files_hold(store, ERASED)
    assert not files_hold(store, "Secret offer for the erased")
    assert files_hold(store, KEPT)


def test_without_a_twilio_sink_an_erasure_creates_no_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REENGAGE_HOME", str(tmp_path))
    assert erase_numbers([], [], [ERASED]) == 0
    assert not (tmp_path / STORE_FILE).exists()


def test_the_twilio_sink_is_registered_as_an_erasure_store() -> None:
    # Guards the wiring: the product's erasure finds the Twilio sink through the entry point group.
    assert registered_stores()["twilio_sink.messages"] is erase_numbers
