"""Over random CRM histories with random corruptions of their rows, consent holds: never mail in doubt.

Each example writes a few days of CRM exports for a few dozen customers, damages some rows the way
exports break (most damages make ingest refuse the row, but leave the customer identifiable; a negative
or absurd lifetime value does not: ingest refuses values, not people), and sends them through the real
path: ingest, the dbt models that decide consent, the policy (consent_world.py).
Nobody whose latest readable consent is a withdrawal, or whose latest row was refused, may be chosen;
everyone else whose latest valid snapshot agrees must be (one campaign for all, no holdouts).

dbt takes seconds per example, so examples are few and large, fixed (derandomized, no example
database) so that CI is reproducible, and not shrunk (every shrink step would rebuild the warehouse):
a failure prints the history of the first customer decided wrongly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from consent_world import RUN_DATE, ConsentWorld, customer_row, stamp
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.e2e

DAYS = [RUN_DATE - timedelta(days=n) for n in (3, 2, 1, 0)]
# Consent values ingest refuses but that read as a withdrawal (ingest's own false words load).
WITHDRAWAL_WORDS = ("opted_out", " Opted Out ", "UNSUBSCRIBED", "withdrawn", "opt-out", "Revoked")
UNKNOWN_WORDS = ("maybe", "pending", "?", "yes please")
# Damages to a soft column: the row loads, the negative or absurd value set to null.
VALUE_DAMAGES = frozenset({"negative_lifetime_value", "absurd_lifetime_value"})


@dataclass(frozen=True)
class Row:
    """One CRM row of a customer: the consent it was meant to carry and how the export damaged it."""

    consent: bool
    damage: str | None = None  # None: a clean row, loaded as a snapshot
    word: str = ""  # the consent value written, for the damages that replace it

    @property
    def refused(self) -> bool:
        return self.damage is not None and self.damage not in VALUE_DAMAGES

    @property
    def reads_as_withdrawal(self) -> bool:
        if self.damage == "withdrawal_word":
            return True
        return self.damage != "unknown_word" and not self.consent

    def written(self, customer: str, day: date, second: int) -> dict | str:
        row = customer_row(customer, day, consent=self.consent, second=second)
        damaged = {
            None: {},
            "withdrawal_word": {"marketing_consent": self.word},
            "unknown_word": {"marketing_consent": self.word},
            "bad_consent_time": {"consent_updated_at": "2026-12-05T25:00:00Z"},
            "future_consent_time": {"consent_updated_at": stamp(day + timedelta(days=2))},
            "bad_updated_at": {"updated_at": "yesterday"},
            "unknown_timezone": {"timezone": "Mars/Olympus_Mons"},
            "negative_lifetime_value": {"lifetime_value": "-1"},
            "absurd_lifetime_value": {"lifetime_value": "1e12"},
            "no_customer_id": {"customer_id": ""},
            "invalid_email": {"email": f"{customer}.example.com"},
        }
        if self.damage == "cut_short":  # the line ends after marketing_consent: 9 of 11 fields
            fields = list(row.values())[:9]
            return ",".join(fields)
        return row | damaged[self.damage]


DAMAGES = st.one_of(
    st.just((None, "")),
    st.just((None, "")),
    st.tuples(st.just("withdrawal_word"), st.sampled_from(WITHDRAWAL_WORDS)),
    st.tuples(st.just("unknown_word"), st.sampled_from(UNKNOWN_WORDS)),
    st.tuples(
        st.sampled_from(
            [
                "bad_consent_time",
                "future_consent_time",
                "bad_updated_at",
                "unknown_timezone",
                "negative_lifetime_value",
                "absurd_lifetime_value",
                "no_customer_id",
                "invalid_email",
                "cut_short",
            ]
        ),
        st.just(""),
    ),
)
ROWS = st.builds(lambda consent, damage: Row(consent, *damage), st.booleans(), DAMAGES)
# A customer's history: per landing day, no row, one row, or two (the first superseded when both load).
HISTORIES = st.lists(
    st.lists(st.lists(ROWS, max_size=2), min_size=len(DAYS), max_size=len(DAYS)), min_size=30, max_size=40
)


def expected_reason(history: list[list[Row]]) -> str | None:
    """The specification (docs/meanings.md, "Consent"): None when the customer never had a valid snapshot."""
    rows = [row for day in history for row in day]
    valid = [i for i, row in enumerate(rows) if not row.refused]
    if not valid:
        return None
    snapshot, later = rows[valid[-1]], rows[valid[-1] + 1 :]
    if not snapshot.consent or any(row.reads_as_withdrawal for row in later):
        return "suppressed:no_consent"
    return "suppressed:unverified_profile" if later else "chosen"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> ConsentWorld:
    return ConsentWorld(tmp_path_factory.mktemp("consent_property"), data_tests=False)


@settings(
    max_examples=6,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(histories=HISTORIES)
def test_nobody_whose_latest_intent_is_a_withdrawal_or_whose_latest_row_was_refused_is_chosen(
    world: ConsentWorld, histories: list[list[list[Row]]]
) -> None:
    world.reset()
    customers = {f"c{n:03d}": history for n, history in enumerate(histories)}
    for index, day in enumerate(DAYS):
        world.write_customers(
            day,
            [
                row.written(customer, day, second)
                for customer, history in customers.items()
                for second, row in enumerate(history[index], start=1)
            ],
        )
    decisions = world.run(DAYS)

    for customer, history in customers.items():
        rows = [row for day in history for row in day]
        readable = [row for row in rows if row.damage != "unknown_word"]
        withdrawn = bool(readable) and readable[-1].reads_as_withdrawal
        refused_last = bool(rows) and rows[-1].refused
        seen = (customer, decisions.reasons.get(customer), history)
        # the property, as stated
        if withdrawn or refused_last:
            assert customer not in decisions.listed, seen
        # and exactly the specification: nobody held back without a reason, each with the right one
        assert decisions.reasons.get(customer) == expected_reason(history), seen
    assert decisions.listed == {c for c, reason in decisions.reasons.items() if reason == "chosen"}
    for reason in sorted(set(decisions.reasons.values())):  # shown by --hypothesis-show-statistics
        event(f"decided {reason}")
