"""`python -m reengage.cli resolve --date D` settles what a delivery left, and says what it could not.

The delivery asset runs through Dagster against a live sink that loses a request and
refuses the cancel that would settle it; `resolve` then runs as an operator would, with
the code location's settings from the environment.
"""

from __future__ import annotations

from datetime import UTC, datetime

import dagster as dg
import duckdb
import pytest
from delivery_helpers import API_KEY, CANCEL_REFUSED, LOST_UNCANCELLED, write_intervention_list

from reengage import cli, settings
from reengage.defs.delivery.assets import campaign_sends, past_dates_allowed
from reengage.defs.delivery.ledger import SendLedger
from reengage.defs.delivery.resource import SendGridResource
from reengage.warehouse import WarehouseResource
from reengage_dev.sink import SinkHandle

TODAY = datetime.now(UTC).date()


@pytest.fixture
def in_doubt(sink: SinkHandle, monkeypatch: pytest.MonkeyPatch) -> SendLedger:
    """Today's three messages left in doubt by a delivery run: the request's connection dropped
    before the provider stored it, and the cancel was refused."""
    monkeypatch.setenv("SENDGRID_API_KEY", API_KEY)
    monkeypatch.setenv("REENGAGE_SENDGRID_HOST", sink.url)
    write_intervention_list(settings.warehouse_path(), TODAY)
    sink.inject(*LOST_UNCANCELLED)
    dg.materialize(
        [campaign_sends],
        partition_key=TODAY.isoformat(),
        instance=dg.DagsterInstance.ephemeral(),
        resources={
            "warehouse": WarehouseResource(),
            "sendgrid": SendGridResource(api_key=API_KEY, host=sink.url),
        },
        run_config=past_dates_allowed(),  # TODAY is read at import; the suite may pass midnight
    )
    ledger = SendLedger(settings.ledger_path())
    assert ledger.counts(TODAY)["in_doubt"] == 3
    return ledger


def test_resolve_cancels_and_resends_messages_left_in_doubt(
    in_doubt: SendLedger, sink: SinkHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    # Guards the command's promise: settle in-doubt rows while the provider allows it
    # (cancel, then resend), and say so in counts.
    assert cli.main(["resolve", "--date", TODAY.isoformat()]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == (
        f"resolve {TODAY}: 3 requeued after their batch was cancelled, 3 sent, 0 expired now "
        "(1 cancel(s), 1 request(s))"
    )
    assert "  not settled: none" in out.splitlines()
    assert "@" not in out and "c0" not in out, "counts only, never an address or a customer id"
    counts = in_doubt.counts(TODAY)
    assert (counts["accepted"], counts["in_flight"], counts["held"]) == (3, 0, 1)
    assert len(sink.store.count_by_send_id()) == 3 and not sink.store.duplicates()
    with duckdb.connect(str(settings.warehouse_path()), read_only=True) as con:
        mirrored = con.sql("select state, count(*) from delivery.campaign_sends group by state").fetchall()
    assert sorted(mirrored) == [("accepted", 3), ("held", 1)]


def test_resolve_says_what_it_could_not_settle_and_exits_1(
    in_doubt: SendLedger, sink: SinkHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    sink.inject(CANCEL_REFUSED)  # the cancel is refused again
    assert cli.main(["resolve", "--date", TODAY.isoformat()]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[2] == (
        "  not settled: 3 (0 in flight with a sender still at work, 3 in doubt: the provider did not "
        "confirm a cancel, 0 planned and unsent)"
    )
    assert any(line.startswith("  problem: batch ") and "HTTP 403" in line for line in lines)
    assert in_doubt.counts(TODAY)["in_doubt"] == 3
    assert sink.store.count_by_send_id() == {}


def test_resolve_on_a_day_without_deliveries_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["resolve", "--date", "2024-05-01"]) == 0
    assert "no message for this day; nothing to settle" in capsys.readouterr().out
