"""The send ledger: stable ids, idempotent planning, exclusive claims, guarded transitions."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from pathlib import Path

import pytest
from delivery_helpers import API_KEY, OPTIONS, RUN_DATE, make_messages

from reengage.defs.delivery.ledger import NoCancelPlace, SendLedger, send_id
from reengage.defs.delivery.payloads import OutboundMessage
from reengage.defs.delivery.sender import deliver, make_client
from reengage_dev.sink import SinkHandle

FIXTURES = Path(__file__).parent / "fixtures"


def test_send_id_formula() -> None:
    expected = hashlib.sha256(b"c1|winback|2024-05-01").hexdigest()[:32]
    assert send_id("c1", "winback", "2024-05-01") == expected
    from datetime import date

    assert send_id("c1", "winback", date(2024, 5, 1)) == expected
    assert len(expected) == 32


def test_file_is_wal(ledger: SendLedger) -> None:
    with sqlite3.connect(ledger.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_planning_twice_gives_the_same_rows(ledger: SendLedger) -> None:
    messages = make_messages(5)
    assert ledger.plan(messages) == 5
    before = ledger.rows(RUN_DATE)
    assert ledger.plan(messages) == 0
    assert ledger.rows(RUN_DATE) == before
    assert ledger.counts(RUN_DATE)["planned"] == 5


def test_replanning_never_resets_a_sent_row(ledger: SendLedger) -> None:
    messages = make_messages(2)
    ledger.plan(messages)
    ids = [m.send_id for m in messages]
    assert ledger.claim(ids, "b1") == ids
    ledger.mark_accepted(ids[:1], "b1")
    ledger.mark_failed(ids[1:], "HTTP 400: bad", "b1")
    ledger.plan(messages)
    assert ledger.states(ids) == {ids[0]: "accepted", ids[1]: "failed"}


def test_held_rows_and_mismatched_ids(ledger: SendLedger) -> None:
    ledger.plan(
        [
            {
                "customer_id": "c9",
                "campaign_id": "winback",
                "run_date": RUN_DATE,
                "state": "held",
                "reason": "holdout",
                "variant": "holdout",
            }
        ]
    )
    (row,) = ledger.rows(RUN_DATE)
    assert (row.state, row.last_error, row.variant) == ("held", "holdout", "holdout")
    with pytest.raises(ValueError, match="does not match"):
        ledger.plan([{"customer_id": "c1", "campaign_id": "w", "run_date": RUN_DATE, "send_id": "0" * 32}])
    with pytest.raises(ValueError):
        ledger.plan([{"customer_id": "c1", "campaign_id": "w", "run_date": RUN_DATE, "state": "accepted"}])


def test_claims_are_exclusive_and_transitions_guarded(ledger: SendLedger) -> None:
    messages = make_messages(4)
    ledger.plan(messages)
    ids = [m.send_id for m in messages]
    assert ledger.claim(ids[:3], "b1", send_at={ids[0]: 123}) == ids[:3]
    assert ledger.claim(ids, "b2") == ids[3:]
    assert ledger.rows(send_ids=[ids[0]])[0].send_at == 123
    assert ledger.mark_accepted(ids[:3], "wrong-batch") == 0, "only the owning batch may settle a row"
    assert ledger.mark_accepted(ids[:3], "b1") == 3
    assert ledger.mark_accepted(ids[:3], "b1") == 0
    assert ledger.rebatch(ids[3:], "b2", "b3") == ids[3:]
    assert ledger.mark_in_doubt(ids[3:], "b3", "in doubt: test") == 1
    counts = ledger.counts(RUN_DATE)
    assert (counts["accepted"], counts["in_flight"], counts["in_doubt"]) == (3, 1, 1)
    row = ledger.rows(send_ids=ids[3:])[0]
    assert row.in_doubt and row.batch_id == "b3" and row.accepted_at is None


def test_release_requeue_and_stale(tmp_path: Path) -> None:
    now = [1_700_000_000.0]
    ledger = SendLedger(tmp_path / "l.sqlite", clock=lambda: now[0])
    messages = make_messages(3)
    ledger.plan(messages)
    ids = [m.send_id for m in messages]
    ledger.claim(ids, "b1")
    ledger.record_attempt(ids, "b1")
    assert ledger.stale_in_flight([RUN_DATE], 60) == []
    now[0] += 61
    assert [r.send_id for r in ledger.stale_in_flight([RUN_DATE], 60)] == sorted(ids)
    assert ledger.release(ids[:1], "b1", "requeued") == 1
    assert ledger.mark_failed(ids[1:], "HTTP 400: nope", "b1") == 2
    assert ledger.requeue_failed(RUN_DATE) == 2
    assert ledger.counts(RUN_DATE)["planned"] == 3
    assert all(r.attempts == 1 for r in ledger.rows(RUN_DATE))


def _claim_everything(path: str, ids: list[str], worker: int, queue) -> None:
    ledger = SendLedger(path)
    mine: list[str] = []
    for start in range(0, len(ids), 7):
        mine += ledger.claim(ids[start : start + 7], f"batch-{worker}-{start}")
    queue.put(mine)


def test_two_processes_never_claim_the_same_row(ledger: SendLedger) -> None:
    messages = make_messages(200)
    ledger.plan(messages)
    ids = [m.send_id for m in messages]
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [
        context.Process(target=_claim_everything, args=(str(ledger.path), ids, w, queue)) for w in range(2)
    ]
    for worker in workers:
        worker.start()
    claimed = [queue.get(timeout=60) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    assert not set(claimed[0]) & set(claimed[1])
    assert sorted(claimed[0] + claimed[1]) == sorted(ids)


def test_planning_messages_fast_gives_the_rows_plan_gives(tmp_path: Path) -> None:
    messages = make_messages(5)
    slow, fast = SendLedger(tmp_path / "slow.sqlite"), SendLedger(tmp_path / "fast.sqlite")
    assert slow.plan(messages) == fast.plan_messages(messages) == 5
    assert fast.plan_messages(messages) == 0, "insert-or-ignore: a second plan adds nothing"
    keys = [(r.send_id, r.run_date, r.customer_id, r.campaign_id, r.variant, r.state) for r in fast.rows()]
    assert keys == [
        (r.send_id, r.run_date, r.customer_id, r.campaign_id, r.variant, r.state) for r in slow.rows()
    ]


def test_a_ledger_from_before_the_index_change_opens_with_its_rows(tmp_path: Path) -> None:
    """Existing ledger files had a (run_date, state) index that every state change rewrote."""
    path = tmp_path / "old.sqlite"
    SendLedger(path).plan(make_messages(3))
    with sqlite3.connect(path) as conn:
        conn.execute("DROP INDEX send_ledger_run_date")
        conn.execute("CREATE INDEX send_ledger_run_date_state ON send_ledger (run_date, state)")
        conn.execute("CREATE INDEX send_ledger_batch_id ON send_ledger (batch_id)")
    ledger = SendLedger(path)
    assert ledger.counts(RUN_DATE)["planned"] == 3
    with sqlite3.connect(path) as conn:
        names = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"send_ledger_run_date", "send_ledger_in_flight", "send_ledger_batch"} <= names
    assert not names & {"send_ledger_run_date_state", "send_ledger_batch_id"}
    ledger.claim([m.send_id for m in make_messages(3)][:2], "b1")
    assert len(ledger.stale_in_flight([RUN_DATE], older_than_seconds=-1)) == 2


def test_a_ledger_written_before_the_expired_state_opens_with_its_rows_and_works(
    tmp_path: Path, sink: SinkHandle
) -> None:
    # Guards the migration: SQLite cannot widen the state CHECK in place, so an existing ledger
    # (dumped from the code before this change) is copied into the new table, every row kept.
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / "send_ledger_before_expired.sql").read_text())
    now = 1_780_000_100.0  # a hundred seconds after the old rows were written
    ledger = SendLedger(path, clock=lambda: now)
    rows = {r.customer_id: r for r in ledger.rows("2026-06-01")}
    assert {c: r.state for c, r in rows.items()} == {
        "c0": "accepted", "c1": "failed", "c2": "in_flight", "c3": "in_flight", "c4": "in_flight",
        "c5": "cancelled", "c6": "planned", "c9": "held",
    }  # fmt: skip
    assert rows["c2"].in_doubt and rows["c1"].last_error.startswith("HTTP 400: The template_id")
    assert (rows["c3"].batch_id, rows["c3"].send_at, rows["c3"].claimed_by) == ("batch-a", 1780003600, None)
    with sqlite3.connect(path) as conn:
        indexes = {n for (n,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"send_ledger_run_date", "send_ledger_in_flight", "send_ledger_batch"} <= indexes
    assert sorted(r.customer_id for r in ledger.stale_in_flight(["2026-06-01"], 60)) == ["c2", "c3", "c4"]

    # the new sender settles the planned row on it, and reopening changes nothing
    c6 = OutboundMessage("c6", "winback", "A", "2026-06-01", "c6@mail.example", template_id="d-winback")
    report = deliver(ledger, [c6], make_client(API_KEY, sink.url), options=OPTIONS, clock=lambda: now)
    assert (report.accepted, report.failed, report.held, report.cancelled, report.in_doubt) == (2, 1, 1, 1, 1)
    assert report.pending == 2, "the old in-flight rows are not stale yet: left to their sender"
    assert ledger.expire([rows["c4"].send_id], "gave up", "batch-a") == 1, "the new state is accepted"
    assert SendLedger(path, clock=lambda: now).counts("2026-06-01") == ledger.counts("2026-06-01")


# The ledger table as the code before channels created it (send_by and claimed_by, no channel).
LEDGER_BEFORE_CHANNELS = """
CREATE TABLE send_ledger (
    send_id TEXT PRIMARY KEY, run_date TEXT NOT NULL, customer_id TEXT NOT NULL, campaign_id TEXT NOT NULL,
    variant TEXT,
    state TEXT NOT NULL CHECK (state IN ('planned', 'in_flight', 'accepted', 'failed', 'expired',
                                         'cancelled', 'held')),
    batch_id TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT, planned_at TEXT NOT NULL,
    updated_at TEXT NOT NULL, accepted_at TEXT, send_at INTEGER, in_doubt INTEGER NOT NULL DEFAULT 0,
    send_by INTEGER, claimed_by TEXT
);
INSERT INTO send_ledger (send_id, run_date, customer_id, campaign_id, variant, state, batch_id, planned_at,
    updated_at, accepted_at, send_at)
