"""README.md's tables of assets and checks are exactly what the code location holds."""

from __future__ import annotations

from reengage.catalog import END, README, START, render


def test_readme_lists_every_asset_and_check_as_the_code_defines_them() -> None:
    text = README.read_text()
    assert START in text and END in text, "README.md lost its catalog markers"
    in_readme = text.split(START, 1)[1].split(END, 1)[0].strip()
    assert in_readme == render().strip(), "README.md is stale: run python -m reengage.catalog --write"
