"""Counts read as a person writes them: one of a thing is singular, any other number plural."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from reengage.wording import counted


def test_one_of_a_thing_is_singular_and_any_other_count_plural_with_thousands_separated() -> None:
    # Guards "1 rows read" and "1 files" in the commands' output and the run summary.
    assert [counted(n, "row") for n in (0, 1, 2, 1234)] == ["0 rows", "1 row", "2 rows", "1,234 rows"]
    assert [counted(n, "entry", "entries") for n in (1, 3)] == ["1 entry", "3 entries"]


@given(st.integers(min_value=0, max_value=10**12))
def test_every_count_keeps_its_number_and_only_one_drops_the_plural(n: int) -> None:
    # Guards a count misread: the number is shown whole (separators aside), and the noun is singular
    # exactly when the number is one.
    number, noun = counted(n, "file").split(" ")
    assert int(number.replace(",", "")) == n
    assert noun == ("file" if n == 1 else "files")