VALUES ('{sid}', '2026-06-01', 'c0', 'winback', 'A', 'accepted', 'batch-a', '2026-05-28T20:26:40+00:00',
    '2026-05-28T20:26:40+00:00', '2026-05-28T20:26:40+00:00', 1780003600);
"""


def test_a_ledger_written_before_channels_keeps_its_rows_as_emails_and_a_rerun_sends_none_of_them_again(
    tmp_path: Path, sink: SinkHandle
) -> None:
    # Guards exactly-once across the channel upgrade: the rows an earlier version wrote carry the
    # send ids of (customer, campaign, run date); email keeps that id, so a rerun of their day finds
    # them instead of planning (and sending) the same emails under new ids.
    path = tmp_path / "old.sqlite"
    old_id = hashlib.sha256(b"c0|winback|2026-06-01").hexdigest()[:32]
    with sqlite3.connect(path) as conn:
        conn.executescript(LEDGER_BEFORE_CHANNELS.format(sid=old_id))
    ledger = SendLedger(path)
    [row] = ledger.rows("2026-06-01")
    assert (row.send_id, row.channel, row.state) == (old_id, "email", "accepted")

    again = OutboundMessage("c0", "winback", "A", "2026-06-01", "c0@mail.example", template_id="d-winback")
    assert again.send_id == old_id
    report = deliver(ledger, [again], make_client(API_KEY, sink.url), options=OPTIONS)
    assert report.accepted == 1 and sink.store.count_by_send_id() == {}, "nothing sent again"
    assert ledger.plan([{"customer_id": "c0", "campaign_id": "winback", "run_date": "2026-06-01"}]) == 0


def test_a_message_on_another_channel_gets_its_own_ledger_row_beside_the_email(ledger: SendLedger) -> None:
    # Guards one id per channel: the same campaign, customer and day on two channels are two messages.
    key = {"customer_id": "c1", "campaign_id": "winback", "run_date": RUN_DATE}
    assert ledger.plan([key, {**key, "channel": "postcard"}]) == 2
    assert {(r.channel, r.send_id) for r in ledger.rows(RUN_DATE)} == {
        ("email", send_id("c1", "winback", RUN_DATE)),
        ("postcard", send_id("c1", "winback", RUN_DATE, "postcard")),
    }
    with pytest.raises(ValueError, match="channel 'postcard'"):
        ledger.plan([{**key, "channel": "postcard", "send_id": send_id("c1", "winback", RUN_DATE)}])


def test_a_request_is_claimed_only_with_a_cancel_place_and_gives_it_back_when_it_ends(
    ledger: SendLedger,
) -> None:
    # Guards SendGrid's limit of ten cancels at once: each request reserves the place its cancel
    # would need in the claim's own commit, so no more requests are out than could be cancelled.
    messages = make_messages(4)
    ledger.plan(messages)
    ids = [m.send_id for m in messages]
    assert ledger.claim(ids[:1], "b1", claimed_by="s1", place_limit=2) == ids[:1]
    assert ledger.claim(ids[1:2], "b2", claimed_by="s1", place_limit=2) == ids[1:2]
    with pytest.raises(NoCancelPlace):
        ledger.claim(ids[2:3], "b3", claimed_by="s1", place_limit=2)
    assert ledger.states(ids[2:3]) == {ids[2]: "planned"}, "nothing claimed without a place"
    ledger.mark_accepted(ids[:1], "b1")
    assert [p.batch_id for p in ledger.cancel_places()] == ["b2"], "an accepted request gives its place back"
    ledger.hold_place("b2", frees_at=2_000_000_000, limit=2, sender_id="s1")
    assert ledger.rebatch(ids[1:2], "b2", "b4", place_limit=2, sender_id="s1") == ids[1:2]
    assert {(p.batch_id, p.state) for p in ledger.cancel_places()} == {("b2", "held"), ("b4", "reserved")}
    ledger.release(ids[1:2], "b4")
    assert [(p.batch_id, p.state) for p in ledger.cancel_places()] == [("b2", "held")]
    ledger.free_place("b2")
    assert ledger.cancel_places() == []


def test_a_gone_senders_reservation_is_dropped_once_its_batch_can_no_longer_be_cancelled(
    ledger: SendLedger,
) -> None:
    (message,) = make_messages(1)
    ledger.plan([message])
    ledger.claim([message.send_id], "b1", send_at={message.send_id: 5_000}, claimed_by="gone", place_limit=10)
    assert ledger.drop_stray_reservations(["alive"], cancellable_from=4_000) == 0, "may need a cancel"
    assert ledger.drop_stray_reservations(["gone"], cancellable_from=6_000) == 0, "its sender still works"
    assert ledger.drop_stray_reservations(["alive"], cancellable_from=6_000) == 1
